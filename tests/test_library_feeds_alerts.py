"""Atom feeds of new resources and of any search; alert digests with one-click unsubscribe; member suggestions."""
import re
from datetime import timedelta

import feedparser
import pytest
from sqlalchemy import select

from portal.database import utcnow
from portal.extensions import db
from portal.library.models import Resource, Suggestion
from portal.members.services import find_member_by_email
from tests.conftest import create_member, link_path, login, Outbox, post_form, unit
from tests.library_helpers import make_resource

SECRET_BODY = "The gingko clause is for members only."


def parse_feed(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.data)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed, response.get_data(as_text=True)


@pytest.fixture
def shelf(app):
    today = utcnow().date()
    return {
        "public": make_resource(app, title="Platypus policy", slug="platypus-policy", type="policy",
                                summary="A public policy.", body="Open **body** text.", topics=["wildlife"]),
        "members": make_resource(app, title="Platypus members manual", slug="platypus-manual", access="members",
                                 summary="For members.", body=SECRET_BODY, type="guide"),
        "opened": make_resource(app, title="Opened early release", slug="opened", access="members",
                                members_until=today - timedelta(days=1), body="Now open to all."),
        "draft": make_resource(app, title="Draft platypus", slug="draft-platypus", status="draft"),
        "scheduled": make_resource(app, title="Scheduled platypus", slug="scheduled-platypus",
                                   publish_at=utcnow() + timedelta(days=1)),
        "archived": make_resource(app, title="Archived platypus", slug="archived-platypus", status="archived"),
    }


# --- feeds -------------------------------------------------------------------------------------

def test_the_site_feed_lists_new_public_resources(client, shelf):
    feed, xml = parse_feed(client, "/feed.atom")
    titles = {entry.title for entry in feed.entries}
    assert titles == {"Platypus policy", "Opened early release"}
    assert "gingko" not in xml
    entry = next(e for e in feed.entries if e.title == "Platypus policy")
    assert entry.link == "http://localhost/resources/platypus-policy"
    assert "<strong>body</strong>" in entry.content[0].value
    assert [tag.term for tag in entry.tags] == ["wildlife"]
    assert feed.feed.links[0].href.startswith("http://localhost/")
    assert 'href="/feed.atom"' in client.get("/").get_data(as_text=True)


def test_the_site_feed_is_valid_when_empty(client):
    feed, _ = parse_feed(client, "/feed.atom")
    assert feed.entries == []


SEARCHES = ["", "?q=platypus", "?q=platypus&type=guide", "?type=policy&sort=title", "?q=gingko",
            "?q=*&page=2", "?topic=wildlife&year=2026", '?q="platypus"+NOT+manual', "?q=%3Cscript%3E"]


def test_every_search_page_links_its_own_valid_feed(app, client, shelf):
    create_member(app)
    member = app.test_client()
    login(member)
    for search in SEARCHES:
        for reader in (client, member):
            html = reader.get(f"/resources{search}").get_data(as_text=True)
            link = re.search(r'<link rel="alternate" type="application/atom\+xml" title="This search as a feed" '
                             r'href="([^"]+)">', html).group(1).replace("&amp;", "&")
            assert link.startswith("/resources/feed.atom")
            # The visible link leads to the page that explains feed readers; the feed itself is the <link>.
            assert re.search(r'<a href="[^"]+">Follow (this search|new resources) in a feed reader</a>', html)
            feed, xml = parse_feed(reader, link)
            assert "gingko" not in xml.replace("q=gingko", "").replace("“gingko”", ""), search
            assert not {"Draft platypus", "Scheduled platypus", "Archived platypus"} & {e.title for e in feed.entries}


def test_a_search_feed_holds_the_search_results_and_no_bodies(app, client, shelf):
    feed, xml = parse_feed(client, "/resources/feed.atom?q=platypus")
    assert {e.title for e in feed.entries} == {"Platypus policy", "Platypus members manual"}
    assert all("content" not in entry for entry in feed.entries)
    assert "For members." in xml and "gingko" not in xml
    feed, _ = parse_feed(client, "/resources/feed.atom?q=platypus&type=guide")
    assert [e.title for e in feed.entries] == ["Platypus members manual"]
    # A body word finds nothing in a feed, even for a signed-in member: feeds are public.
    create_member(app)
    login(client)
    feed, _ = parse_feed(client, "/resources/feed.atom?q=gingko")
    assert feed.entries == []
    assert feed.feed.title == "12 Million Calls: “gingko”"


