"""Resource files: checked by content and size, stored by hash, their text extracted on the task queue for search,
counted by sector."""
import csv
import hashlib
import io
import logging
import os
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select, update

from portal import queue, uow
from portal.audit.services import record_event
from portal.database import insert_ignoring_conflict, utcnow
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.library import extraction
from portal.library.models import Attachment, AttachmentDownload, Resource
from portal.library.services import reindex
from portal.text import clean_filename, size_label

log = logging.getLogger(__name__)

MIMETYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "csv": "text/csv",
}
# The folder inside an Office Open XML package that tells a document, workbook and deck apart.
OOXML_PARTS = {"docx": "word/", "xlsx": "xl/", "pptx": "ppt/"}
PENDING_TOO_LONG = timedelta(minutes=10)


def max_upload_bytes() -> int:
    return int(current_app.config.get("UPLOAD_MAX_BYTES") or 25 * 1024 * 1024)


def sniff_kind(data: bytes, filename: str) -> str:
    """The file's kind from its bytes (the name's extension must agree). Raises ValidationFailed."""
    extension = Path(filename).suffix.lower().lstrip(".")
    if extension not in MIMETYPES:
        raise ValidationFailed("file", "Upload a PDF, DOCX, XLSX, PPTX or CSV file.")
    if data.startswith(b"%PDF-"):
        kind = "pdf"
    elif data.startswith(b"PK\x03\x04"):
        # Only the central directory's names are read (no member is decompressed), and only once its size
        # is known to be an Office file's.
        try:
            with extraction.open_package(data) as archive:
                names = archive.namelist()
        except extraction.PackageRefused as exc:
            raise ValidationFailed("file", str(exc)) from exc
        kinds = [k for k, prefix in OOXML_PARTS.items()
                 if "[Content_Types].xml" in names and any(n.startswith(prefix) for n in names)]
        if len(kinds) != 1:
            raise ValidationFailed("file", "That archive is not a Word, Excel or PowerPoint file.")
        kind = kinds[0]
    else:
        kind = "csv" if _looks_like_csv(data) else ""
    if kind != extension:
        raise ValidationFailed("file", "The file's contents do not match its name: upload a PDF, DOCX, XLSX, "
                                       "PPTX or CSV file.")
    return kind


def _looks_like_csv(data: bytes) -> bool:
    if b"\x00" in data[:65536]:
        return False
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    try:
        rows = list(csv.reader(io.StringIO(text[:65536])))
    except csv.Error:
        return False
    return bool(rows) and not text.lstrip().startswith("<")


def _stored_path(sha256: str) -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / sha256[:2] / sha256


def _store(data: bytes, sha256: str) -> None:
    path = _stored_path(sha256)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{sha256}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)  # atomic: a reader never sees half a file


def attach_file(resource: Resource, *, actor, filename: str, data: bytes, extract_now: bool = False) -> Attachment:
    """Check, store and attach a file; its text joins the resource's search document once the queue has
    extracted it (`extract_now`: within this unit of work, for a command that may wait)."""
    if not data:
        raise ValidationFailed("file", "Choose a file to upload.")
    limit = max_upload_bytes()
    if len(data) > limit:
        raise ValidationFailed("file", f"That file is larger than {size_label(limit)}.")
    filename = clean_filename(filename)
    kind = sniff_kind(data, filename)
    sha256 = hashlib.sha256(data).hexdigest()
    existing = next((a for a in resource.attachments if a.sha256 == sha256), None)
    if existing is not None:
        return existing
    _store(data, sha256)
    attachment = Attachment(resource=resource, filename=filename, kind=kind, size=len(data), sha256=sha256,
                            text="", text_status="pending")
    db.session.add(attachment)
    record_event(actor=actor, action="resource.file_added", subject=f"resource {resource.slug}",
                 file=filename, size=len(data))
    resource.updated_at = utcnow()  # the search document changes with the files
    db.session.flush()  # the caller gets the file's id
    if extract_now:
        _save_text(attachment, extraction.extract(data, kind))
    else:
        # Queued after the commit: the request answers at once, and a rolled-back upload queues nothing.
        queue.enqueue("library.extract_text", attachment_id=attachment.id)
    reindex(resource)
    return attachment


