"""Reading and saving pages."""
from sqlalchemy import select

from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.pages.models import Page

SLUG_MAX = 80
TITLE_MAX = 200  # the column's length: PostgreSQL rejects longer values, SQLite would keep them


def get_page(slug: str) -> Page | None:
    return db.session.scalar(select(Page).where(Page.slug == slug))


def save_page(*, slug: str, title: str, body: str, summary: str = "") -> tuple[Page, bool]:
    """Create or update a page by slug. Returns the page and whether anything changed."""
    if not slug or len(slug) > SLUG_MAX or not title or len(title) > TITLE_MAX:
        raise ValidationFailed("slug", "A page needs a slug (at most 80 characters) and a title (at most 200).")
    page = get_page(slug)
    values = {"title": title, "summary": summary or "", "body": body or ""}
    if page is not None and all(getattr(page, key) == value for key, value in values.items()):
        return page, False
    if page is None:
        page = Page(slug=slug)
        db.session.add(page)
    for key, value in values.items():
        setattr(page, key, value)
    db.session.commit()
    return page, True
