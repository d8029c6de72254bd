"""Reading and saving pages."""
from sqlalchemy import select

from portal.exceptions import ValidationFailed
from portal.extensions import db
from portal.pages.models import Page
from portal.records import save_by_slug

SLUG_MAX = 80
TITLE_MAX = 200  # the column's length: PostgreSQL rejects longer values, SQLite would keep them


def get_page(slug: str) -> Page | None:
    return db.session.scalar(select(Page).where(Page.slug == slug))


def save_page(*, slug: str, title: str, body: str, summary: str = "") -> tuple[Page, bool]:
    """Create or update a page by slug. Returns the page and whether anything changed."""
    if not slug or len(slug) > SLUG_MAX or not title or len(title) > TITLE_MAX:
        raise ValidationFailed("slug", "A page needs a slug (at most 80 characters) and a title (at most 200).")
    return save_by_slug(Page, slug, {"title": title, "summary": summary or "", "body": body or ""})
