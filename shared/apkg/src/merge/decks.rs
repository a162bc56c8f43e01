//! Decks. Each imported card's deck is matched by name (case-insensitively, as Anki does); a
//! missing deck is created with its missing parents. Only decks that receive cards are touched.
//!
//! Presets (deck options) come along as Anki imports them: a package preset whose id the
//! collection lacks is added with that id (one it already has is kept as is), and a deck that
//! receives cards takes its package deck's preset unless that is preset 1, and the package deck's
//! own limits where it sets them (Anki's `update_normal_with_other`).

use std::collections::{BTreeSet, HashMap};

use javumbo_collection::JsonObject;
use javumbo_collection::schema::{DEFAULT_DECK_ID, deck_json};
use javumbo_collection::storage::cards::Card;
use serde_json::{Value, json};

use super::Context;
use crate::source::{SourceData, SrcDeck};

/// The collection's deck for each package deck the imported cards use.
pub(super) struct DeckMap {
    resolved: HashMap<i64, i64>,
    /// Names (in the collection) of the decks that received cards or were created.
    touched: BTreeSet<String>,
}

impl DeckMap {
    /// The collection's deck for the package's deck `package_deck_id`.
    pub fn target_of(&self, package_deck_id: i64) -> i64 {
        self.resolved
            .get(&package_deck_id)
            .copied()
            .unwrap_or(DEFAULT_DECK_ID)
    }

    pub fn names(&self) -> Vec<String> {
        self.touched.iter().cloned().collect()
    }
}

impl Context<'_> {
    /// Add the package's presets the collection lacks, keeping their ids (Anki's
    /// `add_deck_config_if_unique`).
    pub(super) fn import_presets(&mut self) {
        for (id, preset) in &self.src.presets {
            let key = id.to_string();
            if !self.dconf.value.contains_key(&key) {
                let mut preset = preset.clone();
                preset["id"] = json!(id);
                preset["usn"] = json!(-1);
                self.dconf.value.insert(key, preset);
                self.dconf.changed = true;
            }
        }
    }

    /// Resolve the deck of every card about to be imported, in card order (which fixes the ids
    /// of the decks created).
    pub(super) fn import_decks(&mut self, cards: &[Card]) -> DeckMap {
        let now_ms = self.now_ms;
        let src = self.src;
        let presets = &self.dconf.value;
        let mut mapper = DeckMapper::new(&mut self.decks.value, now_ms);
        for card in cards {
            mapper.map(src, card.deck_id, presets);
        }
        self.decks.changed |= mapper.changed;
        DeckMap {
            resolved: mapper.resolved,
            touched: mapper.touched,
        }
    }
}

struct DeckMapper<'a> {
    target: &'a mut JsonObject,
    /// Lower-cased name -> (id, name as spelled in the collection).
    by_name: HashMap<String, (i64, String)>,
    next_id: i64,
    now_secs: i64,
    resolved: HashMap<i64, i64>,
    touched: BTreeSet<String>,
    changed: bool,
}

impl<'a> DeckMapper<'a> {
    fn new(target: &'a mut JsonObject, now_ms: i64) -> Self {
        let mut by_name = HashMap::new();
        let mut max_id = 0;
        for d in target.values() {
            if let (Some(id), Some(name)) = (
                d.get("id").and_then(Value::as_i64),
                d.get("name").and_then(Value::as_str),
            ) {
                by_name.insert(name.to_lowercase(), (id, name.to_owned()));
                max_id = max_id.max(id);
            }
        }
        Self {
            target,
            by_name,
            next_id: now_ms.max(max_id.saturating_add(1)),
            now_secs: now_ms.div_euclid(1000),
            resolved: HashMap::new(),
            touched: BTreeSet::new(),
            changed: false,
        }
    }

    /// The target deck for a source deck id; decks (and missing parents) are created by name.
    fn map(&mut self, src: &SourceData, src_did: i64, presets: &JsonObject) -> i64 {
        if let Some(&id) = self.resolved.get(&src_did) {
            return id;
        }
        let id = match src.decks.get(&src_did) {
            // A filtered deck only lends cards; they go back to their home deck (see
            // `cards::send_home`), so one still pointing here has no home: use Default, as
            // Anki's Check Database does for cards in a missing deck.
            Some(deck) if !deck.filtered => {
                let name = normalize_deck_name(&deck.name);
                let id = self.ensure(&name, &deck.desc);
                self.take_options(id, deck, presets);
                id
            }
            _ => DEFAULT_DECK_ID,
        };
        if let Some(name) = self
            .target
            .get(&id.to_string())
            .and_then(|d| d.get("name"))
            .and_then(Value::as_str)
        {
            self.touched.insert(name.to_owned());
        }
        self.resolved.insert(src_did, id);
        id
    }

    /// The package deck's preset (unless it is 1 or unknown) and the limits it sets.
    fn take_options(&mut self, id: i64, deck: &SrcDeck, presets: &JsonObject) {
        let Some(target) = self.target.get_mut(&id.to_string()) else {
            return;
        };
        let before = target.clone();
        if deck.conf_id != 1 && presets.contains_key(&deck.conf_id.to_string()) {
            target["conf"] = json!(deck.conf_id);
        }
        for (k, v) in &deck.limits {
            target[k.as_str()] = v.clone();
        }
        if *target != before {
            target["mod"] = json!(self.now_secs);
            target["usn"] = json!(-1);
            self.changed = true;
        }
    }

    /// Find or create `name` and its parents. An existing ancestor keeps its own spelling
    /// ("Lang::Verbs" under an existing "lang" becomes "lang::Verbs"), as Anki matches parents.
    fn ensure(&mut self, name: &str, desc: &str) -> i64 {
        let mut path = String::new();
        let mut id = DEFAULT_DECK_ID;
        let parts: Vec<&str> = name.split("::").collect();
        for (i, part) in parts.iter().enumerate() {
            if !path.is_empty() {
                path.push_str("::");
            }
            path.push_str(part);
            id = match self.by_name.get(&path.to_lowercase()) {
                Some((existing, real)) => {
                    path.clone_from(real);
                    *existing
                }
                None => {
                    let new_id = self.next_id;
                    self.next_id += 1;
                    let mut deck = deck_json(new_id, &path, self.now_secs);
                    if i + 1 == parts.len() {
                        deck["desc"] = json!(desc);
                    }
                    self.target.insert(new_id.to_string(), deck);
                    self.by_name
                        .insert(path.to_lowercase(), (new_id, path.clone()));
                    self.touched.insert(path.clone());
                    self.changed = true;
                    new_id
                }
            };
        }
        id
    }
}

/// Anki's deck-name rules: `::`-separated components, trimmed, none empty, no control chars.
fn normalize_deck_name(name: &str) -> String {
    let parts: Vec<String> = name
        .split("::")
        .map(|p| {
            p.chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
                .trim()
                .to_owned()
        })
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        "Imported".to_owned()
    } else {
        parts.join("::")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deck_names_are_normalized() {
        assert_eq!(normalize_deck_name(" A :: B\u{7}::  ::C "), "A::B::C");
        assert_eq!(normalize_deck_name(":: ::"), "Imported");
    }
}
