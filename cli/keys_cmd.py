"""`gridhub keys`: create, list and revoke API keys (the secret is printed once)."""

from __future__ import annotations

import typer
from rich.table import Table

from api.keys import Role, create_key, list_keys, revoke_key
from cli.context import console, database_url, friendly_errors, settings
from store.db import connect

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command()
def create(role: Role = typer.Option(..., help="viewer (aggregates), analyst (+ masked cases) or admin"),
           scope: str = typer.Option(..., help="area code whose subtree the key may see"),
           name: str = typer.Option(None, help="who or what the key is for")) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    with friendly_errors(), connect(database_url(settings())) as conn:
        new = create_key(conn, role, scope, name)
    console.print(f"key {new.key_id}: role {new.role.value}, scope {new.scope_code} "
                  "(store it now: it cannot be shown again)")
    print(new.key)


@app.command("list")
def list_() -> None:
    """Every key: id, prefix, role, scope, created and revoked times (never the secret)."""
    with friendly_errors(), connect(database_url(settings())) as conn:
        rows = list_keys(conn)
    table = Table("id", "prefix", "name", "role", "scope", "created", "revoked")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


@app.command()
def revoke(key_id: int = typer.Argument(..., help="the id shown by `gridhub keys list`")) -> None:
    """Revoke a key (API workers stop accepting it within GRIDHUB_API_KEY_CACHE_SECONDS)."""
    with friendly_errors(), connect(database_url(settings())) as conn:
        revoke_key(conn, key_id)
    console.print(f"key {key_id} revoked")
