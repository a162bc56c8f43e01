#!/usr/bin/env python3
"""Referee for javumbo's template renderer (`javumbo-templates`), built on the official `anki`
package: generates note types, templates and notes from a seed, lets Anki generate and render
the cards, and dumps everything the Rust side needs to reproduce them.

Usage:  python template_oracle.py SEED NOTES > dump.json

The collection holds every stock note type (Basic, Basic (and reversed card), Basic (optional
reversed card), Basic (type in the answer), Cloze, Image Occlusion) plus custom note types with
generated templates (random sections, filters, special fields, comments, alternative delimiters,
unknown fields, unbalanced sections, whitespace and brace oddities), and NOTES notes with
generated fields (HTML, entities, clozes with hints / several numbers / nesting, furigana,
sounds, TTS tags, LaTeX, MathJax, image occlusions, unicode, empty fields) in random decks
(nested, unicode, some cards moved into a filtered deck), with random tags and flags. A share of
the notes is edited after being added (Anki then adds the cards the new content asks for).

Output (stdout), JSON:
  {"seed", "notetypes": [{"id", "name", "kind" (0 normal, 1 cloze), "fields": [names],
                          "templates": [{"name","qfmt","afmt","bqfmt","bafmt"}], "css",
                          "latex_svg"}],
   "notes": [{"id", "notetype", "fields_added": [...], "fields": [...], "tags": [...],
              "ords_added": [ords Anki generated when the note was added],
              "ords": [ords after the edit (same as ords_added when not edited)],
              "empty_ords": [ords Anki's Empty Cards lists for the note]}],
   "cards": [{"id", "note", "ord", "deck" (home deck name), "flags",
              "question", "answer"             (card.question() / card.answer()),
              "browser_question", "browser_answer"  (question(browser=True) and its answer)}]}

LaTeX: Anki appends an error to a card when a LaTeX image is missing from the media folder and
cannot be compiled. The referee treats every LaTeX image as already present (`media.have`), the
situation of a deck whose images were generated, so the card HTML is what Anki shows then.
"""
from __future__ import annotations

import json
import os
import random
import sys
import tempfile

from anki.collection import Collection

WORDS = [
    "alpha", "beta", "gamma", "über", "naïve", "café", "日本語", "漢字", "中文", "한국어",
    "Ελληνικά", "русский", "עברית", "العربية", "🙂", "🦀", "x", "a b", "  ", "\t", "\n",
    "line<br>break", "tab\there", "{", "}", "{{", "}}", ":", "::", "[", "]", "[...]", "<", ">",
    "&", "#", "^", "/", "\\", '"', "'", "=", "-->", "<!--",
]
HTML_BITS = [
    "<b>bold</b>", "<i>it</i>", "<div>block</div>", "<br>", "<br/>", "<BR />", "<div></div>",
    "<span style=\"color: red\">red</span>", '<img src="pic.png">', "<img src='a b.jpg'>",
    "<img src=plain.gif>", '<a href="https://example.com">link</a>', "<style>.x{}</style>",
    "<script>var a = 1 < 2;</script>", "<!-- comment -->", "&amp;", "&lt;b&gt;", "&nbsp;",
    "&#x41;", "&#66;", "&bogus;", "& lone", "&copy;", "<ruby>漢<rt>かん</rt></ruby>",
    "<p>para</p>", "<ul><li>item</li></ul>", "<table><tr><td>cell</td></tr></table>",
    "<unclosed", "a > b", "<STYLE>p{}</STYLE>",
]
MEDIA_BITS = [
    "[sound:a.mp3]", "[sound:b c.ogg]", "[sound:x&amp;y.mp3]", "[sound:]", "[sound:v.mp4]",
    "[anki:tts lang=en_US]spoken[/anki:tts]", "[anki:tts lang=ja_JP voices=A,B speed=1.2]日本[/anki:tts]",
    "[anki:tts]no lang[/anki:tts]", "[anki:tts lang=fr_FR cloze_blank=blanc][...][/anki:tts]",
    "[anki:other opt=1]inner [sound:in.mp3][/anki:other]", "[anki:tts lang=en_US]unclosed",
    "[latex]x^2[/latex]", "[$]\\frac{a}{b}[/$]", "[$$]E=mc^2[/$$]", "[latex]a<br>b[/latex]",
    "\\(x<b>y</b>\\)", "\\[\\sum_i i\\]", "[sound:one.mp3][sound:two.mp3]",
]
FURIGANA_BITS = [
    "漢字[かんじ]", "日本[にほん] 語[ご]", " 東京[とうきょう]", "読[よ]み", "x[sound:s.mp3]",
    "a&nbsp;b[c]", "broken[", "[only]",
]
TAGS = ["t1", "t2", "vocab", "日本語", "a::b", "a::b::c", "filt", "marked", "leech", "ünï"]
DECKS = [
    "Default", "Languages", "Languages::Spanish", "Languages::日本語::漢字", "Science",
    "Science::Physics::Quantum", "Ünïcode 🙂",
]
FILTERS = [
    "text", "hint", "furigana", "kana", "kanji", "cloze", "cloze-only", "type", "type:cloze",
    "type:nc", "nc", "tts en_US", "tts ja_JP voices=Apple_Otoya speed=0.8", "tts",
    "tts-voices", "unknown", "", "text:hint", "hint:text", "unknown:text", "text:unknown",
    "kana:text", "cloze:text", "text:cloze", "hint:cloze", "type:text",
]
SPECIALS = ["Tags", "Type", "Deck", "Subdeck", "Card", "CardFlag", "CardID"]


class Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def pick(self, seq):
        return self.r.choice(seq)

    # Field content -------------------------------------------------------------------------

    def plain(self, n: int | None = None) -> str:
        n = self.r.randint(1, 4) if n is None else n
        return " ".join(self.pick(WORDS) for _ in range(n))

    def cloze(self, depth: int = 0) -> str:
        nums = self.r.choice([[1], [1], [2], [3], [1, 2], [2, 3], [1, 1], [0], [12], [1, 3, 5]])
        body = self.plain(self.r.randint(1, 2))
        if depth < 3 and self.chance(0.2):
            body += " " + self.cloze(depth + 1) + " " + self.plain(1)
        if self.chance(0.15):
            body = self.pick(HTML_BITS) + body
        hint = ""
        if self.chance(0.35):
            hint = "::" + self.pick(["hint", "a hint", "<i>h</i>", "", "日本", "h::h"])
        return "{{c%s::%s%s}}" % (",".join(map(str, nums)), body, hint)

    def occlusion(self) -> str:
        shape = self.pick(["rect", "ellipse", "polygon", "text", "star"])
        props = []
        for name in ["left", "top", "width", "height", "rx", "ry", "angle", "fill", "oi",
                     "points", "text", "scale", "fs"]:
            if self.chance(0.5):
                value = self.pick([".25", "10", "0", "", "1,2 3,4", r"a\:b", "x y", "#ff0000"])
                props.append(f"{name}={value}")
        n = self.r.randint(1, 4)
        return "{{c%d::image-occlusion:%s%s}}" % (n, shape, "".join(":" + p for p in props))

    def field(self, cloze_likely: bool = False) -> str:
        roll = self.r.random()
        if roll < 0.12:
            return self.pick(["", " ", "<br>", "<div></div>", " <div> <br> </div>\n", "&nbsp;"])
        parts = []
        for _ in range(self.r.randint(1, 5)):
            k = self.r.random()
            if k < (0.45 if cloze_likely else 0.1):
                parts.append(self.cloze())
            elif k < 0.55:
                parts.append(self.plain())
            elif k < 0.72:
                parts.append(self.pick(HTML_BITS))
            elif k < 0.85:
                parts.append(self.pick(MEDIA_BITS))
            elif k < 0.95:
                parts.append(self.pick(FURIGANA_BITS))
            else:
                parts.append(self.pick([
                    "{{c1::unclosed", "}}", "{{c::x}}", "{{c1:x}}", "{{c1,::y}}",
                    "{{c70000::z}}", "{{Front}}",
                    # deeper than Anki's 10 open deletions
                    "{{c1::" * 12 + "deep" + "}}" * 12,
                    "{{c2::a::h1 {{c1::b}} c::h2}}", "{{c1::<b>x</b>::&amp;hint}}",
                    "{{c1::image-occlusion:rect:left=1:top=2}}", "{{c3::\\(a<i>b</i>\\)}}",
                    "<\u017ftyle>hidden</\u017ftyle>", "<!-- {{c1::commented}} -->",
                    "[anki:tts lang=en_US voices=A speed=x extra=1]t[/anki:tts]",
                ]))
        return self.pick(["", " ", ""]).join(parts)

    # Templates -----------------------------------------------------------------------------

    def key(self, fields: list[str], allow_unknown: bool, section: bool = False) -> str:
        roll = self.r.random()
        if roll < 0.65:
            return self.pick(fields)
        if roll < 0.85:
            return self.pick(SPECIALS)
        # `{{c2}}` is only a field on the second card; as a section it is valid everywhere
        if roll < (0.92 if section else 0.88):
            return self.pick(["c1", "c2", "c3"])
        if allow_unknown and roll < 0.95:
            return self.pick(["Nope", "front", "Missing Field"])
        return self.pick(fields)

    def replacement(self, fields: list[str], allow_unknown: bool, answer: bool) -> str:
        if answer and self.chance(0.15):
            return self.pick(["{{FrontSide}}", "{{ FrontSide }}", "{{text:FrontSide}}"])
        key = self.key(fields, allow_unknown)
        if self.chance(0.03):
            return self.pick(["{{}}", "{{:}}", "{{text:}}", "{{tts-voices:}}", "{{tts en_US:}}"])
        filt = self.pick(FILTERS) if self.chance(0.55) else None
        inner = f"{filt}:{key}" if filt is not None else key
        if self.chance(0.1):
            inner = f" {inner} "
        if self.chance(0.03):
            return "{{{" + inner + "}}}"
        return "{{" + inner + "}}"

    def template(self, fields: list[str], answer: bool, cloze: bool, broken: bool) -> str:
        out = []
        depth = 0
        open_keys: list[str] = []
        alt = self.chance(0.05)
        if cloze:
            out.append("{{cloze:%s}}" % self.pick(fields))
        if answer and self.chance(0.6):
            out.append("{{FrontSide}}<hr id=answer>")
        for _ in range(self.r.randint(1, 9)):
            roll = self.r.random()
            if roll < 0.35:
                out.append(self.replacement(fields, broken, answer))
            elif roll < 0.55:
                out.append(self.pick(["<div>", "</div>", " ", "\n", "text", "<br>", "|", "日本",
                                      "<!-- {{Nope}} -->", "}}", "{{", "{", "<b>", "</b>"]))
            elif roll < 0.75 and depth < 4:
                k = self.key(fields, broken, section=True)
                sigil = self.pick(["#", "^", "# ", "^ "])
                out.append("{{%s%s}}" % (sigil, k))
                open_keys.append(k)
                depth += 1
            elif open_keys:
                k = open_keys.pop()
                out.append("{{/%s}}" % (self.pick([k, "Other"]) if broken else k))
                depth -= 1
            else:
                out.append(self.replacement(fields, broken, answer))
        if not (broken and self.chance(0.5)):
            while open_keys:
                out.append("{{/%s}}" % open_keys.pop())
        text = "".join(out)
        if alt:
            # Anki's legacy alternative delimiters, declared at the very start
            if self.chance(0.7):
                text = text.replace("{{", "<%").replace("}}", "%>")
            text = self.pick(["", " \n"]) + "{{=<% %>=}}" + text
        return text


