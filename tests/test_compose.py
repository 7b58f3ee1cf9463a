"""The docker-compose stack is valid and wires what README.md promises ("Running the full stack
with Docker", "Docker Compose").

No Docker engine runs here, so the strongest check available is `docker-compose config`,
which validates and resolves the file without one; the assertions are on its output.
Parts that need no engine (the Airflow option names, the entrypoint secret guard, the image
inputs) are checked directly.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKER_DIR = ROOT / "docker"

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-flower",
}
GRIDHUB_SERVICES = {"gridhub-migrate", "api"}
EXPECTED_SERVICES = {"postgis", "redis", *GRIDHUB_SERVICES, *AIRFLOW_SERVICES}
# Services that run Airflow tasks: they need GridHub's schema, the execution API and the broker.
TASK_RUNNERS = {"airflow-scheduler", "airflow-worker"}
ONE_SHOT_SERVICES = {"gridhub-migrate", "airflow-init", "gridhub-demo"}
DAGS_TARGET = "/opt/airflow/dags"
# Every development default of a secret carries this; docker/check-secrets.sh looks for it.
INSECURE_MARKER = "dev-insecure"

# ${NAME}, ${NAME:-default}, ${NAME?err}...; "$${" is compose's escape for a literal "${".
COMPOSE_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)")
ENV_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=", re.MULTILINE)


def _docker_compose_config(env_file: Path) -> tuple[dict, str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(
            "docker-compose is not installed: this test validates docker-compose.yml with it "
            "and must not be skipped. Install it with `apt-get install -y docker-compose` "
            "(the Makefile does).",
            pytrace=False,
        )
    # Variables from the caller's shell would override the files under test.
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "LC_ALL"}}
    proc = subprocess.run(
        [
            binary,
            "--project-directory",
            str(ROOT),
            "--env-file",
            str(env_file),
            "-f",
            str(COMPOSE_FILE),
            "config",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, f"docker-compose config failed:\n{proc.stderr}"
    return yaml.safe_load(proc.stdout), proc.stderr


@pytest.fixture(scope="module")
def defaults_run(tmp_path_factory) -> tuple[dict, str]:
    """The stack as resolved with no .env at all: the built-in defaults."""
    empty = tmp_path_factory.mktemp("compose") / "empty.env"
    empty.write_text("")
    return _docker_compose_config(empty)


@pytest.fixture(scope="module")
def config(defaults_run) -> dict:
    return defaults_run[0]


@pytest.fixture(scope="module")
def services(config) -> dict:
    return config["services"]


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # compose may print the list form
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def _mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of every volume, whichever syntax compose printed."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts.append((str(volume.get("source", "")), volume["target"]))
        else:
            source, target = volume.split(":")[:2]
            mounts.append((source, target))
    return mounts


def _published(service: dict) -> dict[int, int]:
    """Container port -> host port, whichever syntax compose printed."""
    ports = {}
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports[int(port["target"])] = int(port["published"])
        else:
            host_side, container = str(port).rsplit(":", 1)
            ports[int(container.split("/")[0])] = int(host_side.rsplit(":", 1)[-1])
    return ports


def _condition(service: dict, dependency: str) -> str | None:
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return "service_started" if dependency in depends_on else None
    return (depends_on.get(dependency) or {}).get("condition")


def test_config_resolves_without_env_file_and_without_warnings(defaults_run):
    _, stderr = defaults_run
    # A ${VAR} with no default would print "The X variable is not set".
    assert "is not set" not in stderr, stderr
    assert "WARNING" not in stderr, stderr


def test_expected_services_exist(services):
    missing = EXPECTED_SERVICES - services.keys()
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


def test_long_running_services_have_healthchecks(services):
    for name, service in services.items():
        if name in ONE_SHOT_SERVICES:
            assert service.get("restart", "no") == "no", f"one-shot {name} must not restart"
            continue
        healthcheck = service.get("healthcheck") or {}
        assert healthcheck.get("test") and not healthcheck.get("disable"), (
            f"long-running service {name} has no healthcheck"
        )
        assert service.get("restart") in {"always", "unless-stopped"}, name


def test_startup_order(services):
    api = services["api"]
    assert _condition(api, "postgis") == "service_healthy"
    assert _condition(api, "gridhub-migrate") == "service_completed_successfully"
    assert _condition(services["gridhub-migrate"], "postgis") == "service_healthy"
    assert _condition(services["airflow-init"], "postgis") == "service_healthy"
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert _condition(services[name], "airflow-init") == "service_completed_successfully", name
    # Tasks run in the scheduler (LocalExecutor) or a worker (CeleryExecutor): they need
    # GridHub's schema, the execution API and (to queue or take a task) the broker.
    for name in TASK_RUNNERS:
        runner = services[name]
        assert _condition(runner, "gridhub-migrate") == "service_completed_successfully", name
        assert _condition(runner, "airflow-apiserver") == "service_healthy", name
        assert _condition(runner, "redis") == "service_healthy", name
    assert _condition(services["airflow-flower"], "redis") == "service_healthy"


def test_gridhub_services_share_one_image(services):
    images = {services[name]["image"] for name in GRIDHUB_SERVICES}
    assert len(images) == 1, images
    for name in GRIDHUB_SERVICES:
        assert services[name]["build"]["dockerfile"] == "docker/gridhub.Dockerfile", name
    assert services["api"]["command"][:2] == ["gridhub", "serve"]
    assert services["gridhub-migrate"]["command"] == ["gridhub", "db", "migrate"]


def test_airflow_services_share_image_and_mount_dags(services):
    images = {services[name]["image"] for name in AIRFLOW_SERVICES}
    assert len(images) == 1, f"airflow services use different images: {images}"
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["build"]["dockerfile"] == "docker/airflow.Dockerfile", name
        mounts = dict((target, source) for source, target in _mounts(service))
        assert Path(mounts.get(DAGS_TARGET, "")) == ROOT / "dags", f"{name} does not mount ./dags"
        assert _env(service)["AIRFLOW__CORE__DAGS_FOLDER"] == DAGS_TARGET, name
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES - {"airflow-init"}}
    assert commands == {
        "airflow-apiserver": ["airflow", "api-server"],
        "airflow-scheduler": ["airflow", "scheduler"],
        "airflow-dag-processor": ["airflow", "dag-processor"],
        "airflow-worker": ["airflow", "celery", "worker"],
        "airflow-flower": ["airflow", "celery", "flower"],
    }


def test_gridhub_code_sees_the_repo_sources(services):
    for name in GRIDHUB_SERVICES | AIRFLOW_SERVICES:
        sources_dir = _env(services[name])["GRIDHUB_SOURCES_DIR"]
        mounts = dict((target, source) for source, target in _mounts(services[name]))
        assert Path(mounts.get(sources_dir, "")) == ROOT / "sources", name


def test_ports_8000_and_8080_are_published_on_loopback_only(services):
    assert _published(services["api"]).get(8000) == 8000
    assert _published(services["airflow-apiserver"]).get(8080) == 8080
    assert _published(services["airflow-flower"]).get(5555) == 5555
    # Every published port is reachable from the host's loopback only, unless configured.
    for name, service in services.items():
        for port in service.get("ports", []):
            host_ip = port.get("host_ip") if isinstance(port, dict) else str(port)
            assert str(host_ip).startswith("127.0.0.1"), name


def test_airflow_settings(services):
    envs = {name: _env(services[name]) for name in AIRFLOW_SERVICES}
    env = envs["airflow-apiserver"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "2"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4"
    assert (
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    )
    # Tokens and signatures made by one component are checked by another.
    shared = [
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
        # The scheduler and the workers must agree on the executor and the broker.
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__CELERY__BROKER_URL",
    ]
    for key in shared:
        assert len({e.get(key) for e in envs.values()}) == 1, f"{key} differs between services"
    assert len(env["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 64, "JWTs use HS512: 64+ bytes"


def test_celery_workers_use_the_redis_broker_and_scale(services):
    broker = urlsplit(_env(services["airflow-worker"])["AIRFLOW__CELERY__BROKER_URL"])
    assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379)
    assert services["redis"]["image"].startswith("redis:")
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    # Only the Airflow containers reach the broker.
    assert not services["redis"].get("ports"), "redis must not be published"
    # `up --scale airflow-worker=N` starts N replicas only if none needs a fixed name or port.
    worker = services["airflow-worker"]
    assert "container_name" not in worker and not worker.get("ports")
    assert "$${HOSTNAME}" in COMPOSE_FILE.read_text(), "the worker healthcheck pings itself"
    assert "HOSTNAME" in " ".join(worker["healthcheck"]["test"])
    # A worker stopped by compose finishes its tasks (warm shutdown) before it is killed.
    assert _env(worker)["DUMB_INIT_SETSID"] == "0"
    assert "profiles" not in worker and services["airflow-flower"]["profiles"] == ["flower"]


def test_the_local_executor_stays_one_setting_away(tmp_path):
    """A small site sets AIRFLOW_EXECUTOR=LocalExecutor: every Airflow service then agrees."""
    env_file = tmp_path / "local.env"
    env_file.write_text("AIRFLOW_EXECUTOR=LocalExecutor\n")
    local, stderr = _docker_compose_config(env_file)
    assert "WARNING" not in stderr, stderr
    executors = {_env(local["services"][name])["AIRFLOW__CORE__EXECUTOR"]
                 for name in AIRFLOW_SERVICES}
    assert executors == {"LocalExecutor"}


def test_databases(services):
    gridhub_url = urlsplit(_env(services["api"])["DATABASE_URL"])
    postgis_env = _env(services["postgis"])
    assert gridhub_url.hostname == "postgis"
    assert gridhub_url.path == "/" + postgis_env["POSTGRES_DB"]
    assert gridhub_url.username == postgis_env["POSTGRES_USER"]
    for name in AIRFLOW_SERVICES:
        env = _env(services[name])
        assert env["DATABASE_URL"] == env["AIRFLOW_CONN_GRIDHUB"] == gridhub_url.geturl(), name
        metadata = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert metadata.hostname == "postgis"
        assert metadata.path == "/" + postgis_env["AIRFLOW_DB_NAME"] != gridhub_url.path
        assert metadata.username == postgis_env["AIRFLOW_DB_USER"]
        # psycopg 3 is in our lock; asyncpg (Airflow's derived default) is not.
        assert metadata.scheme == "postgresql+psycopg"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] == metadata.geturl()
    init_script = "/docker-entrypoint-initdb.d/20-airflow-db.sh"
    mounts = dict((target, source) for source, target in _mounts(services["postgis"]))
    assert Path(mounts[init_script]) == DOCKER_DIR / "postgis" / "20-airflow-db.sh"


def test_airflow_options_exist_in_the_installed_airflow(services):
    """A renamed option would be ignored silently: check each one against config.yml."""
    spec = importlib.util.find_spec("airflow")  # finds the package without importing it
    assert spec and spec.submodule_search_locations, "apache-airflow is not installed"
    config_yml = Path(spec.submodule_search_locations[0]) / "config_templates" / "config.yml"
    from airflow.providers.celery.get_provider_info import get_provider_info

    # Core options, and the [celery] ones the Celery provider declares.
    sections = {**yaml.safe_load(config_yml.read_text()), **get_provider_info()["config"]}
    known = {
        (section, option)
        for section, body in sections.items()
        for option in (body.get("options") or {})
    }
    for name in AIRFLOW_SERVICES:
        for key in _env(services[name]):
            if key.startswith("AIRFLOW__"):
                section, option = key.removeprefix("AIRFLOW__").lower().split("__", 1)
                assert (section, option) in known, f"{key} is not an Airflow option"


def test_secret_defaults_are_marked_insecure(services):
    """Every default secret must be one that check-secrets.sh refuses in production."""
    for name, service in services.items():
        for key, value in _env(service).items():
            if re.search(r"(PASSWORD|SECRET|SECRET_KEY|HASH_KEY)$", key):
                assert INSECURE_MARKER in value, f"{name}: default {key} is not marked insecure"
            if "://" in value and "@" in value:
                password = urlsplit(value).password or ""
                assert INSECURE_MARKER in password, f"{name}: default password in {key}"


def test_every_compose_variable_is_documented_in_env_example():
    # Compose does not interpolate comments.
    lines = COMPOSE_FILE.read_text().splitlines()
    used = set(
        COMPOSE_VAR.findall("\n".join(ln for ln in lines if not ln.lstrip().startswith("#")))
    )
    documented = set(ENV_ASSIGNMENT.findall(ENV_EXAMPLE.read_text()))
    assert used, "no ${VAR} found in docker-compose.yml"
    assert not used - documented, f"undocumented in .env.example: {sorted(used - documented)}"
    assert not documented - used, f"unused by docker-compose.yml: {sorted(documented - used)}"


def test_env_example_matches_the_built_in_defaults(config):
    """.env.example documents the defaults, so copying it unchanged changes nothing."""
    from_example, _ = _docker_compose_config(ENV_EXAMPLE)
    assert from_example == config


def test_scripts_are_executable():
    # The postgres entrypoint *sources* a non-executable .sh, and our `set -u` would then
    # leak into it; the images' entrypoints and commands rely on the mode too.
    scripts = sorted(DOCKER_DIR.rglob("*.sh"))
    assert scripts
    for script in scripts:
        assert os.access(script, os.X_OK), f"{script.relative_to(ROOT)} is not executable"


def test_dockerfile_inputs_exist():
    for dockerfile in DOCKER_DIR.glob("*.Dockerfile"):
        for line in dockerfile.read_text().splitlines():
            words = line.split()
            if not words or words[0] != "COPY" or any(w.startswith("--from") for w in words):
                continue
            for source in [w for w in words[1:] if not w.startswith("--")][:-1]:
                assert (ROOT / source).exists(), f"{dockerfile.name}: COPY {source} not found"


def test_airflow_base_image_matches_the_lock():
    base = re.search(
        r"apache/airflow:([\d.]+)-python([\d.]+)", (DOCKER_DIR / "airflow.Dockerfile").read_text()
    )
    assert base, "airflow.Dockerfile does not name an apache/airflow:<version>-python<x.y> base"
    constraints = ROOT / "constraints.txt"
    assert constraints.exists(), "constraints.txt (the lock) is missing"
    pin = re.search(r"^apache-airflow==([\d.]+)\s*$", constraints.read_text(), re.MULTILINE)
    assert pin, "constraints.txt does not pin apache-airflow"
    assert base.group(1) == pin.group(1), "Airflow base image and lock disagree"
    assert base.group(2) == "3.11"
    assert "python:3.11-slim" in (DOCKER_DIR / "gridhub.Dockerfile").read_text()


@pytest.mark.parametrize("dockerfile", ["gridhub.Dockerfile", "airflow.Dockerfile"])
def test_images_ship_the_files_their_settings_name(dockerfile):
    """Every /opt/gridhub path an image's settings name is copied into it: the city profile,
    the feed specs and (API image) the dashboard, built from its lockfile in a Node stage."""
    text = (DOCKER_DIR / dockerfile).read_text()
    named = dict(re.findall(r"(GRIDHUB_[A-Z_]+)=(/opt/gridhub/\S+)", text))
    assert "GRIDHUB_CITY_PROFILE" in named and "GRIDHUB_SOURCES_DIR" in named, named
    copied = re.findall(r"^COPY .*?(/opt/gridhub/\S*?)/?$", text, re.MULTILINE)
    for setting, path in named.items():
        assert any(path.startswith(target) for target in copied), (setting, path, copied)
    if dockerfile == "gridhub.Dockerfile":
        assert named["GRIDHUB_API_DASHBOARD_DIR"] == "/opt/gridhub/dashboard"
        assert "npm ci" in text and "COPY --from=dashboard /src/dashboard/dist/" in text
        assert (ROOT / "dashboard" / "package-lock.json").exists()


@pytest.mark.parametrize(
    ("env", "refused", "named"),
    [
        ({"GRIDHUB_ENV": "development", "SOME_PASSWORD": "dev-insecure-x"}, False, None),
        ({"GRIDHUB_ENV": "production", "SOME_PASSWORD": "a-real-secret"}, False, None),
        ({"GRIDHUB_ENV": "production", "SOME_PASSWORD": "dev-insecure-x"}, True, "SOME_PASSWORD"),
        ({"GRIDHUB_ENV": "production", "AIRFLOW__CORE__FERNET_KEY": ""}, True, "FERNET_KEY"),
    ],
)
def test_secret_guard(env, refused, named):
    proc = subprocess.run(
        ["sh", str(DOCKER_DIR / "check-secrets.sh"), "echo", "started"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], **env},
        timeout=30,
    )
    if refused:
        assert proc.returncode == 78 and "started" not in proc.stdout
        assert named in proc.stderr
        assert "dev-insecure-x" not in proc.stderr, "the guard must not print secret values"
    else:
        assert proc.returncode == 0 and proc.stdout.strip() == "started", proc.stderr
