"""What each public page shows, as one aggregate query: the validators behind its ETag (portal/http_cache.py).

A validator must change whenever the page an anonymous visitor gets would change:
- an edit: `updated_at` of every table the page reads (resources, jurisdictions, pages, events, series,
  registrations), and row counts;
- time: the next moment a scheduled resource becomes visible, the next day a members-only resource
  opens to everyone, and the next start, end or registration window of an event are part of the
  validator, so it changes when that moment passes;
- anything a page shows that is not listed here (a later feature on the home page): the minute, so such
  a change shows within SAFETY_SECONDS; for search pages also the index's generation, and a shorter bucket
  (INDEX_SECONDS) for the moment between a commit and its index update.
The pages with a validator are listed at the bottom; any other page is rendered on every request.
"""
from datetime import datetime
from functools import lru_cache

from flask import request
from sqlalchemy import Date, bindparam, text

from portal import search
from portal.database import UTCDateTime
from portal.extensions import db
from portal.http_cache import Validator, validates

SAFETY_SECONDS = 60
# A search read between a commit and its index update must not be kept for long under the new validator.
INDEX_SECONDS = 20


def _bucket(now: datetime, seconds: int) -> int:
    return int(now.timestamp()) // seconds


# Plain SQL, one statement per page: it runs on every anonymous request, and SQLAlchemy's expression
# building and cache-key walk cost more than the query itself (a few ms against 0.1 ms for the SQL).
_LIBRARY = ("(SELECT count(*) FROM resources) AS resources, "
            "(SELECT max(updated_at) FROM resources) AS updated, "
            "(SELECT max(published_at) FROM resources WHERE status = 'published' AND published_at <= :now) "
            "AS newest, "
            "(SELECT min(published_at) FROM resources WHERE status = 'published' AND published_at > :now) "
            "AS scheduled, "
            "(SELECT min(members_until) FROM resources WHERE access = 'members' AND members_until > :today) "
            "AS opens")
_JURISDICTIONS = ("(SELECT count(*) FROM jurisdictions) AS jurisdictions, "
                  "(SELECT max(updated_at) FROM jurisdictions) AS jurisdictions_updated")
# What a jurisdiction's page shows besides its own row (whose updated_at follows every figure: a metric write
# stamps it): programs and the resources linked to them, dashboard links (replaced as a whole, with new ids),
# every report (counted, newest change), representatives and their names.
_JURISDICTION_PAGES = ("(SELECT count(*) FROM programs) AS programs, "
                       "(SELECT max(updated_at) FROM programs) AS programs_updated, "
                       "(SELECT count(*) FROM program_resources) AS program_links, "
                       "(SELECT coalesce(sum(resource_id), 0) FROM program_resources) AS program_link_sum, "
                       "(SELECT count(*) FROM jurisdiction_links) AS links, "
                       "(SELECT max(id) FROM jurisdiction_links) AS last_link, "
                       "(SELECT count(*) FROM metric_reports) AS reports, "
                       "(SELECT max(updated_at) FROM metric_reports) AS reports_updated, "
                       "(SELECT count(*) FROM representatives WHERE status = 'approved') AS representatives, "
                       "(SELECT max(decided_at) FROM representatives) AS representatives_decided, "
                       "(SELECT max(m.updated_at) FROM members m JOIN representatives r ON r.member_id = m.id) "
                       "AS representatives_updated")
_PAGE = "(SELECT updated_at FROM pages WHERE slug = :page) AS page"
# The events pages: any edit or cancellation (updated_at, count), and the next moment anything an event shows
# turns over: a start (registration closes, the home page moves on), an end (upcoming becomes past), a
# registration window opening or closing.
_EVENTS = ("(SELECT count(*) FROM events) AS events, "
           "(SELECT max(updated_at) FROM events) AS events_updated, "
           "(SELECT min(starts_at) FROM events WHERE starts_at > :now) AS next_start, "
           "(SELECT min(ends_at) FROM events WHERE ends_at > :now) AS next_end, "
           "(SELECT min(registration_opens_at) FROM events WHERE registration_opens_at > :now) AS next_opening, "
           "(SELECT min(registration_closes_at) FROM events WHERE registration_closes_at > :now) AS next_closing")
_SERIES = ("(SELECT count(*) FROM event_series) AS series, "
           "(SELECT max(updated_at) FROM event_series) AS series_updated")
