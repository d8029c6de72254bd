"""Members writing to each other through the directory, without either address on a page.

A listed member writes to another listed member who is open to it. The site stores the message (the
recipient's inbox at /network/messages), mails it to the recipient with the sender's directory name and
profile link, and puts the sender's address in Reply-To only when the sender agreed to share it. Limits, in any
24 hours: NETWORK_MESSAGES_PER_SENDER written by one member, NETWORK_MESSAGES_PER_RECIPIENT passed on to one.
A recipient can block a sender (their next message is refused) and report a message to staff.
"""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update

from portal.audit.services import record_event
from portal.database import insert_ignoring_conflict, utcnow
from portal.exceptions import NotAllowed, ValidationFailed
from portal.extensions import db
from portal.mail import send_mail, site_url_for
from portal.members.models import Member
from portal.network.models import ContactBlock, ContactMessage, NetworkProfile, only_listed
from portal.network.services import profile_of, suspended_notice
from portal.text import clean_line, clean_text, paragraphs

MAX_SUBJECT = 150
MAX_BODY = 5000
MAX_REASON = 2000
DAY = timedelta(hours=24)
PER_PAGE = 20


class LimitReached(NotAllowed):
    """A daily limit refused the message (answered 429: it can be sent later)."""


def refusal(own: NetworkProfile | None, profile: NetworkProfile) -> str | None:
    """Why the member whose profile is `own` (None: they have none) may not write to the person behind
    `profile`, or None. Reads the rows as loaded (and one block)."""
    if own is not None and own.id == profile.id:
        return "This is your own listing: you cannot write to yourself."
    if not profile.is_shown:
        return f"{profile.display_name} is no longer in the member directory."
    if notice := suspended_notice(own):
        return notice
    if own is not None and own.hidden_at is not None:
        return ("Staff have hidden your listing, so the people you write to could not see who you are. Write to "
                "the site's staff (see the contact page) to ask why.")
    if own is None or not own.is_shown:
        return ("List yourself in the member directory first (on your account page), so the person you write "
                "to can see who you are.")
    if not profile.is_open_to_contact:
        return f"{profile.display_name} is not taking messages through the directory."
    if has_blocked(profile.member, own.member_id):
        return f"{profile.display_name} does not accept messages from you."
    return None


def _refuse(own: NetworkProfile | None, profile: NetworkProfile) -> None:
    reason = refusal(own, profile)
    if reason:
        raise NotAllowed(reason)


def _lock(*profiles: NetworkProfile) -> datetime:
    """One UPDATE of each profile that changes nothing, in id order: the row locks (the write lock on SQLite)
    make messages and blocks through one profile take turns, so what is read next includes every message and
    block committed before. The same order everywhere means two members writing to each other at once cannot
    deadlock. The profiles are read again under the lock; NotAllowed when one is gone (its account deleted a
    moment ago)."""
    for profile in sorted(profiles, key=lambda p: p.id):
        done = db.session.execute(update(NetworkProfile).where(NetworkProfile.id == profile.id)
                                  .values(updated_at=NetworkProfile.updated_at)
                                  .execution_options(synchronize_session=False))
        if done.rowcount != 1:
            raise NotAllowed("This member has left the directory.")
    for profile in profiles:
        db.session.refresh(profile)
    return utcnow()


def _count(column, member_id: int, since: datetime) -> int:
    return db.session.scalar(select(func.count()).select_from(ContactMessage)
                             .where(column == member_id, ContactMessage.created_at > since))


def _check_limits(sender: Member, profile: NetworkProfile, now: datetime) -> None:
    config = current_app.config
    per_sender, per_recipient = config["NETWORK_MESSAGES_PER_SENDER"], config["NETWORK_MESSAGES_PER_RECIPIENT"]
    if _count(ContactMessage.sender_id, sender.id, now - DAY) >= per_sender:
        raise LimitReached(f"You have written {per_sender} messages in the last 24 hours, the most the site "
                           "passes on for one member. Please write again tomorrow.")
    if _count(ContactMessage.recipient_id, profile.member_id, now - DAY) >= per_recipient:
        raise LimitReached(f"{profile.display_name} has had as many messages in the last 24 hours as the site "
                           "passes on to one member. Please write again tomorrow.")


def send_message(sender: Member, profile: NetworkProfile, *, subject: str, body: str,
                 share_address: bool = False) -> ContactMessage:
    """Store the message and mail it to the recipient after the commit; NotAllowed when the directory's rules
    or limits refuse it (nothing is stored then)."""
    subject = clean_line(subject, field="subject", label="a subject", max_length=MAX_SUBJECT, required=True)
    body = clean_text(body, field="body", label="your message", max_length=MAX_BODY, required=True)
    own = profile_of(sender)
    _refuse(own, profile)
    now = _lock(own, profile)
    _refuse(own, profile)  # asked again under the lock: a block, a suspension or an unticked box of a moment ago holds
    _check_limits(sender, profile, now)
    message = ContactMessage(sender_id=sender.id, recipient_id=profile.member_id, sender_name=own.display_name,
                             recipient_name=profile.display_name, subject=subject, body=body,
                             shares_address=bool(share_address), created_at=now)
    db.session.add(message)
    db.session.flush()
    send_mail(to=profile.member.email, subject=f"{own.display_name} wrote to you: {subject}",
              template="network_message", reply_to=sender.email if share_address else None,
              sender=own, recipient=profile, message_subject=subject, body=body, paragraphs=paragraphs(body),
              shares_address=bool(share_address),
              profile_url=site_url_for("network.profile", profile_id=own.id),
              inbox_url=site_url_for("network.messages"))
    return message


