#!/usr/bin/env python3
"""Referee for javumbo's notes engine (note types, card generation, rendering through the
collection and the API), built on the official `anki` package.

Usage:  python notes_oracle.py SEED NOTES OUT.apkg > dump.json

Builds a collection with every stock note type and generated custom note types (the generator of
template_oracle.py), adds NOTES generated notes plus scripted ones (cloze with hints and several
numbers, a cloze number added and one removed by an edit, the optional reverse filled then
emptied), edits a share of them, and exports it with Anki's legacy exporter (with scheduling) to
OUT.apkg. Prints, as JSON:
  {"notetypes": [{"id", "name", "fields"}],
   "notes": [{"id", "guid", "notetype" (name), "fields_added", "ords_added", "edits": [
                {"fields", "ords"} ...], "fields", "tags", "sfld", "csum"}],
   "cards": [{"id", "note", "ord", "question", "answer", "browser_question", "browser_answer"}]}
`ords_added` are the ordinals Anki generated on add, each edit's `ords` those after it.
`cards` are rendered from the package as Anki's own importer brings it into a fresh collection
(what javumbo's import of it is compared with).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from anki.collection import Collection, ExportAnkiPackageOptions  # noqa: E402

from template_oracle import DECKS, TAGS, Gen, add_custom_notetypes, rendered  # noqa: E402

STOCK = [
    "Basic", "Basic (and reversed card)", "Basic (optional reversed card)",
    "Basic (type in the answer)", "Cloze", "Image Occlusion",
]

# (note type, fields on add, [fields after each edit])
SCRIPTED = [
    ("Cloze", ["{{c1::Paris::city}} is the capital of {{c2::France}}", "extra"],
     [["{{c1::Paris::city}} is the capital of {{c2::France}} in {{c3::Europe::continent}}",
       "extra"],
      ["Paris is the capital of {{c2::France}} in {{c3::Europe}}", ""]]),
    ("Cloze", ["{{c1::a}} {{c1::b::h}} {{c2::c}} {{c5::e}}", ""],
     [["{{c1::a}} {{c2::c}} {{c10::j}}", "<b>x</b>"]]),
    ("Basic (optional reversed card)", ["front", "back", ""],
     [["front", "back", "y"], ["front", "back", ""]]),
    ("Basic (optional reversed card)", ["front", "back", "y"], [["front", "back", ""]]),
    ("Basic (and reversed card)", ["<img src=\"cat.jpg\"> cat", "gato [sound:gato.mp3]"], []),
    ("Basic (type in the answer)", ["capital of Peru?", "Lima"], []),
    ("Basic", ["&nbsp;<b>bold</b> &amp; entities", "x"], [["007", "numbers sort"]]),
]


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    seed, notes_wanted, out_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    g = Gen(seed)
    tmp = tempfile.mkdtemp(prefix="notes-oracle")
    col = Collection(os.path.join(tmp, "collection.anki2"))
    col.media.have = lambda _fname: True  # LaTeX images count as present (template_oracle.py)
    try:
        stock = [col.models.by_name(n) for n in STOCK]
        customs = add_custom_notetypes(col, g, 8)
        notetypes = stock + customs
        deck_ids = [col.decks.id(name) for name in DECKS]
        notes_out = []

        def record(note, nt, fields_added, ords_added, edits):
            notes_out.append({
                "id": note.id,
                "notetype": nt["name"],
                "fields_added": fields_added,
                "ords_added": ords_added,
                "edits": edits,
            })

        def ords_of(nid):
            return sorted(c.ord for c in col.get_note(nid).cards())

        for name, fields, edits in SCRIPTED:
            nt = col.models.by_name(name)
            note = col.new_note(nt)
            for i, value in enumerate(fields):
                note.fields[i] = value
            col.add_note(note, g.pick(deck_ids))
            done = []
            added_ords = ords_of(note.id)
            for new_fields in edits:
                n = col.get_note(note.id)
                for i, value in enumerate(new_fields):
                    n.fields[i] = value
                col.update_note(n)
                done.append({"fields": list(new_fields), "ords": ords_of(note.id)})
            record(note, nt, list(fields), added_ords, done)

        for i in range(notes_wanted):
            nt = notetypes[i % len(notetypes)] if i < 2 * len(notetypes) else g.pick(notetypes)
            cloze = nt["type"] == 1
            note = col.new_note(nt)
            for idx, fld in enumerate(nt["flds"]):
                if nt["name"] == "Image Occlusion" and fld["name"] == "Occlusion":
                    note[fld["name"]] = "".join(g.occlusion() for _ in range(g.r.randint(1, 3)))
                elif nt["name"] == "Image Occlusion" and fld["name"] == "Image":
                    note[fld["name"]] = '<img src="occluded.png">'
                else:
                    note[fld["name"]] = g.field(cloze_likely=cloze and idx == 0)
            note.tags = sorted(set(g.pick(TAGS) for _ in range(g.r.randint(0, 3))))
            col.add_note(note, g.pick(deck_ids))
            fields_added = list(col.get_note(note.id).fields)
            added_ords = ords_of(note.id)
            done = []
            if g.chance(0.3):
                n = col.get_note(note.id)
                for fld in nt["flds"]:
                    if g.chance(0.6):
                        n[fld["name"]] = g.field(cloze_likely=cloze)
                col.update_note(n)
                done.append({"fields": list(n.fields), "ords": ords_of(note.id)})
            record(note, nt, fields_added, added_ords, done)

        for n in notes_out:
            note = col.get_note(n["id"])
            n["guid"] = note.guid
            n["fields"] = list(note.fields)
            n["tags"] = list(note.tags)
            n["sfld"], n["csum"] = col.db.first(
                "select cast(sfld as text), csum from notes where id = ?", note.id)

        nts_out = [{"id": nt["id"], "name": nt["name"],
                    "fields": [f["name"] for f in col.models.get(nt["id"])["flds"]]}
                   for nt in notetypes]
        col.export_anki_package(
            out_path=out_path,
            options=ExportAnkiPackageOptions(
                legacy=True, with_scheduling=True, with_deck_configs=True, with_media=False
            ),
            limit=None,
        )
        # The cards are rendered as Anki's own importer brings this package into a fresh
        # collection, which is what javumbo's import is compared with: the importer normalises
        # media references (rslib `munge_media`: `[sound:a]b]` names lose Anki's disallowed
        # characters), so an imported field may differ from the note Anki made.
        from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest

        imported = Collection(os.path.join(tempfile.mkdtemp(), "imported.anki2"))
        imported.media.have = lambda _fname: True  # as above
        try:
            imported.import_anki_package(ImportAnkiPackageRequest(
                package_path=out_path,
                options=ImportAnkiPackageOptions(with_scheduling=True, with_deck_configs=True),
            ))
            cards_out = render_cards(imported)
        finally:
            imported.close()
        json.dump({"notetypes": nts_out, "notes": notes_out, "cards": cards_out},
                  sys.stdout, ensure_ascii=False)
    finally:
        col.close()
    return 0


def render_cards(col) -> list:
    """Every card's reviewer and browser HTML, by card id."""
    cards_out = []
    for cid in sorted(col.find_cards("")):
        c = col.get_card(cid)
        cards_out.append({"id": c.id, "note": c.nid, "ord": c.ord, **rendered(c)})
    return cards_out


if __name__ == "__main__":
    sys.exit(main())
