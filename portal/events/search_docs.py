"""What the webinar series puts in the search index: past webinars with a recording, found by the library search.

An event is indexed once it has ended, if it was not cancelled and has a recording: the library lists it
as a "webinar" among its resources. One that ends later is not in the index before (`flask search sync`,
run every minute, adds it when it has ended, as it does for scheduled resources). Everything indexed is
public text (title, description, speakers); the join link is for people holding a seat and is never read
here.
"""
import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from portal import search, uow
from portal.events.models import Event
from portal.extensions import db
from portal.markdown import markdown_to_text

log = logging.getLogger(__name__)

KIND = "event"
WEBINAR = "webinar"  # the value of the library's type facet for every event
SUMMARY_CHARS = 400
# An event ending within this margin is indexed at once rather than by the next sync (as the library's
# DUE_MARGIN); the search page still loads only events that have ended.
DUE_MARGIN = timedelta(seconds=5)
_HEADING = re.compile(r"^\s{0,3}#")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def _candidates():
    # Every event that may be indexed some day: document() leaves out the ones that have not ended.
    return (Event.status == "scheduled", Event.recording_url != "")


def _due(now: datetime):
    return (*_candidates(), Event.ends_at <= now + DUE_MARGIN)


def is_indexed(event: Event, now: datetime) -> bool:
    """Past, not cancelled, with a recording: what the library lists."""
    return not event.is_cancelled and bool(event.recording_url) and event.ends_at <= now + DUE_MARGIN


def summary_of(event: Event) -> str:
    """The description's first paragraph as plain text (a heading before it is skipped), shortened."""
    blocks = [b for b in _BLANK_LINE.split(event.description or "") if b.strip() and not _HEADING.match(b)]
    text = " ".join(markdown_to_text(blocks[0]).split()) if blocks else ""
    if len(text) > SUMMARY_CHARS:
        text = text[:SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"
    return text


def _speakers_text(event: Event) -> str:
    return "\n\n".join(", ".join(part for part in (s.get("name"), s.get("organisation")) if part)
                       for s in event.speakers or [])


# The indexing queries need no related rows: the document reads the event's own columns only.
def _only_the_event():
    # Built when first used: options made at import time would configure the mappers before every model
    # module is imported.
    return lazyload(Event.series), lazyload(Event.slides), lazyload(Event.resource_links)


def _rows(batch: int = 500):
    query = (select(Event).where(*_candidates()).options(*_only_the_event()).order_by(Event.id)
             .execution_options(yield_per=batch))
    return db.session.scalars(query)


def _rows_by_id(ids):
    return db.session.scalars(select(Event).where(Event.id.in_(list(ids))).options(*_only_the_event())).all()


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Event).where(*_candidates()))


def _document(event: Event, now: datetime) -> search.Document | None:
    if not is_indexed(event, now):
        return None
    description = markdown_to_text(event.description)
    speakers = _speakers_text(event)
    summary = summary_of(event)
    # Never event.join_url: the index feeds public pages, snippets and suggestions.
    return search.Document(
        id=event.id,
        title=event.title,
        summary=summary,
        body="\n\n".join(part for part in (description, speakers) if part),
        spell=f"{event.title} {summary} {' '.join(event.topics or [])}",
        facets={"type": WEBINAR, "audience": event.audiences or [], "topic": event.topics or [],
                "year": str(event.starts_at.year)},
        published=event.starts_at,
        sort_title=event.title,
        version=search.version_of(event.updated_at, False),
    )


def _versions(now: datetime):
    for row in db.session.execute(select(Event.id, Event.updated_at).where(*_due(now))):
        yield row.id, search.version_of(row.updated_at, False)


def _restricted_ids(ids, now: datetime) -> set[int]:
    return set()  # an event's indexed text is all public


EVENTS = search.register(search.DocumentKind(
    name=KIND,
    # Declared as the library declares them, so the library's facets count webinars too.
    facets=(search.Facet("type"), search.Facet("audience", multiple=True),
            search.Facet("topic", multiple=True, lowercase=True), search.Facet("year")),
    rows=_rows,
    rows_by_id=_rows_by_id,
    document=_document,
    versions=_versions,
    restricted_ids=_restricted_ids,
    count=_count,
))


def listed_events(ids: Sequence[int], now: datetime) -> dict[int, Event]:
    """Of these events, the ones the database says are listed now (a stale index may hold one cancelled or
    stripped of its recording since), by id, with their series (for the result cards)."""
    if not ids:
        return {}
    query = (select(Event).where(Event.id.in_(list(ids)), *_candidates(), Event.ends_at <= now)
             .options(lazyload(Event.slides), lazyload(Event.resource_links)))
    return {event.id: event for event in db.session.scalars(query)}


def _reindex_now(events) -> None:
    """The index follows the database; a failure here leaves it stale, and `flask search sync` repairs it."""
    try:
        search.index_rows(EVENTS, events)
    except Exception:  # the rows are committed: whatever the index did, the request must not fail now
        log.exception("search index not updated; run `flask search sync`")


def reindex(event: Event) -> None:
    """Bring this event's search document in line once the unit of work commits (one index write for every
    event the unit touched)."""
    uow.collect("events.reindex", event, _reindex_now)
