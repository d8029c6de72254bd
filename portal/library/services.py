"""Resources: writing, the publishing workflow, revisions, what a reader may see, and search."""
import logging
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal import search, uow
from portal.audit.services import record_event
from portal.database import utcnow
from portal.events import search_docs as event_docs
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.jurisdictions.services import get_jurisdiction
from portal.library import search_docs
from portal.library.models import ACCESS, AUDIENCES, STATUSES, TYPES, Resource, ResourceRevision
from portal.text import clean_slug, clean_title, clean_topics, clean_web_address

log = logging.getLogger(__name__)

EDITABLE = ("title", "slug", "summary", "body", "type", "audiences", "topics", "jurisdiction_id", "external_url",
            "author", "access", "members_until", "is_featured", "published_at")
RESERVED_SLUGS = {"suggest", "saved", "feed", "feeds"}  # addresses of their own under /resources/


def _clean(fields: dict) -> dict:
    """Check and normalise resource fields; raises ValidationFailed naming the field."""
    out = dict(fields)
    if "title" in out:
        out["title"] = clean_title(out["title"], what="resource")
    if "slug" in out:
        out["slug"] = clean_slug(out["slug"], out.get("title", ""), reserved=RESERVED_SLUGS)
    if "type" in out and out["type"] not in TYPES:
        raise ValidationFailed("type", "Choose a resource type from the list.")
    if "audiences" in out:
        out["audiences"] = [a for a in AUDIENCES if a in set(out["audiences"] or [])]
        if len(out["audiences"]) != len(set(fields["audiences"] or [])):
            raise ValidationFailed("audiences", "Choose audiences from the list.")
    if "topics" in out:
        out["topics"] = clean_topics(out["topics"])
    if "access" in out and out["access"] not in ACCESS:
        raise ValidationFailed("access", "Choose public or members-only.")
    if "external_url" in out:
        out["external_url"] = clean_web_address(out["external_url"], field="external_url")
    for key in ("summary", "body", "author"):
        if key in out:
            out[key] = (out[key] or "").strip()
    if len(out.get("summary", "")) > 2000:
        raise ValidationFailed("summary", "Keep the summary under 2,000 characters.")
    if len(out.get("body", "")) > 500_000:
        raise ValidationFailed("body", "The body is too long (500,000 characters at most).")
    if "members_until" in out and out["members_until"] is not None and not isinstance(out["members_until"], date):
        raise ValidationFailed("members_until", "Give the early-access end as a date.")
    if "published_at" in out and out["published_at"] is not None and out["published_at"].tzinfo is None:
        raise ValidationFailed("published_at", "Give the publish time with its time zone.")
    return out


def _shorten(value):
    if isinstance(value, str) and len(value) > 300:
        return value[:300] + "…"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def _apply(resource: Resource, fields: dict) -> dict:
    changes = {}
    for key in EDITABLE:
        if key in fields and getattr(resource, key) != fields[key]:
            changes[key] = [_shorten(getattr(resource, key)), _shorten(fields[key])]
            setattr(resource, key, fields[key])
    return changes


def _reindex_now(resources) -> None:
    """The index follows the database; a failure here leaves it stale, and `flask search sync` repairs it."""
    try:
        search.index_rows(search_docs.RESOURCES, resources)
    except Exception:  # the rows are committed: whatever the index did, the request must not fail now
        log.exception("search index not updated; run `flask search sync`")


def reindex(resource: Resource) -> None:
    """Bring this resource's search document in line once the unit of work commits (one index write for
    every resource the unit touched)."""
    uow.collect("library.reindex", resource, _reindex_now)


def _slug_taken(slug: str, resource: Resource) -> bool:
    with db.session.no_autoflush:  # asked before this resource's own row is written
        other = db.session.scalar(select(Resource.id).where(Resource.slug == slug))
    return other is not None and other != resource.id


