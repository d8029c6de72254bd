"""Metric reports and the figures computed from them, worked by hand: mixed months and quarters, a gap, a
correction, sample and real data together; validation; the overlap rule under concurrency."""
from datetime import date

import pytest

from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.jurisdictions import figures, metrics
from portal.jurisdictions.models import MetricRevision
from portal.jurisdictions.services import get_jurisdiction, list_jurisdictions, save_jurisdiction
from tests.conftest import create_jurisdiction, unit


def month(year, number, total, diverted, **extra):
    import calendar
    end = date(year, number, calendar.monthrange(year, number)[1])
    return {"period_start": date(year, number, 1), "period_end": end, "total": total, "diverted": diverted,
            "source_url": "https://example.org/report", **extra}


def quarter(year, first, total, diverted, **extra):
    import calendar
    last = first + 2
    return {"period_start": date(year, first, 1), "period_end": date(year, last, calendar.monthrange(year, last)[1]),
            "total": total, "diverted": diverted, "source_url": "https://example.org/report", **extra}


def test_headline_sums_the_reports_of_the_twelve_months_to_the_latest(app):
    # Q2 2025 (Apr-Jun) as a quarter, then monthly Jul 2025 - Mar 2026 except December (a gap).
    reports = [quarter(2025, 1, 9000, 90), quarter(2025, 4, 9000, 180)]
    reports += [month(2025, m, 3000, 100) for m in (7, 8, 9, 10, 11)]
    reports += [month(2026, m, 3000, 150, is_sample=True) for m in (1, 2, 3)]
    create_jurisdiction(app, reports=reports)
    with app.app_context():
        jurisdiction = get_jurisdiction("riverton")
        headline = figures.headline_of(jurisdiction)
        # The window is April 2025 to March 2026: Q1 2025 lies before it; December is missing.
        assert (headline.start, headline.end) == (date(2025, 4, 1), date(2026, 3, 31))
        assert headline.months == 3 + 5 + 3 == 11
        assert headline.total == 9000 + 5 * 3000 + 3 * 3000 == 33000
        assert headline.diverted == 180 + 5 * 100 + 3 * 150 == 1130
        assert headline.rate == pytest.approx(1130 / 33000)
        assert headline.is_sample  # January to March are sample data
        # The stored headline is what a fresh computation gives.
        assert figures.compute_headline(metrics.reports_of(jurisdiction)).diverted == 1130


def test_a_quarter_that_straddles_the_window_is_left_out(app):
    reports = [quarter(2025, 2, 9000, 900)]  # Feb-Apr 2025: starts before a window ending in January 2026
    reports += [month(2025, m, 1000, 10) for m in range(5, 13)] + [month(2026, 1, 1000, 20)]
    create_jurisdiction(app, reports=reports)
    with app.app_context():
        headline = figures.headline_of(get_jurisdiction("riverton"))
        assert headline.start == date(2025, 2, 1)
        assert headline.months == 3 + 9 == 12 and headline.diverted == 900 + 80 + 20
        assert not headline.is_sample


def test_a_correction_changes_the_headline_and_is_kept_as_a_revision(app):
    create_jurisdiction(app, reports=[month(2026, 1, 1000, 100), month(2026, 2, 1000, 100)])
    with unit(app):
        jurisdiction = get_jurisdiction("riverton")
        report = metrics.find_report(jurisdiction, date(2026, 2, 1))
        metrics.correct_metrics(report, actor=None, origin="staff", total=2000, diverted=500,
                                source_url="https://example.org/corrected")
    with app.app_context():
        jurisdiction = get_jurisdiction("riverton")
        assert (jurisdiction.headline_total, jurisdiction.headline_diverted) == (3000, 600)
        assert jurisdiction.headline_rate == pytest.approx(0.2)
        report = metrics.find_report(jurisdiction, date(2026, 2, 1))
        assert report.version == 2
        actions = [r.action for r in db.session.query(MetricRevision).filter_by(jurisdiction_id=jurisdiction.id)
                   .order_by(MetricRevision.id)]
        assert actions == ["create", "create", "correct"]
    with unit(app):
        jurisdiction = get_jurisdiction("riverton")
        metrics.delete_metrics(metrics.find_report(jurisdiction, date(2026, 2, 1)), actor=None, origin="staff")
    with app.app_context():
        jurisdiction = get_jurisdiction("riverton")
        assert (jurisdiction.headline_months, jurisdiction.headline_diverted) == (1, 100)
        assert db.session.query(MetricRevision).filter_by(jurisdiction_id=jurisdiction.id).count() == 4


