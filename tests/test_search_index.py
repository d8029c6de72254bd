"""The search index follows the database: rebuild, check and sync; crashes mid-write; two writers; content loads."""
import os
import signal
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import func, select, update

from portal import search
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.library import services
from portal.library.models import Attachment, Resource, ResourceRevision
from tests.conftest import ROOT, unit
from portal.database import utcnow
from portal.library.search_docs import RESOURCES
from portal.search.schema import fields_for
from tests.library_helpers import found_ids, indexed_ids, make_resource, pdf_bytes, sync_at


def cli(runner, *args):
    return runner.invoke(args=list(args))


def check(runner):
    return cli(runner, "search", "check")


@pytest.fixture
def shelf(app):
    ids = [make_resource(app, title=f"Published wombat {n}", slug=f"wombat-{n}") for n in range(3)]
    make_resource(app, title="Draft wombat", slug="draft-wombat", status="draft")
    return ids


def test_rebuild_recreates_the_index_from_the_database(app, runner, shelf):
    with unit(app):
        search.forget_index()
    index_dir = app.config["SEARCH_INDEX_DIR"]
    for name in os.listdir(index_dir):
        if not name.startswith("."):
            os.remove(os.path.join(index_dir, name))
    result = cli(runner, "search", "rebuild")
    assert result.exit_code == 0, result.output
    assert "Indexed 3 documents." in result.output
    assert indexed_ids(app) == set(shelf)
    assert sorted(found_ids(app, "wombat")) == sorted(shelf)
    assert check(runner).exit_code == 0
    # Over an existing index, a rebuild replaces it all at once.
    result = cli(runner, "search", "rebuild")
    assert "Indexed 3 documents." in result.output
    assert indexed_ids(app) == set(shelf) and check(runner).exit_code == 0


def test_check_reports_differences_and_sync_repairs_them(app, runner, shelf):
    result = check(runner)
    assert result.exit_code == 0 and "The index matches the database." in result.output
    missing, stale, _ = shelf
    with unit(app):
        writer = search.open_index().writer()
        writer.delete_by_term("id", str(missing))  # behind the database's back
        writer.add_document(key="resource:99999", kind="resource", id="99999", title="Ghost wombat",
                            type="guide", published=1, version="0:p")
        writer.commit()
        # A row changed without its document (as on a second host before its sync).
        db.session.execute(update(Resource).where(Resource.id == stale)
                           .values(title="Renamed kangaroo", updated_at=datetime.now(timezone.utc)))
        db.session.commit()

    result = check(runner)
    assert result.exit_code != 0
    assert f"missing: 1 (resource {missing})" in result.output
    assert f"stale: 1 (resource {stale})" in result.output
    assert "orphaned: 1 (resource 99999)" in result.output
    assert "run `flask search sync`" in result.output
    assert found_ids(app, "kangaroo") == []

    result = cli(runner, "search", "sync")
    assert result.exit_code == 0, result.output
    assert "Added 1, updated 1, removed 1." in result.output
    assert check(runner).exit_code == 0
    assert indexed_ids(app) == set(shelf)
    assert found_ids(app, "kangaroo") == [stale]
    assert found_ids(app, "ghost") == []


def locked(kind, rows, now=None):
    raise search.SearchUnavailable("the index is locked")


def test_a_stale_index_never_lists_an_unpublished_resource(app, client, shelf, monkeypatch):
    monkeypatch.setattr(search, "index_rows", locked)
    with unit(app):
        services.change_status(services.get_resource(shelf[0]), action="unpublish", actor=None)
    assert shelf[0] in found_ids(app, "wombat")  # the index has not heard of it yet
    html = client.get("/resources?q=wombat").get_data(as_text=True)
    assert "Published wombat 0" not in html and "Published wombat 1" in html
    monkeypatch.undo()
    with unit(app):
        assert search.sync().orphaned == [("resource", shelf[0])]
    assert shelf[0] not in found_ids(app, "wombat")


def test_a_stale_index_never_shows_a_body_that_became_members_only(app, client, monkeypatch):
    body = "Public words about sassafras roots."
    resource_id = make_resource(app, title="Sassafras notes", body=body)
    monkeypatch.setattr(search, "index_rows", locked)
    with unit(app):
        services.update_resource(services.get_resource(resource_id), actor=None, access="members")
    html = client.get("/resources?q=sassafras+roots").get_data(as_text=True)
    assert "Sassafras notes" in html  # the index still has it as public
    assert "Public words" not in html and "<mark>roots</mark>" not in html
    monkeypatch.undo()
    with unit(app):
        assert search.sync().stale == [("resource", resource_id)]
    # (Asked of the engine: the page above may be served from the anonymous page cache for a few seconds.)
    assert found_ids(app, "sassafras roots") == []
    html = client.get("/resources?q=sassafras").get_data(as_text=True)
    assert "Sassafras notes" in html and "Public words" not in html


