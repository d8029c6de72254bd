"""The home page shows featured and newest resources from the library."""
import re
from datetime import timedelta

from portal.database import utcnow
from tests.library_helpers import make_resource


def section_slugs(html: str, heading_id: str) -> list[str]:
    section = re.search(rf'<section aria-labelledby="{heading_id}">(.*?)</section>', html, re.S)
    assert section, heading_id
    return re.findall(r'<h3><a href="/resources/([^"]+)">', section.group(1))


def test_home_shows_featured_and_newest_resources(library):
    html = library.test_client().get("/").get_data(as_text=True)
    assert "Featured resources" in html and "Newest in the library" in html
    # Featured: newest first, at most three.
    assert section_slugs(html, "featured-title") == ["advocates-toolkit", "journalists-toolkit", "initiative-overview"]
    # Newest: what is not already featured, newest first.
    assert section_slugs(html, "newest-title") == ["call-categories-guide", "tucson-community-safety", "chicago-care",
                                                   "san-francisco-street-crisis-response"]
    # The members-only early release is announced by title and summary only.
    cards = re.findall(r'<article class="resource-card">.*?</article>', html, re.S)
    [card] = [card for card in cards if "/resources/call-categories-guide" in card]
    assert "Members only" in card
    assert "Map each of your call types" not in html and "Administrative issues" not in html
    assert 'href="/resources"' in html and 'href="/feed.atom"' in html


def test_newly_published_resources_come_first_and_unpublished_ones_never(library):
    newest = make_resource(library, title="Brand-new pelican toolkit", slug="pelican")
    make_resource(library, title="Draft cormorant", slug="cormorant", status="draft")
    make_resource(library, title="Scheduled gannet", slug="gannet", publish_at=utcnow() + timedelta(days=1))
    make_resource(library, title="Featured heron", slug="heron", is_featured=True)
    html = library.test_client().get("/").get_data(as_text=True)
    assert newest and section_slugs(html, "newest-title")[0] == "pelican"
    assert section_slugs(html, "featured-title")[0] == "heron"
    assert "cormorant" not in html and "gannet" not in html


def test_home_without_resources_has_no_empty_sections(client):
    html = client.get("/").get_data(as_text=True)
    assert "Featured resources" not in html and "Newest in the library" not in html


def test_sitemap_lists_visible_resources_and_alert_settings_offer_every_topic(library, client):
    from tests.conftest import create_member, login

    sitemap = client.get("/sitemap.xml").get_data(as_text=True)
    assert "http://localhost/resources/denver-star</loc>" in sitemap
    assert "call-categories-guide" in sitemap  # members-only is still listed: its title and summary are public
    create_member(library, email="topics@example.org")
    login(client, "topics@example.org")
    page = client.get("/account/alerts").get_data(as_text=True)
    assert 'value="opioids"' in page and 'value="media"' in page
