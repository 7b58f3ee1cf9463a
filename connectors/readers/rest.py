"""A paged REST API: page, offset or cursor paging, an updated-since watermark, auth headers,
retries with exponential backoff on 429 / 5xx / timeouts (tenacity), and request timeouts.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pandas as pd
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from connectors.readers.base import ReadContext, flatten, frame_of
from connectors.spec import RestOptions, expand
from core.errors import SourceError


class _Retryable(Exception):
    """A response worth asking again for (429, 5xx)."""


def read_rest(spec, context: ReadContext) -> Iterator[pd.DataFrame]:
    """Every page from the watermark on, grouped into chunks of about spec.chunk_rows records."""
    options: RestOptions = spec.reader_options()
    url = spec.resolve_location(context.data_dir, context.variables)
    headers = {k: expand(v, context.variables, f"{spec.name}.options.headers.{k}")
               for k, v in options.headers.items()}
    params: dict[str, str | int] = {options.size_param: options.page_size}
    if options.watermark_param and context.watermark:
        params[options.watermark_param] = context.watermark
    batch: list[dict] = []
    read = 0
    with httpx.Client(headers=headers, timeout=options.timeout_s) as client:
        for records in _pages(client, url, params, options, spec.name):
            batch.extend(flatten(r) for r in records)
            read += len(records)
            if len(batch) >= spec.chunk_rows:
                yield frame_of(batch)
                batch = []
            if context.limit is not None and read >= context.limit:
                break
    if batch:
        yield frame_of(batch)


def _pages(client: httpx.Client, url: str, params: dict, options: RestOptions,
           name: str) -> Iterator[list[dict]]:
    page, offset, cursor = options.first_page, 0, None
    while True:
        query = dict(params)
        if options.paging == "page":
            query[options.page_param] = page
        elif options.paging == "offset":
            query[options.offset_param] = offset
        elif cursor is not None:
            query[options.cursor_param] = cursor
        body = _get(client, url, query, options, name)
        records = body.get(options.records_field) if isinstance(body, dict) else body
        if not isinstance(records, list):
            raise SourceError(f"{name}: {url} answered without a list at {options.records_field!r}")
        if records:
            yield records
        if options.paging == "cursor":
            cursor = body.get(options.next_cursor_field) if isinstance(body, dict) else None
            if not cursor:
                return
        elif len(records) < options.page_size:
            return
        page += 1
        offset += len(records)


def _get(client: httpx.Client, url: str, query: dict, options: RestOptions, name: str):
    retrying = Retrying(
        stop=stop_after_attempt(options.retries + 1),
        wait=wait_exponential(multiplier=options.backoff_s, max=30),
        retry=retry_if_exception(lambda e: isinstance(e, _Retryable | httpx.TransportError)),
        reraise=False,
    )
    try:
        for attempt in retrying:
            with attempt:
                response = client.get(url, params=query)
                if response.status_code == 429 or response.status_code >= 500:
                    raise _Retryable(f"HTTP {response.status_code}")
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise SourceError(f"{name}: {url} failed {options.retries + 1} times; last: {last}") from last
    if response.status_code in (401, 403):
        raise SourceError(f"{name}: {url} refused the credentials (HTTP {response.status_code});"
                          " check the auth header in options.headers")
    if response.status_code >= 400:
        raise SourceError(f"{name}: {url} answered HTTP {response.status_code}: {response.text[:200]}")
    try:
        return response.json()
    except ValueError as exc:
        raise SourceError(f"{name}: {url} did not answer JSON: {exc}") from exc
