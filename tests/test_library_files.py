"""Resource files: checked by content and size, stored by hash, served safely, counted by sector, indexed."""
import hashlib
import re
from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.database import utcnow
from portal.extensions import db
from portal.library import attachments, extraction, services
from portal.library.models import Attachment
from tests.conftest import ROOT, _empty_database, create_member, login, make_app, post_form, running_consumer, unit
from tests.library_helpers import EXE_BYTES, found_ids, make_resource, ooxml_bytes, pdf_bytes
from tests.test_library_extraction import docx, many_members

CSV = b"city,calls,diverted\nDenver,4700,4700\nTucson,100,20\n"


@pytest.fixture
def staff_client(client, staff):
    login(client, staff)
    return client


@pytest.fixture
def resource(app):
    return make_resource(app, title="Crisis line handbook", slug="handbook", body="Short body.")


def upload(client, resource_id, filename, data):
    edit = f"/staff/resources/{resource_id}/edit"
    return post_form(client, f"/staff/resources/{resource_id}/files", {"file": (BytesIO(data), filename)},
                     token_from=edit, content_type="multipart/form-data")


def attachments_of(app, resource_id):
    with unit(app):
        db.session.expire_all()
        return [(a.filename, a.kind, a.size, a.sha256) for a in services.get_resource(resource_id).attachments]