def _save_text(attachment: Attachment, result: extraction.Extracted) -> None:
    attachment.text, attachment.text_status, attachment.text_note = result.text, result.status, result.note
    attachment.resource.updated_at = utcnow()  # a new version of the search document
    log.info("extracted the text of attachment %s: %s %s %s", attachment.id, result.status, result.note,
             result.work)


def extract_stored_text(attachment_id: int) -> None:
    """The queued half of an upload: extract the stored file's text within the limits, save it, reindex."""
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        return  # removed before its turn came
    try:
        data = _stored_path(attachment.sha256).read_bytes()
    except FileNotFoundError:
        log.error("attachment %s is missing its file", attachment.id)
        result = extraction.Extracted("", "none", extraction.DAMAGED)
    else:
        result = extraction.extract(data, attachment.kind)
    _save_text(attachment, result)
    reindex(attachment.resource)


def requeue_pending_extractions(now=None) -> int:
    """Queue the extraction again for files pending since long before `now` (a normal job is long done)."""
    cutoff = (now or utcnow()) - PENDING_TOO_LONG
    ids = db.session.scalars(select(Attachment.id).where(Attachment.text_status == "pending",
                                                         Attachment.created_at < cutoff)
                             .order_by(Attachment.id).limit(200)).all()
    for attachment_id in ids:
        queue.enqueue("library.extract_text", attachment_id=attachment_id)
    return len(ids)


def remove_attachment(attachment: Attachment, *, actor) -> None:
    resource = attachment.resource
    record_event(actor=actor, action="resource.file_removed", subject=f"resource {resource.slug}",
                 file=attachment.filename)
    sha256 = attachment.sha256
    resource.attachments.remove(attachment)  # delete-orphan: the row goes with the commit
    resource.updated_at = utcnow()
    reindex(resource)
    uow.after_commit(lambda: _drop_unused_bytes(sha256))


def _drop_unused_bytes(sha256: str) -> None:
    # After the commit, so a rolled-back removal keeps its file; the bytes stay if another attachment shares them.
    if not db.session.scalar(select(Attachment.id).where(Attachment.sha256 == sha256).limit(1)):
        _stored_path(sha256).unlink(missing_ok=True)


def find_attachment(resource: Resource, file_id: int) -> Attachment | None:
    """The resource's own file with this id (an id from another resource is not found)."""
    return next((a for a in resource.attachments if a.id == file_id), None)


def file_path(attachment: Attachment) -> Path:
    return _stored_path(attachment.sha256)


def count_download(attachment: Attachment, user) -> None:
    sector = user.sector if user is not None and user.is_authenticated else "visitor"
    result = db.session.execute(update(AttachmentDownload).where(
        AttachmentDownload.attachment_id == attachment.id, AttachmentDownload.sector == sector)
        .values(count=AttachmentDownload.count + 1))
    if result.rowcount == 0:
        # The first download from this sector: an insert that does nothing if another request made the row
        # first, then the increment again (one statement each, so the unit of work never has to roll back).
        db.session.execute(insert_ignoring_conflict(AttachmentDownload).values(
            attachment_id=attachment.id, sector=sector, count=0))
        db.session.execute(update(AttachmentDownload).where(
            AttachmentDownload.attachment_id == attachment.id, AttachmentDownload.sector == sector)
            .values(count=AttachmentDownload.count + 1))


def download_counts(resource: Resource) -> dict[int, dict[str, int]]:
    ids = [a.id for a in resource.attachments]
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        for row in db.session.scalars(select(AttachmentDownload).where(AttachmentDownload.attachment_id.in_(ids))):
            counts[row.attachment_id][row.sector] = row.count
    return counts
