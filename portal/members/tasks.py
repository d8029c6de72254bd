"""Membership's background jobs (the task queue's functions)."""
from portal import queue
from portal.mail import send_mail, site_url_for
from portal.members.services import _reset_fingerprint, find_member_by_email
from portal.tokens import make_token


@queue.task("members.send_password_reset")
def send_password_reset(*, email: str) -> None:
    """Mail a reset link if the address has an account. Looked up here, in the worker, so the request that
    asked does the same work whether or not the account exists."""
    member = find_member_by_email(email)
    if member is None:
        return
    token = make_token("reset", {"id": member.id, "fp": _reset_fingerprint(member)})
    send_mail(to=member.email, subject="Reset your 12 Million Calls password", template="reset",
              member=member, link=site_url_for("members.reset_password", token=token))
