"""API settings (prefix GRIDHUB_API_)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDHUB_API_", extra="ignore")

    pool_min_size: int = Field(2, ge=1)
    pool_max_size: int = Field(16, ge=1)
    statement_timeout_ms: int = Field(15_000, ge=100)
