"""What the library puts in the search index, and who may read it.

A published resource is indexed once its publish time has come (scheduled ones are not in the index
before: `flask search sync`, run every minute, adds them when due). Its title, summary and topics are
public; its body and its files' text go in the public `body` field, or, while the resource is
members-only, in the `restricted` field that only members with a confirmed email search. Early access
ends by date: the document's version records whether it was indexed as members-only, so sync re-indexes
it as public on the day.

The library's search also lists past webinars with a recording (`portal/events/search_docs.py`, the "event"
kind, whose facets are declared as these), as the "webinar" type; its feeds and alerts stay resources only.
"""
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal import search
from portal.events import search_docs as event_docs
from portal.extensions import db
from portal.library.models import Resource, members_only_now
from portal.markdown import markdown_to_text

KIND = "resource"
WITH_WEBINARS = (KIND, event_docs.KIND)  # what the library's search page lists
FACET_NAMES = ("type", "audience", "topic", "jurisdiction", "year")
# A resource due within this margin is indexed at once rather than by the next sync (a "publish now" a
# moment ahead, clocks of two hosts); the engine's query-time check still hides it until its moment.
DUE_MARGIN = timedelta(seconds=5)


def _due(now: datetime):
    return (Resource.status == "published", Resource.published_at.is_not(None),
            Resource.published_at <= now + DUE_MARGIN)


def _candidates():
    # Every published row, due or not: document() leaves out the ones whose time has not come.
    return (Resource.status == "published", Resource.published_at.is_not(None))


def _rows(batch: int = 500):
    query = (select(Resource).where(*_candidates()).options(selectinload(Resource.attachments))
             .order_by(Resource.id).execution_options(yield_per=batch))
    return db.session.scalars(query)


def _rows_by_id(ids):
    return db.session.scalars(select(Resource).where(Resource.id.in_(list(ids)))
                              .options(selectinload(Resource.attachments))).all()


def _count() -> int:
    return db.session.scalar(select(func.count()).select_from(Resource).where(*_candidates()))


def _document(resource: Resource, now: datetime) -> search.Document | None:
    if not resource.is_visible(now + DUE_MARGIN):
        return None
    restricted = resource.is_members_only(now)
    files_text = "\n\n".join(a.text for a in resource.attachments if a.text)
    body = markdown_to_text(resource.body)
    text = f"{body}\n\n{files_text}" if files_text else body
    published = resource.published_at
    return search.Document(
        id=resource.id,
        title=resource.title,
        summary=resource.summary,
        body="" if restricted else text,
        restricted=text if restricted else "",
        spell=f"{resource.title} {resource.summary} {' '.join(resource.topics or [])}",
        facets={"type": resource.type, "audience": resource.audiences or [], "topic": resource.topics or [],
                "jurisdiction": resource.jurisdiction.slug if resource.jurisdiction else "",
                "year": str(published.year)},
        published=published,
        sort_title=resource.title,
        version=search.version_of(resource.updated_at, restricted),
    )


def _versions(now: datetime):
    rows = db.session.execute(select(Resource.id, Resource.updated_at, Resource.access, Resource.members_until)
                              .where(*_due(now)))
    today = now.date()
    for row in rows:
        yield row.id, search.version_of(row.updated_at, members_only_now(row.access, row.members_until, today))


def _restricted_ids(ids, now: datetime) -> set[int]:
    """Which of these resources the database says are members-only now."""
    rows = db.session.execute(select(Resource.id, Resource.access, Resource.members_until)
                              .where(Resource.id.in_(list(ids))))
    return {row.id for row in rows if members_only_now(row.access, row.members_until, now.date())}


RESOURCES = search.register(search.DocumentKind(
    name=KIND,
    facets=(search.Facet("type"), search.Facet("audience", multiple=True),
            search.Facet("topic", multiple=True, lowercase=True), search.Facet("jurisdiction"),
            search.Facet("year")),
    rows=_rows,
    rows_by_id=_rows_by_id,
    document=_document,
    versions=_versions,
    restricted_ids=_restricted_ids,
    count=_count,
))


def reads_members_only(user) -> bool:
    """The library's rule for restricted text: members with a confirmed email (as services.can_read_members)."""
    return bool(user and user.is_authenticated and user.is_verified)


def search_resources(*, user, q: str = "", filters=None, sort: str = "relevance", page: int = 1,
                     per_page: int = 20, now: datetime | None = None, webinars: bool = False,
                     **options) -> search.SearchResult:
    """One library search as `user` sees it (options: published_after, exclude_ids, snippets). With
    `webinars`, past webinars are ranked among the resources, and the result's hits are (kind, id) pairs."""
    which = {"kinds": WITH_WEBINARS} if webinars else {"kind": KIND}
    return search.search(search.SearchRequest(q=q, filters=filters or {}, sort=sort, page=page, per_page=per_page,
                                              reads_restricted=reads_members_only(user), now=now, **which,
                                              **options))
