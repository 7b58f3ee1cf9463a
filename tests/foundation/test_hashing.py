"""Row content hashes: equal rows hash equal, and rows that differ in any way hash apart."""

import pandas as pd

from core.hashing import row_hashes


def test_rows_differing_only_in_missing_empty_or_separator_values_hash_apart():
    frame = pd.DataFrame({"a": ["x", "x", "x\x1f", "x", None],
                          "b": ["", None, "", "y", "x"]})
    hashes = row_hashes(frame, "raw")
    assert hashes.str.fullmatch(r"[0-9a-f]{32}").all()
    assert hashes.nunique() == len(frame)


def test_the_same_values_hash_the_same_in_any_frame_and_a_salt_separates_uses():
    first = pd.DataFrame({"id": ["A1", "A2"], "n": [1, 2]}, index=[10, 11])
    later = pd.DataFrame({"id": ["A2", "A1"], "n": ["2", "1"]}, index=[0, 1])
    assert row_hashes(first, "raw").tolist() == row_hashes(later, "raw").tolist()[::-1]
    assert row_hashes(first, "raw").index.tolist() == [10, 11]
    assert not set(row_hashes(first, "raw")) & set(row_hashes(first, "record"))
    assert row_hashes(first.iloc[:0], "raw").empty
