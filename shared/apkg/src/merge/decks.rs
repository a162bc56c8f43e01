//! Decks. Each imported card's deck is matched by name (case-insensitively, as Anki does); a
//! missing deck is created with its missing parents. Only decks that receive cards are touched.
//! A kept filtered deck is matched only by a filtered deck of the same name (a regular one of
//! that name makes it `Name+`, Anki's rule) and is created with the package's search settings.
//! Names are held to the limits every route keeps (`javumbo_collection::limits`).
//!
//! Presets (deck options) come along as Anki imports them: a package preset whose id the
//! collection lacks is added with that id (one it already has is kept as is), and a deck that
//! receives cards takes its package deck's preset unless that is preset 1, and the package deck's
//! own limits where it sets them (Anki's `update_normal_with_other`).

use std::collections::{BTreeSet, HashMap};

use javumbo_collection::JsonObject;
use javumbo_collection::limits::{MAX_DECK_DEPTH, MAX_DECK_NAME_CHARS, MAX_DECKS, deck_depth};
use javumbo_collection::schema::{DEFAULT_DECK_ID, deck_json};
use javumbo_collection::storage::cards::Card;
use serde_json::{Value, json};

use super::Context;
use crate::ApkgError;
use crate::source::{SourceData, SrcDeck};

/// The collection's deck for each package deck the imported cards use.
pub(super) struct DeckMap {
    resolved: HashMap<i64, i64>,
    /// Names (in the collection) of the decks that received cards or were created.
    touched: BTreeSet<String>,
    added: usize,
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

    /// Decks the import created.
    pub fn added(&self) -> usize {
        self.added
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
    pub(super) fn import_decks(&mut self, cards: &[Card]) -> Result<DeckMap, ApkgError> {
        let now_ms = self.now_ms;
        let src = self.src;
        let presets = &self.dconf.value;
        if src.decks.len() > MAX_DECKS {
            return Err(too_many_decks(src.decks.len()));
        }
        let mut mapper = DeckMapper::new(&mut self.decks.value, now_ms);
        for card in cards {
            mapper.map(src, card.deck_id, presets)?;
            if card.original_deck_id != 0 {
                mapper.map(src, card.original_deck_id, presets)?;
            }
        }
        self.decks.changed |= mapper.changed;
        if mapper.target.len() > MAX_DECKS {
            return Err(too_many_decks(mapper.target.len()));
        }
        Ok(DeckMap {
            resolved: mapper.resolved,
            touched: mapper.touched,
            added: mapper.added,
        })
    }
}

fn too_many_decks(n: usize) -> ApkgError {
    ApkgError::TooLarge(format!(
        "{n} decks; the limit is {MAX_DECKS} decks in a collection"
    ))
}

struct DeckMapper<'a> {
    target: &'a mut JsonObject,
    /// Lower-cased name -> (id, name as spelled in the collection, filtered).
    by_name: HashMap<String, (i64, String, bool)>,
    next_id: i64,
    now_secs: i64,
    resolved: HashMap<i64, i64>,
    touched: BTreeSet<String>,
    added: usize,
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
                let filtered = d.get("dyn").and_then(Value::as_i64).unwrap_or(0) != 0;
                by_name.insert(name.to_lowercase(), (id, name.to_owned(), filtered));
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
            added: 0,
            changed: false,
        }
    }

    /// The target deck for a source deck id; decks (and missing parents) are created by name.
    fn map(
        &mut self,
        src: &SourceData,
        src_did: i64,
        presets: &JsonObject,
    ) -> Result<i64, ApkgError> {
        if let Some(&id) = self.resolved.get(&src_did) {
            return Ok(id);
        }
        let id = match src.decks.get(&src_did) {
            Some(deck) => {
                let name = checked_deck_name(&deck.name)?;
                let id = self.ensure(&name, deck);
                if !deck.filtered {
                    self.take_options(id, deck, presets);
                }
                id
            }
            // Anki's Check Database puts cards of a missing deck in Default.
            None => DEFAULT_DECK_ID,
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
        Ok(id)
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
    /// Parents are regular decks; the last level is of `deck`'s kind.
    fn ensure(&mut self, name: &str, deck: &SrcDeck) -> i64 {
        let mut path = String::new();
        let mut id = DEFAULT_DECK_ID;
        let parts: Vec<&str> = name.split("::").collect();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let filtered = last && deck.filtered;
            if !path.is_empty() {
                path.push_str("::");
            }
            path.push_str(part);
            if let Some((existing, real, kind)) = self.by_name.get(&path.to_lowercase()) {
                if *kind == filtered {
                    path.clone_from(real);
                    id = *existing;
                    continue;
                }
                // Anki: a deck of the other kind under a taken name gets `+` until it is free
                // (a filtered deck cannot be a parent, so a parent level meets this rule too).
                while self.by_name.contains_key(&path.to_lowercase()) {
                    path.push('+');
                }
            }
            let new_id = self.next_id;
            self.next_id += 1;
            let mut json = if filtered {
                let mut j = deck.json.clone();
                j["id"] = json!(new_id);
                j["name"] = json!(path);
                j["usn"] = json!(-1);
                j["mod"] = json!(self.now_secs);
                j
            } else {
                deck_json(new_id, &path, self.now_secs)
            };
            if last {
                json["desc"] = json!(deck.desc);
            }
            self.target.insert(new_id.to_string(), json);
            self.by_name
                .insert(path.to_lowercase(), (new_id, path.clone(), filtered));
            self.touched.insert(path.clone());
            self.added += 1;
            self.changed = true;
            id = new_id;
        }
        id
    }
}

/// The package's deck name, normalised as Anki does, within the name and depth limits.
fn checked_deck_name(raw: &str) -> Result<String, ApkgError> {
    // Refuse before the linear work on a hostile name (the split below touches every level).
    if raw.len() > 16 * MAX_DECK_NAME_CHARS {
        return Err(deck_name_too_long(raw));
    }
    let name = normalize_deck_name(raw);
    if name.chars().count() > MAX_DECK_NAME_CHARS {
        return Err(deck_name_too_long(&name));
    }
    let depth = deck_depth(&name);
    if depth > MAX_DECK_DEPTH {
        return Err(ApkgError::invalid(format!(
            "deck {:?} is nested {depth} levels deep; the deck depth limit is {MAX_DECK_DEPTH} \
             levels",
            shown(&name)
        )));
    }
    Ok(name)
}

fn deck_name_too_long(name: &str) -> ApkgError {
    ApkgError::invalid(format!(
        "deck name {:?}… is longer than the deck name limit of {MAX_DECK_NAME_CHARS} characters",
        shown(name)
    ))
}

fn shown(name: &str) -> String {
    name.chars().take(40).collect()
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
