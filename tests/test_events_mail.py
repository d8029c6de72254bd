"""Event mail: confirmation with its calendar file, waitlist, promotion, change and cancellation notices, staff
messages, the guest link; nothing for rolled-back work; reminders 24 hours and 1 hour before, each once however
often and in however many processes `flask events remind` runs, and the worker's schedule."""
import os
import re
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import func, select, update

from portal.database import utcnow
from portal.events import notices, registrations, reminders, services
from portal.events.models import Registration, ReminderSent
from portal.extensions import db
from portal.members.services import get_member
from tests.conftest import Outbox, ROOT, counted_queries, create_event, create_member, unit

JOIN = "https://meet.example.org/j/8675309"
CHICAGO = "America/Chicago"


# --- helpers ---------------------------------------------------------------------------

def attachments(message) -> list:
    return list(message.iter_attachments())


def calendar_of(message) -> Calendar:
    (part,) = attachments(message)
    assert part.get_content_type() == "text/calendar"
    assert part.get_filename().endswith(".ics")
    return Calendar.from_ical(part.get_payload(decode=True))


def html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def subjects(outbox, to) -> list[str]:
    return [message["Subject"] for message in outbox.messages(to)]


def members(app, *names) -> dict[str, int]:
    """Verified members named after their address: members(app, "ann") makes ann@example.org."""
    return {name: create_member(app, email=f"{name}@example.org", name=name.capitalize()) for name in names}


def register(app, slug, member_id=None, **guest) -> tuple[int, str]:
    with unit(app):
        member = get_member(member_id) if member_id else None
        registration = registrations.register(services.get_event(slug), member=member, **guest)
        return registration.id, registration.status


def event_start(app, slug) -> datetime:
    with app.app_context():
        return services.get_event(slug).starts_at


def unfolded(raw: bytes) -> bytes:
    return raw.replace(b"\r\n ", b"").replace(b"\r\n\t", b"")


# --- registration mail ------------------------------------------------------------------

def test_the_confirmation_has_the_time_the_join_link_and_the_calendar_file(app, outbox):
    ids = members(app, "ann")
    with unit(app):
        get_member(ids["ann"]).timezone = "Europe/Paris"
    slug = create_event(app, title="Crisis <care> & 911", join_url=JOIN, timezone=CHICAGO)
    register(app, slug, ids["ann"])

    message = outbox.last("ann@example.org")
    assert message["Subject"] == "You are registered: Crisis <care> & 911"
    text = Outbox.text(message)
    with app.app_context():
        event = services.get_event(slug)
        local, paris = event.local_start, event.starts_at.astimezone(ZoneInfo("Europe/Paris"))
    assert f"{local.day} {local:%B %Y}, {local:%H:%M} to " in text and CHICAGO in text
    assert "In your time zone (Europe/Paris): " in text and f"{paris:%H:%M}" in text
    assert JOIN in text and JOIN in html(message)
    assert f"http://localhost/events/{slug}" in text
    # Everything from the event is escaped in the HTML part.
    assert "Crisis &lt;care&gt; &amp; 911" in html(message) and "<care>" not in html(message)

    (vevent,) = calendar_of(message).events
    assert str(vevent["SUMMARY"]) == "Crisis <care> & 911"
    assert vevent["DTSTART"].dt == local
    assert JOIN.encode() in unfolded(attachments(message)[0].get_payload(decode=True))


def test_a_guest_is_sent_the_link_to_their_registration(app, outbox):
    slug = create_event(app, registration="anyone", join_url=JOIN)
    register(app, slug, guest_name="Gus Guest", guest_email="gus@example.net")
    with app.app_context():
        key = db.session.scalar(select(Registration.key))
    text = Outbox.text(outbox.last("gus@example.net"))
    assert "Hello Gus Guest" in text
    assert f"http://localhost/events/registration/{key}" in text
    assert JOIN in text


def test_the_guest_link_confirms_the_address(app, outbox):
    slug = create_event(app, title="Open house", registration="anyone", join_url=JOIN)
    with unit(app):
        registrations.request_guest_registration(services.get_event(slug), name="Gus <Guest>", email="gus@example.net")
    message = outbox.last("gus@example.net")
    assert message["Subject"] == "Confirm your registration: Open house"
    link = Outbox.link(message)
    assert re.fullmatch(rf"http://localhost/events/{slug}/confirm/\S+", link)
    assert JOIN not in Outbox.text(message) and JOIN not in html(message)  # no seat yet
    assert "Gus &lt;Guest&gt;" in html(message)
    assert not attachments(message)


