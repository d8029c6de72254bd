"""Reading and saving jurisdictions: their profile, goal, annual calls and dashboard links."""
from datetime import date

from sqlalchemy import select

from portal.audit.services import record_event
from portal.database import utcnow
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.jurisdictions.access import require_editor
from portal.jurisdictions.models import KINDS, Jurisdiction, JurisdictionLink
from portal.records import save_by_slug
from portal.text import clean_slug, clean_web_address

MAX_LINKS = 10
# The fields whose change is a change of the jurisdiction's figures (its "last updated" stamp).
FIGURE_FIELDS = ("goal_rate", "goal_year", "goal_baseline_year", "goal_baseline_rate", "goal_is_sample",
                 "annual_calls", "annual_calls_is_sample", "population")
PROFILE_FIELDS = ("name", "state", "kind", "population", "is_partner", "joined_on", "summary", "goal_rate",
                  "goal_year", "goal_baseline_year", "goal_baseline_rate", "goal_source", "goal_is_sample",
                  "annual_calls", "annual_calls_source", "annual_calls_is_sample")
# What a representative may change; partnership and its date are the initiative's to set.
REPRESENTATIVE_FIELDS = tuple(name for name in PROFILE_FIELDS if name not in ("is_partner", "joined_on", "name"))


def get_jurisdiction(slug: str) -> Jurisdiction | None:
    return db.session.scalar(select(Jurisdiction).where(Jurisdiction.slug == slug))


def list_jurisdictions() -> list[Jurisdiction]:
    return list(db.session.scalars(select(Jurisdiction).order_by(Jurisdiction.name)))


def _whole(value, field: str, label: str, *, low: int = 0, high: int = 10**9) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = int(str(value).strip().replace(",", "")) if not isinstance(value, int) else value
    except ValueError:
        raise ValidationFailed(field, f"Give {label} as a whole number.") from None
    if isinstance(value, bool) or not low <= number <= high:
        raise ValidationFailed(field, f"Give {label} as a whole number from {low:,} to {high:,}.")
    return number


