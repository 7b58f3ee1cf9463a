"""Time-zone names as settings, profiles and source specs take them: IANA names, checked once."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator


def known_zone(value: str) -> str:
    """The name itself when the IANA database knows it; a one-line ValueError otherwise."""
    try:
        ZoneInfo(value)
    except (KeyError, ValueError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai"
                         " or America/Chicago)") from exc
    return value


TimeZoneName = Annotated[str, AfterValidator(known_zone)]
