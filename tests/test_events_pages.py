"""The public events pages as readers use them: the list with its filters, one event with its registration
panel in every state, series, the guest flow through the mail, times in the event's and the viewer's zones,
calendar files, and the join link shown only to people who hold a seat."""
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import lxml.html
import pytest

from portal.database import utcnow
from portal.events import account as event_account, registrations, services
from portal.library import services as library
from portal.members.services import find_member_by_email, get_member, update_profile
from tests.conftest import Outbox, counted_queries, create_event, create_member, link_path, login, unit
from tests.library_helpers import make_resource

JOIN = "https://meet.example.org/j/8675309"


def tree(client, path, status=200):
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code, response.get_data(as_text=True)[:300])
    return lxml.html.fromstring(response.get_data(as_text=True))


def words(element) -> str:
    return " ".join(element.text_content().split())


def text_of(client, path, status=200) -> str:
    return words(tree(client, path, status))


def panel(client, slug) -> str:
    (section,) = tree(client, f"/events/{slug}").xpath('//section[@aria-labelledby="registration-title"]')
    return words(section)


def flashes(page) -> str:
    return " ".join(words(p) for p in page.xpath('//div[@class="flashes"]/p'))


def form_token(client, path) -> str:
    """The session's CSRF token as a form on `path` carries it (a page anonymous readers share has no meta tag:
    portal.csrf_issued)."""
    page = lxml.html.fromstring(client.get(path).get_data(as_text=True))
    found = page.xpath('//input[@name="csrf_token"]/@value') or page.xpath('//meta[@name="csrf-token"]/@content')
    assert found, f"no CSRF token on {path}"
    return found[0]


def post(client, path, data=None, *, token_from="/login"):
    """A browser's POST: with the CSRF token of this session, read from the page the form is on."""
    return client.post(path, data={"csrf_token": form_token(client, token_from), **(data or {})})


def register(client, slug):
    response = post(client, f"/events/{slug}/register", token_from=f"/events/{slug}")
    assert response.status_code == 302, response.status_code
    return flashes(lxml.html.fromstring(client.get(response.headers["Location"]).get_data(as_text=True)))


def signed_in(app, email, *, timezone="", **profile):
    member_id = create_member(app, email=email, name=email.split("@")[0].title(), **profile)
    if timezone:
        with unit(app):
            update_profile(get_member(member_id), timezone=timezone)
    client = app.test_client()
    login(client, email)
    return client


def registration_of(app, slug, email):
    with unit(app):
        member = find_member_by_email(email)
        event = services.get_event(slug)
        found = registrations.find_registration(event, member=member) if member is not None else \
            registrations.find_registration(event, guest_email=email)
        return None if found is None else found.status


def resource(app, **fields) -> dict:
    resource_id = make_resource(app, **fields)
    with unit(app):
        return {"id": resource_id, "slug": library.get_resource(resource_id).slug}


def with_series(app, slug="field-notes", title="Field notes"):
    with unit(app):
        services.save_series(slug=slug, title=title, summary="Practitioners **compare notes**.")
    return slug


# --- the list ------------------------------------------------------------------------------------------------

def test_the_list_puts_upcoming_events_first_soonest_first_then_past_ones_newest_first(app, client):
    later = create_event(app, title="Later session", days_ahead=20)
    sooner = create_event(app, title="Sooner session", days_ahead=3)
    called_off = create_event(app, title="Called-off session", days_ahead=10)
    with unit(app):
        services.cancel_event(services.get_event(called_off), actor=None)
    old = create_event(app, title="Old session", days_ahead=-40, recording_url="https://video.example.org/old")
    recent = create_event(app, title="Recent session", days_ahead=-5)
    page = tree(client, "/events")
    upcoming = [words(h) for h in page.xpath('//section[@aria-labelledby="upcoming-title"]//h3')]
    past = [words(h) for h in page.xpath('//section[@aria-labelledby="past-title"]//h3')]
    assert upcoming == ["Sooner session", "Called-off session", "Later session"]
    assert past == ["Recent session", "Old session"]
    cards = {words(a.xpath("ancestor::article")[0].xpath(".//h3")[0]): a.xpath("ancestor::article")[0]
             for a in page.xpath("//article//h3/a")}
    assert "Cancelled" in words(cards["Called-off session"])
    assert "Cancelled" not in words(cards["Later session"])
    assert cards["Old session"].xpath('.//a[starts-with(., "Recording")]/@href') == ["https://video.example.org/old"]
    assert not cards["Recent session"].xpath('.//a[starts-with(., "Recording")]')
    assert page.xpath(f'//a[@href="/events/{sooner}"]') and page.xpath(f'//a[@href="/events/{later}"]')
    assert page.xpath(f'//a[@href="/events/{old}"]') and page.xpath(f'//a[@href="/events/{recent}"]')


