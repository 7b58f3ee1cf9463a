# GridHub API and CLI image (services api, gridhub-migrate, gridhub-demo).
# Build context: the repository root, filtered by .dockerignore.
# Works with the classic builder too (docker-compose 1.29): no BuildKit-only syntax.
ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:20-slim

# --- the dashboard: npm packages exactly as the lockfile says, then the build -------------
FROM ${NODE_IMAGE} AS dashboard
WORKDIR /src/dashboard
COPY dashboard/package.json dashboard/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY dashboard/ ./
RUN npm run --silent build

# --- the gridhub wheel alone; rebuilt on every source change, which is cheap -------------
FROM ${PYTHON_IMAGE} AS wheel
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- runtime ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    GRIDHUB_DATA_DIR=/var/lib/gridhub \
    GRIDHUB_SOURCES_DIR=/opt/gridhub/sources \
    GRIDHUB_CITY_PROFILE=/opt/gridhub/cities/demo/city.yaml \
    GRIDHUB_API_DASHBOARD_DIR=/opt/gridhub/dashboard

# uid 50000, gid 0: the identity of the Airflow image, so both can write the shared
# gridhub-data volume (and any uid with gid 0 works, as on OpenShift). A named volume takes
# the ownership of the image directory it is first mounted on.
RUN useradd --uid 50000 --gid 0 --create-home --home-dir /home/gridhub \
        --shell /usr/sbin/nologin gridhub \
    && install -d -o 50000 -g 0 -m 2775 /var/lib/gridhub \
    && python -m venv /opt/venv

# Dependencies from pyproject.toml, pinned by the lock, in their own layer: it is rebuilt
# only when one of these two files changes, not on every source edit. Every dependency ships
# binary wheels for this platform (GEOS, PROJ, GDAL, libpq included), so no compiler here.
COPY pyproject.toml constraints.txt /tmp/lock/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/lock/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/lock/requirements.txt \
    && pip install --constraint /tmp/lock/constraints.txt --requirement /tmp/lock/requirements.txt \
    && rm -rf /tmp/lock

COPY --from=wheel /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels \
    && pip check

# Feed specs, the city profile and the dashboard's build are data, not package code: shipped
# beside it (GRIDHUB_SOURCES_DIR, GRIDHUB_CITY_PROFILE, GRIDHUB_API_DASHBOARD_DIR).
COPY sources/ /opt/gridhub/sources/
COPY cities/ /opt/gridhub/cities/
COPY --from=dashboard /src/dashboard/dist/ /opt/gridhub/dashboard/
COPY docker/check-secrets.sh /usr/local/bin/gridhub-check-secrets
RUN chmod 0755 /usr/local/bin/gridhub-check-secrets

USER 50000:0
WORKDIR /var/lib/gridhub
EXPOSE 8000
ENTRYPOINT ["gridhub-check-secrets"]
CMD ["gridhub", "serve", "--host", "0.0.0.0", "--port", "8000"]
