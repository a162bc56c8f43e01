//! Decks: listing, the current deck, create / rename / delete.
//!
//! Deck names follow Anki: `::` separates levels, each level is trimmed, and a deck's subtree is
//! the deck plus every deck whose name starts with `<name>::`. Creating or renaming to `A::B`
//! creates a missing parent `A`, as Anki does, so the hierarchy never has holes.

use serde::Serialize;
use serde_json::Value;

use crate::cards::Doomed;
use crate::coljson::{ColJson, JsonObject, json_i64};
use crate::schema::{DEFAULT_DECK_ID, deck_json};
use crate::sync_state::{GraveKind, add_grave};
use crate::{Collection, CollectionError, Result, storage};

/// Longest deck name we accept, in characters (the whole `A::B` path).
pub const MAX_DECK_NAME_CHARS: usize = 100;

/// A deck as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deck {
    pub id: i64,
    pub name: String,
    pub desc: String,
    /// A filtered deck only borrows its cards (built on a device): it has no preset, and
    /// deleting it sends its cards home.
    pub filtered: bool,
}

/// What `delete_deck` removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletedDeck {
    pub name: String,
    /// Cards removed from the deck and its subdecks.
    pub cards_deleted: i64,
}

/// A deck entry read from `col.decks`.
#[derive(Debug, Clone)]
pub(crate) struct DeckRow {
    pub id: i64,
    pub name: String,
    pub desc: String,
    /// Filtered ("dynamic") decks hold borrowed cards; new cards may not be added to them.
    pub filtered: bool,
    /// Its deck-options group (`dconf` key).
    pub conf_id: i64,
}

/// The first deck of the decks JSON that is deck `id`, as [`Collection::deck_rows`] would list
/// it, building only that one (every request looks a deck or two up by id; building every row
/// to find one was a visible share of a container's CPU).
fn find_row(decks: &JsonObject, id: i64) -> Option<DeckRow> {
    decks
        .iter()
        .filter(|(k, v)| DeckRow::id_of(k, v) == Some(id))
        .find_map(|(k, v)| DeckRow::from_json(k, v))
}

impl DeckRow {
    fn id_of(key: &str, v: &Value) -> Option<i64> {
        json_i64(v.as_object()?, "id").or_else(|| key.parse().ok())
    }

    fn from_json(key: &str, v: &Value) -> Option<Self> {
        let obj = v.as_object()?;
        let id = Self::id_of(key, v)?;
        let name = obj.get("name")?.as_str()?.to_string();
        Some(Self {
            id,
            name,
            desc: obj
                .get("desc")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            filtered: json_i64(obj, "dyn").unwrap_or(0) != 0,
            conf_id: json_i64(obj, "conf").unwrap_or(crate::schema::DEFAULT_DCONF_ID),
        })
    }

    /// True for this deck and its descendants.
    pub(crate) fn is_in_subtree_of(&self, root_name: &str) -> bool {
        self.name == root_name || is_child_name(&self.name, root_name)
    }
}

fn is_child_name(name: &str, parent: &str) -> bool {
    name.len() > parent.len() + 2
        && name.starts_with(parent)
        && name[parent.len()..].starts_with("::")
}

/// Anki orders decks level by level, case-insensitively: `A`, `A::B`, `A b`.
pub(crate) fn sort_key(name: &str) -> String {
    name.to_lowercase().replace("::", "\u{1f}")
}

/// Trim every level of a `::` path and drop empty levels, then validate the result.
pub(crate) fn normalize_deck_name(raw: &str) -> Result<String> {
    if raw.chars().any(char::is_control) {
        return Err(CollectionError::InvalidInput(
            "deck name may not contain control characters".into(),
        ));
    }
    let name = raw
        .split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("::");
    if name.is_empty() {
        return Err(CollectionError::InvalidInput(
            "deck name is required".into(),
        ));
    }
    if name.chars().count() > MAX_DECK_NAME_CHARS {
        return Err(CollectionError::InvalidInput(format!(
            "deck name is longer than {MAX_DECK_NAME_CHARS} characters"
        )));
    }
    if crate::limits::deck_depth(&name) > crate::limits::MAX_DECK_DEPTH {
        return Err(CollectionError::InvalidInput(format!(
            "deck name is nested more than {} levels deep",
            crate::limits::MAX_DECK_DEPTH
        )));
    }
    Ok(name)
}

