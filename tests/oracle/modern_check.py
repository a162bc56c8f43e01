#!/usr/bin/env python3
"""Referee for Anki's modern collection format (schema 18), with the official `anki` package.

  modern_check.py build OUTDIR
      Build a rich collection in Anki (every stock note type, custom note types with extra
      fields/templates/CSS/LaTeX settings and unknown keys, presets with non-default values for
      every option incl. FSRS parameters, nested decks with per-deck limits, a filtered deck,
      tags (one expanded), config entries, notes, cards, reviews, a deleted note) and write
        OUTDIR/anki18.anki2  the schema-18 file as Anki leaves it (Collection.close()),
        OUTDIR/anki11.anki2  a copy downgraded by Anki itself (close(downgrade=True)).
      Prints a JSON summary.

  modern_check.py dump PATH
      Open a copy of PATH with Anki (a schema-11 file is upgraded by Anki on the way), and print
      the collection as Anki sees it: note types, decks and presets as Anki's backend returns
      them (protobuf as JSON, `other` bytes parsed), config, tags with their collapsed state,
      the rows of notes/cards/revlog/graves, the col scalars; then "check_database": the
      problems Anki's Check Database reports (run last, on the copy).
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import sys
import tempfile

from anki.collection import Collection
from google.protobuf.json_format import MessageToDict


def build(outdir: str) -> dict:
    os.makedirs(outdir, exist_ok=True)
    path18 = os.path.join(outdir, "anki18.anki2")
    path11 = os.path.join(outdir, "anki11.anki2")
    for p in (path18, path11):
        if os.path.exists(p):
            os.remove(p)
    col = Collection(path18)
    mm, dm = col.models, col.decks

    # Presets: every option away from its default, unknown keys at each level.
    a = dm.add_config("Preset A")
    a["new"].update(
        delays=[2.0, 15.0, 60.0], perDay=33, initialFactor=2300, ints=[2, 5, 0], order=0,
        bury=True, addonNewKey=1,
    )
    a["rev"].update(
        perDay=321, ease4=1.45, ivlFct=1.1, maxIvl=3650, bury=True, hardFactor=1.15,
        addonRev="r",
    )
    a["lapse"].update(
        delays=[5.0, 20.0], leechAction=0, leechFails=6, minInt=2, mult=0.3, addonLapse=False,
    )
    a.update(
        maxTaken=90, autoplay=False, timer=1, replayq=False, newMix=1, newPerDayMinimum=3,
        interdayLearningMix=2, reviewOrder=3, newSortOrder=2, newGatherPriority=5,
        buryInterdayLearning=True,
        fsrsWeights=[0.4, 0.6, 2.4, 5.8, 4.93, 0.94, 0.86, 0.01, 1.49, 0.14, 0.94, 2.18, 0.05,
                     0.34, 1.26, 0.29, 2.61],
        fsrsParams5=[0.40255, 1.18385, 3.173, 15.69105, 7.1949, 0.5345, 1.4604, 0.0046,
                     1.54575, 0.1192, 1.01925, 1.9395, 0.11, 0.29605, 2.2698, 0.2315, 2.9898,
                     0.51655, 0.6621],
        fsrsParams6=[0.212, 1.2931, 2.3065, 8.2956, 6.4133, 0.8334, 3.0194, 0.001, 1.8722,
                     0.1666, 0.796, 1.4835, 0.0614, 0.2629, 1.6483, 0.6014, 1.8729, 0.5425,
                     0.0912, 0.0658, 0.1542],
        desiredRetention=0.87, ignoreRevlogsBeforeDate="2024-01-15",
        easyDaysPercentages=[1.0, 0.5, 1.0, 1.0, 1.0, 0.0, 1.5], stopTimerOnAnswer=True,
        secondsToShowQuestion=12.5, secondsToShowAnswer=7.25, questionAction=1, answerAction=3,
        waitForAudio=False, sm2Retention=0.85, weightSearch="deck:Lang",
        addonConfKey={"z": [1, 2.5], "s": "x"},
    )
    dm.update_config(a)
    b = dm.add_config("Preset B", clone_from=a)
    b["new"]["delays"] = [1.5]
    b["new"]["order"] = 1
    b["lapse"]["leechAction"] = 1
    b["rev"]["hardFactor"] = 2.0  # outside Anki's valid range: read (and downgraded) as 1.2
    b.update(answerAction=4, questionAction=0, desiredRetention=0.93, fsrsParams6=[])
    dm.update_config(b)

    # Decks: nested, with descriptions, limits, collapsed states and unknown keys.
    verbs = dm.id("Lang::French::Verbs")
    nouns = dm.id("Lang::French::Nouns")
    spanish = dm.id("Lang::Spanish")
    misc = dm.id("Misc")
    today = col.sched.today
    d = dm.get(verbs)
    d.update(
        desc="**Verbs** of French", md=True, collapsed=True, browserCollapsed=True,
        extendNew=5, extendRev=7, reviewLimit=150, newLimit=12,
        reviewLimitToday={"limit": 50, "today": today}, newLimitToday={"limit": 3, "today": today},
        desiredRetention=87, conf=a["id"], addonDeckKey="v",
    )
    dm.save(d)
    d = dm.get(nouns)
    d.update(conf=b["id"], desc="plain <b>html</b>")
    dm.save(d)
    d = dm.get(dm.id("Lang"))
    d.update(collapsed=True, conf=a["id"])
    dm.save(d)

    # Note types: a custom one with extra fields/templates and every field option, and a
    # custom cloze type.
    m = mm.new("Custom Vocab")
    for name, opts in [
        ("Word", dict(sticky=True, rtl=True, font="Noto Sans", size=28, description="the word",
                      plainText=True, collapsed=True, excludeFromSearch=True,
                      addonFieldKey="x")),
        ("Meaning", dict(font="Georgia", size=16)),
        ("Example", dict(description="a sentence")),
        ("Audio", {}),
    ]:
        f = mm.new_field(name)
        f.update(opts)
        mm.add_field(m, f)
    for name, q, ans, extra in [
        ("Recognition", "{{Word}}", "{{FrontSide}}<hr id=answer>{{Meaning}}<br>{{Example}}",
         dict(bqfmt="{{Word}} (browser)", bafmt="{{Meaning}} (browser)", bfont="Courier",
              bsize=14, did=misc, addonTplKey=[1, 2])),
        ("Production", "{{Meaning}}", "{{FrontSide}}<hr id=answer>{{Word}} {{Audio}}", {}),
        ("Listening", "{{#Audio}}{{Audio}}{{/Audio}}", "{{FrontSide}}<hr id=answer>{{Word}}",
         {}),
    ]:
        t = mm.new_template(name)
        t.update(qfmt=q, afmt=ans, **extra)
        mm.add_template(m, t)
    m.update(
        css=".card { font-family: serif; color: #123; }\n.word { font-size: 2em; }",
        latexPre="\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n",
        latexPost="\\end{document}\n% custom", latexsvg=True, sortf=1,
        addonModelKey={"a": 1, "b": [True, None]},
    )
    mm.add(m)
    custom = mm.by_name("Custom Vocab")
    cz = mm.copy(mm.by_name("Cloze"), add=False)
    cz["name"] = "Cloze Plus"
    mm.add_field(cz, mm.new_field("Source"))
    cz["css"] += "\n.cloze { color: purple; }"
    mm.add(cz)
    cloze_plus = mm.by_name("Cloze Plus")

    # Notes of every stock type and the custom ones.
    def add(ntname, fields, deck, tags=()):
        nt = mm.by_name(ntname) if isinstance(ntname, str) else ntname
        note = col.new_note(nt)
        for i, v in enumerate(fields):
            note.fields[i] = v
        note.tags = list(tags)
        col.add_note(note, deck)
        return note

    notes = []
    for i in range(6):
        notes.append(add("Basic", [f"front {i}", f"back {i}"], verbs, ["verb", "lang::fr"]))
    notes.append(add("Basic (and reversed card)", ["chien", "dog"], nouns, ["noun"]))
    notes.append(add("Basic (optional reversed card)", ["chat", "cat", "y"], nouns))
    notes.append(add("Basic (optional reversed card)", ["rat", "rat", ""], nouns))
    notes.append(add("Basic (type in the answer)", ["perro", "dog"], spanish, ["lang::es"]))
    notes.append(add("Cloze", ["{{c1::Paris}} is in {{c2::France::country}}; {{c3::Lyon}}",
                               "extra"], misc, ["geo"]))
    notes.append(add("Image Occlusion",
                     ["{{c1::image-occlusion:rect:left=.1:top=.2:width=.3:height=.1:oi=1}}",
                      '<img src="map.png">', "header", "back extra", "comments"], misc))
    notes.append(add(custom, ["maison", "house", "une grande maison", "[sound:maison.mp3]"],
                     verbs, ["Marked", "lang::fr::nouns"]))
    notes.append(add(cloze_plus, ["{{c1::H2O}} is water", "", "chemistry book"], misc,
                     ["science"]))
    doomed = add("Basic", ["to delete", "gone"], misc)

    # Reviews with FSRS on (cards get memory states in their data column).
    col.set_config("fsrs", True)
    dm.select(dm.id("Lang"))
    answered = 0
    for ease in [3, 1, 4, 3, 2, 3, 3, 4, 1, 3, 3, 3]:
        card = col.sched.getCard()
        if card is None:
            break
        col.sched.answerCard(card, ease)
        answered += 1
    cids = sorted(col.find_cards(""))
    col.sched.suspend_cards(cids[-1:])
    col.sched.bury_cards(cids[-2:-1])
    col.set_user_flag_for_cards(2, cids[:2])
    col.sched.set_due_date(cids[2:3], "5")
    col.remove_notes([doomed.id])

    # A filtered deck holding some cards.
    fid = dm.new_filtered("Cram")
    fd = dm.get(fid)
    fd.update(terms=[["deck:Misc", 50, 1], ["tag:noun", 10, 6]], resched=False,
              previewAgainSecs=30, previewHardSecs=300, previewGoodSecs=0)
    dm.save(fd)
    col.sched.rebuild_filtered_deck(fid)

    # Tags (one expanded in the sidebar; Anki registers tags collapsed) and config entries
    # of every JSON kind.
    col.tags.set_collapsed("lang", False)
    col.set_config("addonStuff", {"list": [1, 2.5, "x"], "nested": {"a": None, "b": False}})
    col.set_config("addonNumber", 0.1)
    col.set_config("addonString", "ü ✓")

    summary = {
        "notes": col.note_count(),
        "cards": col.card_count(),
        "revlog": col.db.scalar("select count() from revlog"),
        "answered": answered,
        "filtered_cards": col.db.scalar("select count() from cards where odid != 0"),
        "graves": col.db.scalar("select count() from graves"),
        "notetypes": len(mm.all_names_and_ids()),
        "decks": len(dm.all_names_and_ids()),
        "presets": len(dm.all_config()),
    }
    col.close()
    shutil.copyfile(path18, path11)
    Collection(path11).close(downgrade=True)
    return summary


def parse_other(d):
    """Replace every `other` (base64 JSON bytes) in a MessageToDict result by its JSON."""
    if isinstance(d, dict):
        out = {}
        for k, v in d.items():
            if k == "other" and isinstance(v, str):
                raw = base64.b64decode(v)
                out[k] = json.loads(raw) if raw else {}
            else:
                out[k] = parse_other(v)
        return out
    if isinstance(d, list):
        return [parse_other(x) for x in d]
    return d


def as_dict(msg) -> dict:
    return parse_other(
        MessageToDict(msg, preserving_proto_field_name=True,
                      always_print_fields_with_no_presence=True)
    )


def dump(path: str) -> dict:
    tmp = tempfile.mkdtemp()
    try:
        copy = os.path.join(tmp, "c.anki2")
        shutil.copyfile(path, copy)
        col = Collection(copy)
        b = col._backend
        out: dict = {}
        out["col"] = dict(zip(
            ["crt", "mod", "scm", "ver", "dty", "usn", "ls"],
            col.db.first("select crt, mod, scm, ver, dty, usn, ls from col"),
        ))
        out["notetypes"] = [
            as_dict(b.get_notetype(ntid=n.id))
            for n in sorted(col.models.all_names_and_ids(), key=lambda n: n.id)
        ]
        out["decks"] = [
            as_dict(b.get_deck(did=d.id))
            for d in sorted(col.decks.all_names_and_ids(), key=lambda d: d.id)
        ]
        out["deck_configs"] = [
            as_dict(b.get_deck_config(dcid=c["id"]))
            for c in sorted(col.decks.all_config(), key=lambda c: c["id"])
        ]
        out["config"] = col.all_config()
        out["tags"] = col.db.all("select tag, usn, collapsed from tags order by tag")
        out["notes"] = col.db.all("select * from notes order by id")
        out["cards"] = col.db.all("select * from cards order by id")
        out["revlog"] = col.db.all("select * from revlog order by id")
        out["graves"] = col.db.all("select oid, type, usn from graves order by oid, type")
        out["check_database"] = list(b.check_database())
        col.close()
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in ("build", "dump"):
        print(__doc__, file=sys.stderr)
        return 1
    result = build(sys.argv[2]) if sys.argv[1] == "build" else dump(sys.argv[2])
    json.dump(result, sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
