"""The rule on the key of person keys: keyed hashes of names, phones and ID numbers
(connectors.mapping makes them at ingest; linking and warnings compare them).

Kept apart from core.hashing so that every entry point can check its settings without
loading pandas.
"""

from __future__ import annotations

from core.errors import DefaultSecretError

DEVELOPMENT = "development"
DEV_HASH_KEY = "gridhub-development-key"
# Every development default shipped in docker-compose.yml and .env.example holds this marker
# (docker/check-secrets.sh refuses the same values).
DEV_SECRET_MARKER = "dev-insecure"


def check_person_key(key: str, env: str) -> None:
    """Refuse to make person keys with a public (or empty) key anywhere but in development.

    The development key ships with the code: anyone holding it can hash every mobile number
    (about 3.5 core-hours) and read person keys back. Any GRIDHUB_ENV other than
    `development` (production, staging, a typo) counts as real data.
    """
    if env != DEVELOPMENT and (key in ("", DEV_HASH_KEY) or DEV_SECRET_MARKER in key):
        raise DefaultSecretError(
            f"GRIDHUB_ENV={env} but GRIDHUB_HASH_KEY is unset or a development default, with which"
            " person keys can be reversed: set it to a secret value (e.g. `openssl rand -hex 32`)"
            " before running GridHub")