fn same_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

impl Collection {
    pub(crate) fn deck_rows(&self) -> Result<Vec<DeckRow>> {
        let map = self.read_json_shared(ColJson::Decks)?;
        Ok(map
            .iter()
            .filter_map(|(k, v)| DeckRow::from_json(k, v))
            .collect())
    }

    pub(crate) fn deck_row(&self, id: i64) -> Result<DeckRow> {
        find_row(&*self.read_json_shared(ColJson::Decks)?, id)
            .ok_or_else(|| CollectionError::NotFound(format!("deck {id} not found")))
    }

    /// Ids of `root` and every deck below it.
    pub(crate) fn subtree_ids(&self, root: &DeckRow) -> Result<Vec<i64>> {
        Ok(self
            .deck_rows()?
            .iter()
            .filter(|d| d.is_in_subtree_of(&root.name))
            .map(|d| d.id)
            .collect())
    }

    /// Every deck, sorted as Anki sorts them. "Default" (deck 1) is hidden while it holds no
    /// cards, like Anki hides it in the deck list, so new users see only their own decks.
    pub fn decks(&self) -> Result<Vec<Deck>> {
        let default_has_cards = storage::cards::any_in_deck(self.conn(), DEFAULT_DECK_ID)?;
        let mut rows: Vec<DeckRow> = self
            .deck_rows()?
            .into_iter()
            .filter(|d| d.id != DEFAULT_DECK_ID || default_has_cards)
            .collect();
        rows.sort_by_cached_key(|d| (sort_key(&d.name), d.id));
        Ok(rows
            .into_iter()
            .map(|d| Deck {
                id: d.id,
                name: d.name,
                desc: d.desc,
                filtered: d.filtered,
            })
            .collect())
    }

    /// `conf.curDeck`, falling back to Default when it is unset or names a deck that is gone.
    pub fn current_deck_id(&self) -> Result<i64> {
        let conf = self.read_json_shared(ColJson::Conf)?;
        let decks = self.read_json_shared(ColJson::Decks)?;
        Ok(json_i64(&conf, "curDeck")
            .filter(|id| find_row(&decks, *id).is_some())
            .unwrap_or(DEFAULT_DECK_ID))
    }

    pub fn set_current_deck(&self, id: i64) -> Result<()> {
        self.atomic(|c| {
            c.select_deck(id)?;
            c.touch()
        })
    }

    /// Anki's "select deck": `curDeck` plus `activeDecks` = the deck and its subdecks.
    fn select_deck_in_conf(&self, conf: &mut JsonObject, deck: &DeckRow) -> Result<()> {
        let active = self.subtree_ids(deck)?;
        conf.insert("curDeck".into(), deck.id.into());
        conf.insert("activeDecks".into(), active.into());
        Ok(())
    }

    pub(crate) fn select_deck(&self, id: i64) -> Result<()> {
        let deck = self.deck_row(id)?;
        let mut conf = self.read_json(ColJson::Conf)?;
        self.select_deck_in_conf(&mut conf, &deck)?;
        self.write_json(ColJson::Conf, &conf)
    }

    pub fn create_deck(&self, name: &str) -> Result<Deck> {
        self.atomic(|c| {
            let name = normalize_deck_name(name)?;
            let mut decks = c.read_json(ColJson::Decks)?;
            if all_rows(&decks).iter().any(|d| same_name(&d.name, &name)) {
                return Err(CollectionError::Conflict(format!(
                    "a deck named '{name}' already exists"
                )));
            }
            let id = c.add_deck_with_parents(&mut decks, &name)?;
            c.write_json(ColJson::Decks, &decks)?;
            c.touch()?;
            Ok(Deck {
                id,
                name,
                desc: String::new(),
                filtered: false,
            })
        })
    }

