"""The police dispatch REST API of the demo: a small local HTTP server over the police feed.

GET /api/v1/incidents?updated_since=ISO&page_size=N and one of cursor=C | page=P | offset=O
answers {"data": [...], "next_cursor": C or null, "page_size": N}. Records come in updated_at
order; updated_since is inclusive. It wants `Authorization: Bearer <token>`, and can be made
flaky (a share of requests answered 429 or 503) to exercise clients' retries. Only the
sparse index is held in memory; records are read from the feed file by byte offset.
"""

from __future__ import annotations

import bisect
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

PATH = "/api/v1/incidents"
DEFAULT_TOKEN = "demo-police-token"
MAX_PAGE = 5000


class PoliceStore:
    """Random access into the feed file: record k, and the first record updated at or after t."""

    def __init__(self, folder: Path):
        meta = json.loads((folder / "index.json").read_text())
        self.path = folder / "incidents.jsonl"
        self.count = meta["count"]
        self.step = meta["step"]
        self.marks = [pd.Timestamp(u) for u, _, _ in meta["index"]]
        self.offsets = [o for _, o, _ in meta["index"]]

    def first_since(self, since: pd.Timestamp | None) -> int:
        if since is None or not self.marks:
            return 0
        block = max(bisect.bisect_left(self.marks, since) - 1, 0)
        number = block * self.step
        for record in self.records_from(number, self.step * 2 + 1):
            if pd.Timestamp(record["updated_at"]) >= since:
                return number
            number += 1
        return number

    def records_from(self, number: int, limit: int) -> list[dict]:
        if number >= self.count or limit <= 0:
            return []
        block = number // self.step
        out = []
        with open(self.path, "rb") as handle:
            handle.seek(self.offsets[block])
            for _ in range(number - block * self.step):
                handle.readline()
            for _ in range(min(limit, self.count - number)):
                out.append(json.loads(handle.readline()))
        return out


class PoliceApi:
    """Serves a PoliceStore on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self, folder: Path, token: str = DEFAULT_TOKEN, port: int = 0,
                 flaky: float = 0.0, seed: int = 0):
        self.store = PoliceStore(folder)
        self.token = token
        self.flaky = flaky
        self.rng = np.random.default_rng(seed)
        self.lock = threading.Lock()
        self.requests = 0
        self.refused = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the name http.server calls
                api.handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def endpoint(self) -> str:
        return self.url + PATH

    def __enter__(self) -> PoliceApi:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.requests += 1
            unlucky = self.flaky > 0 and self.rng.random() < self.flaky
            code = int(self.rng.choice([429, 503])) if unlucky else 200
        url = urlsplit(request.path)
        if url.path != PATH:
            return _reply(request, HTTPStatus.NOT_FOUND, {"error": "no such resource"})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _reply(request, HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong bearer token"})
        if code != 200:
            with self.lock:
                self.refused += 1
            return _reply(request, code, {"error": "try again later"}, {"Retry-After": "0"})
        try:
            body = self.page(parse_qs(url.query))
        except ValueError as exc:
            return _reply(request, HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        _reply(request, HTTPStatus.OK, body)

    def page(self, query: dict[str, list[str]]) -> dict:
        def one(name: str) -> str | None:
            return query[name][0] if name in query else None

        size = int(one("page_size") or 100)
        if not 0 < size <= MAX_PAGE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE}")
        since = pd.Timestamp(one("updated_since")) if one("updated_since") else None
        if since is not None and since.tzinfo is None:
            raise ValueError("updated_since needs a time zone offset")
        if one("cursor"):
            start = int(one("cursor"))
        else:
            first = self.store.first_since(since)
            if one("page"):
                start = first + (int(one("page")) - 1) * size
            else:
                start = first + int(one("offset") or 0)
        data = self.store.records_from(start, size)
        following = start + len(data)
        more = following < self.store.count
        return {"data": data, "next_cursor": str(following) if more and data else None,
                "page_size": size}


def _reply(request: BaseHTTPRequestHandler, status: int, body: dict, headers: dict | None = None) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request.send_response(status)
    request.send_header("Content-Type", "application/json; charset=utf-8")
    request.send_header("Content-Length", str(len(payload)))
    for key, value in (headers or {}).items():
        request.send_header(key, value)
    request.end_headers()
    request.wfile.write(payload)
