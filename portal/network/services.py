"""The member directory: saving a profile, listing the opted-in ones with filters and counts, export."""
from collections import Counter
from dataclasses import dataclass, field
from math import ceil

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from portal import search, uow
from portal.audit.services import record_event
from portal.exceptions import NotAllowed, ValidationFailed
from portal.extensions import db
from portal.jurisdictions.models import PROGRAM_MODELS, Jurisdiction, Program
from portal.jurisdictions.services import get_jurisdiction
from portal.members.models import SECTORS, Member
from portal.network import search_docs
from portal.network.models import NetworkProfile, only_listed, profile_programs
from portal.security import allows
from portal.text import clean_line, clean_topics

MAX_BIO = 2000
MAX_PROGRAMS = 10
PER_PAGE = 20
FILTERS = ("sector", "jurisdiction", "model", "topic")
MAX_MATCHES = 5000  # search hits taken before the filters: more than any directory this network will hold


def profile_of(member: Member) -> NetworkProfile | None:
    return db.session.scalar(select(NetworkProfile).where(NetworkProfile.member_id == member.id))


def profile_form_data(member: Member) -> dict:
    """The form's values: the saved profile, or a first draft from the account's own profile."""
    profile = profile_of(member)
    source = profile if profile is not None else member  # the fields both have share their names
    data = {"title": source.title, "organisation": source.organisation, "sector": source.sector,
            "jurisdiction": source.jurisdiction.slug if source.jurisdiction else ""}
    if profile is None:
        return {**data, "display_name": member.name, "programs": [], "topics": [], "bio": "", "is_listed": False,
                "is_open_to_contact": False}
    return {**data, "display_name": profile.display_name, "programs": [str(p.id) for p in profile.programs],
            "topics": list(profile.topics or []), "bio": profile.bio, "is_listed": profile.is_listed,
            "is_open_to_contact": profile.is_open_to_contact}


def program_choices() -> list[Program]:
    """Every program a profile may name, by name, with its jurisdiction (one query)."""
    return list(db.session.scalars(select(Program).options(joinedload(Program.jurisdiction)).order_by(Program.name)))


def _programs(ids) -> list[Program]:
    try:
        wanted = {int(i) for i in ids or []}
    except (TypeError, ValueError):
        raise ValidationFailed("programs", "Choose programs from the list.") from None
    if len(wanted) > MAX_PROGRAMS:
        raise ValidationFailed("programs", f"Choose at most {MAX_PROGRAMS} programs.")
    found = list(db.session.scalars(select(Program).where(Program.id.in_(wanted)))) if wanted else []
    if len(found) != len(wanted):
        raise ValidationFailed("programs", "Choose programs from the list.")
    return found


def save_profile(member: Member, *, is_listed: bool, display_name: str, title: str = "", organisation: str = "",
                 sector: str = "other", jurisdiction: str | None = None, programs=(), topics=(),
                 bio: str = "", is_open_to_contact: bool = False) -> NetworkProfile:
    """Create or replace the member's directory profile. Listing needs a confirmed address: the directory is
    for people the network can trust to be who they say."""
    if not member.is_verified:
        raise NotAllowed("Confirm your email address before joining the member directory.")
    values = {
        "display_name": clean_line(display_name, field="display_name", label="the name to show", max_length=120,
                                   required=True),
        "title": clean_line(title, field="title", label="your role or title", max_length=120),
        "organisation": clean_line(organisation, field="organisation", label="your organisation", max_length=200),
        "topics": clean_topics(topics),
        "bio": (bio or "").strip(),
        "is_listed": bool(is_listed),
        "is_open_to_contact": bool(is_open_to_contact),
    }
    if sector not in SECTORS:
        raise ValidationFailed("sector", "Choose a sector from the list.")
    values["sector"] = sector
    if len(values["bio"]) > MAX_BIO:
        raise ValidationFailed("bio", f"Use at most {MAX_BIO} characters for the bio.")
    place = get_jurisdiction(jurisdiction) if jurisdiction else None
    if jurisdiction and place is None:
        raise ValidationFailed("jurisdiction", "Choose a jurisdiction from the list.")
    values["jurisdiction_id"] = place.id if place else None
    chosen = _programs(programs)
    profile = profile_of(member)
    was_listed = profile is not None and profile.is_listed
    if profile is None:
        profile = NetworkProfile(member_id=member.id)
        db.session.add(profile)
    for name, value in values.items():
        setattr(profile, name, value)
    profile.programs = chosen
    db.session.flush()
    search_docs.reindex(profile)  # listed, changed or unlisted: the index follows at the commit
    if was_listed != profile.is_listed:
        record_event(actor=member, action="network.listed" if profile.is_listed else "network.unlisted",
                     subject=f"member #{member.id}")
    return profile


SUSPENDED = ("Staff have suspended your access to the member directory. Write to the site's staff (see the "
             "contact page) if you think this is a mistake.")


def suspended_notice(own: NetworkProfile | None) -> str | None:
    """Why the member whose profile this is (None: they have none) may not use the directory, if staff
    suspended their access."""
    return SUSPENDED if own is not None and own.suspended_at is not None else None


def reads_directory(user) -> bool:
    """May this visitor read listings (the directory, city pages' people): a verified member whose directory
    access staff have not suspended."""
    return allows(user, "verified") and suspended_notice(profile_of(user)) is None


def get_listed_profile(profile_id: int) -> NetworkProfile | None:
    return db.session.scalar(only_listed(select(NetworkProfile)).where(NetworkProfile.id == profile_id))


