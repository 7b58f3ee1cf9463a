"""GeoJSON, Shapefile and GeoPackage through pyogrio's Arrow stream, in batches.

The geometry becomes two text fields (x, y of a point; of a representative point for other
shapes), in the file's own coordinates: the spec's crs says what they are.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError

from connectors.readers.base import ReadContext, batch_rows, input_files, text_value
from connectors.spec import GeofileOptions
from core.errors import SourceError


def read_geofile(spec, context: ReadContext) -> Iterator[pd.DataFrame]:
    """Features of one layer per file, attributes as text plus x / y fields."""
    options: GeofileOptions = spec.reader_options()
    for path in input_files(spec, context):
        # GeoJSON: keep date-like properties as the text the file holds (GDAL would type them).
        open_options = {"DATE_AS_STRING": "YES"} if path.suffix.lower() in (".geojson", ".json") else {}
        try:
            with pyogrio.open_arrow(path, layer=options.layer, batch_size=batch_rows(spec, context),
                                    use_pyarrow=True, datetime_as_string=True,
                                    **open_options) as (meta, reader):
                geometry = meta["geometry_name"] or "wkb_geometry"
                for batch in reader:
                    yield _chunk(batch, geometry, options)
        except (DataSourceError, DataLayerError) as exc:
            raise SourceError(f"{spec.name}: cannot read {path} as a vector file: {exc}") from exc


def _chunk(batch, geometry: str, options: GeofileOptions) -> pd.DataFrame:
    names = [n for n in batch.schema.names if n != geometry]
    frame = pd.DataFrame({n: [text_value(v) for v in batch.column(n).to_pylist()] for n in names},
                         dtype=object)
    if geometry in batch.schema.names:
        geoms = shapely.from_wkb(batch.column(geometry).to_numpy(zero_copy_only=False))
        points = shapely.point_on_surface(geoms)
        frame[options.x_field] = [text_value(v) for v in shapely.get_x(points).tolist()]
        frame[options.y_field] = [text_value(v) for v in shapely.get_y(points).tolist()]
    return frame
