# AWS adapters, Lambda packaging and the local AWS emulator: included by the root Makefile.
# Paths are relative to the repo root.
#
#   make deps-aws       venvs: .cache/venv-ministack (the emulator), .cache/venv-lambda (cargo-lambda)
#   make test-aws       the AWS adapters' tests (conformance suite on a ministack the tests start)
#   make package        target/lambda/<bin>/bootstrap.zip for the six functions (cargo lambda,
#                       Cargo profile `lambda`: built in target/<triple>/lambda)
#   make emulator-up    ministack on a free loopback port + the CDK stack deployed into it; the
#                       API base URL is the last line printed and .emulator/url
#   make emulator-down  stop it
#   make test-emulator  emulator-up, the HTTP end-to-end suites against its API, emulator-down
#                       (always); part of `make test`
#
# Knobs: LAMBDA_ARCH=x86_64|arm64 (arm64 needs the aarch64 std, which cargo-lambda fetches with
# rustup and which may not be obtainable offline); LAMBDA_PROFILE=lambda (the workspace
# Cargo.toml's size-tuned profile; see the comment there).

MINISTACK_VENV   := $(CACHE)/venv-ministack
LAMBDA_VENV      := $(CACHE)/venv-lambda
MINISTACK_VER    := 1.5.33
CARGO_LAMBDA_VER := 1.9.2
MINISTACK_STAMP  := $(MINISTACK_VENV)/.ministack-$(MINISTACK_VER).stamp
LAMBDA_STAMP     := $(LAMBDA_VENV)/.cargo-lambda-$(CARGO_LAMBDA_VER).stamp
LAMBDA_ARCH      ?= x86_64
LAMBDA_PROFILE   ?= lambda
LAMBDA_DIR       := target/lambda
LAMBDA_BINS      := javumbo-auth javumbo-review javumbo-crud javumbo-export javumbo-sync-fn javumbo-flush-handler

.PHONY: deps-aws test-aws package emulator-up emulator-down test-emulator

# The version is part of the stamp's name, so changing it reinstalls.
$(MINISTACK_STAMP):
	@mkdir -p $(CACHE)
	rm -rf $(MINISTACK_VENV)
	python3 -m venv $(MINISTACK_VENV)
	$(MINISTACK_VENV)/bin/pip install --quiet --disable-pip-version-check ministack==$(MINISTACK_VER)
	@touch $@

$(LAMBDA_STAMP):
	@mkdir -p $(CACHE)
	rm -rf $(LAMBDA_VENV)
	python3 -m venv $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/pip install --quiet --disable-pip-version-check cargo-lambda==$(CARGO_LAMBDA_VER)
	@touch $@

deps-aws: $(MINISTACK_STAMP) $(LAMBDA_STAMP)

test-aws: deps-build $(MINISTACK_STAMP)
	$(CARGO) test --locked -p javumbo-storage-aws

# cargo-lambda is called through cargo, so its venv's bin (cargo-lambda, zig) goes on PATH.
# rusqlite's `session` feature runs bindgen on sqlite3.h; under zig, cargo-zigbuild adds
# -nostdinc to bindgen's clang args, which then cannot find the compiler's own stdarg.h:
# zig's copy of those headers is added back explicitly.
# `--profile`, not `--release`: given --release, cargo-lambda adds `--config profile.release.*`
# settings the manifest leaves unset (panic = "abort" among them, which would turn a panicking
# request into a dead execution environment instead of a 500) and `-C target-cpu=haswell`; with
# a named profile it adds nothing, so Cargo.toml's [profile.lambda] is exactly what is built.
ZIG_CLANG_INCLUDE = $(shell $(LAMBDA_VENV)/bin/python -c 'import ziglang,os; print(os.path.join(os.path.dirname(ziglang.__file__),"lib","include"))' 2>/dev/null)
package: deps-build $(LAMBDA_STAMP)
	@if [ "$(LAMBDA_ARCH)" = arm64 ]; then \
	  echo "building for arm64: needs the aarch64-unknown-linux-gnu std (rustup target add); x86_64 is the default"; fi
	PATH="$(abspath $(LAMBDA_VENV))/bin:$$PATH" \
	  BINDGEN_EXTRA_CLANG_ARGS="-isystem $(ZIG_CLANG_INCLUDE)" \
	  $(CARGO) lambda build --profile $(LAMBDA_PROFILE) --locked --output-format zip --lambda-dir $(LAMBDA_DIR) \
	  $(if $(filter arm64,$(LAMBDA_ARCH)),--arm64,--x86-64) \
	  $(foreach b,$(LAMBDA_BINS),-p $(b))
	@for b in $(LAMBDA_BINS); do ls -l $(LAMBDA_DIR)/$$b/bootstrap.zip; done

# Uses the zips of `make package` when present, else a debug build (see tests/emulator/deploy.sh).
emulator-up: $(MINISTACK_STAMP) deps-cdk
	tests/emulator/start.sh
	tests/emulator/deploy.sh

emulator-down:
	tests/emulator/stop.sh

# The HTTP end-to-end suites (tests/tests/emulator_e2e.rs, and http_api + http_flow, which run
# against JAVUMBO_E2E_URL when it is set) on the whole stack in the emulator; see
# tests/emulator/test.sh, which always ends with emulator-down and keeps the tests' status.
# The five function binaries come from the same build as `make test-rust`'s tests (`cargo test
# --workspace`), so after test-rust this compiles nothing: a `cargo build -p <the five>` resolves
# features without the tests' (tokio's test-util...) and would build everything above tokio, the
# AWS SDK included, a second time. deploy.sh zips them from $(CARGO_TARGET_DIR or target)/debug.
test-emulator: deps-build $(MINISTACK_STAMP) deps-cdk $(ANKI_PY)
	$(CARGO) build --workspace --all-targets --locked
	CARGO="$(CARGO)" MAKE="$(MAKE)" JAVUMBO_ANKI_PYTHON=$(abspath $(ANKI_PY)) tests/emulator/test.sh
