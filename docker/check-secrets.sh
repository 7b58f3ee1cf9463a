#!/bin/sh
# Entrypoint guard for the GridHub and Airflow images: in production, refuse to start while
# any setting still holds a development default shipped in docker-compose.yml. All those
# defaults contain the marker below, so one scan finds them whatever a variable is called.
# Only variable names are printed, never values.
set -eu

marker="dev-insecure"

if [ "${GRIDHUB_ENV:-development}" = "production" ]; then
    offenders=$(env | grep -F -- "$marker" | grep -E '^[A-Za-z_][A-Za-z0-9_]*=' \
        | cut -d= -f1 | sort -u | tr '\n' ' ')
    # Set but empty: Airflow would store connection passwords unencrypted.
    if [ -n "${AIRFLOW__CORE__FERNET_KEY+set}" ] && [ -z "${AIRFLOW__CORE__FERNET_KEY}" ]; then
        offenders="${offenders}AIRFLOW__CORE__FERNET_KEY(empty) "
    fi
    if [ -n "$offenders" ]; then
        echo "refusing to start: GRIDHUB_ENV=production but these still hold development" \
            "defaults: ${offenders}- set real values in .env (see .env.example)" >&2
        exit 78  # EX_CONFIG
    fi
fi

exec "$@"