def test_each_card_shows_the_time_in_the_events_zone_speakers_audiences_and_seats_left(app, client):
    slug = create_event(app, title="Dispatch triage", timezone="America/Chicago", capacity=30,
                        speakers=[{"name": "Rosa Diaz", "title": "Director", "organisation": "City of Denver"}],
                        audiences=["officials", "journalists"], join_url=JOIN)
    create_member(app, email="early@example.org")
    with unit(app):
        registrations.register(services.get_event(slug), member=find_member_by_email("early@example.org"))
    page = tree(client, "/events")
    (card,) = page.xpath("//article[contains(@class, 'event-card')]")
    with unit(app):
        event = services.get_event(slug)
        start_iso = event.starts_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        local = event.local_start
    (start,) = card.xpath(".//time[@data-local]")
    assert start.get("datetime") == start_iso
    assert f"{local.day}, {local.year}" in words(start)
    assert re.search(r"\bC[SD]T\b", words(card))  # the event's zone, Chicago
    assert "With Rosa Diaz" in words(card)
    assert "For journalists, officials" in words(card) or "For officials, journalists" in words(card)
    assert "29 seats left" in words(card)
    assert "Maya" not in words(page) and "early@example.org" not in words(page)  # never who registered
    assert JOIN not in lxml.html.tostring(page, encoding="unicode")


def test_an_empty_list_says_so(client):
    page = tree(client, "/events")
    assert "No upcoming events are scheduled yet" in words(page)
    assert "No past events yet" in words(page)


def test_filters_by_series_audience_and_topic_are_plain_links_with_counts(app, client):
    series = with_series(app)
    create_event(app, title="Series talk", series=series, audiences=["officials"], topics=["dispatch"])
    create_event(app, title="Press talk", audiences=["journalists"], topics=["media"])
    create_event(app, title="Past press talk", days_ahead=-3, audiences=["journalists"], topics=["media"])
    page = tree(client, "/events")
    links = {words(a): a.get("href") for a in page.xpath('//aside[@aria-label="Filter events"]//section//a')}
    assert links["Field notes (1)"] == "/events?series=field-notes"
    assert links["Journalists (2)"] == "/events?audience=journalists"
    assert links["media (2)"] == "/events?topic=media"

    def titles(path):
        page = tree(client, path)
        return [words(h) for h in page.xpath("//article//h3")]

    assert titles("/events?series=field-notes") == ["Series talk"]
    assert titles("/events?audience=journalists") == ["Press talk", "Past press talk"]
    assert titles("/events?topic=dispatch") == ["Series talk"]
    assert titles("/events?audience=journalists&topic=dispatch") == []
    filtered = tree(client, "/events?audience=journalists")
    selected = filtered.xpath('//a[@aria-current="true"]')
    assert [words(a) for a in selected] == ["Remove filter: Journalists (2)"]
    assert selected[0].get("href") == "/events"
    empty = tree(client, "/events?topic=nothing-like-this")
    assert "No upcoming events match these filters." in words(empty)
    assert empty.xpath('//a[.="Show all events"]/@href') == ["/events"]


