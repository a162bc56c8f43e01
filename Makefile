# javumbo — two commands on a fresh machine: `make run` (the product) and `make test` (the proof).
# Every prerequisite is installed here, idempotently; stamps live in .cache/ (git-ignored).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CACHE        := .cache
ANKI_VENV    := $(CACHE)/venv-anki
ANKI_PY      := $(ANKI_VENV)/bin/python
CARGO        ?= cargo
SUDO         := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Versions of the referee and its helpers (see tests/oracle/README.md).
ANKI_PKGS    := anki==26.9.3 genanki==0.13.1

.PHONY: help run build test test-rust lint fmt deps deps-build deps-test clean

include tests/e2e/e2e.mk
include infra-cdk/cdk.mk
include shared/storage-aws/aws.mk
include tests/load/load.mk

help:
	@echo "make run    build (release) and start javumbo-local on http://127.0.0.1:8080"
	@echo "make test   install test prerequisites, then fmt check + the whole test suite"
	@echo "make build  build target/release/javumbo-local and javumbo-migrate without running them"
	@echo "make lint   cargo fmt --check + clippy -D warnings"
	@echo "make test-emulator   the HTTP end-to-end suites on the whole stack in the local AWS emulator"
	@echo "make package / deploy / emulator-up / emulator-down   AWS: see infra-cdk/README.md"

## ---- prerequisites -------------------------------------------------------------------------

# rusqlite's `session` feature runs bindgen, which needs libclang at build time.
$(CACHE)/libclang.stamp:
	@mkdir -p $(CACHE)
	@if [ -z "$${LIBCLANG_PATH:-}" ] && ! dpkg -s libclang1-14 libclang-common-14-dev >/dev/null 2>&1; then \
	  echo "installing libclang (needed by rusqlite's session extension bindings)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends libclang1-14 libclang-common-14-dev \
	  || { echo "could not install libclang; run: apt-get install -y libclang1-14 libclang-common-14-dev"; exit 1; }; \
	fi
	@touch $@

# libfaketime lets the official Anki referee answer cards at chosen instants.
$(CACHE)/faketime.stamp:
	@mkdir -p $(CACHE)
	@if ! ls /usr/lib/*/faketime/libfaketime.so.1 >/dev/null 2>&1; then \
	  echo "installing libfaketime (time travel for the Anki referee)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends libfaketime \
	  || { echo "could not install libfaketime; run: apt-get install -y libfaketime"; exit 1; }; \
	fi
	@touch $@

$(ANKI_PY):
	@mkdir -p $(CACHE)
	python3 -m venv $(ANKI_VENV)
	$(ANKI_VENV)/bin/pip install --quiet --disable-pip-version-check $(ANKI_PKGS)

deps-build: $(CACHE)/libclang.stamp
# Everything `make test` needs: the Anki referee, the emulator, Chromium, the CDK's node modules
# (the emulator stage deploys the CDK stack into ministack).
deps-test: deps-build $(CACHE)/faketime.stamp $(ANKI_PY) $(MINISTACK_STAMP) deps-e2e deps-cdk
deps: deps-test

## ---- product -------------------------------------------------------------------------------

build: deps-build
	$(CARGO) build --release --locked -p javumbo-local -p javumbo-migrate

run: build
	./target/release/javumbo-local

## ---- proof ---------------------------------------------------------------------------------

test: deps-test
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(MAKE) --no-print-directory test-rust
	$(MAKE) --no-print-directory test-emulator
	$(MAKE) --no-print-directory test-cdk
	$(MAKE) --no-print-directory test-e2e

# Unit, interop (official Anki), simulation, HTTP and AWS-adapter (ministack) tests.
# javumbo-local is built first: the HTTP, load-smoke and browser tests start it as a process.
# Every cargo call of `make test` selects the whole workspace with its test targets, so all
# resolve the same features (dev-dependencies enable some, e.g. tokio's test-util) and share one
# build: a `-p` build in between resolved differently and rebuilt everything above tokio (the
# AWS SDK included) three more times, ~10 minutes of CI.
test-rust: deps-test
	$(CARGO) build --workspace --all-targets --locked
	JAVUMBO_E2E_URL= JAVUMBO_ANKI_PYTHON=$(abspath $(ANKI_PY)) $(CARGO) test --workspace --locked --no-fail-fast
	@# Compaction is internal: the HTTP suites again with a session compacted every 4 writes
	@# (the ids clients hold must stay good; the emulator stack runs with 4 too).
	JAVUMBO_E2E_URL= JAVUMBO_COMPACT_AFTER=4 $(CARGO) test --workspace --locked \
	  --test http_api --test http_notes --test http_study --test http_media

lint: deps-build
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf $(CACHE)
