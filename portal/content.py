"""Loads a content folder (content/ by default) through the services; idempotent by slug."""
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import frontmatter
import yaml

from portal import uow
from portal.events import services as events
from portal.exceptions import ValidationFailed
from portal.jurisdictions import metrics, programs
from portal.jurisdictions.services import get_jurisdiction, save_jurisdiction
from portal.library.attachments import attach_file, remove_attachment
from portal.library.models import STATUSES
from portal.library.services import change_status, create_resource, get_resource_by_slug, update_resource
from portal.pages.services import save_page


@dataclass
class LoadReport:
    created_or_updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _read(path: Path):
    try:
        return frontmatter.load(path)
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed(None, f"{path}: cannot read front matter ({exc})") from exc


def load_pages(folder: Path, report: LoadReport) -> None:
    for path in sorted((folder / "pages").glob("*.md")):
        try:
            post = _read(path)
            _, changed = save_page(slug=str(post.get("slug") or path.stem), title=str(post.get("title", "")),
                                   summary=str(post.get("summary", "")), body=post.content)
        except ValidationFailed as error:
            report.errors.append(f"{path.name}: {error.message}")
            return
        (report.created_or_updated if changed else report.unchanged).append(f"pages/{path.name}")


# A jurisdiction's content seeds its page: the name and state are the file's, but the figures, summary, links
# and programs are written only while they are still unset, and a metric report only for a period nobody has
# reported; whatever a representative or staff member has set or reported since is never overwritten.
SEEDED_FIELDS = ("kind", "population", "summary", "goal_rate", "goal_year", "goal_baseline_year",
                 "goal_baseline_rate", "goal_source", "goal_is_sample", "annual_calls", "annual_calls_source",
                 "annual_calls_is_sample")


def _jurisdiction_fields(post) -> dict:
    goal = post.get("goal") or {}
    if not isinstance(goal, dict):
        raise ValidationFailed("goal", "goal must be a mapping of rate, year, baseline_year, baseline_rate")
    return {"kind": str(post.get("kind") or "city"), "population": post.get("population"),
            "summary": post.content.strip(), "goal_rate": goal.get("rate"), "goal_year": goal.get("year"),
            "goal_baseline_year": goal.get("baseline_year"), "goal_baseline_rate": goal.get("baseline_rate"),
            "goal_source": str(goal.get("source") or ""), "goal_is_sample": bool(goal.get("sample")),
            "annual_calls": post.get("annual_calls"), "annual_calls_source": str(post.get("annual_calls_source") or ""),
            "annual_calls_is_sample": bool(post.get("annual_calls_sample"))}


def _unset(value) -> bool:
    return value in (None, "", False)


def _load_jurisdiction(post, path: Path) -> bool:
    slug = str(post.get("slug") or path.stem)
    existing = get_jurisdiction(slug)
    values = _jurisdiction_fields(post)
    if existing is not None:
        values = {key: value for key, value in values.items() if _unset(getattr(existing, key))}
    partner = bool(post.get("partner"))
    values.update(is_partner=partner, joined_on=_as_date(post.get("joined"), "joined"))
    if existing is not None and existing.is_partner:  # staff made it a partner: keep it, and its date
        values.update(is_partner=True, joined_on=existing.joined_on or values["joined_on"])
    links = post.get("dashboards") or []
    if existing is not None and existing.links:
        links = None
    jurisdiction, changed = save_jurisdiction(slug=slug, name=str(post.get("name", "")),
                                              state=str(post.get("state", "")), links=links, **values)
    rows = []
    for number, item in enumerate(post.get("metrics") or [], start=1):
        if not isinstance(item, dict):
            raise ValidationFailed("metrics", f"metrics item {number} must be a mapping")
        try:
            rows.append((number, metrics.clean_report(
                period_start=_as_date(item.get("period_start"), "period_start"),
                period_end=_as_date(item.get("period_end"), "period_end"), total=item.get("total"),
                diverted=item.get("diverted"), eligible=item.get("eligible"), source_url=item.get("source") or "",
                is_sample=bool(item.get("sample")))))
        except ValidationFailed as error:
            raise ValidationFailed("metrics", f"metrics item {number}: {error.message}") from error
    if rows:
        # Periods already reported (by anyone, the content included) are left as they are.
        stored = metrics.store_reports(jurisdiction, rows, actor=None, origin="content", correct=False)
        changed = changed or bool(stored.created)
    return changed


