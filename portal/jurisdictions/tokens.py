"""API tokens for the metrics write API: shown once, stored as a SHA-256 hash, scoped to one jurisdiction."""
import hashlib
import secrets

from sqlalchemy import select, update

from portal.audit.services import record_event
from portal.database import utcnow
from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.jurisdictions.access import can_edit, require_editor
from portal.jurisdictions.models import ApiToken, Jurisdiction

TOKEN_PREFIX = "p12m_"
MAX_TOKENS = 20  # live tokens per jurisdiction


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(jurisdiction: Jurisdiction, *, actor, name: str) -> tuple[ApiToken, str]:
    """A new token; returns the row and the secret, which is never stored and cannot be shown again."""
    require_editor(actor, jurisdiction)
    name = " ".join((name or "").split())
    if not name or len(name) > 120:
        raise ValidationFailed("name", "Name the token (at most 120 characters), so you can tell it apart later.")
    live = db.session.scalar(select(db.func.count(ApiToken.id)).where(
        ApiToken.jurisdiction_id == jurisdiction.id, ApiToken.revoked_at.is_(None)))
    if live >= MAX_TOKENS:
        raise ValidationFailed("name", f"A jurisdiction has at most {MAX_TOKENS} tokens; revoke one first.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(jurisdiction_id=jurisdiction.id, member_id=actor.id, name=name, prefix=secret[:12],
                     token_hash=_hash(secret))
    db.session.add(token)
    db.session.flush()
    record_event(actor=actor, action="token.create", subject=f"jurisdiction {jurisdiction.slug}", name=name)
    return token, secret


def revoke_token(token: ApiToken, *, actor) -> None:
    require_editor(actor, token.jurisdiction)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record_event(actor=actor, action="token.revoke", subject=f"jurisdiction {token.jurisdiction.slug}",
                     name=token.name)


def tokens_of(jurisdiction: Jurisdiction) -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).where(ApiToken.jurisdiction_id == jurisdiction.id)
                                   .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())))


def get_token(jurisdiction: Jurisdiction, token_id: int) -> ApiToken | None:
    token = db.session.get(ApiToken, token_id)
    return token if token is not None and token.jurisdiction_id == jurisdiction.id else None


def authenticate_token(secret: str | None) -> ApiToken | None:
    """The live token with this secret, or None. A token stops working when it is revoked, and when its
    creator is no longer the jurisdiction's representative (nor staff)."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(secret),
                                                     ApiToken.revoked_at.is_(None)))
    if token is None or token.member is None:
        return None
    if not can_edit(token.member, token.jurisdiction):
        return None
    db.session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=utcnow())
                       .execution_options(synchronize_session=False))
    return token
