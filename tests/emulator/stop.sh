#!/usr/bin/env bash
# Stop the ministack started by start.sh (and the Lambda processes it spawned: it runs in its
# own session, so the whole process group goes). SIGKILL if it ignores SIGTERM.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
state="$root/.emulator"
[[ -f "$state/pid" ]] || { rm -rf "$state/tmp"; echo "no emulator recorded in $state"; exit 0; }
pid="$(cat "$state/pid")"
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
fi
rm -f "$state/pid" "$state/port" "$state/endpoint" "$state/url"
rm -rf "$state/tmp"   # start.sh's TMPDIR for it (the unzipped function code)
echo "ministack stopped"
