# make run: set up and serve on the embedded defaults. make test: set up and run the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test setup dev-setup db content system-deps clean-venv

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

run: content
	$(FLASK) run --host $(HOST) --port $(PORT)

test: dev-setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Debian packages the browser and database tests use (CI runs this; needs root).
system-deps:
	bash scripts/install-system-deps.sh

clean-venv:
	rm -rf $(VENV) node_modules
