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
source "$root/tests/emulator/aws-service.sh"
data="$(mktemp -d)"
trap 'kill ${svc_pid:-} 2>/dev/null || true; wait ${svc_pid:-} 2>/dev/null || true; rm -rf "$data"' EXIT
start_aws_service "$server_bin" "$state" "$data" "$data/stderr" --log warn
pid=$svc_pid url=$svc_url
"$load_bin" --target "$url" --server-pid "$pid" --report "$report" "$@"
