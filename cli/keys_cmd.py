"""`gridhub keys`: create, list and revoke API keys (the secret is printed once)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.table import Table

from api.keys import Role, create_key, expiry, list_keys, revoke_key
from cli.context import console, database_url, friendly_errors, settings
from store.db import connect

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command()
def create(role: Role = typer.Option(..., help="viewer (aggregates), analyst (+ masked cases) or admin"),
           scope: str = typer.Option(..., help="area code whose subtree the key may see"),
           name: str = typer.Option(None, help="who or what the key is for"),
           expires_in: str = typer.Option(None, "--expires-in", help="lifetime from now: 12h, 30d, 8w"),
           expires: datetime = typer.Option(None, "--expires", formats=["%Y-%m-%d"],
                                            help="the last day the key works (YYYY-MM-DD, city time)"),
           ) -> None:
    """Create a key; it is printed once and stored only as a hash. Without --expires-in or
    --expires it works until revoked."""
    with friendly_errors():
        config = settings()
        expires_at = expiry(expires_in, expires.date() if expires else None, config.timezone)
        with connect(database_url(config)) as conn:
            new = create_key(conn, role, scope, name, expires_at)
    until = f", expires {new.expires_at:%Y-%m-%d %H:%M %Z}" if new.expires_at else ""
    console.print(f"key {new.key_id}: role {new.role.value}, scope {new.scope_code}{until} "
                  "(store it now: it cannot be shown again)")
    print(new.key)


@app.command("list")
def list_() -> None:
    """Every key: id, prefix, role, scope, created, expiry and revoked times (never the secret)."""
    with friendly_errors(), connect(database_url(settings())) as conn:
        rows = list_keys(conn)
    now = datetime.now(UTC)
    table = Table("id", "prefix", "name", "role", "scope", "created", "expires", "revoked")
    for *head, expires_at, revoked_at in rows:
        expires_text = "never" if expires_at is None else f"{expires_at}" + (" (expired)" if expires_at <= now else "")
        table.add_row(*("" if v is None else str(v) for v in head), expires_text,
                      "" if revoked_at is None else str(revoked_at))
    console.print(table)


@app.command()
def revoke(key_id: int = typer.Argument(..., help="the id shown by `gridhub keys list`")) -> None:
    """Revoke a key (API workers stop accepting it within GRIDHUB_API_KEY_CACHE_SECONDS)."""
    with friendly_errors(), connect(database_url(settings())) as conn:
        revoke_key(conn, key_id)
    console.print(f"key {key_id} revoked")
