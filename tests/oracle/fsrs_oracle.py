#!/usr/bin/env python3
"""Referee for javumbo's FSRS (official `anki` package, FSRS on, load balancer off).

Two modes, both reading JSON on stdin and printing JSON:

* answers (default): like engine_oracle.py, one fresh collection per scenario, one card answered
  at faked instants; the preset additionally has FSRS on. Extra scenario keys:
    fsrs: {"params": [...] (fsrsParams6, [] = defaults), "desired_retention": 0.9,
           "historical_retention": 0.9, "short_term_with_steps": false}
  Each step also reports the four button labels (`describe_next_states`).

* --history: {"path": <schema-11 collection written by javumbo>, "now": epoch secs,
              "optimize": true}
  Opens a copy of the file at `now`, switches FSRS on through the deck-options update (which
  recomputes every memory state from the revlog), and reports every card's `data`; with
  "optimize", also the parameters `compute_fsrs_params` finds for preset 1 as the
  deck-options "Optimize" button asks for them.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_oracle as eo  # noqa: E402


def run_parent(jobs: list, mode: str) -> int:
    lib = eo.find_faketime()
    results = []
    for idx, job in enumerate(jobs):
        start = eo.parse_start(job.get("start") if mode == "answers" else job["now"])
        with tempfile.TemporaryDirectory(prefix="fsrsoracle") as tmp:
            tsfile = os.path.join(tmp, "faketime")
            with open(tsfile, "w") as f:
                f.write(eo.fmt_faketime(start) + "\n")
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
            env.pop("ANKI_TEST_MODE", None)
            p = subprocess.run(
                [sys.executable, os.path.abspath(__file__), "--child", mode],
                input=json.dumps(job),
                capture_output=True,
                text=True,
                env=env,
            )
            if p.returncode != 0:
                results.append({"name": job.get("name", idx), "error": (p.stderr or p.stdout)[-4000:]})
                continue
            out = json.loads(p.stdout)
            out["name"] = job.get("name", f"job{idx}")
            results.append(out)
    print(json.dumps(results))
    # A failed job is reported in its "error" field, so the caller can show it.
    return 0


def set_now(ts: int) -> None:
    with open(os.environ["FAKETIME_TIMESTAMP_FILE"], "w") as f:
        f.write(eo.fmt_faketime(ts) + "\n")
    if abs(time.time() - int(ts)) > 2:
        raise SystemExit(f"fsrs_oracle: libfaketime not effective ({time.time()} vs {ts})")


def enable_fsrs(col, enabled: bool = True) -> None:
    """Save the deck options with the FSRS switch on, as the deck-options screen does."""
    from anki.deck_config_pb2 import UpdateDeckConfigsRequest

    cur = col._backend.get_deck_configs_for_update(1)
    configs = [c.config for c in cur.all_config]
    configs.sort(key=lambda c: c.id == 1)  # the selected preset goes last
    col.decks.update_deck_configs(
        UpdateDeckConfigsRequest(
            target_deck_id=1,
            configs=configs,
            removed_config_ids=[],
            card_state_customizer=cur.card_state_customizer,
            limits=cur.current_deck.limits,
            new_cards_ignore_review_limit=cur.new_cards_ignore_review_limit,
            apply_all_parent_limits=cur.apply_all_parent_limits,
            fsrs=enabled,
            fsrs_reschedule=False,
            fsrs_health_check=False,
        )
    )


def child_history() -> int:
    job = json.loads(sys.stdin.read())
    set_now(int(job["now"]))
    from anki.collection import Collection

    path = os.path.join(os.environ["SM2_ORACLE_CHILD_DIR"], "collection.anki2")
    shutil.copy(job["path"], path)
    col = Collection(path)
    try:
        col.set_config("loadBalancerEnabled", False)
        enable_fsrs(col)
        cards = {
            str(cid): data
            for cid, data in col.db.all("select id, data from cards order by id")
        }
        out = {"cards": cards}
        if job.get("optimize"):
            conf = col.decks.get_config(1)
            steps = conf["lapse"]["delays"]
            in_day, total = 0, 0.0
            for s in steps:
                total += s
                if total >= 1440:
                    break
                in_day += 1
            t0 = time.time()
            resp = col._backend.compute_fsrs_params(
                search=f'preset:"{conf["name"]}" -is:suspended',
                current_params=[],
                ignore_revlogs_before_ms=0,
                num_of_relearning_steps=in_day,
                health_check=False,
            )
            out["optimized"] = {
                "params": list(resp.params),
                "fsrs_items": resp.fsrs_items,
                "secs": time.time() - t0,
            }
        print(json.dumps(out))
    finally:
        col.close()
    return 0


def child_answers() -> int:
    sc = json.loads(sys.stdin.read())
    start = eo.parse_start(sc.get("start"))
    set_now(start)
    from anki.collection import Collection
    from anki.scheduler_pb2 import CardAnswer

    cfg = dict(eo.DEFAULT_CONFIG)
    cfg.update(sc.get("config") or {})
    fsrs = sc.get("fsrs") or {}

    path = os.path.join(os.environ["SM2_ORACLE_CHILD_DIR"], "collection.anki2")
    col = Collection(path)
    try:
        col.set_config("fsrs", True)
        # Anki's default: the load balancer on. It only acts while a study queue exists, so
        # each answer is taken from get_queued_cards() when the queue serves the card.
        col.set_config("loadBalancerEnabled", True)
        col.set_config("fsrsShortTermWithStepsEnabled", bool(fsrs.get("short_term_with_steps", False)))
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
        conf["fsrsParams6"] = [float(x) for x in fsrs.get("params", [])]
        conf["desiredRetention"] = float(fsrs.get("desired_retention", 0.9))
        conf["sm2Retention"] = float(fsrs.get("historical_retention", 0.9))
        col.decks.update_config(conf)

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
        init = sc.get("initial")
        if init:
            fields = {k: init[k] for k in ("type", "queue", "ivl", "factor", "reps", "lapses", "left") if k in init}
            if "due_days" in init:
                fields["due"] = col.sched.today + int(init["due_days"])
            elif "due_secs" in init:
                fields["due"] = start + int(init["due_secs"])
            for k, v in fields.items():
                col.db.execute(f"update cards set {k}=? where id=?", int(v), cid)

        def card_state() -> dict:
            row = col.db.first(
                "select type, queue, ivl, due, factor, left, lapses, reps, odue, odid, data, mod, usn "
                "from cards where id=?",
                cid,
            )
            d = dict(zip(["type", "queue", "ivl", "due", "factor", "left", "lapses", "reps", "odue",
                          "odid", "data", "mod", "usn"], row))
            d["tags"] = col.db.scalar(
                "select n.tags from notes n join cards c on c.nid = n.id where c.id=?", cid)
            return d

        steps = []
        now = start
        for i, ans in enumerate(sc.get("answers", [])):
            ease = int(ans["ease"])
            now = int(now + float(ans.get("days_later", 0)) * 86400 + float(ans.get("seconds_later", 0)))
            set_now(now)
            queued = col.sched.get_queued_cards(fetch_limit=1)
            served = bool(queued.cards) and queued.cards[0].card.id == cid
            if not served:
                # An early answer (the card is not in the queue): Anki only answers the head
                # of a queue, so drop the queue first (switching the balancer off and on is
                # an op that does), and with it the balancer.
                col.load_balancer_enabled = False
                col.load_balancer_enabled = True
            states = col._backend.get_scheduling_states(cid)
            labels = list(col.sched.describe_next_states(states))
            new_state = [states.again, states.hard, states.good, states.easy][ease - 1]
            col.sched.answer_card(
                CardAnswer(
                    card_id=cid,
                    current_state=states.current,
                    new_state=new_state,
                    rating=[CardAnswer.AGAIN, CardAnswer.HARD, CardAnswer.GOOD, CardAnswer.EASY][ease - 1],
                    answered_at_millis=now * 1000,
                    milliseconds_taken=int(ans.get("taken_ms", 0)),
                )
            )
            row = col.db.first(
                "select id, cid, usn, ease, ivl, lastIvl, factor, time, type "
                "from revlog where cid=? order by id desc limit 1",
                cid,
            )
            steps.append(
                {
                    "now": now,
                    "served": served,
                    "labels": labels,
                    "options": {k: eo.state_to_json(getattr(states, k)) for k in ("again", "hard", "good", "easy")},
                    "after": card_state(),
                    "revlog": dict(zip(["id", "cid", "usn", "ease", "ivl", "lastIvl", "factor", "time", "type"], row)),
                }
            )
        print(json.dumps({"crt": col.crt, "card_id": cid, "steps": steps}))
    finally:
        col.close()
    return 0


def main() -> int:
    args = sys.argv[1:]
    if "--child" in args:
        mode = args[args.index("--child") + 1]
        return child_history() if mode == "history" else child_answers()
    data = json.loads(sys.stdin.read())
    jobs = data if isinstance(data, list) else [data]
    return run_parent(jobs, "history" if "--history" in args else "answers")


if __name__ == "__main__":
    sys.exit(main())
