"""Excel workbooks (.xlsx), streamed row by row with openpyxl's read-only mode.

A workbook is untrusted input: an XML part that declares entities to expand (a "billion
laughs" bomb) is refused by the XML parser's amplification limit and reported in one line,
and a sheet's claimed dimensions never size a row (a sheet may claim 16,384 columns).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from xml.etree.ElementTree import ParseError

import openpyxl
import pandas as pd
from openpyxl.utils.exceptions import InvalidFileException

from connectors.readers.base import ReadContext, batch_rows, frame_of, input_files, text_value
from connectors.spec import XlsxOptions
from core.errors import SourceError

# What a broken or hostile workbook raises while it is opened or read.
_UNREADABLE = (OSError, InvalidFileException, KeyError, ValueError, ParseError, zipfile.BadZipFile, EOFError)


def read_xlsx(spec, context: ReadContext) -> Iterator[pd.DataFrame]:
    """One sheet of each workbook; cells as text (dates as ISO text, numbers as written)."""
    options: XlsxOptions = spec.reader_options()
    size = batch_rows(spec, context)
    for path in input_files(spec, context):
        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except _UNREADABLE as exc:
            raise SourceError(f"{spec.name}: cannot open {path} as an .xlsx workbook: {exc}") from exc
        try:
            sheet = _sheet(book, options.sheet, spec.name, path)
            sheet.reset_dimensions()  # rows as wide as their cells, not as the sheet claims
            header_row = next(sheet.iter_rows(min_row=options.header_row, max_row=options.header_row,
                                              values_only=True), ())
            header = [text_value(v) or f"column_{i + 1}" for i, v in enumerate(header_row)]
            if not header:
                continue  # an empty sheet
            rows = sheet.iter_rows(min_row=options.header_row + 1, max_col=len(header), values_only=True)
            batch: list[dict] = []
            for row in rows:
                if all(v is None or v == "" for v in row):
                    continue  # trailing formatted-but-empty rows
                batch.append({h: text_value(v) for h, v in zip(header, row, strict=False)})
                if len(batch) >= size:
                    yield frame_of(batch)
                    batch = []
            if batch:
                yield frame_of(batch)
        except _UNREADABLE as exc:
            raise SourceError(f"{spec.name}: cannot read sheet {options.sheet!r} of {path}: {exc}") from exc
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
