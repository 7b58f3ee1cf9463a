"""CQL2 text filters (OGC API Features Part 3) turned into a parameterised SQL condition.

What is understood: comparisons (= <> < <= > >=), AND / OR / NOT and parentheses, LIKE,
IN (...), BETWEEN, IS [NOT] NULL, and S_INTERSECTS between the geometry and a literal
(BBOX(...) or any WKT geometry: POINT, LINESTRING, POLYGON, MULTI..., GEOMETRYCOLLECTION).
Properties are checked against the collection's queryables and literals against their
types, so that a wrong filter answers 400 with a reason instead of a database error.
Values always go in as named parameters (`cql_0`, `cql_1`, ...).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

import shapely
from psycopg import sql

from api.errors import BadParameterError

GEOMETRY = "geometry"  # the name filters give the features' geometry
_GEOMETRY_WORDS = ("POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON",
                   "GEOMETRYCOLLECTION")
_TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^']|'')*')
  | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<op><>|<=|>=|=|<|>|\(|\)|,)
  | (?P<quoted>"[^"]+")
  | (?P<word>[A-Za-z_][A-Za-z0-9_:.]*)
)""", re.VERBOSE)
_RESERVED = {"AND", "OR", "NOT", "LIKE", "IN", "BETWEEN", "IS", "NULL", "TRUE", "FALSE", "DATE", "TIMESTAMP"}
MAX_LENGTH = 20_000  # characters of a filter
MAX_DEPTH = 64  # nested parentheses and NOTs: deeper is no real filter, and would exhaust the stack
_COMPARISONS = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class Type(StrEnum):
    """The type of a queryable, as its JSON schema states it."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    DATE = "date"
    TIMESTAMP = "timestamp"


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    at: int


def _bad(message: str) -> BadParameterError:
    return BadParameterError("filter", message)


def _tokens(text: str) -> list[_Token]:
    out, at = [], 0
    text = text.rstrip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise _bad(f"cannot read the filter at character {at + 1}: {text[at:at + 20]!r}")
        kind = match.lastgroup
        out.append(_Token(kind, match.group(kind), match.start(kind)))
        at = match.end()
    return out


class _Parser:
    """Recursive descent over the tokens; each rule returns an SQL composable."""

    def __init__(self, text: str, columns: Mapping[str, tuple[sql.Composable, Type]],
                 geometry: sql.Composable | None, params: dict):
        self.tokens = _tokens(text)
        self.pos = 0
        self.columns = columns
        self.geometry = geometry
        self.params = params
        self.depth = 0

    # -- tokens ---------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> _Token | None:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else None

    def word(self, offset: int = 0) -> str | None:
        token = self.peek(offset)
        return token.text.upper() if token is not None and token.kind == "word" else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise _bad("the filter ends too early")
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text.upper() != text:
            raise _bad(f"expected {text!r} at character {token.at + 1}, found {token.text!r}")

    def accept_word(self, word: str) -> bool:
        if self.word() == word:
            self.pos += 1
            return True
        return False

    def param(self, value: object) -> sql.Composable:
        name = f"cql_{len(self.params)}"
        self.params[name] = value
        return sql.Placeholder(name)

    # -- boolean structure ------------------------------------------------------------------
    def parse(self) -> sql.Composable:
        condition = self.disjunction()
        if self.peek() is not None:
            token = self.peek()
            raise _bad(f"unexpected {token.text!r} at character {token.at + 1}")
        return condition

    def disjunction(self) -> sql.Composable:
        parts = [self.conjunction()]
        while self.accept_word("OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else sql.SQL("({})").format(sql.SQL(" OR ").join(parts))

    def conjunction(self) -> sql.Composable:
        parts = [self.negation()]
        while self.accept_word("AND"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else sql.SQL("({})").format(sql.SQL(" AND ").join(parts))

    def negation(self) -> sql.Composable:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _bad(f"the filter nests deeper than {MAX_DEPTH} levels")
        try:
            if self.accept_word("NOT"):
                return sql.SQL("(NOT {})").format(self.negation())
            token = self.peek()
            if token is not None and token.text == "(":
                self.take()
                inner = self.disjunction()
                self.expect(")")
                return inner
            return self.predicate()
        finally:
            self.depth -= 1

    # -- predicates -------------------------------------------------------------------------
    def predicate(self) -> sql.Composable:
        if self.word() in ("S_INTERSECTS", "INTERSECTS") and (self.peek(1) and self.peek(1).text == "("):
            return self.spatial()
        left, kind = self.operand()
        token = self.peek()
        if token is None:
            raise _bad("a filter must compare something (e.g. kind = 'dispute')")
        if token.text in _COMPARISONS:
            self.take()
            right = self.scalar_for(kind)
            return sql.SQL("{} {} {}").format(left, sql.SQL(_COMPARISONS[token.text]), right)
        negated = self.accept_word("NOT")
        if self.accept_word("LIKE"):
            if kind is not Type.STRING:
                raise _bad("LIKE needs a text property")
            pattern = self.scalar_for(Type.STRING)
            return sql.SQL("{} {}LIKE {}").format(left, sql.SQL("NOT " if negated else ""), pattern)
        if self.accept_word("IN"):
            self.expect("(")
            values = [self.scalar_for(kind)]
            while self.peek() is not None and self.peek().text == ",":
                self.take()
                values.append(self.scalar_for(kind))
            self.expect(")")
            return sql.SQL("{} {}IN ({})").format(left, sql.SQL("NOT " if negated else ""),
                                                   sql.SQL(", ").join(values))
        if self.accept_word("BETWEEN"):
            lo = self.scalar_for(kind)
            self.expect("AND")
            hi = self.scalar_for(kind)
            return sql.SQL("{} {}BETWEEN {} AND {}").format(left, sql.SQL("NOT " if negated else ""), lo, hi)
        if not negated and self.accept_word("IS"):
            negated = self.accept_word("NOT")
            self.expect("NULL")
            return sql.SQL("{} IS {}NULL").format(left, sql.SQL("NOT " if negated else ""))
        raise _bad(f"expected a comparison, LIKE, IN, BETWEEN or IS NULL at character {token.at + 1},"
                   f" found {token.text!r}")

    def operand(self) -> tuple[sql.Composable, Type]:
        """A property (the left side of a predicate)."""
        token = self.take()
        if token.kind not in ("word", "quoted") or token.text.upper() in _RESERVED:
            raise _bad(f"expected a property name at character {token.at + 1}, found {token.text!r}"
                       " (write the property first: kind = 'dispute')")
        name = token.text.strip('"')
        if name not in self.columns:
            raise _bad(f"unknown property {name!r} (queryables: {', '.join(sorted(self.columns))})")
        return self.columns[name]

    def scalar_for(self, kind: Type) -> sql.Composable:
        """A literal of the property's type, as a parameter."""
        token = self.take()
        word = token.text.upper() if token.kind == "word" else None
        if word in ("DATE", "TIMESTAMP"):
            self.expect("(")
            inner = self.take()
            self.expect(")")
            if inner.kind != "string":
                raise _bad(f"{word}(...) takes a quoted value")
            return self.param(_temporal(inner.text[1:-1].replace("''", "'"), kind))
        if token.kind == "string":
            text = token.text[1:-1].replace("''", "'")
            if kind in (Type.DATE, Type.TIMESTAMP):
                return self.param(_temporal(text, kind))
            if kind is not Type.STRING:
                raise _bad(f"{token.text} is text; the property is a {kind.value}")
            return self.param(text)
        if token.kind == "number":
            if kind not in (Type.INTEGER, Type.NUMBER):
                raise _bad(f"{token.text} is a number; the property is a {kind.value}"
                           " (quote text values: '...')")
            value = float(token.text)
            return self.param(int(value) if value.is_integer() and kind is Type.INTEGER else value)
        if token.kind in ("word", "quoted") and token.text.strip('"') in self.columns:
            other, other_kind = self.columns[token.text.strip('"')]
            if _family(other_kind) != _family(kind):
                raise _bad(f"cannot compare a {kind.value} with {token.text} (a {other_kind.value})")
            return other
        raise _bad(f"expected a value at character {token.at + 1}, found {token.text!r}")

    # -- spatial ----------------------------------------------------------------------------
    def spatial(self) -> sql.Composable:
        self.take()
        self.expect("(")
        first = self.geometry_operand()
        self.expect(",")
        second = self.geometry_operand()
        self.expect(")")
        if (first is None) == (second is None):
            raise _bad("S_INTERSECTS compares the geometry with one literal: S_INTERSECTS(geometry, BBOX(...))")
        literal = first if second is None else second
        if self.geometry is None:
            raise _bad("this collection has no geometry to filter on")
        return sql.SQL("ST_Intersects({}, {})").format(self.geometry, literal)

    def geometry_operand(self) -> sql.Composable | None:
        """None for the geometry property, else the literal as SQL."""
        token = self.peek()
        if token is not None and token.kind in ("word", "quoted") and token.text.strip('"').lower() == GEOMETRY:
            self.take()
            return None
        word = self.word()
        if word == "BBOX":
            self.take()
            self.expect("(")
            numbers = [self.number()]
            while self.peek() is not None and self.peek().text == ",":
                self.take()
                numbers.append(self.number())
            self.expect(")")
            if len(numbers) == 6:  # 3D: the heights do not matter on the ground
                numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
            if len(numbers) != 4:
                raise _bad("BBOX takes four numbers: west, south, east, north")
            west, south, east, north = numbers
            if not (west <= east and south <= north):
                raise _bad("BBOX needs west <= east and south <= north")
            names = [self.param(v) for v in numbers]
            return sql.SQL("ST_MakeEnvelope({}, {}, {}, {}, 4326)").format(*names)
        if word in _GEOMETRY_WORDS:
            return sql.SQL("ST_MakeValid(ST_GeomFromText({}, 4326))").format(self.param(self.wkt()))
        where = f" at character {token.at + 1}" if token else ""
        raise _bad(f"expected the geometry property or a geometry literal (BBOX, POINT, POLYGON, ...){where}")

    def number(self) -> float:
        token = self.take()
        if token.kind != "number":
            raise _bad(f"expected a number at character {token.at + 1}, found {token.text!r}")
        return float(token.text)

    def wkt(self) -> str:
        """The tokens of a WKT literal (its keyword and balanced parentheses), checked by shapely."""
        start = self.take()
        depth, parts = 0, [start.text.upper()]
        while True:
            token = self.take()
            parts.append(token.text.upper() if token.kind == "word" else token.text)
            if token.text == "(":
                depth += 1
            elif token.text == ")":
                depth -= 1
                if depth == 0:
                    break
            elif depth == 0:
                raise _bad(f"{start.text.upper()} needs its coordinates in parentheses")
        text = " ".join(parts)
        try:
            geometry = shapely.from_wkt(text)
        except shapely.errors.ShapelyError as exc:
            raise _bad(f"not a valid {start.text.upper()}: {' '.join(str(exc).split())}") from exc
        return geometry.wkt


