"""A paged REST API: page, offset or cursor paging, an updated-since watermark, auth headers,
retries with exponential backoff on 429 / 5xx / timeouts (tenacity), and request timeouts.

A read is bounded (options.max_pages, max_bytes, max_seconds): a server whose paging never
ends, or that answers without end, stops the run with one line instead of filling memory.
A page that repeats the one before, or a cursor seen before, stops it at once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pandas as pd
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from connectors.readers.base import ReadContext, frame_of, record_fields
from connectors.spec import RestOptions, expand
from core.errors import SourceError

# Bytes of an error response worth quoting.
_ERROR_BODY = 200


class _Retryable(Exception):
    """A response worth asking again for (429, 5xx)."""


@dataclass
class _Budget:
    """What one read of the source has spent, against the spec's bounds."""

    name: str
    url: str
    options: RestOptions
    pages: int = 0
    bytes: int = 0
    started: float = field(default_factory=time.monotonic)

    def bytes_left(self) -> int:
        return self.options.max_bytes - self.bytes

    def before_request(self) -> None:
        """Refuse a request past the page or time bound."""
        o, where = self.options, f"{self.name}: {self.url}"
        if self.pages >= o.max_pages:
            raise SourceError(f"{where} still had more pages after {o.max_pages:,} (options.max_pages):"
                              " raise the bound, or check that the server's paging ends")
        if time.monotonic() - self.started > o.max_seconds:
            raise SourceError(f"{where}: reading took longer than {o.max_seconds:,g} s"
                              f" ({self.pages:,} pages; options.max_seconds): raise the bound, or"
                              " read a shorter period")

    def spent(self, size: int) -> None:
        self.pages += 1
        self.bytes += size


def read_rest(spec, context: ReadContext) -> Iterator[pd.DataFrame]:
    """Every page from the watermark on, grouped into chunks of about spec.chunk_rows records."""
    options: RestOptions = spec.reader_options()
    location = httpx.URL(spec.resolve_location(context.data_dir, context.variables))
    headers = {k: expand(v, context.variables, f"{spec.name}.options.headers.{k}")
               for k, v in options.headers.items()}
    # httpx replaces a URL's query with the request's params: the location's own go in too.
    url = str(location.copy_with(query=None))
    params: dict[str, str | int] = {**dict(location.params), options.size_param: options.page_size}
    if options.watermark_param and context.watermark:
        params[options.watermark_param] = context.watermark
    batch: list[dict] = []
    read = 0
    budget = _Budget(spec.name, url, options)
    with httpx.Client(headers=headers, timeout=options.timeout_s) as client:
        for records in _pages(client, url, params, options, budget):
            page = budget.pages
            batch.extend(record_fields(r, f"page {page} record {i + 1}") for i, r in enumerate(records))
            read += len(records)
            if len(batch) >= spec.chunk_rows:
                yield frame_of(batch)
                batch = []
            if context.limit is not None and read >= context.limit:
                break
    if batch:
        yield frame_of(batch)


def _pages(client: httpx.Client, url: str, params: dict, options: RestOptions,
           budget: _Budget) -> Iterator[list]:
    name = budget.name
    page, offset, cursor = options.first_page, 0, None
    previous: bytes | None = None
    cursors: set[str] = set()
    while True:
        query = dict(params)
        if options.paging == "page":
            query[options.page_param] = page
        elif options.paging == "offset":
            query[options.offset_param] = offset
        elif cursor is not None:
            query[options.cursor_param] = cursor
        budget.before_request()
        raw = _get(client, url, query, options, name, budget.bytes_left())
        budget.spent(len(raw))
        digest = hashlib.sha256(raw).digest()
        if digest == previous:
            raise SourceError(f"{name}: {url} answered page {budget.pages} exactly as page"
                              f" {budget.pages - 1}: its paging does not advance (check"
                              f" options.paging, now {options.paging!r}, and its parameter names)")
        previous = digest
        body = _json(raw, url, name)
        records = body.get(options.records_field) if isinstance(body, dict) else body
        if not isinstance(records, list):
            raise SourceError(f"{name}: {url} answered without a list at {options.records_field!r}")
        if records:
            yield records
        if options.paging == "cursor":
            cursor = body.get(options.next_cursor_field) if isinstance(body, dict) else None
            if not cursor:
                return
            if str(cursor) in cursors:
                raise SourceError(f"{name}: {url} sent the cursor {str(cursor)[:80]!r} a second time:"
                                  " its paging goes round in a loop")
            cursors.add(str(cursor))
        elif len(records) < options.page_size:
            return
        page += 1
        offset += len(records)


def _get(client: httpx.Client, url: str, query: dict, options: RestOptions, name: str,
         max_bytes: int) -> bytes:
    """One page's body, read up to max_bytes (more is an error), with retries."""
    retrying = Retrying(
        stop=stop_after_attempt(options.retries + 1),
        wait=wait_exponential(multiplier=options.backoff_s, max=30),
        retry=retry_if_exception(lambda e: isinstance(e, _Retryable | httpx.TransportError)),
        reraise=False,
    )
    try:
        for attempt in retrying:
            with attempt, client.stream("GET", url, params=query) as response:
                status = response.status_code
                if status == 429 or status >= 500:
                    raise _Retryable(f"HTTP {status}")
                body, more = _read_up_to(response, max_bytes if status < 400 else _ERROR_BODY)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise SourceError(f"{name}: {url} failed {options.retries + 1} times; last: {last}") from last
    if status in (401, 403):
        raise SourceError(f"{name}: {url} refused the credentials (HTTP {status});"
                          " check the auth header in options.headers")
    if status >= 400:
        raise SourceError(f"{name}: {url} answered HTTP {status}:"
                          f" {body.decode('utf-8', 'replace')[:_ERROR_BODY]}")
    if more:
        raise SourceError(f"{name}: {url} sent more than {options.max_bytes:,} bytes in all"
                          " (options.max_bytes): raise the bound, or read a shorter period")
    return body


def _read_up_to(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """The (decoded) body up to limit bytes, and whether more was coming."""
    data = bytearray()
    for part in response.iter_bytes():
        data += part
        if len(data) > limit:
            return bytes(data[:limit]), True
    return bytes(data), False


def _json(raw: bytes, url: str, name: str):
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise SourceError(f"{name}: {url} did not answer JSON: {exc}") from exc
    except RecursionError as exc:
        raise SourceError(f"{name}: {url} answered JSON nested too deep to parse") from exc