# --- crashes and concurrent writers -------------------------------------------------------------

def _env(app) -> dict:
    env = dict(os.environ)
    env.update({
        "PORTAL_INSTANCE_PATH": str(app.instance_path),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SEARCH_INDEX_DIR": app.config["SEARCH_INDEX_DIR"],
        "UPLOAD_DIR": app.config["UPLOAD_DIR"],
        "MAIL_OUTBOX_DIR": app.config["MAIL_OUTBOX_DIR"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "SITE_URL": "http://localhost",
        "PYTHONPATH": str(ROOT),
    })
    env.pop("MAIL_SERVER", None)
    return env


@contextmanager
def _python(app, code: str):
    """Another process running this code against the same database and index; killed if the test fails."""
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=_env(app), cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


CRASH = """
    import os, signal, sys
    from datetime import datetime, timezone
    from portal import create_app, search, uow
    from portal.library import services
    from portal.search.schema import fields_for

    app = create_app()
    with app.app_context(), uow.unit_of_work():
        def dying_index(kind, rows, now=None):
            writer = search.open_index().writer(timeout=10)
            for row in rows:
                writer.update_document(**fields_for(kind, kind.document(row, datetime.now(timezone.utc))))
            for n in range(300):  # enough to put segment files on disk
                writer.add_document(key=f"resource:{100000 + n}", kind="resource", id=str(100000 + n),
                                    title=f"ghost {n}", body="ghost words " * 300)
            print("writing", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)  # before the commit

        search.index_rows = dying_index
        # The unit commits at the end of the block, then the index write dies.
        services.change_status(services.get_resource_by_slug("crash-wombat"), action="publish", actor=None)
    print("not reached", flush=True)
"""


def test_a_process_killed_mid_write_is_repaired_by_sync(app, runner, shelf):
    crashed = make_resource(app, title="Crash wombat", slug="crash-wombat", status="draft")
    index_dir = app.config["SEARCH_INDEX_DIR"]
    before = set(os.listdir(index_dir))
    with _python(app, CRASH) as process:
        out, err = process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL, err
    assert out.strip() == "writing"
    with unit(app):
        db.session.expire_all()
        assert services.get_resource(crashed).status == "published"  # the database committed first
    leftovers = set(os.listdir(index_dir)) - before
    assert leftovers  # the dead writer left half-written files behind

    result = check(runner)
    assert result.exit_code != 0 and f"missing: 1 (resource {crashed})" in result.output
    assert found_ids(app, "crash") == [] and found_ids(app, "ghost") == []

    result = cli(runner, "search", "sync")
    assert result.exit_code == 0, result.output
    assert "Added 1, updated 0, removed 0." in result.output
    assert not leftovers & set(os.listdir(index_dir))  # and the next commit cleared them away
    assert check(runner).exit_code == 0
    assert indexed_ids(app) == set(shelf) | {crashed}
    assert found_ids(app, "crash") == [crashed] and found_ids(app, "ghost") == []

    # The lock died with the process: the next publish writes normally, and a freshly opened index agrees.
    later = make_resource(app, title="Later wombat", slug="later-wombat")
    assert found_ids(app, "later") == [later]
    with unit(app):
        search.forget_index()
        assert search.compare().ok


SECOND_WRITER = """
    from portal import create_app, search, uow
    from portal.library import services
    from whoosh.index import LockError
    from whoosh.util import filelock

    app = create_app()
    with app.app_context(), uow.unit_of_work():
        try:
            search.open_index().writer(timeout=0).cancel()
            print("free", flush=True)
        except LockError:
            print("locked", flush=True)

        # Say so the first time the index write after the commit finds the lock taken: the test holding it
        # then lets go, so this writer is known to have waited for it.
        original, told = filelock.FcntlLock.acquire, []

        def acquire(self, blocking=False):
            got = original(self, blocking)
            if not got and not told:
                told.append(True)
                print("waiting", flush=True)
            return got

        filelock.FcntlLock.acquire = acquire
        services.change_status(services.get_resource_by_slug("second-wombat"), action="publish", actor=None)
        print("published", flush=True)
    print("indexed", flush=True)  # the unit committed, then its index write got the lock
"""


def test_two_writers_at_once_both_land(app, runner, shelf, monkeypatch):
    # The first resource reaches the database but not the index: the held writer below indexes it.
    monkeypatch.setattr(search, "index_rows", lambda kind, rows, now=None: None)
    first = make_resource(app, title="First kangaroo", slug="first-kangaroo")
    monkeypatch.undo()
    second = make_resource(app, title="Second wombat", slug="second-wombat", status="draft")

    with unit(app):
        writer = search.open_index().writer(timeout=5)
        writer.update_document(**fields_for(RESOURCES, RESOURCES.document(services.get_resource(first), utcnow())))
        with _python(app, SECOND_WRITER) as process:
            try:
                assert process.stdout.readline().strip() == "locked"
                assert process.stdout.readline().strip() == "published"  # in its unit, not yet committed
                assert process.stdout.readline().strip() == "waiting"  # its index write now waits for ours
            finally:
                writer.commit()
            out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert out.strip() == "indexed"
    assert found_ids(app, "kangaroo") == [first]
    assert found_ids(app, "second") == [second]
    assert check(runner).exit_code == 0


# --- content loads ---------------------------------------------------------------------------

def _totals(app):
    with unit(app):
        return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
                for model in (Resource, ResourceRevision, Attachment, AuditEvent)}


