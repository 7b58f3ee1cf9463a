"""Load on a live API while its database backends are terminated, and what it answered.

Shared by the pool-health tests (tests/api/test_pool_health.py) and the reliability benchmark
(bench/bench_reliability.py): HTTP clients in threads, each asking its own endless run of
paths, and one tally of every answer.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import psycopg

from api.database import POOL_APPLICATION_NAME, WATCHER_APPLICATION_NAME

API_CONNECTIONS = (POOL_APPLICATION_NAME, WATCHER_APPLICATION_NAME)

TERMINATE_BACKENDS = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND application_name = ANY(%s)
"""


def terminate_backends(db_url: str, application_names: tuple[str, ...] = API_CONNECTIONS) -> int:
    """Terminate the backends of the API's connections named so; how many there were."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute(TERMINATE_BACKENDS, (list(application_names),)).fetchone()[0]


@dataclass
class Tally:
    """Every answer of a load: counts by HTTP status, "503 with Retry-After" and its reasons,
    "other 5xx" (any 5xx but a 503 with Retry-After), "reset" (no answer at all), the slowest
    answer in ms, and a line for each bad answer (other 5xx or reset)."""

    seen: Counter = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def requests(self) -> int:
        return sum(n for status, n in self.seen.items() if isinstance(status, int)) + self.seen["reset"]

    def answer(self, response: httpx.Response, seconds: float) -> None:
        with self._lock:
            self.seen[response.status_code] += 1
            self.seen["slowest ms"] = max(self.seen["slowest ms"], round(seconds * 1000))
            if response.status_code == 503 and int(response.headers.get("Retry-After", "0")) > 0:
                self.seen["503 with Retry-After"] += 1
                self.seen[response.json()["detail"]] += 1
            elif response.status_code >= 500:
                self.seen["other 5xx"] += 1
                self.bad.append(f"{response.status_code} {response.request.url.path}: {response.text[:300]}")

    def reset(self, path: str, exc: Exception) -> None:
        with self._lock:
            self.seen["reset"] += 1
            self.bad.append(f"reset {path}: {exc!r}")


def ask(base_url: str, key: str, paths: Iterator[str], stop: threading.Event, tally: Tally) -> None:
    """Ask the paths in turn with one client, as fast as the server answers, until stop."""
    with httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        while not stop.is_set():
            path = next(paths)
            started = time.monotonic()
            try:
                response = client.get(path)
            except httpx.TransportError as exc:  # a reset connection: as bad as a 500
                tally.reset(path, exc)
                continue
            tally.answer(response, time.monotonic() - started)


def clients(base_url: str, work: list[tuple[str, Iterator[str]]], stop: threading.Event,
            tally: Tally) -> list[threading.Thread]:
    """One started client thread per (key, paths) until stop; join them after setting it."""
    threads = [threading.Thread(target=ask, args=(base_url, key, paths, stop, tally), daemon=True)
               for key, paths in work]
    for thread in threads:
        thread.start()
    return threads
