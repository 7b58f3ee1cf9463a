"""No key can push a worker out of memory (issue 30, item 2): absurd periods are refused before
any work, and the answer cache is bounded in bytes, so hundreds of distinct large answers
leave the worker's RSS within a set bound."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from api.keys import Role, create_key
from api.settings import ApiSettings
from tests.api.conftest import serve
from tests.api.helpers import busiest

CACHE_BYTES = 16 * 2**20
# What the worker may grow by over the requests below: the cache's budget, plus room for the
# allocator's arenas and one answer being built. Without a byte bound they grow it by ~100 MB.
RSS_BOUND = CACHE_BYTES + 40 * 2**20


def _rss() -> int:
    """This process' resident set (the live server runs in it), from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.slow  # 500 requests, 300 of them ten-year daily series: ~20 s
def test_hundreds_of_distinct_huge_requests_leave_memory_bounded(api_settings):
    db_url = api_settings.database_url
    grid = busiest(db_url, "grid")
    with psycopg.connect(db_url) as conn:
        # An admin's series cost the least time to build; the bound holds for every role alike.
        key = create_key(conn, Role.ADMIN, api_settings.city_code, "memory").key
    path = f"/areas/{grid}/timeseries"
    cfg = ApiSettings(cache_bytes=CACHE_BYTES, audit_flush_seconds=0.1)
    with serve(api_settings, cfg) as server, httpx.Client(
            base_url=server.base_url, timeout=60, headers={"Authorization": f"Bearer {key}"}) as http:
        cache = server.server.config.app.state.hub.cache
        for day in range(1, 4):  # warm up: imports, pool, first answers
            assert http.get(path, params={"interval": "day", "from": f"2024-01-0{day}",
                                          "to": "2024-12-31"}).status_code == 200
        before = _rss()

        # The reproduction: a century of days from 1900, each `from` a new answer. Refused at
        # once, naming the limit.
        for i in range(200):
            start = date(1900, 1, 1) + timedelta(days=i)
            refused = http.get(path, params={"interval": "day", "from": start.isoformat(), "to": "2999-12-31"})
            assert refused.status_code == 400, refused.text
            assert "1970-01-01" in refused.json()["detail"] and refused.json()["parameter"] == "from"
        # As long a span inside the allowed days: refused for its length, naming the most points.
        long = http.get(path, params={"interval": "day", "from": "1970-01-01", "to": "2099-12-31"})
        assert long.status_code == 400 and "3,700" in long.json()["detail"], long.text
        assert http.get(path, params={"interval": "month", "from": "1970-01-01",
                                      "to": "2099-12-31"}).status_code == 200  # 1,560 months: fine

        # The largest series allowed, each a distinct answer of ~400 KB: kept within the budget.
        sizes = []
        for i in range(300):
            start = date(2015, 1, 1) + timedelta(days=i)
            answer = http.get(path, params={"interval": "day", "from": start.isoformat(),
                                            "to": (start + timedelta(days=3_650)).isoformat()})
            assert answer.status_code == 200, answer.text
            sizes.append(len(answer.content))
        grown = _rss() - before

    assert sum(sizes) > 1.5 * RSS_BOUND, "the answers were too small to test the bound"
    assert 0 < cache.bytes <= CACHE_BYTES and len(cache.entries) >= 10, (cache.bytes, len(cache.entries))
    assert grown < RSS_BOUND, f"RSS grew by {grown / 2**20:.0f} MiB (bound {RSS_BOUND / 2**20:.0f} MiB)"
