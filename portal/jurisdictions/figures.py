"""The figures computed from metric reports: a jurisdiction's headline rate, its progress to goal, the
national progress toward 12 million calls. Plain functions over rows; nothing here writes or queries."""
from dataclasses import dataclass, field
from datetime import date

# The initiative's target, and how it is reached: the 100 largest US municipalities diverting 20 percent of
# their calls (PRODUCT.md, "Facts"; source: INITIATIVE_SOURCE).
NATIONAL_TARGET = 12_000_000
INITIATIVE_SOURCE = "https://www.policingproject.org/reimagining-public-safety"
HEADLINE_MONTHS = 12


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def first_of_month_index(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


@dataclass
class Headline:
    """A jurisdiction's diversion rate over the twelve months ending with its latest reported month:
    the reports that lie wholly in that window, summed. `months` says how many of the twelve they cover
    (fewer when there is a gap, or a quarter or year that starts before the window)."""

    start: date | None = None  # the window's first day
    end: date | None = None    # its last day: the end of the latest report
    months: int = 0
    total: int = 0
    diverted: int = 0
    is_sample: bool = False
    report_ids: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        return self.diverted / self.total if self.total else None


def compute_headline(reports) -> Headline:
    reports = list(reports)
    if not reports:
        return Headline()
    end = max(report.period_end for report in reports)
    first = month_index(end) - HEADLINE_MONTHS + 1
    start = first_of_month_index(first)
    inside = sorted((report for report in reports if report.period_start >= start and report.period_end <= end),
                    key=lambda report: report.period_start)
    return Headline(start=start, end=end, months=sum(report.months for report in inside),
                    total=sum(report.total for report in inside), diverted=sum(report.diverted for report in inside),
                    is_sample=any(report.is_sample for report in inside), report_ids=[report.id for report in inside])


def headline_of(jurisdiction) -> Headline:
    """The stored headline (kept current by metrics.refresh_headline), without loading any report."""
    if not jurisdiction.headline_months:
        return Headline(start=jurisdiction.headline_start, end=jurisdiction.headline_end)
    return Headline(start=jurisdiction.headline_start, end=jurisdiction.headline_end,
                    months=jurisdiction.headline_months, total=jurisdiction.headline_total,
                    diverted=jurisdiction.headline_diverted, is_sample=jurisdiction.headline_is_sample)


@dataclass
class GoalProgress:
    """Where a jurisdiction stands against its goal: `share` of the way from the baseline rate to the target
    (0 at the baseline, 1 at the target; below 0 when the rate fell), and the yearly pace still needed, in
    rate points per year, from the headline's year to the target year."""

    target_rate: float
    target_year: int
    baseline_rate: float | None
    baseline_year: int | None
    current_rate: float | None
    current_year: int | None
    share: float | None
    pace_needed: float | None
    reached: bool
    years_left: int | None

    @property
    def bar_value(self) -> float:
        """The share clamped to the bar's 0..1."""
        return min(max(self.share or 0.0, 0.0), 1.0)


def goal_progress(jurisdiction, headline: Headline | None = None) -> GoalProgress | None:
    if not jurisdiction.has_goal:
        return None
    headline = headline or headline_of(jurisdiction)
    target, baseline = jurisdiction.goal_rate, jurisdiction.goal_baseline_rate
    current = headline.rate
    current_year = headline.end.year if headline.end and current is not None else None
    share = None
    if current is not None:
        start = baseline if baseline is not None else 0.0
        share = (current - start) / (target - start) if target != start else (1.0 if current >= target else 0.0)
    reached = current is not None and current >= target
    years_left = pace = None
    if current_year is not None:
        years_left = jurisdiction.goal_year - current_year
        if not reached and years_left > 0:
            pace = (target - current) / years_left
    return GoalProgress(target_rate=target, target_year=jurisdiction.goal_year, baseline_rate=baseline,
                        baseline_year=jurisdiction.goal_baseline_year, current_rate=current,
                        current_year=current_year, share=share, pace_needed=pace, reached=reached,
                        years_left=years_left)


@dataclass
class Contribution:
    """One jurisdiction's part of the national figures."""

    jurisdiction: object
    headline: Headline
    pledged: int | None  # annual calls x goal rate, rounded to whole calls


@dataclass
class NationalProgress:
    target: int
    diverted: int
    pledged: int
    contributions: list[Contribution]
    diverted_is_sample: bool
    pledged_is_sample: bool

    @property
    def share(self) -> float:
        return self.diverted / self.target

    @property
    def pledged_share(self) -> float:
        return self.pledged / self.target

    @property
    def reporting(self) -> list[Contribution]:
        return [item for item in self.contributions if item.headline.months]

    @property
    def pledging(self) -> list[Contribution]:
        return [item for item in self.contributions if item.pledged is not None]


def pledged_calls(jurisdiction) -> int | None:
    if jurisdiction.annual_calls is None or jurisdiction.goal_rate is None:
        return None
    return round(jurisdiction.annual_calls * jurisdiction.goal_rate)


def pledge_is_sample(jurisdiction) -> bool:
    return bool(jurisdiction.annual_calls_is_sample or jurisdiction.goal_is_sample)


def national_progress(jurisdictions) -> NationalProgress:
    """Sums every jurisdiction's headline diverted calls and pledged calls (annual calls x goal rate)."""
    contributions = [Contribution(jurisdiction, headline_of(jurisdiction), pledged_calls(jurisdiction))
                     for jurisdiction in jurisdictions]
    contributions = [item for item in contributions if item.headline.months or item.pledged is not None]
    return NationalProgress(
        target=NATIONAL_TARGET,
        diverted=sum(item.headline.diverted for item in contributions),
        pledged=sum(item.pledged or 0 for item in contributions),
        contributions=contributions,
        diverted_is_sample=any(item.headline.is_sample for item in contributions if item.headline.months),
        pledged_is_sample=any(pledge_is_sample(item.jurisdiction) for item in contributions
                              if item.pledged is not None))
