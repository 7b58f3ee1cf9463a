"""`gridhub keys create --expires-in / --expires` and `gridhub keys list` showing the expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from typer.testing import CliRunner

from cli.context import console
from cli.main import app


def test_keys_expire_as_created_and_the_list_says_when(settings, monkeypatch):
    db_url = settings.database_url
    monkeypatch.setenv("DATABASE_URL", db_url)

    def _create(*options: str):
        return CliRunner().invoke(app, ["keys", "create", "--role", "viewer", "--scope", settings.city_code,
                                        *options])

    month = _create("--expires-in", "30d", "--name", "a month")
    assert month.exit_code == 0, month.output
    assert "expires" in month.output and month.stdout.strip().splitlines()[-1].startswith("ghk_")
    day = _create("--expires", "2099-12-31", "--name", "to the century's end")
    assert day.exit_code == 0, day.output
    forever = _create("--name", "no end")
    assert forever.exit_code == 0, forever.output

    with psycopg.connect(db_url) as conn:
        stored = dict(conn.execute("SELECT name, expires_at FROM api_keys").fetchall())
    assert abs(stored["a month"] - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)
    assert stored["to the century's end"] == datetime(2099, 12, 31, 16, 0, tzinfo=UTC)  # midnight, Shanghai
    assert stored["no end"] is None

    with psycopg.connect(db_url) as conn:  # one that has run out
        conn.execute("UPDATE api_keys SET expires_at = now() - interval '1 day' WHERE name = 'no end'")
    # The CLI's console took its width when first imported, in whichever test that was.
    monkeypatch.setattr(console, "width", 250)
    listed = CliRunner().invoke(app, ["keys", "list"])
    assert listed.exit_code == 0, listed.output
    assert "2099-12-31" in listed.output and "(expired)" in listed.output

    for options, words in ((["--expires-in", "30x"], "expected a number"),
                           (["--expires", "2001-01-01"], "that day is over"),
                           (["--expires-in", "1d", "--expires", "2099-01-01"], "not both")):
        refused = _create(*options)
        assert refused.exit_code != 0 and words in refused.output, refused.output
        assert "Traceback" not in refused.output
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM api_keys").fetchone()[0] == 3
