"""Mail against a real SMTP server (aiosmtpd on loopback): both parts, working links, failures kept, sent after commit."""
import logging
import re
import socket
from email import message_from_bytes, policy
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select, text

from portal.content import load_content
from portal.extensions import db
from portal.members.models import Member
from tests.conftest import (_empty_database, create_member, link_path, login, make_app, PASSWORD, post_form, ROOT,
                           unit)

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


def test_signup_mail_goes_through_smtp_with_text_and_html_and_a_working_link(smtp_app, smtp):
    client = smtp_app.test_client()
    response = signup(client)
    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)

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
    assert opened.status_code == 302
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
    finally:
        engine.dispose()
    assert [delivery.seen for delivery in smtp.received] == [1]


@pytest.mark.parametrize("changes", [
    {"password": "short"},
    {"consent": ""},
    {"sector": "police"},
    {"email": "not-an-email"},
])
def test_a_failed_signup_sends_nothing(smtp_app, smtp, changes):
    response = signup(smtp_app.test_client(), **changes)
    assert response.status_code == 400
    assert smtp.received == []
    outbox = Path(smtp_app.config["MAIL_OUTBOX_DIR"])
    assert files_in(outbox) == [] and files_in(outbox / "failed") == []
    with unit(smtp_app):
        assert db.session.scalar(select(Member)) is None


def test_signup_with_a_taken_address_sends_no_verification_link(smtp_app, smtp):
    """The duplicate insert fails at the commit: only the owner's notice goes out, never a link for it."""
    assert signup(smtp_app.test_client()).status_code == 200
    assert signup(smtp_app.test_client(), email="ZOE.NUNEZ@example.ORG").status_code == 200
    subjects = [delivery.message["Subject"] for delivery in smtp.received]
    assert len(subjects) == 2
    assert "Confirm your email" in subjects[0]
    assert "Someone tried to join" in subjects[1]
    notice = smtp.received[1].message
    assert "/verify/" not in plain(notice)
    assert [part.get_content_type() for part in notice.iter_parts()] == ["text/plain", "text/html"]


def test_reset_mail_goes_through_smtp_only_for_known_addresses(smtp_app, smtp):
    create_member(smtp_app, email="known@example.org", verified=False)
    smtp.received.clear()
    client = smtp_app.test_client()
    assert post_form(client, "/reset", {"email": "nobody@example.org"}, token_from="/reset").status_code == 200
    assert smtp.received == []
    assert post_form(client, "/reset", {"email": "Known@Example.org"}, token_from="/reset").status_code == 200
    assert len(smtp.received) == 1
    message = smtp.received[0].message
    assert smtp.received[0].rcpt_tos == ["known@example.org"]
    link = link_in(plain(message))
    assert f'href="{link}"' in html(message)
    assert client.get(link_path(link)).status_code == 200
    assert post_form(client, link_path(link), {"password": "a brand new passphrase 2024"}).status_code == 302
    login(client, email="known@example.org", password="a brand new passphrase 2024")


def test_unreachable_smtp_server_keeps_the_mail_and_the_request_succeeds(unreachable_app, caplog):
    client = unreachable_app.test_client()
    with caplog.at_level(logging.ERROR, logger="portal.mail"):
        response = signup(client)
    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)
    with unit(unreachable_app):
        assert db.session.scalar(select(Member).where(Member.email == "zoe.nunez@example.org")) is not None
    failed = files_in(Path(unreachable_app.config["MAIL_OUTBOX_DIR"]) / "failed")
    assert len(failed) == 1
    kept = message_from_bytes(failed[0].read_bytes(), policy=policy.default)
    assert kept["To"] == "zoe.nunez@example.org"
    assert [part.get_content_type() for part in kept.iter_parts()] == ["text/plain", "text/html"]
    # The kept message is complete: its link still confirms the address.
    assert client.get(link_path(link_in(plain(kept)))).status_code == 302
    assert any("failed" in record.getMessage() and record.exc_info for record in caplog.records)
    # The failure never reaches the visitor.
    assert "Traceback" not in response.get_data(as_text=True)


def test_smtp_server_refusing_the_message_keeps_it_and_the_request_succeeds(smtp_app, smtp, caplog):
    smtp.reply = "554 5.7.1 Message refused"
    with caplog.at_level(logging.ERROR, logger="portal.mail"):
        response = signup(smtp_app.test_client())
    assert response.status_code == 200
    assert smtp.received == []
    failed = files_in(Path(smtp_app.config["MAIL_OUTBOX_DIR"]) / "failed")
    assert len(failed) == 1
    assert "Confirm your email" in message_from_bytes(failed[0].read_bytes(), policy=policy.default)["Subject"]


def test_an_international_address_is_delivered(smtp_app, smtp):
    response = signup(smtp_app.test_client(), email="Zoë@Example.org")
    assert response.status_code == 200
    assert [delivery.rcpt_tos for delivery in smtp.received] == [["zoë@example.org"]]
    assert files_in(Path(smtp_app.config["MAIL_OUTBOX_DIR"]) / "failed") == []
