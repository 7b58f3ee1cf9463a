"""Excel workbooks (.xlsx), streamed row by row with openpyxl's read-only mode."""

from __future__ import annotations

from collections.abc import Iterator

import openpyxl
import pandas as pd
from openpyxl.utils.exceptions import InvalidFileException

from connectors.readers.base import ReadContext, frame_of, input_files, text_value
from connectors.spec import XlsxOptions
from core.errors import SourceError


def read_xlsx(spec, context: ReadContext) -> Iterator[pd.DataFrame]:
    """One sheet of each workbook; cells as text (dates as ISO text, numbers as written)."""
    options: XlsxOptions = spec.reader_options()
    for path in input_files(spec, context):
        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (OSError, InvalidFileException, KeyError, ValueError) as exc:
            raise SourceError(f"{spec.name}: cannot open {path} as an .xlsx workbook: {exc}") from exc
        try:
            sheet = _sheet(book, options.sheet, spec.name, path)
            rows = sheet.iter_rows(min_row=options.header_row, values_only=True)
            header = [text_value(v) or f"column_{i + 1}" for i, v in enumerate(next(rows, ()))]
            batch: list[dict] = []
            for row in rows:
                if all(v is None or v == "" for v in row):
                    continue  # trailing formatted-but-empty rows
                batch.append({h: text_value(v) for h, v in zip(header, row, strict=False)})
                if len(batch) >= spec.chunk_rows:
                    yield frame_of(batch)
                    batch = []
            if batch:
                yield frame_of(batch)
        finally:
            book.close()


def _sheet(book, wanted: str | int, name: str, path):
    if isinstance(wanted, int):
        if wanted >= len(book.sheetnames):
            raise SourceError(f"{name}: {path} has {len(book.sheetnames)} sheet(s), no index {wanted}")
        return book[book.sheetnames[wanted]]
    if wanted not in book.sheetnames:
        raise SourceError(f"{name}: {path} has no sheet {wanted!r}; sheets are {book.sheetnames}")
    return book[wanted]
