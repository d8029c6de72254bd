"""Seats under load: many people registering or cancelling at the same moment, through HTTP.

Capacity is enforced by the database (one conditional UPDATE per seat and a check constraint on the count),
not by a read-then-write in Python, so these hold on SQLite (one writer at a time) and on PostgreSQL (the
event row's lock) alike; run the module with TEST_DATABASE_URL set for the second.
"""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from portal.database import utcnow
from portal.events import registrations, services as events
from portal.extensions import db, limiter
from portal.members import services as members
from portal.uow import unit_of_work
from tests.conftest import PASSWORD, Outbox, create_event, csrf_token, link_path, login, unit

SEATS = 10


def make_members(app, count: int, prefix: str = "racer") -> list[str]:
    """`count` verified members, made in two units of work (create_member makes one at a time, which adds up)."""
    emails = [f"{prefix}{n}@example.org" for n in range(count)]
    with unit(app):
        for n, address in enumerate(emails):
            members.register_member(email=address, password=PASSWORD, name=f"Racer {n}", consent=True,
                                    sector="advocate")
    links = {message["To"].lower(): Outbox.link(message) for message in Outbox(app).messages()}
    with unit(app):
        for address in emails:
            members.verify_email(link_path(links[address]).rsplit("/", 1)[1])
    return emails


def signed_in(app, emails: list[str]) -> list:
    """One test client per address, each signed in over HTTP (a session of its own, as a browser has)."""
    clients = []
    for address in emails:
        limiter.reset()  # dozens of sign-ins from one address; the sign-in limit has its own test
        client = app.test_client()
        login(client, address)
        clients.append(client)
    return clients


def at_once(calls: list) -> list:
    """Run each call in a thread of its own, all released together by a barrier; their results in order.

    Everything a call needs (its client, its CSRF token) is ready before the barrier, so the requests
    themselves are what overlaps, and no thread holds a database connection while it waits."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(index):
        try:
            barrier.wait(timeout=30)
            results[index] = calls[index]()
        except Exception as exc:  # reported below; a thread's exception would be lost otherwise
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request did not finish within two minutes"
    assert not errors, errors
    return results


def poster(client, path: str, token: str):
    def post():
        response = client.post(path, data={"csrf_token": token})
        return response.status_code, response.get_data(as_text=True)
    return post


def posts(clients, slug: str, action: str) -> list:
    """A ready-to-fire POST /events/<slug>/<action> for each client, with the CSRF token of its session."""
    return [poster(client, f"/events/{slug}/{action}", csrf_token(client, f"/events/{slug}")) for client in clients]


def assert_answered(results) -> None:
    """Every request was answered like a normal form post: a redirect back to the event, never an error."""
    statuses = [status for status, _ in results]
    assert all(status == 302 for status in statuses), [(s, body[:300]) for s, body in results if s != 302]


def mailed(app, starting: str) -> list[str]:
    """The addresses mailed a subject starting with `starting`, once per message."""
    return sorted(m["To"].lower() for m in Outbox(app).messages() if m["Subject"].startswith(starting))


def places(app, slug: str) -> dict:
    """status -> the members' addresses in queue order, and the event's seat count."""
    with app.app_context():
        event = events.get_event(slug)
        found = {"registered": [], "waitlisted": [], "cancelled": []}
        for registration in registrations.registrations_for_staff(event):
            found[registration.status].append(registration.member.email)
        found["count"] = event.registered_count
        return found


def seat_in_order(app, slug: str, emails: list[str]) -> None:
    """Register the addresses one after the other, a millisecond apart: the waitlist's order is theirs."""
    start = utcnow()
    with unit(app):
        event = events.get_event(slug)
        for n, address in enumerate(emails):
            registrations.register(event, member=members.find_member_by_email(address),
                            now=start + timedelta(milliseconds=n))


