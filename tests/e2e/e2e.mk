# End-to-end tests of the study web app (shared/web) in headless Chromium, driven by
# playwright-core. Included from the top-level Makefile; uses its CACHE, SUDO and CARGO.

E2E_DIR          := tests/e2e
# The binary the browser test starts (a fresh one per run, on a free port, with a temp data dir).
JAVUMBO_LOCAL_BIN ?= $(abspath $(or $(CARGO_TARGET_DIR),target))/debug/javumbo-local

.PHONY: deps-e2e test-e2e

# The distribution's Chromium: playwright's own browser download is not reachable offline, and
# the tests pass executablePath: /usr/bin/chromium.
$(CACHE)/chromium.stamp:
	@mkdir -p $(CACHE)
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing chromium (headless browser for the web app's end-to-end tests)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends chromium \
	  || { echo "could not install chromium; run: apt-get install -y chromium"; exit 1; }; \
	fi
	@touch $@

$(CACHE)/node.stamp:
	@mkdir -p $(CACHE)
	@if ! command -v npm >/dev/null 2>&1; then \
	  echo "installing node.js and npm (runner of the end-to-end tests)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends nodejs npm \
	  || { echo "could not install node.js; run: apt-get install -y nodejs npm"; exit 1; }; \
	fi
	@touch $@

# Reinstall only when the lock file changes.
$(E2E_DIR)/node_modules/.stamp: $(E2E_DIR)/package.json $(E2E_DIR)/package-lock.json | $(CACHE)/node.stamp
	npm ci --prefix $(E2E_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

deps-e2e: $(CACHE)/chromium.stamp $(CACHE)/node.stamp $(E2E_DIR)/node_modules/.stamp

# Built as `make test-rust` builds it (the whole workspace with its test targets: the same
# features, so after test-rust this compiles nothing).
test-e2e: deps-build deps-e2e
	$(CARGO) build --workspace --all-targets --locked
	cd $(E2E_DIR) && JAVUMBO_LOCAL_BIN=$(JAVUMBO_LOCAL_BIN) node --test --test-concurrency=1 --test-reporter=spec