# --- alerts ------------------------------------------------------------------------------------

def joined_earlier(app, email, **profile):
    """A verified member who joined an hour ago (alerts cover what is published after joining)."""
    create_member(app, email=email, **profile)
    with unit(app):
        member = find_member_by_email(email)
        member.created_at = utcnow() - timedelta(hours=1)


def save_search(app, email, query: dict):
    client = app.test_client()
    login(client, email)
    response = post_form(client, "/resources/saved", query, token_from="/resources")
    assert response.status_code == 302
    return client


def send(runner):
    result = runner.invoke(args=["alerts", "send"])
    assert result.exit_code == 0, result.output
    return result.output


def listed(message):
    return re.findall(r"^- (.+) \(", Outbox.text(message), re.M)


@pytest.fixture
def subscribers(app):
    joined_earlier(app, "saver@example.org")
    save_search(app, "saver@example.org", {"q": "platypus"})
    joined_earlier(app, "picker@example.org")
    picker = app.test_client()
    login(picker, "picker@example.org")
    make_resource(app, title="Older wildlife note", topics=["wildlife"],
                  publish_at=utcnow() - timedelta(hours=2))  # before they joined: gives the topic to pick
    response = post_form(picker, "/account/alerts", {"wants_alerts": "y", "topics": ["wildlife"]},
                         token_from="/account/alerts")
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    return ("saver@example.org", "picker@example.org")


def test_alerts_send_a_digest_of_new_matches_once(app, runner, outbox, subscribers):
    joined_earlier(app, "quiet@example.org")  # alerts off
    create_member(app, email="unverified@example.org", verified=False, wants_alerts=True)
    make_resource(app, title="Platypus policy", slug="platypus-policy", topics=["policy"])
    make_resource(app, title="Wombat wildlife guide", slug="wombat", topics=["wildlife"])
    make_resource(app, title="Platypus draft", slug="platypus-draft", status="draft")
    make_resource(app, title="Platypus later", slug="platypus-later", publish_at=utcnow() + timedelta(days=1))
    before = len(outbox.messages())
    assert "Sent 2 digests." in send(runner)
    assert listed(outbox.last("saver@example.org")) == ["Platypus policy"]
    assert listed(outbox.last("picker@example.org")) == ["Wombat wildlife guide"]
    assert len(outbox.messages()) == before + 2
    for email in ("quiet@example.org", "unverified@example.org"):
        assert all("New on" not in m["Subject"] for m in outbox.messages(email))

    assert "Sent 0 digests." in send(runner)  # never the same item twice
    assert len(outbox.messages()) == before + 2

    make_resource(app, title="Platypus sequel", slug="platypus-sequel")
    assert "Sent 1 digest." in send(runner)
    assert listed(outbox.last("saver@example.org")) == ["Platypus sequel"]
    assert outbox.last("saver@example.org")["Subject"] == "New on 12 Million Calls: 1 resource"


def test_a_members_only_match_is_listed_for_verified_members(app, runner, outbox, subscribers):
    make_resource(app, title="Platypus members manual", access="members", body=SECRET_BODY)
    send(runner)
    message = outbox.last("saver@example.org")
    assert "Platypus members manual (Toolkit, members only)" in Outbox.text(message)
    assert "gingko" not in Outbox.text(message)


def test_a_resource_published_just_after_joining_is_not_missed(app, outbox):
    from portal.library.alerts import send_alerts

    create_member(app, email="new@example.org", wants_alerts=True)
    with unit(app):
        joined = find_member_by_email("new@example.org").created_at
    # Published later in the same second as the sign-up.
    make_resource(app, title="Just published", publish_at=joined.replace(microsecond=999_999))
    with app.app_context():  # send_alerts makes one unit of work per member
        assert send_alerts(now=utcnow() + timedelta(seconds=2)) == 1
    assert listed(outbox.last("new@example.org")) == ["Just published"]


