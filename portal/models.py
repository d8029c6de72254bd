"""Imports every feature's models so that SQLAlchemy and Alembic see the whole schema."""
from portal.audit.models import AuditEvent  # noqa: F401
from portal.calls.models import CallAnalysis, CallSettings, CallTypeRule  # noqa: F401
from portal.events.models import (CalendarFeed, Event, EventResource, Registration, ReminderSent,  # noqa: F401
                                  Series)
from portal.jurisdictions.models import (ApiToken, JoinApplication, Jurisdiction, JurisdictionLink,  # noqa: F401
                                         MetricReport, MetricRevision, Program, ProgramResource,
                                         Representative)
from portal.library.models import (AlertDelivery, Attachment, AttachmentDownload, Resource,  # noqa: F401
                                   ResourceRevision, SavedSearch, Suggestion)
from portal.members.models import Member  # noqa: F401
from portal.network.models import NetworkProfile, profile_programs  # noqa: F401
from portal.pages.models import Page  # noqa: F401
