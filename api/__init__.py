"""The HTTP API (FastAPI): area views served from rollups."""
