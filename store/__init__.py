"""PostGIS storage: provisioning, schema migrations, bulk loading and rollups."""
