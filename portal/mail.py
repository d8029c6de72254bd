"""The one door for outgoing mail: built in the unit of work, handed over after its commit.

`send_mail(...)` renders the message now and delivers it once the unit of work commits (never for work that
was rolled back). Delivery:
- `MAIL_SERVER` set: the after-commit action queues the `mail.send` task, so a request never waits on SMTP.
  The worker sends it, retrying with backoff (`MAIL_RETRIES` times, first after `MAIL_RETRY_DELAY` seconds,
  doubling); a message that still fails, or that the server refuses for good (5xx), is kept in
  `<outbox>/failed/`, and `flask mail resend` tries those again.
- `MAIL_SERVER` unset (the embedded default): the after-commit action writes the `.eml` file to the outbox
  itself. Writing a file cannot hang like SMTP, and the file is there when the request returns, so a
  newcomer (and a test) finds the confirmation link at once.
`deliver(message)` hands over a message built elsewhere (alert digests) the same way, from an after-commit action.
"""
import logging
import smtplib
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app, render_template

from portal import queue
from portal.database import utcnow

log = logging.getLogger(__name__)


def site_url_for(endpoint: str, **values) -> str:
    """An absolute link on SITE_URL, inside a request or not (mail is also sent from commands)."""
    site = urlsplit(current_app.config["SITE_URL"])
    adapter = current_app.url_map.bind(site.netloc, script_name=site.path or "/", url_scheme=site.scheme)
    return adapter.build(endpoint, values, force_external=True)


def build_message(*, to: str, subject: str, template: str, attachments=(), reply_to: str | None = None,
                  **context) -> EmailMessage:
    """Both parts rendered from mail/<template>.txt and .html; `attachments` are (filename, mimetype, bytes),
    the mimetype optionally with parameters ("text/calendar; method=CANCEL"); `reply_to` sets Reply-To (a
    member who agreed to share their address with the recipient)."""
    config = current_app.config
    context.setdefault("site_url", config["SITE_URL"])
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    if reply_to:
        message["Reply-To"] = reply_to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="12millioncalls.local")
    message.set_content(render_template(f"mail/{template}.txt", **context))
    message.add_alternative(render_template(f"mail/{template}.html", **context), subtype="html")
    for filename, mimetype, data in attachments:
        _attach(message, filename, mimetype, data)
    return message


def _attach(message: EmailMessage, filename: str, mimetype: str, data: bytes) -> None:
    kind, _, parameters = mimetype.partition(";")
    maintype, _, subtype = kind.strip().partition("/")
    params = {}
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip():
            params[name.strip()] = value.strip()
    if maintype == "text":  # a reader decodes the bytes as this says (calendar files carry UTF-8 titles)
        params.setdefault("charset", "utf-8")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename, params=params)


def outbox_dir() -> Path:
    return Path(current_app.config["MAIL_OUTBOX_DIR"])


def failed_dir() -> Path:
    return outbox_dir() / "failed"


def _write_eml(folder: Path, message: EmailMessage) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    # Names sort by time, so the newest message is the last file.
    path = folder / f"{utcnow():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
    path.write_bytes(bytes(message))
    return path


def parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)


def _smtp_send(message: EmailMessage) -> None:
    config = current_app.config
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=15) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)


def _refused_for_good(error: Exception) -> bool:
    """A 5xx answer (bad address, message refused) will be the same next time: retrying only delays the kept copy."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    return isinstance(error, smtplib.SMTPResponseException) and error.smtp_code >= 500


def keep_failed(*, raw: bytes) -> None:
    """The last attempt failed: keep the message for `flask mail resend`."""
    message = parse(raw)
    kept = _write_eml(failed_dir(), message)
    log.error("mail to %s failed; kept at %s", message["To"], kept)


@queue.task("mail.send", retries="MAIL_RETRIES", retry_delay="MAIL_RETRY_DELAY", backoff=2, on_failure=keep_failed)
def send_queued(*, raw: bytes) -> None:
    """The worker's side of SMTP delivery; raising makes the queue retry it later."""
    message = parse(raw)
    try:
        _smtp_send(message)
    except (OSError, smtplib.SMTPException) as error:
        if _refused_for_good(error):
            log.exception("the SMTP server refused the mail to %s", message["To"])
            keep_failed(raw=raw)
            return
        log.warning("mail to %s not sent this time: %s", message["To"], error)  # retried until MAIL_RETRIES
        raise


def deliver(message: EmailMessage) -> None:
    """Hand a built message over now: to the queue's `mail.send` with SMTP, else to the outbox folder.

    Call it only once the work the mail reports on is committed, i.e. from an after-commit action
    (`uow.after_commit(lambda: deliver(message))`, as the alert digests do); `send_mail` does that for you."""
    if current_app.config["MAIL_SERVER"]:
        raw = bytes(message)
        try:
            queue.current_queue().push("mail.send", {"raw": raw})
        except Exception:  # the queue itself is down (Redis unreachable): keep the mail for a resend
            log.exception("could not queue the mail to %s", message["To"])
            keep_failed(raw=raw)
    else:
        _write_eml(outbox_dir(), message)


def send_mail(*, to: str, subject: str, template: str, attachments=(), reply_to: str | None = None,
              **context) -> None:
    """Render the message now (inside the unit, while its rows are at hand); deliver it after the commit
    (at once outside any unit of work). `attachments` and `reply_to` as build_message takes them."""
    message = build_message(to=to, subject=subject, template=template, attachments=attachments,
                            reply_to=reply_to, **context)
    queue.when_committed(lambda: deliver(message))


def resend_failed() -> tuple[int, int]:
    """Try every message kept in failed/ once more over SMTP; returns (sent, still failing)."""
    sent = failing = 0
    for path in sorted(failed_dir().glob("*.eml")):
        try:
            _smtp_send(parse(path.read_bytes()))
        except (OSError, smtplib.SMTPException) as error:
            log.warning("resending %s failed: %s", path.name, error)
            failing += 1
        else:
            path.unlink()
            sent += 1
    return sent, failing


def newest_messages(*, count: int = 1, to: str | None = None) -> list[EmailMessage]:
    """The newest messages in the outbox (oldest of them first), optionally only those to one address."""
    found = []
    for path in sorted(outbox_dir().glob("*.eml"), reverse=True):
        message = parse(path.read_bytes())
        if to is None or (message["To"] or "").lower() == to.strip().lower():
            found.append(message)
            if len(found) == count:
                break
    return found[::-1]


def plain_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else ""