    /// Insert `name` (and any missing ancestors) into `decks`; returns the id of `name`.
    fn add_deck_with_parents(&self, decks: &mut JsonObject, name: &str) -> Result<i64> {
        let levels: Vec<&str> = name.split("::").collect();
        let mut id = DEFAULT_DECK_ID;
        for depth in 1..=levels.len() {
            let path = levels[..depth].join("::");
            if let Some(existing) = all_rows(decks)
                .into_iter()
                .find(|d| same_name(&d.name, &path))
            {
                id = existing.id;
                continue;
            }
            id = self.next_deck_id(decks);
            decks.insert(
                id.to_string(),
                deck_json(id, &path, self.clock().now_secs()),
            );
        }
        Ok(id)
    }

    /// A millisecond id above every existing deck id, so same-millisecond creates never collide.
    pub(crate) fn next_deck_id(&self, decks: &JsonObject) -> i64 {
        let max = all_rows(decks).iter().map(|d| d.id).max().unwrap_or(0);
        self.clock().now_ms().max(max + 1)
    }

    /// Rename a deck; its subdecks move with it (`A::x` → `B::x`), as in Anki. Renaming
    /// "Default" is allowed, as in Anki: its id, not its name, makes it the default deck.
    pub fn rename_deck(&self, id: i64, name: &str) -> Result<Deck> {
        self.atomic(|c| {
            let new_name = normalize_deck_name(name)?;
            let mut decks = c.read_json(ColJson::Decks)?;
            let rows = all_rows(&decks);
            let deck = rows
                .iter()
                .find(|d| d.id == id)
                .cloned()
                .ok_or_else(|| CollectionError::NotFound(format!("deck {id} not found")))?;
            if deck.name == new_name {
                return Ok(Deck {
                    id,
                    name: deck.name,
                    desc: deck.desc,
                    filtered: deck.filtered,
                });
            }
            if is_child_name(&new_name.to_lowercase(), &deck.name.to_lowercase()) {
                return Err(CollectionError::InvalidInput(
                    "a deck cannot be moved inside itself".into(),
                ));
            }
            let moving: Vec<&DeckRow> = rows
                .iter()
                .filter(|d| d.is_in_subtree_of(&deck.name))
                .collect();
            let renamed: Vec<(i64, String)> = moving
                .iter()
                .map(|d| (d.id, format!("{new_name}{}", &d.name[deck.name.len()..])))
                .collect();
            for (_, target) in &renamed {
                let clash = rows
                    .iter()
                    .any(|d| same_name(&d.name, target) && !moving.iter().any(|m| m.id == d.id));
                if clash {
                    return Err(CollectionError::Conflict(format!(
                        "a deck named '{target}' already exists"
                    )));
                }
            }
            let now = c.clock().now_secs();
            for (deck_id, target) in &renamed {
                if let Some(Value::Object(obj)) = decks.get_mut(&deck_id.to_string()) {
                    obj.insert("name".into(), target.clone().into());
                    obj.insert("mod".into(), now.into());
                    obj.insert("usn".into(), (-1).into());
                }
            }
            if let Some((parent, _)) = new_name.rsplit_once("::") {
                c.add_deck_with_parents(&mut decks, parent)?;
            }
            c.write_json(ColJson::Decks, &decks)?;
            c.touch()?;
            Ok(Deck {
                id,
                name: new_name,
                desc: deck.desc,
                filtered: deck.filtered,
            })
        })
    }

