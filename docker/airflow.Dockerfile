# Airflow 3 image with the gridhub library (services airflow-*). The base tag must match the
# apache-airflow pin in constraints.txt; tests/test_compose.py checks that it does.
# Build context: the repository root, filtered by .dockerignore. Classic-builder compatible.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
ARG PYTHON_IMAGE=python:3.11-slim

# --- the gridhub wheel alone, built outside the Airflow image -----------------------------
FROM ${PYTHON_IMAGE} AS wheel
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- runtime ------------------------------------------------------------------------------
FROM ${AIRFLOW_IMAGE}
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GRIDHUB_DATA_DIR=/var/lib/gridhub GRIDHUB_SOURCES_DIR=/opt/gridhub/sources \
    GRIDHUB_CITY_PROFILE=/opt/gridhub/cities/demo/city.yaml

USER root
# Mount points of named volumes, owned like the rest of the image (airflow = 50000:0):
# an empty named volume copies this ownership when first mounted. auth holds plaintext
# passwords of the simple auth manager, hence no access for others.
RUN install -d -o airflow -g 0 -m 2770 /opt/airflow/auth \
    && install -d -o airflow -g 0 -m 2775 /var/lib/gridhub
COPY docker/check-secrets.sh docker/airflow-init.sh /opt/gridhub/
RUN chmod 0755 /opt/gridhub/check-secrets.sh /opt/gridhub/airflow-init.sh
USER airflow

# Dependencies first, in a layer keyed on the lock alone. Naming apache-airflow at the
# image's own version makes pip fail instead of silently replacing the Airflow it ships.
COPY --chown=airflow:0 pyproject.toml constraints.txt /tmp/lock/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/lock/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/lock/requirements.txt \
    && pip install "apache-airflow==${AIRFLOW_VERSION}" \
        --constraint /tmp/lock/constraints.txt --requirement /tmp/lock/requirements.txt \
    && rm -rf /tmp/lock

COPY --from=wheel --chown=airflow:0 /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels \
    && pip check

# Baked in so the image runs without the bind mounts (compose mounts over them).
COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 sources/ /opt/gridhub/sources/
COPY --chown=airflow:0 cities/ /opt/gridhub/cities/

# Same command handling as the base image, behind the production secret guard.
ENTRYPOINT ["/usr/bin/dumb-init", "--", "/opt/gridhub/check-secrets.sh", "/entrypoint"]
CMD ["airflow", "--help"]