def test_the_number_of_queries_on_the_list_does_not_grow_with_the_events(app):
    series = with_series(app)
    deck = resource(app, title="Slides of the session", type="toolkit")
    # Signed in: an anonymous page may be answered from its validator, which would hide the page's own queries.
    client = signed_in(app, "counter@example.org")

    def add(count, offset):
        for n in range(offset, offset + count):  # upcoming and past, so that both lists load their relations
            create_event(app, title=f"Session {n}", days_ahead=(n + 1) * (1 if n % 2 else -1), series=series,
                         speakers=["A Speaker"], audiences=["officials"], topics=[f"topic {n}"],
                         resources=[deck["slug"]], capacity=10)

    add(2, 0)
    client.get("/events")  # warm: the first request loads what every request needs once
    counts = []
    for more in (0, 12):
        add(more, 10)
        for path in ("/events", "/events?audience=officials"):
            with counted_queries(app) as statements:
                assert client.get(path).status_code == 200
            counts.append((path, len(statements)))
    assert counts[:2] == counts[2:], counts


# --- one event -----------------------------------------------------------------------------------------------

def test_the_event_page_shows_description_speakers_series_audiences_topics_and_times(app, client):
    series = with_series(app)
    slug = create_event(app, title="Crisis lines and 911", series=series, timezone="America/New_York",
                        description="## Agenda\n\nHow **988** and 911 hand calls over.<script>x</script>",
                        speakers=[{"name": "Rosa Diaz", "title": "Director", "organisation": "City of Denver"}],
                        audiences=["practitioners"], topics=["crisis lines"])
    page = tree(client, f"/events/{slug}")
    text = words(page)
    assert page.xpath("//div[@class='prose']//h2[.='Agenda']") and page.xpath("//strong[.='988']")
    assert not page.xpath("//script[not(@src)]")
    assert "Rosa Diaz, Director, City of Denver" in text
    assert page.xpath("//a[@href='/events/series/field-notes'][.='Field notes']")
    assert "Practitioners" in text and page.xpath("//a[@href='/events?topic=crisis+lines']")
    times = page.xpath("//dd//span[@class='event-when']/time")
    assert len(times) == 2 and all(t.get("datetime").endswith("Z") for t in times)
    assert "America/New_York" in text and re.search(r"\bE[SD]T\b", text)
    assert "Your time" not in text  # nobody signed in: the event's zone only (the script adds the browser's)
    assert page.xpath("//script[@defer]/@src")[0].startswith("/static/js/local-times.")


def test_an_unknown_event_or_series_is_404(client):
    assert client.get("/events/no-such-event").status_code == 404
    assert client.get("/events/no-such-event.ics").status_code == 404
    assert client.get("/events/series/no-such-series").status_code == 404


def test_a_member_with_a_zone_of_their_own_sees_both_times(app):
    slug = create_event(app, title="Zones", timezone="America/Chicago")
    west = signed_in(app, "west@example.org", timezone="America/Los_Angeles")
    east = signed_in(app, "east@example.org", timezone="Asia/Tokyo")
    home = signed_in(app, "home@example.org", timezone="America/Chicago")
    with unit(app):
        event = services.get_event(slug)
        pacific = event.starts_at.astimezone(ZoneInfo("America/Los_Angeles"))
        tokyo = event.starts_at.astimezone(ZoneInfo("Asia/Tokyo"))
    west_text = words(tree(west, f"/events/{slug}").xpath("//span[@class='viewer-time']")[0])
    assert west_text.startswith("Your time (America/Los_Angeles): ")
    assert pacific.strftime("%I:%M %p").lstrip("0") in west_text and re.search(r"\bP[SD]T\b", west_text)
    east_text = words(tree(east, f"/events/{slug}").xpath("//span[@class='viewer-time']")[0])
    assert east_text.startswith("Your time (Asia/Tokyo): ") and f"{tokyo:%B} {tokyo.day}" in east_text
    assert not tree(home, f"/events/{slug}").xpath("//span[@class='viewer-time']")  # the same zone: once
    (start,) = tree(west, f"/events/{slug}").xpath("//time[@data-local]")
    assert start.get("data-shown-zones") == "America/Chicago America/Los_Angeles"


