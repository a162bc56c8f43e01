#!/usr/bin/env python3
"""The v3 study queue, refereed: studies copies of collections javumbo wrote in the official
`anki` package under libfaketime (TZ from the input), step by step, and reports the card Anki
serves, its counts and (when asked) the deck list at every step.

Input (stdin): {"tz": IANA zone, "scenarios": [{"name", "path": collection file,
   "steps": [{"at": epoch secs, "ease": 1-4, "tree": bool, "deck": id (optional)}, ...]}]}
At each step, at instant `at`: the deck `deck` is selected from the deck list when given,
custom study "increase today's limit" applied when `extend` ({"deck": id, "new": delta} or
{"deck": id, "review": delta}) is given, a custom study session built when `custom`
({"deck": id, and forgotDays | reviewAheadDays | previewDays | cram: {kind, cardLimit,
tagsToInclude, tagsToExclude}}; reported as "session", "terms", "resched", "custom_error"; then
the deck `then_deck` selected when given),
the deck list when `tree`
(deck_due_tree), then
get_queued_cards(); the served card (if any) is answered with `ease` at the same instant
(not answered when the step has no `ease`).
Output (stdout): {"scenarios": [{"name", "steps": [{"card": id | null, "counts": [new, learn,
   review], "tree": {deck id: [new, learn, review]}, "after": the answered card's [type, queue,
   due, ivl, factor, reps, lapses, left, odue, odid], "revlog": its new row's [ease, ivl,
   lastIvl, factor, time, type]}]}]}
A scenario's "filtered": [{"name", "search", "limit", "order", "resched", "preview": [again,
hard, good secs]}] builds those filtered decks with Anki, at the first step's instant before the
steps; their ids are reported as the scenario's "filtered".
The load balancer is on (Anki's default) unless a scenario says "load_balancer": false.
A scenario with "save_to": path has its collection written there after its steps (downgraded
to schema 11, as a legacy package holds it).
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


def run_parent(case: dict) -> int:
    lib = find_faketime()
    first = case["scenarios"][0]["steps"][0]["at"]
    with tempfile.TemporaryDirectory(prefix="queueoracle") as tmp:
        tsfile = os.path.join(tmp, "faketime")
        with open(tsfile, "w") as f:
            f.write(f"{int(first)}\n")
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


def tree_counts(node, out: dict) -> None:
    if node.deck_id:
        out[str(node.deck_id)] = [node.new_count, node.learn_count, node.review_count]
    for child in node.children:
        tree_counts(child, out)


def run_worker(tmp: str) -> int:
    from anki.collection import Collection
    from anki.scheduler_pb2 import CardAnswer, CustomStudyRequest

    case = json.loads(sys.stdin.read())
    tsfile = os.environ["FAKETIME_TIMESTAMP_FILE"]

    def set_now(ts: int) -> None:
        part = tsfile + ".tmp"
        with open(part, "w") as f:
            f.write(f"{int(ts)}\n")
        os.replace(part, tsfile)
        if abs(time.time() - ts) > 2:
            raise SystemExit(f"queue_oracle: libfaketime not effective ({time.time()} != {ts})")

    ratings = [CardAnswer.AGAIN, CardAnswer.HARD, CardAnswer.GOOD, CardAnswer.EASY]
    results = []
    for n, sc in enumerate(case["scenarios"]):
        path = os.path.join(tmp, f"c{n}.anki2")
        shutil.copyfile(sc["path"], path)
        set_now(sc["steps"][0]["at"])
        col = Collection(path)
        steps = []
        try:
            # Anki's default: the load balancer on (javumbo reads the same key, absent = on).
            # A scenario may switch it off ("load_balancer": false).
            col.set_config("loadBalancerEnabled", bool(sc.get("load_balancer", True)))
            filtered = []
            for spec in sc.get("filtered", []):
                did = col.decks.new_filtered(spec["name"])
                deck = col.decks.get(did)
                deck["terms"] = [[spec["search"], int(spec.get("limit", 100)), int(spec.get("order", 0))]]
                deck["resched"] = bool(spec.get("resched", True))
                if "preview" in spec:
                    again, hard, good = spec["preview"]
                    deck["previewAgainSecs"] = int(again)
                    deck["previewHardSecs"] = int(hard)
                    deck["previewGoodSecs"] = int(good)
                col.decks.save(deck)
                col.sched.rebuild_filtered_deck(did)
                filtered.append(did)
            for step in sc["steps"]:
                at = int(step["at"])
                set_now(at)
                if step.get("deck"):
                    # Chosen from the deck list (drawing it unburies yesterday's cards): a new
                    # current deck, so the queue is rebuilt.
                    col.sched.deck_due_tree()
                    col.decks.select(int(step["deck"]))
                out: dict = {}
                if step.get("extend"):
                    ext = step["extend"]
                    req = CustomStudyRequest(deck_id=int(ext["deck"]))
                    if "new" in ext:
                        req.new_limit_delta = int(ext["new"])
                    else:
                        req.review_limit_delta = int(ext["review"])
                    col.sched.custom_study(req)
                if step.get("custom"):
                    # A custom study session (forgotDays, reviewAheadDays, previewDays or cram):
                    # built, then every borrowed card and the session deck's search reported.
                    cs = step["custom"]
                    req = CustomStudyRequest(deck_id=int(cs["deck"]))
                    if "forgotDays" in cs:
                        req.forgot_days = int(cs["forgotDays"])
                    elif "reviewAheadDays" in cs:
                        req.review_ahead_days = int(cs["reviewAheadDays"])
                    elif "previewDays" in cs:
                        req.preview_days = int(cs["previewDays"])
                    else:
                        cram = cs["cram"]
                        kinds = {"new": CustomStudyRequest.Cram.CRAM_KIND_NEW,
                                 "due": CustomStudyRequest.Cram.CRAM_KIND_DUE,
                                 "review": CustomStudyRequest.Cram.CRAM_KIND_REVIEW,
                                 "all": CustomStudyRequest.Cram.CRAM_KIND_ALL}
                        req.cram.kind = kinds[cram["kind"]]
                        req.cram.card_limit = int(cram["cardLimit"])
                        req.cram.tags_to_include.extend(cram.get("tagsToInclude", []))
                        req.cram.tags_to_exclude.extend(cram.get("tagsToExclude", []))
                    try:
                        col.sched.custom_study(req)
                        out["custom_error"] = None
                    except Exception as e:  # Anki's CustomStudyError: nothing changed
                        out["custom_error"] = str(e)
                    out["session"] = col.db.all(
                        "select id, did, odid, due, odue, queue, type from cards "
                        "where odid != 0 order by id"
                    )
                    sid = col.decks.id_for_name("Custom Study Session")
                    out["terms"] = col.decks.get(sid)["terms"] if sid else None
                    out["resched"] = col.decks.get(sid)["resched"] if sid else None
                    if step.get("then_deck"):
                        col.decks.select(int(step["then_deck"]))
                if step.get("tree"):
                    tree: dict = {}
                    tree_counts(col.sched.deck_due_tree(), tree)
                    out["tree"] = tree
                queued = col.sched.get_queued_cards(fetch_limit=1)
                if os.environ.get("QUEUE_ORACLE_DEBUG"):
                    more = col.sched.get_queued_cards(fetch_limit=60)
                    out["queue"] = [[c.card.id, c.queue, c.card.mtime_secs, c.card.due] for c in more.cards]
                    if str(len(steps)) == os.environ.get("QUEUE_ORACLE_DUMP"):
                        out["cards"] = col.db.all(
                            "select id, type, queue, due, ivl, mod, reps, did, odid, odue from cards order by id"
                        )
                out["counts"] = [
                    queued.new_count,
                    queued.learning_count,
                    queued.review_count,
                ]
                if queued.cards and step.get("ease") is None:
                    out["card"] = queued.cards[0].card.id
                elif queued.cards:
                    qc = queued.cards[0]
                    cid = qc.card.id
                    out["card"] = cid
                    ease = int(step["ease"])
                    states = qc.states
                    col.sched.answer_card(
                        CardAnswer(
                            card_id=cid,
                            current_state=states.current,
                            new_state=[states.again, states.hard, states.good, states.easy][
                                ease - 1
                            ],
                            rating=ratings[ease - 1],
                            answered_at_millis=at * 1000,
                            milliseconds_taken=5000,
                        )
                    )
                    out["after"] = col.db.first(
                        "select type, queue, due, ivl, factor, reps, lapses, left, odue, odid "
                        "from cards where id=?",
                        cid,
                    )
                    out["revlog"] = col.db.first(
                        "select ease, ivl, lastIvl, factor, time, type from revlog "
                        "where cid=? order by id desc limit 1",
                        cid,
                    )
                else:
                    out["card"] = None
                steps.append(out)
        finally:
            if sc.get("save_to"):
                col.close(downgrade=True)
                shutil.copyfile(path, sc["save_to"])
            else:
                col.close()
        results.append({"name": sc["name"], "steps": steps, "filtered": filtered})
    print(json.dumps({"scenarios": results}))
    return 0


def main() -> int:
    if "--worker" in sys.argv:
        return run_worker(sys.argv[sys.argv.index("--worker") + 1])
    return run_parent(json.loads(sys.stdin.read()))


if __name__ == "__main__":
    sys.exit(main())
