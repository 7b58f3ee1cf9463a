"""Masking of values shown to users that could lead to a person's door: the house, unit and room
numbers of addresses, in case rows and in the failing examples of validation runs alike (the
API's answers and the Data Docs pages use these same functions)."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\d")

# Canonical columns whose failing values say nothing about a person (codes, times, numbers):
# their examples are shown as they are. Any other column's (addresses, record ids, a source's
# own fields) are masked as case rows mask addresses.
CLEAR_COLUMNS = frozenset({"kind", "category", "status", "outcome", "reported_at", "occurred_at",
                           "closed_at", "severity", "parties", "amount"})


def mask_address(address: str | None) -> str | None:
    """House and room numbers hidden: every digit becomes '*'."""
    return _DIGITS.sub("*", address) if address else address


def masked_examples(expectation: dict) -> list:
    """An expectation entry's failing examples (quality records' shape), masked unless every
    column it reads is in the clear."""
    examples = expectation.get("examples") or []
    if set(expectation.get("columns") or ["?"]) <= CLEAR_COLUMNS:
        return examples
    return [mask_address(str(v)) if v is not None else None for v in examples]