def rendered(card) -> dict:
    """The card's reviewer and browser HTML, each with its style (`question_and_style()`)."""
    out = card.render_output(reload=True, browser=False)
    bout = card.render_output(reload=True, browser=True)
    return {
        "question": out.question_and_style(),
        "answer": out.answer_and_style(),
        "browser_question": bout.question_and_style(),
        "browser_answer": bout.answer_and_style(),
    }


def add_custom_notetypes(col: Collection, g: Gen, count: int) -> list[dict]:
    mm = col.models
    made = []
    for i in range(count):
        cloze = g.chance(0.25)
        broken = g.chance(0.2)
        nfields = g.r.randint(1, 4)
        names = [g.pick(["Front", "Back", "Extra", "Text", "Back Extra", "Ünïcode 字段",
                         "Notes", "Reading"]) + (f" {j}" if j else "") for j in range(nfields)]
        names = list(dict.fromkeys(names))
        if g.chance(0.15):
            names.append(g.pick(["Tags", "Deck", "Card", "c1"]))
        m = mm.new(f"Custom {i}{' cloze' if cloze else ''}{' broken' if broken else ''}")
        if cloze:
            m["type"] = 1
        for name in names:
            mm.add_field(m, mm.new_field(name))
        ntemplates = 1 if cloze else g.r.randint(1, 3)
        for t in range(ntemplates):
            tmpl = mm.new_template(g.pick(["Card", "Recognition", "日本", "Card 2"]) + f" {t}")
            # placeholders Anki's checks accept (distinct fronts); replaced below
            tmpl["qfmt"] = ("{{cloze:%s}}" % names[0] if cloze else "{{%s}}" % names[0]) + "x" * t
            tmpl["afmt"] = tmpl["qfmt"]
            mm.add_template(m, tmpl)
        m["css"] = g.pick([".card { color: red; }", "", ".cloze { font-weight: bold; }\n"])
        m["latexsvg"] = g.chance(0.3)
        mm.add(m)
        m = mm.by_name(m["name"])
        # Real templates go in unchecked: Anki refuses unknown fields and unbalanced sections
        # when saving through its editor, but collections made elsewhere have them.
        for tmpl in m["tmpls"]:
            tmpl["qfmt"] = g.template(names, False, cloze, broken)
            tmpl["afmt"] = g.template(names, True, cloze, broken)
            if g.chance(0.2):
                tmpl["bqfmt"] = g.template(names, False, cloze, broken)
            if g.chance(0.2):
                tmpl["bafmt"] = g.template(names, True, cloze, broken)
        mm.update_dict(m, skip_checks=True)
        made.append(mm.by_name(m["name"]))
    return made


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    seed, notes_wanted = int(sys.argv[1]), int(sys.argv[2])
    g = Gen(seed)

    import anki.latex

    tmp = tempfile.mkdtemp(prefix="tmpl-oracle")
    col = Collection(os.path.join(tmp, "collection.anki2"))
    col.media.have = lambda _fname: True  # see the module docstring (LaTeX)
    _ = anki.latex  # the LaTeX hook is installed by importing the collection module
    try:
        stock = [col.models.by_name(n) for n in [
            "Basic", "Basic (and reversed card)", "Basic (optional reversed card)",
            "Basic (type in the answer)", "Cloze", "Image Occlusion"]]
        customs = add_custom_notetypes(col, g, 14)
        notetypes = stock + customs
        deck_ids = [col.decks.id(name) for name in DECKS]

        notes_out = []
        for i in range(notes_wanted):
            nt = notetypes[i % len(notetypes)] if i < 2 * len(notetypes) else g.pick(notetypes)
            note = col.new_note(nt)
            cloze = nt["type"] == 1
            for idx, fld in enumerate(nt["flds"]):
                if nt["name"] == "Image Occlusion" and fld["name"] == "Occlusion":
                    note[fld["name"]] = "".join(g.occlusion() for _ in range(g.r.randint(1, 4)))
                elif nt["name"] == "Image Occlusion" and fld["name"] == "Image":
                    note[fld["name"]] = '<img src="occluded.png">'
                else:
                    note[fld["name"]] = g.field(cloze_likely=cloze and idx == 0)
            note.tags = sorted(set(g.pick(TAGS) for _ in range(g.r.randint(0, 3))))
            col.add_note(note, g.pick(deck_ids))
            added = col.get_note(note.id)
            ords_added = sorted(c.ord for c in added.cards())
            fields_added = list(added.fields)
            if g.chance(0.2):
                for fld in nt["flds"]:
                    if g.chance(0.6):
                        added[fld["name"]] = g.field(cloze_likely=cloze)
                col.update_note(added)
            final = col.get_note(note.id)
            notes_out.append({
                "id": final.id,
                "notetype": nt["id"],
                "fields_added": fields_added,
                "fields": list(final.fields),
                "tags": list(final.tags),
                "ords_added": ords_added,
                "ords": sorted(c.ord for c in final.cards()),
            })

        cids = list(col.find_cards(""))
        for cid in cids:
            if g.chance(0.15):
                col.set_user_flag_for_cards(g.r.randint(1, 7), [cid])
        filtered = col.sched.get_or_create_filtered_deck(deck_id=0)
        filtered.name = "Filtered::Session"
        filtered.config.search_terms[0].search = "tag:filt"
        filtered.config.search_terms[0].limit = 10000
        col.sched.add_or_update_filtered_deck(filtered)

        card_ord = {}
        cards_out = []
        for cid in sorted(col.find_cards("")):
            c = col.get_card(cid)
            card_ord[cid] = c.ord
            cards_out.append({
                "id": c.id,
                "note": c.nid,
                "ord": c.ord,
                "deck": col.decks.name(c.odid or c.did),
                "in_filtered_deck": bool(c.odid),
                "flags": c.flags,
                **rendered(c),
            })
        empty = {}
        for n in col.get_empty_cards().notes:
            empty[n.note_id] = sorted(card_ord[cid] for cid in n.card_ids)
        for n in notes_out:
            n["empty_ords"] = empty.get(n["id"], [])

        nts_out = []
        for nt in notetypes:
            nt = col.models.get(nt["id"])
            nts_out.append({
                "id": nt["id"],
                "name": nt["name"],
                "kind": nt["type"],
                "fields": [f["name"] for f in sorted(nt["flds"], key=lambda f: f["ord"])],
                "templates": [
                    {k: t.get(k) or "" for k in ["name", "qfmt", "afmt", "bqfmt", "bafmt"]}
                    for t in sorted(nt["tmpls"], key=lambda t: t["ord"])
                ],
                "css": nt["css"],
                "latex_svg": bool(nt.get("latexsvg", False)),
            })
        json.dump({"seed": seed, "notetypes": nts_out, "notes": notes_out, "cards": cards_out},
                  sys.stdout, ensure_ascii=False)
    finally:
        col.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
