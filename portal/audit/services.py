"""Writing and reading the audit log. Recording never commits: it joins the caller's unit of work."""
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.extensions import db


def record_event(*, actor, action: str, subject: str, **details) -> AuditEvent:
    event = AuditEvent(actor_id=actor.id if actor is not None else None, action=action,
                       subject=subject, details=details)
    db.session.add(event)
    return event


def list_events(*, page: int = 1, per_page: int = 50, action: str | None = None):
    query = select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action == action)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)
