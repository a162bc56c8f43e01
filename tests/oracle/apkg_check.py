#!/usr/bin/env python3
"""Referee an .apkg with the official Anki library (PyPI package `anki`).

Imports the package into a brand-new collection exactly as Anki desktop's File > Import does
(Collection.import_anki_package with scheduling and deck presets) and prints one JSON object:

  {"file", "anki_version", "package": {members, inner_col: {name, ver, crt, schedVer, ...}},
   "import_log": {...}, "notes_count", "cards_count", "revlog_count",
   "decks": [names], "notetypes": [names],
   "notes": [{id, guid, notetype, fields: [...], tags: [...]}],
   "cards": [{id, nid, guid, deck, ord, type, queue, due, ivl, factor, reps, lapses, left,
              odue, odid}],
   "revlog": [{id, cid, ease, ivl, lastIvl, factor, time, type}],
   "crt", "today", "check_database": [...], "errors": [...]}

By default the fresh target collection first gets the *source* collection's crt, so day-based
`due` values come back unchanged (otherwise Anki shifts them by source_today - target_today);
--no-rebase-crt keeps the fresh collection's own crt.

Exit status: 0 = Anki accepted the file (import-log problems are listed in "errors");
2 = Anki refused it (message in "errors" and on stderr); 1 = usage error.

Usage: python apkg_check.py deck.apkg [--no-rebase-crt] [--pretty]
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import tempfile
import zipfile


def inner_collection(path: str) -> tuple[str, bytes] | None:
    """The member Anki's importer reads for a legacy package."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        for name in ("collection.anki21", "collection.anki2"):
            if name in names:
                return name, z.read(name)
    return None


def raw_col_info(db_path: str) -> dict:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        ver, crt, conf = con.execute("select ver, crt, conf from col").fetchone()
        out = {"ver": ver, "crt": crt}
        try:
            out["schedVer"] = json.loads(conf).get("schedVer")
        except ValueError:
            out["schedVer"] = None
        for t in ("notes", "cards", "revlog"):
            out[t] = con.execute(f"select count() from {t}").fetchone()[0]
        return out
    finally:
        con.close()


def summarize(col) -> dict:
    deck_names = {d.id: d.name for d in col.decks.all_names_and_ids()}
    nt_names = {m.id: m.name for m in col.models.all_names_and_ids()}
    out: dict = {
        "notes_count": col.note_count(),
        "cards_count": col.card_count(),
        "revlog_count": col.db.scalar("select count() from revlog"),
        "decks": sorted(deck_names.values()),
        "notetypes": sorted(nt_names.values()),
        "crt": col.crt,
        "today": col.sched.today,
    }
    notes = []
    for nid, guid, mid, flds, tags in col.db.all(
        "select id, guid, mid, flds, tags from notes order by id"
    ):
        notes.append({
            "id": nid, "guid": guid, "notetype": nt_names.get(mid),
            "fields": flds.split("\x1f"), "tags": tags.split(),
        })
    out["notes"] = notes
    keys = ["id", "nid", "guid", "did", "ord", "type", "queue", "due", "ivl", "factor", "reps",
            "lapses", "left", "odue", "odid"]
    cards = []
    for row in col.db.all(
        "select c.id, c.nid, n.guid, c.did, c.ord, c.type, c.queue, c.due, c.ivl, c.factor, "
        "c.reps, c.lapses, c.left, c.odue, c.odid from cards c join notes n on n.id = c.nid "
        "order by c.id"
    ):
        d = dict(zip(keys, row))
        d["deck"] = deck_names.get(d.pop("did"))
        cards.append(d)
    out["cards"] = cards
    rkeys = ["id", "cid", "ease", "ivl", "lastIvl", "factor", "time", "type"]
    out["revlog"] = [
        dict(zip(rkeys, r))
        for r in col.db.all(
            "select id, cid, ease, ivl, lastIvl, factor, time, type from revlog order by id"
        )
    ]
    return out


def main() -> int:
    args = sys.argv[1:]
    pretty = "--pretty" in args
    rebase = "--no-rebase-crt" not in args
    pos = [a for a in args if not a.startswith("--")]
    if len(pos) != 1:
        print(__doc__, file=sys.stderr)
        return 1
    path = os.path.abspath(pos[0])

    from anki.buildinfo import version as anki_version
    from anki.collection import (
        Collection,
        ImportAnkiPackageOptions,
        ImportAnkiPackageRequest,
    )

    result: dict = {"file": path, "anki_version": anki_version, "errors": []}

    def refuse(msg: str) -> int:
        result["errors"].append(msg)
        print(json.dumps(result, indent=2 if pretty else None))
        print(f"apkg_check: Anki refused {path}: {msg}", file=sys.stderr)
        return 2

    if not zipfile.is_zipfile(path):
        return refuse("not a zip file")
    tmp = tempfile.mkdtemp(prefix="apkgcheck")
    try:
        with zipfile.ZipFile(path) as z:
            result["package"] = {"members": z.namelist()}
        src_crt = None
        inner = inner_collection(path)
        if inner:
            name, data = inner
            p = os.path.join(tmp, "inner.db")
            with open(p, "wb") as f:
                f.write(data)
            try:
                info = raw_col_info(p)
                result["package"]["inner_col"] = {"name": name, **info}
                src_crt = info["crt"]
            except sqlite3.Error as e:
                result["package"]["inner_col"] = {"name": name, "error": str(e)}

        target = os.path.join(tmp, "target", "collection.anki2")
        os.makedirs(os.path.dirname(target))
        col = Collection(target)
        try:
            if rebase and isinstance(src_crt, int):
                col.db.execute("update col set crt=?", src_crt)
                col.close()
                col = Collection(target)
            try:
                resp = col.import_anki_package(
                    ImportAnkiPackageRequest(
                        package_path=path,
                        options=ImportAnkiPackageOptions(
                            merge_notetypes=True, with_scheduling=True, with_deck_configs=True
                        ),
                    )
                )
            except Exception as e:  # noqa: BLE001 - any refusal is the verdict
                return refuse(f"import failed: {type(e).__name__}: {e}")
            log = resp.log
            result["import_log"] = {
                k: len(getattr(log, k))
                for k in ("new", "updated", "duplicate", "conflicting", "first_field_match",
                          "missing_notetype", "missing_deck", "empty_first_field")
            }
            for k in ("missing_notetype", "missing_deck", "conflicting", "empty_first_field"):
                if result["import_log"][k]:
                    result["errors"].append(f"import_log.{k} = {result['import_log'][k]}")
            result.update(summarize(col))
            result["check_database"] = list(col._backend.check_database())
        finally:
            col.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=2 if pretty else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
