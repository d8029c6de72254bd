#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only those that are missing:
# Chromium (browser tests), PostgreSQL server binaries (the PostgreSQL run), redis-server
# (the Redis mode of the queue and rate limits), wrk (the load benchmark), a Java
# runtime (the Nu HTML Checker), fonts for Chromium, Node/npm, make and python3-venv.
# Idempotent: on a machine that has everything it installs nothing and never runs
# `apt-get update`. Called by `make system-deps` and by .ci/run.
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
missing=()

need() {  # need PACKAGE: queue PACKAGE unless dpkg already has it installed
    if ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$1")
    fi
}

have_command() {
    command -v "$1" >/dev/null 2>&1
}

# Chromium: Playwright drives Debian's build rather than downloading its own.
have_command chromium || [ -x /usr/bin/chromium ] || need chromium
# Without a font Chromium renders blank glyphs, and screenshots are useless.
need fonts-liberation

# PostgreSQL server binaries (initdb, pg_ctl, postgres); the client comes with them.
if [ ! -x "/usr/lib/postgresql/$PG_VERSION/bin/initdb" ] || [ ! -x "/usr/lib/postgresql/$PG_VERSION/bin/pg_ctl" ]; then
    need "postgresql-$PG_VERSION"
fi
# The server refuses to run as root; .ci/run starts it as the postgres user the package creates.
id -u postgres >/dev/null 2>&1 || need "postgresql-$PG_VERSION"

# Redis for the task queue's and the rate limits' Redis mode (the tests start their own on loopback).
have_command redis-server || need redis-server

# wrk drives the load benchmark (bench/site.py, `make bench`).
have_command wrk || need wrk

# Java for the Nu HTML Checker (npm package vnu-jar).
have_command java || need default-jre-headless

# Node and npm install the checker (`npm ci` in the Makefile).
have_command node || need nodejs
have_command npm || need npm

# `make test` and `make run` need make.
have_command make || need make

# `python3 -m venv` needs ensurepip, which Debian ships separately.
if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
    need python3-venv
fi

if [ "${#missing[@]}" -eq 0 ]; then
    echo "system-deps: everything needed is installed."
    exit 0
fi

echo "system-deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif have_command sudo; then
    as_root=(sudo)
else
    echo "system-deps: these packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
