"""`flask content load [DIR]`: loads a folder laid out like content/, idempotently, and fails clearly."""
from textwrap import dedent

import pytest

from portal.pages.services import get_page
from tests.conftest import unit


def write_page(folder, name, text):
    pages = folder / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    path = pages / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(dedent(text).lstrip())
    return path


GOOD_PAGE = """
    ---
    title: Field notes from the peer network
    slug: field-notes
    summary: What partner jurisdictions learned this quarter.
    ---
    ## Field notes

    Dispatchers and responders met to compare protocols.
"""


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "my-content"
    write_page(folder, "field-notes.md", GOOD_PAGE)
    return folder


def load(runner, *args):
    return runner.invoke(args=["content", "load", *map(str, args)])


def assert_clean_failure(result, *expected):
    """A non-zero exit with a message, never a Python traceback."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for text in expected:
        assert text in result.output, result.output


def test_content_load_reads_a_custom_folder(app, runner, folder):
    result = load(runner, folder)

    assert result.exit_code == 0, result.output
    assert "1 created or updated, 0 unchanged." in result.output
    assert "pages/field-notes.md" in result.output
    with unit(app):
        page = get_page("field-notes")
        assert page.title == "Field notes from the peer network"
        assert "compare protocols" in page.body


def test_content_load_twice_changes_nothing(app, runner, folder):
    assert load(runner, folder).exit_code == 0
    with unit(app):
        first_update = get_page("field-notes").updated_at

    result = load(runner, folder)

    assert result.exit_code == 0, result.output
    assert "0 created or updated, 1 unchanged." in result.output
    with unit(app):
        assert get_page("field-notes").updated_at == first_update


def test_content_load_updates_a_changed_file(app, runner, folder):
    assert load(runner, folder).exit_code == 0
    write_page(folder, "field-notes.md", GOOD_PAGE.replace("this quarter", "this year"))

    result = load(runner, folder)

    assert result.exit_code == 0, result.output
    assert "1 created or updated, 0 unchanged." in result.output
    with unit(app):
        assert get_page("field-notes").summary == "What partner jurisdictions learned this year."


def test_content_load_without_a_folder_argument_loads_the_sites_content_idempotently(runner):
    first = load(runner)
    assert first.exit_code == 0, first.output  # every file in content/ loads cleanly

    second = load(runner)

    assert second.exit_code == 0, second.output
    assert second.output.startswith("0 created or updated,"), second.output


@pytest.mark.parametrize("name, text", [
    ("unclosed.md", """
        ---
        title: [an unclosed list
        slug: unclosed
        ---
        Body.
     """),
    ("not-a-mapping.md", """
        ---
        - just
        - a list
        ---
        Body.
     """),
    ("latin1.md", "---\ntitle: Caf\xe9\n---\nBody.\n".encode("latin-1")),
    ("no-title.md", """
        ---
        slug: no-title
        ---
        Body.
     """),
    ("long-title.md", f"""
        ---
        title: {"A very long title " * 20}
        slug: long-title
        ---
        Body.
     """),
])
def test_content_load_reports_a_bad_file_clearly(app, runner, folder, name, text):
    write_page(folder, name, text)

    result = load(runner, folder)

    assert_clean_failure(result, name, "could not be loaded", "nothing was saved")
    with unit(app):
        # One unit of work: the good file next to it is not saved either, and the bad one leaves nothing.
        assert get_page("field-notes") is None
        assert get_page(name.removesuffix(".md")) is None


def test_content_load_of_a_missing_folder_fails_clearly(runner, tmp_path):
    missing = tmp_path / "no-such-folder"

    result = load(runner, missing)

    assert_clean_failure(result, str(missing), "is not a folder")


def test_content_load_of_a_file_instead_of_a_folder_fails_clearly(runner, tmp_path):
    path = tmp_path / "a-file.md"
    path.write_text("# not a folder\n")

    result = load(runner, path)

    assert_clean_failure(result, "a-file.md")
