"""Writing to a member through the directory: the mail (outbox and real SMTP), no address on any page, who may
write to whom, blocks, reports to staff, suspension, hiding, contact volume as counts, export and deletion,
query counts, bad input. The daily limits are in tests/test_network_limits.py."""
import json

import pytest
from sqlalchemy import func, select

from portal.database import utcnow
from portal.extensions import db, limiter
from portal.members import services as members
from portal.network.forms import ContactForm, ModerationForm, ReportForm
from portal.network.models import ContactBlock, ContactMessage, NetworkProfile
from tests.conftest import (PASSWORD, Outbox, counted_queries, create_jurisdiction, csrf_token, login, post_form,
                            running_consumer, unit)
from tests.test_events_concurrency import at_once
from tests.test_forms_fuzz import form_fields, fuzz_form
from tests.test_mail import smtp, smtp_app  # noqa: F401 (fixtures)
from tests.test_network import listed, signed_in

BODY = "How do you triage welfare checks?\n\nWe start in March."


def peer(app, name: str, *, open_to_contact=True, **fields) -> tuple[int, object]:
    """A listed member (their address is the name, lower-cased, at example.org), signed in: (profile id, client)."""
    email = f"{name.split()[0].lower()}@example.org"
    profile_id = listed(app, email, name, is_open_to_contact=open_to_contact, **fields)
    client = app.test_client()
    login(client, email)
    return profile_id, client


def write(client, profile_id: int, *, token_from="/account", **fields):
    """Post a message to the profile's member (the CSRF token read from a page every member has: a refused
    writer's contact page holds no form)."""
    data = {"subject": "Welfare checks", "body": BODY, **fields}
    return post_form(client, f"/network/{profile_id}/contact", data, token_from=token_from)


def stored(app) -> list[tuple[str, str, str]]:
    """(sender name, recipient's address, subject) of every stored message, oldest first."""
    with unit(app):
        return [(m.sender_name, m.recipient.email, m.subject)
                for m in db.session.scalars(select(ContactMessage).order_by(ContactMessage.id))]


def message_id(app, subject: str) -> int:
    with unit(app):
        return db.session.scalar(select(ContactMessage.id).where(ContactMessage.subject == subject))


def test_a_member_writes_and_the_recipient_gets_the_mail_with_no_address_on_any_page(app):
    amy_id, amy = peer(app, "Amy Alvarez", title="Analyst", organisation="Tucson 911")
    ben_id, ben = peer(app, "Ben Brooks")
    form = amy.get(f"/network/{ben_id}/contact")
    assert form.status_code == 200 and "Write to Ben Brooks" in form.get_data(as_text=True)

    response = write(amy, ben_id, subject="Welfare checks")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/network/{ben_id}")
    assert "on its way to Ben Brooks" in amy.get(response.headers["Location"]).get_data(as_text=True)
    mail = Outbox(app).last("ben@example.org")
    assert mail["Subject"] == "Amy Alvarez wrote to you: Welfare checks"
    assert mail["Reply-To"] is None  # Amy did not agree to share her address
    text = Outbox.text(mail)
    assert "Amy Alvarez (Analyst, Tucson 911) wrote to you" in text and BODY in text
    assert f"/network/{amy_id}" in text and "/network/messages" in text and "did not share" in text
    assert "amy@example.org" not in mail.as_string()

    write(amy, ben_id, subject="Follow-up", share_address="y")
    assert Outbox(app).last("ben@example.org")["Reply-To"] == "amy@example.org"

    inbox = ben.get("/network/messages").get_data(as_text=True)
    assert "Welfare checks" in inbox and "Follow-up" in inbox and "We start in March." in inbox
    assert f'href="/network/{amy_id}">Amy Alvarez</a>' in inbox
    pages = [inbox, amy.get(f"/network/{ben_id}").get_data(as_text=True),
             ben.get(f"/network/{amy_id}").get_data(as_text=True), amy.get("/network").get_data(as_text=True)]
    for page in pages:
        assert "amy@example.org" not in page and "ben@example.org" not in page
    sent = amy.get("/network/messages/sent").get_data(as_text=True)
    assert f'To <a href="/network/{ben_id}">Ben Brooks</a>' in sent and "We start in March." in sent
    assert "your address not shared" in sent and "your address shared" in sent
    assert "amy@example.org" not in sent and "ben@example.org" not in sent
    assert "You have not written to anyone" in ben.get("/network/messages/sent").get_data(as_text=True)
    # Amy's own inbox is empty: the messages are Ben's.
    assert "No one has written to you yet." in amy.get("/network/messages").get_data(as_text=True)
    assert amy.post(f"/network/messages/{message_id(app, 'Follow-up')}/report",
                    data={"csrf_token": csrf_token(amy, "/network/messages")}).status_code == 404


