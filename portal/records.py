"""Saving records that are kept by slug (pages, jurisdictions): idempotent, inside the caller's unit of work."""
from sqlalchemy import select

from portal.extensions import db


def save_by_slug(model, slug: str, values: dict):
    """Create or update the row with this slug. Returns (row, changed); the caller's unit of work commits."""
    row = db.session.scalar(select(model).where(model.slug == slug))
    if row is not None and all(getattr(row, key) == value for key, value in values.items()):
        return row, False
    if row is None:
        row = model(slug=slug)
        db.session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    db.session.flush()
    return row, True
