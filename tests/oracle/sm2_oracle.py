#!/usr/bin/env python3
"""SM-2 referee: replays answer scenarios through the official `anki` package (v3 scheduler,
FSRS off, load balancer on as by default but idle: no study queue is built, fuzz on) and prints what real Anki wrote after every answer.

Input (stdin): a JSON list of scenarios (or {"scenarios": [...]}, or one scenario object):
  {
    "name":    free text, echoed back,
    "start":   epoch seconds of the first answer (or "YYYY-MM-DDTHH:MM:SS" UTC),
    "card_id": optional forced card id,
    "config":  optional deck options: learn_steps, graduating_ivl, easy_ivl, initial_ease,
               hard_mult, easy_bonus, ivl_mod, max_ivl, relearn_steps, lapse_mult, min_ivl,
               leech_fails, leech_action, max_taken,
    "answers": [{"ease": 1-4, "seconds_later": n, "taken_ms": n}, ...]
               (seconds_later counts from the previous answer, or from start; integers >= 0)
  }

Output (stdout): a JSON list, one object per scenario, in input order:
  {"name", "card_id", "crt", "anki_version", "steps": [{
      "now", "today", "next_day_at",
      "after":  {type, queue, due, ivl, factor, left, lapses, reps},
      "revlog": {ease, ivl, lastIvl, factor, time, type},
      "leech":  whether the note carries the "leech" tag,
      "labels": the four answer-button labels before answering ("<10m", "4d", ...)}]}

Speed: all scenarios run in a few long-lived worker processes (one per CPU, at most
--workers) under libfaketime; each scenario gets a fresh collection in its own temp dir and the
fake clock is moved by rewriting the timestamp file before every answer (it may go backwards
between scenarios). Every collection is created at its scenario's start time, so crt is the
04:00 UTC rollover of that day (TZ=UTC).
"""
from __future__ import annotations

import calendar
import json
import os
import subprocess
import sys
import tempfile
import time

FAKETIME_LIBS = [
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
]


def parse_start(v) -> int:
    if v is None:
        v = "2024-01-01T12:00:00"
    if isinstance(v, (int, float)):
        return int(v)
    s = str(v).rstrip("Z").replace(" ", "T")
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%S"))


def fmt_faketime(ts: int) -> str:
    # An absolute timestamp without '@' is a frozen clock in libfaketime.
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(ts)))


def find_faketime() -> str:
    env = os.environ.get("SM2_ORACLE_FAKETIME_LIB")
    if env:
        return env
    for p in FAKETIME_LIBS:
        if os.path.exists(p):
            return p
    sys.exit("sm2_oracle: libfaketime not found (apt-get install libfaketime)")


# ---------------------------------------------------------------------------
# parent: split the scenarios over a few workers, merge their results in order
# ---------------------------------------------------------------------------


def run_parent(scenarios: list, workers: int) -> int:
    lib = find_faketime()
    workers = max(1, min(workers, len(scenarios)))
    chunks = [list(range(i, len(scenarios), workers)) for i in range(workers)]
    procs = []
    with tempfile.TemporaryDirectory(prefix="sm2oracle") as tmp:
        for w, idxs in enumerate(chunks):
            tsfile = os.path.join(tmp, f"faketime{w}")
            first = parse_start(scenarios[idxs[0]].get("start"))
            with open(tsfile, "w") as f:
                f.write(fmt_faketime(first) + "\n")
            env = dict(os.environ)
            env.update(
                {
                    "LD_PRELOAD": lib,
                    "FAKETIME_TIMESTAMP_FILE": tsfile,
                    "FAKETIME_NO_CACHE": "1",
                    "TZ": "UTC",
                }
            )
            env.pop("FAKETIME", None)
            # Test mode disables fuzz and shifts the backend clock: never let it leak in.
            env.pop("ANKI_TEST_MODE", None)
            p = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            procs.append((p, idxs))
        results = [None] * len(scenarios)
        rc = 0
        # Feed every worker before reading any output so they run concurrently.
        for p, idxs in procs:
            p.stdin.write(json.dumps([scenarios[i] for i in idxs]))
            p.stdin.close()
        for p, idxs in procs:
            out = p.stdout.read()
            err = p.stderr.read()
            if p.wait() != 0:
                sys.stderr.write(err)
                rc = 1
                continue
            for i, res in zip(idxs, json.loads(out)):
                results[i] = res
    print(json.dumps(results))
    return rc


# ---------------------------------------------------------------------------
# worker: runs under libfaketime; does the real work with the anki library
# ---------------------------------------------------------------------------

DEFAULT_CONFIG = {
    "learn_steps": [1.0, 10.0],
    "graduating_ivl": 1,
    "easy_ivl": 4,
    "initial_ease": 2.5,
    "hard_mult": 1.2,
    "easy_bonus": 1.3,
    "ivl_mod": 1.0,
    "max_ivl": 36500,
    "relearn_steps": [10.0],
    "lapse_mult": 0.0,
    "min_ivl": 1,
    "leech_fails": 8,
    "leech_action": 1,
    "max_taken": 60,
}


