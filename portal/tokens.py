"""Signed, expiring tokens for links sent by mail."""
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from flask import current_app


class TokenInvalid(Exception):
    """The link is malformed, tampered with, used, or expired."""

    def __init__(self, expired: bool = False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"portal.{purpose}")


def make_token(purpose: str, payload: dict) -> str:
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str, max_age: int) -> dict:
    if len(token) > 1024:
        raise TokenInvalid()
    try:
        payload = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenInvalid(expired=True) from exc
    except (BadSignature, UnicodeError, ValueError) as exc:
        raise TokenInvalid() from exc
    if not isinstance(payload, dict):
        raise TokenInvalid()
    return payload