def load_jurisdictions(folder: Path, report: LoadReport) -> None:
    for path in sorted((folder / "jurisdictions").glob("*.md")):
        try:
            changed = _load_jurisdiction(_read(path), path)
        except ValidationFailed as error:
            report.errors.append(f"{path.name}: {error.field + ': ' if error.field else ''}{error.message}")
            return
        (report.created_or_updated if changed else report.unchanged).append(f"jurisdictions/{path.name}")


def load_programs(folder: Path, report: LoadReport) -> None:
    """A jurisdiction's programs, after the resources they link to; a program already there is left as it is."""
    for path in sorted((folder / "jurisdictions").glob("*.md")):
        post = _read(path)
        jurisdiction = get_jurisdiction(str(post.get("slug") or path.stem))
        created = []
        try:
            existing = {program.slug for program in programs.programs_of(jurisdiction)}
            for number, item in enumerate(post.get("programs") or [], start=1):
                if not isinstance(item, dict):
                    raise ValidationFailed("programs", f"programs item {number} must be a mapping")
                item = dict(item)
                slug = str(item.pop("slug", "") or "")
                if slug in existing:
                    continue
                values = {"name": item.get("name"), "model": item.get("model") or "other",
                          "agency": item.get("agency") or "", "launched_on": _as_date(item.get("launched"), "launched"),
                          "hours": item.get("hours") or "", "call_types": _as_list(item.get("call_types")),
                          "url": item.get("url") or "", "description": str(item.get("description") or "").strip(),
                          "sources": _as_list(item.get("sources"))}
                program, _ = programs.save_program(jurisdiction, actor=None, slug=slug,
                                                   resources=_as_list(item.get("resources")), **values)
                created.append(program.slug)
        except ValidationFailed as error:
            report.errors.append(f"{path.name}: programs: {error.message}")
            return
        (report.created_or_updated if created else report.unchanged).append(f"jurisdictions/{path.name} (programs)")


def _as_date(value, field_name: str):
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValidationFailed(field_name, f"{field_name} must be a date like 2024-01-31") from exc


def _as_list(value) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part) for part in value]


def _resource_fields(post, path: Path) -> dict:
    published = _as_date(post.get("published"), "published")
    return dict(
        title=str(post.get("title", "")), slug=str(post.get("slug") or path.stem), type=str(post.get("type", "")),
        summary=str(post.get("summary", "")).strip(), body=post.content, audiences=_as_list(post.get("audiences")),
        topics=_as_list(post.get("topics")), jurisdiction=post.get("jurisdiction") or None,
        external_url=str(post.get("external_url", "")), author=str(post.get("author", "")),
        access=str(post.get("access", "public")), members_until=_as_date(post.get("members_until"), "members_until"),
        is_featured=bool(post.get("featured", False)),
        published_at=datetime.combine(published, time(12, 0), timezone.utc) if published else None,
    )


def _sync_files(resource, post, path: Path) -> None:
    wanted = {}
    for name in _as_list(post.get("files")):
        file_path = (path.parent / name).resolve()
        if not file_path.is_file():
            raise ValidationFailed("files", f"file not found: {name}")
        wanted[file_path.name] = file_path.read_bytes()
    for attachment in list(resource.attachments):
        data = wanted.get(attachment.filename)
        # With `files:` in the front matter the folder is the truth: changed or dropped files go.
        dropped = data is None and "files" in post.metadata
        if dropped or (data is not None and hashlib.sha256(data).hexdigest() != attachment.sha256):
            remove_attachment(attachment, actor=None)
    for filename, data in wanted.items():
        # A command may wait: the text is extracted now (within the same limits), so the loaded content is
        # searchable without a worker, and a second load finds the same file and changes nothing.
        attach_file(resource, actor=None, filename=filename, data=data, extract_now=True)


