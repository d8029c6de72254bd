"""Representatives: a verified member asks to represent a jurisdiction; staff approve or decline (mailed
either way) and may later revoke. An approved application to join invites its contact: when a member
confirms that address, they become the jurisdiction's representative."""
from sqlalchemy import func, select

from portal.audit.services import record_event
from portal.database import utcnow
from portal.exceptions import NotAllowed, ValidationFailed
from portal.extensions import db
from portal.jurisdictions.models import ApiToken, JoinApplication, Jurisdiction, Representative
from portal.mail import send_mail, site_url_for
from portal.text import clean_line


def request_representation(*, member, jurisdiction: Jurisdiction, role_title: str, note: str = "") -> Representative:
    if member is None or not member.is_verified:
        raise NotAllowed("Confirm your email address before asking to represent a jurisdiction.")
    role_title = clean_line(role_title, field="role_title", max_length=120, label="your role")
    if not role_title:
        raise ValidationFailed("role_title", "Say what your role is there (for example: program manager).")
    note = (note or "").strip()
    if len(note) > 2000:
        raise ValidationFailed("note", "Use at most 2000 characters for the note.")
    current = db.session.scalar(select(Representative).where(
        Representative.member_id == member.id, Representative.jurisdiction_id == jurisdiction.id,
        Representative.status.in_(("pending", "approved"))))
    if current is not None:
        raise ValidationFailed("jurisdiction", "You already represent this jurisdiction."
                               if current.status == "approved" else "Your request for this jurisdiction is waiting "
                                                                      "for staff.")
    pending = db.session.scalar(select(func.count(Representative.id)).where(
        Representative.member_id == member.id, Representative.status == "pending"))
    if pending >= 3:
        raise ValidationFailed("jurisdiction", "You have three requests waiting already; staff will answer them "
                                               "first.")
    request = Representative(member_id=member.id, jurisdiction_id=jurisdiction.id, role_title=role_title, note=note)
    db.session.add(request)
    db.session.flush()
    record_event(actor=member, action="representative.requested", subject=f"jurisdiction {jurisdiction.slug}")
    return request


def _decide(request: Representative, *, actor, status: str, note: str) -> None:
    if request.status != "pending":
        raise ValidationFailed(None, "This request has already been decided.")
    request.status = status
    request.staff_note = (note or "").strip()[:2000]
    request.decided_by_id = actor.id if actor is not None else None
    request.decided_at = utcnow()
    record_event(actor=actor, action=f"representative.{status}",
                 subject=f"jurisdiction {request.jurisdiction.slug}", member=request.member_id)


def approve_representative(request: Representative, *, actor, note: str = "") -> Representative:
    _decide(request, actor=actor, status="approved", note=note)
    send_mail(to=request.member.email, subject=f"You now represent {request.jurisdiction.name}",
              template="representative_approved", member=request.member, request=request,
              page_url=site_url_for("jurisdictions.show", slug=request.jurisdiction.slug))
    return request


def decline_representative(request: Representative, *, actor, note: str) -> Representative:
    if not (note or "").strip():
        raise ValidationFailed("note", "Write a short note to the member explaining the decision.")
    _decide(request, actor=actor, status="declined", note=note)
    send_mail(to=request.member.email, subject=f"About representing {request.jurisdiction.name}",
              template="representative_declined", member=request.member, request=request)
    return request


def revoke_representative(request: Representative, *, actor) -> Representative:
    if request.status != "approved":
        raise ValidationFailed(None, "Only an approved representative can be revoked.")
    request.status = "revoked"
    request.decided_by_id = actor.id
    request.decided_at = utcnow()
    record_event(actor=actor, action="representative.revoked", subject=f"jurisdiction {request.jurisdiction.slug}",
                 member=request.member_id)
    return request


def get_request(request_id: int) -> Representative | None:
    return db.session.get(Representative, request_id)


def list_requests(*, status: str = "pending") -> list[Representative]:
    return list(db.session.scalars(select(Representative).where(Representative.status == status)
                                   .order_by(Representative.created_at)))


def requests_of(member) -> list[Representative]:
    return list(db.session.scalars(select(Representative).where(Representative.member_id == member.id)
                                   .order_by(Representative.created_at.desc())))


def claim_invitations(member) -> list[Representative]:
    """Make a member who just confirmed their address the representative of every jurisdiction whose approved
    application named that address as its contact (called from members.services.verify_email)."""
    applications = db.session.scalars(select(JoinApplication).where(
        JoinApplication.status == "approved", JoinApplication.contact_email == member.email,
        JoinApplication.jurisdiction_id.is_not(None)))
    made = []
    for application in applications:
        exists = db.session.scalar(select(Representative.id).where(
            Representative.member_id == member.id, Representative.jurisdiction_id == application.jurisdiction_id,
            Representative.status == "approved"))
        if exists is not None:
            continue
        request = Representative(member_id=member.id, jurisdiction_id=application.jurisdiction_id,
                                 role_title=application.contact_role or "Contact", status="approved",
                                 note="Named as the contact in the application to join.",
                                 decided_by_id=application.decided_by_id, decided_at=utcnow())
        db.session.add(request)
        made.append(request)
    if made:
        db.session.flush()
    return made


def export_representation(member) -> dict:
    """The member's side of representing jurisdictions, for their data export: requests and API tokens they
    made (never a token's secret, which is not stored)."""
    def when(value):
        return value.isoformat() if value else None

    tokens = db.session.scalars(select(ApiToken).where(ApiToken.member_id == member.id).order_by(ApiToken.created_at))
    return {
        "requests": [{"jurisdiction": request.jurisdiction.label, "role": request.role_title, "note": request.note,
                      "status": request.status, "staff_note": request.staff_note,
                      "requested_at": when(request.created_at), "decided_at": when(request.decided_at)}
                     for request in requests_of(member)],
        "api_tokens": [{"jurisdiction": token.jurisdiction.label, "name": token.name, "prefix": token.prefix,
                        "created_at": when(token.created_at), "last_used_at": when(token.last_used_at),
                        "revoked_at": when(token.revoked_at)} for token in tokens],
    }
