#!/usr/bin/env bash
# Cross-container probes on the emulator deployment (make emulator-up):
#  1. review <-> crud alternation: two functions are two containers sharing the active session
#     (same X-Session-ID, the other side catching up from the journal); every compactAfter-th
#     write (4 on the emulator) sends a flush request over SNS, after which the id changes;
#  2. PAIRS rounds of two concurrent GET /api/review: ministack starts a second review process
#     (one process per concurrent invocation, as Lambda does), and both serve the one session.
# Prints `<label> <status> <seconds> <X-Session-ID>`; then read the flush handler's log with
# `.cache/venv-ministack/bin/python tests/emulator/logs.py flush`.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
api="${1:-$(cat "$root/.emulator/url")}"
rounds="${ROUNDS:-3}"
pairs="${PAIRS:-3}"
user="t$(date +%s%N | tail -c 9)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# req LABEL METHOD PATH [JSON]
req() {
  local label="$1" method="$2" path="$3" data="${4:-}" args=()
  [[ -n "${token:-}" ]] && args+=(-H "Authorization: Bearer $token")
  [[ -n "$data" ]] && args+=(-H 'Content-Type: application/json' --data "$data")
  local out
  out="$(curl -sS -m 60 -D "$tmp/$label.h" -o "$tmp/$label.b" -w '%{http_code} %{time_total}' \
    -X "$method" "${args[@]}" "$api$path")"
  local sid
  sid="$(tr -d '\r' <"$tmp/$label.h" | awk -F': ' 'tolower($1)=="x-session-id"{print $2}')"
  printf '%-12s %s %s\n' "$label" "$out" "${sid:--}"
}

curl -fsS -m 60 -H 'Content-Type: application/json' -o /dev/null \
  --data "{\"username\":\"$user\",\"name\":\"Take\",\"password\":\"correct-horse\"}" "$api/api/register"
token="$(curl -fsS -m 60 -H 'Content-Type: application/json' \
  --data "{\"username\":\"$user\",\"password\":\"correct-horse\"}" "$api/api/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
echo "user $user"
req add-card POST /api/cards '{"front":"takeover","back":"probe"}'

echo "-- review <-> crud alternation"
for i in $(seq 1 "$rounds"); do
  req "review-$i" GET /api/review
  req "crud-$i" GET /api/decks
done

echo "-- concurrent pairs on review"
for i in $(seq 1 "$pairs"); do
  req "pairA-$i" GET /api/review >"$tmp/a.out" &
  a=$!
  req "pairB-$i" GET /api/review >"$tmp/b.out" &
  b=$!
  wait "$a" "$b"
  cat "$tmp/a.out" "$tmp/b.out"
done
req final GET /api/session/status
cat "$tmp/final.b"; echo
