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


def test_the_two_halves_differ_for_a_salt_of_any_length():
    frame = pd.DataFrame({"id": ["A1", "A2", None], "text": ["你好", "", "x"]})
    for salts in (["s" * n for n in range(1, 65)], [("salt_" * 13)[:n] for n in range(1, 65)],
                  ["医" * n for n in range(1, 65)]):
        for salt in salts:
            hashes = row_hashes(frame, salt)
            assert (hashes.str[:16] != hashes.str[16:]).all(), salt


def test_long_salts_that_share_a_beginning_still_separate_uses():
    frame = pd.DataFrame({"id": ["A1", "A2"]})
    first = row_hashes(frame, "cases_of_the_hotline")
    assert not set(first) & set(row_hashes(frame, "cases_of_the_police"))
    assert not set(first) & set(row_hashes(frame, "cases_of_the_hotline_2"))


def test_the_salts_in_use_keep_the_hashes_already_stored():
    # raw_records is unique on (source, content_hash) and a case whose record_hash changes is
    # rewritten: the same rows must hash as they did when they were first loaded.
    frame = pd.DataFrame({"id": ["A1", "A2"], "n": [1, 2], "x": ["你好", None]})
    assert row_hashes(frame, "raw").tolist() == ["80ad673b104e995417bc1d111f831c6b",
                                                 "9c2ad81773bcf6940449ad5b5aa9f165"]
    assert row_hashes(frame, "record").tolist() == ["91875ad5af0a9b2dbcc5808616a9db7f",
                                                    "2add33c979beada6175bfe1d5700d4ce"]
