"""Every DAG file imports cleanly, and the DAGs are wired the way an operator expects."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from airflow.sdk import CronDataIntervalTimetable

from connectors.spec import load_specs
from core.settings import PROJECT_ROOT, GridHubSettings

pytestmark = pytest.mark.slow  # Airflow imported and every DAG file parsed

DAGS_FOLDER = PROJECT_ROOT / "dags"


def _specs():
    return load_specs(GridHubSettings().resolved_sources_dir)


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert dagbag.dags, "no DAG was found in dags/"
    # Helper modules are not parsed as DAG files (dags/.airflowignore).
    assert not any("gridhub_airflow" in path for path in dagbag.file_last_changed)


def test_one_ingest_dag_per_source_spec_with_its_schedule(dagbag):
    specs = _specs()
    ingest_dags = {dag_id for dag_id in dagbag.dags if dag_id.startswith("ingest_")}
    assert ingest_dags == {f"ingest_{name}" for name in specs}
    for name, spec in specs.items():
        dag = dagbag.dags[f"ingest_{name}"]
        assert dag.max_active_runs == 1, name
        assert dag.catchup is False, name
        # A cron schedule with real data intervals in the source's zone: backfills read them.
        assert spec.schedule, f"{name}: a source without a schedule is triggered by hand"
        expected = CronDataIntervalTimetable(spec.schedule, timezone=spec.timezone)
        assert dag.timetable == expected, name


def test_the_load_publishes_the_source_cases_asset(dagbag):
    for name in _specs():
        dag = dagbag.dags[f"ingest_{name}"]
        outlets = {outlet.uri for task in dag.tasks for outlet in task.outlets}
        assert outlets == {f"gridhub://cases/{name}"}, name
        # The asset is published by the last task, once the cases are committed.
        (publisher,) = [t for t in dag.tasks if t.outlets]
        assert not publisher.downstream_list, name


def test_ingest_tasks_retry_transient_errors_only(dagbag):
    for name in _specs():
        for task in dagbag.dags[f"ingest_{name}"].tasks:
            assert task.retries >= 1, task.task_id
            assert task.retry_exponential_backoff > 1, task.task_id
            assert type(task.retry_policy).__name__ == "TransientErrorsOnly", task.task_id


def test_rollups_and_warnings_run_when_any_source_cases_or_the_areas_change(dagbag):
    dag = dagbag.dags["gridhub_rollups_and_warnings"]
    watched = {asset.uri for asset in dag.timetable.asset_condition.objects}
    assert watched == {f"gridhub://cases/{name}" for name in _specs()} | {"gridhub://areas/boundaries"}
    # Any one of them is enough.
    assert type(dag.timetable.asset_condition).__name__ == "AssetAny"
    assert [t.task_id for t in dag.topological_sort()] == ["refresh_rollups", "run_early_warning"]


def test_the_downstream_dags_exist_with_their_triggers(dagbag):
    areas = dagbag.dags["gridhub_area_boundaries"]
    # Triggered by hand, with the file as a parameter.
    assert type(areas.timetable).__name__ == "NullTimetable"
    assert {"path", "level", "effective_from", "complete", "force"} <= set(areas.params)
    (load,) = areas.tasks
    assert {outlet.uri for outlet in load.outlets} == {"gridhub://areas/boundaries"}
    assert "gridhub_data_docs" in dagbag.dags


# Parsing the DAG files in a fresh interpreter, as the dag-processor does, must not import
# the pipeline's heavy machinery: that happens inside task bodies only.
PARSE_ONLY = """
import sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag
folder = Path(sys.argv[1])
bag = BundleDagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="dags-folder")
assert bag.dags and not bag.import_errors, bag.import_errors
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""
HEAVY = {"geopandas", "shapely", "great_expectations", "psycopg", "statsmodels",
         "esda", "pipeline", "store", "quality", "geo", "alerts"}


def test_parsing_the_dag_files_imports_nothing_heavy():
    parsed = subprocess.run([sys.executable, "-c", PARSE_ONLY, str(DAGS_FOLDER)], env=os.environ,
                            capture_output=True, text=True, timeout=120, check=True)
    imported = set(parsed.stdout.split())
    assert "airflow" in imported and "connectors" in imported
    assert imported & HEAVY == set()


BROKEN_SPEC = """
import sys
from pathlib import Path
from airflow.dag_processing.dagbag import BundleDagBag

folder = Path(sys.argv[1])
bag = BundleDagBag(dag_folder=str(folder), bundle_path=folder, bundle_name="dags-folder")
print("IMPORT_ERRORS", bag.import_errors)
print("DAGS", " ".join(sorted(bag.dags)))
try:
    bag.dags["ingest_broken_feed"].get_task("fix_the_spec").python_callable()
except Exception as exc:
    print("TASK", type(exc).__name__, exc)
"""


def test_a_broken_spec_fails_its_own_dag_and_no_other(tmp_path):
    sources = tmp_path / "sources"
    shutil.copytree(PROJECT_ROOT / "sources", sources)
    (sources / "broken_feed.yaml").write_text("name: broken_feed\nkind: gossip\n", encoding="utf-8")
    parsed = subprocess.run([sys.executable, "-c", BROKEN_SPEC, str(DAGS_FOLDER)],
                            env={**os.environ, "GRIDHUB_SOURCES_DIR": str(sources)},
                            capture_output=True, text=True, timeout=180, check=True)
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in parsed.stdout.splitlines()
             if line.split(" ", 1)[0] in ("IMPORT_ERRORS", "DAGS", "TASK")}
    assert lines["IMPORT_ERRORS"] == "{}"
    dags = set(lines["DAGS"].split())
    assert {f"ingest_{name}" for name in _specs()} | {"ingest_broken_feed",
                                                      "gridhub_rollups_and_warnings"} <= dags
    assert lines["TASK"].startswith("SpecError") and "broken_feed.yaml" in lines["TASK"]
    assert "kind" in lines["TASK"]
