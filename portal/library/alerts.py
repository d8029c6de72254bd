"""New-resource alerts: saved searches and picked topics or types, mailed as a digest, never twice."""
import hashlib
import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlencode

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import search, uow
from portal.database import utcnow
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.library import search_docs
from portal.library.models import AUDIENCES, TYPES, AlertDelivery, Resource, SavedSearch
from portal.mail import build_message, deliver, site_url_for
from portal.members.models import Member
from portal.tokens import TokenInvalid, make_token, read_token

log = logging.getLogger(__name__)
MAX_SAVED = 25
QUERY_KEYS = ("q", "type", "audience", "topic", "jurisdiction", "year")


def normalize_query(args) -> str:
    """A canonical query string of the search arguments that alerts understand."""
    pairs = []
    for key in QUERY_KEYS:
        values = args.getlist(key) if hasattr(args, "getlist") else args.get(key, [])
        if isinstance(values, str):
            values = [values]
        for value in values:
            value = " ".join(str(value).split())[:search.MAX_QUERY_CHARS]
            if value:
                pairs.append((key, value))
    return urlencode(sorted(pairs))


def describe(query_string: str) -> str:
    """A saved search in words: “crisis”, Type: Program model."""
    labels = {"type": TYPES, "audience": AUDIENCES}
    parsed = parse_qs(query_string)
    parts = [f"“{parsed['q'][0]}”"] if "q" in parsed else []
    parts += [f"{key.capitalize()}: {labels.get(key, {}).get(value, value)}"
              for key in QUERY_KEYS[1:] for value in parsed.get(key, [])]
    return ", ".join(parts) or "every new resource"


def save_search(*, member, args) -> SavedSearch:
    query_string = normalize_query(args)
    if not query_string:
        raise ValidationFailed(None, "Search for something or pick a filter before saving the search.")
    if len(query_string) > 600:
        raise ValidationFailed(None, "That search is too long to save.")
    existing = db.session.scalar(select(SavedSearch).where(SavedSearch.member_id == member.id,
                                                           SavedSearch.query_string == query_string))
    if existing is not None:
        return existing
    count = len(db.session.scalars(select(SavedSearch.id).where(SavedSearch.member_id == member.id)).all())
    if count >= MAX_SAVED:
        raise ValidationFailed(None, f"You can keep at most {MAX_SAVED} alerts; remove one first.")
    saved = SavedSearch(member_id=member.id, query_string=query_string, label=describe(query_string)[:200])
    db.session.add(saved)
    try:
        db.session.flush()
    except IntegrityError:  # the same search saved a moment ago, from another tab
        uow.rollback()
        saved = db.session.scalar(select(SavedSearch).where(SavedSearch.member_id == member.id,
                                                            SavedSearch.query_string == query_string))
    member.wants_alerts = True
    return saved


def picked(member) -> dict[str, list[str]]:
    """The single type or topic alerts, as the alert settings form shows them."""
    picks: dict[str, list[str]] = {"type": [], "topic": []}
    for saved in saved_searches(member):
        parsed = parse_qs(saved.query_string)
        if len(parsed) == 1 and set(parsed) <= set(picks) and len(next(iter(parsed.values()))) == 1:
            key, (value,) = next(iter(parsed.items()))
            picks[key].append(value)
    return picks


def set_alerts(*, member, wants_alerts: bool, types=(), topics=()) -> None:
    """Save the alert settings form: the switch, and one saved search per picked type or topic."""
    wanted = {normalize_query({"type": [t]}) for t in types} | {normalize_query({"topic": [t]}) for t in topics}
    current = {s.query_string: s for s in saved_searches(member)}
    single = {normalize_query({k: [v]}) for k, values in picked(member).items() for v in values}
    if len(set(current) - (single - wanted) | wanted) > MAX_SAVED:  # checked before anything changes
        raise ValidationFailed(None, f"You can keep at most {MAX_SAVED} alerts; pick fewer.")
    for query_string in single - wanted:
        db.session.delete(current[query_string])
    for query_string in sorted(wanted - set(current)):
        db.session.add(SavedSearch(member_id=member.id, query_string=query_string,
                                   label=describe(query_string)[:200]))
    member.wants_alerts = bool(wants_alerts)


def saved_searches(member) -> list[SavedSearch]:
    return list(db.session.scalars(select(SavedSearch).where(SavedSearch.member_id == member.id)
                                   .order_by(SavedSearch.created_at)))


