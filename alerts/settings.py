"""Early warning's settings that a city chooses, read from the environment (prefix
GRIDHUB_ALERTS_) until the city profile holds them; entry points build them and pass them in."""

from __future__ import annotations

from dataclasses import replace

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alerts.budget import BudgetSettings
from alerts.run import WarnSettings
from core.case import AreaLevel
from core.errors import ConfigError


def _one_per_level() -> dict[str, float]:
    return {level.value: 1.0 for level in AreaLevel}


class AlertSettings(BaseSettings):
    """The false-alert budget per level, e.g. GRIDHUB_ALERTS_FALSE_ALERTS_PER_100_AREA_WEEKS='{"grid": 0.5}'."""

    model_config = SettingsConfigDict(env_prefix="GRIDHUB_ALERTS_", extra="ignore")

    false_alerts_per_100_area_weeks: dict[str, float] = Field(
        default_factory=_one_per_level,
        description="false alerts allowed per 100 area-weeks, by level (levels not named: 1)")

    @field_validator("false_alerts_per_100_area_weeks")
    @classmethod
    def _known_levels(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - {level.value for level in AreaLevel})
        if unknown:
            raise ValueError(f"unknown levels {unknown}; known: {[lv.value for lv in AreaLevel]}")
        if any(rate <= 0 for rate in value.values()):
            raise ValueError("every budget must be above 0 false alerts per 100 area-weeks")
        return {**_one_per_level(), **value}

    @classmethod
    def from_env(cls) -> AlertSettings:
        """The settings from the environment; a bad value is a one-line ConfigError."""
        try:
            return cls()
        except ValidationError as exc:
            problems = "; ".join(f"GRIDHUB_ALERTS_{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"invalid setting ({problems})") from exc

    def warn_settings(self, base: WarnSettings = WarnSettings()) -> WarnSettings:
        """`base` with this budget."""
        budget = replace(base.detectors.budget or BudgetSettings(),
                         false_per_100_area_weeks=dict(self.false_alerts_per_100_area_weeks))
        return replace(base, detectors=replace(base.detectors, budget=budget))
