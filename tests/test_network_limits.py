"""The directory's daily limits on messages: worked by hand (per sender, per recipient, 24 hours on), and
holding under concurrent requests (eight at once, on SQLite and PostgreSQL alike)."""
from datetime import timedelta

from sqlalchemy import update

from portal.database import utcnow
from portal.extensions import db, limiter
from portal.network.models import ContactMessage
from tests.conftest import csrf_token, login, unit
from tests.test_events_concurrency import at_once
from tests.test_network import listed
from tests.test_network_contact import peer, stored, write


def test_the_daily_limits_worked_by_hand(app):
    app.config.update(NETWORK_MESSAGES_PER_SENDER=2, NETWORK_MESSAGES_PER_RECIPIENT=2)
    _, amy = peer(app, "Amy Alvarez")
    ben_id, _ = peer(app, "Ben Brooks")
    cat_id, cat = peer(app, "Cat Chen")
    dev_id, dev = peer(app, "Dev Das")
    assert write(amy, ben_id).status_code == 302  # Amy: 1 of 2
    assert write(amy, cat_id).status_code == 302  # Amy: 2 of 2
    third = write(amy, dev_id)  # a third in 24 hours
    assert third.status_code == 429
    assert "You have written 2 messages in the last 24 hours" in third.get_data(as_text=True)

    assert write(cat, ben_id).status_code == 302  # Ben has had 2 now (Amy's and Cat's)
    full = write(dev, ben_id)
    assert full.status_code == 429
    assert "Ben Brooks has had as many messages in the last 24 hours" in full.get_data(as_text=True)
    assert len(stored(app)) == 3

    with unit(app):  # 25 hours on, none of them counts
        db.session.execute(update(ContactMessage).values(created_at=utcnow() - timedelta(hours=25)))
    assert write(amy, dev_id).status_code == 302
    assert write(dev, ben_id).status_code == 302
    assert len(stored(app)) == 5


def test_the_limits_hold_under_concurrent_requests(app):
    app.config.update(NETWORK_MESSAGES_PER_SENDER=3, NETWORK_MESSAGES_PER_RECIPIENT=3)
    # One sender, eight recipients, eight requests at once (eight sessions of the same member): three pass.
    recipients = [peer(app, f"Recipient{n} R")[0] for n in range(8)]
    sender_clients = []
    for _ in range(8):
        limiter.reset()
        client = app.test_client()
        if not sender_clients:
            listed(app, "sara@example.org", "Sara Sender")
        login(client, "sara@example.org")
        sender_clients.append(client)
    calls = [_writer(client, profile_id) for client, profile_id in zip(sender_clients, recipients)]
    statuses = sorted(status for status, _ in at_once(calls))
    assert statuses == [302] * 3 + [429] * 5
    assert len(stored(app)) == 3

    # Eight senders, one recipient, at once: three pass.
    target_id, _ = peer(app, "Tia Target")
    limiter.reset()
    senders = [peer(app, f"Writer{n} W")[1] for n in range(8)]
    statuses = sorted(status for status, _ in at_once([_writer(client, target_id) for client in senders]))
    assert statuses == [302] * 3 + [429] * 5
    assert sum(1 for _, to, _ in stored(app) if to == "tia@example.org") == 3
    limiter.reset()


def _writer(client, profile_id):
    """A ready-to-fire message to the profile (its CSRF token read first, so only the POSTs overlap)."""
    token = csrf_token(client, f"/network/{profile_id}/contact")

    def send():
        response = client.post(f"/network/{profile_id}/contact",
                               data={"csrf_token": token, "subject": "At once", "body": "Hello"})
        return response.status_code, response.get_data(as_text=True)
    return send
