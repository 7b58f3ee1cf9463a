"""The demo end to end: areas from the generated city, then every source spec ingested."""

from __future__ import annotations

import pandas as pd
from rich.progress import Progress

from connectors.spec import load_specs
from core.case import AreaLevel
from core.settings import GridHubSettings
from geo.areas import read_area_file
from geo.gazetteer import read_gazetteer_csv
from pipeline.ingest import IngestResult, ingest
from store import migrations
from store.areas import replace_current_areas, replace_gazetteer
from store.db import connect


def load_demo_areas(cfg: GridHubSettings, url: str) -> int:
    """Migrate, then load every level of the generated demo city as the current areas, and
    its standard-address gazetteer."""
    migrations.migrate(url)
    frames = [read_area_file(cfg.demo_dir / "city" / f"areas_{level.value}.geojson", level)
              for level in AreaLevel]
    addresses = read_gazetteer_csv(cfg.demo_dir / "city" / "gazetteer.csv")
    with connect(url) as conn:
        count = replace_current_areas(conn, pd.concat(frames, ignore_index=True))
        replace_gazetteer(conn, addresses)
    return count


def run_demo(cfg: GridHubSettings, url: str, progress: Progress | None = None) -> list[IngestResult]:
    """Ingest every source spec, in name order."""
    results = []
    for name, spec in sorted(load_specs(cfg.resolved_sources_dir).items()):
        task = progress.add_task(f"ingest {name}", total=None) if progress else None
        advance = (lambda n, t=task: progress.advance(t, n)) if progress else None
        results.append(ingest(spec, cfg, url, progress=advance))
    return results