def test_the_unsubscribe_link_works_without_signing_in(app, runner, outbox, subscribers):
    make_resource(app, title="Platypus policy")
    send(runner)
    message = outbox.last("saver@example.org")
    link = Outbox.link(message, r"http://localhost/alerts/unsubscribe/\S+")
    assert message["List-Unsubscribe"] == f"<{link}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in message.get_body(preferencelist=("html",)).get_content()

    visitor = app.test_client()
    page = visitor.get(link_path(link))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Unsubscribe from alerts" in html
    with unit(app):
        assert find_member_by_email("saver@example.org").wants_alerts  # a GET (a link scanner) changes nothing

    # RFC 8058: the mail client POSTs the one-click body, with no cookie and no form token.
    response = app.test_client().post(link_path(link), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "You will get no more alerts" in response.get_data(as_text=True)
    with unit(app):
        assert not find_member_by_email("saver@example.org").wants_alerts

    make_resource(app, title="Platypus sequel")
    send(runner)
    assert listed(outbox.last("saver@example.org")) == ["Platypus policy"]


def test_a_failing_digest_does_not_stop_the_others(app, runner, outbox, subscribers, monkeypatch, caplog):
    """A saved search the index cannot run (here: made to raise) is logged and skipped; everyone else's
    digest goes out, and the failing member's items stay unsent for the next run."""
    from portal.library import alerts

    joined_earlier(app, "broken@example.org")
    save_search(app, "broken@example.org", {"q": "boom"})
    joined_earlier(app, "after@example.org")  # a higher id: handled after the failing member
    save_search(app, "after@example.org", {"q": "platypus"})
    make_resource(app, title="Platypus boom policy", topics=["wildlife"])
    real = alerts.search.search

    def flaky(*args, **kwargs):
        if "boom" in repr((args, kwargs)):
            raise RuntimeError("the index cannot run this saved search")
        return real(*args, **kwargs)

    monkeypatch.setattr(alerts.search, "search", flaky)
    assert "Sent 3 digests." in send(runner)
    for email in ("saver@example.org", "picker@example.org", "after@example.org"):
        assert listed(outbox.last(email)) == ["Platypus boom policy"], email
    assert not [m for m in outbox.messages("broken@example.org") if "New on" in m["Subject"]]
    assert "alert digest for member" in caplog.text and "failed; skipped" in caplog.text

    monkeypatch.setattr(alerts.search, "search", real)  # repaired: the skipped digest goes out next time
    assert "Sent 1 digest." in send(runner)
    assert listed(outbox.last("broken@example.org")) == ["Platypus boom policy"]


def test_an_old_unsubscribe_link_does_not_reach_a_newer_member(app, runner, outbox, subscribers):
    """A link names its member by id and by the address it was sent to, so a row that later holds the same
    id (SQLite without AUTOINCREMENT reused the highest deleted id; a restored backup can too) is not
    touched by it."""
    from portal.library.alerts import unsubscribe_token
    from portal.members.models import Member

    joined_earlier(app, "gone@example.org", wants_alerts=True)
    with unit(app):
        gone = find_member_by_email("gone@example.org")
        old_id, old_link = gone.id, f"/alerts/unsubscribe/{unsubscribe_token(gone)}"
        db.session.delete(gone)
    with unit(app):
        db.session.add(Member(id=old_id, email="newcomer@example.org", password_hash="x", name="Nia Newcomer",
                              wants_alerts=True, email_verified_at=utcnow()))
    response = app.test_client().post(old_link, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400
    assert "This link does not work" in response.get_data(as_text=True)
    with unit(app):
        assert find_member_by_email("newcomer@example.org").wants_alerts


def test_a_broken_unsubscribe_link_is_refused(app, runner, outbox, subscribers):
    response = app.test_client().post("/alerts/unsubscribe/not-a-token")
    assert response.status_code == 400
    assert "This link does not work" in response.get_data(as_text=True)
    with unit(app):
        assert find_member_by_email("saver@example.org").wants_alerts


# --- member suggestions ------------------------------------------------------------------------

SUGGESTION = {"title": "Tucson call-transfer protocol", "type": "policy", "summary": "How call-takers transfer.",
              "external_url": "https://example.org/tucson", "jurisdiction": "tucson", "note": "Public document."}


def suggest(app, email="member@example.org"):
    client = app.test_client()
    login(client, email)
    response = post_form(client, "/resources/suggest", SUGGESTION, token_from="/resources/suggest")
    assert response.status_code == 302
    with unit(app):
        return db.session.scalars(select(Suggestion).order_by(Suggestion.id.desc())).first().id


def test_only_verified_members_suggest(app, client):
    assert client.get("/resources/suggest").status_code == 302
    create_member(app, verified=False)
    login(client)
    assert client.get("/resources/suggest").status_code == 403


def test_a_suggestion_names_a_jurisdiction_of_the_directory(app, staff):
    create_member(app)
    client = app.test_client()
    login(client)
    page = client.get("/resources/suggest").get_data(as_text=True)
    assert '<option value="tucson">Tucson, Arizona</option>' in page
    suggestion_id = suggest(app)
    with unit(app):
        suggestion = db.session.get(Suggestion, suggestion_id)
        assert suggestion.jurisdiction.slug == "tucson" and suggestion.jurisdiction_label == "Tucson, Arizona"
    staff_client = app.test_client()
    login(staff_client, staff)
    assert "Jurisdiction: Tucson, Arizona" in staff_client.get("/staff/suggestions").get_data(as_text=True)
    refused = post_form(client, "/resources/suggest", dict(SUGGESTION, jurisdiction="Atlantis"),
                        token_from="/resources/suggest")
    assert refused.status_code == 400
    assert "Choose a jurisdiction from the list" in refused.get_data(as_text=True)


def test_a_suggestion_keeps_a_place_not_in_the_directory_as_a_note(app):
    from portal.library.suggestions import submit_suggestion

    create_member(app)
    with unit(app):
        suggestion = submit_suggestion(member=find_member_by_email("member@example.org"), title="Pima protocol",
                                       type="policy", jurisdiction="", jurisdiction_other=" Pima  County ")
        assert suggestion.jurisdiction_id is None and suggestion.jurisdiction_label == "Pima County"


def test_staff_accept_a_suggestion_as_a_draft(app, staff, outbox):
    create_member(app)
    suggestion_id = suggest(app)
    staff_client = app.test_client()
    login(staff_client, staff)
    queue = staff_client.get("/staff/suggestions").get_data(as_text=True)
    assert "Tucson call-transfer protocol" in queue and "from Maya Member" in queue
    response = post_form(staff_client, f"/staff/suggestions/{suggestion_id}", {"decision": "accept", "note": "Thanks!"},
                         token_from="/staff/suggestions")
    assert response.status_code == 302
    with unit(app):
        resource = db.session.scalar(select(Resource).where(Resource.title == SUGGESTION["title"]))
        assert resource.status == "draft" and resource.type == "policy"
        assert resource.external_url == SUGGESTION["external_url"] and resource.author == "Maya Member"
        assert response.headers["Location"] == f"/staff/resources/{resource.id}/edit"
        assert db.session.get(Suggestion, suggestion_id).status == "accepted"
    message = outbox.last("member@example.org")
    assert message["Subject"] == "Your suggested resource was accepted" and "Thanks!" in Outbox.text(message)
    assert "Tucson call-transfer protocol" not in staff_client.get("/staff/suggestions").get_data(as_text=True)
    assert app.test_client().get("/resources/tucson-call-transfer-protocol").status_code == 404  # a draft
    audit = staff_client.get("/staff/audit").get_data(as_text=True)
    assert "suggestion.submitted" in audit and "suggestion.accepted" in audit


def test_staff_decline_with_a_note_that_is_mailed(app, staff, outbox):
    create_member(app)
    suggestion_id = suggest(app)
    staff_client = app.test_client()
    login(staff_client, staff)
    path = f"/staff/suggestions/{suggestion_id}"
    response = post_form(staff_client, path, {"decision": "decline", "note": ""}, token_from="/staff/suggestions",
                         follow_redirects=True)
    assert "Write a short note to the member explaining the decision." in response.get_data(as_text=True)
    with unit(app):
        assert db.session.get(Suggestion, suggestion_id).status == "pending"

    note = "We already list a similar protocol."
    post_form(staff_client, path, {"decision": "decline", "note": note}, token_from="/staff/suggestions")
    message = outbox.last("member@example.org")
    assert message["Subject"] == "About the resource you suggested"
    assert note in Outbox.text(message) and "http://localhost/resources" in Outbox.text(message)
    with unit(app):
        assert db.session.get(Suggestion, suggestion_id).status == "declined"
        assert db.session.scalar(select(Resource).where(Resource.title == SUGGESTION["title"])) is None
    response = post_form(staff_client, path, {"decision": "accept", "note": ""}, token_from="/staff/suggestions",
                         follow_redirects=True)
    assert "This suggestion has already been decided." in response.get_data(as_text=True)
