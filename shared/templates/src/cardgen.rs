//! Which cards a note has (`rslib/src/notetype/cardgen.rs`, `emptycards.rs`).
//!
//! Normal note types: card type `i` exists when its question template renders some non-empty
//! field ([`Template::renders_with_fields`]); for this test the special fields (`Deck`, `Card`,
//! `CardFlag`, …) always count as non-empty, `Tags` only if the note has tags, and `FrontSide`
//! and `c<N>` never. A template that does not parse generates nothing.
//! Cloze note types: one card per cloze number found in *any* field, ordinal `N − 1` (capped at
//! 499).
//! Either way a note that would get no card at all gets card 0, so every note has one.
//!
//! Anki never deletes cards when fields change: it only adds the missing ones. Cards whose
//! content went away stay ("empty cards", shown with a message) until the user runs Empty Cards.

use std::collections::{BTreeSet, HashSet};

use crate::card::{Note, Notetype, NotetypeKind};
use crate::cloze::cloze_numbers_in_fields;
use crate::html::field_is_empty;
use crate::template::Template;

/// Anki's cloze ordinals stop at 500 cards.
const MAX_CLOZE_ORD: u16 = 499;

const SPECIAL_FIELDS: [&str; 8] = [
    "FrontSide",
    "Card",
    "CardFlag",
    "Deck",
    "Subdeck",
    "Tags",
    "Type",
    "CardID",
];

/// The ordinals the note's content asks for (no "at least one card" fallback): Anki's
/// `new_cards_required(note, [], false)`. Existing cards outside this set are Anki's empty cards.
pub fn nonempty_ordinals(nt: &Notetype, note: &Note<'_>) -> BTreeSet<u16> {
    match nt.kind {
        NotetypeKind::Cloze => cloze_numbers_in_fields(note.fields)
            .into_iter()
            .map(|n| n.saturating_sub(1).min(MAX_CLOZE_ORD))
            .collect(),
        NotetypeKind::Normal => {
            let mut nonempty: HashSet<&str> = note
                .fields
                .iter()
                .zip(&nt.fields)
                .filter(|(value, _)| !field_is_empty(value))
                .map(|(_, name)| name.as_str())
                .collect();
            for special in SPECIAL_FIELDS {
                if !nt.fields.iter().any(|f| f == special)
                    && special != "FrontSide"
                    && (special != "Tags" || !note.tags.is_empty())
                {
                    nonempty.insert(special);
                }
            }
            nt.templates
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    Template::parse(&t.qfmt).is_ok_and(|t| t.renders_with_fields(&nonempty))
                })
                .filter_map(|(i, _)| u16::try_from(i).ok())
                .collect()
        }
    }
}

/// The ordinals to add for a note that already has cards with `existing` ordinals (empty for a
/// new note): Anki's `new_cards_required(note, existing, true)`, used both when a note is added
/// and after its fields change. Ascending.
pub fn ordinals_to_add(nt: &Notetype, note: &Note<'_>, existing: &BTreeSet<u16>) -> Vec<u16> {
    let wanted: Vec<u16> = nonempty_ordinals(nt, note)
        .into_iter()
        .filter(|o| !existing.contains(o))
        .collect();
    if existing.is_empty() && wanted.is_empty() {
        vec![0]
    } else {
        wanted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::CardTemplate;

    fn nt(kind: NotetypeKind, fields: &[&str], qfmts: &[&str]) -> Notetype {
        Notetype {
            name: "T".into(),
            kind,
            fields: fields.iter().map(|s| s.to_string()).collect(),
            templates: qfmts
                .iter()
                .map(|q| CardTemplate {
                    name: "c".into(),
                    qfmt: q.to_string(),
                    ..Default::default()
                })
                .collect(),
            css: String::new(),
            latex_svg: false,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn normal() {
        let t = nt(
            NotetypeKind::Normal,
            &["Front", "Back", "Add Reverse"],
            &["{{Front}}", "{{#Add Reverse}}{{Back}}{{/Add Reverse}}"],
        );
        let f = strings(&["a", "b", ""]);
        let note = Note {
            fields: &f,
            tags: &[],
        };
        assert_eq!(ordinals_to_add(&t, &note, &BTreeSet::new()), vec![0]);
        let f = strings(&["a", "b", "y"]);
        let note = Note {
            fields: &f,
            tags: &[],
        };
        assert_eq!(
            ordinals_to_add(&t, &note, &[0].into_iter().collect()),
            vec![1]
        );
        // nothing renders: card 0 all the same, but only for a note without cards
        let f = strings(&["", "", ""]);
        let note = Note {
            fields: &f,
            tags: &[],
        };
        assert_eq!(ordinals_to_add(&t, &note, &BTreeSet::new()), vec![0]);
        assert!(nonempty_ordinals(&t, &note).is_empty());
        assert!(ordinals_to_add(&t, &note, &[1].into_iter().collect()).is_empty());
    }

    #[test]
    fn specials_and_broken_templates() {
        let t = nt(
            NotetypeKind::Normal,
            &["F"],
            &["{{Deck}}", "{{Tags}}", "{{#F}}", "{{FrontSide}}{{c1}}"],
        );
        let f = strings(&[""]);
        let tags = strings(&["x"]);
        let none = Note {
            fields: &f,
            tags: &[],
        };
        let tagged = Note {
            fields: &f,
            tags: &tags,
        };
        assert_eq!(nonempty_ordinals(&t, &none), [0].into_iter().collect());
        assert_eq!(nonempty_ordinals(&t, &tagged), [0, 1].into_iter().collect());
    }

    #[test]
    fn cloze() {
        let t = nt(NotetypeKind::Cloze, &["Text", "Extra"], &["{{cloze:Text}}"]);
        let f = strings(&["{{c2::x}} {{c600::y}} {{c0::z}}", "{{c1::in extra}}"]);
        let note = Note {
            fields: &f,
            tags: &[],
        };
        assert_eq!(
            ordinals_to_add(&t, &note, &BTreeSet::new()),
            vec![0, 1, 499]
        );
        let f = strings(&["no clozes", ""]);
        let note = Note {
            fields: &f,
            tags: &[],
        };
        assert_eq!(ordinals_to_add(&t, &note, &BTreeSet::new()), vec![0]);
    }
}
