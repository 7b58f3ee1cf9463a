"""Find or make a PostgreSQL + PostGIS server for GridHub (`gridhub db up/status/down/remove`).

With DATABASE_URL the given server is used: the database and the postgis extension are
created when missing. Without it a private cluster is started on a free local port; PostGIS
is installed from the OS packages when it is missing and we may.

Where the private cluster lives: PostgreSQL refuses to run as root, so as root the server runs
as the `postgres` user, who often cannot enter the checkout (a clone in /root is mode 700).
Then the cluster lives in a folder that user owns, under CLUSTERS_HOME, keyed by the data
directory's absolute path, so two checkouts never share or collide. Any other user runs the
cluster as themselves under <data_dir>/pg.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from core.errors import DatabaseUnavailableError, GridHubError
from store.db import checked_url, dbname_of, one_line, redact, unreachable, with_dbname

DEFAULT_DBNAME = "gridhub"
FIRST_PORT = 55432
CLUSTERS_HOME = Path("/var/lib/gridhub/clusters")


@dataclass(frozen=True)
class ServerInfo:
    url: str
    private: bool  # True when GridHub runs the cluster itself
    data_dir: Path | None = None


def cluster_root(data_dir: Path) -> Path:
    """The folder of the private cluster that serves data_dir (see the module docstring)."""
    data_dir = data_dir.resolve()
    if os.geteuid() != 0:
        return data_dir / "pg"
    key = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return CLUSTERS_HOME / key


def resolve_url(database_url: str | None, data_dir: Path) -> str:
    """The GridHub database: DATABASE_URL when given, else the running private cluster's."""
    if database_url:
        return checked_url(database_url)
    url = PrivateCluster(cluster_root(data_dir)).url()
    if url is None:
        raise GridHubError("no database: set DATABASE_URL (under Airflow: the connection 'gridhub', "
                           "AIRFLOW_CONN_GRIDHUB), or run `gridhub db up` to start a private one")
    return url


def ensure_database(url: str) -> None:
    """Create the database named in url and the postgis extension in it, when missing."""
    url = checked_url(url)
    dbname = dbname_of(url)
    try:
        with psycopg.connect(with_dbname(url, "postgres"), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    except psycopg.OperationalError as exc:
        raise unreachable(url, exc) from exc
    with psycopg.connect(url, autocommit=True) as conn:
        available = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
        ).fetchone()
        if not available:
            version = conn.execute("SHOW server_version_num").fetchone()[0]
            _install_postgis(int(version) // 10000)
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def up(data_dir: Path, database_url: str | None = None) -> ServerInfo:
    """Return a reachable server with PostGIS, starting a private cluster when needed."""
    if database_url:
        ensure_database(database_url)
        return ServerInfo(url=database_url, private=False)
    cluster = PrivateCluster(cluster_root(data_dir))
    url = cluster.start(data_dir)
    ensure_database(url)
    return ServerInfo(url=url, private=True, data_dir=cluster.root)


def status(data_dir: Path, database_url: str | None = None) -> dict:
    """Where the database is, whether it answers, its durability and its PostGIS version."""
    if database_url:
        url, where = checked_url(database_url), {"private": False}
    else:
        cluster = PrivateCluster(cluster_root(data_dir))
        url, where = cluster.url(), {"private": True, "cluster_dir": str(cluster.root)}
        if url is None:
            return {**where, "running": False, "url": None}
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            postgis = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'postgis'"
            ).fetchone()
            server, fsync, full_page_writes = conn.execute(
                "SELECT current_setting('server_version'), current_setting('fsync'),"
                " current_setting('full_page_writes')").fetchone()
    except psycopg.OperationalError as exc:
        return {**where, "running": False, "url": redact(url), "error": one_line(exc)}
    return {
        **where,
        "running": True,
        "url": redact(url),
        "server_version": server,
        "postgis": postgis[0] if postgis else None,
        "fsync": fsync,
        "full_page_writes": full_page_writes,
    }


def down(data_dir: Path) -> bool:
    """Stop the private cluster; returns False when none was running."""
    return PrivateCluster(cluster_root(data_dir)).stop()


def remove(data_dir: Path) -> Path | None:
    """Stop the private cluster and delete it with all its data; returns the folder removed."""
    cluster = PrivateCluster(cluster_root(data_dir))
    cluster.stop()
    if not cluster.root.exists():
        return None
    shutil.rmtree(cluster.root)
    return cluster.root


