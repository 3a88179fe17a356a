"""The owner's password: stored only as a salted scrypt hash, checked in constant time.

It comes from the secrets file or $SOCIALBOT_DASHBOARD_PASSWORD (plain, hashed in memory at start, or an
already-hashed `scrypt$...` value), else from the hash `socialbot dashboard set-password` stored in the
database. The plain password is never stored, logged or echoed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from bot.dashboard import DashboardError
from bot.store import Store

PASSWORD_STATE_KEY = "dashboard.password_hash"
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1024
# scrypt cost: n=2**14, r=8, p=1 is about 16 MiB and 40-80 ms per check on one core (OWASP's minimum).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCHEME = "scrypt"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def check_strength(password: str) -> None:
    """Refuse passwords too short to resist guessing (or absurdly long); raises `DashboardError`."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise DashboardError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise DashboardError(f"the password may have at most {MAX_PASSWORD_CHARS} characters")


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$hash`, with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{SCHEME}${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def is_password_hash(value: str) -> bool:
    return value.startswith(f"{SCHEME}$") and value.count("$") == 5


def verify_password(password: str, stored_hash: str) -> bool:
    """Whether `password` matches `stored_hash`; a malformed hash or an over-long password never matches."""
    if len(password) > MAX_PASSWORD_CHARS or not is_password_hash(stored_hash):
        return False
    _, n, r, p, salt, digest = stored_hash.split("$")
    try:
        expected = _unb64(digest)
        actual = _derive(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def store_password(store: Store, password: str) -> None:
    """Hash and keep the owner's password in the database (what `set-password` does)."""
    check_strength(password)
    store.set_state(PASSWORD_STATE_KEY, hash_password(password))


def owner_password_hash(store: Store, secret: str | None) -> str | None:
    """The hash logins are checked against: the secret's (hashed now if plain) before the stored one."""
    if secret:
        return secret if is_password_hash(secret) else hash_password(secret)
    return store.get_state(PASSWORD_STATE_KEY)
