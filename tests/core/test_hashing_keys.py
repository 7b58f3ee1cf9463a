"""Person keys are never made with the public development key outside development: ingest and
serve refuse alike, with one line."""

from __future__ import annotations

import os
import subprocess

import psycopg
import pytest

from core.errors import DefaultSecretError
from core.person_key import DEV_HASH_KEY, check_person_key
from core.settings import PROJECT_ROOT, GridHubSettings

GRIDHUB = str(PROJECT_ROOT / ".venv" / "bin" / "gridhub")


@pytest.mark.parametrize("env", ["staging", "prod", "test", "production", "Development"])
@pytest.mark.parametrize("key", ["", DEV_HASH_KEY, "dev-insecure-hash-key"])
def test_a_public_key_is_refused_in_any_environment_but_development(env, key):
    with pytest.raises(DefaultSecretError, match=f"GRIDHUB_ENV={env} but GRIDHUB_HASH_KEY") as raised:
        check_person_key(key, env)
    assert "\n" not in str(raised.value)


def test_development_and_a_real_key_pass():
    check_person_key(DEV_HASH_KEY, "development")
    check_person_key("0f3c5e9a7b1d", "staging")


def test_settings_of_a_staging_hub_refuse_the_development_key(monkeypatch):
    monkeypatch.delenv("GRIDHUB_HASH_KEY", raising=False)
    monkeypatch.setenv("GRIDHUB_ENV", "staging")
    with pytest.raises(DefaultSecretError, match="GRIDHUB_HASH_KEY"):
        GridHubSettings()
    monkeypatch.setenv("GRIDHUB_HASH_KEY", "a-real-secret")
    assert GridHubSettings().env == "staging"


def test_ingest_on_staging_with_the_development_key_stops_before_reading(db_url, demo_dir):
    env = {k: v for k, v in os.environ.items() if k != "GRIDHUB_HASH_KEY"}
    env |= {"GRIDHUB_ENV": "staging", "DATABASE_URL": db_url, "GRIDHUB_DATA_DIR": str(demo_dir),
            "COLUMNS": "250"}
    done = subprocess.run([GRIDHUB, "ingest", "hotline_12345"], capture_output=True, text=True,
                          env=env, timeout=300)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 1 and len(output.splitlines()) == 1, output
    assert output.startswith("error: GRIDHUB_ENV=staging") and "Traceback" not in output
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM raw_records").fetchone()[0] == 0


def test_serving_on_staging_with_the_development_key_is_refused(db_url, demo_dir):
    from api.main import create_app

    # construction already refuses; the app checks again what it is handed
    staging = GridHubSettings(data_dir=demo_dir, database_url=db_url).model_copy(update={"env": "staging"})
    with pytest.raises(DefaultSecretError, match="GRIDHUB_ENV=staging"):
        create_app(staging)
