"""Membership: sign-up, verification, sign-in, password reset, profile, export, deletion, roles."""
import hashlib
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from portal import uow
from portal import queue
from portal.audit.services import record_event
from portal.database import utcnow
from portal.events import account as event_account, registrations
from portal.events.services import check_timezone
from portal.exceptions import NotAllowed, ValidationFailed
from portal.extensions import db
from portal.jurisdictions.models import Jurisdiction
from portal.jurisdictions.representatives import claim_invitations, export_representation
from portal.network.contact import export_messages
from portal.network.services import export_profile, forget_member
from portal.jurisdictions.services import list_jurisdictions
from portal.mail import send_mail, site_url_for
from portal.members.models import SECTORS, Member, new_session_token
from portal.members.passwords import hash_password, needs_rehash, password_problem, verify_password
from portal.text import normalize_email
from portal.tokens import TokenInvalid, make_token, read_token

VERIFY_MAX_AGE = int(timedelta(hours=48).total_seconds())
RESET_MAX_AGE = int(timedelta(hours=1).total_seconds())
PROFILE_FIELDS = ("name", "organisation", "title", "sector", "jurisdiction", "jurisdiction_other", "timezone",
                  "wants_alerts")


def _check_password(password: str, email: str) -> None:
    problem = password_problem(password, email)
    if problem:
        raise ValidationFailed("password", problem)


def find_jurisdiction(choice: str | None) -> Jurisdiction | None:
    """The directory's jurisdiction for a choice: its slug (what the select sends), or its name or label
    ("Denver", "Denver, Colorado") in any letter case, as typed by older clients and the content files.
    None for a blank choice; ValidationFailed for one that names no jurisdiction."""
    choice = " ".join((choice or "").split()).casefold()
    if not choice:
        return None
    for jurisdiction in list_jurisdictions():
        if choice in (jurisdiction.slug.casefold(), jurisdiction.name.casefold(), jurisdiction.label.casefold()):
            return jurisdiction
    raise ValidationFailed("jurisdiction", "Choose a jurisdiction from the list, or leave it blank and write "
                                           "yours under “Other place”.")


def jurisdiction_fields(choice: str | None, other: str | None) -> dict:
    """A jurisdiction picked from the directory plus an optional note for a place that is not listed, as the
    columns store them: one shape for members and suggestions."""
    jurisdiction = find_jurisdiction(choice)
    other = " ".join((other or "").split())
    if len(other) > 120:
        raise ValidationFailed("jurisdiction_other", "Use at most 120 characters.")
    return {"jurisdiction_id": jurisdiction.id if jurisdiction else None, "jurisdiction_other": other}


def _clean_timezone(name: str | None) -> str:
    return check_timezone(name, allow_empty=True)


def _clean_profile(fields: dict) -> dict:
    profile = {key: fields[key] for key in PROFILE_FIELDS if key in fields}
    for key in ("name", "organisation", "title"):
        if key in profile:
            profile[key] = " ".join((profile[key] or "").split())
    if "name" in profile and not profile["name"]:
        raise ValidationFailed("name", "Enter your name.")
    if "sector" in profile and profile["sector"] not in SECTORS:
        raise ValidationFailed("sector", "Choose a sector from the list.")
    if "timezone" in profile:
        profile["timezone"] = _clean_timezone(profile["timezone"])
    if "jurisdiction" in profile or "jurisdiction_other" in profile:
        profile.update(jurisdiction_fields(profile.pop("jurisdiction", ""), profile.pop("jurisdiction_other", "")))
    return profile


def profile_data(member: Member) -> dict:
    """The profile as the profile form shows it (the jurisdiction as its slug, which the select sends)."""
    data = {key: getattr(member, key) for key in PROFILE_FIELDS if key != "jurisdiction"}
    data["jurisdiction"] = member.jurisdiction.slug if member.jurisdiction is not None else ""
    return data


