"""The README works as printed: every command it names exists, with the options it shows.

The commands' behaviour is tested where it is built (the fresh-clone test runs `make demo`,
`make test-setup` and `make clean`; scripts/airflow_check.py runs `make airflow`); this file
catches a README that names a command, option, make target or script that is not there.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from cli.main import app
from core.settings import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
WORD = re.compile(r"[a-z][a-z0-9_-]*$")


def _gridhub_commands() -> set[tuple[str, ...]]:
    """Each `gridhub a b ...` in backticks or code blocks, as (a, b, --option, ...); a / b
    alternatives ("areas diff / versions") are expanded."""
    found = set()
    for text in re.findall(r"`([^`]*gridhub [^`]+)`", README) + re.findall(r"^\s*(?:\S*/)?(gridhub .+)$", README, re.M):
        text = text.split("gridhub ", 1)[1].split("#")[0].replace("\\|", "|")
        words = text.split()
        path: list[str] = []
        while words and WORD.match(words[0]):
            path.append(words.pop(0))
        options = tuple(w.strip("[]") for w in words if w.strip("[]").startswith("--"))
        if len(path) > 1 and "/" in text.split("--")[0]:  # "areas diff / versions / make-grids"
            group = path[0]
            for alternative in re.split(r"\s*/\s*", text.split("--")[0].split(group, 1)[1]):
                if alternative.split():
                    found.add((group, alternative.split()[0]))
            continue
        found.add((*path, *options))
    return found


COMMANDS = sorted(_gridhub_commands())


def test_the_readme_names_commands():
    assert len(COMMANDS) >= 25


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_gridhub_command_in_the_readme_exists(command):
    path = [w for w in command if not w.startswith("--")]
    options = [w.split("=")[0] for w in command if w.startswith("--")]
    shown = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert shown.exit_code == 0, f"gridhub {' '.join(path)}: {shown.output}"
    for option in options:
        assert option in shown.output, f"gridhub {' '.join(path)} has no {option}"


@pytest.mark.parametrize("target", sorted(set(re.findall(r"\bmake ([a-z][a-z-]*)", README))))
def test_every_make_target_in_the_readme_exists(target):
    done = subprocess.run(["make", "-n", "-C", str(PROJECT_ROOT), target], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("script", sorted(set(re.findall(r"((?:bench|scripts)/[a-z_]+\.py)", README))))
@pytest.mark.slow  # each script imports the data stack (the bench smokes run them in full)
def test_every_script_in_the_readme_answers_help(script):
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / script), "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