def _fraction(value, field: str, label: str) -> float | None:
    """A rate as a fraction (0.2); "20%" is read as a percentage."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip()
    try:
        number = float(text.rstrip("%").strip()) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise ValidationFailed(field, f"Give {label} as a fraction (0.2) or a percentage (20%).") from None
    if isinstance(value, bool) or not 0 <= number <= 1 or number != number:
        raise ValidationFailed(field, f"Give {label} between 0 and 1 (or 0% and 100%).")
    return number


def _day(value, field: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationFailed(field, "Give a date as YYYY-MM-DD.") from None


def clean_profile(values: dict) -> dict:
    """The profile fields present in `values`, cleaned; raises ValidationFailed naming the field."""
    cleaned = {}
    for name in values:
        if name not in PROFILE_FIELDS:
            raise ValueError(f"not a jurisdiction field: {name}")
    text_limits = {"name": 120, "state": 60}
    for name, limit in text_limits.items():
        if name in values:
            text = " ".join(str(values[name] or "").split())
            if name == "name" and not text:
                raise ValidationFailed("name", "Give the jurisdiction's name.")
            if len(text) > limit:
                raise ValidationFailed(name, f"Use at most {limit} characters.")
            cleaned[name] = text
    if "kind" in values:
        if values["kind"] not in KINDS:
            raise ValidationFailed("kind", "Choose city, county or region.")
        cleaned["kind"] = values["kind"]
    if "summary" in values:
        summary = (values["summary"] or "").strip()
        if len(summary) > 20000:
            raise ValidationFailed("summary", "Use at most 20,000 characters for the summary.")
        cleaned["summary"] = summary
    for name, label in (("population", "the population"), ("annual_calls", "the annual 911 calls")):
        if name in values:
            cleaned[name] = _whole(values[name], name, label, high=100_000_000)
    for name, label in (("goal_year", "the target year"), ("goal_baseline_year", "the baseline year")):
        if name in values:
            cleaned[name] = _whole(values[name], name, label, low=1990, high=2100)
    for name, label in (("goal_rate", "the target rate"), ("goal_baseline_rate", "the baseline rate")):
        if name in values:
            cleaned[name] = _fraction(values[name], name, label)
    for name in ("goal_source", "annual_calls_source"):
        if name in values:
            cleaned[name] = clean_web_address(values[name], field=name)
    for name in ("is_partner", "goal_is_sample", "annual_calls_is_sample"):
        if name in values:
            cleaned[name] = bool(values[name])
    if "joined_on" in values:
        cleaned["joined_on"] = _day(values["joined_on"], "joined_on")
    return cleaned


def _check_goal(jurisdiction: Jurisdiction) -> None:
    rate, year = jurisdiction.goal_rate, jurisdiction.goal_year
    if (rate is None) != (year is None):
        raise ValidationFailed("goal_rate" if rate is None else "goal_year",
                               "A goal needs both a target rate and a target year.")
    base_year, base_rate = jurisdiction.goal_baseline_year, jurisdiction.goal_baseline_rate
    if base_year is not None and year is not None and base_year >= year:
        raise ValidationFailed("goal_baseline_year", "The baseline year comes before the target year.")
    if base_rate is not None and rate is not None and base_rate >= rate:
        raise ValidationFailed("goal_baseline_rate", "The baseline rate is below the target rate.")


def clean_links(links) -> list[tuple[str, str]]:
    """[(label, url)] from dicts or pairs; blank rows are dropped."""
    cleaned = []
    for item in links or []:
        label, url = (item.get("label"), item.get("url")) if isinstance(item, dict) else item
        label, url = " ".join(str(label or "").split()), str(url or "").strip()
        if not label and not url:
            continue
        if not label or len(label) > 120:
            raise ValidationFailed("links", "Give every link a label of at most 120 characters.")
        url = clean_web_address(url, field="links")
        if not url:
            raise ValidationFailed("links", f"Give the address for “{label}”.")
        cleaned.append((label, url))
    if len(cleaned) > MAX_LINKS:
        raise ValidationFailed("links", f"Use at most {MAX_LINKS} links.")
    return cleaned


def _set_links(jurisdiction: Jurisdiction, links: list[tuple[str, str]]) -> bool:
    if [(link.label, link.url) for link in jurisdiction.links] == links:
        return False
    jurisdiction.links[:] = [JurisdictionLink(label=label, url=url, position=number)
                             for number, (label, url) in enumerate(links)]
    return True


def save_jurisdiction(*, slug: str, name: str, links=None, **fields) -> tuple[Jurisdiction, bool]:
    """Create or update by slug (the content loader, staff, an approved application); returns the row and
    whether anything changed. `links` replaces the dashboard links when given."""
    slug = clean_slug(slug, name, max_length=80)
    values = clean_profile({"name": name, **fields})
    existing = get_jurisdiction(slug)
    figures_before = {key: getattr(existing, key) for key in FIGURE_FIELDS} if existing is not None else None
    jurisdiction, changed = save_by_slug(Jurisdiction, slug, values)
    _check_goal(jurisdiction)
    if links is not None:
        changed = _set_links(jurisdiction, clean_links(links)) or changed
    if figures_before is None or any(getattr(jurisdiction, key) != value for key, value in figures_before.items()):
        jurisdiction.figures_updated_at = utcnow()
    db.session.flush()
    return jurisdiction, changed


def update_jurisdiction(jurisdiction: Jurisdiction, *, actor, links=None, **fields) -> Jurisdiction:
    """A representative's or staff member's edit of the page: the fields given, and the links when given.
    Representatives may change REPRESENTATIVE_FIELDS only."""
    require_editor(actor, jurisdiction)
    allowed = PROFILE_FIELDS if actor.is_staff else REPRESENTATIVE_FIELDS
    refused = [name for name in fields if name not in allowed]
    if refused:
        raise ValidationFailed(refused[0], "Only staff change this.")
    values = clean_profile(fields)
    before = {key: getattr(jurisdiction, key) for key in FIGURE_FIELDS}
    changed = [key for key, value in values.items() if getattr(jurisdiction, key) != value]
    for key in changed:
        setattr(jurisdiction, key, values[key])
    _check_goal(jurisdiction)
    if links is not None and _set_links(jurisdiction, clean_links(links)):
        changed.append("links")
    if any(getattr(jurisdiction, key) != value for key, value in before.items()):
        jurisdiction.figures_updated_at = utcnow()
    if changed:
        record_event(actor=actor, action="jurisdiction.updated", subject=f"jurisdiction {jurisdiction.slug}",
                     fields=sorted(changed))
    db.session.flush()
    return jurisdiction