def test_fifty_people_registering_at_once_for_ten_seats_get_ten_seats_and_forty_places_in_line(app):
    emails = make_members(app, 50)
    slug = create_event(app, capacity=SEATS)
    clients = signed_in(app, emails)

    results = at_once(posts(clients, slug, "register"))

    assert_answered(results)
    found = places(app, slug)
    assert len(found["registered"]) == SEATS
    assert len(found["waitlisted"]) == 50 - SEATS
    assert found["cancelled"] == []
    assert found["count"] == SEATS
    assert sorted(found["registered"] + found["waitlisted"]) == sorted(emails)  # one place each, nobody lost
    assert mailed(app, "You are registered") == sorted(found["registered"])
    assert mailed(app, "You are on the waitlist") == sorted(found["waitlisted"])


def test_five_seated_people_cancelling_at_once_hand_their_seats_to_the_first_five_in_line(app):
    emails = make_members(app, SEATS + 15)
    seated, waiting = emails[:SEATS], emails[SEATS:]
    slug = create_event(app, capacity=SEATS)
    seat_in_order(app, slug, emails)
    assert places(app, slug)["waitlisted"] == waiting
    leaving = seated[:5]
    clients = signed_in(app, leaving)

    results = at_once(posts(clients, slug, "cancel"))

    assert_answered(results)
    found = places(app, slug)
    assert found["count"] == SEATS
    assert sorted(found["cancelled"]) == sorted(leaving)
    assert sorted(found["registered"]) == sorted(seated[5:] + waiting[:5])  # promoted in queue order
    assert found["waitlisted"] == waiting[5:]  # the rest keep their order
    assert mailed(app, "A seat is yours") == sorted(waiting[:5])  # each told once


def test_one_member_registering_ten_times_at_once_gets_one_place(app):
    (address,) = make_members(app, 1, prefix="eager")
    slug = create_event(app, capacity=SEATS)
    clients = signed_in(app, [address] * 10)  # ten tabs, ten sessions, one account

    results = at_once(posts(clients, slug, "register"))

    assert_answered(results)
    found = places(app, slug)
    assert found["registered"] == [address]
    assert found["waitlisted"] == [] and found["cancelled"] == []
    assert found["count"] == 1
    assert mailed(app, "You are registered") == [address]


def test_one_member_cancelling_ten_times_at_once_frees_one_seat(app):
    emails = make_members(app, SEATS + 3)
    slug = create_event(app, capacity=SEATS)
    seat_in_order(app, slug, emails)
    clients = signed_in(app, [emails[0]] * 10)

    results = at_once(posts(clients, slug, "cancel"))

    assert_answered(results)
    found = places(app, slug)
    assert found["cancelled"] == [emails[0]]
    assert found["count"] == SEATS
    assert sorted(found["registered"]) == sorted(emails[1:SEATS + 1])  # exactly one person promoted
    assert found["waitlisted"] == emails[SEATS + 1:]
    assert mailed(app, "A seat is yours") == [emails[SEATS]]


@pytest.mark.parametrize("count", [SEATS + 1, -1])
def test_the_database_refuses_a_seat_count_outside_the_capacity(app, count):
    slug = create_event(app, capacity=SEATS)
    with app.app_context():
        with pytest.raises(IntegrityError):
            with db.engine.begin() as connection:  # a raw write, past every check the services make
                connection.execute(text("UPDATE events SET registered_count = :count WHERE slug = :slug"),
                                   {"count": count, "slug": slug})
    assert places(app, slug)["count"] == 0


def test_leaving_the_waitlist_while_a_freed_seat_is_handed_to_you_still_cancels(app):
    """The request to leave the line read the place as waitlisted; before it writes, another person's
    cancellation seats them. They asked to go: they must not keep a seat they were told they gave up."""
    emails = make_members(app, 2)
    slug = create_event(app, capacity=1)
    seat_in_order(app, slug, emails)
    with app.app_context():
        leaving = registrations.find_registration(events.get_event(slug), member=members.find_member_by_email(emails[1]))
        assert leaving.status == "waitlisted"  # what the "Leave the waitlist" request read
        with unit(app):  # meanwhile, in another request (its own app context and session), the seat holder goes
            event = events.get_event(slug)
            registrations.cancel_registration(registrations.find_registration(event, member=members.find_member_by_email(emails[0])))
        with unit_of_work():
            registrations.cancel_registration(leaving)
    found = places(app, slug)
    assert found["cancelled"] == sorted(emails) and found["registered"] == [] and found["count"] == 0
