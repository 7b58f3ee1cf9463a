"""Mapping source records to the canonical case, vectorised per field.

A value that cannot be parsed or mapped becomes null and leaves a problem in words
("reported_at: cannot parse '2025-13-45'"); quality turns problems into quarantine reasons.

Local times at a daylight-saving change follow one rule, the one Python's own clock follows
(PEP 495, fold=0): a wall time that happens twice (clocks set back) is its first, earlier
occurrence; a wall time that never happens (clocks set forward) is read with the offset in
force before the change, i.e. moved forward by the gap, as an unchanged wall clock would read
(02:30 on the spring-forward night in Chicago is 03:30 daylight time). Such rows are loaded,
not quarantined; each keeps a note in its attributes (`clock_change`: field -> "ambiguous" or
"missing") that the run's quality record counts (clock_change_counts).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.readers import POSITION
from connectors.readers.base import READ_PROBLEM
from connectors.spec import FieldMap, PiiHandling, SourceSpec
from core.case import CASE_COLUMNS, conform
from core.hashing import row_hashes
from core.profile import Taxonomy

_CHINESE_DATE = re.compile(
    r"(\d{4})年(\d{1,2})月(\d{1,2})日\s*(?:(\d{1,2})[时点:](\d{1,2})分?(?:(\d{1,2})秒)?)?")
# After NFKC: thousands separators, spaces, currency (RE2 syntax, for Arrow's kernel).
_NUMBER_JUNK = r"[,\s\p{Z}]|RMB|CNY|¥|\$"
_NUMBER = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(\D*)$")
_HAS_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
# Suffixes understood in every number field; a spec's `units` add to or override them.
DEFAULT_UNITS = {"": 1.0, "元": 1.0, "万元": 1e4, "万": 1e4, "亿元": 1e8, "人": 1.0, "个": 1.0}
# The field a reader's problem is filed under ("record: line 7 of a.jsonl is not JSON: ...").
UNREADABLE = "record"
_HASHED_FIELDS = [c for c in CASE_COLUMNS if c not in ("record_hash", "raw_id", "attributes")]


@dataclass
class MappedChunk:
    """Canonical rows (index aligned with the raw chunk) and the problems found per row."""

    cases: pd.DataFrame
    problems: pd.Series  # list[str] per row, empty when clean
    # "field: source value" -> rows that no value map covered and took the taxonomy's default
    defaulted: dict[str, int] = field(default_factory=dict)


def map_chunk(spec: SourceSpec, raw: pd.DataFrame, hash_key: bytes, city_tz: str,
              city_code: str, taxonomy: Taxonomy | None = None) -> MappedChunk:
    """Map one chunk of raw source records to canonical cases.

    With a taxonomy whose unmapped_category is "default", a category value no map covers
    (or none at all) becomes the default category and is counted, instead of a problem.
    """
    problems = pd.Series([[] for _ in range(len(raw))], index=raw.index, dtype=object)
    _note_unreadable(raw, problems)
    raw = _without_oversized(raw, spec, problems)
    defaulted: dict[str, int] = {}
    clock: dict[Hashable, dict[str, str]] = {}  # row -> field -> how its local time was resolved
    out: dict[str, pd.Series] = {}
    for name, fmap in spec.fields.items():
        values = _source_values(fmap, raw)
        if fmap.pii is not None:
            out[name] = _protect(values, fmap.pii, hash_key)
            continue
        fallback = taxonomy.default_for(name) if taxonomy is not None else None
        if fmap.values is not None:
            values = _map_values(name, values, fmap, problems, fallback, defaulted)
        out[name] = _parse(name, values, fmap, spec, problems, clock)
    if taxonomy is not None and "category" in spec.fields:
        fallback = taxonomy.default_for("category")
        if fallback is not None:
            missing = out["category"].isna()
            if missing.any():
                defaulted["category: (none)"] = defaulted.get("category: (none)", 0) + int(missing.sum())
                out["category"] = out["category"].astype("string").fillna(fallback)
    cases = pd.DataFrame(out, index=raw.index)
    if clock:
        cases["attributes"] = _with_clock_notes(cases, clock)
    cases["source"] = spec.name
    if "kind" not in spec.fields:
        cases["kind"] = spec.kind.value
    cases["source_record_id"] = _clean_text(cases["source_record_id"])
    if "src_x" in cases and "src_crs" not in spec.fields:
        cases["src_crs"] = spec.crs
    if spec.district_scope and "district_code" not in spec.fields:
        # A feed of one district: the geocoder reads its addresses and area names there.
        cases["district_code"] = spec.district_scope
    cases["city_code"] = city_code
    cases = conform(cases)
    cases["report_day"] = cases["reported_at"].dt.tz_convert(city_tz).dt.tz_localize(None).dt.floor("D")
    cases["record_hash"] = record_hash(cases)
    return MappedChunk(cases=cases, problems=problems, defaulted=defaulted)


def record_hash(cases: pd.DataFrame) -> pd.Series:
    """Content hash of the canonical values: cosmetic source changes do not alter it."""
    values = cases[_HASHED_FIELDS].copy()
    for column in _HASHED_FIELDS:
        if values[column].dtype.kind == "M":
            # Times hash as their integer ticks (NaT as its own sentinel): formatting them as
            # text is what made hashing slow.
            values[column] = values[column].array.asi8
    return row_hashes(values, "record")


def _note_unreadable(raw: pd.DataFrame, problems: pd.Series) -> None:
    """A record its reader could not read fails with the reader's reason (quality files it
    under the check "unreadable")."""
    if READ_PROBLEM not in raw:
        return
    reasons = raw[READ_PROBLEM]
    for i in np.flatnonzero(reasons.notna().to_numpy()):
        problems.iat[i] = [*problems.iat[i], f"{UNREADABLE}: {reasons.iat[i]}"]


def _without_oversized(raw: pd.DataFrame, spec: SourceSpec, problems: pd.Series) -> pd.DataFrame:
    """The records with every mapped value longer than spec.max_field_bytes taken out (each
    such record fails with the field and its size): no step after this one handles it, and
    the raw landing keeps it whole."""
    limit = spec.max_field_bytes
    out = raw
    for name in spec.source_fields:
        if name not in raw:
            continue
        sizes = pc.binary_length(pa.array(raw[name], pa.string(), from_pandas=True))
        over = pc.fill_null(pc.greater(sizes, limit), False).to_numpy(zero_copy_only=False)
        if not over.any():
            continue
        if out is raw:
            out = raw.copy()
        for i in np.flatnonzero(over):
            problems.iat[i] = [*problems.iat[i], f"{name}: {sizes[int(i)].as_py():,} bytes, over the"
                                                 f" spec's max_field_bytes ({limit:,})"]
        out.loc[out.index[over], name] = None
    return out


def _source_values(fmap: FieldMap, raw: pd.DataFrame) -> pd.Series:
    if fmap.source is None:
        return pd.Series(fmap.const, index=raw.index, dtype=object)
    names = [fmap.source] if isinstance(fmap.source, str) else fmap.source
    missing = [n for n in names if n not in raw]
    if missing:
        # Schema drift: a mapped column is absent. Every row gets nulls and a problem.
        return pd.Series(None, index=raw.index, dtype=object)
    columns = [raw[n].astype("string").str.strip() for n in names]
    if len(columns) == 1:
        return columns[0].replace("", pd.NA)
    joined = columns[0].fillna("")
    for column in columns[1:]:
        joined = joined.str.cat(column.fillna(""), sep=fmap.join)
    return joined.str.strip().replace("", pd.NA)


def _clean_text(values: pd.Series) -> pd.Series:
    """NFKC (full-width to half-width) and trimmed; empty becomes null."""
    # Arrow's kernels, not pandas' .str.normalize, which calls Python once per value.
    text = pc.utf8_trim_whitespace(pc.utf8_normalize(pa.array(values.astype("string")), "NFKC"))
    return pd.Series(text, index=values.index, dtype="string").replace("", pd.NA)


def _map_values(field: str, values: pd.Series, fmap: FieldMap, problems: pd.Series,
                fallback: str | None = None, defaulted: dict[str, int] | None = None) -> pd.Series:
    table = {unicodedata.normalize("NFKC", k).strip(): v for k, v in (fmap.values or {}).items()}
    keys = _clean_text(values)
    # A lookup with Arrow's kernels (Series.map calls Python once per value).
    found = pc.index_in(pa.array(keys), value_set=pa.array(list(table), pa.string()))
    targets = pa.array([None if v is None else str(v) for v in table.values()], pa.string())
    mapped = pd.Series(targets.take(found), index=values.index, dtype="string")
    unknown = keys.notna().to_numpy() & found.is_null().to_numpy(zero_copy_only=False)
    if fallback is not None and unknown.any():
        # The city's taxonomy takes what no map covers as its default, counted per value.
        for value, n in keys[unknown].value_counts().items():
            label = f"{field}: {value}"
            defaulted[label] = defaulted.get(label, 0) + int(n)
        mapped = mapped.where(~unknown, fallback)
        return mapped
    for i in np.flatnonzero(unknown):
        problems.iat[i] = [*problems.iat[i], f"{field}: unknown code {keys.iat[i]!r}"]
    return mapped


def _parse(field: str, values: pd.Series, fmap: FieldMap, spec: SourceSpec,
           problems: pd.Series, clock: dict[Hashable, dict[str, str]]) -> pd.Series:
    if fmap.parse == "text":
        return _clean_text(values) if values.dtype != object or values.notna().any() else values
    text = _clean_text(values)
    if fmap.parse == "datetime":
        resolved: dict[Hashable, str] = {}
        parsed = parse_datetimes(text, fmap.formats, spec.timezone, resolved)
        for row, how in resolved.items():
            clock.setdefault(row, {})[field] = how
    else:
        parsed = parse_numbers(text, {**DEFAULT_UNITS, **fmap.units})
        if fmap.parse == "integer":
            parsed = parsed.round().astype("Int64")
    failed = text.notna() & parsed.isna()
    for i in np.flatnonzero(failed.to_numpy()):
        problems.iat[i] = [*problems.iat[i], f"{field}: cannot parse {text.iat[i]!r} as {fmap.parse}"]
    return parsed


def parse_numbers(text: pd.Series, units: dict[str, float]) -> pd.Series:
    """Numbers as agencies write them: '12,500.00元', '1.2万', '１２５００' (already NFKC)."""
    # Arrow's regex kernel, not pandas' .str.replace, which calls Python once per value.
    plain = pd.Series(pc.replace_substring_regex(pa.array(text, pa.string()), _NUMBER_JUNK, ""),
                      index=text.index, dtype="string")
    fast = pd.to_numeric(plain, errors="coerce")
    slow = plain.notna() & fast.isna()
    if slow.any():
        parts = plain[slow].str.extract(_NUMBER)
        factor = parts[1].map(units)
        fast[slow] = pd.to_numeric(parts[0], errors="coerce") * factor
    return fast.astype("float64")


def parse_datetimes(text: pd.Series, formats: list[str], tz: str,
                    resolved: dict[Hashable, str] | None = None) -> pd.Series:
    """Parse with each format in turn (strftime patterns, 'ISO8601', 'chinese', 'epoch_ms',
    'epoch_s', 'excel'); times without an offset are in the source's zone tz; result in UTC.

    Local times at a clock change follow the module's rule; `resolved` receives the index of
    each such row with "ambiguous" or "missing".
    """
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us, UTC]")
    todo = text.notna()
    for fmt in formats or ["ISO8601"]:
        if not todo.any():
            break
        part = text[todo]
        if fmt in ("epoch_ms", "epoch_s"):
            numbers = pd.to_numeric(part, errors="coerce")
            parsed = pd.to_datetime(numbers, unit=fmt[-2:].strip("_"), utc=True, errors="coerce")
        elif fmt == "excel":
            numbers = pd.to_numeric(part, errors="coerce")
            local = pd.Timestamp("1899-12-30") + pd.to_timedelta(numbers, unit="D")
            parsed = _localize(local.dt.round("s"), tz, resolved)
        else:
            if fmt == "chinese":
                part = part.str.replace(_CHINESE_DATE, _chinese_to_iso, regex=True)
                fmt = "ISO8601"
            parsed = _parse_clock_text(part, fmt, tz, resolved)
        parsed = parsed.astype("datetime64[us, UTC]")
        result[todo] = parsed
        todo = todo & result.isna()
    return result


def _parse_clock_text(part: pd.Series, fmt: str, tz: str,
                      resolved: dict[Hashable, str] | None) -> pd.Series:
    """Text with an explicit offset keeps it; text without one is local time in tz."""
    offset = part.str.contains(_HAS_OFFSET, regex=True) if fmt == "ISO8601" else None
    parsed = pd.Series(pd.NaT, index=part.index, dtype="datetime64[us, UTC]")
    naive_rows = part.index if offset is None else part.index[~offset.to_numpy(dtype=bool)]
    if len(naive_rows):
        local = pd.to_datetime(part[naive_rows], format=fmt, errors="coerce")
        if getattr(local.dt, "tz", None) is None:
            local = _localize(local, tz, resolved)
        parsed[naive_rows] = local.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    if offset is not None and offset.any():
        aware = part.index[offset.to_numpy(dtype=bool)]
        parsed[aware] = pd.to_datetime(part[aware], format=fmt, utc=True,
                                       errors="coerce").astype("datetime64[us, UTC]")
    return parsed


def _localize(naive: pd.Series, tz: str, resolved: dict[Hashable, str] | None) -> pd.Series:
    """Wall times in tz as UTC instants; those at a clock change by the module's rule."""
    local = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    changed = naive.notna() & local.isna()
    if not changed.any():
        return local
    # Rare rows, one Python call each: zoneinfo's fold=0 is exactly the rule.
    zone = ZoneInfo(tz)
    local = local.astype("datetime64[us, UTC]")
    for row, wall in naive[changed].items():
        wall = wall.to_pydatetime(warn=False)
        instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
        local.at[row] = instant
        if resolved is not None:
            back = instant.astimezone(zone).replace(tzinfo=None)
            resolved[row] = "missing" if back != wall else "ambiguous"
    return local


