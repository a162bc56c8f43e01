#!/usr/bin/env python3
"""Burying and suspending, refereed: replays a list of operations on a copy of a collection file
javumbo wrote, in the official `anki` package under libfaketime (TZ from the input), and dumps
every card row and note's tags after each operation.

Input (stdin): {"path": collection file, "tz": IANA zone, "ops": [
   {"at": epoch secs, "op": "study"}                     deck list (unburies after a rollover)
   {"at", "op": "answer", "card": id, "ease": 1-4, "taken_ms": n}
   {"at", "op": "bury" | "suspend" | "restore", "card": id}]}
Output (stdout): {"steps": [{"cards": [[id, type, queue, due, ivl, factor, reps, lapses, left,
                                          mod, usn], ...], "tags": {nid: tags}}]}
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


def run_parent(case: dict) -> int:
    lib = find_faketime()
    with tempfile.TemporaryDirectory(prefix="buryoracle") as tmp:
        tsfile = os.path.join(tmp, "faketime")
        with open(tsfile, "w") as f:
            f.write(fmt_faketime(case["ops"][0]["at"]) + "\n")
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
        p = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--worker", tmp],
            input=json.dumps(case),
            capture_output=True,
            text=True,
            env=env,
        )
        if p.returncode != 0:
            sys.stderr.write(p.stderr)
            return 1
        sys.stdout.write(p.stdout)
    return 0


def run_worker(tmp: str) -> int:
    from anki.collection import Collection
    from anki.scheduler_pb2 import CardAnswer

    case = json.loads(sys.stdin.read())
    tsfile = os.environ["FAKETIME_TIMESTAMP_FILE"]

    def set_now(ts: int) -> None:
        part = tsfile + ".tmp"
        with open(part, "w") as f:
            f.write(fmt_faketime(ts) + "\n")
        os.replace(part, tsfile)
        if abs(time.time() - ts) > 2:
            raise SystemExit(f"bury_oracle: libfaketime not effective ({time.time()} != {ts})")

    path = os.path.join(tmp, "collection.anki2")
    shutil.copyfile(case["path"], path)
    set_now(case["ops"][0]["at"])
    col = Collection(path)
    ratings = [CardAnswer.AGAIN, CardAnswer.HARD, CardAnswer.GOOD, CardAnswer.EASY]
    steps = []
    try:
        # Same settings as the javumbo side: no load balancer (not modelled yet), SM-2.
        col.set_config("fsrs", False)
        col.set_config("loadBalancerEnabled", False)
        for op in case["ops"]:
            set_now(int(op["at"]))
            kind = op["op"]
            if kind == "study":
                col.sched.deck_due_tree()
            elif kind == "answer":
                cid = int(op["card"])
                states = col._backend.get_scheduling_states(cid)
                ease = int(op["ease"])
                col.sched.answer_card(
                    CardAnswer(
                        card_id=cid,
                        current_state=states.current,
                        new_state=[states.again, states.hard, states.good, states.easy][ease - 1],
                        rating=ratings[ease - 1],
                        answered_at_millis=int(op["at"]) * 1000,
                        milliseconds_taken=int(op.get("taken_ms", 0)),
                    )
                )
            elif kind == "bury":
                col.sched.bury_cards([int(op["card"])], manual=True)
            elif kind == "suspend":
                col.sched.suspend_cards([int(op["card"])])
            elif kind == "restore":
                col.sched.unsuspend_cards([int(op["card"])])
            else:
                raise SystemExit(f"bury_oracle: unknown op {kind}")
            cards = col.db.all(
                "select id, type, queue, due, ivl, factor, reps, lapses, left, mod, usn "
                "from cards order by id"
            )
            tags = {str(nid): t for nid, t in col.db.all("select id, tags from notes")}
            steps.append({"cards": cards, "tags": tags})
    finally:
        col.close()
    print(json.dumps({"steps": steps}))
    return 0


def main() -> int:
    if "--worker" in sys.argv:
        return run_worker(sys.argv[sys.argv.index("--worker") + 1])
    return run_parent(json.loads(sys.stdin.read()))


if __name__ == "__main__":
    sys.exit(main())
