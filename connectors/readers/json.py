"""JSON documents (a list of records, or one under a dotted path) and JSON Lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import islice

import pandas as pd

from connectors.readers.base import ReadContext, flatten, frame_of, input_files
from connectors.spec import JsonOptions
from core.errors import SourceError


def read_json(spec, context: ReadContext) -> Iterator[pd.DataFrame]:
    """Each file is one JSON document; its records are yielded in chunks."""
    options: JsonOptions = spec.reader_options()
    for path in input_files(spec, context):
        try:
            with open(path, encoding=spec.encoding) as handle:
                document = json.load(handle)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SourceError(f"{spec.name}: cannot parse {path} as JSON: {exc}") from exc
        records = _records_at(document, options.records_path, f"{spec.name}: {path}")
        for start in range(0, len(records), spec.chunk_rows):
            yield frame_of([_object(r, path, spec.name) for r in records[start:start + spec.chunk_rows]])


def read_jsonl(spec, context: ReadContext) -> Iterator[pd.DataFrame]:
    """One JSON object per line, streamed; blank lines are skipped."""
    for path in input_files(spec, context):
        with open(path, encoding=spec.encoding) as handle:
            lines = (line for line in handle if line.strip())
            number = 0
            while batch := list(islice(lines, spec.chunk_rows)):
                records = []
                for line in batch:
                    number += 1
                    try:
                        records.append(_object(json.loads(line), path, spec.name))
                    except json.JSONDecodeError as exc:
                        raise SourceError(f"{spec.name}: {path} record {number} is not JSON: {exc}") from exc
                yield frame_of(records)


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


def _object(record, path, name: str) -> dict:
    if not isinstance(record, dict):
        raise SourceError(f"{name}: {path}: expected JSON objects as records, found {type(record).__name__}")
    return flatten(record)
