#!/usr/bin/env bash
# Start ministack (the local AWS emulator) on a free loopback port, in the background.
# Writes .emulator/endpoint, .emulator/port and .emulator/pid at the repo root; idempotent (a
# healthy emulator already recorded there is reused). deploy.sh then writes .emulator/url (the API). Lambda processes it starts inherit
# AWS_ENDPOINT_URL, so functions reach the emulator instead of failing on DNS. Its temporary
# files (the unzipped function code, ~200 MB a deployment) go to .emulator/tmp, which stop.sh
# removes: in /tmp they would outlive it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
state="$root/.emulator"
bin="${JAVUMBO_MINISTACK:-$root/.cache/venv-ministack/bin/ministack}"
mkdir -p "$state"

healthy() { curl -fsS -m 2 "http://127.0.0.1:$1/_ministack/health" >/dev/null 2>&1; }

if [[ -f "$state/port" ]] && healthy "$(cat "$state/port")"; then
  echo "ministack already up at $(cat "$state/endpoint")"
  exit 0
fi
[[ -x "$bin" ]] || { echo "ministack is not installed ($bin): run 'make deps-aws'" >&2; exit 1; }

rm -rf "$state/tmp"
mkdir -p "$state/tmp"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
BIND_HOST=127.0.0.1 GATEWAY_PORT="$port" AWS_ENDPOINT_URL="$url" TMPDIR="$state/tmp" \
  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  LOG_LEVEL="${MINISTACK_LOG_LEVEL:-WARNING}" \
  setsid "$bin" >"$state/ministack.log" 2>&1 < /dev/null &
echo $! >"$state/pid"
for _ in $(seq 1 600); do
  if healthy "$port"; then
    echo "$port" >"$state/port"
    echo "$url" >"$state/endpoint"
    echo "ministack up at $url (pid $(cat "$state/pid"), log $state/ministack.log)"
    exit 0
  fi
  kill -0 "$(cat "$state/pid")" 2>/dev/null || { echo "ministack exited; see $state/ministack.log" >&2; exit 1; }
  sleep 0.1
done
echo "ministack not healthy after 60 s; see $state/ministack.log" >&2
exit 1
