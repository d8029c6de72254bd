"""Mail against a real SMTP server (aiosmtpd on loopback) through a real queue consumer: a request never waits
on SMTP, both parts and working links, retries with backoff, failures kept and resent, sent after commit;
the file outbox and `flask mail outbox`."""
import logging
import re
from email import message_from_bytes, policy
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select, text

from portal import mail
from portal.content import load_content
from portal.extensions import db
from portal.members.models import Member
from tests.conftest import (_empty_database, create_member, free_port, link_path, login, make_app, Outbox, PASSWORD,
                            post_form, ROOT, running_consumer, unit)

SIGNUP = {
    "name": "Zoë Núñez",
    "email": "Zoe.Nunez@Example.org",
    "password": PASSWORD,
    "organisation": "Denver STAR",
    "title": "Clinician",
    "sector": "first_responder",
    "jurisdiction": "Denver, Colorado",
    "consent": "y",
}


class Collector:
    """An aiosmtpd handler that keeps every message it accepts (or refuses them all, when asked)."""

    def __init__(self):
        self.received = []
        self.on_data = None
        self.reply = "250 Message accepted for delivery"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        seen = self.on_data(message) if self.on_data else None
        if self.reply.startswith("250"):
            self.received.append(SimpleNamespace(mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
                                                 message=message, seen=seen))
        return self.reply


@pytest.fixture
def smtp():
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), server_hostname="localhost")
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


def _app(tmp_path, **overrides):
    # A real queue (SQLite under the instance folder) that the tests consume with a real consumer; retries
    # come at once here, the backoff test sets a delay.
    overrides = {"QUEUE_IMMEDIATE": False, "MAIL_RETRIES": 2, "MAIL_RETRY_DELAY": 0, **overrides}
    app = make_app(tmp_path, **overrides)
    with unit(app):
        load_content(ROOT / "content")
    return app


@pytest.fixture
def smtp_app(tmp_path, smtp):
    app = _app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
    yield app
    _empty_database(app)


@pytest.fixture
def unreachable_app(tmp_path):
    app = _app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nothing listens there
    yield app
    _empty_database(app)


def signup(client, **changes):
    return post_form(client, "/signup", dict(SIGNUP, **changes), token_from="/signup")


def plain(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def link_in(body: str) -> str:
    match = re.search(r"https?://[^\s\"<]+", body)
    assert match, "no link in the message"
    return match.group(0)


def files_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.eml")) if folder.is_dir() else []


def queued(app) -> list[str]:
    return [task.name for task in app.extensions["portal.queue"].huey.pending()]


def test_a_request_never_waits_on_smtp_and_the_worker_sends_both_parts_with_a_working_link(smtp_app, smtp):
    client = smtp_app.test_client()
    response = signup(client)
    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)
    # The request only queued the message: no SMTP conversation happened while it ran.
    assert smtp.received == []
    assert queued(smtp_app) == ["mail.send"]

    with running_consumer(smtp_app) as consumer:
        consumer.wait("mail.send")
    assert len(smtp.received) == 1
    delivery = smtp.received[0]
    assert delivery.rcpt_tos == ["zoe.nunez@example.org"]
    assert delivery.mail_from == "no-reply@localhost"
    message = delivery.message
    assert message["To"] == "zoe.nunez@example.org"
    assert "Confirm your email" in message["Subject"]
    assert message["Message-ID"] and message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert "Zoë Núñez" in plain(message)
    assert "Zoë Núñez" in html(message) or "Zo&euml; N&uacute;&ntilde;ez" in html(message)

    link = link_in(plain(message))
    assert link.startswith("http://localhost/verify/")
    assert f'href="{link}"' in html(message)
    # Nothing went to the file outbox: SMTP was used.
    assert files_in(Path(smtp_app.config["MAIL_OUTBOX_DIR"])) == []

    opened = client.get(link_path(link))
    assert opened.status_code in (200, 302)
    with unit(smtp_app):
        member = db.session.scalar(select(Member).where(Member.email == "zoe.nunez@example.org"))
        assert member.email_verified_at is not None
    login(client, email="zoe.nunez@example.org")
    assert "Please confirm your email address" not in client.get("/account").get_data(as_text=True)


def test_mail_is_sent_only_after_the_commit(smtp_app, smtp):
    """When the SMTP server receives the message, the account is visible from another connection."""
    engine = create_engine(smtp_app.config["SQLALCHEMY_DATABASE_URI"])

    def committed(message):
        with engine.connect() as connection:
            return connection.execute(text("SELECT count(*) FROM members WHERE email = :email"),
                                      {"email": message["To"]}).scalar()

    smtp.on_data = committed
    try:
        assert signup(smtp_app.test_client()).status_code == 200
        with running_consumer(smtp_app) as consumer:
            consumer.wait("mail.send")
    finally:
        engine.dispose()
    assert [delivery.seen for delivery in smtp.received] == [1]


