"""The signals watched in every area: daily counts by kind and by category group.

A signal is a filter on the rollup rows (kind = K, or category in a group). Category groups
follow the lines along which city offices divide the work, so one office owns each signal.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.case import CaseKind, Category

CATEGORY_GROUPS: dict[str, tuple[Category, ...]] = {
    "labour": (Category.LABOUR,),
    "neighbourhood": (Category.NEIGHBOURHOOD, Category.FAMILY),  # civil disputes (民间纠纷)
    "property": (Category.PROPERTY_MANAGEMENT, Category.REAL_ESTATE),
    "construction": (Category.LAND_CONSTRUCTION, Category.ENVIRONMENT),
    "safety": (Category.PUBLIC_SECURITY, Category.TRAFFIC),
    "livelihood": (Category.CONSUMER, Category.MEDICAL, Category.OTHER),
}
_GROUP_OF = {category: group for group, members in CATEGORY_GROUPS.items() for category in members}


@dataclass(frozen=True)
class Signal:
    """One watched count: 'kind:<kind>' or 'group:<category group>'."""

    name: str
    kind: CaseKind | None = None
    categories: tuple[Category, ...] = ()

    def __str__(self) -> str:
        return self.name


def kind_signal(kind: CaseKind | str) -> Signal:
    kind = CaseKind(kind)
    return Signal(f"kind:{kind.value}", kind=kind)


def group_signal(group: str) -> Signal:
    if group not in CATEGORY_GROUPS:
        raise ValueError(f"unknown category group {group!r}; known: {sorted(CATEGORY_GROUPS)}")
    return Signal(f"group:{group}", categories=CATEGORY_GROUPS[group])


def signal_of_category(category: Category | str) -> Signal:
    """The group signal that counts cases of this category."""
    return group_signal(_GROUP_OF[Category(category)])


def all_signals() -> list[Signal]:
    """Every signal, kinds first, in a stable order."""
    return [kind_signal(k) for k in CaseKind] + [group_signal(g) for g in CATEGORY_GROUPS]


def signal_named(name: str) -> Signal:
    for signal in all_signals():
        if signal.name == name:
            return signal
    raise ValueError(f"unknown signal {name!r}")
