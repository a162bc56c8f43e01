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

# Sequential: as on AWS, concurrent requests to one function would start more containers,
# whose takeovers of each other would blur what the tests assert about session moves.
out() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Javumbo"][sys.argv[2]])' .emulator/outputs.json "$1"; }

status=0
JAVUMBO_E2E_URL="$(cat .emulator/url)" JAVUMBO_E2E_AWS_ENDPOINT="$(cat .emulator/endpoint)" \
  JAVUMBO_E2E_SYNC_URL="$(out SyncUrl)" \
  "$cargo" test --workspace --locked --no-fail-fast --test emulator_e2e --test http_api --test http_flow \
  -- --test-threads=1 || status=$?

# The same HTTP suites against `javumbo-local --stores aws`: the gateway and two process
# containers on the stack's own bucket, tables, flush topic (so the flush-handler function
# folds the journals) and JWT secret, with no API Gateway or Lambda in front — how javumbo runs
# as a long-lived container service next to the functions.
local_bin="${CARGO_TARGET_DIR:-$root/target}/debug/javumbo-local"
svc_data="$(mktemp -d)"
AWS_ENDPOINT_URL="$(cat .emulator/endpoint)" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  AWS_REGION=us-east-1 JAVUMBO_S3_FORCE_PATH_STYLE=true \
  JAVUMBO_BUCKET="$(out DataBucketName)" JAVUMBO_USERS_TABLE="$(out UsersTableName)" \
  JAVUMBO_SESSIONS_TABLE="$(out SessionsTableName)" JAVUMBO_JOURNAL_TABLE="$(out JournalTableName)" \
  JAVUMBO_FLUSH_TOPIC_ARN="$(out FlushTopicArn)" JAVUMBO_JWT_SECRET_ARN="$(out JwtSecretArn)" \
  JAVUMBO_COMPACT_AFTER=4 \
  "$local_bin" --stores aws --addr 127.0.0.1:0 --data "$svc_data" --containers 2 --isolate processes \
  >"$svc_data/stdout" 2>"$root/.emulator/javumbo-local.log" &
svc_pid=$!
trap 'kill $svc_pid 2>/dev/null || true; rm -rf "$svc_data"; down' EXIT
svc_url=""
for _ in $(seq 1 300); do
  svc_url="$(grep -o 'http://[0-9.:]*' "$svc_data/stdout" 2>/dev/null | head -1 || true)"
  [[ -n "$svc_url" ]] && break
  kill -0 "$svc_pid" 2>/dev/null || { cat "$root/.emulator/javumbo-local.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$svc_url" ]] || { echo "javumbo-local --stores aws did not start" >&2; exit 1; }
echo "javumbo-local --stores aws at $svc_url"
JAVUMBO_E2E_URL="$svc_url" JAVUMBO_E2E_GATEWAY=javumbo-local JAVUMBO_E2E_AWS_ENDPOINT="$(cat .emulator/endpoint)" \
  "$cargo" test --workspace --locked --no-fail-fast --test http_api --test http_flow \
  -- --test-threads=1 || status=$?
exit "$status"
