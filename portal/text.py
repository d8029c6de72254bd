"""Cleaning what people type, shared by every feature: slugs, free topic tags, web and email addresses."""
import re
import unicodedata
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from portal.exceptions import ValidationFailed

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
WEB_ADDRESS_RE = re.compile(r"^https?://[^\s/]+\.[^\s]+$")
MAX_TOPICS = 12


def slugify(text: str, max_length: int = 120) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].strip("-")


def clean_slug(value: str | None, title: str = "", *, field: str = "slug", max_length: int = 120,
               reserved=frozenset()) -> str:
    """The slug as typed (lower-cased), or one made from the title; raises ValidationFailed when malformed or
    when it is one of the `reserved` addresses a feature keeps for pages of its own."""
    slug = (value or "").strip().lower() or slugify(title, max_length)
    if not SLUG_RE.match(slug) or len(slug) > max_length:
        raise ValidationFailed(field, f"Use lower-case letters, digits and single hyphens (at most {max_length}).")
    if slug in reserved:
        raise ValidationFailed(field, "That address is reserved; choose another slug.")
    return slug


def clean_title(value: str | None, *, what: str, field: str = "title", max_length: int = 200) -> str:
    """A title on one line with single spaces; `what` names the thing in the message ("Give the event a title.")."""
    title = " ".join((value or "").split())
    if not title:
        raise ValidationFailed(field, f"Give the {what} a title.")
    if len(title) > max_length:
        raise ValidationFailed(field, f"Use at most {max_length} characters for the title.")
    return title


def clean_line(value, *, field: str, label: str, max_length: int, required: bool = False) -> str:
    """One line of text with single spaces; `label` names it in the message ("Give the state.")."""
    text = " ".join(str(value or "").split())
    if required and not text:
        raise ValidationFailed(field, f"Give {label}.")
    if len(text) > max_length:
        raise ValidationFailed(field, f"Use at most {max_length} characters for {label}.")
    return text


def clean_text(value, *, field: str, label: str, max_length: int, required: bool = False) -> str:
    """Plain text of several lines (a message, a reason): trimmed, Windows line ends made plain; `label` names it
    in the message ("Write your message.")."""
    text = str(value or "").replace("\r\n", "\n").strip()
    if required and not text:
        raise ValidationFailed(field, f"Write {label}.")
    if len(text) > max_length:
        raise ValidationFailed(field, f"Use at most {max_length:,} characters for {label}.")
    return text


def clean_topics(topics, *, field: str = "topics") -> list[str]:
    """Free tags: trimmed, lower-cased, without repeats, at most MAX_TOPICS (a comma-separated string works)."""
    if isinstance(topics, str):
        topics = topics.split(",")
    cleaned, seen = [], set()
    for topic in topics or []:
        topic = " ".join(str(topic).split()).lower()[:60]
        if topic and topic not in seen:
            seen.add(topic)
            cleaned.append(topic)
    if len(cleaned) > MAX_TOPICS:
        raise ValidationFailed(field, f"Use at most {MAX_TOPICS} topics.")
    return cleaned


def clean_web_address(value: str | None, *, field: str) -> str:
    """"" or a full http(s) address; raises ValidationFailed otherwise."""
    address = (value or "").strip()
    if address and (not WEB_ADDRESS_RE.match(address) or len(address) > 500):
        raise ValidationFailed(field, "Give a full web address starting with https://.")
    return address


def normalize_email(email: str) -> str:
    """An address as stored: checked, normalised and lower-cased (the unique keys are case-insensitive)."""
    try:
        valid = validate_email(email.strip(), check_deliverability=False)
    except (EmailNotValidError, UnicodeError) as exc:
        raise ValidationFailed("email", "Enter a valid email address.") from exc
    normalized = valid.normalized.lower()
    if len(normalized) > 254:
        raise ValidationFailed("email", "That email address is too long.")
    return normalized


def size_label(size: int) -> str:
    """1 GB, 25 MB, 1.5 MB, 512 KB: a limit under a megabyte must not read as "0 MB"."""
    if size >= 1 << 30:
        return f"{size / (1 << 30):.3g} GB"
    if size >= 1 << 20:
        return f"{size / (1 << 20):.3g} MB"
    return f"{max(1, size // 1024)} KB"


def clean_filename(filename: str, fallback: str = "file") -> str:
    """An uploaded file's name as kept: its last part only, letters, digits and . - _ and spaces."""
    name = Path(str(filename or "").replace("\\", "/")).name
    name = re.sub(r"[^\w.\- ]+", "_", name).strip(" .")
    return name[-150:] or fallback


def paragraphs(text: str) -> list[list[str]]:
    """Plain text as paragraphs of lines, for an HTML mail part or a page to show as typed (each line escaped)."""
    blocks = (text or "").replace("\r\n", "\n").split("\n\n")
    return [block.strip("\n").splitlines() for block in blocks if block.strip()]