def test_the_waitlist_mail_has_the_position_and_no_join_link(app, outbox):
    ids = members(app, "ann", "bob", "cy")
    slug = create_event(app, capacity=1, join_url=JOIN)
    assert register(app, slug, ids["ann"])[1] == "registered"
    assert register(app, slug, ids["bob"])[1] == "waitlisted"
    assert register(app, slug, ids["cy"])[1] == "waitlisted"

    message = outbox.last("cy@example.org")
    assert message["Subject"].startswith("You are on the waitlist: ")
    assert "number 2 in line" in Outbox.text(message)
    assert "number 1 in line" in Outbox.text(outbox.last("bob@example.org"))
    for message in outbox.messages("bob@example.org") + outbox.messages("cy@example.org"):
        assert JOIN not in Outbox.text(message) and JOIN not in html(message)
        assert not attachments(message)


def test_a_freed_seat_mails_the_promoted_person(app, outbox):
    ids = members(app, "ann", "bob")
    slug = create_event(app, capacity=1, join_url=JOIN)
    seat, _ = register(app, slug, ids["ann"])
    register(app, slug, ids["bob"])
    with unit(app):
        registrations.cancel_registration(registrations.get_registration(seat))

    message = outbox.last("bob@example.org")
    assert message["Subject"].startswith("A seat is yours: ")
    assert JOIN in Outbox.text(message)
    assert JOIN.encode() in unfolded(attachments(message)[0].get_payload(decode=True))
    calendar_of(message)


def test_a_new_time_is_mailed_to_every_registrant_with_the_new_sequence(app, outbox):
    ids = members(app, "ann", "bob")
    slug = create_event(app, join_url=JOIN)
    for name in ids:
        register(app, slug, ids[name])
    moved = (event_start(app, slug) + timedelta(days=1, hours=2)).replace(second=0, microsecond=0)
    with unit(app):
        event = services.get_event(slug)
        services.update_event(event, actor=None, starts_at=moved, ends_at=moved + timedelta(hours=1))
        sequence, local = event.sequence, event.local_start
    assert sequence >= 1
    for name in ids:
        message = outbox.last(f"{name}@example.org")
        assert message["Subject"].startswith("Changed: ")
        assert f"{local.day} {local:%B %Y}, {local:%H:%M} to " in Outbox.text(message)
        (vevent,) = calendar_of(message).events
        assert vevent["DTSTART"].dt == local and int(vevent["SEQUENCE"]) == sequence


def test_a_change_notice_to_someone_waiting_has_no_join_link(app, outbox):
    ids = members(app, "ann", "bob")
    slug = create_event(app, capacity=1, join_url=JOIN)
    register(app, slug, ids["ann"])
    register(app, slug, ids["bob"])
    with unit(app):
        event = services.get_event(slug)
        notices.send_change(event, registrations.holders(event, waitlisted=True))
    seated, waiting = outbox.last("ann@example.org"), outbox.last("bob@example.org")
    assert JOIN in Outbox.text(seated) and calendar_of(seated)
    assert waiting["Subject"].startswith("Changed: ")
    assert JOIN not in Outbox.text(waiting) and JOIN not in html(waiting) and not attachments(waiting)


def test_times_across_a_daylight_saving_change_carry_their_own_abbreviation():
    start = services.local_to_utc(datetime(2027, 3, 14, 1, 30), CHICAGO)
    assert notices._format(start, start + timedelta(hours=1), CHICAGO) == \
        "Sunday 14 March 2027, 01:30 CST to 03:30 CDT (America/Chicago)"
    assert notices._format(start, start + timedelta(days=1), "Europe/Paris") == \
        "Sunday 14 March 2027, 08:30 to Monday 15 March 2027, 08:30 (CET, Europe/Paris)"


def test_a_cancelled_event_mails_the_seated_and_the_waitlisted(app, outbox):
    ids = members(app, "ann", "bob")
    slug = create_event(app, capacity=1, join_url=JOIN)
    register(app, slug, ids["ann"])
    register(app, slug, ids["bob"])
    with unit(app):
        services.cancel_event(services.get_event(slug), actor=None, note="The speaker is ill.\n\nSee you <soon>.")

    seated, waiting = outbox.last("ann@example.org"), outbox.last("bob@example.org")
    for message in (seated, waiting):
        assert message["Subject"].startswith("Cancelled: ")
        assert "The speaker is ill." in Outbox.text(message)
        assert "See you &lt;soon&gt;." in html(message)
        assert JOIN not in Outbox.text(message) and JOIN not in html(message)
    parsed = calendar_of(seated)
    assert str(parsed["METHOD"]) == "CANCEL" and str(parsed.events[0]["STATUS"]) == "CANCELLED"
    assert not attachments(waiting)  # nothing of it was ever in their calendar