def test_loading_the_default_content_twice_changes_nothing(library, runner):
    before = _totals(library)
    with unit(library):
        generation = search.open_index().latest_generation()
        updated = dict(db.session.execute(select(Resource.slug, Resource.updated_at)).all())
    result = cli(runner, "content", "load")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("0 created or updated,")
    assert _totals(library) == before
    with unit(library):
        assert search.open_index().latest_generation() == generation
        assert dict(db.session.execute(select(Resource.slug, Resource.updated_at)).all()) == updated
        assert search.compare().ok
        assert before["Resource"] == len(list((ROOT / "content" / "resources").glob("*.md")))
        assert before["Attachment"] >= 1


RESOURCE_FILE = """\
---
title: "Owl patrol: a program model"
slug: owl-patrol
type: program_model
audiences: [officials, practitioners]
topics: [night shifts, Dispatch]
jurisdiction: denver
access: members
members_until: {until}
status: published
published: 2024-02-29
summary: A made-up program model for testing the loader.
files: [files/owl-appendix.pdf]
---
## How it works

Night crews answer **nocturnal** calls.
"""

UNDATED_FILE = """\
---
title: Undated heron memo
type: policy
status: published
summary: Published without a date.
---
Herons.
"""

DRAFT_FILE = """\
---
title: Draft egret notes
slug: egret-notes
type: research
audiences: officials, researchers
status: draft
---
Egrets.
"""

FUTURE_FILE = """\
---
title: Future ibis release
type: guide
published: 2099-01-01
summary: Scheduled by its date.
---
Ibis.
"""

BROKEN_FILE = """\
---
title: Broken
type: novel
---
"""


def test_a_custom_folder_in_the_documented_format_loads(app, runner, tmp_path):
    folder = tmp_path / "bulk"
    (folder / "resources" / "files").mkdir(parents=True)
    until = date(2030, 1, 31)
    (folder / "resources" / "owl-patrol.md").write_text(RESOURCE_FILE.format(until=until.isoformat()))
    (folder / "resources" / "undated-heron.md").write_text(UNDATED_FILE)
    (folder / "resources" / "egret.md").write_text(DRAFT_FILE)
    (folder / "resources" / "future-ibis.md").write_text(FUTURE_FILE)
    (folder / "resources" / "files" / "owl-appendix.pdf").write_bytes(pdf_bytes("The barnacle appendix."))

    result = cli(runner, "content", "load", str(folder))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("4 created or updated, 0 unchanged.")
    with unit(app):
        owl = services.get_resource_by_slug("owl-patrol")
        assert (owl.title, owl.type, owl.access, owl.members_until, owl.status) == \
            ("Owl patrol: a program model", "program_model", "members", until, "published")
        assert owl.audiences == ["officials", "practitioners"] and owl.topics == ["night shifts", "dispatch"]
        assert owl.jurisdiction.slug == "denver"
        assert owl.published_at == datetime(2024, 2, 29, 12, 0, tzinfo=timezone.utc)
        assert owl.summary == "A made-up program model for testing the loader."
        assert "**nocturnal**" in owl.body
        assert [(a.filename, a.kind) for a in owl.attachments] == [("owl-appendix.pdf", "pdf")]
        heron = services.get_resource_by_slug("undated-heron")  # the slug defaults to the file name
        assert heron.status == "published" and heron.published_at is not None
        egret = services.get_resource_by_slug("egret-notes")
        assert egret.status == "draft" and egret.audiences == ["officials", "researchers"]
    assert found_ids(app, "barnacle", can_read_members=True) == [owl.id]  # the PDF's text, through the services
    assert found_ids(app, "barnacle") == []  # members-only body and files
    assert found_ids(app, "heron") == [heron.id] and found_ids(app, "egret") == []
    with unit(app):
        ibis = services.get_resource_by_slug("future-ibis")  # status defaults to published; the date schedules it
        assert ibis.status == "published" and ibis.published_at == datetime(2099, 1, 1, 12, tzinfo=timezone.utc)
    assert found_ids(app, "ibis") == []
    later = datetime(2099, 1, 2, tzinfo=timezone.utc)
    assert found_ids(app, "ibis", now=later) == []  # indexed only once due, by the periodic sync
    assert sync_at(app, later).missing == [("resource", ibis.id)]
    assert found_ids(app, "ibis", now=later) == [ibis.id]

    before = _totals(app)
    result = cli(runner, "content", "load", str(folder))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("0 created or updated, 4 unchanged.")
    assert _totals(app) == before
    assert found_ids(app, "heron") == [heron.id]

    (folder / "resources" / "broken.md").write_text(BROKEN_FILE)
    result = cli(runner, "content", "load", str(folder))
    assert result.exit_code != 0
    assert "broken.md: Choose a resource type from the list." in result.output
    assert "could not be loaded, so nothing was saved" in result.output
    with unit(app):
        assert services.get_resource_by_slug("broken") is None