def _family(kind: Type) -> str:
    return {Type.INTEGER: "number", Type.NUMBER: "number", Type.TIMESTAMP: "date"}.get(kind, kind.value)


def _temporal(text: str, kind: Type) -> date | datetime:
    parse: Callable[[str], date | datetime] = date.fromisoformat if kind is Type.DATE else datetime.fromisoformat
    if kind not in (Type.DATE, Type.TIMESTAMP):
        raise _bad(f"{text!r} is a date; the property is a {kind.value}")
    try:
        value = parse(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _bad(f"{text!r} is not an ISO 8601 {kind.value}") from exc
    if isinstance(value, datetime) and value.tzinfo is None:
        raise _bad(f"{text!r} needs a time zone (e.g. 2025-06-01T00:00:00Z)")
    return value


def _check_size(text: str) -> None:
    if not text.strip():
        raise _bad("the filter is empty")
    if len(text) > MAX_LENGTH:
        raise _bad(f"the filter is longer than {MAX_LENGTH} characters")


def cql2_condition(text: str, columns: Mapping[str, tuple[sql.Composable, Type]],
                   geometry: sql.Composable | None, params: dict) -> sql.Composable:
    """The SQL condition of a CQL2 text filter over `columns` (queryable name -> expression and
    type) and `geometry`; its values are added to `params`. Raises BadParameterError (400)."""
    _check_size(text)
    return _Parser(text, columns, geometry, params).parse()


def names_in(text: str) -> set[str]:
    """Every name a CQL2 text filter could read as a property (its keywords too, so a superset):
    which columns it may need, known before it is parsed against them."""
    _check_size(text)
    return {t.text.strip('"') for t in _tokens(text) if t.kind in ("word", "quoted")}
