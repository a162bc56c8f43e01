#!/usr/bin/env python3
"""Media file-name clashes on package import, refereed by the official Anki library.

Usage: python media_clash.py OUT_DIR

Builds, with Anki, a collection whose notes (deck "Clash", note type Basic) reference media in
every form Anki's importer rewrites (img src quoted three ways, audio/object/source tags,
[sound:], an entity-encoded name), and exports it in both package formats with media:
  OUT_DIR/clash-legacy.apkg   (collection.anki21 + JSON media map)
  OUT_DIR/clash-modern.apkg   (collection.anki21b + protobuf media list)
The package's files: a.png (content "Y"), b.png (new to the user), same.png (the user's own
content), _s.css (a static file the user has with other content), x&y.png (other content).

Then, for each package, a fresh Anki collection that already has the *user's* media (a.png with
content "X", same.png, _s.css, x&y.png) imports the package exactly as File > Import does, and
the result is printed as JSON:

  {"user_media": {name: hex bytes}, "package_media": {name: hex bytes},
   "packages": {"legacy"|"modern": {"path", "notes": [{guid, fields, sfld, csum}] (by guid),
                                    "media": {name: sha256 hex of the media folder's file},
                                    "again": {"notes", "media"} after importing it a second
                                    time}}}
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile

PACKAGE_MEDIA = {
    "a.png": b"\x89PNG package picture Y",
    "b.png": b"\x89PNG package picture B",
    "same.png": b"\x89PNG the same picture on both sides",
    "_s.css": b".card { color: red }",
    "x&y.png": b"\x89PNG package x&y",
}
USER_MEDIA = {
    "a.png": b"\x89PNG user picture X",
    "same.png": PACKAGE_MEDIA["same.png"],
    "_s.css": b".card { color: blue }",
    "x&y.png": b"\x89PNG user x&y",
}
NOTES = [
    ('<img src="a.png">', '[sound:a.png]<img alt="a.png" src=\'a.png\'>'),
    ("<img src=a.png class=pic>", '<img src="b.png"><audio controls src="a.png"></audio>'),
    ('<img src="same.png">', '<img src="x&amp;y.png"> [sound:x&amp;y.png]'),
    ('<object data="_s.css"></object>', '<video src="a.png"></video><source src="b.png">'),
    ("plain text", '<img src="missing.png"> and <a href="a.png">a link</a>'),
]


def build_package(tmp: str, out_dir: str) -> dict:
    from anki.collection import Collection, ExportAnkiPackageOptions

    col = Collection(os.path.join(tmp, "source", "collection.anki2"))
    try:
        for name, data in PACKAGE_MEDIA.items():
            stored = col.media.write_data(name, data)
            assert stored == name, (name, stored)
        deck = col.decks.id("Clash")
        basic = col.models.by_name("Basic")
        for front, back in NOTES:
            note = col.new_note(basic)
            note["Front"] = front
            note["Back"] = back
            col.add_note(note, deck)
        paths = {}
        for kind, legacy in (("legacy", True), ("modern", False)):
            path = os.path.join(out_dir, f"clash-{kind}.apkg")
            col.export_anki_package(
                out_path=path,
                options=ExportAnkiPackageOptions(
                    legacy=legacy, with_scheduling=True, with_deck_configs=True, with_media=True
                ),
                limit=None,
            )
            paths[kind] = path
        return paths
    finally:
        col.close()


def summarize(col) -> dict:
    notes = [
        {"guid": guid, "fields": flds.split("\x1f"), "sfld": str(sfld), "csum": csum}
        for guid, flds, sfld, csum in col.db.all(
            "select guid, flds, sfld, csum from notes order by guid"
        )
    ]
    folder = col.media.dir()
    media = {}
    for name in sorted(os.listdir(folder)):
        p = os.path.join(folder, name)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                media[name] = hashlib.sha256(f.read()).hexdigest()
    return {"notes": notes, "media": media}


def import_as_anki(tmp: str, kind: str, path: str) -> dict:
    from anki.collection import (
        Collection,
        ImportAnkiPackageOptions,
        ImportAnkiPackageRequest,
    )

    col = Collection(os.path.join(tmp, f"target-{kind}", "collection.anki2"))
    try:
        for name, data in USER_MEDIA.items():
            stored = col.media.write_data(name, data)
            assert stored == name, (name, stored)
        request = ImportAnkiPackageRequest(
            package_path=path,
            options=ImportAnkiPackageOptions(
                merge_notetypes=True, with_scheduling=True, with_deck_configs=True
            ),
        )
        col.import_anki_package(request)
        first = summarize(col)
        # The same package again: its notes are duplicates now, nothing else may change.
        col.import_anki_package(request)
        return {"path": path, **first, "again": summarize(col)}
    finally:
        col.close()


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 1
    out_dir = os.path.abspath(sys.argv[1])
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="mediaclash")
    try:
        for d in ("source", "target-legacy", "target-modern"):
            os.makedirs(os.path.join(tmp, d))
        paths = build_package(tmp, out_dir)
        result = {
            "user_media": {k: v.hex() for k, v in USER_MEDIA.items()},
            "package_media": {k: v.hex() for k, v in PACKAGE_MEDIA.items()},
            "packages": {kind: import_as_anki(tmp, kind, p) for kind, p in paths.items()},
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
