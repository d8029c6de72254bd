"""Applications to join the initiative: a city or county applies; staff approve (the jurisdiction becomes a
partner and its contact is invited to represent it) or decline; the contact is mailed either way."""
from sqlalchemy import func, select

from portal.audit.services import record_event
from portal.database import utcnow
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.jurisdictions import representatives
from portal.jurisdictions.models import KINDS, JoinApplication, Jurisdiction
from portal.jurisdictions.services import clean_profile, get_jurisdiction, save_jurisdiction
from portal.mail import send_mail, site_url_for
from portal.text import clean_line, normalize_email, slugify


def _text(value, field: str, label: str) -> str:
    text = str(value or "").strip()
    if len(text) > 4000:
        raise ValidationFailed(field, f"Use at most 4,000 characters for {label}.")
    return text


def apply_to_join(*, name, state, kind="city", contact_name, contact_email, contact_role="", population=None,
                  annual_calls=None, programs="", interests="") -> JoinApplication:
    name = clean_line(name, field="name", label="the jurisdiction's name", max_length=120, required=True)
    state = clean_line(state, field="state", label="the state", max_length=60, required=True)
    if kind not in KINDS:
        raise ValidationFailed("kind", "Choose city, county or region.")
    contact_name = clean_line(contact_name, field="contact_name", label="your name", max_length=120, required=True)
    contact_role = clean_line(contact_role, field="contact_role", label="your role", max_length=120)
    try:
        email = normalize_email(contact_email or "")
    except ValidationFailed as error:
        raise ValidationFailed("contact_email", error.message) from None
    figures = clean_profile({"population": population, "annual_calls": annual_calls})
    waiting = db.session.scalar(select(JoinApplication.id).where(
        JoinApplication.status == "pending", func.lower(JoinApplication.name) == name.lower(),
        func.lower(JoinApplication.state) == state.lower()))
    if waiting is not None:
        raise ValidationFailed("name", f"An application for {name}, {state} is already waiting for staff; they "
                                       "will answer it soon.")
    application = JoinApplication(name=name, state=state, kind=kind, contact_name=contact_name, contact_email=email,
                                  contact_role=contact_role, population=figures["population"],
                                  annual_calls=figures["annual_calls"], programs=_text(programs, "programs",
                                                                                       "the programs"),
                                  interests=_text(interests, "interests", "your interests"))
    db.session.add(application)
    db.session.flush()
    record_event(actor=None, action="application.submitted", subject=f"application #{application.id}",
                 name=application.label)
    return application


def get_application(application_id: int) -> JoinApplication | None:
    return db.session.get(JoinApplication, application_id)


def list_applications(*, status: str = "pending") -> list[JoinApplication]:
    return list(db.session.scalars(select(JoinApplication).where(JoinApplication.status == status)
                                   .order_by(JoinApplication.created_at)))


def _matching_jurisdiction(application: JoinApplication) -> Jurisdiction | None:
    return db.session.scalar(select(Jurisdiction).where(func.lower(Jurisdiction.name) == application.name.lower(),
                                                        func.lower(Jurisdiction.state) == application.state.lower()))


def _free_slug(application: JoinApplication) -> str:
    base = slugify(application.name, 80) or "jurisdiction"
    for candidate in (base, slugify(f"{application.name} {application.state}", 80)):
        if candidate and get_jurisdiction(candidate) is None:
            return candidate
    number = 2
    while get_jurisdiction(f"{base[:74]}-{number}") is not None:
        number += 1
    return f"{base[:74]}-{number}"


def _decide(application: JoinApplication, *, actor, status: str, note: str) -> None:
    if application.status != "pending":
        raise ValidationFailed(None, "This application has already been decided.")
    application.status = status
    application.staff_note = (note or "").strip()[:2000]
    application.decided_by_id = actor.id if actor is not None else None
    application.decided_at = utcnow()


def approve_application(application: JoinApplication, *, actor, note: str = "") -> Jurisdiction:
    """The jurisdiction (found by name and state, or made) becomes a partner from today; figures it already
    has are kept. The contact is invited to represent it: at once if they are a member with that address
    confirmed, else when they sign up and confirm it."""
    _decide(application, actor=actor, status="approved", note=note)
    existing = _matching_jurisdiction(application)
    values = {"name": existing.name if existing else application.name, "state": application.state,
              "kind": existing.kind if existing else application.kind, "is_partner": True,
              "joined_on": (existing.joined_on if existing and existing.joined_on else utcnow().date())}
    for field in ("population", "annual_calls"):
        current = getattr(existing, field) if existing else None
        values[field] = current if current is not None else getattr(application, field)
    jurisdiction, _ = save_jurisdiction(slug=existing.slug if existing else _free_slug(application), **values)
    application.jurisdiction_id = jurisdiction.id
    db.session.flush()
    from portal.members.services import find_member_by_email
    member = find_member_by_email(application.contact_email)
    made = representatives.claim_invitations(member) if member is not None and member.is_verified else []
    record_event(actor=actor, action="application.approved", subject=f"jurisdiction {jurisdiction.slug}",
                 application=application.id)
    send_mail(to=application.contact_email, subject=f"{jurisdiction.name} has joined the 12 Million Calls Initiative",
              template="application_approved", application=application, jurisdiction=jurisdiction,
              already_representative=bool(made) or (member is not None and member.is_verified),
              signup_url=site_url_for("members.signup"),
              page_url=site_url_for("jurisdictions.show", slug=jurisdiction.slug))
    return jurisdiction


def decline_application(application: JoinApplication, *, actor, note: str) -> JoinApplication:
    if not (note or "").strip():
        raise ValidationFailed("note", "Write a short note to the applicant explaining the decision.")
    _decide(application, actor=actor, status="declined", note=note)
    record_event(actor=actor, action="application.declined", subject=f"application #{application.id}",
                 name=application.label)
    send_mail(to=application.contact_email, subject="About your application to the 12 Million Calls Initiative",
              template="application_declined", application=application)
    return application