def get_member(member_id: int) -> Member | None:
    return db.session.get(Member, member_id)


def find_member_by_email(email: str) -> Member | None:
    try:
        normalized = normalize_email(email)
    except ValidationFailed:
        return None
    return db.session.scalar(select(Member).where(Member.email == normalized))


def load_session_member(session_id: str) -> Member | None:
    """Flask-Login's loader: the id must carry the member's current session token."""
    member_id, _, token = (session_id or "").partition(":")
    if not member_id.isdigit() or not token:
        return None
    member = get_member(int(member_id))
    if member is None or member.session_token != token:
        return None
    return member


def _password_fingerprint(member: Member) -> str:
    # Changes with the password: a link issued before a reset or a password change stops working.
    return hashlib.sha256(f"password|{member.password_hash}".encode()).hexdigest()[:24]


def _verification_link(member: Member, email: str) -> str:
    token = make_token("verify", {"id": member.id, "email": email, "pw": _password_fingerprint(member)})
    return site_url_for("members.verify", token=token)


def _send_verification(member: Member, email: str) -> None:
    send_mail(to=email, subject="Confirm your email for 12 Million Calls", template="verify",
              member=member, link=_verification_link(member, email))


def register_member(*, email: str, password: str, name: str, organisation: str = "", title: str = "",
                    sector: str = "other", jurisdiction: str = "", jurisdiction_other: str = "",
                    wants_alerts: bool = False, consent: bool = False) -> Member | None:
    """Create an account and mail its verification link.

    Returns None when the address already has an account: the caller shows the same
    answer either way (no enumeration) and the owner is told by mail instead.
    """
    email = normalize_email(email)
    _check_password(password, email)
    if not consent:
        raise ValidationFailed("consent", "You need to accept the terms to join.")
    profile = _clean_profile(dict(name=name, organisation=organisation, title=title, sector=sector,
                                  jurisdiction=jurisdiction, jurisdiction_other=jurisdiction_other,
                                  wants_alerts=bool(wants_alerts)))
    member = Member(email=email, password_hash=hash_password(password), consented_at=utcnow(), **profile)
    db.session.add(member)
    try:
        db.session.flush()  # the unique email decides between two sign-ups racing for one address
    except IntegrityError:
        uow.rollback()  # a sign-up is the whole unit of work: nothing else to keep
        existing = db.session.scalar(select(Member).where(Member.email == email))
        if existing is not None:
            send_mail(to=email, subject="Someone tried to join with your email", template="already_member",
                      member=existing, login_url=site_url_for("members.login"),
                      reset_url=site_url_for("members.reset_request"))
        return None
    _send_verification(member, email)
    return member


def resend_verification(member: Member) -> None:
    if member.pending_email:
        _send_verification(member, member.pending_email)
    elif not member.is_verified:
        _send_verification(member, member.email)


def verify_email(token: str) -> Member:
    """Confirm an address from a link. Raises TokenInvalid if it is bad, expired or already used."""
    payload = read_token("verify", token, VERIFY_MAX_AGE)
    member = get_member(payload.get("id")) if isinstance(payload.get("id"), int) else None
    email = payload.get("email")
    # Bound to the password it was issued under: a reset or password change kills every older link, so
    # whoever held the account before (an attacker who signed up with this address) cannot finish a change.
    if member is None or payload.get("pw") != _password_fingerprint(member):
        raise TokenInvalid()
    if member.pending_email and email == member.pending_email:
        member.email = member.pending_email
        member.pending_email = None
        action = "member.email_changed"
    elif email == member.email and not member.is_verified:
        action = "member.email_verified"
    else:
        raise TokenInvalid()
    member.email_verified_at = utcnow()
    record_event(actor=member, action=action, subject=f"member #{member.id}")
    try:
        db.session.flush()
    except IntegrityError as exc:  # the new address was taken by someone else meanwhile
        uow.rollback()
        raise TokenInvalid() from exc
    claim_invitations(member)
    return member


