"""`gridhub demo`: the built-in demo city, generated and run end to end."""

from __future__ import annotations

import typer

from cli.context import console, database_url, friendly_errors, progress_bar, settings
from cli.ingest_cmd import print_results
from demo.generate import DEFAULT_RECORDS, DEFAULT_SEED, DemoManifest
from demo.generate import generate as generate_demo
from pipeline.demo import lasting_feed_variables, load_demo_areas, run_demo

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command()
def generate(seed: int = typer.Option(DEFAULT_SEED, help="random seed: same seed, same city"),
             records: int = typer.Option(DEFAULT_RECORDS, help="number of true cases over 2 years")) -> None:
    """Write the demo city, its agency feeds and the ground truth under GRIDHUB_DATA_DIR/demo."""
    cfg = settings()
    with progress_bar() as bar:
        task = bar.add_task("generate", total=records)
        manifest = generate_demo(cfg.demo_dir, seed=seed, records=records,
                                 progress=lambda n: bar.advance(task, n))
    console.print(f"wrote {manifest.records:,} cases to {cfg.demo_dir}: {manifest.per_feed}")


@app.command()
def run(seed: int = typer.Option(DEFAULT_SEED), records: int = typer.Option(DEFAULT_RECORDS)) -> None:
    """Generate the demo if needed, load its areas, ingest every feed, refresh rollups, run
    early warning for the last day; print the variables Airflow needs for the demo's feeds."""
    from alerts.run import run_warnings

    with friendly_errors():
        cfg = settings()
        url = database_url(cfg)
        manifest = DemoManifest.read(cfg.demo_dir)
        if manifest is None or (manifest.seed, manifest.records) != (seed, records):
            generate(seed=seed, records=records)
        count = load_demo_areas(cfg, url)
        console.print(f"loaded {count:,} areas")
        with progress_bar() as bar:
            results = run_demo(cfg, url, progress=bar)
        print_results(results)
        warned = run_warnings(url)
        console.print(f"early warning as of {warned.as_of}: {warned.opened} alert(s) opened, "
                      f"{warned.hotspots} hotspot(s)")
    console.print("for Airflow's demo feeds (README, Operating GridHub with Airflow):")
    for name, value in lasting_feed_variables(url).items():
        print(f"export {name}={value}")
