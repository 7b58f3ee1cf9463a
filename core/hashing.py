"""Fast 128-bit content hashes of DataFrame rows (two salted 64-bit SipHash passes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Between a row's values, and in place of a missing one: control characters that text fields
# do not hold, so that ("a", None) and ("a", "") and ("a\x1f", "") hash apart.
_SEPARATOR = "\x1f"
_MISSING = "\x00"


def row_hashes(frame: pd.DataFrame, salt: str) -> pd.Series:
    """32-hex-digit hash per row of the frame's values as text; salt separates uses.

    The row's values are joined into one string in Arrow and each string is hashed once per
    half, rather than hashing every column and combining (twice as slow, mostly in turning
    each column into pandas strings).
    """
    if frame.empty:
        return pd.Series([], index=frame.index, dtype="string")
    columns = [_text_column(frame[name]) for name in frame.columns]
    joined = pc.binary_join_element_wise(*columns, _SEPARATOR, null_handling="replace",
                                         null_replacement=_MISSING)
    rows = joined.to_numpy(zero_copy_only=False)
    # hash_key must be 16 characters: pad or cut the salt to fit.
    halves = [pd.util.hash_array(rows, hash_key=(salt + half + "0" * 16)[:16], categorize=False)
              for half in (":hi", ":lo")]
    digests = np.column_stack(halves).astype(">u8").tobytes().hex()
    hexes = np.frombuffer(digests.encode("ascii"), dtype="S32").astype("U32")
    return pd.Series(hexes, index=frame.index, dtype="string")


def _text_column(values: pd.Series) -> pa.Array:
    """A column as Arrow text, missing values as nulls; values Arrow cannot type as pandas
    writes them."""
    try:
        array = pa.array(values, from_pandas=True)
        return array if pa.types.is_string(array.type) else array.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.array(values.astype("string"), pa.string())
