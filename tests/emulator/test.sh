#!/usr/bin/env bash
# `make test-emulator`: the stack on the emulator (make emulator-up), the HTTP end-to-end suites
# against its API (JAVUMBO_E2E_URL), then make emulator-down whatever happened, Ctrl-C included.
# The exit status is the tests' (or emulator-up's). The debug function binaries must be built
# already (aws.mk builds them with the test build's features, so nothing compiles twice).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
make="${MAKE:-make}"
cargo="${CARGO:-cargo}"

down() { "$make" --no-print-directory emulator-down || true; }
trap down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The current tree's debug build, even when `make package` left release zips in target/lambda.
JAVUMBO_LAMBDA_DEBUG=1 JAVUMBO_LAMBDA_NO_BUILD=1 "$make" --no-print-directory emulator-up

source "$root/tests/emulator/aws-service.sh"

# Sequential: as on AWS, concurrent requests to one function would start more containers,
# whose takeovers of each other would blur what the tests assert about session moves.
status=0
JAVUMBO_E2E_URL="$(cat .emulator/url)" JAVUMBO_E2E_AWS_ENDPOINT="$(cat .emulator/endpoint)" \
  JAVUMBO_E2E_SYNC_URL="$(stack_output .emulator SyncUrl)" \
  "$cargo" test --workspace --locked --no-fail-fast --test emulator_e2e --test http_api --test http_flow \
  -- --test-threads=1 || status=$?

# The same HTTP suites against `javumbo-local --stores aws`: the gateway and two process
# containers on the stack's own bucket, tables, flush topic (so the flush-handler function
# folds the journals) and JWT secret, with no API Gateway or Lambda in front — how javumbo runs
# as a long-lived container service next to the functions.
local_bin="${CARGO_TARGET_DIR:-$root/target}/debug/javumbo-local"
svc_data="$(mktemp -d)"
trap 'kill ${svc_pid:-} 2>/dev/null || true; rm -rf "$svc_data"; down' EXIT
JAVUMBO_COMPACT_AFTER=4 start_aws_service "$local_bin" .emulator "$svc_data" \
  "$root/.emulator/javumbo-local.log" --containers 2 --isolate processes
echo "javumbo-local --stores aws at $svc_url"
JAVUMBO_E2E_URL="$svc_url" JAVUMBO_E2E_GATEWAY=javumbo-local JAVUMBO_E2E_AWS_ENDPOINT="$(cat .emulator/endpoint)" \
  "$cargo" test --workspace --locked --no-fail-fast --test http_api --test http_flow \
  -- --test-threads=1 || status=$?
exit "$status"
