"""Per-source expectations and thresholds, as declared in the `quality:` section of a source YAML.

    quality:
      start: 2024-11-01            # reported_at may not be earlier
      future_horizon: P1D          # reported / occurred / closed later than the run + 1 day are refused
      required: [address]          # canonical fields this source must always fill
      max_quarantine_rate: 0.05    # stop the run when more of its rows fail
      volume: {min_ratio: 0.2, max_ratio: 5.0, history_runs: 7, min_history: 3}
      freshness: {max_age_hours: 48}
      schema: {on_new: stop, on_missing: stop}
      expectations:                # any GX expectation, by its snake_case name
        - expect: expect_column_values_to_match_regex
          column: source_record_id
          regex: "^RX\\d{9}$"
          message: work order number is not RX followed by nine digits

Every part is optional; a source without the section gets the canonical suite and defaults.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.spec import SourceSpec
from core.case import CASE_COLUMNS
from core.errors import ConfigError


class QualityConfigError(ConfigError):
    """A source's `quality:` section is malformed."""


class VolumeGate(BaseModel):
    """Stop a run whose record count falls far below, or rises far above, the recent median."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    history_runs: int = Field(7, ge=1, description="recent succeeded runs the median is taken over")
    min_history: int = Field(3, ge=1, description="runs needed before the gate judges at all")
    min_ratio: float = Field(0.2, gt=0, lt=1, description="below median x this is a drop")
    max_ratio: float = Field(5.0, gt=1, description="above median x this is a spike")


class FreshnessGate(BaseModel):
    """Stop a run whose newest record is older than max_age_hours (off unless set)."""

    model_config = ConfigDict(extra="forbid")
    max_age_hours: float | None = Field(None, gt=0)


class SchemaGate(BaseModel):
    """What to do when the source's columns differ from its last successful run's."""

    model_config = ConfigDict(extra="forbid")
    on_new: Literal["stop", "warn"] = "stop"
    on_missing: Literal["stop", "warn"] = "stop"
    columns: list[str] | None = Field(None, description="expected columns; default: the last run's")


class SourceExpectation(BaseModel):
    """One extra GX expectation for this source: its name, its arguments, and a message."""

    model_config = ConfigDict(extra="allow")
    expect: str = Field(pattern=r"^expect_[a-z0-9_]+$")
    message: str
    action: Literal["quarantine", "warn"] = "quarantine"
    key: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$")

    @property
    def kwargs(self) -> dict[str, Any]:
        """The expectation's own arguments (everything not consumed above)."""
        return dict(self.model_extra or {})


class QualityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: date | None = Field(None, description="first day the source can report")
    future_horizon: timedelta = Field(
        timedelta(minutes=10), ge=timedelta(0),
        description="how far past the run's clock a reported, occurred or closed time may lie"
                    " (ISO 8601: PT10M, P1D; or seconds); later ones are quarantined")
    required: list[str] = Field(default_factory=list)
    max_quarantine_rate: float = Field(0.10, ge=0, le=1)
    volume: VolumeGate = Field(default_factory=VolumeGate)
    freshness: FreshnessGate = Field(default_factory=FreshnessGate)
    schema_gate: SchemaGate = Field(default_factory=SchemaGate, alias="schema")
    expectations: list[SourceExpectation] = Field(default_factory=list)

    @field_validator("required")
    @classmethod
    def _canonical(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(CASE_COLUMNS))
        if unknown:
            raise ValueError(f"not canonical case fields: {unknown}")
        return value


def quality_config(spec: SourceSpec | None) -> QualityConfig:
    """The spec's quality section, validated; defaults when it has none."""
    raw = getattr(spec, "quality", None) if spec is not None else None
    try:
        return QualityConfig.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(f"quality.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise QualityConfigError(f"source {spec.name!r}: {problems}") from exc
