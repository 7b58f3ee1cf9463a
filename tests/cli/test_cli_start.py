"""The CLI answers at once: its quick commands load no data library, every group still works."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cli.main import GROUPS, app
from core.settings import PROJECT_ROOT

PYTHON = str(PROJECT_ROOT / ".venv" / "bin" / "python")
HEAVY = ("pandas", "pyarrow", "great_expectations", "geopandas", "statsmodels")


@pytest.mark.parametrize("argv", [["--help"], ["sources", "list"], ["db", "--help"]])
def test_quick_commands_import_no_data_library(argv):
    # Run as `gridhub ...` in a fresh interpreter, then list what got imported.
    probe = (
        "import sys; from cli.main import app\n"
        f"try: app({argv!r})\n"
        "except SystemExit: pass\n"
        f"print('loaded:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([PYTHON, "-c", probe], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert done.stdout.strip().splitlines()[-1] == "loaded:", done.stdout + done.stderr


def test_help_lists_every_group_and_each_group_loads():
    listed = CliRunner().invoke(app, ["--help"])
    assert listed.exit_code == 0
    for name in GROUPS:
        assert name in listed.output
        group = CliRunner().invoke(app, [name, "--help"])
        assert group.exit_code == 0, group.output
        assert GROUPS[name][1].split()[0] in group.output


def test_unknown_command_is_a_usage_error():
    done = CliRunner().invoke(app, ["nonsense"])
    assert done.exit_code == 2 and "No such command" in done.output


def test_bench_cli_start_prints_each_command():
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "bench_cli_start.py"),
                           "--runs", "1"], capture_output=True, text=True, timeout=120)
    assert done.returncode in (0, 1), done.stderr  # 1: a target missed on a busy machine
    for command in ("python -c pass", "gridhub --help", "gridhub sources list", "gridhub db status"):
        assert command in done.stdout
