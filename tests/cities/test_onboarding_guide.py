"""docs/onboarding.md works as printed: its `sh` blocks run in order, in an empty folder, on a
fresh database, each command exiting 0, and the last curl answers the summary with the total
that a recount from `cases` gives."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

import psycopg
import pytest

from core.settings import PROJECT_ROOT
from tests.cities.onboarding import real_data

pytestmark = pytest.mark.slow

GUIDE = PROJECT_ROOT / "docs" / "onboarding.md"
FENCE = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)


def guide_commands(text: str) -> list[str]:
    """The commands of the guide's sh blocks, in order (continued lines joined, comments left out)."""
    commands = []
    for block in FENCE.findall(text):
        for command in re.sub(r"\\\n\s*", " ", block).splitlines():
            if command.strip() and not command.lstrip().startswith("#"):
                commands.append(command.strip())
    return commands


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reader_environment(db_url: str) -> dict[str, str]:
    """What the guide asks a reader to set before starting, and nothing of this test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDHUB_")}
    return env | {"GRIDHUB_REPO": str(PROJECT_ROOT), "GRIDHUB_REAL_DATA": str(real_data("sf").parent),
                  "PATH": f"{PROJECT_ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
                  "DATABASE_URL": db_url, "PORT": str(_free_port())}


def run_in_shell(command: str, folder: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict]:
    """One command in bash as a reader's shell runs it; the environment it leaves (exports)."""
    after = folder / ".guide-env"
    script = f'{command}\nstatus=$?\nenv -0 > "{after}"\nexit $status\n'
    done = subprocess.run(["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=600)
    left = dict(item.split("=", 1) for item in after.read_text().split("\0") if "=" in item)
    return done, left


def test_the_guides_commands_work_as_printed(empty_db, tmp_path):
    commands = guide_commands(GUIDE.read_text(encoding="utf-8"))
    assert commands[0].startswith("mkdir") and commands[-1].startswith("kill")
    assert any(c.startswith("gridhub areas load") for c in commands)
    env = _reader_environment(empty_db)
    last_curl = None
    try:
        for command in commands:
            done, env = run_in_shell(command, tmp_path, env)
            assert done.returncode == 0, f"{command}\nexited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            if command.startswith("curl"):
                last_curl = done.stdout
    finally:
        pid_file = tmp_path / "serve.pid"  # the server the guide started, if the kill was not reached
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
            except ProcessLookupError:
                pass

    summary = json.loads(last_curl)
    with psycopg.connect(empty_db) as conn:
        [(recount,)] = conn.execute("SELECT count(*) FROM cases WHERE grid_code = 'Mission'").fetchall()
        runs = conn.execute("SELECT source, records_read, inserted + updated + quarantined + duplicates"
                            " FROM ingest_runs ORDER BY source").fetchall()
    assert (summary["area"]["code"], summary["area"]["level"]) == ("Mission", "neighborhood")
    assert summary["total"] == recount > 0
    assert [source for source, _, _ in runs] == ["sf_incidents_2018_12", "sf_incidents_2026"]
    assert all(read == accounted > 0 for _, read, accounted in runs)
    rows = (tmp_path / "neighborhoods.csv").read_text(encoding="utf-8-sig").splitlines()  # with a BOM, for Excel
    assert len(rows) == 42 and rows[0].startswith("code,name,level")
    assert [p.name for p in tmp_path.rglob("*.csv")] == ["neighborhoods.csv"]  # no data file copied
