"""Small database helpers for connector tests."""

from __future__ import annotations

import psycopg


def scalar(url: str, query: str, params: tuple = ()):
    """One value from the database."""
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchone()[0]


def rows(url: str, query: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()