def _page(column, member: Member, page: int, per_page: int, other):
    """A page of the member's messages (`column`: as recipient or as sender), newest first, with `listings`:
    the other side's member id -> their listing's id, for those still listed."""
    box = db.paginate(select(ContactMessage).where(column == member.id)
                      .order_by(ContactMessage.created_at.desc(), ContactMessage.id.desc()),
                      page=page, per_page=per_page, error_out=False)
    others = {getattr(m, other) for m in box.items}
    box.listings = dict(db.session.execute(
        only_listed(select(NetworkProfile.member_id, NetworkProfile.id))
        .where(NetworkProfile.member_id.in_(others))).tuples().all()) if others else {}
    return box


def inbox(member: Member, *, page: int = 1, per_page: int = PER_PAGE):
    """A page of the messages written to the member, with `listings` (the senders') and `blocked` (the senders
    they blocked): four queries."""
    box = _page(ContactMessage.recipient_id, member, page, per_page, "sender_id")
    box.blocked = blocked_ids(member)
    return box


def sent(member: Member, *, page: int = 1, per_page: int = PER_PAGE):
    """A page of the messages the member wrote, with `listings` (the recipients'): three queries."""
    return _page(ContactMessage.sender_id, member, page, per_page, "recipient_id")


def blocked_ids(member: Member) -> set[int]:
    return set(db.session.scalars(select(ContactBlock.blocked_id).where(ContactBlock.blocker_id == member.id)))


def blocks_of(member: Member) -> list[ContactBlock]:
    return list(db.session.scalars(select(ContactBlock).where(ContactBlock.blocker_id == member.id)
                                   .order_by(ContactBlock.blocked_name, ContactBlock.blocked_id)))


def received_message(member: Member, message_id: int) -> ContactMessage | None:
    """One message written to this member (None for anyone else's)."""
    return db.session.scalar(select(ContactMessage).where(ContactMessage.id == message_id,
                                                          ContactMessage.recipient_id == member.id))


def block_sender(member: Member, message: ContactMessage) -> None:
    """The member takes no more messages from the one who wrote this (once is enough: a second click, or two at
    once, change nothing). The member's profile is stamped first, as a message to them stamps it, so a message
    being sent at this moment is either in before the block or refused by it."""
    _lock(profile_of(member))
    db.session.execute(insert_ignoring_conflict(ContactBlock).values(
        blocker_id=member.id, blocked_id=message.sender_id, blocked_name=message.sender_name, created_at=utcnow()))


def has_blocked(member: Member, blocked_id: int) -> bool:
    return db.session.get(ContactBlock, (member.id, blocked_id)) is not None


def unblock(member: Member, blocked_id: int) -> None:
    db.session.execute(delete(ContactBlock).where(ContactBlock.blocker_id == member.id,
                                                  ContactBlock.blocked_id == blocked_id))


def report_message(member: Member, message: ContactMessage, *, reason: str) -> None:
    """Hand the message to staff, with the recipient's reason; staff then read it at /staff/network."""
    reason = clean_text(reason, field="reason", label="the reason", max_length=MAX_REASON)
    # One UPDATE that only an unreported message matches: two reports at once make one.
    done = db.session.execute(update(ContactMessage).where(ContactMessage.id == message.id,
                                                           ContactMessage.report_status == "")
                              .values(report_status="open", report_reason=reason, reported_at=utcnow())
                              .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        raise ValidationFailed(None, "You have reported this message already.")
    record_event(actor=member, action="network.reported", subject=f"member #{message.sender_id}",
                 message=message.id)


def export_messages(member: Member) -> dict:
    """For the member's JSON export: what they wrote and what was written to them, naming people as the
    directory did (never an address), and whom they blocked."""
    def shown(message, *, sent):
        item = {"subject": message.subject, "body": message.body, "sent_at": message.created_at.isoformat()}
        if sent:
            return {**item, "to": message.recipient_name, "shared_your_address": message.shares_address}
        return {**item, "from": message.sender_name, "reported": message.report_status != "",
                "report_reason": message.report_reason}

    sent = db.session.scalars(select(ContactMessage).where(ContactMessage.sender_id == member.id)
                              .order_by(ContactMessage.id))
    received = db.session.scalars(select(ContactMessage).where(ContactMessage.recipient_id == member.id)
                                  .order_by(ContactMessage.id))
    return {"sent": [shown(m, sent=True) for m in sent], "received": [shown(m, sent=False) for m in received],
            "blocked": [block.blocked_name for block in blocks_of(member)]}