def delete_saved_search(*, member, saved_id: int) -> None:
    saved = db.session.get(SavedSearch, saved_id)
    if saved is None or saved.member_id != member.id:
        raise ValidationFailed(None, "That alert does not exist.")
    db.session.delete(saved)


def _address_hash(member) -> str:
    return hashlib.sha256(f"unsubscribe|{member.email}".encode()).hexdigest()[:24]


def unsubscribe_token(member) -> str:
    # The id alone could name someone else one day (an id freed by a deletion); the address's hash cannot.
    return make_token("unsubscribe", {"id": member.id, "to": _address_hash(member)})


def unsubscribe(token: str) -> Member:
    """Turn alerts off from the link in a digest: no sign-in needed. Raises TokenInvalid."""
    payload = read_token("unsubscribe", token, max_age=60 * 60 * 24 * 365)
    member = db.session.get(Member, payload.get("id")) if isinstance(payload.get("id"), int) else None
    if member is None or payload.get("to") != _address_hash(member):
        raise TokenInvalid()
    member.wants_alerts = False
    return member


def _due_for(member, now) -> list[Resource]:
    """New resources for this member: matching any saved search (or anything, with none saved), not yet sent."""
    sent = set(db.session.scalars(select(AlertDelivery.resource_id).where(AlertDelivery.member_id == member.id)))
    queries = [s.query_string for s in saved_searches(member)] or [""]
    found: list[int] = []
    for query_string in queries:
        parsed = parse_qs(query_string)
        filters = {key: parsed.get(key, []) for key in QUERY_KEYS[1:]}
        result = search_docs.search_resources(
            user=member, q=parsed.get("q", [""])[0], filters=filters, sort="newest", per_page=50, now=now,
            # The index keeps whole seconds: without the margin, a resource published in the second the
            # member joined would never be sent.
            published_after=member.created_at - timedelta(seconds=1), exclude_ids=sent | set(found),
            snippets=False)
        found += [i for i in result.ids if i not in found]
    if not found:
        return []
    rows = db.session.scalars(select(Resource).where(Resource.id.in_(found))
                              .order_by(Resource.published_at.desc())).all()
    return [r for r in rows if r.is_visible(now)]


def send_alerts(*, now=None, progress=None) -> int:
    """Mail each member who wants alerts a digest of what is new since the last one. Returns mails sent.

    Each member's digest is its own unit of work (call this outside one, as `flask alerts send` does): one
    that fails (a saved search the index cannot run, a mail that cannot be built) is logged and skipped, and
    the others are still sent."""
    now = now or utcnow()
    member_ids = db.session.scalars(select(Member.id).where(Member.wants_alerts.is_(True),
                                                            Member.email_verified_at.is_not(None))
                                    .order_by(Member.id)).all()
    sent = 0
    for member_id in member_ids:
        try:
            with uow.unit_of_work():
                sent += _send_digest(db.session.get(Member, member_id), now)
        except IntegrityError:  # another `alerts send` recorded these items first
            log.info("alerts for member #%s were sent by another run", member_id)
        except Exception:  # one member's failure must not stop everyone else's digest
            log.exception("alert digest for member #%s failed; skipped", member_id)
        if progress:
            progress(1)
    return sent


def _send_digest(member, now) -> int:
    """Record what this member is sent, and mail it once that is committed. Returns 1 if a digest goes out."""
    if member is None:  # deleted since the list was read
        return 0
    resources = _due_for(member, now)
    if not resources:
        return 0
    for resource in resources:
        db.session.add(AlertDelivery(member_id=member.id, resource_id=resource.id, sent_at=now))
    db.session.flush()  # recorded first: a crash after the commit can skip an item, never repeat it
    # Sent by `flask alerts send`, outside any request: links are built on SITE_URL.
    unsubscribe_url = site_url_for("library.unsubscribe", token=unsubscribe_token(member))
    links = {r.id: site_url_for("library.detail", slug=r.slug) for r in resources}
    message = build_message(to=member.email, subject=f"New on 12 Million Calls: {len(resources)} resource"
                            f"{'' if len(resources) == 1 else 's'}", template="alerts", member=member,
                            resources=resources, links=links, now=now, unsubscribe_url=unsubscribe_url,
                            account_url=site_url_for("library.alerts_page"))
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    uow.after_commit(lambda: deliver(message))
    return 1