def run_worker() -> int:
    from anki.collection import Collection
    from anki.scheduler_pb2 import CardAnswer

    version = __import__("anki.buildinfo").buildinfo.version
    tsfile = os.environ["FAKETIME_TIMESTAMP_FILE"]

    def set_now(ts: int) -> None:
        # Atomic replace: libfaketime re-reads the file on every clock call (from any thread)
        # and must never see it truncated or half written.
        tmp = tsfile + ".tmp"
        with open(tmp, "w") as f:
            f.write(fmt_faketime(ts) + "\n")
        os.replace(tmp, tsfile)
        if not 0 <= ts < 2**40:
            raise SystemExit(f"sm2_oracle: time {ts} out of range")
        if abs(time.time() - ts) > 2:
            raise SystemExit(f"sm2_oracle: libfaketime not effective ({time.time()} != {ts})")

    ratings = [CardAnswer.AGAIN, CardAnswer.HARD, CardAnswer.GOOD, CardAnswer.EASY]
    results = []
    for sc in json.loads(sys.stdin.read()):
        start = parse_start(sc.get("start"))
        cfg = dict(DEFAULT_CONFIG)
        cfg.update(sc.get("config") or {})
        set_now(start)
        with tempfile.TemporaryDirectory(prefix="sm2col") as tmp:
            col = Collection(os.path.join(tmp, "collection.anki2"))
            try:
                results.append(run_scenario(col, sc, cfg, start, set_now, ratings, CardAnswer))
            finally:
                col.close()
        results[-1]["anki_version"] = version
    print(json.dumps(results))
    return 0


def run_scenario(col, sc, cfg, start, set_now, ratings, CardAnswer) -> dict:
    col.set_config("fsrs", False)
    # Anki's default. The balancer only exists with a built study queue, and these answers go
    # through get_scheduling_states() without one: plain fuzz, as javumbo's pure scheduler.
    col.set_config("loadBalancerEnabled", True)
    assert col.v3_scheduler(), "v3 scheduler expected"

    conf = col.decks.get_config(1)
    conf["new"]["delays"] = [float(x) for x in cfg["learn_steps"]]
    conf["new"]["ints"] = [int(cfg["graduating_ivl"]), int(cfg["easy_ivl"]), 0]
    conf["new"]["initialFactor"] = int(round(float(cfg["initial_ease"]) * 1000))
    conf["rev"]["hardFactor"] = float(cfg["hard_mult"])
    conf["rev"]["ease4"] = float(cfg["easy_bonus"])
    conf["rev"]["ivlFct"] = float(cfg["ivl_mod"])
    conf["rev"]["maxIvl"] = int(cfg["max_ivl"])
    conf["lapse"]["delays"] = [float(x) for x in cfg["relearn_steps"]]
    conf["lapse"]["mult"] = float(cfg["lapse_mult"])
    conf["lapse"]["minInt"] = int(cfg["min_ivl"])
    conf["lapse"]["leechFails"] = int(cfg["leech_fails"])
    conf["lapse"]["leechAction"] = int(cfg["leech_action"])
    conf["maxTaken"] = int(cfg["max_taken"])
    conf["new"]["perDay"] = 9999
    conf["rev"]["perDay"] = 9999
    conf["new"]["bury"] = False
    conf["rev"]["bury"] = False
    col.decks.update_config(conf)

    note = col.new_note(col.models.by_name("Basic"))
    note["Front"] = "front"
    note["Back"] = "back"
    col.add_note(note, 1)
    cid = note.card_ids()[0]
    if "card_id" in sc:
        new = int(sc["card_id"])
        col.db.execute("update cards set id=? where id=?", new, cid)
        cid = new

    steps = []
    now = start
    for i, ans in enumerate(sc.get("answers", [])):
        ease = int(ans["ease"])
        delta = int(ans.get("seconds_later", 0))
        if delta < 0 or ease not in (1, 2, 3, 4):
            raise SystemExit(f"sm2_oracle: bad answer {i}: {ans}")
        now += delta
        set_now(now)
        states = col._backend.get_scheduling_states(cid)
        # Button labels as the desktop shows them; Fluent wraps numbers in bidi isolation marks.
        labels = [
            label.replace("\u2068", "").replace("\u2069", "")
            for label in col.sched.describe_next_states(states)
        ]
        new_state = [states.again, states.hard, states.good, states.easy][ease - 1]
        col.sched.answer_card(
            CardAnswer(
                card_id=cid,
                current_state=states.current,
                new_state=new_state,
                rating=ratings[ease - 1],
                answered_at_millis=now * 1000,
                milliseconds_taken=int(ans.get("taken_ms", 0)),
            )
        )
        c = col.get_card(cid)
        row = col.db.first(
            "select ease, ivl, lastIvl, factor, time, type from revlog "
            "where cid=? order by id desc limit 1",
            cid,
        )
        timing = col._backend.sched_timing_today()
        steps.append(
            {
                "now": now,
                "today": timing.days_elapsed,
                "next_day_at": timing.next_day_at,
                "after": {
                    "type": c.type,
                    "queue": c.queue,
                    "due": c.due,
                    "ivl": c.ivl,
                    "factor": c.factor,
                    "left": c.left,
                    "lapses": c.lapses,
                    "reps": c.reps,
                },
                "revlog": dict(zip(["ease", "ivl", "lastIvl", "factor", "time", "type"], row)),
                "leech": col.get_note(c.nid).has_tag("leech"),
                "labels": labels,
            }
        )
    return {"name": sc.get("name"), "card_id": cid, "crt": col.crt, "steps": steps}


def main() -> int:
    args = sys.argv[1:]
    if "--worker" in args:
        return run_worker()
    workers = os.cpu_count() or 1
    if "--workers" in args:
        workers = int(args[args.index("--workers") + 1])
    data = json.loads(sys.stdin.read())
    if isinstance(data, dict):
        data = data.get("scenarios", [data])
    return run_parent(data, workers)


if __name__ == "__main__":
    sys.exit(main())