def _sync_status(resource, status: str, published_at) -> None:
    if status not in STATUSES:
        raise ValidationFailed("status", f"status must be one of {', '.join(STATUSES)}")
    if resource.status == status:
        return
    action = {"draft": "unpublish", "review": "review", "published": "publish", "archived": "archive"}[status]
    change_status(resource, action=action, actor=None, publish_at=published_at)


def load_resources(folder: Path, report: LoadReport) -> None:
    for path in sorted((folder / "resources").glob("*.md")):
        try:
            post = _read(path)
            fields = _resource_fields(post, path)
            resource = get_resource_by_slug(fields["slug"])
            before = (resource.updated_at, resource.status, len(resource.attachments)) if resource else None
            if resource is None:
                resource = create_resource(actor=None, **fields)
            else:
                update_resource(resource, actor=None, **fields)
            _sync_files(resource, post, path)
            _sync_status(resource, str(post.get("status", "published")), fields["published_at"])
            changed = before != (resource.updated_at, resource.status, len(resource.attachments))
        except ValidationFailed as error:
            report.errors.append(f"{path.name}: {error.message}")
            return
        (report.created_or_updated if changed else report.unchanged).append(f"resources/{path.name}")


def load_series(folder: Path, report: LoadReport) -> None:
    for path in sorted((folder / "events" / "series").glob("*.md")):
        name = f"events/series/{path.name}"
        try:
            post = _read(path)
            _, changed = events.save_series(slug=str(post.get("slug") or path.stem), title=str(post.get("title", "")),
                                            summary=post.content)
        except ValidationFailed as error:
            report.errors.append(f"{name}: {error.message}")
            return
        (report.created_or_updated if changed else report.unchanged).append(name)


EVENT_KEYS = {"title", "slug", "series", "starts", "ends", "timezone", "capacity", "registration", "opens", "closes",
              "join_url", "recording_url", "slides", "resources", "status", "audiences", "topics", "speakers"}
# The service's field names as the front matter spells them, so an error names the key to fix.
FRONT_MATTER_NAMES = {"starts_at": "starts", "ends_at": "ends", "registration_opens_at": "opens",
                      "registration_closes_at": "closes", "slides_id": "slides"}
# Reserved for examples (RFC 2606): the default content has no real recording or joining addresses.
EXAMPLE_HOSTS = ("example.org", "example.com", "example.net")


def _local_time(post, key: str, zone: str, *, required: bool = False):
    """A local wall time in `zone` (`2027-02-10T13:00:00`, no offset: `timezone` says where) as aware UTC."""
    value = post.get(key)
    if value in (None, ""):
        if required:
            raise ValidationFailed(key, "required: a local time like 2027-02-10T13:00:00")
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValidationFailed(key, "give a local time like 2027-02-10T13:00:00") from exc
    if not isinstance(value, datetime):  # YAML reads a bare date as a date
        raise ValidationFailed(key, "give a time of day too, like 2027-02-10T13:00:00")
    if value.tzinfo is not None:
        raise ValidationFailed(key, "give the local time without an offset: timezone says which zone")
    utc = events.local_to_utc(value, zone)
    # A time skipped when the clocks go forward would silently become another hour.
    if utc.astimezone(ZoneInfo(zone)).replace(tzinfo=None) != value:
        raise ValidationFailed(key, f"{value:%Y-%m-%d %H:%M} does not exist in {zone} (the clocks change)")
    return utc