def test_who_may_write_to_whom(app):
    shy_id, _ = peer(app, "Shy Person", open_to_contact=False)
    open_id, _ = peer(app, "Open Person")
    _, writer = peer(app, "Wren Writer")
    page = writer.get(f"/network/{shy_id}").get_data(as_text=True)
    assert "Shy Person is not taking messages through the directory." in page and "Write a message" not in page
    assert write(writer, shy_id).status_code == 403

    unlisted = signed_in(app, "quiet")  # verified, but not in the directory: the recipient could not see who wrote
    refused = write(unlisted, open_id)
    assert refused.status_code == 403 and "List yourself in the member directory first" in refused.get_data(as_text=True)

    own = write(writer, writer_profile := _profile_of(app, "wren@example.org"))
    assert own.status_code == 403 and "your own listing" in own.get_data(as_text=True)
    assert "Write a message" not in writer.get(f"/network/{writer_profile}").get_data(as_text=True)

    unverified = signed_in(app, "fresh", verified=False)
    assert unverified.get(f"/network/{open_id}/contact").status_code == 403
    assert write(app.test_client(), open_id, token_from="/login").headers["Location"].startswith("/login")
    assert stored(app) == []  # nothing was sent by any of them


def _profile_of(app, email: str) -> int:
    with unit(app):
        return members.find_member_by_email(email).network_profile.id


def test_a_blocked_sender_is_refused_with_a_clear_notice_until_the_block_is_lifted(app):
    amy_id, amy = peer(app, "Amy Alvarez")
    ben_id, ben = peer(app, "Ben Brooks")
    write(amy, ben_id, subject="First")
    token = csrf_token(ben, "/network/messages")
    blocked = ben.post(f"/network/messages/{message_id(app, 'First')}/block", data={"csrf_token": token})
    assert blocked.status_code == 302
    assert "Amy Alvarez can no longer write to you" in ben.get(blocked.headers["Location"]).get_data(as_text=True)

    # Two more clicks at once change nothing (one block, no error).
    path = f"/network/messages/{message_id(app, 'First')}/block"
    twice = at_once([lambda: ben.post(path, data={"csrf_token": token}).status_code for _ in range(2)])
    assert twice == [302, 302]
    with unit(app):
        assert db.session.scalar(select(func.count()).select_from(ContactBlock)) == 1

    refused = write(amy, ben_id, subject="Second")
    assert refused.status_code == 403
    assert "Ben Brooks does not accept messages from you." in refused.get_data(as_text=True)
    assert "does not accept messages from you" in amy.get(f"/network/{ben_id}").get_data(as_text=True)
    assert [subject for _, _, subject in stored(app)] == ["First"]
    assert "Second" not in "".join(Outbox.text(m) for m in Outbox(app).messages("ben@example.org"))

    with unit(app):
        amy_member = members.find_member_by_email("amy@example.org").id
    inbox = ben.get("/network/messages").get_data(as_text=True)
    assert "Senders you blocked" in inbox and "You blocked this sender." in inbox
    lifted = ben.post(f"/network/blocks/{amy_member}/delete", data={"csrf_token": token})
    assert lifted.status_code == 302
    assert ben.post(f"/network/blocks/{amy_member}/delete", data={"csrf_token": token}).status_code == 404
    assert write(amy, ben_id, subject="Third").status_code == 302
    assert [subject for _, _, subject in stored(app)] == ["First", "Third"]