def test_past_events_link_the_recording_slides_and_related_resources(app, client):
    slides = resource(app, title="Deck of the session", type="toolkit")
    report = resource(app, title="Evaluation report", type="research")
    slug = create_event(app, title="Looking back", days_ahead=-2, recording_url="https://video.example.org/r",
                        slides=slides["slug"], resources=[report["slug"]])
    page = tree(client, f"/events/{slug}")
    (section,) = page.xpath('//section[@aria-labelledby="follow-up-title"]')
    assert section.xpath(".//a[.='Watch the recording']/@href") == ["https://video.example.org/r"]
    assert section.xpath(".//a[.='Deck of the session']/@href") == [f"/resources/{slides['slug']}"]
    assert section.xpath(".//a[.='Evaluation report']/@href") == [f"/resources/{report['slug']}"]
    assert "This event has already started: registration is closed." in panel(client, slug)


def test_every_page_renders_for_anonymous_member_and_staff(app, staff):
    series = with_series(app)
    members_only = create_event(app, title="For members", series=series, join_url=JOIN)
    open_to_all = create_event(app, title="For anyone", registration="anyone", join_url=JOIN)
    past = create_event(app, title="Done", days_ahead=-1, series=series)
    anonymous = app.test_client()
    member = signed_in(app, "reader@example.org")
    staff_client = app.test_client()
    login(staff_client, staff)
    for client in (anonymous, member, staff_client):
        for path in ("/events", f"/events/{members_only}", f"/events/{open_to_all}", f"/events/{past}",
                     f"/events/series/{series}", "/events?audience=officials"):
            tree(client, path)
    assert "Edit this event" in text_of(staff_client, f"/events/{members_only}") or \
        "events_staff.edit" not in app.view_functions
    assert "Edit this event" not in text_of(member, f"/events/{members_only}")


def test_the_series_page_lists_its_upcoming_then_past_sessions(app, client):
    series = with_series(app)
    create_event(app, title="Next in series", series=series, days_ahead=2)
    create_event(app, title="Last in series", series=series, days_ahead=-2)
    create_event(app, title="Elsewhere", days_ahead=3)
    page = tree(client, f"/events/series/{series}")
    assert words(page.xpath("//h1")[0]) == "Field notes"
    assert page.xpath("//div[@class='prose']//strong[.='compare notes']")
    assert [words(h) for h in page.xpath('//section[@aria-labelledby="upcoming-title"]//h3')] == ["Next in series"]
    assert [words(h) for h in page.xpath('//section[@aria-labelledby="past-title"]//h3')] == ["Last in series"]


# --- registration: members -------------------------------------------------------------------------------------

def test_the_panel_for_each_kind_of_visitor(app, client):
    members_only = create_event(app, title="Members only")
    open_to_all = create_event(app, title="Anyone", registration="anyone")
    text = panel(client, members_only)
    assert "sign in" in text.lower() and "Join to register" in text
    assert tree(client, f"/events/{members_only}").xpath(
        f'//a[@href="/login?next=/events/{members_only}"]')
    page = tree(client, f"/events/{open_to_all}")
    (form,) = page.xpath('//form[@action="/events/%s/register"]' % open_to_all)
    assert {i.get("name") for i in form.xpath(".//input")} == {"csrf_token", "name", "email"}
    unverified = signed_in(app, "new@example.org", verified=False)
    assert registrations.UNVERIFIED in panel(unverified, members_only)
    member = signed_in(app, "reader@example.org")
    page = tree(member, f"/events/{members_only}")
    (form,) = page.xpath('//section[@aria-labelledby="registration-title"]//form')
    assert form.get("method") == "post" and form.xpath(".//button[.='Register']")
    assert form.xpath(".//input[@name='csrf_token']")


def test_a_member_registers_once_sees_the_join_link_and_cancels(app, outbox):
    slug = create_event(app, title="Join me", join_url=JOIN)
    member = signed_in(app, "reader@example.org")
    assert "You are registered" in register(member, slug)
    assert registration_of(app, slug, "reader@example.org") == "registered"
    text = panel(member, slug)
    assert "You are registered" in text and JOIN in text
    page = tree(member, f"/events/{slug}")
    assert page.xpath(f'//a[@href="{JOIN}"]')
    assert page.xpath(f'//a[@href="/events/{slug}.ics"][starts-with(., "Add to calendar")]')
    assert "You are already registered" in register(member, slug)
    with unit(app):
        assert len(registrations.holders(services.get_event(slug))) == 1
    response = post(member, f"/events/{slug}/cancel", token_from=f"/events/{slug}")
    assert response.status_code == 302 and response.headers["Location"] == f"/events/{slug}"
    assert "Your registration is cancelled" in flashes(lxml.html.fromstring(
        member.get(f"/events/{slug}").get_data(as_text=True)))
    assert registration_of(app, slug, "reader@example.org") == "cancelled"
    assert JOIN not in member.get(f"/events/{slug}").get_data(as_text=True)
    assert "You are registered" in register(member, slug)  # registering again renews the place


