"""CSV in any Python codec (UTF-8, UTF-8 with BOM, GBK, GB18030), any delimiter, quoted newlines."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from connectors.readers.base import ReadContext, batch_rows, input_files
from connectors.spec import CsvOptions
from core.errors import SourceError


def read_csv(spec, context: ReadContext) -> Iterator[pd.DataFrame]:
    """Every file of the spec's location, in chunks of text columns."""
    options: CsvOptions = spec.reader_options()
    # A BOM is dropped whether or not the spec says utf-8-sig; GBK files never carry one.
    encoding = "utf-8-sig" if spec.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else spec.encoding
    for path in input_files(spec, context):
        try:
            chunks = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding,
                                 sep=spec.delimiter, quotechar=options.quotechar,
                                 skiprows=options.skip_rows, chunksize=batch_rows(spec, context),
                                 engine="c", encoding_errors="strict")
            with chunks:
                yield from (chunk.astype(object) for chunk in chunks)
        except pd.errors.EmptyDataError as exc:
            skipped = f" after the {options.skip_rows} skipped line(s)" if options.skip_rows else ""
            raise SourceError(f"{spec.name}: {path} is empty: a CSV needs at least its header"
                              f" line{skipped}") from exc
        except (UnicodeDecodeError, pd.errors.ParserError) as exc:
            raise SourceError(f"{spec.name}: cannot parse {path} as {spec.encoding} CSV"
                              f" (delimiter {spec.delimiter!r}): {exc}") from exc
