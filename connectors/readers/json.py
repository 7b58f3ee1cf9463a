"""JSON documents (a list of records, or one under a dotted path) and JSON Lines.

A record that cannot be read (a line that is not JSON or not text in the spec's encoding, a
value that is not an object, objects nested too deep) becomes an unreadable record naming its
line or place, so that it is quarantined with its reason and the rest of the file loads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import pandas as pd

from connectors.readers.base import (
    ReadContext,
    batch_rows,
    frame_of,
    input_files,
    record_fields,
    unreadable,
)
from connectors.spec import JsonOptions
from core.errors import SourceError


def read_json(spec, context: ReadContext) -> Iterator[pd.DataFrame]:
    """Each file is one JSON document; its records are yielded in chunks."""
    options: JsonOptions = spec.reader_options()
    size = batch_rows(spec, context)
    for path in input_files(spec, context):
        try:
            with open(path, encoding=spec.encoding) as handle:
                document = json.load(handle)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SourceError(f"{spec.name}: cannot parse {path} as JSON: {exc}") from exc
        except RecursionError as exc:
            raise SourceError(f"{spec.name}: cannot parse {path} as JSON: it nests arrays or"
                              " objects too deep to parse") from exc
        records = _records_at(document, options.records_path, f"{spec.name}: {path}")
        for start in range(0, len(records), size):
            yield frame_of([record_fields(r, f"{path.name} record {start + i + 1}")
                            for i, r in enumerate(records[start:start + size])])


def read_jsonl(spec, context: ReadContext) -> Iterator[pd.DataFrame]:
    """One JSON object per line, streamed; blank lines are skipped; a line that cannot be read
    is an unreadable record naming its line number."""
    size = batch_rows(spec, context)
    # A BOM is dropped whether or not the spec says utf-8-sig (as for CSV).
    encoding = "utf-8-sig" if spec.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else spec.encoding
    for path in input_files(spec, context):
        try:
            with open(path, "rb") as handle:
                lines = ((n, line) for n, line in enumerate(handle, 1) if line.strip())
                while batch := list(islice(lines, size)):
                    yield frame_of([_line(line, n, path, encoding, spec.encoding) for n, line in batch])
        except OSError as exc:
            raise SourceError(f"{spec.name}: cannot read {path}: {exc}") from exc


def _line(line: bytes, number: int, path: Path, encoding: str, declared: str) -> dict:
    where = f"{path.name} line {number}"
    try:
        text = line.decode(encoding).rstrip("\r\n")
    except UnicodeDecodeError as exc:
        return unreadable(f"{where} is not {declared} text ({exc.reason} at byte {exc.start});"
                          " check the spec's encoding",
                          line.decode(encoding, "backslashreplace").rstrip("\r\n"))
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return unreadable(f"{where} is not JSON: {exc}", text)
    except RecursionError:
        return unreadable(f"{where} nests arrays or objects too deep to parse", text)
    return record_fields(record, where, text)


def _records_at(document, path: str | None, where: str) -> list:
    node = document
    for part in (path.split(".") if path else []):
        if not isinstance(node, dict) or part not in node:
            raise SourceError(f"{where}: no {part!r} on the records_path {path!r}")
        node = node[part]
    if not isinstance(node, list):
        raise SourceError(f"{where}: expected a list of records at {path or 'the top'},"
                          f" found {type(node).__name__} (set options.records_path)")
    return node
