#!/usr/bin/env python3
"""Official Anki 26.9.3 clients ("devices") driven line by line, for javumbo's sync referee test.

Each device is its own collection file, all in one process (as desktop Anki and AnkiDroid would
each hold one). Reads one JSON command per line on stdin and answers one JSON line on stdout:

  {"op":"create","device":"A","populated":true}   new collection (optionally with decks, a
                                                   preset, tagged notes and reviews)
  {"op":"login","device":"A","user":..,"password":..,"endpoint":"http://h:p/"}
                                                   -> {"ok":true} | {"error":..}
  {"op":"sync","device":"A","full":"upload"|"download"|"auto"|null}
        meta (+ any normal sync); when a full sync is required and `full` allows it, runs it
        ("auto": upload on FULL_UPLOAD, download on FULL_DOWNLOAD, never on FULL_SYNC).
        -> {"required":"NO_CHANGES"|"NORMAL_SYNC"|"FULL_SYNC"|..,"did":"upload"|"download"|null}
           | {"error":..,"kind":..}
  {"op":"review","device":"A"}                     answer one due card Good on the device
  {"op":"add_note","device":"A","deck":..,"front":..,"back":..,"tags":[..]} -> {"note": id}
  {"op":"edit_note","device":"A","note":id,"front":..}   change the note's first field
  {"op":"tag_note","device":"A","note":id,"tag":..}      add a tag
  {"op":"delete_note","device":"A","note":id}
  {"op":"add_deck","device":"A","name":..}        -> {"deck": id}
  {"op":"set_new_per_day","device":"A","preset":name,"value":n}
  {"op":"add_field","device":"A","notetype":..,"field":..}  a schema change (full sync next)
  {"op":"dump","device":"A"}                       the collection's content, for comparisons
  {"op":"due_counts","device":"A"}                 the deck list: {deck id: [new, learn, review]}
  {"op":"extend","device":"A","deck":id,"new":n}   custom study: today's new (or "review")
                                                   limit of the deck increased by n
  {"op":"borrowed","device":"A"}                   cards in filtered decks: [[id, did, odid, odue, queue, type]]
  {"op":"rebuild_filtered","device":"A","name":..}  rebuild that filtered deck with its own search
  {"op":"add_media","device":"A","name":..,"hex":..}  a file into the device's media folder
                                                   -> {"name": the name Anki stored}
  {"op":"remove_media","device":"A","name":..}     trash a media file on the device
  {"op":"media_sync","device":"A"}                 a whole media sync, waited for -> {"ok":true}
  {"op":"media","device":"A"}                      the media folder: {name: sha1 hex}
  {"op":"quit"}

Errors of the client come back as {"error": <class>, "kind": <SyncErrorKind name or null>,
"message": ...}, so the test sees exactly what the client would show.
"""

import hashlib
import json
import os
import sys
import tempfile
import time

from anki.collection import Collection
from anki.errors import SyncError
from anki.sync_pb2 import SyncCollectionResponse as R
from anki import sync_pb2

ROOT = tempfile.mkdtemp(prefix="javumbo-sync-devices-")
devices = {}  # name -> {"col": Collection, "auth": SyncAuth | None}

REQUIRED = {v: k for k, v in R.ChangesRequired.items()}


def col_of(name):
    return devices[name]["col"]


def create(cmd):
    d = os.path.join(ROOT, cmd["device"])
    os.makedirs(d, exist_ok=True)
    col = Collection(os.path.join(d, "collection.anki2"))
    devices[cmd["device"]] = {"col": col, "auth": None}
    if cmd.get("populated"):
        populate(col)
    return {"ok": True}


