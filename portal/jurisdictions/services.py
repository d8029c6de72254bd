"""Reading and saving jurisdictions."""
from sqlalchemy import select

from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.jurisdictions.models import Jurisdiction
from portal.records import save_by_slug


def get_jurisdiction(slug: str) -> Jurisdiction | None:
    return db.session.scalar(select(Jurisdiction).where(Jurisdiction.slug == slug))


def list_jurisdictions() -> list[Jurisdiction]:
    return list(db.session.scalars(select(Jurisdiction).order_by(Jurisdiction.name)))


def save_jurisdiction(*, slug: str, name: str, state: str = "", summary: str = "") -> tuple[Jurisdiction, bool]:
    """Create or update by slug; returns the row and whether anything changed."""
    if not slug or len(slug) > 80 or not name:
        raise ValidationFailed("slug", "A jurisdiction needs a slug (at most 80 characters) and a name.")
    return save_by_slug(Jurisdiction, slug, {"name": name, "state": state or "", "summary": summary or ""})
