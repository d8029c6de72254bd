"""Settings from environment variables, with embedded defaults under the instance folder."""
import os
import secrets
from pathlib import Path


class ConfigError(RuntimeError):
    """The environment asks for something the portal cannot run with."""


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(instance: Path, production: bool) -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    if production:
        raise ConfigError("SECRET_KEY must be set when PORTAL_ENV=production.")
    # The embedded default keeps one random key so sessions survive a restart.
    path = instance / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def instance_path() -> Path:
    return Path(os.environ.get("PORTAL_INSTANCE_PATH", "instance")).resolve()


def load_settings(instance: Path) -> dict:
    """Read every setting the README documents; create the embedded folders."""
    env = os.environ.get
    production = env("PORTAL_ENV", "development") == "production"
    instance.mkdir(parents=True, exist_ok=True)
    settings = {
        "PORTAL_ENV": "production" if production else "development",
        "SECRET_KEY": _secret_key(instance, production),
        "SQLALCHEMY_DATABASE_URI": env("DATABASE_URL") or f"sqlite:///{instance / 'portal.db'}",
        "SEARCH_INDEX_DIR": env("SEARCH_INDEX_DIR") or str(instance / "search"),
        "UPLOAD_DIR": env("UPLOAD_DIR") or str(instance / "uploads"),
        "UPLOAD_MAX_BYTES": int(float(env("UPLOAD_MAX_MB") or 25) * 1024 * 1024),
        # Call-type analyses: raw dispatch files wait here only until their job ends (then they are deleted).
        "CALLS_DIR": env("CALLS_DIR") or str(instance / "calls"),
        "CALLS_MAX_BYTES": int(float(env("CALLS_MAX_MB") or 1024) * 1024 * 1024),
        "CALLS_THREADS": int(env("CALLS_THREADS") or 2),
        "CALLS_MEMORY_LIMIT": env("CALLS_MEMORY_LIMIT") or "100MB",
        # An uploaded file whose columns nobody maps within this time is deleted.
        "CALLS_WAIT_MINUTES": int(env("CALLS_WAIT_MINUTES") or 120),
        # A running job shows progress every half second; one silent this long has lost its worker.
        "CALLS_STALE_MINUTES": int(env("CALLS_STALE_MINUTES") or 10),
        # Messages between members through the directory, in any 24 hours: written by one member, and passed
        # on to one member.
        "NETWORK_MESSAGES_PER_SENDER": int(env("NETWORK_MESSAGES_PER_SENDER") or 10),
        "NETWORK_MESSAGES_PER_RECIPIENT": int(env("NETWORK_MESSAGES_PER_RECIPIENT") or 5),
        "MAIL_SERVER": env("MAIL_SERVER") or None,
        "MAIL_PORT": int(env("MAIL_PORT") or 25),
        "MAIL_USERNAME": env("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _flag(env("MAIL_USE_TLS")),
        "MAIL_FROM": env("MAIL_FROM") or "12 Million Calls <no-reply@localhost>",
        # Shown on /contact; unset means the address in MAIL_FROM (resolved when shown, so overrides follow).
        "CONTACT_EMAIL": env("CONTACT_EMAIL") or None,
        "MAIL_OUTBOX_DIR": env("MAIL_OUTBOX_DIR") or str(instance / "outbox"),
        # With Redis for the queue, the rate limits share it: memory:// would count per process.
        "RATELIMIT_STORAGE_URI": env("RATELIMIT_STORAGE_URI") or env("REDIS_URL") or "memory://",
        "REDIS_URL": env("REDIS_URL") or None,
        "QUEUE_SQLITE_PATH": str(instance / "queue.db"),
        "QUEUE_IMMEDIATE": False,
        "MAIL_RETRIES": int(env("MAIL_RETRIES") or 6),
        "MAIL_RETRY_DELAY": float(env("MAIL_RETRY_DELAY") or 30),
        "SITE_URL": (env("SITE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        # How many reverse proxies stand in front; their X-Forwarded-* headers are then trusted.
        "PROXY_COUNT": int(env("PROXY_COUNT") or 0),
        "CONTENT_DIR": env("CONTENT_DIR") or str(Path(__file__).resolve().parent.parent / "content"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        # The request cap sits a little above the file cap, so a too-large file gets the friendly message.
        "MAX_CONTENT_LENGTH": int(float(env("UPLOAD_MAX_MB") or 25) * 1024 * 1024) + 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,  # tied to the session instead: no expired-form surprises
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "RATELIMIT_HEADERS_ENABLED": True,
        # Requests per client address and process to the API (reads, and metric writes with a token).
        "API_READ_LIMIT": env("API_READ_LIMIT") or "300 per minute",
        "API_WRITE_LIMIT": env("API_WRITE_LIMIT") or "60 per minute",
        # Redis down: count per process until it is back, rather than answer every sign-in with an error.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    }
    return settings