def populate(col):
    """Notes of two note types in a nested deck with its own preset, tags, and a few reviews."""
    preset = col.decks.add_config_returning_id("Sync preset")
    conf = col.decks.get_config(preset)
    conf["new"]["perDay"] = 33
    col.decks.save(conf)
    did = col.decks.id("Spanish::Verbs")
    deck = col.decks.get(did)
    deck["conf"] = preset
    col.decks.save(deck)
    col.decks.id("Spanish::Nouns")
    basic = col.models.by_name("Basic")
    rev = col.models.by_name("Basic (and reversed card)")
    for i in range(12):
        note = col.new_note(rev if i % 2 else basic)
        note["Front"] = f"hablar {i}"
        note["Back"] = f"to speak {i}"
        note.tags = ["verbs", f"lesson{i % 3}"]
        col.add_note(note, did)
    col.decks.select(did)
    for _ in range(5):
        answer_one(col)


def answer_one(col):
    queued = col.sched.get_queued_cards(fetch_limit=1)
    if not queued.cards:
        raise RuntimeError("no card due")
    q = queued.cards[0]
    card = col.get_card(q.card.id)
    card.start_timer()
    answer = col.sched.build_answer(card=card, states=q.states, rating=3)
    col.sched.answer_card(answer)
    return q.card.id


def login(cmd):
    dev = devices[cmd["device"]]
    dev["auth"] = dev["col"].sync_login(cmd["user"], cmd["password"], endpoint=cmd["endpoint"])
    return {"ok": True}


def sync(cmd):
    dev = devices[cmd["device"]]
    col, auth = dev["col"], dev["auth"]
    out = col.sync_collection(auth, sync_media=False)
    required = REQUIRED.get(out.required, str(out.required))
    full = cmd.get("full")
    upload = None
    if out.required == R.FULL_UPLOAD and full in ("upload", "auto"):
        upload = True
    elif out.required == R.FULL_DOWNLOAD and full in ("download", "auto"):
        upload = False
    elif out.required == R.FULL_SYNC and full in ("upload", "download"):
        upload = full == "upload"
    did = None
    if upload is not None:
        col.close_for_full_sync()
        try:
            col.full_upload_or_download(auth=auth, server_usn=None, upload=upload)
        finally:
            col.reopen(after_full_sync=True)
        did = "upload" if upload else "download"
    return {"required": required, "did": did, "server_message": out.server_message}


def review(cmd):
    return {"card": answer_one(col_of(cmd["device"]))}


def add_note(cmd):
    col = col_of(cmd["device"])
    note = col.new_note(col.models.by_name("Basic"))
    note["Front"] = cmd["front"]
    note["Back"] = cmd["back"]
    note.tags = cmd.get("tags", [])
    col.add_note(note, col.decks.id(cmd["deck"]))
    return {"note": note.id}


def edit_note(cmd):
    col = col_of(cmd["device"])
    note = col.get_note(cmd["note"])
    note.fields[0] = cmd["front"]
    col.update_note(note)
    return {"ok": True}


def tag_note(cmd):
    col = col_of(cmd["device"])
    note = col.get_note(cmd["note"])
    note.tags.append(cmd["tag"])
    col.update_note(note)
    return {"ok": True}


def delete_note(cmd):
    col_of(cmd["device"]).remove_notes([cmd["note"]])
    return {"ok": True}


def add_deck(cmd):
    return {"deck": col_of(cmd["device"]).decks.id(cmd["name"])}


def set_new_per_day(cmd):
    col = col_of(cmd["device"])
    conf = next(c for c in col.decks.all_config() if c["name"] == cmd["preset"])
    conf["new"]["perDay"] = cmd["value"]
    col.decks.save(conf)
    return {"ok": True}


def add_field(cmd):
    col = col_of(cmd["device"])
    nt = col.models.by_name(cmd["notetype"])
    col.models.add_field(nt, col.models.new_field(cmd["field"]))
    col.models.update_dict(nt)
    return {"ok": True}


