"""Garbled text (mojibake), detected over a whole column at once.

Two ways Chinese text gets garbled in agency exports: UTF-8 bytes read as Latin-1 / cp1252
("å…¬å›­"), and UTF-8 bytes read as GBK, which yields runs of rare characters outside
GB2312. A cheap vectorised scan finds the few values holding any suspicious character; only
those get the exact per-value test.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

_CJK = (0x4E00, 0xA000)
_MIDDLE_DOT = 0x00B7  # "·" separates the parts of transliterated names: not a sign of mojibake
_MIN_CJK = 4
_MAX_RARE_SHARE = 0.3


def looks_garbled(text: str) -> bool:
    """Mojibake: UTF-8 read as Latin-1 (Ã, å…) or as GBK (runs of rare characters)."""
    if any("\u0080" <= ch <= "\u00ff" and ord(ch) != _MIDDLE_DOT for ch in text):
        return True
    cjk = [ch for ch in text if _CJK[0] <= ord(ch) < _CJK[1]]
    if len(cjk) < _MIN_CJK:
        return False
    rare = sum(1 for ch in cjk if _suspect_table()[ord(ch)])
    return rare / len(cjk) > _MAX_RARE_SHARE


def garbled_mask(values: pd.Series) -> np.ndarray:
    """looks_garbled for every value of a text column (False for nulls), vectorised."""
    text = values.astype("string").fillna("")
    lengths = text.str.len().to_numpy(dtype=np.int64)
    codes = np.frombuffer("".join(text.tolist()).encode("utf-32-le"), dtype=np.uint32)
    out = np.zeros(len(text), dtype=bool)
    suspect_at = np.flatnonzero(_suspect_table()[np.minimum(codes, 0xFFFF)] & (codes <= 0xFFFF))
    if len(suspect_at) == 0:
        return out
    owners = np.unique(np.searchsorted(np.cumsum(lengths), suspect_at, side="right"))
    out[owners] = [looks_garbled(v) for v in text.iloc[owners].tolist()]
    return out


@cache
def _suspect_table() -> np.ndarray:
    """True for every BMP character that mojibake produces: Latin-1 range, CJK outside GB2312."""
    table = np.zeros(0x10000, dtype=bool)
    table[0x80:0x100] = True
    table[_MIDDLE_DOT] = False
    for code in range(*_CJK):
        try:
            chr(code).encode("gb2312")
        except UnicodeEncodeError:
            table[code] = True
    return table
