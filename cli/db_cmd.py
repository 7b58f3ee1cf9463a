"""`gridhub db`: find or start PostGIS, migrate, report status, purge old raw payloads, retire
old months of cases, stop, remove."""

from __future__ import annotations

import json

import typer

from cli.context import console, database_url, friendly_errors, settings
from core.errors import ConfigError

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command()
def up() -> None:
    """Use DATABASE_URL, or start a private cluster (installing PostGIS if needed); migrate."""
    from store import migrations, provision
    from store.db import redact

    with friendly_errors():
        cfg = settings()
        info = provision.up(cfg.data_dir, cfg.database_url)
        applied = migrations.migrate(info.url)
    where = f"private cluster in {info.data_dir}" if info.private else "DATABASE_URL"
    console.print(f"database ready ({where}); {len(applied)} migration(s) applied", soft_wrap=True)
    print(redact(info.url))


@app.command()
def migrate() -> None:
    """Apply schema migrations that are not applied yet."""
    from store import migrations, provision

    with friendly_errors():
        url = database_url(settings())
        provision.ensure_database(url)
        applied = migrations.migrate(url)
    console.print(f"applied: {', '.join(applied) or 'nothing (up to date)'}")


@app.command()
def status() -> None:
    """Where the database is, whether it answers, durability, pending migrations."""
    from store import migrations, provision

    with friendly_errors():
        cfg = settings()
        state = provision.status(cfg.data_dir, cfg.database_url)
        if state.get("running"):
            state["pending_migrations"] = migrations.pending(database_url(cfg))
    print(json.dumps(state, indent=1))
    if not state.get("running"):
        raise typer.Exit(1)


@app.command("purge-raw")
def purge_raw(older_than: str = typer.Option(
        None, "--older-than", help="age in days, e.g. 90d (default: GRIDHUB_RAW_RETENTION_DAYS)")) -> None:
    """Purge raw payloads (and released quarantine payloads) older than the retention, keeping
    record ids, content hashes and run lineage (docs/privacy.md)."""
    from datetime import timedelta

    from store import retention

    with friendly_errors():
        cfg = settings()
        if older_than is not None:
            age = retention.parse_age(older_than)
        elif cfg.raw_retention_days is not None:
            age = timedelta(days=cfg.raw_retention_days)
        else:
            raise ConfigError("give --older-than (e.g. 90d) or set GRIDHUB_RAW_RETENTION_DAYS")
        done = retention.purge_raw(database_url(cfg), age)
    console.print(f"purged the payloads of {done.raw_records} raw record(s) and {done.quarantine}"
                  f" released quarantine row(s) older than {age.days} days; kept"
                  f" {done.kept_in_quarantine} waiting in quarantine (replay or release them)", soft_wrap=True)


@app.command("retire-months")
def retire_months(before: str = typer.Option(..., "--before", help="first month kept, e.g. 2020-01"),
                  drop: bool = typer.Option(False, "--drop", help="drop the months instead of keeping"
                                            " them as archived_cases_YYYY_MM tables")) -> None:
    """Take the months of cases before a month out of the hub (retention): their partitions are
    detached whole, their links go, and the rollups of their days are recounted."""
    from datetime import date

    from store import partitions
    from store.db import transaction

    with friendly_errors():
        try:
            first_kept = date.fromisoformat(f"{before}-01")
        except ValueError:
            raise ConfigError(f"--before {before!r} is not a month: expected e.g. 2020-01") from None
        cfg = settings()
        with transaction(database_url(cfg)) as conn:
            done = partitions.detach_before(conn, first_kept, cfg.timezone, drop=drop)
    kept = "dropped" if drop else "kept as archived_cases_YYYY_MM tables"
    console.print(f"retired {len(done.months)} month(s) before {before} holding {done.cases} case(s);"
                  f" {kept}" if done.months else f"no month before {before}: nothing to retire", soft_wrap=True)


@app.command()
def down() -> None:
    """Stop the private cluster, keeping its data (a DATABASE_URL server is never touched)."""
    from store import provision

    with friendly_errors():
        stopped = provision.down(settings().data_dir)
    console.print("private cluster stopped" if stopped else "no private cluster was running")


@app.command()
def remove(yes: bool = typer.Option(False, "--yes", help="do not ask before deleting")) -> None:
    """Stop the private cluster and delete it with all its data (as `make clean` does)."""
    from store import provision

    with friendly_errors():
        cfg = settings()
        if not yes:
            typer.confirm(f"delete the private cluster of {cfg.data_dir} and all its data?",
                          abort=True)
        removed = provision.remove(cfg.data_dir)
    console.print(f"removed {removed}" if removed else "no private cluster to remove", soft_wrap=True)
