# make run: set up and serve on the embedded defaults. make test: set up and run the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000
# Links in mail, the sitemap and feeds point at the address actually served (unless SITE_URL is set).
SITE_URL ?= http://$(if $(filter 0.0.0.0,$(HOST)),127.0.0.1,$(HOST)):$(PORT)

.PHONY: run test setup dev-setup db content system-deps clean-venv bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

setup: $(VENV)/.runtime

dev-setup: $(VENV)/.dev node_modules/.installed

db: setup
	$(FLASK) db upgrade

content: db
	$(FLASK) content load
	$(FLASK) search sync

# The web server and a task-queue worker beside it (mail, background jobs, scheduled jobs); when the server
# stops (Ctrl-C), the worker is stopped too, after the task it is running.
run: content
	@echo "Serving $(SITE_URL) with a task-queue worker (Ctrl-C stops both)."
	@export SITE_URL='$(SITE_URL)'; \
	$(FLASK) worker & worker=$$!; \
	trap 'kill -INT $$worker 2>/dev/null; wait $$worker; trap - EXIT; exit 0' EXIT INT TERM; \
	$(FLASK) run --host $(HOST) --port $(PORT)

test: dev-setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Public pages under gunicorn against a bare Flask route (bench/site.py; needs wrk). BENCH_ARGS="--duration 5".
# Then a burst of registrations and the events feed (bench/events.py). BENCH_EVENTS_ARGS="--members 50".
bench: setup
	$(BIN)/python bench/site.py $(BENCH_ARGS)
	$(BIN)/python bench/events.py $(BENCH_EVENTS_ARGS)

# Debian packages the browser and database tests use (CI runs this; needs root).
system-deps:
	bash scripts/install-system-deps.sh

clean-venv:
	rm -rf $(VENV) node_modules
