# GridHub: the two commands of the README are `make demo` and `make test`.
# Everything they need is installed from this repository's own files.

VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Cases in the demo city (the default is the demo's own: 200,000 over two years).
RECORDS ?= 200000
# Debian packages the tests use: compose validation, GIS clients of the API, HTTP load
# (bench_api), the README's curl line, the browser the dashboard tests drive.
OS_PACKAGES := docker-compose gdal-bin wrk curl r-cran-surveillance chromium
# The dashboard's sources (dashboard/): built into dashboard/dist, which the API serves at /.
DASHBOARD_SOURCES := $(shell find dashboard/src -type f 2>/dev/null) dashboard/build.mjs

.PHONY: install os-packages db demo test test-quick test-setup airflow lint bench clean

install: $(VENV)/.installed dashboard/dist/index.html

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt uv
	# uv installs the pinned set in seconds where pip takes a minute or more.
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev]'
	touch $@

# The dashboard: npm packages exactly as the lockfile says, then the build (esbuild).
dashboard/node_modules/.installed: dashboard/package.json dashboard/package-lock.json
	cd dashboard && npm ci --no-audit --no-fund --loglevel=error
	touch $@

dashboard/dist/index.html: dashboard/node_modules/.installed $(DASHBOARD_SOURCES)
	cd dashboard && npm run --silent build

# Installs missing OS packages when we may (root with apt-get); otherwise says what is missing.
os-packages:
	@missing=""; for p in $(OS_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing OS packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "please install:$$missing (e.g. sudo apt-get install$$missing)"; exit 1; fi; \
	fi

db: install
	$(BIN)/gridhub db up

demo: db
	$(BIN)/gridhub demo run --records $(RECORDS)
	@echo "An admin key for the whole demo city (send it as 'Authorization: Bearer <key>'):"
	$(BIN)/gridhub keys create --role admin --scope 339900000000
	$(BIN)/gridhub serve --host $(HOST) --port $(PORT)

# Everything the tests need: the venv, OS packages, a database with PostGIS.
test-setup: install os-packages
	$(BIN)/gridhub db up

# Test processes: the end-to-end tests start first and the rest fill in around them.
TEST_WORKERS ?= 2

test: test-setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal --durations=25

# The quick suite, while developing: everything but the end-to-end tests marked slow.
test-quick: test-setup
	$(BIN)/pytest -m "not slow" -n $(TEST_WORKERS) --dist worksteal

# Airflow on this checkout's dags/ (README, "Local: airflow standalone"). Its components are
# started as `airflow ...` from PATH, so the venv's bin goes first there. Each setting can be
# overridden from the environment.
airflow: install
	PATH="$(CURDIR)/$(BIN):$$PATH" \
	AIRFLOW_HOME="$${AIRFLOW_HOME:-$(CURDIR)/var/airflow}" \
	AIRFLOW__CORE__DAGS_FOLDER="$${AIRFLOW__CORE__DAGS_FOLDER:-$(CURDIR)/dags}" \
	AIRFLOW__CORE__LOAD_EXAMPLES="$${AIRFLOW__CORE__LOAD_EXAMPLES:-False}" \
	AIRFLOW__CORE__PARALLELISM="$${AIRFLOW__CORE__PARALLELISM:-4}" \
	$(BIN)/airflow standalone

# The ingest benchmark (README, Development lists the others).
ROWS ?= 5000000
bench: db
	$(BIN)/python bench/bench_ingest.py --rows $(ROWS)

clean:
	-$(BIN)/gridhub db remove --yes
	rm -rf var $(VENV)