# Seats left: taking a seat leaves the event's updated_at alone (events.services._take_seat), but every
# registration row is written (created, or its status moved with a new updated_at) and a deleted account
# deletes its rows, so the count and the newest update follow every change of a seat count.
_SEATS = ("(SELECT count(*) FROM event_registrations) AS registrations, "
          "(SELECT max(updated_at) FROM event_registrations) AS registrations_updated")
_DATES = {"now": UTCDateTime(), "today": Date()}
_RESULTS = {"updated": UTCDateTime(), "newest": UTCDateTime(), "scheduled": UTCDateTime(), "opens": Date(),
            "jurisdictions_updated": UTCDateTime(), "page": UTCDateTime(), "resource_updated": UTCDateTime(),
            "published_at": UTCDateTime(), "members_until": Date(), "jurisdiction_updated": UTCDateTime(),
            "events_updated": UTCDateTime(), "next_start": UTCDateTime(), "next_end": UTCDateTime(),
            "next_opening": UTCDateTime(), "next_closing": UTCDateTime(), "series_updated": UTCDateTime(),
            "registrations_updated": UTCDateTime(), "event_updated": UTCDateTime(), "starts_at": UTCDateTime(),
            "ends_at": UTCDateTime(), "opening_at": UTCDateTime(), "closing_at": UTCDateTime(),
            "own_series_updated": UTCDateTime(), "linked_updated": UTCDateTime(),
            "event_seats_updated": UTCDateTime(), "programs_updated": UTCDateTime(),
            "reports_updated": UTCDateTime(), "representatives_decided": UTCDateTime(),
            "representatives_updated": UTCDateTime()}


@lru_cache(maxsize=None)
def _statement(sql: str):
    # The dates go in and come out through the column type that stores them (UTC, aware), on SQLite too.
    statement = text(sql).bindparams(*(bindparam(name, type_=kind) for name, kind in _DATES.items()
                                       if f":{name}" in sql))
    return statement.columns(**{name: kind for name, kind in _RESULTS.items() if f" AS {name}" in sql})


def _row(sql: str, **params):
    return db.session.execute(_statement(sql), params).one_or_none()


def _dates(now: datetime) -> dict:
    return {"now": now, "today": now.date()}


def _newest(*moments) -> datetime | None:
    dated = [m for m in moments if isinstance(m, datetime)]
    return max(dated, default=None)


@validates("public.home")
def home(view_args: dict, now: datetime) -> Validator:
    # The next events: which three come next changes with an edit, a new event or a start (next_start); their
    # cards show the seats left.
    row = _row(f"SELECT {_LIBRARY}, {_JURISDICTIONS}, {_PAGE}, {_EVENTS}, {_SERIES}, {_SEATS}", page="home",
               **_dates(now))
    return Validator((*row, now.date(), _bucket(now, SAFETY_SECONDS)))


@validates("public.about", "public.terms", "public.privacy")
def static_page(view_args: dict, now: datetime) -> Validator:
    (updated,) = _row(f"SELECT {_PAGE}", page=request.endpoint.rsplit(".", 1)[1])  # public.about: "about"
    return Validator((updated, _bucket(now, SAFETY_SECONDS)), last_modified=updated)


@validates("library.search", "library.search_feed")
def library_search(view_args: dict, now: datetime) -> Validator:
    row = _row(f"SELECT {_LIBRARY}, {_JURISDICTIONS}", **_dates(now))
    # The index generation: a document the minutely sync adds (newly due, newly public) changes the results
    # without any row changing.
    return Validator((*row, search.generation(), now.date(), _bucket(now, INDEX_SECONDS)))


@validates("library.feed")
def library_listing(view_args: dict, now: datetime) -> Validator:
    row = _row(f"SELECT {_LIBRARY}", **_dates(now))
    # The feed's entries carry their published and updated dates: the newest of both is the feed's date.
    return Validator((*row, now.date(), _bucket(now, SAFETY_SECONDS)), last_modified=_newest(row.updated, row.newest))


@validates("public.sitemap")
def sitemap(view_args: dict, now: datetime) -> Validator:
    # The library's pages, every event and series page (an event added, cancelled or renamed), every
    # jurisdiction's page.
    row = _row(f"SELECT {_LIBRARY}, {_EVENTS}, {_SERIES}, {_JURISDICTIONS}", **_dates(now))
    return Validator((*row, now.date(), _bucket(now, SAFETY_SECONDS)),
                     last_modified=_newest(row.updated, row.newest, row.events_updated, row.series_updated))