def authenticate(*, email: str, password: str) -> Member | None:
    """The member for these credentials, or None. Equal cost whether or not the email exists."""
    member = find_member_by_email(email)
    if not verify_password(member.password_hash if member else None, password):
        return None
    if needs_rehash(member.password_hash):
        member.password_hash = hash_password(password)
    member.last_login_at = utcnow()
    return member


def end_sessions(member: Member) -> None:
    """Sign the member out everywhere: every session and remember-me cookie carries the session token, so a
    new one makes each of them (a copied one too) stop working. The caller signs this browser in again when
    it should stay signed in."""
    member.session_token = new_session_token()


def _reset_fingerprint(member: Member) -> str:
    # Changes when the password or the email does, so each reset link works once, for one address.
    return hashlib.sha256(f"{member.password_hash}|{member.email}".encode()).hexdigest()[:24]


def request_password_reset(*, email: str) -> None:
    """Queue the reset mail; say nothing either way.

    The request does the same work whether or not the address has an account (no query, one queued job):
    the worker looks the member up (portal.members.tasks), so neither the answer nor its timing tells."""
    try:
        email = normalize_email(email)
    except ValidationFailed:
        return
    queue.enqueue("members.send_password_reset", email=email)


def member_for_reset(token: str) -> Member:
    payload = read_token("reset", token, RESET_MAX_AGE)
    member = get_member(payload.get("id")) if isinstance(payload.get("id"), int) else None
    if member is None or payload.get("fp") != _reset_fingerprint(member):
        raise TokenInvalid()
    return member


def _store_password(member: Member, password: str) -> None:
    """A new password ends every session and cancels a pending email change, whose link it also invalidates:
    whoever set that change up (before a reset took the account back) cannot finish it."""
    member.password_hash = hash_password(password)
    member.pending_email = None
    end_sessions(member)


def _set_password(member: Member, password: str) -> None:
    _check_password(password, member.email)
    _store_password(member, password)


def reset_password(*, token: str, password: str) -> Member:
    member = member_for_reset(token)
    _set_password(member, password)
    # The link reached the inbox, so the address is proven.
    member.email_verified_at = member.email_verified_at or utcnow()
    record_event(actor=member, action="member.password_reset", subject=f"member #{member.id}")
    return member


def change_password(member: Member, *, current_password: str, new_password: str) -> Member:
    if not verify_password(member.password_hash, current_password):
        raise ValidationFailed("current_password", "Your current password is not correct.")
    _set_password(member, new_password)
    record_event(actor=member, action="member.password_changed", subject=f"member #{member.id}")
    return member


def update_profile(member: Member, **fields) -> Member:
    for key, value in _clean_profile(fields).items():
        setattr(member, key, value)
    return member


def request_email_change(member: Member, *, new_email: str, password: str) -> None:
    """Send a confirmation link to the new address; the change happens when it is opened."""
    if not verify_password(member.password_hash, password):
        raise ValidationFailed("password", "Your password is not correct.")
    new_email = normalize_email(new_email)
    if new_email == member.email:
        raise ValidationFailed("new_email", "That is already your email address.")
    member.pending_email = new_email
    # The current address hears of it, with the way to stop it: a reset cancels the change.
    send_mail(to=member.email, subject="A change of your email address was requested",
              template="email_change_notice", member=member, new_email=new_email,
              reset_url=site_url_for("members.reset_request"))
    # The answer is the same either way (no enumeration); an address that has an account is told so instead.
    owner = db.session.scalar(select(Member).where(Member.email == new_email))
    if owner is not None:
        send_mail(to=new_email, subject="Someone asked to use your email address", template="email_taken",
                  member=owner, reset_url=site_url_for("members.reset_request"))
        return
    _send_verification(member, new_email)


