#!/usr/bin/env python3
"""Generate fixture .apkg files with the official Anki library (and genanki).

Usage: python make_packages.py OUT_DIR

Writes into OUT_DIR:
  official-modern.apkg  the same collection in Anki's default modern format (collection.anki21b)
  official.apkg  an official Anki collection exported with Anki's own legacy exporter
                 (ExportAnkiPackageOptions(legacy=True, with_scheduling=True)):
                 decks "Languages", "Languages::Spanish", "Science"; note types "Basic" and
                 "Basic (and reversed card)"; cards answered through the scheduler so there are
                 new, learning (intraday and day), review, relearning and suspended cards plus
                 revlog rows. Its crt is backdated 5 days.
  genanki.apkg   a deck written by genanki (no schedVer, all cards new).

Prints JSON {"official": path, "genanki": path}. Exit 0 on success.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile


def make_official(out_path: str) -> None:
    from anki.collection import Collection, ExportAnkiPackageOptions

    tmp = tempfile.mkdtemp(prefix="mkpkg")
    path = os.path.join(tmp, "collection.anki2")
    col = Collection(path)
    # Backdate the collection 5 days so its "today" differs from a fresh importer's: day-based
    # due dates then have to be moved onto the target's calendar.
    col.db.execute("update col set crt = crt - 5 * 86400")
    col.close()
    col = Collection(path)
    try:
        col.set_config("loadBalancerEnabled", False)
        lang = col.decks.id("Languages")
        spanish = col.decks.id("Languages::Spanish")
        science = col.decks.id("Science")
        basic = col.models.by_name("Basic")
        reversed_nt = col.models.by_name("Basic (and reversed card)")

        def add(nt, deck, front, back, tags=()):
            note = col.new_note(nt)
            note["Front"] = front
            note["Back"] = back
            note.tags = list(tags)
            col.add_note(note, deck)
            return note

        notes = [
            add(basic, spanish, "el perro", "the dog", ["spanish", "animals"]),
            add(basic, spanish, "el gato", "the cat", ["spanish"]),
            add(basic, spanish, "<b>la casa</b>", "the house"),
            add(basic, lang, "Bonjour", "Hello"),
            add(reversed_nt, science, "H2O", "water"),
            add(reversed_nt, science, "NaCl", "salt"),
            add(basic, science, "Speed of light", "299 792 458 m/s"),
            add(basic, science, "Avogadro", "6.022e23"),
        ]

        def card_of(note, ord_=0):
            return [c for c in note.cards() if c.ord == ord_][0]

        def answer(card, ease):
            card.start_timer()  # answerCard records the time taken since the timer started
            col.sched.answerCard(card, ease)
            return card

        # learning (queue 1): one Good on a new card
        answer(card_of(notes[0]), 3)
        # review: Easy graduates straight away
        answer(card_of(notes[1]), 4)
        # relearning: graduate, make it due today, then Again
        c = answer(card_of(notes[2]), 4)
        col.sched.set_due_date([c.id], "0")
        c.load()
        answer(c, 1)
        # review after a second review (Good twice from new, then due today, Hard)
        c = answer(card_of(notes[3]), 3)
        answer(c, 3)
        col.sched.set_due_date([c.id], "0")
        c.load()
        answer(c, 2)
        # reversed note: card 1 reviewed, card 2 left new
        answer(card_of(notes[4], 0), 4)
        # suspended review card
        c = answer(card_of(notes[5], 1), 4)
        col.sched.suspend_cards([c.id])
        # day learning (queue 3): Science gets learning steps of 1 and 2 days
        conf_id = col.decks.add_config_returning_id("Long steps")
        conf = col.decks.get_config(conf_id)
        conf["new"]["delays"] = [1440.0, 2880.0]
        col.decks.update_config(conf)
        deck = col.decks.get(science)
        deck["conf"] = conf_id
        col.decks.save(deck)
        answer(card_of(notes[6]), 3)
        # notes[7] stays new
        # Anki's own Check Database first: an answer whose revlog id had to be moved past an
        # existing one (set_due_date logs at the same millisecond) can land in the next second,
        # and then the card's last review time (`lrt`, the answer's second) disagrees with its
        # revlog; Check Database "adds last review time" to it. Seen on a loaded machine about
        # once in 25 runs, in Anki's own exports too. The fixture must be clean to begin with.
        col.fix_integrity()
        col.export_anki_package(
            out_path=out_path,
            options=ExportAnkiPackageOptions(
                legacy=True, with_scheduling=True, with_deck_configs=True, with_media=True
            ),
            limit=None,
        )
        # The same collection in Anki's default (modern) format: meta + zstd collection.anki21b.
        col.export_anki_package(
            out_path=out_path.replace(".apkg", "-modern.apkg"),
            options=ExportAnkiPackageOptions(
                legacy=False, with_scheduling=True, with_deck_configs=True, with_media=True
            ),
            limit=None,
        )
    finally:
        col.close()


def make_genanki(out_path: str) -> None:
    import genanki

    model = genanki.Model(
        1607392319,
        "Simple Model",
        fields=[{"name": "Question"}, {"name": "Answer"}],
        templates=[
            {
                "name": "Card 1",
                "qfmt": "{{Question}}",
                "afmt": '{{FrontSide}}<hr id="answer">{{Answer}}',
            }
        ],
    )
    deck = genanki.Deck(2059400110, "Genanki Deck")
    for q, a in [("Capital of Portugal?", "Lisbon"), ("2 + 2", "4"), ("Largest planet", "Jupiter")]:
        deck.add_note(genanki.Note(model=model, fields=[q, a]))
    genanki.Package(deck).write_to_file(out_path)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 1
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    official = os.path.join(out, "official.apkg")
    gen = os.path.join(out, "genanki.apkg")
    make_official(official)
    make_genanki(gen)
    modern = official.replace(".apkg", "-modern.apkg")
    print(json.dumps({"official": official, "official_modern": modern, "genanki": gen}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