def _address(post, key: str, stored: str) -> str | None:
    """The address to save, or None to keep the stored one. Staff add the real joining and recording addresses on
    the site: a load fills an empty one or replaces an example one, and never overwrites an address staff set."""
    wanted = str(post.get(key) or "").strip()
    if not wanted or (stored and not is_example_address(stored)):
        return None
    return wanted


def is_example_address(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return any(host == name or host.endswith("." + name) for name in EXAMPLE_HOSTS)


def _event_fields(post, path: Path, event) -> dict:
    unknown = sorted(set(post.metadata) - EVENT_KEYS)
    if unknown:
        raise ValidationFailed(None, f"unknown front matter {', '.join(unknown)} "
                                     f"(known: {', '.join(sorted(EVENT_KEYS))})")
    if not post.get("timezone"):
        raise ValidationFailed("timezone", "required: an IANA name like America/Chicago")
    zone = events.check_timezone(str(post["timezone"]))
    speakers = post.get("speakers") or []
    if not isinstance(speakers, list):
        raise ValidationFailed("speakers", "speakers must be a list of {name, title, organisation}")
    fields = dict(
        title=str(post.get("title", "")), slug=str(post.get("slug") or path.stem), series=post.get("series") or None,
        description=post.content, starts_at=_local_time(post, "starts", zone, required=True),
        ends_at=_local_time(post, "ends", zone, required=True), timezone=zone,
        registration_opens_at=_local_time(post, "opens", zone),
        registration_closes_at=_local_time(post, "closes", zone),
        capacity=post.get("capacity"), registration=str(post.get("registration") or "members"),
        slides=post.get("slides") or None, resources=_as_list(post.get("resources")),
        audiences=_as_list(post.get("audiences")), topics=_as_list(post.get("topics")), speakers=speakers,
    )
    for key in ("join_url", "recording_url"):
        address = _address(post, key, getattr(event, key) if event else "")
        if address is not None:
            fields[key] = address
    return fields


def _event_state(event) -> tuple:
    return (*(getattr(event, key) for key in events.EDITABLE), [link.resource_id for link in event.resource_links],
            event.status)


def _load_event(post, path: Path) -> bool:
    """Create or update the event from its file; True when anything changed."""
    status = str(post.get("status") or "scheduled")
    if status not in ("scheduled", "cancelled"):
        raise ValidationFailed("status", "status must be scheduled or cancelled")
    slug = str(post.get("slug") or path.stem)
    event = events.get_event(slug)
    fields = _event_fields(post, path, event)
    if event is None:
        event, before = events.create_event(actor=None, **fields), None
    else:
        before = _event_state(event)
        events.update_event(event, actor=None, **fields)
    # A cancellation stands: its registrants were told, so a file saying "scheduled" does not reopen the event.
    if status == "cancelled":
        events.cancel_event(event, actor=None)
    return before != _event_state(event)


def load_events(folder: Path, report: LoadReport) -> None:
    for path in sorted((folder / "events").glob("*.md")):
        name = f"events/{path.name}"
        try:
            post = _read(path)
            changed = _load_event(post, path)
        except ValidationFailed as error:
            key = FRONT_MATTER_NAMES.get(error.field, error.field)
            report.errors.append(f"{name}: {key + ': ' if key else ''}{error.message}")
            return
        (report.created_or_updated if changed else report.unchanged).append(name)


# Each loader takes the content folder, in dependency order (resources name jurisdictions, programs name
# resources; events name series and resources), and stops at its first file with an error.
LOADERS = [load_pages, load_jurisdictions, load_resources, load_programs, load_series, load_events]


def load_content(folder: Path) -> LoadReport:
    """Load every file in one unit of work: all of it is saved, or (at the first file with an error, which
    the report names) none of it, and nothing is indexed."""
    if not folder.is_dir():
        raise ValidationFailed(None, f"{folder} is not a folder")
    report = LoadReport()
    with uow.unit_of_work():
        for loader in LOADERS:
            loader(folder, report)
            if report.errors:
                uow.rollback()
                report.created_or_updated.clear()
                report.unchanged.clear()
                return report
    return report
