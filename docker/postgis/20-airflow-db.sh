#!/usr/bin/env bash
# Runs once, when the postgis volume is first initialised (docker-entrypoint-initdb.d):
# Airflow gets its own database on the same server, owned by its own non-superuser role, so
# its metadata never mixes with GridHub's tables and it cannot touch them.
# Changing AIRFLOW_DB_* later has no effect on an existing volume; alter the role by hand.
set -euo pipefail

# psql variables (:"ident", :'literal') quote the values, whatever characters they hold.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v db="$AIRFLOW_DB_NAME" -v role="$AIRFLOW_DB_USER" -v pass="$AIRFLOW_DB_PASSWORD" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'pass';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
