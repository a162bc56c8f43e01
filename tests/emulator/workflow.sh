#!/usr/bin/env bash
# One user's workflow against the deployed API (make emulator-up), timed with curl:
# register, login, add a card, GET/POST /api/review, export, then WARM more review rounds.
# Each line: `<label> <http status> <seconds>`; the export lands in .emulator/export.apkg.
# Not part of `make test`: a manual probe of the emulator deployment (see README.md here).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
state="$root/.emulator"
api="${1:-$(cat "$state/url")}"
warm="${WARM:-10}"
user="u$(date +%s%N | tail -c 9)"
body="$(mktemp)"
trap 'rm -f "$body"' EXIT

# call LABEL METHOD PATH [JSON]: prints the timing line, leaves the body in $body.
call() {
  local label="$1" method="$2" path="$3" data="${4:-}" args=()
  [[ -n "${token:-}" ]] && args+=(-H "Authorization: Bearer $token")
  [[ -n "$data" ]] && args+=(-H 'Content-Type: application/json' --data "$data")
  read -r code secs < <(curl -sS -m 60 -o "$body" -w '%{http_code} %{time_total}\n' \
    -X "$method" "${args[@]}" "$api$path")
  printf '%-14s %s %s\n' "$label" "$code" "$secs"
  [[ "$code" == 2* ]] || { echo "  body: $(head -c 300 "$body")" >&2; return 1; }
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$body" "$1"; }

echo "user $user on $api"
call register POST /api/register "{\"username\":\"$user\",\"name\":\"Emu\",\"password\":\"correct-horse\"}"
call login POST /api/login "{\"username\":\"$user\",\"password\":\"correct-horse\"}"
token="$(field access_token)"
for i in $(seq 1 "$warm"); do
  call "add-card" POST /api/cards "{\"front\":\"q$i\",\"back\":\"a$i\"}"
done
call get-review GET /api/review
card="$(field cardId)"
call post-review POST /api/review "{\"cardId\":$card,\"ease\":3,\"timeTaken\":1500}"
call export GET /api/export
cp "$body" "$state/export.apkg"
python3 -c 'import sys,zipfile; print("export zip:", sorted(zipfile.ZipFile(sys.argv[1]).namelist()))' "$state/export.apkg"
for i in $(seq 1 "$warm"); do
  call get-review GET /api/review
  card="$(field cardId 2>/dev/null || true)"
  [[ "$card" =~ ^[0-9]+$ ]] || break
  call post-review POST /api/review "{\"cardId\":$card,\"ease\":4,\"timeTaken\":900}"
done
call session GET /api/session/status
echo "token $token"
