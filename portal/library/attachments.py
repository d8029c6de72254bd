"""Resource files: checked by content and size, stored by hash, text extracted for search, counted by sector."""
import csv
import hashlib
import io
import logging
import os
import re
import zipfile
from pathlib import Path

from flask import current_app
from sqlalchemy import select, update

from portal import uow
from portal.audit.services import record_event
from portal.database import insert_ignoring_conflict, utcnow
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.library.models import Attachment, AttachmentDownload, Resource
from portal.library.services import reindex

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
MAX_TEXT = 400_000  # characters of extracted text kept for search
MAX_PDF_PAGES = 300


def max_upload_bytes() -> int:
    return int(current_app.config.get("UPLOAD_MAX_BYTES") or 25 * 1024 * 1024)


def _size_label(size: int) -> str:
    """25 MB, 1.5 MB, 512 KB: a limit under a megabyte must not read as "0 MB"."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    return f"{max(1, size // 1024)} KB"


def sniff_kind(data: bytes, filename: str) -> str:
    """The file's kind from its bytes (the name's extension must agree). Raises ValidationFailed."""
    extension = Path(filename).suffix.lower().lstrip(".")
    if extension not in MIMETYPES:
        raise ValidationFailed("file", "Upload a PDF, DOCX, XLSX, PPTX or CSV file.")
    if data.startswith(b"%PDF-"):
        kind = "pdf"
    elif data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, ValueError, OSError) as exc:
            raise ValidationFailed("file", "That file is damaged: it could not be opened.") from exc
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


def _text_from_pdf(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        parts, size = [], 0
        for number, page in enumerate(reader.pages):
            if number >= MAX_PDF_PAGES or size >= MAX_TEXT:
                break
            text = page.extract_text() or ""
            parts.append(text)
            size += len(text)
        return "\n".join(parts)
    except (PdfReadError, ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError,
            OSError, ZeroDivisionError):
        log.warning("could not extract text from a PDF", exc_info=True)
        return ""


def _text_from_docx(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            xml = archive.read("word/document.xml")[:5_000_000].decode("utf-8", "replace")
    except (KeyError, zipfile.BadZipFile, OSError):
        return ""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", xml.replace("</w:p>", "\n")))


def extract_text(data: bytes, kind: str) -> str:
    if kind == "pdf":
        text = _text_from_pdf(data)
    elif kind == "docx":
        text = _text_from_docx(data)
    elif kind == "csv":
        text = data.decode("utf-8-sig", "replace")
    else:
        text = ""
    return text.replace("\x00", "")[:MAX_TEXT]


def _clean_filename(filename: str) -> str:
    name = Path(filename.replace("\\", "/")).name
    name = re.sub(r"[^\w.\- ]+", "_", name).strip(" .")
    return name[-150:] or "file"


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


def attach_file(resource: Resource, *, actor, filename: str, data: bytes) -> Attachment:
    """Check, store and attach a file; its text joins the resource's search document."""
    if not data:
        raise ValidationFailed("file", "Choose a file to upload.")
    limit = max_upload_bytes()
    if len(data) > limit:
        raise ValidationFailed("file", f"That file is larger than {_size_label(limit)}.")
    filename = _clean_filename(filename)
    kind = sniff_kind(data, filename)
    sha256 = hashlib.sha256(data).hexdigest()
    existing = next((a for a in resource.attachments if a.sha256 == sha256), None)
    if existing is not None:
        return existing
    _store(data, sha256)
    attachment = Attachment(resource=resource, filename=filename, kind=kind, size=len(data), sha256=sha256,
                            text=extract_text(data, kind))
    db.session.add(attachment)
    record_event(actor=actor, action="resource.file_added", subject=f"resource {resource.slug}",
                 file=filename, size=len(data))
    resource.updated_at = utcnow()  # the search document changes with the files
    db.session.flush()  # the caller gets the file's id
    reindex(resource)
    return attachment


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
