"""The call-type analysis in a real browser (Debian's Chromium), with a real worker: a representative uploads
an extract, maps its columns, watches the job, reads the results, maps an unmapped type and sees the shares
change, saves the eligible-calls figure; the file is gone from disk. axe-core on every page, desktop and phone."""
import pytest

from portal.jurisdictions.models import MetricReport
from tests.conftest import (_empty_database, check_accessible, create_jurisdiction, create_representative,
                            make_app, running_consumer, scrolls_sideways, unit)
from tests.test_browser_library import sign_in
from tests.test_calls import FLOW_ROWS, calls_dir_files, csv_bytes

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def app(tmp_path):
    """Jobs wait on the queue for the worker this test starts (the suite's default runs them at once)."""
    app = make_app(tmp_path, QUEUE_IMMEDIATE=False)
    yield app
    _empty_database(app)


def test_a_representative_analyses_an_extract(app, page, tmp_path):
    create_jurisdiction(app)
    sign_in(page, create_representative(app))
    extract = tmp_path / "riverton-march.csv"
    extract.write_bytes(csv_bytes(FLOW_ROWS))

    page.goto("/jurisdictions/riverton/analysis")
    check_accessible(page)
    page.get_by_label("Dispatch extract").set_input_files(str(extract))
    page.get_by_role("button", name="Upload and choose columns").click()

    # The columns are proposed from the header, with the first rows to check them against.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Choose the columns of riverton-march.csv")
    expect(page.get_by_label("Call type")).to_have_value("TypeText")
    expect(page.get_by_label("Responding unit type")).to_have_value("Unit Type")
    expect(page.locator("table.preview")).to_contain_text("WELFARE CHK")
    check_accessible(page)
    page.get_by_role("button", name="Analyse the calls").click()

    # No worker yet: the page waits, and follows the job by itself once one runs.
    expect(page.locator("#progress-words")).to_contain_text("Waiting for the worker")
    check_accessible(page)
    with running_consumer(app) as consumer:
        consumer.wait("calls.run_analysis")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Call types of riverton-march.csv",
                                                                     timeout=15_000)
    assert calls_dir_files(app) == []

    expect(page.locator("#alternative-share")).to_have_text("55.6%")
    expect(page.locator("#coverage")).to_have_text("72.2%")
    expect(page.locator("#non-police-share")).to_have_text("46.2%")
    check_accessible(page)
    page.set_viewport_size({"width": 360, "height": 800})
    assert scrolls_sideways(page) is None
    page.set_viewport_size({"width": 1280, "height": 900})

    # Map the biggest unmapped type: the shares change at once.
    unmapped = page.locator(".unmapped-list li").filter(has_text="ZZ LOCAL 77")
    unmapped.get_by_label("ZZ LOCAL 77").select_option("administrative")
    unmapped.get_by_role("button", name="Map").click()
    expect(page.locator(".flashes")).to_contain_text("“ZZ LOCAL 77” is now counted as Administrative")
    expect(page.locator("#alternative-share")).to_have_text("83.3%")
    expect(page.locator("#coverage")).to_have_text("100.0%")
    expect(page.get_by_text("Every call type is mapped.")).to_be_visible()

    page.get_by_role("button", name="Save the eligible calls").click()
    expect(page.locator(".flashes")).to_contain_text("Saved 15 eligible calls as the figure of Riverton for "
                                                     "March 2026.")
    check_accessible(page)
    with unit(app):
        from portal.extensions import db
        report = db.session.query(MetricReport).one()
        assert (report.total, report.diverted, report.eligible, report.origin) == (18, 6, 15, "analysis")

    page.get_by_role("link", name="change it").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("How Riverton's call types are classified")
    expect(page.locator("table").first).to_contain_text("ZZ LOCAL 77")
    check_accessible(page)