@pytest.mark.parametrize("changes", [
    {"password": "short"},
    {"consent": ""},
    {"sector": "police"},
    {"email": "not-an-email"},
])
def test_a_failed_signup_queues_and_sends_nothing(smtp_app, smtp, changes):
    response = signup(smtp_app.test_client(), **changes)
    assert response.status_code == 400
    assert queued(smtp_app) == []
    assert smtp.received == []
    outbox = Path(smtp_app.config["MAIL_OUTBOX_DIR"])
    assert files_in(outbox) == [] and files_in(outbox / "failed") == []
    with unit(smtp_app):
        assert db.session.scalar(select(Member)) is None


def test_signup_with_a_taken_address_sends_no_verification_link(smtp_app, smtp):
    """The duplicate insert fails: only the owner's notice goes out, never a link for it."""
    assert signup(smtp_app.test_client()).status_code == 200
    assert signup(smtp_app.test_client(), email="ZOE.NUNEZ@example.ORG").status_code == 200
    with running_consumer(smtp_app) as consumer:
        consumer.wait("mail.send", count=2)
    subjects = sorted(delivery.message["Subject"] for delivery in smtp.received)
    assert len(subjects) == 2
    assert "Confirm your email" in subjects[0]
    assert "Someone tried to join" in subjects[1]
    notice = next(d.message for d in smtp.received if "Someone tried" in d.message["Subject"])
    assert "/verify/" not in plain(notice)
    assert [part.get_content_type() for part in notice.iter_parts()] == ["text/plain", "text/html"]


def test_reset_mail_goes_through_smtp_only_for_known_addresses(smtp_app, smtp):
    create_member(smtp_app, email="known@example.org", verified=False)
    client = smtp_app.test_client()
    with running_consumer(smtp_app) as consumer:
        consumer.wait("mail.send")  # the verification link
        smtp.received.clear()
        assert post_form(client, "/reset", {"email": "nobody@example.org"}, token_from="/reset").status_code == 200
        consumer.wait("members.send_password_reset")
        assert smtp.received == []
        assert post_form(client, "/reset", {"email": "Known@Example.org"}, token_from="/reset").status_code == 200
        consumer.wait("mail.send", count=2)
    assert len(smtp.received) == 1
    message = smtp.received[0].message
    assert smtp.received[0].rcpt_tos == ["known@example.org"]
    link = link_in(plain(message))
    assert f'href="{link}"' in html(message)
    assert client.get(link_path(link)).status_code == 200
    assert post_form(client, link_path(link), {"password": "a brand new passphrase 2024"}).status_code == 302
    login(client, email="known@example.org", password="a brand new passphrase 2024")


def test_an_unreachable_server_is_retried_then_the_mail_is_kept_and_resent(unreachable_app, smtp, caplog):
    client = unreachable_app.test_client()
    response = signup(client)
    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)
    with caplog.at_level(logging.WARNING, logger="portal.mail"), running_consumer(unreachable_app) as consumer:
        consumer.wait("mail.send", "error", count=3)  # the first attempt and MAIL_RETRIES=2 retries
    assert consumer.count("mail.send", "retrying") == 2
    assert consumer.count("mail.send", "complete") == 0
    with unit(unreachable_app):
        assert db.session.scalar(select(Member).where(Member.email == "zoe.nunez@example.org")) is not None
    failed_dir = Path(unreachable_app.config["MAIL_OUTBOX_DIR"]) / "failed"
    failed = files_in(failed_dir)
    assert len(failed) == 1
    kept = message_from_bytes(failed[0].read_bytes(), policy=policy.default)
    assert kept["To"] == "zoe.nunez@example.org"
    assert [part.get_content_type() for part in kept.iter_parts()] == ["text/plain", "text/html"]
    assert sum("not sent this time" in record.getMessage() for record in caplog.records) == 3
    assert any("failed; kept at" in record.getMessage() for record in caplog.records)

    # `flask mail resend` once the server answers: sent, and gone from failed/.
    runner = unreachable_app.test_cli_runner()
    unreachable_app.config["MAIL_PORT"] = smtp.port
    result = runner.invoke(args=["mail", "resend"])
    assert result.exit_code == 0, result.output
    assert "Resent 1 message." in result.output
    assert files_in(failed_dir) == []
    assert [delivery.rcpt_tos for delivery in smtp.received] == [["zoe.nunez@example.org"]]
    # The resent message is complete: its link still confirms the address.
    assert client.get(link_path(link_in(plain(smtp.received[0].message)))).status_code in (200, 302)
    with unit(unreachable_app):
        assert db.session.scalar(select(Member.email_verified_at)) is not None


def test_resend_keeps_what_still_fails(unreachable_app):
    failed_dir = Path(unreachable_app.config["MAIL_OUTBOX_DIR"]) / "failed"
    with unit(unreachable_app):
        message = mail.build_message(to="someone@example.org", subject="Kept", template="already_member",
                                     member=None, login_url="http://localhost/login",
                                     reset_url="http://localhost/reset")
        mail.keep_failed(raw=bytes(message))
    result = unreachable_app.test_cli_runner().invoke(args=["mail", "resend"])
    assert result.exit_code == 1
    assert "Resent 0 messages." in result.output and "1 still failing" in result.output
    assert len(files_in(failed_dir)) == 1


