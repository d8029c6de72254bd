"""What each public page shows, as one aggregate query: the validators behind its ETag (portal/http_cache.py).

A validator must change whenever the page an anonymous visitor gets would change:
- an edit: `updated_at` of every table the page reads (resources, jurisdictions, pages), and row counts;
- time: the next moment a scheduled resource becomes visible and the next day a members-only resource
  opens to everyone are part of the validator, so it changes when that moment passes;
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
_PAGE = "(SELECT updated_at FROM pages WHERE slug = :page) AS page"
_DATES = {"now": UTCDateTime(), "today": Date()}
_RESULTS = {"updated": UTCDateTime(), "newest": UTCDateTime(), "scheduled": UTCDateTime(), "opens": Date(),
            "jurisdictions_updated": UTCDateTime(), "page": UTCDateTime(), "resource_updated": UTCDateTime(),
            "published_at": UTCDateTime(), "members_until": Date(), "jurisdiction_updated": UTCDateTime()}


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
    row = _row(f"SELECT {_LIBRARY}, {_JURISDICTIONS}, {_PAGE}", page="home", **_dates(now))
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


@validates("library.feed", "public.sitemap")
def library_listing(view_args: dict, now: datetime) -> Validator:
    row = _row(f"SELECT {_LIBRARY}", **_dates(now))
    # The feed's entries carry their published and updated dates: the newest of both is the feed's date.
    return Validator((*row, now.date(), _bucket(now, SAFETY_SECONDS)), last_modified=_newest(row.updated, row.newest))


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


@validates("public.robots")
def robots(view_args: dict, now: datetime) -> Validator:
    return Validator(())