def export_member_data(member: Member) -> dict:
    def when(value):
        return value.isoformat() if value else None

    return {
        "format": "12millioncalls-member-export/1",
        "exported_at": utcnow().isoformat(),
        "profile": {
            "email": member.email,
            "pending_email": member.pending_email,
            "name": member.name,
            "organisation": member.organisation,
            "title": member.title,
            "sector": member.sector,
            "jurisdiction": member.jurisdiction.label if member.jurisdiction is not None else None,
            "jurisdiction_other": member.jurisdiction_other,
            "timezone": member.timezone,
            "wants_alerts": member.wants_alerts,
            "role": member.role,
        },
        "account": {
            "created_at": when(member.created_at),
            "email_verified_at": when(member.email_verified_at),
            "consented_to_terms_at": when(member.consented_at),
            "last_login_at": when(member.last_login_at),
        },
        # Every registration the member made, cancelled ones too: they are the member's data as well.
        "event_registrations": event_account.export_registrations(member),
        "representation": export_representation(member),
        # The member directory profile, listed or not (null when the member never saved one).
        "directory_profile": export_profile(member),
        # Messages written through the directory, both ways, naming people as it did (never an address).
        "directory_messages": export_messages(member),
    }


def delete_member(member: Member, *, password: str) -> None:
    """Remove the account and its personal data; the audit log keeps only the number."""
    if not verify_password(member.password_hash, password):
        raise ValidationFailed("password", "Your password is not correct.")
    if member.is_admin:
        raise ValidationFailed(None, "An admin account cannot delete itself; ask another admin to remove the role first.")
    # Their seats go to the first on each waitlist (who is mailed) before the rows go with the account.
    registrations.release_member(member)
    forget_member(member)
    record_event(actor=None, action="member.deleted", subject=f"member #{member.id}")
    db.session.delete(member)


def set_member_role(member: Member, *, role: str, actor: Member) -> Member:
    """Admins grant and remove the staff role."""
    if not actor.is_admin:
        raise NotAllowed("Only admins change roles.")
    if role not in ("member", "staff"):
        raise ValidationFailed("role", "Choose member or staff.")
    if member.is_admin:
        raise ValidationFailed("role", "Admins are managed from the command line.")
    if member.role != role:
        record_event(actor=actor, action="member.role_changed", subject=f"member #{member.id}",
                     old=member.role, new=role)
        member.role = role
    return member


def create_admin(*, email: str, password: str, name: str = "Administrator") -> Member:
    """Make (or promote) an admin from the command line; the address counts as verified."""
    email = normalize_email(email)
    _check_password(password, email)
    member = db.session.scalar(select(Member).where(Member.email == email))
    if member is None:
        member = Member(email=email, name=name, password_hash="")
        db.session.add(member)
    _store_password(member, password)
    member.role = "admin"
    member.email_verified_at = member.email_verified_at or utcnow()
    db.session.flush()
    record_event(actor=None, action="member.admin_created", subject=f"member #{member.id}")
    return member


# The member list's filters, as the staff dashboard's counts link to them.
MEMBER_FILTERS = {
    "verified": ("Confirmed email", Member.email_verified_at.is_not(None)),
    "unverified": ("Email not confirmed", Member.email_verified_at.is_(None)),
    "staff": ("Staff and admins", Member.role.in_(("staff", "admin"))),
}


def search_members(*, q: str = "", show: str | None = None, page: int = 1, per_page: int = 50):
    """Members by name, email or organisation; `show` is one of MEMBER_FILTERS (anything else: everyone)."""
    query = select(Member).order_by(Member.created_at.desc(), Member.id.desc())
    if show in MEMBER_FILTERS:
        query = query.where(MEMBER_FILTERS[show][1])
    q = q.strip()[:100].lower()
    if q:
        query = query.where(or_(Member.email.contains(q, autoescape=True),
                                func.lower(Member.name).contains(q, autoescape=True),
                                func.lower(Member.organisation).contains(q, autoescape=True)))
    return db.paginate(query, page=page, per_page=per_page, error_out=False)

