#!/usr/bin/env python3
"""Referee for javumbo's review engine (`Collection::answer_card`), built on the official `anki`
PyPI package (v3 SM-2 scheduler, FSRS off, load balancer on but idle: no study queue).

Adapted from the team's SM-2 oracle; additionally reports the columns the engine writes besides
the scheduling state: `cards.data` (pos/lrt), `cards.mod`, `cards.usn` and the note's `tags`
(the "leech" tag), so the whole card row and the revlog row can be compared.

Reads JSON scenarios on stdin and prints, for every answer, the card state
(type, queue, ivl, due, factor, left, lapses, reps, ...) and the revlog row that
the real Anki Rust backend produced.

Input (stdin) - any of:
  {"answers": [...]}                        a single scenario
  [{"answers": [...]}, ...]                 a list of scenarios
  {"scenarios": [{"answers": [...]}, ...]}

Scenario fields (all but "answers" optional):
  answers      list of {"ease": 1..4,
                        "days_later": N    (days after the PREVIOUS answer, or
                                            after "start" for the first one; float ok),
                        "seconds_later": S (added to days_later; default 0),
                        "taken_ms": T      (revlog.time; default 0)}
  start        "2024-01-01T12:00:00" (UTC) or epoch seconds; default 2024-01-01T12:00:00.
               The collection and the card are created at this instant.
  card_id      force this card id (fuzz is seeded by card_id + reps); default: the
               creation timestamp in ms, i.e. start*1000 (deterministic).
  note_id      force this note id (default: start*1000).
  fuzz         true (default, real Anki behaviour) / false (ANKI_TEST_MODE=1: no fuzz
               at all - neither review-interval fuzz nor learning-step fuzz).
  config       overrides of the deck options, keys:
                 learn_steps [1,10], graduating_ivl 1, easy_ivl 4, initial_ease 2.5,
                 hard_mult 1.2, easy_bonus 1.3, ivl_mod 1.0, max_ivl 36500,
                 relearn_steps [10], lapse_mult 0.0, min_ivl 1, leech_fails 8,
                 leech_action 1 (0=suspend, 1=tag only)
               (defaults above are the brief's config = Anki's stock defaults)
  initial      optional starting state instead of a new card, e.g.
               {"type":2,"queue":2,"ivl":10,"factor":2500,"reps":5,"lapses":0,"left":0,
                "due_days":0}   (due_days: relative to today at start, for queue 2/3;
               due_secs: relative to start, for queue 1; or absolute "due").
               Keep reps consistent: fuzz is seeded with card_id + reps.
  name         copied to the output.

Output (stdout): JSON list, one object per scenario:
  {"name", "fuzz", "card_id", "crt", "start", "steps":[{
      "i", "ease", "now" (epoch s), "today" (days since crt),
      "secs_until_rollover",
      "before": card state before answering,
      "options": what each button would give (kind, secs / days, ease),
      "after": card state after answering (id, type, queue, ivl, due, factor,
               left, lapses, reps, odue, odid, due_in),
      "revlog": {id, cid, ease, ivl, lastIvl, factor, time, type}}]}

Time is simulated with libfaketime (LD_PRELOAD, FAKETIME_TIMESTAMP_FILE,
FAKETIME_NO_CACHE=1); the parent process re-executes itself once per scenario
under libfaketime with TZ=UTC. Requires: apt-get install libfaketime.

Usage:  echo '{"answers":[{"ease":3},{"ease":3,"seconds_later":600}]}' \
          | venv/bin/python sm2_oracle.py [--no-fuzz] [--pretty]
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
DEFAULT_START = "2024-01-01T12:00:00"

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
}


def parse_start(v) -> int:
    if v is None:
        v = DEFAULT_START
    if isinstance(v, (int, float)):
        return int(v)
    s = str(v).rstrip("Z").replace(" ", "T")
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%S"))


def fmt_faketime(ts: float) -> str:
    # absolute, frozen clock
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(ts)))


def find_faketime() -> str:
    env = os.environ.get("SM2_ORACLE_FAKETIME_LIB")
    if env:
        return env
    for p in FAKETIME_LIBS:
        if os.path.exists(p):
            return p
    sys.exit(
        "sm2_oracle: libfaketime not found (apt-get install libfaketime), "
        "or set SM2_ORACLE_FAKETIME_LIB=/path/to/libfaketime.so.1"
    )


# ---------------------------------------------------------------------------
# parent: one child process per scenario
# ---------------------------------------------------------------------------


def run_parent(scenarios: list, default_fuzz: bool, pretty: bool) -> int:
    lib = find_faketime()
    results = []
    rc = 0
    for idx, sc in enumerate(scenarios):
        fuzz = sc.get("fuzz", default_fuzz)
        start = parse_start(sc.get("start"))
        with tempfile.TemporaryDirectory(prefix="sm2oracle") as tmp:
            tsfile = os.path.join(tmp, "faketime")
            with open(tsfile, "w") as f:
                f.write(fmt_faketime(start) + "\n")
            env = dict(os.environ)
            env.update(
                {
                    "LD_PRELOAD": lib,
                    "FAKETIME_TIMESTAMP_FILE": tsfile,
                    "FAKETIME_NO_CACHE": "1",
                    "TZ": "UTC",
                    "SM2_ORACLE_CHILD_DIR": tmp,
                }
            )
            env.pop("FAKETIME", None)
            if fuzz:
                env.pop("ANKI_TEST_MODE", None)
            else:
                env["ANKI_TEST_MODE"] = "1"
            p = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--child"],
                input=json.dumps(sc),
                capture_output=True,
                text=True,
                env=env,
            )
            if p.returncode != 0:
                rc = 1
                print(
                    f"sm2_oracle: scenario {sc.get('name', idx)} failed: "
                    f"{(p.stderr or p.stdout).strip().splitlines()[-1:]}",
                    file=sys.stderr,
                )
                results.append(
                    {
                        "name": sc.get("name", f"scenario{idx}"),
                        "error": (p.stderr or p.stdout)[-4000:],
                    }
                )
                continue
            out = json.loads(p.stdout)
            out["name"] = sc.get("name", f"scenario{idx}")
            out["fuzz"] = bool(fuzz)
            results.append(out)
    print(json.dumps(results, indent=2 if pretty else None))
    return rc


# ---------------------------------------------------------------------------
# child: runs under libfaketime; does the real work with the anki library
# ---------------------------------------------------------------------------


def state_to_json(state) -> dict:
    """scheduler_pb2.SchedulingState -> compact dict."""
    kind = state.WhichOneof("kind")
    if kind == "filtered":
        return {"kind": "filtered"}
    normal = state.normal
    nk = normal.WhichOneof("kind")
    if nk == "new":
        return {"kind": "new", "position": normal.new.position}
    if nk == "learning":
        lrn = normal.learning
        return {
            "kind": "learning",
            "remaining_steps": lrn.remaining_steps,
            "scheduled_secs": lrn.scheduled_secs,
        }
    if nk == "review":
        r = normal.review
        return {
            "kind": "review",
            "scheduled_days": r.scheduled_days,
            "elapsed_days": r.elapsed_days,
            "ease_factor": round(r.ease_factor, 4),
            "lapses": r.lapses,
            "leeched": r.leeched,
        }
    if nk == "relearning":
        rl = normal.relearning
        return {
            "kind": "relearning",
            "remaining_steps": rl.learning.remaining_steps,
            "scheduled_secs": rl.learning.scheduled_secs,
            "review_scheduled_days": rl.review.scheduled_days,
            "ease_factor": round(rl.review.ease_factor, 4),
            "lapses": rl.review.lapses,
            "leeched": rl.review.leeched,
        }
    return {"kind": str(nk)}


def run_child() -> int:
    sc = json.loads(sys.stdin.read())
    tsfile = os.environ["FAKETIME_TIMESTAMP_FILE"]
    start = parse_start(sc.get("start"))

    def set_now(ts: float) -> None:
        with open(tsfile, "w") as f:
            f.write(fmt_faketime(ts) + "\n")
        # sanity check that libfaketime is active
        if abs(time.time() - int(ts)) > 2:
            raise SystemExit(
                f"sm2_oracle: libfaketime not effective (time.time()={time.time()}, wanted {ts})"
            )

    if os.environ.get("ANKI_TEST_MODE") and 2 <= time.gmtime(start).tm_hour < 4:
        raise SystemExit(
            "sm2_oracle: start falls between 02:00 and 04:00 UTC, which cannot be simulated "
            "with fuzz off (ANKI_TEST_MODE shifts the backend clock back 2h there)."
        )
    set_now(start)

    from anki.collection import Collection
    from anki.scheduler_pb2 import CardAnswer

    cfg = dict(DEFAULT_CONFIG)
    cfg.update(sc.get("config") or {})

    path = os.path.join(os.environ["SM2_ORACLE_CHILD_DIR"], "collection.anki2")
    col = Collection(path)
    try:
        # --- scheduler flags: v3 SM-2, no FSRS, load balancer as by default ---
        # The balancer only exists with a built study queue; these answers have none (nor
        # does javumbo's answer_card without a study session): plain fuzz on both sides.
        col.set_config("fsrs", False)
        col.set_config("loadBalancerEnabled", True)
        assert col.v3_scheduler(), "v3 scheduler expected"

        # --- deck options (deck config id 1 = 'Default') ----------------------
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
        conf["new"]["perDay"] = 9999
        conf["rev"]["perDay"] = 9999
        conf["new"]["bury"] = False
        conf["rev"]["bury"] = False
        col.decks.update_config(conf)
        stored = col.decks.get_config(1)

        # --- one Basic note -> one card ---------------------------------------
        model = col.models.by_name("Basic")
        note = col.new_note(model)
        note["Front"] = "front"
        note["Back"] = "back"
        col.add_note(note, 1)
        cid = note.card_ids()[0]
        if "card_id" in sc:
            new = int(sc["card_id"])
            col.db.execute("update cards set id=? where id=?", new, cid)
            cid = new
        if "note_id" in sc:
            nid = int(sc["note_id"])
            col.db.execute("update cards set nid=? where nid=?", nid, note.id)
            col.db.execute("update notes set id=? where id=?", nid, note.id)

        init = sc.get("initial")
        if init:
            # start from an arbitrary card state instead of a new card
            c = col.get_card(cid)
            today0 = col.sched.today
            fields = {k: init[k] for k in ("type", "queue", "ivl", "factor", "reps", "lapses", "left")
                      if k in init}
            if "due_days" in init:
                fields["due"] = today0 + int(init["due_days"])
            elif "due_secs" in init:
                fields["due"] = start + int(init["due_secs"])
            elif "due" in init:
                fields["due"] = int(init["due"])
            for k, v in fields.items():
                col.db.execute(f"update cards set {k}=? where id=?", int(v), cid)

        def card_state() -> dict:
            c = col.get_card(cid)
            today = col.sched.today
            now = int(time.time())
            if c.queue in (1, 4):
                due_in = {"secs": c.due - now}
            elif c.queue in (2, 3):
                due_in = {"days": c.due - today}
            else:
                due_in = None
            return {
                "id": c.id,
                "type": c.type,
                "queue": c.queue,
                "ivl": c.ivl,
                "due": c.due,
                "factor": c.factor,
                "left": c.left,
                "lapses": c.lapses,
                "reps": c.reps,
                "odue": c.odue,
                "odid": c.odid,
                "data": col.db.scalar("select data from cards where id=?", cid),
                "mod": col.db.scalar("select mod from cards where id=?", cid),
                "usn": col.db.scalar("select usn from cards where id=?", cid),
                "tags": col.db.scalar("select n.tags from notes n join cards c on c.nid = n.id where c.id=?", cid),
                "due_in": due_in,
            }

        steps = []
        now = start
        for i, ans in enumerate(sc.get("answers", [])):
            ease = int(ans["ease"])
            if ease not in (1, 2, 3, 4):
                raise SystemExit(f"bad ease {ease}")
            delta = float(ans.get("days_later", 0)) * 86400 + float(ans.get("seconds_later", 0))
            if delta < 0:
                raise SystemExit(f"sm2_oracle: answer {i}: time may not go backwards")
            now = now + delta
            now = int(now)
            if os.environ.get("ANKI_TEST_MODE") and 2 <= time.gmtime(now).tm_hour < 4:
                raise SystemExit(
                    f"sm2_oracle: answer {i} falls at {fmt_faketime(now)} UTC; with fuzz off "
                    "(ANKI_TEST_MODE) the Anki backend shifts its clock back 2h between "
                    "02:00 and 04:00 local time, so such times cannot be simulated. "
                    "Move the answer out of 02:00-04:00 or keep fuzz on."
                )
            set_now(now)
            before = card_state()
            states = col._backend.get_scheduling_states(cid)
            options = {
                "again": state_to_json(states.again),
                "hard": state_to_json(states.hard),
                "good": state_to_json(states.good),
                "easy": state_to_json(states.easy),
            }
            new_state = [states.again, states.hard, states.good, states.easy][ease - 1]
            answer = CardAnswer(
                card_id=cid,
                current_state=states.current,
                new_state=new_state,
                rating=[
                    CardAnswer.AGAIN,
                    CardAnswer.HARD,
                    CardAnswer.GOOD,
                    CardAnswer.EASY,
                ][ease - 1],
                answered_at_millis=now * 1000,
                milliseconds_taken=int(ans.get("taken_ms", 0)),
            )
            col.sched.answer_card(answer)
            after = card_state()
            row = col.db.first(
                "select id, cid, usn, ease, ivl, lastIvl, factor, time, type "
                "from revlog where cid=? order by id desc limit 1",
                cid,
            )
            revlog = dict(
                zip(
                    ["id", "cid", "usn", "ease", "ivl", "lastIvl", "factor", "time", "type"],
                    row,
                )
            )
            timing = col._backend.sched_timing_today()
            steps.append(
                {
                    "i": i,
                    "ease": ease,
                    "now": now,
                    "today": col.sched.today,
                    "secs_until_rollover": timing.next_day_at - now,
                    "current": state_to_json(states.current),
                    "before": before,
                    "options": options,
                    "after": after,
                    "revlog": revlog,
                }
            )

        out = {
            "card_id": cid,
            "crt": col.crt,
            "start": start,
            "anki_version": __import__("anki.buildinfo").buildinfo.version,
            "deck_config": {
                "new": stored["new"],
                "rev": {k: stored["rev"][k] for k in ("ease4", "ivlFct", "maxIvl", "hardFactor")},
                "lapse": stored["lapse"],
            },
            "steps": steps,
        }
        print(json.dumps(out))
    finally:
        col.close()
    return 0


def main() -> int:
    args = sys.argv[1:]
    if "--child" in args:
        return run_child()
    data = json.loads(sys.stdin.read())
    if isinstance(data, dict) and "scenarios" in data:
        scenarios = data["scenarios"]
    elif isinstance(data, dict):
        scenarios = [data]
    else:
        scenarios = data
    return run_parent(scenarios, default_fuzz="--no-fuzz" not in args, pretty="--pretty" in args)


if __name__ == "__main__":
    sys.exit(main())
