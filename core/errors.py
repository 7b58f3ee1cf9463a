"""The project's error hierarchy; the API maps these to HTTP status codes in one place."""


class GridHubError(Exception):
    """Base of every error GridHub raises on purpose."""


class ConfigError(GridHubError):
    """A setting, spec or file given by the user is wrong."""


class DefaultSecretError(ConfigError):
    """A production setting still holds a development default (a secret everyone knows)."""


class DatabaseUnavailableError(GridHubError):
    """No usable PostgreSQL + PostGIS server could be reached or provisioned."""


class SourceError(GridHubError):
    """A source could not be read."""


class NotFoundError(GridHubError):
    """A requested object (area, source, run, alert) does not exist."""


class ForbiddenError(GridHubError):
    """The caller's key may not see or do this."""
