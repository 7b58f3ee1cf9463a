"""Settings, one class per concern, read from the environment (prefix GRIDHUB_, plus DATABASE_URL).

Entry points (CLI, API, DAGs) build these and pass them down; library code never reads the
environment itself.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.person_key import DEV_HASH_KEY, DEV_SECRET_MARKER, check_person_key
from core.profile import CityProfile, load_profile
from core.timezones import TimeZoneName

PROJECT_ROOT = Path(__file__).resolve().parent.parent
__all__ = ["DEV_HASH_KEY", "DEV_SECRET_MARKER", "PROJECT_ROOT", "GridHubSettings"]


class GridHubSettings(BaseSettings):
    """Where data lives, which city this hub serves, and secrets."""

    model_config = SettingsConfigDict(env_prefix="GRIDHUB_", extra="ignore")

    env: str = Field("development", description="development | production")
    data_dir: Path = Field(PROJECT_ROOT / "var", description="demo feeds, private cluster, docs")
    sources_dir: Path | None = Field(None, description="folder of source spec YAML files")
    city_profile: Path = Field(PROJECT_ROOT / "cities" / "demo" / "city.yaml",
                               description="the city profile (core.profile): levels, taxonomy, clock")
    # Overrides of the profile's own values; when unset, the profile's are taken on construction.
    timezone: TimeZoneName = Field("Asia/Shanghai", description="the city's clock: decides what a day is"
                          " (default: the profile's)")
    city_code: str = Field("339900000000", description="code of the city this hub serves"
                           " (default: the profile's)")
    hash_key: SecretStr = Field(
        SecretStr(DEV_HASH_KEY), description="key for keyed hashes of personal data"
    )
    bulk_load_min_records: int = Field(
        100_000, ge=1, description="a run this large, and at least half the size of `cases`,"
        " loads with the secondary indexes of cases built afterwards")
    database_url: str | None = Field(
        None, validation_alias=AliasChoices("DATABASE_URL", "GRIDHUB_DATABASE_URL")
    )
    raw_retention_days: int | None = Field(
        None, ge=1, description="raw payloads older than this are purged by `gridhub db purge-raw`"
        " (store.retention); unset: kept until purged with --older-than")
    api_database_role: str | None = Field(
        None, pattern=r"^[a-z_][a-z0-9_]*$", description="database role the API takes on connecting"
        " (gridhub_api: no raw payloads, docs/privacy.md); unset: DATABASE_URL's own user")

    @model_validator(mode="after")
    def _profile_values(self) -> GridHubSettings:
        # The profile decides the clock and the city unless the environment overrides them.
        profile = self.profile
        if "timezone" not in self.model_fields_set:
            self.timezone = profile.timezone
        if "city_code" not in self.model_fields_set:
            self.city_code = profile.code
        return self

    @model_validator(mode="after")
    def _no_default_secrets(self) -> GridHubSettings:
        # Checked on construction, so that every entry point (CLI, API, DAGs) refuses alike.
        # DefaultSecretError is no ValueError: pydantic lets it through as it is, one line.
        self.check_secrets()
        return self

    @property
    def profile(self) -> CityProfile:
        """The city profile (read once per file version)."""
        return load_profile(self.city_profile)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo"

    @property
    def resolved_sources_dir(self) -> Path:
        return self.sources_dir or PROJECT_ROOT / "sources"

    def for_api(self) -> GridHubSettings:
        """These settings as the API uses them: DATABASE_URL taking `api_database_role` on
        connecting (as SET ROLE would), so that every connection of the API holds only its
        rights."""
        if not self.api_database_role or not self.database_url:
            return self
        return self.model_copy(update={"database_url": self.api_url(self.database_url)})

    def api_url(self, url: str) -> str:
        """A database URL as the API connects with it: taking `api_database_role`, if set."""
        if not self.api_database_role:
            return url
        # Here, not at the top: settings are read where psycopg is not needed (DAG parsing).
        from psycopg import ProgrammingError
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        try:
            info = conninfo_to_dict(url)
        except ProgrammingError:  # malformed: left for the caller's check to say how
            return url
        options = f"{info.get('options') or ''} -c role={self.api_database_role}".strip()
        return make_conninfo(url, options=options)

    def check_secrets(self) -> None:
        """Refuse to run outside development with a development (or empty) hash key
        (core.person_key.check_person_key): ingest, serve and the DAGs all build settings.

        Construction already checks; this is for settings changed after (model_copy).
        """
        check_person_key(self.hash_key.get_secret_value(), self.env)