def test_a_staff_message_goes_to_seat_holders_as_written(app, outbox):
    ids = members(app, "ann", "bob")
    slug = create_event(app, capacity=1, join_url=JOIN)
    register(app, slug, ids["ann"])
    register(app, slug, ids["bob"])
    with unit(app):
        count = registrations.message_registrants(services.get_event(slug), actor=None, subject="Slides <draft>",
                                             body="Line one\nline <two>\n\nSecond paragraph")
    assert count == 1
    message = outbox.last("ann@example.org")
    assert message["Subject"] == "Slides <draft>"
    assert Outbox.text(message).startswith("Line one\nline <two>\n\nSecond paragraph")
    assert "<p>Line one<br>line &lt;two&gt;</p>" in html(message)
    assert "Slides <draft>" not in subjects(outbox, "bob@example.org")


def test_nothing_is_mailed_when_the_unit_of_work_rolls_back(app, outbox):
    ids = members(app, "ann")
    slug = create_event(app, join_url=JOIN)
    before = len(outbox.messages())
    with pytest.raises(RuntimeError):
        with unit(app):
            registrations.register(services.get_event(slug), member=get_member(ids["ann"]))
            raise RuntimeError("the request failed after registering")
    assert len(outbox.messages()) == before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Registration)) == 0


# --- reminders --------------------------------------------------------------------------

def remind(runner, at: datetime) -> str:
    result = runner.invoke(args=["events", "remind", "--now", at.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def reminder_subjects(outbox, to) -> list[str]:
    return [s for s in subjects(outbox, to) if s.startswith(("Coming up: ", "Starting within the hour: "))]


def test_each_reminder_goes_out_once_however_often_the_command_runs(app, runner, outbox):
    ids = members(app, "ann", "bob", "cy")
    slug = create_event(app, title="Dispatch triage", days_ahead=3, capacity=2, join_url=JOIN)
    for name in ids:
        register(app, slug, ids[name])  # cy waits: no reminders
    start = event_start(app, slug)

    assert remind(runner, start - timedelta(hours=25)) == "Sent 0 reminders.\n"
    assert remind(runner, start - timedelta(hours=23)) == "Sent 2 reminders.\n"
    assert remind(runner, start - timedelta(hours=23)) == "Sent 0 reminders.\n"
    assert remind(runner, start - timedelta(hours=2)) == "Sent 0 reminders.\n"
    for name in ("ann", "bob"):
        assert reminder_subjects(outbox, f"{name}@example.org") == ["Coming up: Dispatch triage"]
    message = outbox.last("ann@example.org")
    assert JOIN in Outbox.text(message) and f"http://localhost/events/{slug}" in Outbox.text(message)

    assert remind(runner, start - timedelta(minutes=50)) == "Sent 2 reminders.\n"
    assert remind(runner, start - timedelta(minutes=10)) == "Sent 0 reminders.\n"
    assert remind(runner, start + timedelta(minutes=5)) == "Sent 0 reminders.\n"
    for name in ("ann", "bob"):
        assert reminder_subjects(outbox, f"{name}@example.org") == [
            "Coming up: Dispatch triage", "Starting within the hour: Dispatch triage"]
    assert reminder_subjects(outbox, "cy@example.org") == []


def test_a_late_registration_gets_only_the_reminders_still_ahead(app, outbox):
    ids = members(app, "ann")
    slug = create_event(app, days_ahead=3, join_url=JOIN)
    register(app, slug, ids["ann"])
    start = event_start(app, slug)
    # Ann took her seat three hours before the start: the day reminder's window had opened already.
    with unit(app):
        db.session.execute(update(Registration).values(updated_at=start - timedelta(hours=3)))
    with unit(app):
        assert reminders.send_due_reminders(start - timedelta(hours=2)) == 0
    with unit(app):
        assert reminders.send_due_reminders(start - timedelta(minutes=30)) == 1
    assert reminder_subjects(outbox, "ann@example.org") == ["Starting within the hour: Triage of welfare checks"]


def test_a_cancelled_seat_or_event_gets_no_reminder(app, outbox):
    ids = members(app, "ann", "bob")
    kept = create_event(app, title="Kept", days_ahead=3)
    dropped = create_event(app, title="Dropped", days_ahead=3)
    seat, _ = register(app, kept, ids["ann"])
    register(app, dropped, ids["bob"])
    with unit(app):
        registrations.cancel_registration(registrations.get_registration(seat))
        services.cancel_event(services.get_event(dropped), actor=None)
    with unit(app):
        assert reminders.send_due_reminders(event_start(app, kept) - timedelta(hours=12)) == 0


def test_a_reminder_is_sent_again_when_the_event_moves_to_a_later_day(app, outbox):
    ids = members(app, "ann")
    slug = create_event(app, days_ahead=3)
    register(app, slug, ids["ann"])
    start = event_start(app, slug)
    with unit(app):
        assert reminders.send_due_reminders(start - timedelta(hours=20)) == 1
    later = start + timedelta(days=7)
    with unit(app):
        services.update_event(services.get_event(slug), actor=None, starts_at=later, ends_at=later + timedelta(hours=1))
    with unit(app):
        assert reminders.send_due_reminders(later - timedelta(hours=20)) == 1
        assert reminders.send_due_reminders(later - timedelta(hours=19)) == 0
    assert len(reminder_subjects(outbox, "ann@example.org")) == 2


def test_finding_due_reminders_takes_the_same_queries_for_many_registrants(app, outbox):
    ids = members(app, *[f"m{n}" for n in range(6)])
    few, many = create_event(app, title="Few", days_ahead=3), create_event(app, title="Many", days_ahead=4)
    for n, member_id in enumerate(ids.values()):
        register(app, few if n < 1 else many, member_id)
    counts = []
    for slug, expected in ((few, 1), (many, 5)):
        at = event_start(app, slug) - timedelta(hours=12)
        with counted_queries(app) as statements, unit(app):
            assert reminders.send_due_reminders(at) == expected
        counts.append(len(statements))
    assert counts[0] == counts[1]


def test_two_threads_at_once_send_each_reminder_once(app, outbox, monkeypatch):
    """Both runs find every reminder due before either claims one; each is still mailed once."""
    ids = members(app, "ann", "bob", "cy")
    slug = create_event(app, days_ahead=3)
    for member_id in ids.values():
        register(app, slug, member_id)
    at = event_start(app, slug) - timedelta(hours=12)
    both_found = threading.Barrier(2, timeout=20)
    seen = threading.local()
    build = notices.reminder_message

    def build_after_both_found(registration, kind):
        if not getattr(seen, "waited", False):
            seen.waited = True
            both_found.wait()
        return build(registration, kind)

    monkeypatch.setattr(notices, "reminder_message", build_after_both_found)
    results, errors = [], []

    def run():
        try:
            with app.app_context():
                results.append(reminders.send_due_reminders(at))
        except Exception as error:  # noqa: BLE001 (reported by the assertion below)
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and sorted(results) in ([0, 3], [1, 2])
    assert sum(results) == 3
    for name in ids:
        assert len(reminder_subjects(outbox, f"{name}@example.org")) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReminderSent)) == 3


