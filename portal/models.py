"""Imports every feature's models so that SQLAlchemy and Alembic see the whole schema."""
from portal.audit.models import AuditEvent  # noqa: F401
from portal.members.models import Member  # noqa: F401
from portal.pages.models import Page  # noqa: F401