@dataclass
class Directory:
    """One page of the directory under the filters, the total, and each filter's values with counts (under
    the other filters, so choosing one sector keeps the others in view)."""

    profiles: list[NetworkProfile]
    total: int
    page: int
    pages: int
    counts: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)  # name -> (value, label, n)
    error: str | None = None  # the words could not be searched (and why)

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1


def _with_programs():
    """A profile as a card shows it: its programs, each with its jurisdiction, in two queries for the page.
    Built when used: an option made at import time would configure the mappers before every model is imported."""
    return selectinload(NetworkProfile.programs).selectinload(Program.jurisdiction)


def _ranked(q: str) -> tuple[dict[int, int] | None, str | None]:
    """Profile id -> rank for the words (None: no words given), or the reason they could not be searched."""
    if search.clean_query(q) in ("", "*"):
        return None, None
    try:
        ids, error = search_docs.matching_ids(q, limit=MAX_MATCHES)
    except search.SearchUnavailable:
        return {}, "Searching by name is not available just now; the filters still work."
    return {profile_id: rank for rank, profile_id in enumerate(ids)}, error


def list_directory(*, q: str = "", filters: dict[str, str] | None = None, page: int = 1,
                   per_page: int = PER_PAGE) -> Directory:
    """The listed profiles matching the words (name, role, organisation, topics and bio, through the search
    index, best first) and every filter (by name when no words are given). Three queries whatever the
    directory's size: the facet columns of every listed profile, their programs' models, and the page's."""
    filters = {name: value for name, value in (filters or {}).items() if name in FILTERS and value}
    ranks, error = _ranked(q)
    rows = db.session.execute(only_listed(
        select(NetworkProfile.id, NetworkProfile.display_name, NetworkProfile.sector, NetworkProfile.topics,
               Jurisdiction.slug, Jurisdiction.name)
        .outerjoin(Jurisdiction, Jurisdiction.id == NetworkProfile.jurisdiction_id))).all()
    if ranks is not None:  # the database has the last word: an id the index still holds may be unlisted now
        rows = [row for row in rows if row.id in ranks]
    models: dict[int, set[str]] = {}
    for profile_id, model in db.session.execute(
            select(profile_programs.c.profile_id, Program.model)
            .join(Program, Program.id == profile_programs.c.program_id)
            .where(profile_programs.c.profile_id.in_([row.id for row in rows]))):
        models.setdefault(profile_id, set()).add(model)
    values = {row.id: {"sector": {row.sector}, "jurisdiction": {row.slug} if row.slug else set(),
                       "model": models.get(row.id, set()), "topic": set(row.topics or [])} for row in rows}
    labels = {"sector": dict(SECTORS), "model": dict(PROGRAM_MODELS),
              "jurisdiction": {row.slug: row.name for row in rows if row.slug}}

    def matches(profile_id: int, skip: str | None = None) -> bool:
        return all(value in values[profile_id][name] for name, value in filters.items() if name != skip)

    counts = {}
    for name in FILTERS:
        counted = Counter(value for row in rows if matches(row.id, skip=name) for value in values[row.id][name])
        counts[name] = sorted(((value, labels.get(name, {}).get(value, value), n) for value, n in counted.items()),
                              key=lambda item: (-item[2], item[1]))
    chosen = sorted((row for row in rows if matches(row.id)),
                    key=(lambda row: ranks[row.id]) if ranks else (lambda row: (row.display_name.casefold(), row.id)))
    pages = max(1, ceil(len(chosen) / per_page))
    page = max(1, min(page, pages))
    ids = [row.id for row in chosen[(page - 1) * per_page:page * per_page]]
    loaded = {profile.id: profile for profile in db.session.scalars(
        select(NetworkProfile).where(NetworkProfile.id.in_(ids)).options(_with_programs()))}
    return Directory([loaded[i] for i in ids if i in loaded], len(chosen), page, pages, counts, error)


def forget_member(member: Member) -> None:
    """The member's account is being deleted: their profile leaves the index once the deletion commits."""
    profile = profile_of(member)
    if profile is not None:
        profile_id = profile.id
        uow.after_commit(lambda: search.remove_ids(search_docs.PROFILES, [profile_id]))


def export_profile(member: Member) -> dict | None:
    profile = profile_of(member)
    if profile is None:
        return None
    return {"is_listed": profile.is_listed, "display_name": profile.display_name, "title": profile.title,
            "organisation": profile.organisation, "sector": profile.sector,
            "jurisdiction": profile.jurisdiction.label if profile.jurisdiction else None,
            "programs": [f"{p.name} ({p.jurisdiction.label})" for p in profile.programs],
            "topics": list(profile.topics or []), "bio": profile.bio,
            "is_open_to_contact": profile.is_open_to_contact,
            "updated_at": profile.updated_at.isoformat() if profile.updated_at else None}


def people_of(jurisdiction: Jurisdiction) -> list[NetworkProfile]:
    """The listed profiles of people working in this jurisdiction or on one of its programs, by name."""
    on_its_programs = (select(profile_programs.c.profile_id)
                       .join(Program, Program.id == profile_programs.c.program_id)
                       .where(Program.jurisdiction_id == jurisdiction.id))
    query = (only_listed(select(NetworkProfile))
             .where((NetworkProfile.jurisdiction_id == jurisdiction.id) | NetworkProfile.id.in_(on_its_programs))
             .options(_with_programs()).order_by(NetworkProfile.display_name, NetworkProfile.id))
    return list(db.session.scalars(query))
