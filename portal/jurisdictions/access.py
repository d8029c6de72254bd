"""Who may change a jurisdiction: staff, and the members staff approved as its representatives."""
from sqlalchemy import select

from portal.exceptions import NotAllowed
from portal.extensions import db
from portal.jurisdictions.models import Jurisdiction, Representative


def represented_jurisdictions(member) -> list[Jurisdiction]:
    """The jurisdictions this member represents (approved), by name."""
    if member is None or not getattr(member, "is_authenticated", False) or not member.is_verified:
        return []
    return list(db.session.scalars(
        select(Jurisdiction).join(Representative, Representative.jurisdiction_id == Jurisdiction.id)
        .where(Representative.member_id == member.id, Representative.status == "approved")
        .order_by(Jurisdiction.name)))


def is_representative(member, jurisdiction: Jurisdiction) -> bool:
    if member is None or not getattr(member, "is_authenticated", False) or not member.is_verified:
        return False
    return db.session.scalar(select(Representative.id).where(
        Representative.member_id == member.id, Representative.jurisdiction_id == jurisdiction.id,
        Representative.status == "approved").limit(1)) is not None


def can_edit(member, jurisdiction: Jurisdiction) -> bool:
    """Staff edit every jurisdiction; a representative edits only their own."""
    if member is None or not getattr(member, "is_authenticated", False):
        return False
    return member.is_staff or is_representative(member, jurisdiction)


def require_editor(member, jurisdiction: Jurisdiction) -> None:
    if not can_edit(member, jurisdiction):
        raise NotAllowed("Only this jurisdiction's representatives and staff may change it.")


def representatives_of(jurisdiction: Jurisdiction) -> list[Representative]:
    return list(db.session.scalars(
        select(Representative).where(Representative.jurisdiction_id == jurisdiction.id,
                                     Representative.status == "approved").order_by(Representative.created_at)))
