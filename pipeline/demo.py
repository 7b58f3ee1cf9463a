"""The demo end to end: areas from the generated city, the demo's live services (police API,
district database), then every source spec ingested."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import pandas as pd
from rich.progress import Progress

from connectors.spec import SourceSpec, load_specs
from core.case import AreaLevel
from core.errors import GridHubError
from core.settings import GridHubSettings
from demo.feeds.services import (
    DISTRICT_URL,
    POLICE_URL,
    demo_services,
    district_database_url,
    sqlalchemy_url,
)
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


@contextmanager
def feed_variables(cfg: GridHubSettings, url: str, environ: Mapping[str, str] | None = None,
                   keep_services: bool = True,
                   specs: Iterable[SourceSpec] | None = None) -> Iterator[dict[str, str]]:
    """Values for the ${NAME} placeholders of source specs: the environment first, and the
    demo's own services (started for the block) for what the environment does not name.

    Given specs, only the services they refer to start. keep_services=False drops the demo's
    district database afterwards (tests).
    """
    variables = dict(environ or {})
    mentioned = " ".join(s.model_dump_json() for s in specs) if specs is not None else None
    police, district = ((name not in variables and (mentioned is None or "${" + name in mentioned))
                        for name in (POLICE_URL, DISTRICT_URL))
    if (police or district) and (cfg.demo_dir / "manifest.json").exists():
        with demo_services(cfg.demo_dir, url, keep=keep_services, with_police=police,
                           with_district=district) as services:
            yield {**services, **variables}
    else:
        yield variables


def run_demo(cfg: GridHubSettings, url: str, progress: Progress | None = None,
             environ: Mapping[str, str] | None = None, keep_services: bool = True) -> list[IngestResult]:
    """Ingest every source spec, in name order, with the demo's services running."""
    results = []
    with feed_variables(cfg, url, environ, keep_services) as variables:
        for name, spec in sorted(load_specs(cfg.resolved_sources_dir).items()):
            task = progress.add_task(f"ingest {name}", total=None) if progress else None
            advance = (lambda step, n, t=task: progress.advance(t, n) if step == "process" else None) \
                if progress else None
            results.append(ingest(spec, cfg, url, progress=advance, variables=variables))
    return results


def lasting_feed_variables(url: str) -> dict[str, str]:
    """The variables of the demo's services that outlive `run_demo`, for Airflow's workers:
    the district database (kept beside url's). The police API runs only during a demo run."""
    district = district_database_url(url)
    try:
        with connect(district):
            return {DISTRICT_URL: sqlalchemy_url(district)}
    except GridHubError:
        return {}
