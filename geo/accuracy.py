"""How often the cascade puts a record in its true area, measured against known truth.

The demo generator keeps, for every record it writes into an agency feed, the grid,
community, street and district where the case really happened. Joining the stored
assignments to that truth on (source, source_record_id) gives, per geocoding method and per
kind of input the record had, the share placed in the true grid, community, street and
district (a feed that names only districts can at best be right at district level).

Some written addresses can be placed by no one: without its district, a compound name that
several districts share names a place in each; a typo can turn one name into another's. The
truth marks them (address_ambiguous), so each group also reports how many it holds and the
share in the true community of the others, the records that can be told apart.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd

TRUTH_COLUMNS = ["feed", "source_record_id", "grid_code", "community_code", "street_code", "district_code",
                 "address_ambiguous"]
LEVELS = ("grid", "community", "street", "district")
# A stored case as the report judges it (store.geocoding.read_assignments): where the cascade
# placed it, and which inputs it had (has_*: booleans).
ASSIGNED_COLUMNS = (
    "source", "source_record_id", "geocode_method", "geocode_precision", "grid_code",
    "community_code", "street_code", "district_code", "has_xy", "has_grid_code", "has_address",
    "has_area_name")


class InputKind(StrEnum):
    """What a record offered the cascade, whatever step finally placed it."""

    COORDINATES = "coordinates"
    GRID_CODE_ONLY = "grid_code_only"
    ADDRESS_ONLY = "address_only"
    AREA_NAME_ONLY = "area_name_only"
    NOTHING = "nothing"


def input_kind(assigned: pd.DataFrame) -> np.ndarray:
    """The InputKind of each stored case."""
    return np.select(
        [assigned["has_xy"], assigned["has_grid_code"], assigned["has_address"], assigned["has_area_name"]],
        [InputKind.COORDINATES.value, InputKind.GRID_CODE_ONLY.value, InputKind.ADDRESS_ONLY.value,
         InputKind.AREA_NAME_ONLY.value], default=InputKind.NOTHING.value)


def compare(assigned: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """One row per case found in the truth: its method, input kind and in_<level> flags."""
    truth = truth.dropna(subset=["source_record_id"]).rename(columns={"feed": "source"})
    joined = assigned.merge(truth[["source", "source_record_id", "address_ambiguous",
                                   *[f"{lv}_code" for lv in LEVELS]]],
                            on=["source", "source_record_id"], suffixes=("", "_true"), how="inner")
    joined["input"] = input_kind(joined)
    for level in LEVELS:
        joined[f"in_{level}"] = (joined[f"{level}_code"] == joined[f"{level}_code_true"]).fillna(False)
    joined["in_community_unambiguous"] = joined["in_community"].astype(float).where(~joined["address_ambiguous"])
    return joined


def summarise(joined: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
    """Records and the share in the true grid, community and street, per group; how many of
    them the truth says no one can place (ambiguous), and the share of the others in the true
    community."""
    out = joined.groupby(by).agg(records=("source_record_id", "size"),
                                 **{f"true_{level}": (f"in_{level}", "mean") for level in LEVELS},
                                 ambiguous=("address_ambiguous", "sum"),
                                 true_community_unambiguous=("in_community_unambiguous", "mean"))
    return out.reset_index()


def accuracy_report(assigned: pd.DataFrame, truth: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Shares in the true areas by method, by input kind, and by source and method."""
    joined = compare(assigned, truth)
    return {
        "method": summarise(joined, "geocode_method"),
        "input": summarise(joined, "input"),
        "source": summarise(joined, ["source", "geocode_method"]),
    }


# The levels the done-when of the geo issue asks for: (input kind, level) -> minimum share.
# The true community is asked of the address-only records that can be told apart; the others,
# whose written address truly names several places, are counted (ambiguous).
TARGETS = {
    (InputKind.COORDINATES, "grid"): 0.999,
    (InputKind.ADDRESS_ONLY, "community_unambiguous"): 0.995,
    (InputKind.ADDRESS_ONLY, "grid"): 0.85,
}


def missed_targets(by_input: pd.DataFrame) -> list[str]:
    """The TARGETS that a by-input summary does not reach, in words (inputs absent are skipped)."""
    missed = []
    shares = by_input.set_index("input")
    for (kind, level), minimum in TARGETS.items():
        if kind.value in shares.index and shares.at[kind.value, f"true_{level}"] < minimum:
            missed.append(f"{kind.value}: {shares.at[kind.value, f'true_{level}']:.4f} in the true"
                          f" {level}, below {minimum}")
    return missed