def test_loading_a_folder_that_does_not_exist_fails_cleanly(runner, tmp_path):
    result = cli(runner, "content", "load", str(tmp_path / "nowhere"))
    assert result.exit_code != 0
    assert "is not a folder" in result.output


def test_one_searcher_follows_many_small_commits_and_merges(app):
    """The per-thread searcher reuses unchanged segment readers: across twenty commits (a merge among them),
    unpublished documents disappear, edits show, and nothing merged away lingers."""
    ids = [make_resource(app, title=f"Numbat report {n}", body=f"numbat fieldnote {n}") for n in range(16)]
    assert sorted(found_ids(app, "numbat")) == sorted(ids)
    with unit(app):
        for resource_id in ids[:4]:
            services.change_status(services.get_resource(resource_id), action="unpublish", actor=None)
        services.update_resource(services.get_resource(ids[5]), actor=None, title="Quokka report")
        assert len(list(search.current_searcher().reader().leaf_readers())) <= 13  # small segments get merged
    assert sorted(found_ids(app, "numbat")) == sorted(ids[4:])
    assert found_ids(app, "quokka") == [ids[5]]
    assert indexed_ids(app) == set(ids[4:])


def test_content_load_drops_a_file_removed_from_the_front_matter(app, tmp_path):
    from portal.content import load_content

    folder = tmp_path / "site"
    (folder / "resources").mkdir(parents=True)
    (folder / "resources" / "brief.pdf").write_bytes(pdf_bytes("Wallaby appendix"))
    page = folder / "resources" / "brief.md"
    front = "---\ntitle: A brief\ntype: guide\npublished: 2024-05-01\n{files}---\nThe brief.\n"
    page.write_text(front.format(files="files: [brief.pdf]\n"))
    with unit(app):
        assert not load_content(folder).errors
        assert [a.filename for a in services.get_resource_by_slug("brief").attachments] == ["brief.pdf"]
    page.write_text(front.format(files="files: []\n"))
    with unit(app):
        report = load_content(folder)
        assert not report.errors and report.created_or_updated == ["resources/brief.md"]
        assert services.get_resource_by_slug("brief").attachments == []
    assert found_ids(app, "wallaby") == []


def test_whoosh_is_the_version_the_reader_reuse_was_verified_against():
    from portal.search import readers

    assert readers.installed_whoosh() == readers.VERIFIED_WHOOSH, (
        "portal/search/readers.py reaches into Whoosh-Reloaded's internals: check them against the installed "
        "version, then update VERIFIED_WHOOSH")


def test_readers_of_segments_merged_away_are_closed(app):
    from portal.search import readers

    make_resource(app, title="Bilby report 0")
    with unit(app):
        first = readers.leaves(search.current_searcher().reader())
    for n in range(1, 16):  # enough small commits for a merge
        make_resource(app, title=f"Bilby report {n}")
    with unit(app):
        now_open = readers.leaves(search.current_searcher().reader())
        assert len(found_ids(app, "bilby")) == 16
    current = {leaf.segment().segment_id() for leaf in now_open}
    dropped = [leaf for leaf in first if leaf.segment().segment_id() not in current]
    assert dropped and all(leaf.is_closed for leaf in dropped)
    assert not any(leaf.is_closed for leaf in now_open)


def test_the_engine_imports_no_feature():
    import re as regex

    for path in (ROOT / "portal" / "search").glob("*.py"):
        imports = regex.findall(r"^\s*(?:from|import)\s+(portal\.\w+)", path.read_text(), regex.MULTILINE)
        assert set(imports) <= {"portal.search"}, (path.name, imports)