def _with_clock_notes(cases: pd.DataFrame, clock: dict[Hashable, dict[str, str]]) -> pd.Series:
    """The rows' attributes with `clock_change` added where a local time was resolved."""
    out = (cases["attributes"].astype(object).copy() if "attributes" in cases
           else pd.Series([None] * len(cases), index=cases.index, dtype=object))
    for row, fields in clock.items():
        have = out.at[row]
        out.at[row] = {**(have if isinstance(have, dict) else {}), "clock_change": fields}
    return out


def clock_change_counts(cases: pd.DataFrame) -> dict[str, int]:
    """How many local times of these cases were resolved at a clock change, per kind
    ("clock change: ambiguous", "clock change: missing"), for the run's quality record."""
    counts: dict[str, int] = {}
    if "attributes" in cases:
        for note in cases["attributes"].to_numpy():
            if isinstance(note, dict) and "clock_change" in note:
                for how in note["clock_change"].values():
                    key = f"clock change: {how}"
                    counts[key] = counts.get(key, 0) + 1
    return counts


def _chinese_to_iso(match: re.Match) -> str:
    year, month, day, hour, minute, second = match.groups()
    stamp = f"{year}-{int(month):02d}-{int(day):02d}"
    return f"{stamp}T{int(hour or 0):02d}:{int(minute or 0):02d}:{int(second or 0):02d}"


def _protect(values: pd.Series, how: PiiHandling, key: bytes) -> pd.Series:
    """Keyed hash (links repeat callers without exposing them) or a mask."""
    # Each distinct value once (repeat callers repeat), then spread back by position.
    codes, distinct = pd.factorize(_clean_text(values))
    if how is PiiHandling.HASH:
        keyed = hmac.new(key, digestmod=hashlib.sha256)
        protected = [_hmac_hex(keyed, v) for v in distinct]
    else:
        protected = [_mask(v) for v in distinct]
    out = pa.array(protected, pa.string()).take(pa.array(codes, mask=codes < 0))
    return pd.Series(out, index=values.index, dtype="string")


def _hmac_hex(keyed: hmac.HMAC, value: str) -> str:
    digest = keyed.copy()  # the key's pads are hashed once, not per value
    digest.update(value.encode())
    return digest.hexdigest()[:32]


def _mask(value: str) -> str:
    if len(value) <= 2:
        return value[0] + "*"
    keep = 3 if len(value) >= 7 else 1
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


__all__ = ["MappedChunk", "clock_change_counts", "map_chunk", "parse_datetimes", "parse_numbers", "record_hash", "POSITION"]
