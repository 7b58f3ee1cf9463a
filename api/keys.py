"""API keys: created once, shown once, stored only as a SHA-256 hash.

Keys are 32 random bytes, so a fast unsalted hash is enough: nobody can guess one from its
hash, and lookups stay a single indexed equality.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import psycopg

from core.errors import ConfigError, NotFoundError

KEY_PREFIX = "ghk_"
_LIFETIME = re.compile(r"(\d{1,6})([hdw])")
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


class Role(StrEnum):
    VIEWER = "viewer"    # aggregates only
    ANALYST = "analyst"  # aggregates and masked case rows
    ADMIN = "admin"      # everything, including operations endpoints

    @property
    def sees_cases(self) -> bool:
        return self is not Role.VIEWER


@dataclass(frozen=True)
class NewKey:
    key_id: int
    key: str  # the secret: printed once, never stored
    role: Role
    scope_code: str
    expires_at: datetime | None = None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def expiry(expires_in: str | None = None, last_day: date | None = None, timezone: str = "UTC",
           now: datetime | None = None) -> datetime | None:
    """When a key stops working: `expires_in` from now ("12h", "30d", "8w"), or at the end of
    `last_day` in the city's time zone; None (never) without either."""
    now = now or datetime.now(UTC)
    if expires_in is not None and last_day is not None:
        raise ConfigError("give --expires-in or --expires, not both")
    if expires_in is not None:
        match = _LIFETIME.fullmatch(expires_in.strip())
        if match is None or int(match[1]) == 0:
            raise ConfigError(f"--expires-in {expires_in!r}: expected a number and h, d or w (12h, 30d, 8w)")
        return now + int(match[1]) * _UNIT[match[2]]
    if last_day is not None:
        end = datetime.combine(last_day + timedelta(days=1), time.min, ZoneInfo(timezone))
        if end <= now:
            raise ConfigError(f"--expires {last_day}: that day is over")
        return end
    return None


def create_key(conn: psycopg.Connection, role: Role | str, scope_code: str,
               name: str | None = None, expires_at: datetime | None = None) -> NewKey:
    """Store a new key for a role confined to an area's subtree, working until `expires_at`
    (None: until revoked); returns the secret once."""
    role = Role(role)
    found = conn.execute("SELECT 1 FROM areas WHERE code = %s AND valid_to IS NULL",
                         (scope_code,)).fetchone()
    if found is None:
        raise ConfigError(f"scope {scope_code!r} is not a current area code")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = conn.execute(
        "INSERT INTO api_keys (key_hash, prefix, name, role, scope_code, expires_at)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING key_id",
        (hash_key(key), key[:10], name, role.value, scope_code, expires_at)).fetchone()[0]
    return NewKey(key_id, key, role, scope_code, expires_at)


def revoke_key(conn: psycopg.Connection, key_id: int) -> None:
    """Revoke a key (it stops working once API workers' key caches expire)."""
    cur = conn.execute("UPDATE api_keys SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL",
                       (key_id,))
    if cur.rowcount == 0:
        raise NotFoundError(f"no active key with id {key_id}")


def list_keys(conn: psycopg.Connection) -> list[tuple]:
    """(key_id, prefix, name, role, scope_code, created_at, expires_at, revoked_at) of every key."""
    return conn.execute("SELECT key_id, prefix, name, role, scope_code, created_at, expires_at, revoked_at"
                        " FROM api_keys ORDER BY key_id").fetchall()
