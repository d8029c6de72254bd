"""The home page (its key figures with their sources, ways in by audience, featured and newest resources) and
the contact page."""
import re
from datetime import timedelta

import pytest

from portal.database import utcnow
from tests.conftest import ROOT
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


INITIATIVE = "https://www.policingproject.org/reimagining-public-safety"


def hero(html: str) -> str:
    section = re.search(r'<section class="hero" aria-labelledby="home-title">(.*?)</section>', html, re.S)
    assert section
    return section.group(1)


def test_first_screen_states_the_figure_and_the_goal_with_their_source(library):
    html = library.test_client().get("/").get_data(as_text=True)
    first = hero(html)
    assert "12 million 911 calls a year" in first and "100 largest US municipalities" in first
    assert "20 percent" in first and "Minneapolis" in first
    assert first.count(f'href="{INITIATIVE}"') == 2  # one source link for each figure
    # Both come before the ways in and before any list of resources.
    for later in ('id="entry-title"', 'class="card-list"'):
        assert html.index("12 million 911 calls a year") < html.index(later)


def test_the_figures_come_from_the_stored_page_not_the_template(app):
    from portal.pages.services import get_page, save_page
    from tests.conftest import unit

    template = (ROOT / "templates" / "public" / "home.html").read_text()
    assert "percent" not in template and "million calls a year" not in template.lower()
    with unit(app):
        page = get_page("home")
        save_page(slug="home", title=page.title, summary=page.summary,
                  body="Otters pledged **37 percent** ([source](https://example.org/otters)).\n\n## More\n\nText.")
    first = hero(app.test_client().get("/").get_data(as_text=True))
    assert "37 percent" in first and 'href="https://example.org/otters"' in first
    assert "20 percent" not in first


@pytest.mark.parametrize("audience, expected, excluded", [
    ("journalists", "journalists-toolkit", "advocates-toolkit"),
    ("advocates", "advocates-toolkit", "journalists-toolkit"),
    ("officials", "denver-star", "journalists-toolkit"),
    ("practitioners", "chicago-care", "advocates-toolkit"),
])
def test_entry_points_open_the_library_filtered_for_each_audience(library, audience, expected, excluded):
    client = library.test_client()
    html = client.get("/").get_data(as_text=True)
    entry = re.search(r'<section class="entry-points".*?</section>', html, re.S).group(0)
    assert f'href="/resources?audience={audience}"' in entry
    results = client.get(f"/resources?audience={audience}").get_data(as_text=True)
    found = re.findall(r'<h3><a href="/resources/([^"]+)">', results)
    assert expected in found and excluded not in found


def test_contact_page_says_who_runs_the_site_and_shows_the_mail_from_address(client):
    response = client.get("/contact")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Contact</h1>" in html and "Policing Project at NYU School of Law" in html
    assert f'href="{INITIATIVE}"' in html
    # Unset CONTACT_EMAIL: the address part of the default MAIL_FROM, "12 Million Calls <no-reply@localhost>".
    assert '<a href="mailto:no-reply@localhost">no-reply@localhost</a>' in html


def test_contact_address_follows_the_settings(tmp_path):
    from portal.pages.services import save_page
    from tests.conftest import _empty_database, make_app, unit

    for overrides, shown in [({"CONTACT_EMAIL": "press@example.org"}, "press@example.org"),
                             ({"MAIL_FROM": "Team <team@example.org>"}, "team@example.org")]:
        app = make_app(tmp_path / shown, **overrides)
        with unit(app):
            save_page(slug="contact", title="Contact", body="Who runs it.")
        html = app.test_client().get("/contact").get_data(as_text=True)
        assert f'href="mailto:{shown}"' in html
        _empty_database(app)


def test_contact_email_setting_is_read_from_the_environment(tmp_path, monkeypatch):
    from portal.config import load_settings

    monkeypatch.setenv("CONTACT_EMAIL", "hello@example.org")
    assert load_settings(tmp_path)["CONTACT_EMAIL"] == "hello@example.org"
    monkeypatch.delenv("CONTACT_EMAIL")
    assert load_settings(tmp_path)["CONTACT_EMAIL"] is None  # then the page shows the MAIL_FROM address


def test_contact_is_linked_from_every_footer_the_privacy_notice_and_the_sitemap(client):
    for path in ("/", "/about", "/privacy", "/login"):
        html = client.get(path).get_data(as_text=True)
        footer = re.search(r'<footer class="site-footer">.*?</footer>', html, re.S).group(0)
        assert 'href="/contact"' in footer, path
    privacy = client.get("/privacy").get_data(as_text=True)
    article = re.search(r'<article class="prose">.*?</article>', privacy, re.S).group(0)
    assert 'href="/contact"' in article
    assert "http://localhost/contact</loc>" in client.get("/sitemap.xml").get_data(as_text=True)


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 360])
def test_home_and_contact_are_accessible_at_both_widths(browser, live_server, library, width):
    from tests.conftest import check_accessible

    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 800})
    page = context.new_page()
    try:
        for path in ("/", "/contact"):
            assert page.goto(path).status == 200
            if path == "/":
                # The figure and the goal are on the first screen, without scrolling.
                for figure in ("20 percent", "12 million 911 calls a year"):
                    box = page.locator(".hero-figures strong", has_text=figure).bounding_box()
                    assert box and box["y"] + box["height"] <= 800, (figure, box)
            check_accessible(page)
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{path} is wider than a {width} px screen"
    finally:
        context.close()