def reader_of_city(app) -> str:
    """Riverton's page as a verified member who is not suspended reads it."""
    limiter.reset()
    return signed_in(app, "cityreader").get("/jurisdictions/riverton").get_data(as_text=True)


def test_a_report_reaches_staff_who_suspend_the_sender_and_all_is_audited(app):
    create_jurisdiction(app)
    amy_id, amy = peer(app, "Amy Alvarez", bio="Dispatch analyst")
    ben_id, ben = peer(app, "Ben Brooks", jurisdiction="riverton")
    write(amy, ben_id, subject="Unwanted", body="Buy my consulting services.")
    write(amy, ben_id, subject="Private", body="A body staff must never read.")
    report_path = f"/network/messages/{message_id(app, 'Unwanted')}/report"
    assert "Staff will read this message" in ben.get(report_path).get_data(as_text=True)
    reported = post_form(ben, report_path, {"reason": "Spam."}, token_from=report_path)
    assert reported.status_code == 302
    again = post_form(ben, report_path, {"reason": "Spam."}, token_from=report_path)
    assert again.status_code == 400 and "reported this message already" in again.get_data(as_text=True)

    staff = signed_in(app, "sol", role="staff")
    assert "1</span> reported message" in staff.get("/staff/").get_data(as_text=True)
    page = staff.get("/staff/network").get_data(as_text=True)
    assert "Buy my consulting services." in page and "Spam." in page
    assert "A body staff must never read." not in page and "Private" not in page  # counts only, for the rest
    assert "<dt>Messages in the last 24 hours</dt><dd>2</dd>" in page

    response = post_form(staff, f"/staff/network/profiles/{amy_id}", {"action": "suspend"},
                         token_from="/staff/network")
    assert response.status_code == 302
    suspended = amy.get("/network")
    assert suspended.status_code == 403 and "suspended your access" in suspended.get_data(as_text=True)
    assert amy.get(f"/network/{ben_id}").status_code == 403
    assert write(amy, ben_id).status_code == 403
    city = amy.get("/jurisdictions/riverton").get_data(as_text=True)
    assert "Ben Brooks" not in city and "In the member directory" not in city  # no listings anywhere
    assert "Ben Brooks" in reader_of_city(app)
    reader = signed_in(app, "reader")
    assert "Amy Alvarez" not in reader.get("/network").get_data(as_text=True)
    assert "Amy Alvarez" not in reader.get("/network?q=analyst").get_data(as_text=True)
    assert reader.get(f"/network/{amy_id}").status_code == 404
    assert "No reports are waiting." in staff.get("/staff/network").get_data(as_text=True)  # acted on

    post_form(staff, f"/staff/network/profiles/{amy_id}", {"action": "restore"}, token_from="/staff/network")
    assert "Amy Alvarez" in reader.get("/network?q=analyst").get_data(as_text=True)
    post_form(staff, f"/staff/network/profiles/{amy_id}", {"action": "hide"}, token_from="/staff/network")
    assert "Amy Alvarez" not in reader.get("/network").get_data(as_text=True)
    assert amy.get("/network").status_code == 200  # hidden, but she may still read the directory
    hidden = write(amy, ben_id)
    assert hidden.status_code == 403 and "Staff have hidden your listing" in hidden.get_data(as_text=True)
    twice = post_form(staff, f"/staff/network/profiles/{amy_id}", {"action": "hide"}, token_from="/staff/network")
    assert "hidden already" in staff.get(twice.headers["Location"]).get_data(as_text=True)
    assert post_form(staff, f"/staff/network/profiles/{amy_id}", {"action": "delete"},
                     token_from="/staff/network").status_code == 302  # flashed, nothing done

    audit = staff.get("/staff/audit").get_data(as_text=True)
    for said in ("reported a message from", "suspended the directory access of", "gave Amy Alvarez their directory "
                 "access back", "hid the directory profile of"):
        assert said in audit
    assert "A body staff must never read." not in audit

    write(ben, amy_id, subject="Second report")  # Amy is hidden: no one can write to her now
    assert message_id(app, "Second report") is None


