"""A historical backfill of one source cut into windows: each window is landed as an ingest
run of its own (a mapped Airflow task per window, on any worker), then the landed runs are
loaded oldest first.

Why the result equals one whole-range run: windows are disjoint and cover the range, each
record has one watermark so it lands in exactly one window, and the load merges by record
and content hash, so a record met again (a re-run, a retried part) is a duplicate that
changes nothing. Why it is safe to run beside other work: landing and loading go through the
pipeline's own steps, with the source's lock and the one case writer (store.locks).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from connectors.spec import SourceSpec
from core.errors import ConfigError
from core.settings import GridHubSettings
from pipeline.ingest import IngestResult
from pipeline.orchestration import RunKind, backfill_window, process_landed_run
from pipeline.run import WatermarkWindow
from store import runs

# Below Airflow's [core] max_map_length (1024 mapped instances); beyond it, parts cost more
# in run bookkeeping than they win. dags/gridhub_backfill.py's `parts` param says the same.
MAX_PARTS = 1000


def split_range(spec: SourceSpec, start: datetime, end: datetime, parts: int,
                ) -> list[WatermarkWindow]:
    """[start, end) cut into `parts` contiguous windows of equal length (the last one takes the
    rounding); refused for a source that cannot read a date range."""
    whole = backfill_window(spec, RunKind.BACKFILL, start, end)  # checks format and bounds
    if not 1 <= parts <= MAX_PARTS:
        raise ConfigError(f"{spec.name}: parts must be between 1 and {MAX_PARTS}, got {parts}")
    step = (whole.end - whole.start) / parts
    cuts = [whole.start + step * i for i in range(parts)] + [whole.end]
    return [WatermarkWindow(a, b) for a, b in zip(cuts, cuts[1:], strict=False)]


def load_landed_windows(spec: SourceSpec, settings: GridHubSettings, url: str,
                        run_ids: list[int], environ: Mapping[str, str]) -> list[IngestResult]:
    """Load the landed runs of a backfill's windows, oldest run first.

    In run order, no window's run is taken for overtaken by another window's. A run that
    already succeeded (the merge is being retried) is skipped; one that failed or was
    overtaken is landed again by process_landed_run. Returns the results of the runs loaded.
    """
    loaded = []
    for run_id in sorted(run_ids):
        record = runs.run_record(url, run_id)
        if record is None or record["source"] != spec.name or "window" not in record["params"]:
            raise ConfigError(f"run {run_id} is not a backfill window of {spec.name}")
        if record["status"] == "succeeded":
            continue
        loaded.append(process_landed_run(spec, settings, url, run_id, environ))
    return loaded