@validates("events.index", "events.series", "events.feed_ics")
def event_listing(view_args: dict, now: datetime) -> Validator:
    """The list, a series page and the public feed: any event, series or seat count. A series page is
    validated by every event, not only its own: one query for all of them, and a change elsewhere only costs
    a render."""
    row = _row(f"SELECT {_EVENTS}, {_SERIES}, {_SEATS}", **_dates(now))
    return Validator((*row, now.date(), _bucket(now, SAFETY_SECONDS)))


_EVENT = ("SELECT e.id, e.updated_at AS event_updated, e.status, e.sequence, e.registered_count, "
          "e.starts_at AS starts_at, e.ends_at AS ends_at, e.registration_opens_at AS opening_at, "
          "e.registration_closes_at AS closing_at, "
          "(SELECT count(*) FROM event_registrations g WHERE g.event_id = e.id) AS event_registrations, "
          "(SELECT max(g.updated_at) FROM event_registrations g WHERE g.event_id = e.id) AS event_seats_updated, "
          "(SELECT s.updated_at FROM event_series s WHERE s.id = e.series_id) AS own_series_updated, "
          # Slides and related resources: the links are replaced as a whole (new ids) when they change.
          "(SELECT count(*) FROM event_resources l WHERE l.event_id = e.id) AS links, "
          "(SELECT max(l.id) FROM event_resources l WHERE l.event_id = e.id) AS last_link, "
          "(SELECT max(r.updated_at) FROM resources r WHERE r.id = e.slides_id "
          "OR r.id IN (SELECT l.resource_id FROM event_resources l WHERE l.event_id = e.id)) AS linked_updated "
          "FROM events e WHERE e.slug = :slug")


@validates("events.detail", "events.event_ics")
def event_page(view_args: dict, now: datetime) -> Validator | None:
    """One event as an anonymous visitor reads it (signed-in readers are never validated: their page shows
    their own place, and for a seat holder the join link)."""
    row = _row(_EVENT, slug=str(view_args.get("slug", "")))
    if row is None:
        return None  # the view answers 404
    # Where the event stands now: registration not yet open, open, closed, started, ended.
    moments = tuple(moment is not None and moment <= now
                    for moment in (row.opening_at, row.closing_at, row.starts_at, row.ends_at))
    # No Last-Modified: a seat taken or a moment passed changes the page without changing any date in the row.
    return Validator((*row, *moments, now.date(), _bucket(now, SAFETY_SECONDS)))


_RESOURCE = ("SELECT r.id, r.updated_at AS resource_updated, r.status, r.published_at AS published_at, r.access, "
             "r.members_until AS members_until, "
             "(SELECT count(*) FROM attachments a WHERE a.resource_id = r.id) AS files, "
             "(SELECT max(a.id) FROM attachments a WHERE a.resource_id = r.id) AS newest_file, "
             "(SELECT j.updated_at FROM jurisdictions j WHERE j.id = r.jurisdiction_id) AS jurisdiction_updated "
             "FROM resources r WHERE r.slug = :slug")


@validates("library.detail")
def resource_page(view_args: dict, now: datetime) -> Validator | None:
    row = _row(_RESOURCE, slug=str(view_args.get("slug", "")))
    if row is None or row.status != "published" or row.published_at is None or row.published_at > now:
        return None  # not visible: the view answers 404 (or shows staff a preview)
    return Validator((*row, row.members_until is not None and row.members_until > now.date(),
                      _bucket(now, SAFETY_SECONDS)),
                     last_modified=_newest(row.resource_updated, row.published_at, row.jurisdiction_updated))


@validates("jurisdictions.index", "jurisdictions.show", "jurisdictions.metrics_csv", "jurisdictions.all_metrics_csv",
           "initiative.index", "api_v1.progress", "api_v1.jurisdictions", "api_v1.jurisdiction", "api_v1.programs",
           "api_v1.MetricReports")
def jurisdiction_pages(view_args: dict, now: datetime) -> Validator:
    """Every jurisdiction page from one statement: a change to any jurisdiction re-renders them all, which
    costs a render; the resources and webinars listed on a page come with the library's and events' parts.
    The API's reads show the same rows (a write through the API changes them, so the next read is fresh)."""
    row = _row(f"SELECT {_JURISDICTIONS}, {_JURISDICTION_PAGES}, {_LIBRARY}, {_EVENTS}", **_dates(now))
    return Validator((*row, now.date(), _bucket(now, SAFETY_SECONDS)))


@validates("public.robots")
def robots(view_args: dict, now: datetime) -> Validator:
    return Validator(())
