"""Keys with an expiry (issue 30, item 10): past it a key answers 401 "key expired", from the
database, from a worker's trusted keys and for answers already cached alike."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import httpx
import psycopg
import pytest

from api.keys import Role, create_key, expiry
from api.settings import ApiSettings
from core.errors import ConfigError
from tests.api.conftest import serve
from tests.api.helpers import busiest


def test_an_expired_key_answers_401_key_expired(api_settings):
    db_url = api_settings.database_url
    district = busiest(db_url, "district")
    now = datetime.now(UTC)
    with psycopg.connect(db_url) as conn:
        past = create_key(conn, Role.ADMIN, api_settings.city_code, "past", now - timedelta(minutes=1)).key
        later = create_key(conn, Role.VIEWER, district, "later", now + timedelta(days=30)).key
    path = f"/areas/{district}/summary"
    # Keys trusted for a minute: the expiry must hold inside that minute too.
    with serve(api_settings, ApiSettings(key_cache_seconds=60, audit_flush_seconds=0.1)) as server, \
            httpx.Client(base_url=server.base_url, timeout=30) as http:
        def get(key: str) -> httpx.Response:
            return http.get(path, headers={"Authorization": f"Bearer {key}"})

        ends = datetime.now(UTC) + timedelta(seconds=3)
        with psycopg.connect(db_url) as conn:
            soon = create_key(conn, Role.ADMIN, api_settings.city_code, "soon", ends).key

        refused = get(past)
        assert refused.status_code == 401 and refused.json()["detail"] == "key expired"
        assert refused.headers["WWW-Authenticate"] == "Bearer"
        assert get(later).status_code == 200
        assert get(soon).status_code == 200
        assert get(soon).status_code == 200  # served from the answer cache, before routing
        assert datetime.now(UTC) < ends, "the machine is too slow for this test's 3 s"
        time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds() + 0.2))
        expired = get(soon)
        assert expired.status_code == 401 and expired.json()["detail"] == "key expired", expired.text
        assert http.post("/session", json={"key": soon}).status_code == 401
        assert get(later).status_code == 200


def test_expiry_reads_a_lifetime_or_a_last_day_and_refuses_nonsense():
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert expiry("30d", now=now) == now + timedelta(days=30)
    assert expiry("12h", now=now) == now + timedelta(hours=12)
    assert expiry("2w", now=now) == now + timedelta(weeks=2)
    assert expiry(now=now) is None
    # The last day works to its end, in the city's time: midnight of the next day, Shanghai.
    end = expiry(last_day=date(2025, 6, 30), timezone="Asia/Shanghai", now=now)
    assert end == datetime(2025, 6, 30, 16, 0, tzinfo=UTC)
    for bad in ("30", "0d", "3y", "d", "-1d"):
        with pytest.raises(ConfigError, match="expected a number"):
            expiry(bad, now=now)
    with pytest.raises(ConfigError, match="over"):
        expiry(last_day=date(2025, 5, 31), now=now)
    with pytest.raises(ConfigError, match="not both"):
        expiry("30d", date(2025, 7, 1), now=now)