def download(client, path):
    """GET a file and close the response (a streamed file stays open until then)."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


def attach(app, resource_id, filename, data) -> int:
    with unit(app):
        return attachments.attach_file(services.get_resource(resource_id), actor=None, filename=filename,
                                       data=data).id


# --- checked by content ----------------------------------------------------------------------

ACCEPTED = [
    ("report.pdf", pdf_bytes("A genuine report"), "pdf"),
    ("Report.PDF", pdf_bytes("Upper-case extension"), "pdf"),
    ("memo.docx", ooxml_bytes("docx", "A memo"), "docx"),
    ("figures.xlsx", ooxml_bytes("xlsx"), "xlsx"),
    ("slides.pptx", ooxml_bytes("pptx"), "pptx"),
    ("calls.csv", CSV, "csv"),
    ("bom.csv", b"\xef\xbb\xbfname,value\nA,1\n", "csv"),
]


def test_real_files_of_each_kind_are_accepted(app, staff_client, resource):
    for filename, data, kind in ACCEPTED:
        response = upload(staff_client, resource, filename, data)
        assert response.status_code == 302, (filename, response.get_data(as_text=True)[-3000:])
    kinds = [(name, kind) for name, kind, _, _ in attachments_of(app, resource)]
    assert kinds == [(filename, kind) for filename, _, kind in ACCEPTED]
    audit = staff_client.get("/staff/audit?action=resource.file_added").get_data(as_text=True)
    assert audit.count("resource handbook") == len(ACCEPTED)


REFUSED = [
    ("notes.pdf", b"This is plain text pretending to be a PDF.\n", "do not match its name"),
    ("setup.pdf", EXE_BYTES, "do not match its name"),
    ("setup.exe", EXE_BYTES, "Upload a PDF, DOCX, XLSX, PPTX or CSV file."),
    ("page.html", b"<html><body>hi</body></html>", "Upload a PDF, DOCX, XLSX, PPTX or CSV file."),
    ("page.csv", b"<html><script>alert(1)</script></html>", "do not match its name"),
    ("binary.csv", b"a,b\x00c\n", "do not match its name"),
    ("memo.xlsx", ooxml_bytes("docx"), "do not match its name"),  # a Word file named as a workbook
    ("memo.pdf", ooxml_bytes("docx"), "do not match its name"),
    ("report.docx", pdf_bytes("A PDF named as Word"), "do not match its name"),
    ("bare.docx", ooxml_bytes("docx", content_types=False), "not a Word, Excel or PowerPoint file"),
    ("broken.docx", b"PK\x03\x04" + b"\x00" * 40, "damaged"),
    ("noextension", pdf_bytes("no extension"), "Upload a PDF, DOCX, XLSX, PPTX or CSV file."),
    ("empty.pdf", b"", "Choose a file to upload."),
]


def test_files_whose_content_does_not_match_are_refused(app, staff_client, resource):
    for filename, data, message in REFUSED:
        response = upload(staff_client, resource, filename, data)
        assert response.status_code == 400, filename
        assert message in response.get_data(as_text=True), filename
    assert attachments_of(app, resource) == []
    assert [p for p in Path(app.config["UPLOAD_DIR"]).rglob("*") if p.is_file()] == []


@pytest.fixture
def small_app(tmp_path):
    app = make_app(tmp_path / "small", UPLOAD_MAX_BYTES=2048)
    yield app
    _empty_database(app)


def test_size_is_limited_by_the_setting(small_app):
    create_member(small_app, email="staff@example.org", name="Sam Staff", role="staff")
    resource_id = make_resource(small_app, title="Size test", slug="size-test")
    client = small_app.test_client()
    login(client, "staff@example.org")
    too_big = CSV + b"x,1,2\n" * 400
    assert len(too_big) > 2048
    response = upload(client, resource_id, "big.csv", too_big)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "That file is larger than 2 KB." in html
    assert attachments_of(small_app, resource_id) == []
    assert upload(client, resource_id, "small.csv", CSV).status_code == 302
    assert len(attachments_of(small_app, resource_id)) == 1


# --- stored by hash, served safely -------------------------------------------------------------

def test_files_are_stored_under_their_sha256(app, staff_client, resource):
    data = pdf_bytes("Stored by hash")
    digest = hashlib.sha256(data).hexdigest()
    upload(staff_client, resource, "../../etc/passwd.pdf", data)
    [(filename, kind, size, sha256)] = attachments_of(app, resource)
    assert (filename, kind, size, sha256) == ("passwd.pdf", "pdf", len(data), digest)
    stored = Path(app.config["UPLOAD_DIR"]) / digest[:2] / digest
    assert stored.read_bytes() == data
    assert [p for p in Path(app.config["UPLOAD_DIR"]).rglob("*") if p.is_file()] == [stored]
    # The same bytes again are not stored twice.
    assert upload(staff_client, resource, "again.pdf", data).status_code == 302
    assert len(attachments_of(app, resource)) == 1


def test_removing_a_file_deletes_its_bytes_unless_shared(app, staff_client, resource):
    other = make_resource(app, title="Other handbook", slug="other")
    first = attach(app, resource, "calls.csv", CSV)
    second = attach(app, other, "calls.csv", CSV)
    digest = hashlib.sha256(CSV).hexdigest()
    stored = Path(app.config["UPLOAD_DIR"]) / digest[:2] / digest
    post_form(staff_client, f"/staff/resources/{resource}/files/{first}/delete",
              token_from=f"/staff/resources/{resource}/edit")
    assert attachments_of(app, resource) == [] and stored.exists()  # the other resource still uses the bytes
    assert len(attachments_of(app, other)) == 1
    post_form(staff_client, f"/staff/resources/{other}/files/{second}/delete",
              token_from=f"/staff/resources/{other}/edit")
    assert attachments_of(app, other) == [] and not stored.exists()
    audit = staff_client.get("/staff/audit?action=resource.file_removed").get_data(as_text=True)
    assert audit.count("calls.csv") == 2


@pytest.mark.parametrize("filename, data, mimetype", [
    ("report.pdf", pdf_bytes("Served"), "application/pdf"),
    ("memo.docx", ooxml_bytes("docx"), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("calls.csv", CSV, "text/csv"),
])
def test_downloads_are_served_as_attachments_with_their_type(app, client, resource, filename, data, mimetype):
    file_id = attach(app, resource, filename, data)
    response = download(client, f"/resources/handbook/files/{file_id}")
    assert response.status_code == 200
    assert response.data == data
    assert response.mimetype == mimetype
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert filename in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_unknown_files_and_hidden_resources_give_404(app, client, resource):
    file_id = attach(app, resource, "calls.csv", CSV)
    draft = make_resource(app, title="Draft handbook", slug="draft-handbook", status="draft")
    draft_file = attach(app, draft, "calls.csv", CSV)
    assert download(client, f"/resources/handbook/files/{file_id + 100}").status_code == 404
    assert download(client, f"/resources/draft-handbook/files/{draft_file}").status_code == 404
    assert download(client, f"/resources/handbook/files/{draft_file}").status_code == 404  # not this resource's file


# --- access and counts ---------------------------------------------------------------------------

@pytest.fixture
def members_file(app):
    resource_id = make_resource(app, title="Members handbook", slug="members-handbook", access="members",
                                summary="For members.")
    return f"/resources/members-handbook/files/{attach(app, resource_id, 'secret.pdf', pdf_bytes('Inner text'))}"


def test_members_only_files_follow_the_resource_rule(app, client, members_file):
    response = download(client, members_file)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/resources/members-handbook/files/")
    assert "secret.pdf" not in client.get("/resources/members-handbook").get_data(as_text=True)

    create_member(app, email="new@example.org", verified=False)
    login(client, "new@example.org")
    assert download(client, members_file).status_code == 403

    verified = app.test_client()
    create_member(app, email="reader@example.org")
    login(verified, "reader@example.org")
    response = download(verified, members_file)
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")


def test_download_counts_by_sector_are_shown_to_staff(app, client, staff, resource, members_file):
    file_id = attach(app, resource, "calls.csv", CSV)
    path = f"/resources/handbook/files/{file_id}"
    download(client, path)  # a visitor
    for email, sector, times in (("j@example.org", "journalist", 2), ("r@example.org", "researcher", 1)):
        create_member(app, email=email, sector=sector)
        reader = app.test_client()
        login(reader, email)
        for _ in range(times):
            assert download(reader, path).status_code == 200
        assert download(reader, members_file).status_code == 200
    assert "Downloads" not in client.get("/resources/handbook").get_data(as_text=True)

    staff_client = app.test_client()
    login(staff_client, staff)
    edit = staff_client.get(f"/staff/resources/{resource}/edit").get_data(as_text=True)
    assert "downloads: journalist 2, researcher 1, visitor 1" in edit
    page = staff_client.get("/resources/handbook").get_data(as_text=True)
    assert "Downloads: journalist 2, researcher 1, visitor 1" in page
    page = staff_client.get("/resources/members-handbook").get_data(as_text=True)
    assert "Downloads: journalist 1, researcher 1" in page
    with unit(app):
        assert db.session.scalar(select(func.count()).select_from(Attachment)) == 2


# --- text for search ---------------------------------------------------------------------------

def test_text_inside_files_is_indexed(app, staff_client, resource):
    upload(staff_client, resource, "appendix.pdf", pdf_bytes("The xylograph appendix lists every partner."))
    upload(staff_client, resource, "memo.docx", ooxml_bytes("docx", "A quillwort memo"))
    upload(staff_client, resource, "table.csv", b"place,count\nBrambleford,12\n")
    assert found_ids(app, "xylograph") == [resource]
    assert found_ids(app, "quillwort") == [resource]
    assert found_ids(app, "brambleford") == [resource]
    html = staff_client.get("/resources?q=xylograph").get_data(as_text=True)
    assert "<mark>xylograph</mark>" in html
    # Removing the file removes its words.
    with unit(app):
        pdf = next(a for a in services.get_resource(resource).attachments if a.kind == "pdf")
        attachments.remove_attachment(pdf, actor=None)
    assert found_ids(app, "xylograph") == []


def test_members_only_file_text_is_only_searchable_by_members(app, client, members_file):
    assert found_ids(app, "inner") == []
    assert found_ids(app, "inner", can_read_members=True) != []
    html = client.get("/resources?q=inner").get_data(as_text=True)
    assert "Members handbook" not in html


def test_the_default_overview_pdf_is_indexed(library, client):
    html = client.get("/resources?q=webinar").get_data(as_text=True)  # a word only in the PDF
    assert re.findall(r'<h3><a href="/resources/([^"]+)">', html) == ["initiative-overview"]
    assert "<mark>webinar</mark>" in html
    html = client.get('/resources?q="advisory board"').get_data(as_text=True)
    assert 'href="/resources/initiative-overview"' in html


def test_a_broken_pdf_is_kept_without_text(app, staff_client, resource):
    data = b"%PDF-1.4\n" + b"garbage " * 50
    assert upload(staff_client, resource, "broken.pdf", data).status_code == 302
    with unit(app):
        file = services.get_resource(resource).attachments[0]
        assert (file.text, file.text_status, file.text_note) == ("", "none", extraction.DAMAGED)
    edit = staff_client.get(f"/staff/resources/{resource}/edit").get_data(as_text=True)
    assert "No text could be extracted: the file could not be read." in edit


# --- extraction on the task queue, bounded ---------------------------------------------------------

def file_state(app, resource_id):
    with unit(app):
        db.session.expire_all()
        return [(a.text_status, a.text_note) for a in services.get_resource(resource_id).attachments]


@pytest.fixture
def queue_app(tmp_path):
    """An app whose jobs wait on the SQLite queue for a real consumer (the suite's default runs them at once)."""
    app = make_app(tmp_path / "queued", QUEUE_IMMEDIATE=False)
    create_member(app, email="staff@example.org", name="Sam Staff", role="staff")
    yield app
    _empty_database(app)


def test_an_upload_answers_at_once_and_a_worker_extracts_and_indexes_the_text(queue_app):
    resource_id = make_resource(queue_app, title="Queued handbook", slug="queued")
    client = queue_app.test_client()
    login(client, "staff@example.org")
    assert upload(client, resource_id, "appendix.pdf", pdf_bytes("The xylograph appendix")).status_code == 302
    assert file_state(queue_app, resource_id) == [("pending", "")]
    assert "Text being extracted for search." in client.get(f"/staff/resources/{resource_id}/edit").get_data(
        as_text=True)
    assert found_ids(queue_app, "xylograph") == []

    with running_consumer(queue_app) as consumer:
        consumer.wait("library.extract_text")
    assert file_state(queue_app, resource_id) == [("done", "")]
    assert found_ids(queue_app, "xylograph") == [resource_id]
    assert "Text being extracted" not in client.get(f"/staff/resources/{resource_id}/edit").get_data(as_text=True)


def test_a_zip_bomb_is_kept_without_text_and_staff_see_why(app, staff_client, resource):
    # Kept: the caps make it harmless, and a genuine large workbook would hit the same caps.
    bomb = docx(b"<w:p/>" * 1_400_000)  # 8 MB of XML in a few KB
    assert upload(staff_client, resource, "bomb.docx", bomb).status_code == 302
    assert file_state(app, resource) == [("none", extraction.EXPANDS)]
    edit = staff_client.get(f"/staff/resources/{resource}/edit").get_data(as_text=True)
    assert "No text could be extracted: the file expands too much when opened." in edit


def test_an_archive_of_thousands_of_parts_is_refused_with_a_message(app, staff_client, resource):
    response = upload(staff_client, resource, "many.docx", many_members(extraction.LIMITS.members + 10))
    assert response.status_code == 400
    assert "That archive has far more parts than a Word, Excel or PowerPoint file." in response.get_data(
        as_text=True)
    assert attachments_of(app, resource) == []
    assert [p for p in Path(app.config["UPLOAD_DIR"]).rglob("*") if p.is_file()] == []


def test_content_load_extracts_at_once_without_a_worker_and_twice_changes_nothing(queue_app):
    from portal.content import load_content

    with unit(queue_app):
        first = load_content(ROOT / "content")
    with unit(queue_app):
        second = load_content(ROOT / "content")
        statuses = {a.filename: a.text_status for a in db.session.scalars(select(Attachment))}
    assert first.created_or_updated and not first.errors
    assert second.created_or_updated == []
    assert statuses == {"initiative-overview.pdf": "done"}
    assert found_ids(queue_app, "webinar") != []


def test_files_left_pending_are_queued_again_and_a_lost_file_is_reported(app, resource):
    file_id = attach(app, resource, "table.csv", b"place,count\nBrambleford,12\n")
    with unit(app):
        file = db.session.get(Attachment, file_id)
        file.text, file.text_status = "", "pending"  # as if its job was lost with a crashed worker
    with unit(app):
        assert attachments.requeue_pending_extractions() == 0  # just uploaded: its own job is still due
    with unit(app):
        assert attachments.requeue_pending_extractions(now=utcnow() + timedelta(minutes=11)) == 1
    assert file_state(app, resource) == [("done", "")]  # the suite's queue ran it after that commit
    assert found_ids(app, "brambleford") == [resource]

    with unit(app):
        attachments.extract_stored_text(file_id + 1000)  # removed before its turn came: nothing to do
        attachments.file_path(db.session.get(Attachment, file_id)).unlink()
        attachments.extract_stored_text(file_id)
    assert file_state(app, resource) == [("none", extraction.DAMAGED)]
