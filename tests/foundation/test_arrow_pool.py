"""GridHub's entry points have Arrow allocate from jemalloc, unless the environment names a pool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BACKEND = "import pyarrow as pa; print(pa.default_memory_pool().backend_name)"


def _backend(entry_point: str, pool: str | None) -> str:
    """The Arrow pool of a fresh interpreter that imports entry_point, then pyarrow."""
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    if pool:
        env["ARROW_DEFAULT_MEMORY_POOL"] = pool
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "dags")])
    out = subprocess.run([sys.executable, "-c", f"import {entry_point}; {BACKEND}"], env=env,
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("entry_point", ["cli.main", "gridhub_airflow.common"])
def test_entry_points_choose_jemalloc(entry_point):
    assert _backend(entry_point, None) == "jemalloc"


def test_a_pool_named_in_the_environment_is_kept():
    assert _backend("cli.main", "system") == "system"


def test_without_an_entry_point_pyarrow_keeps_its_default():
    # The check above can fail: a plain interpreter does not get jemalloc.
    assert _backend("json", None) != "jemalloc"
