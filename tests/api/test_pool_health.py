"""Backends of the API terminated under load (as a failover, an operator's
pg_terminate_backend or an idle-session timeout does): no request answers 500, a request
whose connection was cut is retried on a fresh one, and anything that cannot be served
answers 503 with Retry-After."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import psycopg
import pytest

from api.database import POOL_APPLICATION_NAME
from api.keys import Role, create_key
from tests.api.conftest import serve
from tests.api.helpers import busiest
from tests.api.terminations import API_CONNECTIONS, Tally, clients, terminate_backends


def _summaries(district: str, offset: int) -> Iterator[str]:
    """Uncached summaries: a new period each time."""
    for days in itertools.count(offset * 500 + 1):
        yield f"/areas/{district}/summary?from=2020-01-01&to={date(2024, 1, 1) + timedelta(days=days)}"


def _run_under_terminations(api_settings, *, keep_watcher: bool, rounds: int) -> tuple[Counter, list[str]]:
    db_url = api_settings.database_url
    district = busiest(db_url, "district")
    with psycopg.connect(db_url) as conn:
        key = create_key(conn, Role.ADMIN, api_settings.city_code, "pool health").key
    # The watcher's connection is named apart: keep_watcher cuts only the pooled ones.
    names = (POOL_APPLICATION_NAME,) if keep_watcher else API_CONNECTIONS
    tally = Tally()
    stop = threading.Event()
    with serve(api_settings) as server:
        workers = clients(server.base_url, [(key, _summaries(district, i)) for i in range(4)], stop, tally)
        terminated = 0
        try:
            for _ in range(rounds):
                time.sleep(0.4)
                terminated += terminate_backends(db_url, names)
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
    return tally.seen, tally.bad


@pytest.mark.slow  # a live server under load while its backends are cut
def test_pooled_connections_cut_under_load_are_retried_unseen(api_settings):
    seen, bad = _run_under_terminations(api_settings, keep_watcher=True, rounds=8)
    assert not bad, f"{len(bad)} bad answers of {sum(seen.values())} ({dict(seen)}); first: {bad[:3]}"
    # The database stayed up: a cut pooled connection is retried on a fresh one, unseen, and
    # no request waits long for a live one (the pool backs off 1, 2, 4... s between dead ones).
    assert seen[200] > 20 and seen[503] == 0, dict(seen)
    assert seen["slowest ms"] < 5_000, dict(seen)


@pytest.mark.slow  # a live server under load while its backends are cut
def test_every_backend_cut_under_load_answers_200_or_503_never_500(api_settings):
    seen, bad = _run_under_terminations(api_settings, keep_watcher=False, rounds=6)
    assert not bad, f"{len(bad)} bad answers of {sum(seen.values())} ({dict(seen)}); first: {bad[:3]}"
    # The watcher's connection, cut with the rest, is replaced at once: the worker does not
    # turn to 503 for seconds at each cut while the database answers.
    assert seen[200] > 20 and seen[503] * 10 < seen[200], dict(seen)