def test_a_full_event_puts_the_next_member_on_the_waitlist_and_says_their_number(app):
    slug = create_event(app, title="Small room", capacity=1, join_url=JOIN)
    first = signed_in(app, "first@example.org")
    second = signed_in(app, "second@example.org")
    third = signed_in(app, "third@example.org")
    register(first, slug)
    assert "The event is full: you are on the waitlist (number 1)" in register(second, slug)
    assert "The event is full: you are on the waitlist (number 2)" in register(third, slug)
    assert "You are already on the waitlist (number 2)" in register(third, slug)
    assert "You are number 2 on the waitlist" in panel(third, slug)
    assert JOIN not in second.get(f"/events/{slug}").get_data(as_text=True)
    assert JOIN.encode() not in second.get(f"/events/{slug}.ics").get_data()
    post(first, f"/events/{slug}/cancel", token_from=f"/events/{slug}")
    assert JOIN in panel(second, slug)  # promoted
    assert "You are number 1 on the waitlist" in panel(third, slug)
    response = post(third, f"/events/{slug}/cancel", token_from=f"/events/{slug}")
    assert response.status_code == 302
    assert registration_of(app, slug, "third@example.org") == "cancelled"


@pytest.mark.parametrize("case", ["closed", "not_open", "full", "cancelled", "unverified"])
def test_registration_that_cannot_happen_says_why_and_never_errs(app, case):
    now = utcnow()
    fields = {"join_url": JOIN}
    if case == "closed":
        fields["registration_closes_at"] = now - timedelta(hours=1)
    if case == "not_open":
        fields["registration_opens_at"] = now + timedelta(days=1)
    if case == "full":
        fields.update(capacity=1, has_waitlist=False)
    slug = create_event(app, title=f"Case {case}", **fields)
    if case == "full":
        register(signed_in(app, "holder@example.org"), slug)
    if case == "cancelled":
        with unit(app):
            services.cancel_event(services.get_event(slug), actor=None)
    member = signed_in(app, "late@example.org", verified=case != "unverified")
    expected = {"closed": registrations.CLOSED_MESSAGES["closed"], "not_open": registrations.CLOSED_MESSAGES["not_open"],
                "full": registrations.FULL, "cancelled": registrations.CLOSED_MESSAGES["cancelled"],
                "unverified": registrations.UNVERIFIED}[case]
    assert expected in panel(member, slug)
    assert not tree(member, f"/events/{slug}").xpath('//form[@action="/events/%s/register"]' % slug)
    assert expected in register(member, slug)  # a POST anyway: the same reason, no 500
    assert registration_of(app, slug, "late@example.org") is None
    assert JOIN not in member.get(f"/events/{slug}").get_data(as_text=True)


def test_a_bad_csrf_token_is_400(app):
    slug = create_event(app)
    member = signed_in(app, "reader@example.org")
    assert member.post(f"/events/{slug}/register", data={"csrf_token": "forged"}).status_code == 400
    assert registration_of(app, slug, "reader@example.org") is None


def test_signed_out_a_visitor_is_asked_to_sign_in_to_cancel(app, client):
    slug = create_event(app)
    response = post(client, f"/events/{slug}/cancel", token_from="/login")
    assert response.status_code == 302 and response.headers["Location"] == f"/login?next=/events/{slug}/cancel"


def test_anonymous_register_on_a_members_only_event_says_members_only(app, client):
    slug = create_event(app)
    response = post(client, f"/events/{slug}/register", {"name": "Gus", "email": "gus@example.org"},
                    token_from="/login")
    assert response.status_code == 302
    assert registrations.MEMBERS_ONLY in flashes(lxml.html.fromstring(client.get(f"/events/{slug}").get_data(as_text=True)))


