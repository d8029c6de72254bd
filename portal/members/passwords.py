"""Password hashing (argon2id) and the rules a new password must pass."""
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY
from flask import current_app

MIN_LENGTH = 12
MAX_LENGTH = 256

# argon2id at RFC 9106's low-memory profile (t=3, m=64 MiB, p=4): the production cost. The app config's
# PASSWORD_HASH_PARAMS (time_cost, memory_cost, parallelism, ...) overrides it; the tests set tiny ones.
PRODUCTION_PARAMS = {"time_cost": RFC_9106_LOW_MEMORY.time_cost, "memory_cost": RFC_9106_LOW_MEMORY.memory_cost,
                     "parallelism": RFC_9106_LOW_MEMORY.parallelism, "hash_len": RFC_9106_LOW_MEMORY.hash_len,
                     "salt_len": RFC_9106_LOW_MEMORY.salt_len}


@lru_cache(maxsize=8)
def _hasher_for(params: tuple) -> tuple[PasswordHasher, str]:
    hasher = PasswordHasher(**dict(params), type=Type.ID)
    # Checked against when the email is unknown, so a miss costs as long as a hit.
    return hasher, hasher.hash("not-a-real-password-just-timing")


def hasher() -> PasswordHasher:
    return _hasher()[0]


def _hasher() -> tuple[PasswordHasher, str]:
    params = dict(PRODUCTION_PARAMS)
    params.update(current_app.config.get("PASSWORD_HASH_PARAMS") or {})
    return _hasher_for(tuple(sorted(params.items())))


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common_passwords.txt")
    return frozenset(line.strip().lower() for line in path.read_text().splitlines() if line.strip())


def password_problem(password: str, email: str = "") -> str | None:
    """The first reason this password is refused, or None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    email = email.strip().lower()
    local = email.split("@", 1)[0]
    if email and (lowered == email or (len(local) >= 4 and local in lowered)):
        return "Choose a password that does not contain your email address."
    if lowered in _common_passwords() or len(set(password)) < 4:
        return "That password is too common or too easy to guess; choose another."
    return None


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    current, dummy = _hasher()
    try:
        return current.verify(password_hash or dummy, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher().check_needs_rehash(password_hash)
