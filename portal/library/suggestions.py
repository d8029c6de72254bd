"""Member suggestions: a verified member proposes a resource; staff accept it as a draft or decline it."""
from sqlalchemy import select

from portal.audit.services import record_event
from portal.database import utcnow
from portal.exceptions import NotAllowed, ValidationFailed
from portal.extensions import db
from portal.library.models import TYPES, Suggestion
from portal.library.services import create_resource, get_resource_by_slug
from portal.text import slugify
from portal.mail import send_mail, site_url_for
from portal.members.services import jurisdiction_fields


def submit_suggestion(*, member, title: str, type: str, summary: str = "", external_url: str = "",
                      jurisdiction: str = "", jurisdiction_other: str = "", note: str = "") -> Suggestion:
    """`jurisdiction` is a directory slug (or name); `jurisdiction_other` names a place that is not listed."""
    if not member.is_verified:
        raise NotAllowed("Confirm your email address before suggesting resources.")
    title = " ".join((title or "").split())
    if not title or len(title) > 200:
        raise ValidationFailed("title", "Give a title of at most 200 characters.")
    if type not in TYPES:
        raise ValidationFailed("type", "Choose a resource type from the list.")
    place = jurisdiction_fields(jurisdiction, jurisdiction_other)
    suggestion = Suggestion(member_id=member.id, title=title, type=type, summary=(summary or "").strip(),
                            external_url=(external_url or "").strip(), note=(note or "").strip(), **place)
    db.session.add(suggestion)
    db.session.flush()
    record_event(actor=member, action="suggestion.submitted", subject=f"suggestion #{suggestion.id}")
    return suggestion


def get_suggestion(suggestion_id: int) -> Suggestion | None:
    return db.session.get(Suggestion, suggestion_id)


def list_suggestions(*, status: str = "pending") -> list[Suggestion]:
    return list(db.session.scalars(select(Suggestion).where(Suggestion.status == status)
                                   .order_by(Suggestion.created_at)))


def _decide(suggestion: Suggestion, *, actor, status: str, note: str) -> None:
    if suggestion.status != "pending":
        raise ValidationFailed(None, "This suggestion has already been decided.")
    suggestion.status = status
    suggestion.staff_note = (note or "").strip()
    suggestion.decided_by_id = actor.id
    suggestion.decided_at = utcnow()
    record_event(actor=actor, action=f"suggestion.{status}", subject=f"suggestion #{suggestion.id}")


def accept_suggestion(suggestion: Suggestion, *, actor, note: str = ""):
    """The suggestion becomes a draft resource that staff can edit and publish."""
    if suggestion.status != "pending":
        raise ValidationFailed(None, "This suggestion has already been decided.")
    base = slugify(suggestion.title) or "suggested-resource"
    slug = base
    number = 2
    while get_resource_by_slug(slug) is not None:
        slug = f"{base[:110]}-{number}"
        number += 1
    external = suggestion.external_url if suggestion.external_url.startswith(("http://", "https://")) else ""
    resource = create_resource(actor=actor, title=suggestion.title, type=suggestion.type, slug=slug,
                               summary=suggestion.summary[:2000], external_url=external[:500],
                               body=suggestion.note, author=suggestion.member.name if suggestion.member else "")
    _decide(suggestion, actor=actor, status="accepted", note=note)
    suggestion.resource = resource
    if suggestion.member is not None:
        send_mail(to=suggestion.member.email, subject="Your suggested resource was accepted",
                  template="suggestion_accepted", member=suggestion.member, suggestion=suggestion)
    return resource


def decline_suggestion(suggestion: Suggestion, *, actor, note: str) -> Suggestion:
    note = (note or "").strip()
    if not note:
        raise ValidationFailed("note", "Write a short note to the member explaining the decision.")
    _decide(suggestion, actor=actor, status="declined", note=note)
    if suggestion.member is not None:
        send_mail(to=suggestion.member.email, subject="About the resource you suggested",
                  template="suggestion_declined", member=suggestion.member, suggestion=suggestion,
                  library_url=site_url_for("library.search"))
    return suggestion
