"""A new user's first ten minutes: the README's commands in a fresh clone inside a folder only
its owner may enter (what /root is on Debian), with no DATABASE_URL."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from core.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

DISTRICT = "339902000000"  # a district of the demo city
# The README's `RECORDS=20000 make demo`, smaller: every feed still gets records, and this is
# a check of the first ten minutes, not of the demo's size (tests/pipeline ingest a larger one).
RECORDS = 1_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    drop = {"DATABASE_URL", "GRIDHUB_DATA_DIR", "VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _make(clone: Path, *targets: str, timeout: int = 900) -> subprocess.CompletedProcess:
    done = subprocess.run(["make", "-C", str(clone), *targets], capture_output=True, text=True,
                          env=_env(), timeout=timeout)
    assert done.returncode == 0, f"make {' '.join(targets)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _wait_for_health(base: str, server: subprocess.Popen, log: Path, seconds: int) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, f"make demo ended (exit {server.returncode}):\n{log.read_text()[-4000:]}"
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(2)
    raise AssertionError(f"/health did not answer within {seconds} s:\n{log.read_text()[-4000:]}")


def _db_status(clone: Path) -> dict:
    done = subprocess.run([str(clone / ".venv" / "bin" / "gridhub"), "db", "status"],
                          capture_output=True, text=True, env=_env(), cwd=clone, timeout=60)
    return json.loads(done.stdout)


def test_readme_commands_work_in_a_private_home_folder(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    home.chmod(0o700)
    clone = home / "gridhub"
    subprocess.run(["git", "clone", "--quiet", str(PROJECT_ROOT), str(clone)], check=True)

    port = _free_port()
    log = tmp_path / "make-demo.log"
    with open(log, "w") as out:
        server = subprocess.Popen(["make", "-C", str(clone), "demo", f"RECORDS={RECORDS}", f"PORT={port}"],
                                  stdout=out, stderr=subprocess.STDOUT, env=_env(),
                                  start_new_session=True)
    cluster_dir = None
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for_health(base, server, log, seconds=1200)
        printed = log.read_text()
        key = next(line for line in printed.splitlines() if line.startswith("ghk_"))
        # The README's own curl line, on this test's port.
        readme = (clone / "README.md").read_text(encoding="utf-8")
        curl = re.search(r"`(curl -H \"Authorization: Bearer \$KEY\" [^`]+)`", readme).group(1)
        done = subprocess.run(["bash", "-c", curl.replace("127.0.0.1:8000", f"127.0.0.1:{port}")],
                              capture_output=True, text=True, env={**_env(), "KEY": key}, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["area"]["code"] == DISTRICT
        assert "early warning as of" in printed

        status = _db_status(clone)
        cluster_dir = Path(status["cluster_dir"])
        assert status["running"] and status["private"]
        assert not cluster_dir.is_relative_to(clone)  # the postgres user cannot enter the clone
        assert (status["fsync"], status["full_page_writes"]) == ("on", "on")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)

    _make(clone, "test-setup")  # what `make test` runs before the suite
    assert _db_status(clone)["cluster_dir"] == str(cluster_dir)

    _make(clone, "clean")
    assert not cluster_dir.exists()
    assert not (clone / ".venv").exists() and not (clone / "var").exists()
