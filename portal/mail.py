"""The one door for outgoing mail: SMTP when MAIL_SERVER is set, else .eml files in the outbox."""
import logging
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app, render_template

from portal.database import utcnow

log = logging.getLogger(__name__)


def site_url_for(endpoint: str, **values) -> str:
    """An absolute link on SITE_URL, inside a request or not (mail is also sent from commands)."""
    site = urlsplit(current_app.config["SITE_URL"])
    adapter = current_app.url_map.bind(site.netloc, script_name=site.path or "/", url_scheme=site.scheme)
    return adapter.build(endpoint, values, force_external=True)


def build_message(*, to: str, subject: str, template: str, **context) -> EmailMessage:
    config = current_app.config
    context.setdefault("site_url", config["SITE_URL"])
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="12millioncalls.local")
    message.set_content(render_template(f"mail/{template}.txt", **context))
    message.add_alternative(render_template(f"mail/{template}.html", **context), subtype="html")
    return message


def _write_eml(folder: Path, message: EmailMessage) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    # Names sort by time, so the newest message is the last file.
    path = folder / f"{utcnow():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
    path.write_bytes(bytes(message))
    return path


def deliver(message: EmailMessage) -> None:
    """Send now. Call only after the database commit that the mail reports on."""
    config = current_app.config
    outbox = Path(config["MAIL_OUTBOX_DIR"])
    if not config["MAIL_SERVER"]:
        _write_eml(outbox, message)
        return
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=15) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls()
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException):
        # The change it reports on is already committed: keep the mail for a resend, never fail the request.
        kept = _write_eml(outbox / "failed", message)
        log.exception("mail to %s failed; kept at %s", message["To"], kept)


def send_mail(*, to: str, subject: str, template: str, **context) -> None:
    deliver(build_message(to=to, subject=subject, template=template, **context))