def test_retries_back_off(tmp_path):
    app = _app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_RETRIES=3, MAIL_RETRY_DELAY=60)
    try:
        assert signup(app.test_client()).status_code == 200
        huey = app.extensions["portal.queue"].huey
        with running_consumer(app) as consumer:
            consumer.wait("mail.send", "scheduled")
        [retry] = huey.scheduled()
        # Next attempt in 60 s, the one after in 120 s: each failure doubles the wait.
        assert retry.retries == 2
        assert retry.retry_delay == 120
        assert 50 <= (retry.eta - huey._get_timestamp()).total_seconds() <= 60
        assert files_in(Path(app.config["MAIL_OUTBOX_DIR"]) / "failed") == []
    finally:
        _empty_database(app)


def test_a_message_refused_for_good_is_kept_without_retrying(smtp_app, smtp, caplog):
    smtp.reply = "554 5.7.1 Message refused"
    with caplog.at_level(logging.ERROR, logger="portal.mail"):
        response = signup(smtp_app.test_client())
        assert response.status_code == 200
        with running_consumer(smtp_app) as consumer:
            consumer.wait("mail.send")
    assert consumer.count("mail.send", "retrying") == 0
    assert smtp.received == []
    failed = files_in(Path(smtp_app.config["MAIL_OUTBOX_DIR"]) / "failed")
    assert len(failed) == 1
    assert "Confirm your email" in message_from_bytes(failed[0].read_bytes(), policy=policy.default)["Subject"]
    assert any("refused" in record.getMessage() and record.exc_info for record in caplog.records)


def test_an_international_address_is_delivered(smtp_app, smtp):
    response = signup(smtp_app.test_client(), email="Zoë@Example.org")
    assert response.status_code == 200
    with running_consumer(smtp_app) as consumer:
        consumer.wait("mail.send")
    assert [delivery.rcpt_tos for delivery in smtp.received] == [["zoë@example.org"]]
    assert files_in(Path(smtp_app.config["MAIL_OUTBOX_DIR"]) / "failed") == []


# --- the file outbox (no MAIL_SERVER) -------------------------------------------------

def _notice(to: str) -> None:
    mail.send_mail(to=to, subject="Someone tried to join with your email", template="already_member",
                   member=None, login_url="http://localhost/login", reset_url="http://localhost/reset")


def test_file_mail_is_written_when_the_unit_commits_and_never_for_a_rolled_back_one(app, outbox):
    with unit(app):
        _notice("kept@example.org")
        assert outbox.messages() == []  # not before the commit
    assert [m["To"] for m in outbox.messages()] == ["kept@example.org"]
    with pytest.raises(RuntimeError), unit(app):
        _notice("dropped@example.org")
        raise RuntimeError("the unit fails")
    with app.app_context():
        _notice("at-once@example.org")  # outside any unit of work: at once
        mail.deliver(mail.build_message(to="delivered@example.org", subject="Direct", template="already_member",
                                        member=None, login_url="", reset_url=""))
    assert [m["To"] for m in outbox.messages()] == ["kept@example.org", "at-once@example.org",
                                                    "delivered@example.org"]


def test_flask_mail_outbox_prints_the_newest_messages_decoded(app, runner):
    runner_result = runner.invoke(args=["mail", "outbox"])
    assert runner_result.exit_code == 1 and "No mail" in runner_result.output
    create_member(app, email="first@example.org", name="Zoë First", verified=False)
    create_member(app, email="second@example.org", verified=False)
    outbox = Outbox(app)
    link = outbox.link(outbox.last("first@example.org"))
    assert len(link) > 80  # long enough that an encoded file would wrap it

    result = runner.invoke(args=["mail", "outbox", "--to", "First@Example.org"])
    assert result.exit_code == 0, result.output
    assert "To: first@example.org" in result.output and "second@example.org" not in result.output
    assert "Zoë First" in result.output
    assert link in result.output.split()  # on one line, as is: ready to paste

    result = runner.invoke(args=["mail", "outbox", "-n", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.index("To: first@example.org") < result.output.index("To: second@example.org")
    assert result.output.count("Subject: ") == 2


def test_resend_needs_an_smtp_server(runner):
    result = runner.invoke(args=["mail", "resend"])
    assert result.exit_code == 1
    assert "MAIL_SERVER is not set" in result.output


def test_mail_is_kept_when_the_queue_itself_is_unreachable(tmp_path, caplog):
    app = _app(tmp_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(),
               REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")  # no Redis listens there
    try:
        with caplog.at_level(logging.ERROR, logger="portal.mail"):
            response = signup(app.test_client())
        assert response.status_code == 200  # the sign-up stands
        failed = files_in(Path(app.config["MAIL_OUTBOX_DIR"]) / "failed")
        assert len(failed) == 1
        assert "Confirm your email" in message_from_bytes(failed[0].read_bytes(), policy=policy.default)["Subject"]
        assert any("could not queue" in record.getMessage() for record in caplog.records)
    finally:
        _empty_database(app)