def test_dismissing_a_report(app):
    amy_id, amy = peer(app, "Amy Alvarez")
    ben_id, ben = peer(app, "Ben Brooks")
    write(amy, ben_id, subject="Hello")
    path = f"/network/messages/{message_id(app, 'Hello')}/report"
    post_form(ben, path, {"reason": ""}, token_from=path)
    staff = signed_in(app, "sol", role="staff")
    dismissed = post_form(staff, f"/staff/network/reports/{message_id(app, 'Hello')}/dismiss", {},
                          token_from="/staff/network")
    assert dismissed.status_code == 302
    assert "No reports are waiting." in staff.get("/staff/network").get_data(as_text=True)
    assert "Staff looked at your report." in ben.get("/network/messages").get_data(as_text=True)
    assert post_form(staff, f"/staff/network/reports/{message_id(app, 'Hello')}/dismiss", {},
                     token_from="/staff/network").status_code == 404
    assert "dismissed a report on a message from" in staff.get("/staff/audit").get_data(as_text=True)
    assert signed_in(app, "member").get("/staff/network").status_code == 403


def test_the_export_holds_the_messages_and_deletion_removes_them(app):
    amy_id, amy = peer(app, "Amy Alvarez")
    ben_id, ben = peer(app, "Ben Brooks")
    write(amy, ben_id, subject="Hello Ben", share_address="y")
    write(ben, amy_id, subject="Hello Amy")
    ben.post(f"/network/messages/{message_id(app, 'Hello Ben')}/block",
             data={"csrf_token": csrf_token(ben, "/network/messages")})
    exported = json.loads(ben.get("/account/export.json").get_data(as_text=True))["directory_messages"]
    assert [(m["subject"], m["to"]) for m in exported["sent"]] == [("Hello Amy", "Amy Alvarez")]
    assert exported["received"][0]["from"] == "Amy Alvarez" and exported["received"][0]["subject"] == "Hello Ben"
    assert exported["blocked"] == ["Amy Alvarez"]
    assert "amy@example.org" not in json.dumps(exported)

    with unit(app):
        members.delete_member(members.find_member_by_email("amy@example.org"), password=PASSWORD)
    with unit(app):
        assert db.session.scalar(select(func.count()).select_from(ContactMessage)) == 0
        assert db.session.scalar(select(func.count()).select_from(ContactBlock)) == 0


def test_the_inbox_sent_and_staff_pages_cost_the_same_queries_for_two_messages_as_for_twenty_five(app):
    app.config.update(NETWORK_MESSAGES_PER_SENDER=100, NETWORK_MESSAGES_PER_RECIPIENT=100)
    _, amy = peer(app, "Amy Alvarez")
    ben_id, ben = peer(app, "Ben Brooks")
    staff = signed_in(app, "sol", role="staff")

    senders = [peer(app, f"Sender{n} S")[1] for n in range(2)]

    def count() -> tuple[int, int, int]:
        with counted_queries(app) as inbox:
            assert ben.get("/network/messages").status_code == 200
        with counted_queries(app) as sent:
            assert senders[0].get("/network/messages/sent").status_code == 200
        with counted_queries(app) as staff_page:
            assert staff.get("/staff/network").status_code == 200
        return len(inbox), len(sent), len(staff_page)

    for client in senders:
        write(client, ben_id)
    path = f"/network/messages/{message_id(app, 'Welfare checks')}/report"
    post_form(ben, path, {"reason": "One report"}, token_from=path)
    small = count()
    with unit(app):
        ben_member = members.find_member_by_email("ben@example.org")
        for profile in db.session.scalars(select(NetworkProfile).where(NetworkProfile.member_id != ben_member.id)):
            for n in range(8):
                db.session.add(ContactMessage(sender_id=profile.member_id, recipient_id=ben_member.id,
                                              sender_name=profile.display_name, recipient_name="Ben Brooks",
                                              subject=f"Bulk {n}", body="x",
                                              report_status="open" if n == 0 else "",
                                              reported_at=utcnow() if n == 0 else None))
    assert count() == small