# --- the join link: only for people holding a seat --------------------------------------------------------------

def test_the_join_link_reaches_only_members_holding_a_seat(app):
    series = with_series(app)
    slug = create_event(app, title="Secret room", series=series, capacity=1, join_url=JOIN)
    holder = signed_in(app, "holder@example.org")
    waiting = signed_in(app, "waiting@example.org")
    other = signed_in(app, "other@example.org")
    anonymous = app.test_client()
    register(holder, slug)
    register(waiting, slug)
    page = holder.get(f"/events/{slug}")
    assert JOIN in page.get_data(as_text=True) and page.headers["Cache-Control"] == "private, no-store"
    ics = holder.get(f"/events/{slug}.ics")
    assert ics.status_code == 200 and JOIN.encode() in ics.get_data().replace(b"\r\n ", b"")
    assert ics.headers["Cache-Control"] == "private, no-store"
    for client in (anonymous, waiting, other, holder):
        for path in ("/events", "/events.ics", f"/events/series/{series}"):
            body = client.get(path).get_data().replace(b"\r\n ", b"")
            assert JOIN.encode() not in body, (path, client)
    for client in (anonymous, waiting, other):
        assert JOIN.encode() not in client.get(f"/events/{slug}").get_data()
        assert JOIN.encode() not in client.get(f"/events/{slug}.ics").get_data().replace(b"\r\n ", b"")


# --- calendars ------------------------------------------------------------------------------------------------

