#!/usr/bin/env python3
"""The student's day, refereed: opens collection files javumbo wrote in the official `anki`
package on a "device" in a given IANA time zone (TZ=<zone>) under libfaketime, and reports what
Anki computes as today at each instant.

Input (stdin): a JSON list of cases:
  {"name", "path": a schema-11 collection file javumbo wrote, "tz": IANA name,
   "instants": [epoch seconds, ...]}
Output (stdout): a JSON list, one object per case:
  {"name", "crt", "rollover", "creationOffset", "steps": [{"now", "today", "next_day_at"}]}

Each instant reopens the collection (on a copy of the file): Anki caches its timing until the
cached rollover passes, and a fresh open is what a device opening an export computes.
Every case runs in its own process (TZ is read once per process).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from sm2_oracle import find_faketime


def fmt_faketime(ts: int) -> str:
    # Epoch seconds (FAKETIME_FMT=%s): a local date-time string would be ambiguous in the hour a
    # DST change repeats, and libfaketime reads it in the process's TZ.
    return str(int(ts))


def spawn(lib: str, tmp: str, i: int, case: dict) -> subprocess.Popen:
    tsfile = os.path.join(tmp, f"faketime{i}")
    with open(tsfile, "w") as f:
        f.write(fmt_faketime(case["instants"][0]) + "\n")
    env = dict(os.environ)
    env.update(
        {
            "LD_PRELOAD": lib,
            "FAKETIME_TIMESTAMP_FILE": tsfile,
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_FMT": "%s",
            "TZ": case["tz"],
        }
    )
    env.pop("FAKETIME", None)
    env.pop("ANKI_TEST_MODE", None)
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--worker", tmp],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def run_parent(cases: list) -> int:
    lib = find_faketime()
    results = []
    with tempfile.TemporaryDirectory(prefix="dayoracle") as tmp:
        # Two workers at a time: the machine is shared and each loads the anki backend.
        for start in range(0, len(cases), 2):
            procs = []
            for i, case in enumerate(cases[start : start + 2], start):
                procs.append((spawn(lib, tmp, i, case), case))
            for p, case in procs:
                out, err = p.communicate(json.dumps(case))
                if p.returncode != 0:
                    sys.stderr.write(err)
                    return 1
                results.append(json.loads(out))
    print(json.dumps(results))
    return 0


def run_worker(tmp: str) -> int:
    from anki.collection import Collection

    case = json.loads(sys.stdin.read())
    tsfile = os.environ["FAKETIME_TIMESTAMP_FILE"]

    def set_now(ts: int) -> None:
        part = tsfile + ".tmp"
        with open(part, "w") as f:
            f.write(fmt_faketime(ts) + "\n")
        os.replace(part, tsfile)
        if abs(time.time() - ts) > 2:
            raise SystemExit(f"day_oracle: libfaketime not effective ({time.time()} != {ts})")

    work = tempfile.mkdtemp(prefix="daycol", dir=tmp)
    path = os.path.join(work, "collection.anki2")
    shutil.copyfile(case["path"], path)
    steps = []
    info = {}
    for now in case["instants"]:
        set_now(int(now))
        col = Collection(path)
        try:
            t = col._backend.sched_timing_today()
            steps.append({"now": int(now), "today": t.days_elapsed, "next_day_at": t.next_day_at})
            if not info:
                info = {
                    "crt": col.crt,
                    "rollover": col.get_config("rollover", None),
                    "creationOffset": col.get_config("creationOffset", None),
                }
        finally:
            col.close()
    print(json.dumps({"name": case["name"], **info, "steps": steps}))
    return 0


def main() -> int:
    if "--worker" in sys.argv:
        return run_worker(sys.argv[sys.argv.index("--worker") + 1])
    return run_parent(json.loads(sys.stdin.read()))


if __name__ == "__main__":
    sys.exit(main())