def _save(resource: Resource, action: str, actor, changes: dict) -> Resource:
    if not changes and action == "updated":
        return resource
    if "slug" in changes and _slug_taken(resource.slug, resource):
        raise ValidationFailed("slug", "Another resource already uses that slug; choose another.")
    db.session.add(ResourceRevision(resource=resource, actor_id=actor.id if actor else None, action=action,
                                    changes=changes))
    record_event(actor=actor, action=f"resource.{action}", subject=f"resource {resource.slug}",
                 fields=sorted(changes))
    try:
        db.session.flush()
    except IntegrityError as exc:  # the same slug saved by someone else in the meantime
        uow.rollback()
        raise ValidationFailed("slug", "Another resource already uses that slug; choose another.") from exc
    reindex(resource)
    return resource


def resolve_jurisdiction(slug: str | None) -> int | None:
    if not slug:
        return None
    jurisdiction = get_jurisdiction(slug)
    if jurisdiction is None:
        raise ValidationFailed("jurisdiction", "Choose a jurisdiction from the list.")
    return jurisdiction.id


def create_resource(*, actor, title: str, type: str, slug: str = "", summary: str = "", body: str = "",
                    audiences=(), topics=(), jurisdiction: str | None = None, external_url: str = "",
                    author: str = "", access: str = "public", members_until: date | None = None,
                    is_featured: bool = False, published_at: datetime | None = None) -> Resource:
    """A new draft."""
    fields = _clean(dict(title=title, slug=slug, type=type, summary=summary, body=body, audiences=list(audiences),
                         topics=topics, external_url=external_url, author=author, access=access,
                         members_until=members_until, is_featured=bool(is_featured), published_at=published_at))
    fields["jurisdiction_id"] = resolve_jurisdiction(jurisdiction)
    resource = Resource(status="draft", created_by_id=actor.id if actor else None)
    changes = _apply(resource, fields)
    db.session.add(resource)
    return _save(resource, "created", actor, changes)


def update_resource(resource: Resource, *, actor, **fields) -> Resource:
    if "jurisdiction" in fields:
        fields["jurisdiction_id"] = resolve_jurisdiction(fields.pop("jurisdiction"))
    fields = _clean(fields)
    if "slug" in fields and not fields["slug"]:
        fields.pop("slug")
    if "published_at" in fields and fields["published_at"] is None and resource.status == "published":
        # An empty date keeps the one it was published with; dropping it would hide the resource everywhere
        # while it still reads "published".
        fields.pop("published_at")
    return _save(resource, "updated", actor, _apply(resource, fields))


# The workflow: which status each action leads to, and from where.
TRANSITIONS = {
    "review": ({"draft"}, "review"),
    "publish": ({"draft", "review", "archived"}, "published"),
    "unpublish": ({"published", "review"}, "draft"),
    "archive": ({"draft", "review", "published"}, "archived"),
}


def change_status(resource: Resource, *, action: str, actor, publish_at: datetime | None = None) -> Resource:
    """Move a resource through draft -> in review -> published -> archived; publish_at schedules it."""
    if action not in TRANSITIONS:
        raise ValidationFailed("action", "Unknown workflow action.")
    sources, target = TRANSITIONS[action]
    if resource.status not in sources:
        raise ValidationFailed("action", f"A resource that is {resource.status} cannot be sent to {target}.")
    changes = {"status": [resource.status, target]}
    resource.status = target
    if action == "publish":
        if publish_at is not None and publish_at.tzinfo is None:
            raise ValidationFailed("publish_at", "Give the publish time with its time zone.")
        when = publish_at or resource.published_at or utcnow()
        if publish_at is None and resource.published_at and resource.published_at > utcnow():
            when = resource.published_at  # keep an existing schedule
        changes.update(_apply(resource, {"published_at": when}))
    return _save(resource, action if action != "review" else "submitted", actor, changes)


def get_resource(resource_id: int) -> Resource | None:
    return db.session.get(Resource, resource_id)


def get_resource_by_slug(slug: str) -> Resource | None:
    return db.session.scalar(select(Resource).where(Resource.slug == slug)
                             .options(selectinload(Resource.attachments)))