@pytest.mark.parametrize("values, field, words", [
    ({"total": -1, "diverted": 0}, "total", "negative"),
    ({"total": "12.5", "diverted": 0}, "total", "whole number"),
    ({"total": 10, "diverted": 11}, "diverted", "more than the total"),
    ({"total": 10, "diverted": 1, "eligible": 11}, "eligible", "more than the total"),
    ({"period_end": date(2026, 1, 15)}, "period_end", "last day"),
    ({"period_start": date(2026, 1, 2)}, "period_start", "first day"),
    ({"period_end": date(2026, 2, 28)}, "period_end", "a month, a quarter"),
    ({"period_start": date(2026, 2, 1), "period_end": date(2026, 1, 31)}, "period_end", "end after"),
    ({"source_url": "javascript:alert(1)"}, "source_url", ""),
])
def test_bad_figures_are_refused_with_a_clear_message(app, values, field, words):
    create_jurisdiction(app)
    with unit(app):
        with pytest.raises(ValidationFailed) as error:
            metrics.report_metrics(get_jurisdiction("riverton"), actor=None, origin="staff",
                                   **{**month(2026, 1, 100, 10), **values})
    assert error.value.field == field and words in error.value.message


def test_overlapping_periods_are_refused(app):
    create_jurisdiction(app, reports=[quarter(2026, 1, 3000, 300)])
    with unit(app):
        with pytest.raises(ValidationFailed, match="overlaps the report for 2026-01-01 to 2026-03-31"):
            metrics.report_metrics(get_jurisdiction("riverton"), actor=None, origin="staff",
                                   **month(2026, 2, 1000, 100))


def test_csv_import_is_all_rows_or_none_with_line_numbers(app):
    create_jurisdiction(app, reports=[month(2026, 1, 1000, 100)])
    bad = ("period_start,period_end,total,diverted,eligible,source,sample\n"
           "2026-01-01,2026-01-31,1200,120,,https://example.org/a,\n"
           "2026-02-01,2026-02-28,1000,2000,,,\n"
           "2026-03-01,2026-03-31,ten,1,,,\n")
    with unit(app):
        with pytest.raises(metrics.RowErrors) as error:
            metrics.import_metrics_csv(get_jurisdiction("riverton"), actor=None, text=bad)
    assert [line for line, _ in error.value.rows] == [3, 4]
    with app.app_context():
        assert get_jurisdiction("riverton").headline_total == 1000  # nothing saved
    good = bad.replace("1000,2000", "1000,200").replace("ten,1", "1000,1")
    with unit(app):
        result = metrics.import_metrics_csv(get_jurisdiction("riverton"), actor=None, text=good)
        assert (len(result.created), len(result.corrected)) == (2, 1)
    with app.app_context():
        jurisdiction = get_jurisdiction("riverton")
        assert (jurisdiction.headline_total, jurisdiction.headline_diverted) == (3200, 321)


def test_goal_progress_and_pace(app):
    create_jurisdiction(app, goal_rate=0.2, goal_year=2034, goal_baseline_year=2024, goal_baseline_rate=0.02,
                        reports=[month(2026, m, 1000, 50) for m in range(1, 13)])
    with app.app_context():
        progress = figures.goal_progress(get_jurisdiction("riverton"))
        # 5% now: (0.05 - 0.02) / (0.20 - 0.02) = 1/6 of the way; 15 points left over 8 years.
        assert progress.current_rate == pytest.approx(0.05)
        assert progress.share == pytest.approx(1 / 6)
        assert progress.years_left == 8 and progress.pace_needed == pytest.approx(0.15 / 8)
        assert not progress.reached