def test_bad_input_is_refused_with_a_message_and_sends_nothing(app):
    _, amy = peer(app, "Amy Alvarez")
    ben_id, _ = peer(app, "Ben Brooks")
    for fields, words in (({"subject": ""}, "Give your message a subject."),
                          ({"body": "   "}, "Write your message."),
                          ({"subject": "x" * 151}, "Use at most 150 characters."),
                          ({"body": "x" * 5001}, "Use at most 5,000 characters."),
                          ({"body": "bell\x07"}, "")):
        response = write(amy, ben_id, **fields)
        assert response.status_code == 400, fields
        assert words in response.get_data(as_text=True)
    assert stored(app) == []
    assert not [m for m in Outbox(app).messages("ben@example.org") if "wrote to you" in m["Subject"]]
    assert amy.post(f"/network/{ben_id}/contact", data={"subject": "Hi", "body": "Hi"}).status_code == 400  # no CSRF
    assert amy.get("/network/999999/contact").status_code == 404


def test_a_message_goes_over_real_smtp_with_the_reply_address_only_when_shared(smtp_app, smtp):
    server = smtp_app.config["MAIL_SERVER"]
    smtp_app.config["MAIL_SERVER"] = None  # the two members confirm their addresses from the outbox first
    _, amy = peer(smtp_app, "Amy Alvarez")
    ben_id, _ = peer(smtp_app, "Ben Brooks")
    smtp_app.config["MAIL_SERVER"] = server
    assert write(amy, ben_id, subject="Over SMTP").status_code == 302
    assert write(amy, ben_id, subject="With my address", share_address="y").status_code == 302
    with running_consumer(smtp_app) as consumer:
        consumer.wait("mail.send", count=2)
    delivered = {d.message["Subject"]: d for d in smtp.received if d.rcpt_tos == ["ben@example.org"]}
    plain_one = delivered["Amy Alvarez wrote to you: Over SMTP"]
    assert plain_one.message["Reply-To"] is None and "amy@example.org" not in plain_one.message.as_string()
    assert BODY in plain_one.message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
    assert delivered["Amy Alvarez wrote to you: With my address"].message["Reply-To"] == "amy@example.org"


# Read by tests/test_forms_fuzz.py's test_every_form_is_fuzzed.
NETWORK_CONTACT_FUZZED_FORMS = {ContactForm, ReportForm, ModerationForm}


def _messages_state(app) -> tuple:
    with unit(app):
        db.session.expire_all()
        return tuple((m.subject, m.body, m.shares_address, m.report_status, m.report_reason)
                     for m in db.session.scalars(select(ContactMessage).order_by(ContactMessage.id)))


def test_the_contact_and_report_forms_fuzz(app):
    app.config.update(NETWORK_MESSAGES_PER_SENDER=10_000, NETWORK_MESSAGES_PER_RECIPIENT=10_000)
    amy_id, amy = peer(app, "Amy Alvarez")
    ben_id, ben = peer(app, "Ben Brooks")
    fields = form_fields(app, lambda: ContactForm(formdata=None, meta={"csrf": False}))
    fuzz_form(app, amy, csrf_token(amy, f"/network/{ben_id}/contact"), f"/network/{ben_id}/contact", fields,
              {"subject": "Hello", "body": "Hello"}, state=_messages_state, statuses=(302, 400))

    path = f"/network/messages/{message_id(app, 'Hello')}/report"
    fields = form_fields(app, lambda: ReportForm(formdata=None, meta={"csrf": False}))
    fuzz_form(app, ben, csrf_token(ben, path), path, fields, {"reason": "Spam"}, state=_messages_state,
              statuses=(302, 400))

    staff = signed_in(app, "sol", role="staff")
    fields = form_fields(app, lambda: ModerationForm(formdata=None, meta={"csrf": False}))
    fuzz_form(app, staff, csrf_token(staff, "/staff/network"), f"/staff/network/profiles/{amy_id}", fields,
              {"action": "hide"}, state=_messages_state, statuses=(302, 400))


@pytest.mark.parametrize("path", ["/network/messages", "/network/messages/sent", "/staff/network"])
def test_the_new_pages_need_a_signed_in_member(app, client, path):
    assert client.get(path).headers["Location"].startswith("/login")
