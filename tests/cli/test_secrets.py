"""Production refuses the development hash key at every entry point, not only `serve`."""

from __future__ import annotations

import os
import subprocess

import psycopg
import pytest

from core.errors import ConfigError, DefaultSecretError
from core.settings import DEV_HASH_KEY, PROJECT_ROOT, GridHubSettings

GRIDHUB = str(PROJECT_ROOT / ".venv" / "bin" / "gridhub")


def _production_env(**more: str) -> dict[str, str]:
    """The test's environment with GRIDHUB_ENV=production and no GRIDHUB_HASH_KEY."""
    env = {k: v for k, v in os.environ.items() if k != "GRIDHUB_HASH_KEY"}
    return {**env, "GRIDHUB_ENV": "production", "COLUMNS": "250", **more}


def test_ingest_in_production_without_a_hash_key_stops_with_one_line(db_url, demo_dir):
    env = _production_env(DATABASE_URL=db_url, GRIDHUB_DATA_DIR=str(demo_dir))
    done = subprocess.run([GRIDHUB, "ingest", "hotline_12345"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 1, done.stderr[-3000:]
    output = (done.stdout + done.stderr).strip()
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert output.startswith("error:") and "GRIDHUB_HASH_KEY" in output
    with psycopg.connect(db_url) as conn:  # nothing was read, let alone hashed
        assert conn.execute("SELECT count(*) FROM ingest_runs").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM raw_records").fetchone()[0] == 0


@pytest.mark.parametrize("key", [None, "", DEV_HASH_KEY, "dev-insecure-hash-key-0123456789abcdef"])
def test_production_settings_refuse_a_default_or_empty_hash_key(monkeypatch, key):
    monkeypatch.delenv("GRIDHUB_HASH_KEY", raising=False)
    monkeypatch.setenv("GRIDHUB_ENV", "production")
    if key is not None:
        monkeypatch.setenv("GRIDHUB_HASH_KEY", key)
    with pytest.raises(DefaultSecretError, match="GRIDHUB_HASH_KEY") as raised:
        GridHubSettings()
    assert isinstance(raised.value, ConfigError) and "\n" not in str(raised.value)


def test_a_real_key_or_development_is_accepted(monkeypatch):
    monkeypatch.delenv("GRIDHUB_HASH_KEY", raising=False)
    monkeypatch.setenv("GRIDHUB_ENV", "development")
    assert GridHubSettings().hash_key.get_secret_value() == DEV_HASH_KEY
    monkeypatch.setenv("GRIDHUB_ENV", "production")
    monkeypatch.setenv("GRIDHUB_HASH_KEY", "a-real-secret")
    assert GridHubSettings().env == "production"


def test_the_api_refuses_to_start_in_production_without_a_hash_key(monkeypatch, db_url):
    from api.main import create_app

    monkeypatch.delenv("GRIDHUB_HASH_KEY", raising=False)
    monkeypatch.setenv("GRIDHUB_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", db_url)
    # Started from the environment, the factory may end the process with the one-line reason.
    with pytest.raises((DefaultSecretError, SystemExit), match="GRIDHUB_HASH_KEY"):
        create_app()