def test_national_progress_sums_headlines_and_pledges(app):
    create_jurisdiction(app, slug="a", name="A", annual_calls=500_000, goal_rate=0.2, goal_year=2034,
                        reports=[month(2026, 1, 40_000, 4_000)])
    create_jurisdiction(app, slug="b", name="B", annual_calls=250_000, annual_calls_is_sample=True,
                        goal_rate=0.1, goal_year=2030, reports=[month(2026, 3, 20_000, 1_000, is_sample=True)])
    create_jurisdiction(app, slug="c", name="C")
    with app.app_context():
        # The content's partner cities are in the database too: the examples' three are summed here.
        progress = figures.national_progress([j for j in list_jurisdictions() if j.slug in "abc"])
        assert progress.diverted == 5_000
        assert progress.pledged == 100_000 + 25_000
        assert progress.share == pytest.approx(5_000 / 12_000_000)
        assert [c.jurisdiction.slug for c in progress.contributions] == ["a", "b"]
        assert progress.diverted_is_sample and progress.pledged_is_sample


def test_the_goal_needs_a_rate_and_a_year(app):
    with unit(app):
        with pytest.raises(ValidationFailed, match="both a target rate and a target year"):
            save_jurisdiction(slug="x", name="X", goal_rate="20%")


def test_overlapping_reports_sent_at_once_never_both_land(app):
    """Twelve writers at the same moment, each reporting a period that overlaps the others (the year 2026, its
    quarters and some months): the per-jurisdiction lock lets them in one at a time, so what is stored never
    overlaps, on SQLite and on PostgreSQL alike."""
    from tests.test_events_concurrency import at_once
    from portal.uow import unit_of_work

    create_jurisdiction(app)
    periods = [{"period_start": date(2026, 1, 1), "period_end": date(2026, 12, 31)}]
    periods += [quarter(2026, first, 3000, 30) for first in (1, 4, 7, 10)]
    periods += [month(2026, number, 1000, 10) for number in (1, 2, 5, 8, 9, 11, 12)]

    def writer(values):
        def write():
            with app.app_context():
                try:
                    with unit_of_work():
                        metrics.report_metrics(get_jurisdiction("riverton"), actor=None, origin="api",
                                               **{"total": 12000, "diverted": 120, **values})
                    return "stored"
                except ValidationFailed as error:
                    assert "overlaps" in error.message
                    return "refused"
        return write

    results = at_once([writer(values) for values in periods])
    assert "stored" in results
    with app.app_context():
        stored = metrics.reports_of(get_jurisdiction("riverton"))
        assert len(stored) == results.count("stored")
        for earlier, later in zip(stored, stored[1:]):
            assert earlier.period_end < later.period_start
        assert get_jurisdiction("riverton").headline_total == sum(report.total for report in stored)


def test_cli_imports_metrics_and_repairs_stale_headlines(app, runner, tmp_path):
    create_jurisdiction(app)
    good = tmp_path / "good.csv"
    good.write_text("period_start,period_end,total,diverted\n2026-01-01,2026-01-31,1000,100\n"
                    "2026-02-01,2026-02-28,1000,300\n")
    result = runner.invoke(args=["jurisdictions", "import-metrics", "riverton", str(good)])
    assert result.exit_code == 0, result.output
    assert "2 reported, 0 corrected, 0 unchanged" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("period_start,period_end,total,diverted\n2026-03-01,2026-03-31,10,20\n")
    result = runner.invoke(args=["jurisdictions", "import-metrics", "riverton", str(bad)])
    assert result.exit_code == 1 and "line 2: Diverted calls cannot be more" in result.output
    with unit(app):
        get_jurisdiction("riverton").headline_diverted = 7  # stale, as after a manual edit of the database
    result = runner.invoke(args=["jurisdictions", "refresh"])
    assert result.exit_code == 0 and " were out of date: riverton." in result.output and result.output.count("1 of")
    with app.app_context():
        assert get_jurisdiction("riverton").headline_diverted == 400


def test_a_representatives_export_holds_their_requests_and_tokens_without_secrets(app):
    import json
    from portal.jurisdictions import tokens
    from portal.members import services as members
    from tests.conftest import create_representative

    create_jurisdiction(app)
    email = create_representative(app)
    with unit(app):
        member = members.find_member_by_email(email)
        _, secret = tokens.create_token(get_jurisdiction("riverton"), actor=member, name="Nightly upload")
    with app.app_context():
        exported = members.export_member_data(members.find_member_by_email(email))["representation"]
        assert exported["requests"][0]["status"] == "approved"
        assert exported["requests"][0]["jurisdiction"] == "Riverton, Oregon"
        assert exported["api_tokens"][0]["name"] == "Nightly upload"
        assert secret not in json.dumps(exported) and secret[:12] == exported["api_tokens"][0]["prefix"]
