"""What the member directory puts in the search index: listed profiles, all of their text restricted.

A profile's name, role, organisation, topics and bio go only in the engine's `restricted` field, and its
`spell` is empty: a query from someone who may not read restricted text never touches them (neither matching,
ranking statistics nor "did you mean"), and the library's searches, which name their own kinds, never list a
profile. Only the directory searches this kind, for verified members. A profile leaves the index when its
member unlists it, at the commit (`reindex`), and a stale index is harmless: the directory loads only the ids
the database still lists.
"""
import logging
from datetime import datetime

from sqlalchemy import func, select

from portal import search, uow
from portal.extensions import db
from portal.markdown import markdown_to_text
from portal.network.models import NetworkProfile, only_listed

log = logging.getLogger(__name__)

KIND = "profile"


def _rows(batch: int = 500):
    return db.session.scalars(only_listed(select(NetworkProfile)).order_by(NetworkProfile.id)
                              .execution_options(yield_per=batch))


def _rows_by_id(ids):
    return db.session.scalars(select(NetworkProfile).where(NetworkProfile.id.in_(list(ids)))).all()


def _count() -> int:
    return db.session.scalar(only_listed(select(func.count()).select_from(NetworkProfile)))


def _document(profile: NetworkProfile, now: datetime) -> search.Document | None:
    if not profile.is_shown:
        return None
    text = "\n\n".join(part for part in (profile.display_name, profile.title, profile.organisation,
                                         " ".join(profile.topics or []), markdown_to_text(profile.bio)) if part)
    return search.Document(id=profile.id, title="", restricted=text, sort_title=profile.display_name,
                           version=search.version_of(profile.updated_at, True))


def _versions(now: datetime):
    for row in db.session.execute(only_listed(select(NetworkProfile.id, NetworkProfile.updated_at))):
        yield row.id, search.version_of(row.updated_at, True)


def _restricted_ids(ids, now: datetime) -> set[int]:
    return set(ids)  # every word of a profile is for verified members only


PROFILES = search.register(search.DocumentKind(
    name=KIND, facets=(), rows=_rows, rows_by_id=_rows_by_id, document=_document, versions=_versions,
    restricted_ids=_restricted_ids, count=_count))


def matching_ids(q: str, *, limit: int) -> tuple[list[int], str | None]:
    """Ids of the indexed profiles matching the words, best first (at most `limit`), or why the words cannot be
    searched (too many, none left once cleaned). Raises search.SearchUnavailable when the index cannot be read."""
    result = search.search(search.SearchRequest(kind=KIND, q=q, reads_restricted=True, per_page=limit,
                                                snippets=False))
    return result.ids, result.error


def _reindex_now(profiles) -> None:
    try:
        search.index_rows(PROFILES, profiles)
    except Exception:  # the rows are committed: the request must not fail now; `flask search sync` repairs
        log.exception("search index not updated; run `flask search sync`")


def reindex(profile: NetworkProfile) -> None:
    uow.collect("network.reindex", profile, _reindex_now)