class PrivateCluster:
    """A PostgreSQL cluster owned by GridHub in one folder: data/, its log, its socket, and
    cluster.json (the URL, and the data directory it serves)."""

    def __init__(self, root: Path, settings: dict[str, object] | None = None):
        self.root = root
        self.pgdata = self.root / "data"
        self.state = self.root / "cluster.json"
        self.settings = {**CLUSTER_SETTINGS, **(settings or {})}

    def url(self) -> str | None:
        if not self.state.exists() or self._running_port() is None:
            return None
        return json.loads(self.state.read_text())["url"]

    def start(self, data_dir: Path) -> str:
        bindir = _postgres_bindir()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(bindir)
        port = self._running_port() or self._start(bindir)
        url = f"postgresql://postgres@127.0.0.1:{port}/{DEFAULT_DBNAME}"
        self.state.write_text(json.dumps({"url": url, "port": port,
                                          "data_dir": str(data_dir.resolve())}))
        return url

    def start_standby(self, primary_url: str, data_dir: Path) -> str:
        """Start this cluster as a streaming hot standby of the server at primary_url (one
        started with STANDBY_PRIMARY_SETTINGS), copying it first when this folder is empty."""
        bindir = _postgres_bindir()
        if not (self.pgdata / "PG_VERSION").exists():
            self._make_root()
            self._run([str(bindir / "pg_basebackup"), "-d", with_dbname(primary_url, "postgres"),
                       "-D", str(self.pgdata), "--write-recovery-conf", "--wal-method=stream",
                       "--checkpoint=fast"])
        # A standby must match its primary's WAL settings to replay its WAL.
        self.settings = {**self.settings, **STANDBY_PRIMARY_SETTINGS, "hot_standby": "on"}
        return self.start(data_dir)

    def stop(self) -> bool:
        if self._running_port() is None:
            return False
        self._run([str(_postgres_bindir() / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"])
        return True

    def _running_port(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return None
        lines = pidfile.read_text().splitlines()
        try:
            os.kill(int(lines[0]), 0)
        except (ProcessLookupError, ValueError, IndexError):
            return None
        return int(lines[3])

    def _make_root(self) -> None:
        if os.geteuid() == 0:
            self.root.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._give_to_owner(self.root)

    def _initdb(self, bindir: Path) -> None:
        self._make_root()
        # Text sorts by byte (the order C.UTF-8 gives too), so sorts and index builds on codes
        # and hashes compare with memcmp and abbreviated keys instead of strcoll.
        self._run([str(bindir / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
                   "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--lc-collate=C"])

    def _start(self, bindir: Path) -> int:
        port = _free_port(FIRST_PORT)
        log = self.root / "postgres.log"
        if not log.exists():
            log.touch()
            self._give_to_owner(log)
        settings = " ".join(f"-c {name}={value}" for name, value in self.settings.items())
        options = f"-p {port} -k {self.root} {settings}"
        try:
            self._run([str(bindir / "pg_ctl"), "-D", str(self.pgdata), "-o", options,
                       "-l", str(log), "-w", "-t", "60", "start"])
        except DatabaseUnavailableError as exc:
            # pg_ctl only says "examine the log output": say what the server wrote there.
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise DatabaseUnavailableError(f"{exc}\nlast lines of {log}:\n{tail}") from exc
        return port

    def _give_to_owner(self, path: Path) -> None:
        # initdb refuses to run as root, so as root the cluster belongs to the postgres user.
        if os.geteuid() == 0:
            user = pwd.getpwnam(_cluster_user())
            os.chown(path, user.pw_uid, user.pw_gid)

    def _run(self, cmd: list[str]) -> None:
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", _cluster_user(), "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
        if done.returncode != 0:
            raise DatabaseUnavailableError(
                f"{' '.join(cmd)} failed (exit {done.returncode}):\n{done.stderr or done.stdout}"
            )


# The private cluster may hold a city's real data, so it keeps PostgreSQL's durability (fsync,
# full_page_writes and synchronous commits, the server's defaults). It has no replicas, so WAL
# is minimal: crash recovery is unchanged, and a table emptied in the transaction that refills
# it (a rollup rebuild) or an index built after a bulk load skips the WAL. Memory and WAL sizes
# suit bulk loads of millions of cases on a machine of a few GB. A production server is
# configured by its operators (DATABASE_URL).
CLUSTER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": 200,
    "wal_level": "minimal",
    "max_wal_senders": 0,
    "shared_buffers": "1GB",
    "work_mem": "32MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
}

# A private cluster that streams its WAL to standbys (a read replica for the API, as tried in
# the tests): WAL must carry enough to replay, and the standbys need senders.
STANDBY_PRIMARY_SETTINGS = {"wal_level": "replica", "max_wal_senders": 5}


def _cluster_user() -> str:
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise DatabaseUnavailableError(
            "running as root needs a 'postgres' OS user to own the private cluster; "
            "install PostgreSQL from the OS packages or set DATABASE_URL"
        ) from exc
    return "postgres"


def _postgres_bindir() -> Path:
    """The newest PostgreSQL server binaries installed on this machine."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise DatabaseUnavailableError(
        "no DATABASE_URL given and no PostgreSQL server binaries found. Either set "
        "DATABASE_URL=postgresql://user@host:port/gridhub to a server with PostGIS, or install "
        "PostgreSQL and PostGIS (Debian/Ubuntu: apt-get install postgresql postgresql-15-postgis-3)"
    )


def _version_key(path: str) -> int:
    return int(Path(path).parent.parent.name)


def _install_postgis(major: int) -> None:
    package = f"postgresql-{major}-postgis-3"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise DatabaseUnavailableError(
            f"the server has no PostGIS extension. Install it (Debian/Ubuntu: "
            f"sudo apt-get install {package}) or point DATABASE_URL at a server with PostGIS"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", package]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise DatabaseUnavailableError(f"installing PostGIS failed: {' '.join(cmd)}\n{done.stderr}")


def _free_port(start: int) -> int:
    for port in range(start, start + 200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise DatabaseUnavailableError(f"no free TCP port in {start}..{start + 199} for the private cluster")
