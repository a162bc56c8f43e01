#!/usr/bin/env bash
# `make bench-aws-service`: javumbo-local --stores aws (the API process on the AWS adapters, as a
# long-running service) against the stores of the emulator stack `make emulator-up` left
# running, loaded by javumbo-load: latency without API Gateway/Lambda in front, the server's RSS,
# and DynamoDB write units per acknowledged write (the adapter's counters at /_local/metrics).
# Usage: aws-service.sh <javumbo-local> <javumbo-load> <report dir> [javumbo-load flags...]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
server_bin="$1" load_bin="$2" report="$3"
shift 3
state="$root/.emulator"
if ! [[ -f "$state/outputs.json" && -f "$state/endpoint" ]] ||
   ! curl -fsS -m 2 -o /dev/null "$(cat "$state/endpoint")/_ministack/health"; then
  echo "no emulator stack running (make emulator-up): skipping the --stores aws run"
  exit 0
fi
out() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Javumbo"][sys.argv[2]])' "$state/outputs.json" "$1"; }
data="$(mktemp -d)"
AWS_ENDPOINT_URL="$(cat "$state/endpoint")" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  AWS_REGION=us-east-1 JAVUMBO_S3_FORCE_PATH_STYLE=true \
  JAVUMBO_BUCKET="$(out DataBucketName)" JAVUMBO_USERS_TABLE="$(out UsersTableName)" \
  JAVUMBO_SESSIONS_TABLE="$(out SessionsTableName)" JAVUMBO_JOURNAL_TABLE="$(out JournalTableName)" \
  JAVUMBO_FLUSH_TOPIC_ARN="$(out FlushTopicArn)" JAVUMBO_JWT_SECRET_ARN="$(out JwtSecretArn)" \
  "$server_bin" --stores aws --addr 127.0.0.1:0 --data "$data" --log warn \
  >"$data/stdout" 2>"$data/stderr" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
url=""
for _ in $(seq 1 300); do
  url="$(grep -o 'http://[0-9.:]*' "$data/stdout" 2>/dev/null | head -1 || true)"
  [[ -n "$url" ]] && break
  kill -0 "$pid" 2>/dev/null || { cat "$data/stderr" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$url" ]] || { echo "javumbo-local --stores aws did not start" >&2; exit 1; }
"$load_bin" --target "$url" --server-pid "$pid" --report "$report" "$@"
