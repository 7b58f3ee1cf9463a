"""A table in another SQL database (any SQLAlchemy URL), read incrementally on the watermark.

Rows whose watermark column is >= the stored watermark are read (ties at the boundary are
read again and skipped as duplicates, so none is ever missed), in watermark order, streamed
with a server-side cursor.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from connectors.readers.base import ReadContext, text_value
from connectors.spec import SqlOptions
from core.errors import SourceError


def read_sql(spec, context: ReadContext) -> Iterator[pd.DataFrame]:
    """The table's rows from the watermark on, in chunks, every value as text."""
    options: SqlOptions = spec.reader_options()
    url = spec.resolve_location(context.data_dir, context.variables)
    schema, _, name = options.table.rpartition(".")
    try:
        engine = sa.create_engine(url)
    except (SQLAlchemyError, ValueError) as exc:
        raise SourceError(f"{spec.name}: bad SQLAlchemy URL in location: {exc}") from exc
    try:
        with engine.connect() as conn:
            table = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=conn)
            columns = [table.c[c] for c in options.columns] if options.columns else list(table.c)
            query = sa.select(*columns)
            if spec.watermark:
                if spec.watermark not in table.c:
                    raise SourceError(f"{spec.name}: table {options.table} has no watermark column"
                                      f" {spec.watermark!r}")
                mark = table.c[spec.watermark]
                if context.watermark:
                    query = query.where(mark >= sa.cast(sa.literal(context.watermark), mark.type))
                query = query.order_by(mark)
            if context.limit is not None:
                query = query.limit(context.limit)
            result = conn.execution_options(stream_results=True, yield_per=spec.chunk_rows).execute(query)
            keys = list(result.keys())
            for rows in result.partitions():
                yield pd.DataFrame([[text_value(v) for v in row] for row in rows], columns=keys,
                                   dtype=object)
    except NoSuchTableError as exc:
        raise SourceError(f"{spec.name}: no table {options.table!r} in the source database") from exc
    except SQLAlchemyError as exc:
        raise SourceError(f"{spec.name}: reading {options.table} failed: {exc}") from exc
    finally:
        engine.dispose()