def test_two_remind_commands_at_once_send_each_reminder_once(app, outbox):
    ids = members(app, *[f"m{n}" for n in range(8)])
    slug = create_event(app, days_ahead=3)
    for member_id in ids.values():
        register(app, slug, member_id)
    at = (event_start(app, slug) - timedelta(hours=12)).isoformat()
    config = app.config
    env = dict(os.environ, PORTAL_INSTANCE_PATH=app.instance_path, DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
               SEARCH_INDEX_DIR=config["SEARCH_INDEX_DIR"], UPLOAD_DIR=config["UPLOAD_DIR"],
               MAIL_OUTBOX_DIR=config["MAIL_OUTBOX_DIR"], SITE_URL=config["SITE_URL"], REDIS_URL="")
    env.pop("MAIL_SERVER", None)
    command = [sys.executable, "-m", "flask", "--app", "app", "events", "remind", "--now", at]
    processes = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    sent = [int(re.search(r"Sent (\d+) reminder", output).group(1)) for output in outputs]
    assert sum(sent) == 8, outputs
    for name in ids:
        assert len(reminder_subjects(outbox, f"{name}@example.org")) == 1


def test_the_bad_now_is_refused_with_a_message(runner):
    result = runner.invoke(args=["events", "remind", "--now", "next tuesday"])
    assert result.exit_code == 2 and "is not an ISO 8601 date and time" in result.output


def test_the_worker_runs_the_reminders_every_minute(app, outbox):
    huey = app.extensions["portal.queue"].huey
    for moment in (datetime(2026, 3, 4, 10, 0), datetime(2026, 3, 4, 10, 7)):
        assert "events.send_reminders" in {task.name for task in huey.read_periodic(moment)}

    ids = members(app, "ann")
    slug = create_event(app, days_ahead=0.5)
    register(app, slug, ids["ann"])
    with unit(app):  # seated well before the day reminder's window opened
        db.session.execute(update(Registration).values(updated_at=utcnow() - timedelta(days=2)))
    task_queue = app.extensions["portal.queue"]
    with app.app_context():
        task_queue.push("events.send_reminders", {})  # what the scheduler does each minute
        task_queue.push("events.send_reminders", {})
    assert reminder_subjects(outbox, "ann@example.org") == ["Coming up: Triage of welfare checks"]
