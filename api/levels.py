"""Area levels at the API's edge: requests and answers name levels as the city profile does
(`neighborhood`, `community_area`); the stored slots (core.case.AreaLevel) stay inside.

The demo city's profile names its levels after their slots, so its API is unchanged.
"""

from __future__ import annotations

from api.errors import UnknownLevelError
from core.case import AreaLevel
from core.profile import CityProfile

LEVEL_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


def level_name(profile: CityProfile, slot: AreaLevel | str) -> str:
    """The profile's name of a stored level (the slot's own name for a slot the city leaves empty)."""
    slot = AreaLevel(slot)
    return profile.slot_names.get(slot, slot.value)


def level_slot(profile: CityProfile, name: str | None, parameter: str = "level") -> AreaLevel | None:
    """The stored slot of a level named as the profile names it; None for no name."""
    if name is None:
        return None
    for slot, own in profile.slot_names.items():
        if own == name:
            return slot
    names = ", ".join(profile.slot_names.values())
    raise UnknownLevelError(parameter, f"{name!r} is not a level of this city (one of: {names})")
