"""Retention of raw personal data: payloads older than the retention are purged.

Raw payloads (raw_records) and quarantined rows' payloads hold names, phones and ID numbers as
the agencies sent them. Past the retention their payload is set to NULL and `purged_at` set; the
rows stay, with their ids, content hashes and run lineage (run_records, ingest_runs), so every
case still names the run and the raw record it came from, and the run counts still add up.
Landing the same content again brings its payload back (store/loading.py).

Two kinds of payload are kept past the retention, since purging them would lose records:
those waiting in open quarantine (a replay needs them: replay or release them first) and those
of a run still running.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.errors import ConfigError
from store.db import transaction

# Raw records of a run not yet finished, or waiting in open quarantine, are still needed.
_RAW = """
    UPDATE raw_records r SET payload = NULL, purged_at = now()
    WHERE r.payload IS NOT NULL AND r.landed_at < now() - %(older_than)s
      AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.raw_id = r.raw_id AND q.released_at IS NULL)
      AND NOT EXISTS (SELECT 1 FROM run_records rr JOIN ingest_runs i USING (run_id)
                      WHERE rr.raw_id = r.raw_id AND i.status = 'running')"""
_QUARANTINE = """
    UPDATE quarantine SET payload = NULL, purged_at = now()
    WHERE payload IS NOT NULL AND released_at IS NOT NULL AND quarantined_at < now() - %(older_than)s"""
_KEPT = """
    SELECT count(*) FROM quarantine
    WHERE payload IS NOT NULL AND released_at IS NULL AND quarantined_at < now() - %(older_than)s"""


@dataclass(frozen=True)
class Purged:
    """What one purge did."""

    raw_records: int
    quarantine: int
    kept_in_quarantine: int  # older than the retention, but waiting for a replay


def parse_age(text: str) -> timedelta:
    """'90d' or '90' (days) as a timedelta; a ConfigError saying what is expected otherwise."""
    digits = text.strip().lower().removesuffix("d")
    if not digits.isdigit() or not 1 <= int(digits) <= 100_000:
        raise ConfigError(f"--older-than {text!r} is not an age in days: expected e.g. 90d")
    return timedelta(days=int(digits))


def purge_raw(url: str, older_than: timedelta) -> Purged:
    """Purge raw and released quarantine payloads landed before now - older_than (one
    transaction; running it again purges nothing more)."""
    params = {"older_than": older_than}
    with transaction(url) as conn:
        raw = conn.execute(_RAW, params).rowcount
        quarantined = conn.execute(_QUARANTINE, params).rowcount
        kept = conn.execute(_KEPT, params).fetchone()[0]
    return Purged(raw, quarantined, kept)