def can_read_members(user) -> bool:
    return bool(user and user.is_authenticated and user.is_verified)


def can_see(resource: Resource, user, now: datetime | None = None) -> bool:
    """Published and due, or staff (who preview drafts)."""
    now = now or utcnow()
    return resource.is_visible(now) or bool(user and user.is_authenticated and user.is_staff)


def can_read_body(resource: Resource, user, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return not resource.is_members_only(now) or can_read_members(user) or bool(
        user and user.is_authenticated and user.is_staff)


def _visible_query(now: datetime):
    return select(Resource).where(Resource.status == "published", Resource.published_at <= now)


def newest_resources(*, limit: int = 5, now: datetime | None = None) -> list[Resource]:
    now = now or utcnow()
    return list(db.session.scalars(_visible_query(now).order_by(Resource.published_at.desc(), Resource.id.desc())
                                   .limit(limit)))


def visible_slugs(*, now: datetime | None = None) -> list[str]:
    """Addresses of every visible resource, newest first (for the sitemap): slugs only, no bodies."""
    now = now or utcnow()
    return list(db.session.scalars(_visible_query(now).with_only_columns(Resource.slug)
                                   .order_by(Resource.published_at.desc())))


def visible_topics(*, now: datetime | None = None) -> list[str]:
    """Every topic used by a visible resource, sorted (for the alert settings): the topics column only."""
    now = now or utcnow()
    rows = db.session.scalars(_visible_query(now).with_only_columns(Resource.topics))
    return sorted({topic for topics in rows for topic in topics or []})


def featured_resources(*, limit: int = 3, now: datetime | None = None) -> list[Resource]:
    now = now or utcnow()
    return list(db.session.scalars(_visible_query(now).where(Resource.is_featured.is_(True))
                                   .order_by(Resource.published_at.desc()).limit(limit)))


def list_for_staff(*, status: str | None = None, page: int = 1, per_page: int = 50):
    query = select(Resource).order_by(Resource.updated_at.desc(), Resource.id.desc())
    if status in STATUSES:
        query = query.where(Resource.status == status)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


@dataclass
class LibraryPage:
    """One page of a library search: `items` are (kind, row) in ranked order ("resource" rows, and "event"
    rows when webinars were searched); `resources` are the resources among them."""

    resources: list[Resource]
    result: search.SearchResult
    page: int
    per_page: int
    items: list[tuple[str, object]] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.result.total // self.per_page))


def search_library(*, user, q: str = "", filters: dict | None = None, sort: str = "relevance", page: int = 1,
                   per_page: int = 20, now: datetime | None = None, webinars: bool = False) -> LibraryPage:
    """Search through the index, then load the rows in ranked order; with `webinars`, past webinars with a
    recording are listed among the resources (the search page; feeds and alerts list resources only)."""
    now = now or utcnow()
    try:
        result = search_docs.search_resources(user=user, q=q, filters=filters, sort=sort, page=page,
                                              per_page=per_page, now=now, webinars=webinars)
    except search.SearchUnavailable:
        log.exception("search unavailable")
        result = search.SearchResult([], 0, {}, {}, None, error="Search is being updated. Please try again in a "
                                                                 "few minutes.", unavailable=True)
    hits = result.hits
    wanted = {kind: [doc_id for k, doc_id in hits if k == kind] for kind in (search_docs.KIND, event_docs.KIND)}
    # The database has the last word: a stale index (a failed write, a second host before its sync) must not
    # list what is no longer published, nor a webinar cancelled since.
    rows = {search_docs.KIND: {r.id: r for r in db.session.scalars(
                _visible_query(now).where(Resource.id.in_(wanted[search_docs.KIND])))}
            if wanted[search_docs.KIND] else {},
            event_docs.KIND: event_docs.listed_events(wanted[event_docs.KIND], now)}
    items = [(kind, rows[kind][doc_id]) for kind, doc_id in hits if doc_id in rows.get(kind, {})]
    return LibraryPage([row for kind, row in items if kind == search_docs.KIND], result, page, per_page, items)
