"""API settings (prefix GRIDHUB_API_)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.settings import PROJECT_ROOT


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDHUB_API_", extra="ignore")

    pool_min_size: int = Field(2, ge=1)
    pool_max_size: int = Field(16, ge=1)
    statement_timeout_ms: int = Field(15_000, ge=100)
    # "off" lets requests without a key in as an admin of the whole city, and is honoured only
    # when GRIDHUB_ENV=development; anywhere else the app refuses to start with it.
    auth: str = Field("on", pattern="^(on|off)$", description="on | off (development only)")
    k_threshold: int = Field(5, ge=1, description="viewers see grid-level counts below k as null")
    key_cache_seconds: float = Field(30.0, ge=0, description="how long a looked-up key is trusted")
    cache_entries: int = Field(20_000, ge=0, description="cached answers per worker (0: none)")
    cache_bytes: int = Field(64 * 2**20, ge=0, description="bytes of cached answers per worker; an answer"
                             " above 1/16 of it is not cached")
    audit_flush_seconds: float = Field(0.5, gt=0, description="audit rows are written in batches")
    tile_max_age: int = Field(60, ge=0, description="Cache-Control max-age of tiles (seconds)")
    max_page_size: int = Field(1000, ge=1)
    # A streaming replica to read from (docs: Scaling out); DATABASE_URL still takes the writes
    # (audit rows, acknowledgements).
    read_database_url: str | None = Field(None, description="a read replica's URL (unset: DATABASE_URL)")
    replica_poll_seconds: float = Field(1.0, gt=0, description="how often the replica's rollup"
                                        " generation and lag are read (a replica cannot LISTEN)")
    dashboard_dir: Path = Field(PROJECT_ROOT / "dashboard" / "dist",
                                description="the dashboard's build, served at / (make install)")
    # Operators and browsers (api.observability, CORS and gzip in api.main).
    cors_origins: Annotated[list[str], NoDecode] = Field(
        [], description="origins whose pages may call the API, comma-separated (none: no CORS)")
    metrics_token: SecretStr | None = Field(
        None, description="a Bearer token that may read /metrics (besides admin keys)")
    log_format: str = Field("json", pattern="^(json|text)$", description="json: one object per line")
    access_log: bool = Field(False, description="one log line per request (the audit log keeps them anyway)")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("metrics_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("needs at least 16 characters (it guards /metrics)")
        return value
