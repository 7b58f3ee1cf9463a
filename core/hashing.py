"""Fast 128-bit content hashes of DataFrame rows (two salted 64-bit SipHash passes)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Between a row's values, and in place of a missing one: control characters that text fields
# do not hold, so that ("a", None) and ("a", "") and ("a\x1f", "") hash apart.
_SEPARATOR = "\x1f"
_MISSING = "\x00"
# The longest salt that fits a 16-byte key with its half's marker (":hi", ":lo").
_PADDED_SALT_MAX = 13


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
    halves = [pd.util.hash_array(rows, hash_key=key, categorize=False) for key in _half_keys(salt)]
    digests = np.column_stack(halves).astype(">u8").tobytes().hex()
    hexes = np.frombuffer(digests.encode("ascii"), dtype="S32").astype("U32")
    return pd.Series(hexes, index=frame.index, dtype="string")


def _half_keys(salt: str) -> tuple[str, str]:
    """The two 16-byte SipHash keys of a salt, one per half: never the same two.

    A short ASCII salt keeps the key it always had, itself and the half's marker padded
    with zeros, so that the hashes already stored (raw_records.content_hash, unique per
    source, and cases.record_hash, which decides whether a merge changes a case) stay equal
    to those of the same rows hashed again. A longer salt no longer fits and used to be cut,
    the marker with it, into one key for both halves; it is now hashed, with the marker, into
    16 hex digits. Those hold no ':', which every padded key holds, so no long salt's key is
    a short salt's.
    """
    if salt.isascii() and len(salt) <= _PADDED_SALT_MAX:
        return (f"{salt}:hi".ljust(16, "0"), f"{salt}:lo".ljust(16, "0"))
    return (_derived_key(salt, b"hi"), _derived_key(salt, b"lo"))


def _derived_key(salt: str, half: bytes) -> str:
    digest = hashlib.blake2b(salt.encode(), digest_size=8, person=b"gridhub-row-" + half)
    return digest.hexdigest()


def _text_column(values: pd.Series) -> pa.Array:
    """A column as Arrow text, missing values as nulls; values Arrow cannot type as pandas
    writes them."""
    try:
        array = pa.array(values, from_pandas=True)
        return array if pa.types.is_string(array.type) else array.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pa.array(values.astype("string"), pa.string())
