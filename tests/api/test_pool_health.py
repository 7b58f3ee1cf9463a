"""Backends of the API terminated under load (as a failover, an operator's
pg_terminate_backend or an idle-session timeout does): no request answers 500, a request
whose connection was cut is retried on a fresh one, and anything that cannot be served
answers 503 with Retry-After."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date, timedelta

import httpx
import psycopg

from api.database import WATCHER_APPLICATION_NAME
from api.keys import Role, create_key
from tests.api.conftest import serve
from tests.api.helpers import busiest

TERMINATE_API_BACKENDS = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
"""


def _terminate(db_url: str, *, keep_watcher: bool) -> int:
    """Terminate the API's connections to its database; with keep_watcher, only the pooled
    ones (the watcher's connection is named apart)."""
    text = TERMINATE_API_BACKENDS + (f" AND application_name <> '{WATCHER_APPLICATION_NAME}'"
                                     if keep_watcher else "")
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute(text).fetchone()[0]


def _load(base_url: str, key: str, district: str, stop: threading.Event, seen: Counter,
          bad: list[str], offset: int) -> None:
    """Uncached summaries (a new period each time), as fast as the server answers them."""
    day = date(2024, 1, 1) + timedelta(days=offset * 500)
    with httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        while not stop.is_set():
            day += timedelta(days=1)
            started = time.monotonic()
            try:
                answer = client.get(f"/areas/{district}/summary",
                                    params={"from": "2020-01-01", "to": day.isoformat()})
            except httpx.TransportError as exc:  # a reset connection: as bad as a 500
                seen["reset"] += 1
                bad.append(f"reset: {exc!r}")
                continue
            seen["slowest ms"] = max(seen["slowest ms"], round((time.monotonic() - started) * 1000))
            seen[answer.status_code] += 1
            if answer.status_code == 503:
                seen[answer.json()["detail"]] += 1
            if answer.status_code >= 500 and not (
                    answer.status_code == 503 and int(answer.headers.get("Retry-After", "0")) > 0):
                bad.append(f"{answer.status_code}: {answer.text[:300]}")


def _run_under_terminations(api_settings, *, keep_watcher: bool, rounds: int) -> tuple[Counter, list[str]]:
    db_url = api_settings.database_url
    district = busiest(db_url, "district")
    with psycopg.connect(db_url) as conn:
        key = create_key(conn, Role.ADMIN, api_settings.city_code, "pool health").key
    seen: Counter = Counter()
    bad: list[str] = []
    stop = threading.Event()
    with serve(api_settings) as server:
        workers = [threading.Thread(target=_load, args=(server.base_url, key, district, stop, seen, bad, i))
                   for i in range(4)]
        for w in workers:
            w.start()
        terminated = 0
        try:
            for _ in range(rounds):
                time.sleep(0.4)
                terminated += _terminate(db_url, keep_watcher=keep_watcher)
            time.sleep(0.4)
        finally:
            stop.set()
            for w in workers:
                w.join()
        assert terminated >= rounds, "the test terminated no backend"
        # Served again afterwards, with no restart.
        with httpx.Client(base_url=server.base_url, timeout=30,
                          headers={"Authorization": f"Bearer {key}"}) as client:
            deadline = time.monotonic() + 15
            while (after := client.get(f"/areas/{district}/summary")).status_code != 200:
                assert time.monotonic() < deadline, after.text
                time.sleep(0.2)
    return seen, bad


def test_pooled_connections_cut_under_load_are_retried_unseen(api_settings):
    seen, bad = _run_under_terminations(api_settings, keep_watcher=True, rounds=8)
    assert not bad, f"{len(bad)} bad answers of {sum(seen.values())} ({dict(seen)}); first: {bad[:3]}"
    # The database stayed up: a cut pooled connection is retried on a fresh one, unseen, and
    # no request waits long for a live one (the pool backs off 1, 2, 4... s between dead ones).
    assert seen[200] > 20 and seen[503] == 0, dict(seen)
    assert seen["slowest ms"] < 5_000, dict(seen)


def test_every_backend_cut_under_load_answers_200_or_503_never_500(api_settings):
    seen, bad = _run_under_terminations(api_settings, keep_watcher=False, rounds=6)
    assert not bad, f"{len(bad)} bad answers of {sum(seen.values())} ({dict(seen)}); first: {bad[:3]}"
    # The watcher's connection, cut with the rest, is replaced at once: the worker does not
    # turn to 503 for seconds at each cut while the database answers.
    assert seen[200] > 20 and seen[503] * 10 < seen[200], dict(seen)
