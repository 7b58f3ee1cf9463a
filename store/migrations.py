"""Versioned, idempotent schema migrations: numbered SQL files applied once each, in order.

Number ranges keep parallel work apart: 00xx core, 01xx geo, 02xx connectors, 03xx quality,
04xx api, 05xx alerts, 06xx orchestration.
"""

from __future__ import annotations

from importlib import resources

import psycopg

from store import locks


def available() -> list[tuple[str, str]]:
    """(name, sql) of every migration shipped with the package, in order."""
    folder = resources.files("store") / "sql" / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name, f.read_text(encoding="utf-8")) for f in files]


def migrate(url: str) -> list[str]:
    """Apply the migrations not yet applied; returns their names."""
    applied_now = []
    with psycopg.connect(url, autocommit=True) as conn:
        with locks.held_for_session(conn, locks.MIGRATIONS):
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
            for name, text in available():
                if name in done:
                    continue
                with conn.transaction():
                    conn.execute(text)
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                applied_now.append(name)
    return applied_now


def pending(url: str) -> list[str]:
    """Names of migrations not yet applied."""
    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0]
        done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")} if exists else set()
    return [name for name, _ in available() if name not in done]