def test_calendar_routes_answer_ics_with_a_filename(app, client):
    slug = create_event(app, title="In the calendar")
    response = client.get(f"/events/{slug}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{slug}.ics"'
    assert b"BEGIN:VCALENDAR" in response.get_data() and b"In the calendar" in response.get_data()
    feed = client.get("/events.ics")
    assert feed.status_code == 200 and feed.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert b"In the calendar" in feed.get_data()
    assert client.get(f"/events/{slug}").mimetype == "text/html"  # the page, not the file


def test_a_members_private_calendar_and_its_reset(app):
    slug = create_event(app, title="Mine", join_url=JOIN)
    member = signed_in(app, "reader@example.org")
    register(member, slug)
    with unit(app):
        secret = event_account.calendar_feed(find_member_by_email("reader@example.org")).secret
    anonymous = app.test_client()  # a calendar app: no session
    response = anonymous.get(f"/account/calendar/{secret}.ics")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "private, no-store"
    assert JOIN.encode() in response.get_data().replace(b"\r\n ", b"")
    assert anonymous.get("/account/calendar/not-a-secret.ics").status_code == 404
    reset = post(member, "/account/calendar/reset", token_from="/login")
    assert reset.status_code == 302 and reset.headers["Location"] == "/account"
    assert anonymous.get(f"/account/calendar/{secret}.ics").status_code == 404
    assert post(anonymous, "/account/calendar/reset", token_from="/login").headers["Location"] == \
        "/login?next=/account/calendar/reset"


# --- guests ---------------------------------------------------------------------------------------------------

def test_a_guest_registers_through_the_mailed_link_and_cancels(app, client, outbox):
    slug = create_event(app, title="Open house", registration="anyone", join_url=JOIN)
    response = post(client, f"/events/{slug}/register", {"name": "Gina Guest", "email": "gina@example.org"},
                    token_from=f"/events/{slug}")
    assert response.status_code == 200 and "Check your email" in words(lxml.html.fromstring(response.data))
    # The same answer for an address nobody has used and one already registered (no enumeration).
    link = link_path(Outbox.link(outbox.last("gina@example.org")))
    assert link.startswith(f"/events/{slug}/confirm/")
    assert registration_of(app, slug, "gina@example.org") is None
    confirmed = client.get(link)
    assert confirmed.status_code == 302 and confirmed.headers["Referrer-Policy"] == "no-referrer"
    guest_page = confirmed.headers["Location"]
    assert guest_page.startswith("/events/registration/")
    page = client.get(guest_page)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "private, no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    text = words(lxml.html.fromstring(page.data))
    assert "You are registered" in text and JOIN in text and "Gina Guest" in text
    ics = client.get(guest_page + ".ics")
    assert ics.status_code == 200 and JOIN.encode() in ics.get_data().replace(b"\r\n ", b"")
    assert ics.headers["Cache-Control"] == "private, no-store"
    assert client.get(link).headers["Location"] == guest_page  # the link used twice: the same place
    again = post(client, f"/events/{slug}/register", {"name": "Gina Guest", "email": "gina@example.org"},
                 token_from=f"/events/{slug}")
    assert again.status_code == 200 and "Check your email" in words(lxml.html.fromstring(again.data))
    cancelled = post(client, guest_page + "/cancel", token_from=guest_page)
    assert cancelled.status_code == 302 and cancelled.headers["Location"] == guest_page
    text = words(lxml.html.fromstring(client.get(guest_page).data))
    assert "Your registration is cancelled" in text and JOIN not in text
    assert JOIN.encode() not in client.get(guest_page + ".ics").get_data().replace(b"\r\n ", b"")
    assert JOIN not in client.get(f"/events/{slug}").get_data(as_text=True)


def test_a_tampered_or_unknown_guest_link_is_a_clear_400(app, client, outbox):
    slug = create_event(app, title="Open house", registration="anyone")
    post(client, f"/events/{slug}/register", {"name": "Gina Guest", "email": "gina@example.org"},
         token_from=f"/events/{slug}")
    link = link_path(Outbox.link(outbox.last("gina@example.org")))
    tampered = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
    response = client.get(tampered)
    assert response.status_code == 400
    assert "This link does not work" in words(lxml.html.fromstring(response.data))
    assert client.get(f"/events/{slug}/confirm/not-a-token").status_code == 400
    assert client.get("/events/registration/not-a-key").status_code == 404
    assert client.get("/events/registration/not-a-key.ics").status_code == 404
    assert registration_of(app, slug, "gina@example.org") is None


def test_the_guest_form_with_errors_comes_back_with_400(app, client, outbox):
    slug = create_event(app, title="Open house", registration="anyone")
    response = post(client, f"/events/{slug}/register", {"name": "", "email": "not an address"},
                    token_from=f"/events/{slug}")
    assert response.status_code == 400
    page = lxml.html.fromstring(response.data)
    assert page.xpath('//div[@class="error-summary"]') and "Enter your name." in words(page)
    assert page.xpath('//input[@name="email"]/@value') == ["not an address"]
    assert outbox.messages() == []


def test_guest_requests_are_rate_limited(app, client):
    slug = create_event(app, title="Open house", registration="anyone")
    token = form_token(client, f"/events/{slug}")
    statuses = [client.post(f"/events/{slug}/register",
                            data={"csrf_token": token, "name": "Spam", "email": "victim@example.org"}).status_code
                for _ in range(4)]
    assert statuses[:3] == [200, 200, 200] and statuses[3] == 429


# --- the browser's own zone -----------------------------------------------------------------------------------

def test_the_script_adds_the_browsers_zone_when_it_differs(app, browser, live_server):
    from tests.conftest import PHONE_WIDTH, check_accessible, scrolls_sideways

    slug = create_event(app, title="Across zones", timezone="America/Chicago", registration="anyone")
    for zone, expected in (("Asia/Tokyo", "Your time (Asia/Tokyo): "), ("America/Chicago", None)):
        context = browser.new_context(base_url=live_server.url, timezone_id=zone,
                                      viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(f"/events/{slug}")
        lines = page.locator(".local-time").all_inner_texts()
        if expected:
            assert len(lines) == 1 and lines[0].startswith(expected), lines
            assert "JST" in lines[0] or "GMT+9" in lines[0]
        else:
            assert lines == []
        check_accessible(page)
        page.goto("/events")
        assert len(page.locator(".local-time").all_inner_texts()) == (1 if expected else 0)
        check_accessible(page)
        page.set_viewport_size({"width": PHONE_WIDTH, "height": 800})
        for path in (f"/events/{slug}", "/events"):
            page.goto(path)
            assert scrolls_sideways(page) is None, (path, scrolls_sideways(page))
        assert errors == []
        context.close()
