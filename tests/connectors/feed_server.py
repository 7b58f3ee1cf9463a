"""A paged HTTP feed on 127.0.0.1 for tests: each GET is answered by a function of its query."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# query (first value of each parameter) -> (HTTP status, body)
Answer = Callable[[dict[str, str]], tuple[int, bytes]]


class FeedServer:
    """Serves `answer` in a background thread; use as a context manager; `url` is its address."""

    def __init__(self, answer: Answer):
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the name http.server calls
                server.requests += 1
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                status, body = answer(query)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/feed"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