def dump(cmd):
    col = col_of(cmd["device"])
    db = col.db
    rows = lambda sql: [list(r) for r in db.all(sql)]
    decks = sorted(
        (d["id"], d["name"], d.get("conf"), d.get("dyn")) for d in col.decks.all()
    )
    presets = sorted(
        (c["id"], c["name"], c["new"]["perDay"], c["rev"]["perDay"])
        for c in col.decks.all_config()
    )
    models = sorted(
        (
            m["id"],
            m["name"],
            [f["name"] for f in m["flds"]],
            [(t["name"], t["qfmt"], t["afmt"]) for t in m["tmpls"]],
            m["css"],
        )
        for m in col.models.all()
    )
    return {
        "notes": rows("select id, guid, mid, mod, tags, flds, flags, data from notes order by id"),
        "cards": rows(
            "select id, nid, did, ord, mod, type, queue, due, ivl, factor, reps, lapses, left,"
            " odue, odid, flags from cards order by id"
        ),
        "revlog": rows("select id, cid, ease, ivl, lastIvl, factor, time, type from revlog order by id"),
        "decks": [list(d) for d in decks],
        "presets": [list(p) for p in presets],
        "models": [list(m) for m in models],
        "tags": sorted(col.tags.all()),
        "col": list(db.first("select crt, mod, scm from col")),
    }


def due_counts(cmd):
    out = {}

    def walk(node):
        if node.deck_id:
            out[str(node.deck_id)] = [node.new_count, node.learn_count, node.review_count]
        for child in node.children:
            walk(child)

    walk(col_of(cmd["device"]).sched.deck_due_tree())
    return out


def extend(cmd):
    from anki.scheduler_pb2 import CustomStudyRequest

    req = CustomStudyRequest(deck_id=int(cmd["deck"]))
    if "new" in cmd:
        req.new_limit_delta = int(cmd["new"])
    else:
        req.review_limit_delta = int(cmd["review"])
    col_of(cmd["device"]).sched.custom_study(req)
    return {"ok": True}


def borrowed(cmd):
    return col_of(cmd["device"]).db.all(
        "select id, did, odid, odue, queue, type from cards where odid != 0 order by id"
    )


def rebuild_filtered(cmd):
    col = col_of(cmd["device"])
    did = col.decks.id_for_name(cmd["name"])
    return {"deck": did, "cards": col.sched.rebuild_filtered_deck(did).count}


def add_media(cmd):
    col = col_of(cmd["device"])
    return {"name": col.media.write_data(cmd["name"], bytes.fromhex(cmd["hex"]))}


def remove_media(cmd):
    col_of(cmd["device"]).media.trash_files([cmd["name"]])
    return {"ok": True}


def media_sync(cmd):
    dev = devices[cmd["device"]]
    col = dev["col"]
    col.sync_media(dev["auth"])
    deadline = time.time() + 60
    # media_sync_status raises the sync's error, if it failed.
    while col.media_sync_status().active:
        if time.time() > deadline:
            raise RuntimeError("media sync did not finish in 60 s")
        time.sleep(0.05)
    col.media_sync_status()
    return {"ok": True}


def media(cmd):
    folder = col_of(cmd["device"]).media.dir()
    out = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                out[name] = hashlib.sha1(f.read()).hexdigest()
    return out


OPS = {
    "create": create,
    "login": login,
    "sync": sync,
    "review": review,
    "add_note": add_note,
    "edit_note": edit_note,
    "tag_note": tag_note,
    "delete_note": delete_note,
    "add_deck": add_deck,
    "set_new_per_day": set_new_per_day,
    "add_field": add_field,
    "dump": dump,
    "due_counts": due_counts,
    "extend": extend,
    "borrowed": borrowed,
    "rebuild_filtered": rebuild_filtered,
    "add_media": add_media,
    "remove_media": remove_media,
    "media_sync": media_sync,
    "media": media,
}


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        try:
            result = OPS[cmd["op"]](cmd)
        except SyncError as e:
            kind = getattr(e, "kind", None)
            try:
                kind = sync_pb2.SyncError.SyncErrorKind.Name(kind) if isinstance(kind, int) else kind
            except Exception:
                kind = str(kind)
            result = {"error": type(e).__name__, "kind": str(kind), "message": str(e)}
        except Exception as e:  # noqa: BLE001 — every client failure is data for the test
            result = {"error": type(e).__name__, "kind": None, "message": str(e)}
        print(json.dumps(result), flush=True)
    for dev in devices.values():
        try:
            dev["col"].close()
        except Exception:
            pass


if __name__ == "__main__":
    main()
