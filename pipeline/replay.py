"""Replay: a source's open quarantine rows put into a new run, so that the pipeline processes
them again with the spec and suite as they are now.

The replay run is an ordinary landed run marked by params.replay_of; gates do not judge it
(its size says nothing about the source), and each of its rows that passes leaves quarantine
in the transaction that loads it (pipeline.settle).
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.spec import SourceSpec
from core.settings import GridHubSettings
from pipeline.ingest import IngestResult, process
from pipeline.run import SourceRun
from store import quarantine, runs
from store.db import connect


@dataclass
class ReplayResult:
    plan: quarantine.ReplayPlan
    ingest: IngestResult
    released: int  # rows loaded out of quarantine


def replay_quarantine(spec: SourceSpec, settings: GridHubSettings, url: str,
                      of_run: int | None = None) -> ReplayResult | None:
    """Re-process a source's open quarantine rows (of one run, if given) through the pipeline's
    own steps (map -> judge -> geocode -> merge) as a new run; None when nothing waits."""
    with connect(url) as conn:
        if not quarantine.open_rows(conn, spec.name, of_run):
            return None
    # The holder keeps the run's lock through linking and processing: a replay killed at any
    # step is reaped as failed (store.runs.reap_orphans).
    with (connect(url) as holder,
          SourceRun.started(spec, url, holder, replay_of=of_run, **{runs.SINGLE_PROCESS: True}) as run):
        with connect(url) as conn:
            run.lock(conn)
            plan = quarantine.link_replay(conn, spec.name, run.run_id, of_run)
            watermark = runs.get_watermark(conn, spec.name)
            runs.mark_landed(conn, run.run_id, plan.records, plan.fields, watermark, watermark)
        loaded = process(spec, settings, url, run.run_id)
    with connect(url) as conn:
        released = quarantine.released_by(conn, run.run_id)
    return ReplayResult(plan, loaded, released)