    /// Delete a deck and its subdecks with all their cards. Notes left without cards go too;
    /// review history stays (Anki keeps revlog rows of deleted cards). Every deleted card, note
    /// and deck leaves a grave for the devices that sync (`crate::sync_state`).
    /// Anki's "Empty" on a filtered deck: every card it borrows goes back home (home due,
    /// its type's queue); the deck stays, to be rebuilt (on a device, or by custom study).
    /// Returns how many cards went home. A normal deck is refused.
    pub fn empty_filtered_deck(&self, id: i64) -> Result<i64> {
        self.atomic(|c| {
            let deck = c.deck_row(id)?;
            if !deck.filtered {
                return Err(CollectionError::InvalidInput(format!(
                    "deck {id} is not a filtered deck"
                )));
            }
            let n = storage::cards::return_home(c.conn(), id, c.clock().now_secs())?;
            c.touch()?;
            Ok(n as i64)
        })
    }

    pub fn delete_deck(&self, id: i64) -> Result<DeletedDeck> {
        if id == DEFAULT_DECK_ID {
            return Err(CollectionError::InvalidInput(
                "the Default deck cannot be deleted".into(),
            ));
        }
        self.atomic(|c| {
            let deck = c.deck_row(id)?;
            let doomed = c.subtree_ids(&deck)?;
            // Like Anki: a normal deck's cards go with it (those a filtered deck borrows too); a
            // filtered deck only borrows its cards, which go back home.
            let filtered: Vec<i64> = c
                .deck_rows()?
                .into_iter()
                .filter(|d| d.filtered && doomed.contains(&d.id))
                .map(|d| d.id)
                .collect();
            let mut cards_deleted = 0;
            for did in &doomed {
                if filtered.contains(did) {
                    storage::cards::return_home(c.conn(), *did, c.clock().now_secs())?;
                } else {
                    cards_deleted += c.delete_cards(Doomed::Deck(*did))?;
                }
            }
            let mut decks = c.read_json(ColJson::Decks)?;
            decks.retain(|k, v| {
                DeckRow::from_json(k, v)
                    .is_none_or(|d| d.id == DEFAULT_DECK_ID || !doomed.contains(&d.id))
            });
            // Default can only be doomed after being renamed under the deleted deck; like Anki,
            // keep it (emptied) and give it back its top-level name.
            if doomed.contains(&DEFAULT_DECK_ID)
                && let Some(Value::Object(obj)) = decks.get_mut(&DEFAULT_DECK_ID.to_string())
            {
                obj.insert("name".into(), "Default".into());
                obj.insert("mod".into(), c.clock().now_secs().into());
                obj.insert("usn".into(), (-1).into());
            }
            c.write_json(ColJson::Decks, &decks)?;
            for did in doomed.iter().filter(|&&d| d != DEFAULT_DECK_ID) {
                add_grave(c.conn(), *did, GraveKind::Deck, -1)?;
            }

            let mut conf = c.read_json(ColJson::Conf)?;
            let current = json_i64(&conf, "curDeck").unwrap_or(DEFAULT_DECK_ID);
            if doomed.contains(&current) && current != DEFAULT_DECK_ID {
                conf.insert("curDeck".into(), DEFAULT_DECK_ID.into());
                let active = match c.deck_row(DEFAULT_DECK_ID) {
                    Ok(default) => c.subtree_ids(&default)?,
                    Err(_) => vec![DEFAULT_DECK_ID],
                };
                conf.insert("activeDecks".into(), active.into());
            } else if let Some(Value::Array(active)) = conf.get_mut("activeDecks") {
                active.retain(|v| {
                    v.as_i64()
                        .is_none_or(|a| a == DEFAULT_DECK_ID || !doomed.contains(&a))
                });
            }
            c.write_json(ColJson::Conf, &conf)?;
            c.touch()?;
            Ok(DeletedDeck {
                name: deck.name,
                cards_deleted,
            })
        })
    }
}

