"""Shared helpers for the resource library tests: resources made through the services, files, searches."""
import io
import re
import zipfile
from datetime import timedelta

from portal import search
from portal.database import utcnow
from portal.library import services
from portal.members.services import find_member_by_email
from tests.conftest import unit


def actor(email: str | None):
    return find_member_by_email(email) if email else None


def make_resource(app, *, status: str = "published", publish_at=None, actor_email: str | None = None,
                  **fields) -> int:
    """A resource made through the services: created as a draft, then moved to `status`. Returns its id."""
    fields.setdefault("title", "A resource")
    fields.setdefault("type", "toolkit")
    with unit(app):
        who = actor(actor_email)
        resource = services.create_resource(actor=who, **fields)
        if status == "review":
            services.change_status(resource, action="review", actor=who)
        elif status in ("published", "archived"):
            services.change_status(resource, action="publish", actor=who,
                                   publish_at=publish_at or utcnow() - timedelta(minutes=5))
            if status == "archived":
                services.change_status(resource, action="archive", actor=who)
        return resource.id


def resource_state(app, resource_id: int):
    """A fresh look at the row (status, published_at, title, slug, revisions as actions)."""
    with unit(app):
        from portal.extensions import db

        db.session.expire_all()
        resource = services.get_resource(resource_id)
        return {"status": resource.status, "published_at": resource.published_at, "title": resource.title,
                "slug": resource.slug, "body": resource.body, "revisions": [r.action for r in resource.revisions]}


def library_search(q: str = "", *, can_read_members: bool = False, **kwargs) -> search.SearchResult:
    """The engine's search of library resources (inside an app context), as a reader who may or may not read
    members-only text."""
    return search.search(search.SearchRequest(kind="resource", q=q, reads_restricted=can_read_members, **kwargs))


def found_ids(app, q: str = "", **kwargs) -> list[int]:
    with unit(app):
        return library_search(q, per_page=100, **kwargs).ids


def sync_at(app, now) -> search.IndexReport:
    """What the periodic sync does at that moment (documents due by then are indexed)."""
    with unit(app):
        return search.sync(now=now)


def indexed_ids(app) -> set[int]:
    with unit(app):
        searcher = search.current_searcher()
        return {int(fields["id"]) for fields in searcher.all_stored_fields()}


def result_titles(html: str) -> list[str]:
    """The titles of the result cards on a library page, in order."""
    return re.findall(r'<h3><a href="/resources/[^"]+">([^<]+)</a></h3>', html)


# --- files -------------------------------------------------------------------------------

def pdf_bytes(text: str) -> bytes:
    """A small but real one-page PDF whose text pypdf can extract."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return pdf_document(objects)


def pdf_document(objects: list[bytes]) -> bytes:
    """A PDF file of these numbered objects (object 1 the catalog), with a correct cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


OOXML_MAIN_PART = {
    "docx": ("word/document.xml", '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/'
                                  'main"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>'),
    "xlsx": ("xl/workbook.xml", '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                                "<sheets/></workbook>"),
    "pptx": ("ppt/presentation.xml", '<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/'
                                     '2006/main"/>'),
}


def ooxml_bytes(kind: str, text: str = "hello", *, content_types: bool = True) -> bytes:
    """A minimal Office Open XML package of that kind (docx, xlsx or pptx)."""
    part, xml = OOXML_MAIN_PART[kind]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        if content_types:
            archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.'
                             'openxmlformats.org/package/2006/content-types"/>')
        archive.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        archive.writestr(part, xml.format(text=text))
    return out.getvalue()


EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + b"\x00" * 64