fn all_rows(decks: &JsonObject) -> Vec<DeckRow> {
    decks
        .iter()
        .filter_map(|(k, v)| DeckRow::from_json(k, v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;
    use crate::testutil::{count, empty};

    fn names(col: &Collection) -> Vec<String> {
        col.decks().unwrap().into_iter().map(|d| d.name).collect()
    }

    #[test]
    fn default_is_hidden_until_it_has_cards() {
        let (col, _) = empty();
        assert!(col.decks().unwrap().is_empty());
        col.add_card("q", "a", Some(DEFAULT_DECK_ID)).unwrap();
        assert_eq!(names(&col), ["Default"]);
    }

    #[test]
    fn create_validates_and_normalizes() {
        let (col, clock) = empty();
        let d = col.create_deck("  Spanish ::  Verbs ").unwrap();
        assert_eq!(d.name, "Spanish::Verbs");
        assert_eq!(
            d.id,
            clock.now_ms() + 1,
            "a fresh ms id, one above its parent created in the same ms"
        );
        assert_eq!(
            names(&col),
            ["Spanish", "Spanish::Verbs"],
            "missing parent created"
        );
        let parent = col.decks().unwrap()[0].id;
        assert!(parent < d.id);

        for bad in ["", "   ", "::", "a\u{1f}b", "tab\there", &"x".repeat(101)] {
            assert!(
                matches!(col.create_deck(bad), Err(CollectionError::InvalidInput(_))),
                "{bad:?}"
            );
        }
        assert!(col.create_deck(&"x".repeat(100)).is_ok());
        assert!(matches!(
            col.create_deck("spanish"),
            Err(CollectionError::Conflict(_))
        ));
        assert!(matches!(
            col.create_deck("DEFAULT"),
            Err(CollectionError::Conflict(_))
        ));
    }

    #[test]
    fn same_millisecond_decks_get_distinct_ids() {
        let (col, _) = empty();
        let a = col.create_deck("A").unwrap();
        let b = col.create_deck("B").unwrap();
        let c = col.create_deck("C::D").unwrap();
        assert!(a.id < b.id && b.id < c.id);
        let ids: std::collections::BTreeSet<i64> =
            col.deck_rows().unwrap().iter().map(|d| d.id).collect();
        assert_eq!(ids.len(), 5);
    }

    #[test]
    fn decks_sort_level_by_level_case_insensitively() {
        let (col, _) = empty();
        for n in ["b", "A b", "A::z", "a::C"] {
            col.create_deck(n).unwrap();
        }
        assert_eq!(names(&col), ["A", "a::C", "A::z", "A b", "b"]);
    }

    #[test]
    fn current_deck_and_active_decks() {
        let (col, _) = empty();
        assert_eq!(col.current_deck_id().unwrap(), DEFAULT_DECK_ID);
        let parent = col.create_deck("P").unwrap();
        let child = col.create_deck("P::C").unwrap();
        col.set_current_deck(parent.id).unwrap();
        assert_eq!(col.current_deck_id().unwrap(), parent.id);
        let conf = col.read_json_shared(ColJson::Conf).unwrap();
        let mut active: Vec<i64> = conf["activeDecks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        active.sort();
        assert_eq!(active, [parent.id, child.id]);
        assert!(matches!(
            col.set_current_deck(42),
            Err(CollectionError::NotFound(_))
        ));
    }

    #[test]
    fn rename_moves_children_and_checks_conflicts() {
        let (col, _) = empty();
        let a = col.create_deck("A").unwrap();
        col.create_deck("A::x").unwrap();
        col.create_deck("B").unwrap();
        let renamed = col.rename_deck(a.id, "C::A2").unwrap();
        assert_eq!(renamed.name, "C::A2");
        assert_eq!(names(&col), ["B", "C", "C::A2", "C::A2::x"]);
        assert!(matches!(
            col.rename_deck(a.id, "b"),
            Err(CollectionError::Conflict(_))
        ));
        assert!(matches!(
            col.rename_deck(a.id, "C::A2::x::y"),
            Err(CollectionError::InvalidInput(_))
        ));
        assert!(matches!(
            col.rename_deck(a.id, " "),
            Err(CollectionError::InvalidInput(_))
        ));
        assert!(matches!(
            col.rename_deck(999, "Z"),
            Err(CollectionError::NotFound(_))
        ));
        // Changing only the case of one's own name is not a conflict.
        assert_eq!(col.rename_deck(a.id, "c::a2").unwrap().name, "c::a2");
        // Default may be renamed, as in Anki.
        assert_eq!(
            col.rename_deck(DEFAULT_DECK_ID, "Inbox").unwrap().name,
            "Inbox"
        );
    }

    /// A filtered deck as a device builds it: `cards` borrowed from their decks (`odid`, their
    /// due kept in `odue`, a position in `due`).
    fn filtered_deck(col: &Collection, name: &str, cards: &[i64]) -> i64 {
        let id = col.create_deck(name).unwrap().id;
        let mut decks = col.read_json(ColJson::Decks).unwrap();
        let deck = decks.get_mut(&id.to_string()).unwrap();
        deck["dyn"] = 1.into();
        deck["resched"] = true.into();
        col.write_json(ColJson::Decks, &decks).unwrap();
        for (n, card) in cards.iter().enumerate() {
            col.conn()
                .execute(
                    "UPDATE cards SET odid = did, did = ?2, odue = due, due = ?3 WHERE id = ?1",
                    rusqlite::params![card, id, -100_000 + n as i64],
                )
                .unwrap();
        }
        id
    }

    #[test]
    fn emptying_a_filtered_deck_sends_its_cards_home_and_keeps_it() {
        let (col, _) = empty();
        let home = col.create_deck("Home").unwrap();
        let card = col.add_card("q", "a", Some(home.id)).unwrap().card_id;
        let cram = filtered_deck(&col, "Cram", &[card]);
        assert_eq!(col.empty_filtered_deck(cram).unwrap(), 1);
        assert_eq!(
            count(&col, &format!("SELECT did FROM cards WHERE id = {card}")),
            home.id
        );
        assert!(names(&col).contains(&"Cram".to_owned()));
        assert_eq!(col.empty_filtered_deck(cram).unwrap(), 0, "already empty");
        assert!(matches!(
            col.empty_filtered_deck(home.id),
            Err(CollectionError::InvalidInput(_))
        ));
        assert!(matches!(
            col.empty_filtered_deck(42),
            Err(CollectionError::NotFound(_))
        ));
    }

    #[test]
    fn deleting_a_filtered_deck_sends_its_cards_home_and_a_home_deck_takes_its_borrowed_cards() {
        let (col, _) = empty();
        let home = col.create_deck("Home").unwrap();
        let other = col.create_deck("Other").unwrap();
        let learning = col.add_card("l", "l", Some(home.id)).unwrap().card_id;
        let new = col.add_card("n", "n", Some(home.id)).unwrap().card_id;
        let borrowed = col.add_card("o", "o", Some(other.id)).unwrap().card_id;
        // A learning card due at an epoch second, suspended afterwards in the filtered deck.
        col.conn()
            .execute(
                "UPDATE cards SET type = 1, queue = -1, due = 1704100000, left = 2 WHERE id = ?1",
                [learning],
            )
            .unwrap();
        let cram = filtered_deck(&col, "Cram", &[learning, new]);
        let row = |id: i64| -> (i64, i64, i64, i64, i64) {
            col.conn()
                .query_row(
                    "SELECT did, queue, due, odid, odue FROM cards WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .unwrap()
        };
        let new_due = row(new).4;

        let deleted = col.delete_deck(cram).unwrap();
        assert_eq!(deleted.cards_deleted, 0, "a filtered deck only borrows");
        assert_eq!(row(learning), (home.id, -1, 1_704_100_000, 0, 0));
        assert_eq!(row(new), (home.id, 0, new_due, 0, 0));
        assert!(!names(&col).contains(&"Cram".to_owned()));

        // A normal deck takes its cards a filtered deck borrows with it; the filtered deck stays.
        filtered_deck(&col, "Review", &[borrowed]);
        let deleted = col.delete_deck(other.id).unwrap();
        assert_eq!(deleted.cards_deleted, 1);
        assert_eq!(
            count(
                &col,
                &format!("SELECT count(*) FROM cards WHERE id = {borrowed}")
            ),
            0
        );
        assert_eq!(
            count(
                &col,
                &format!("SELECT count(*) FROM javumbo_graves WHERE type = 0 AND oid = {borrowed}")
            ),
            1
        );
        assert!(names(&col).contains(&"Review".to_owned()));
    }

    #[test]
    fn delete_removes_subtree_cards_and_orphan_notes_but_keeps_revlog() {
        let (col, _) = empty();
        let keep = col.create_deck("Keep").unwrap();
        let gone = col.create_deck("Gone").unwrap();
        let sub = col.create_deck("Gone::Sub").unwrap();
        col.add_card("k", "k", Some(keep.id)).unwrap();
        let a = col.add_card("a", "a", Some(gone.id)).unwrap();
        col.add_card("b", "b", Some(sub.id)).unwrap();
        col.answer_card(a.card_id, 3, Some(1000)).unwrap();
        col.set_current_deck(sub.id).unwrap();

        let deleted = col.delete_deck(gone.id).unwrap();
        assert_eq!(
            deleted,
            DeletedDeck {
                name: "Gone".into(),
                cards_deleted: 2
            }
        );
        assert_eq!(names(&col), ["Keep"]);
        assert_eq!(count(&col, "SELECT count(*) FROM cards"), 1);
        assert_eq!(count(&col, "SELECT count(*) FROM notes"), 1);
        assert_eq!(
            count(&col, "SELECT count(*) FROM revlog"),
            1,
            "history is kept"
        );
        // Anki's own table stays empty; the server's graves name both decks, their two cards
        // and the two notes left without cards, unstamped until a sync stamps them.
        assert_eq!(count(&col, "SELECT count(*) FROM graves"), 0);
        let graves: Vec<(i64, i64)> = col
            .conn()
            .prepare("SELECT type, oid FROM javumbo_graves WHERE usn = -1 ORDER BY type, oid")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(graves.iter().filter(|g| g.0 == 0).count(), 2);
        assert_eq!(graves.iter().filter(|g| g.0 == 1).count(), 2);
        let mut decks: Vec<i64> = vec![gone.id, sub.id];
        decks.sort();
        assert_eq!(
            graves
                .iter()
                .filter(|g| g.0 == 2)
                .map(|g| g.1)
                .collect::<Vec<_>>(),
            decks
        );
        assert_eq!(col.current_deck_id().unwrap(), DEFAULT_DECK_ID);
        let conf = col.read_json_shared(ColJson::Conf).unwrap();
        assert_eq!(conf["activeDecks"], serde_json::json!([DEFAULT_DECK_ID]));

        assert!(matches!(
            col.delete_deck(DEFAULT_DECK_ID),
            Err(CollectionError::InvalidInput(_))
        ));
        assert!(matches!(
            col.delete_deck(gone.id),
            Err(CollectionError::NotFound(_))
        ));
    }

    #[test]
    fn deleting_a_parent_of_renamed_default_keeps_default() {
        let (col, _) = empty();
        let x = col.create_deck("X").unwrap();
        col.rename_deck(DEFAULT_DECK_ID, "X::Default").unwrap();
        col.add_card("q", "a", Some(DEFAULT_DECK_ID)).unwrap();
        assert_eq!(col.delete_deck(x.id).unwrap().cards_deleted, 1);
        assert_eq!(col.deck_row(DEFAULT_DECK_ID).unwrap().name, "Default");
    }

    #[test]
    fn operations_bump_col_mod_and_failures_change_nothing() {
        let (col, clock) = empty();
        clock.advance_ms(5000);
        col.create_deck("A").unwrap();
        assert_eq!(count(&col, "SELECT mod FROM col"), clock.now_ms());
        let before: String = col
            .conn()
            .query_row("SELECT decks FROM col", [], |r| r.get(0))
            .unwrap();
        assert!(col.create_deck("a").is_err());
        let after: String = col
            .conn()
            .query_row("SELECT decks FROM col", [], |r| r.get(0))
            .unwrap();
        assert_eq!(before, after);
    }
}
