//! The card routes' view of notes: a card as a front and a back field (add, read, edit, delete,
//! list), each card also rendered as Anki renders it ([`crate::render`]).
//!
//! `add_card` adds a "Basic" note. A card of any other note type shows the fields its templates
//! show (see `Sides`); editing it rewrites only those fields that exist, never adding one, and
//! then generates the cards the new content asks for, as [`crate::notes`] does for any edit.

use serde::Serialize;
use serde_json::Value;

use crate::coljson::{ColJson, JsonObject};
use crate::notes::{FIELD_SEP, NewNote};
use crate::render::{CardRendering, Renderer};
use crate::sync_state::{GraveKind, add_grave};
use crate::{Collection, CollectionError, Result, storage};

/// Largest accepted field, in bytes. Anki has no hard limit, but a flashcard side over 100 KB
/// is a mistake or an attack, and every edit is journaled whole.
pub const MAX_FIELD_BYTES: usize = 100 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AddedCard {
    pub card_id: i64,
    pub note_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardDetail {
    pub card_id: i64,
    pub note_id: i64,
    pub deck_id: i64,
    pub front: String,
    pub back: String,
    /// `cards.queue` as Anki numbers it (`CardQueue` converts); the HTTP contract exposes the
    /// number.
    pub queue: i64,
    /// As stored: a position (new), epoch seconds (queue 1) or a day number (queues 2/3).
    pub due: i64,
    /// As Anki's reviewer shows the card.
    pub rendering: CardRendering,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardSummary {
    pub card_id: i64,
    pub note_id: i64,
    pub front: String,
    pub back: String,
    /// When the note was last edited (`notes.mod`, epoch seconds), Anki's browser "Modified".
    pub modified: i64,
    /// `cards.queue` (-1 suspended, -2 buried with a sibling, -3 buried by the user).
    pub queue: i64,
    /// As Anki's card browser shows the card (`question(browser=True)`).
    pub rendering: CardRendering,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardPage {
    pub deck_id: i64,
    pub deck_name: String,
    pub cards: Vec<CardSummary>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub total_pages: i64,
}

/// Which note fields a card shows as its front and back, read from its note type's template:
/// the first field the question template shows, and the first other field the answer template
/// shows. For our Basic notes that is (0, 1); for card 2 of an imported "Basic (and reversed
/// card)" note it is (1, 0), so reading and editing a reversed card never swaps the fields.
pub(crate) struct Sides {
    /// Shared with the collection's parsed copy (cloning it was the top allocation of a
    /// cached study request).
    models: std::sync::Arc<JsonObject>,
}

impl Sides {
    pub(crate) fn load(col: &Collection) -> Result<Self> {
        Ok(Self {
            models: col.read_json_shared(ColJson::Models)?,
        })
    }

    pub(crate) fn indices(&self, mid: i64, ord: i64) -> (usize, usize) {
        const DEFAULT: (usize, usize) = (0, 1);
        let Some(model) = self.models.get(&mid.to_string()) else {
            return DEFAULT;
        };
        let names: Vec<&str> = model
            .get("flds")
            .and_then(Value::as_array)
            .map(|f| {
                f.iter()
                    .map(|f| f.get("name").and_then(Value::as_str).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        let tmpls = model.get("tmpls").and_then(Value::as_array);
        let template = tmpls.and_then(|t| {
            t.iter()
                .find(|t| t.get("ord").and_then(Value::as_i64) == Some(ord))
                .or_else(|| usize::try_from(ord).ok().and_then(|i| t.get(i)))
        });
        let Some(template) = template else {
            return DEFAULT;
        };
        let refs = |key: &str| -> Vec<usize> {
            let text = template
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default();
            template_fields(text)
                .filter_map(|name| names.iter().position(|n| *n == name))
                .collect()
        };
        let front = refs("qfmt").first().copied().unwrap_or(0);
        let back = refs("afmt")
            .into_iter()
            .find(|i| *i != front)
            .unwrap_or(if front == 0 { 1 } else { 0 });
        (front, back)
    }

    pub(crate) fn render(&self, mid: i64, ord: i64, flds: &str) -> (String, String) {
        let (f, b) = self.indices(mid, ord);
        let fields: Vec<&str> = flds.split(FIELD_SEP).collect();
        let get = |i: usize| fields.get(i).copied().unwrap_or_default().to_string();
        (get(f), get(b))
    }
}

/// Field names a template substitutes (`{{Name}}`, `{{text:Name}}`, `{{cloze:Name}}`), in order;
/// section tags (`{{#Name}}`, `{{^Name}}`, `{{/Name}}`) and comments only control visibility.
fn template_fields(text: &str) -> impl Iterator<Item = &str> {
    text.split("{{").skip(1).filter_map(|chunk| {
        let tag = chunk.split("}}").next()?.trim();
        if tag.starts_with(['#', '^', '/', '!']) {
            return None;
        }
        Some(tag.rsplit(':').next().unwrap_or(tag).trim())
    })
}

/// Trim a side and reject what cannot be stored safely.
fn clean_field<'a>(label: &str, value: &'a str) -> Result<&'a str> {
    let v = value.trim();
    if v.is_empty() {
        return Err(CollectionError::InvalidInput(format!(
            "{label} is required"
        )));
    }
    if v.len() > MAX_FIELD_BYTES {
        return Err(CollectionError::InvalidInput(format!(
            "{label} is larger than {} KB",
            MAX_FIELD_BYTES / 1024
        )));
    }
    // The separator would silently split one side into two fields and corrupt the note.
    if v.contains(FIELD_SEP) {
        return Err(CollectionError::InvalidInput(format!(
            "{label} contains a forbidden character"
        )));
    }
    Ok(v)
}

impl Collection {
    /// Insert a Basic note and its card as Anki's `add_note` writes them. `front`/`back` must
    /// already be validated; the caller runs inside `atomic`.
    pub(crate) fn insert_basic_note(
        &self,
        deck_id: i64,
        front: &str,
        back: &str,
    ) -> Result<AddedCard> {
        let nt = self.default_note_type()?;
        let added = self.insert_note(&nt, deck_id, vec![front.into(), back.into()], &[])?;
        first_card(added)
    }

    /// Add a Basic note with one new card to `deck_id` (default: the current deck).
    pub fn add_card(&self, front: &str, back: &str, deck_id: Option<i64>) -> Result<AddedCard> {
        let front = clean_field("front", front)?;
        let back = clean_field("back", back)?;
        let added = self.add_note(&NewNote {
            notetype_id: None,
            deck_id,
            fields: vec![front.into(), back.into()],
            tags: vec![],
        })?;
        first_card(added)
    }

    pub fn card(&self, id: i64) -> Result<CardDetail> {
        let sides = Sides::load(self)?;
        let c = storage::cards::with_note(self.conn(), id)?.ok_or_else(|| card_not_found(id))?;
        let (front, back) = sides.render(c.mid, c.ord, &c.flds);
        let row = storage::cards::get(self.conn(), id)?.ok_or_else(|| card_not_found(id))?;
        let rendering = Renderer::load(self)?.render_card(self, &row, false)?;
        Ok(CardDetail {
            card_id: c.card_id,
            note_id: c.note_id,
            deck_id: c.deck_id,
            front,
            back,
            queue: i64::from(c.queue),
            due: c.due,
            rendering,
        })
    }

    /// Replace the front and back of the card's note (the two fields the card shows; a note
    /// with one field has no back, and `back` is then ignored: the field count never changes).
    /// Then add the cards the new content asks for. An edit that changes nothing writes nothing
    /// (Anki does not bump `mod` for a no-op save).
    pub fn update_card(&self, id: i64, front: &str, back: &str) -> Result<()> {
        let front = clean_field("front", front)?;
        self.atomic(|c| {
            let storage::cards::CardWithNote {
                note_id, mid, ord, ..
            } = storage::cards::with_note(c.conn(), id)?.ok_or_else(|| card_not_found(id))?;
            let note = storage::notes::get(c.conn(), note_id)?.ok_or_else(|| card_not_found(id))?;
            let nt = c.note_type(mid).map_err(|_| {
                CollectionError::corrupt(format!("note {note_id} has no note type {mid}"))
            })?;
            let (fi, bi) = Sides::load(c)?.indices(mid, ord);
            let mut fields: Vec<String> = note.flds.split(FIELD_SEP).map(str::to_string).collect();
            if let Some(f) = fields.get_mut(fi) {
                *f = front.to_string();
            }
            if bi != fi
                && let Some(b) = fields.get_mut(bi)
            {
                *b = clean_field("back", back)?.to_string();
            }
            let fields = crate::notes::clean_stored_fields(&nt, fields)?;
            c.write_note_content(&nt, note, fields, None)?;
            Ok(())
        })
    }

    /// Delete a card, and its note when no other card is left on it. Review history stays.
    pub fn delete_card(&self, id: i64) -> Result<()> {
        self.atomic(|c| {
            if c.delete_cards(Doomed::Card(id))? == 0 {
                return Err(card_not_found(id));
            }
            c.touch()
        })
    }

    /// Delete a card or a deck's cards, and the notes left without cards. Returns how many
    /// cards went.
    pub(crate) fn delete_cards(&self, doomed: Doomed) -> Result<i64> {
        let conn = self.conn();
        // Graves first (the rows must still be there), so devices learn of the deletion.
        let (nids, deleted) = match doomed {
            Doomed::Card(id) => {
                let nids = storage::cards::note_ids_of_card(conn, id)?;
                if !nids.is_empty() {
                    add_grave(conn, id, GraveKind::Card, -1)?;
                }
                (nids, storage::cards::delete(conn, id)?)
            }
            Doomed::Deck(did) => {
                crate::sync_state::add_card_graves(conn, crate::sync_state::CardsOf::Deck(did))?;
                (
                    storage::cards::note_ids_in_deck(conn, did)?,
                    storage::cards::delete_in_deck(conn, did)?,
                )
            }
        };
        for nid in nids {
            if storage::notes::delete_if_orphan(conn, nid)? > 0 {
                add_grave(conn, nid, GraveKind::Note, -1)?;
            }
        }
        Ok(deleted as i64)
    }

    /// One page of a deck's cards (the deck and its subdecks), newest first.
    pub fn deck_cards(&self, deck_id: i64, page: i64, per_page: i64) -> Result<CardPage> {
        if page < 1 {
            return Err(CollectionError::InvalidInput(
                "page must be 1 or more".into(),
            ));
        }
        if !(1..=100).contains(&per_page) {
            return Err(CollectionError::InvalidInput(
                "perPage must be between 1 and 100".into(),
            ));
        }
        let deck = self.deck_row(deck_id)?;
        let dids = storage::id_array(&self.subtree_ids(&deck)?);
        let sides = Sides::load(self)?;
        let renderer = Renderer::load(self)?;
        let total = storage::cards::count_in_decks(self.conn(), &dids)?;
        let offset = (page - 1).saturating_mul(per_page);
        // An eighth of the collection or more: walking the table newest first fills the page
        // within about eight times its size.
        let dense = total.saturating_mul(8) >= storage::cards::count_all(self.conn())?;
        let cards = storage::cards::page_in_decks(self.conn(), &dids, per_page, offset, dense)?
            .into_iter()
            .map(|c| {
                let (front, back) = sides.render(c.mid, c.ord, &c.flds);
                let row = storage::cards::get(self.conn(), c.card_id)?
                    .ok_or_else(|| card_not_found(c.card_id))?;
                let rendering = renderer.render_card(self, &row, true)?;
                Ok(CardSummary {
                    card_id: c.card_id,
                    note_id: c.note_id,
                    front,
                    back,
                    modified: c.note_mtime,
                    queue: i64::from(row.queue),
                    rendering,
                })
            })
            .collect::<Result<_>>()?;
        Ok(CardPage {
            deck_id,
            deck_name: deck.name,
            cards,
            total,
            page,
            per_page,
            total_pages: (total + per_page - 1) / per_page,
        })
    }
}

/// The card of a freshly added Basic note (Basic always generates card 0).
fn first_card(added: crate::notes::AddedNote) -> Result<AddedCard> {
    let card_id = added
        .card_ids
        .first()
        .copied()
        .ok_or_else(|| CollectionError::corrupt("a new note got no card"))?;
    Ok(AddedCard {
        card_id,
        note_id: added.note_id,
    })
}

fn card_not_found(id: i64) -> CollectionError {
    CollectionError::NotFound(format!("card {id} not found"))
}

/// What [`Collection::delete_cards`] removes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Doomed {
    Card(i64),
    /// Every card of one deck (not of its subdecks).
    Deck(i64),
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;
    use crate::Clock;
    use crate::ids::field_checksum;
    use crate::schema::DEFAULT_DECK_ID;
    use crate::testutil::{T0_MS, count, empty};

    #[test]
    fn both_ways_of_paging_a_deck_give_the_same_pages() {
        let (col, _) = empty();
        let big = col.create_deck("Big").unwrap();
        let small = col.create_deck("Small").unwrap();
        for i in 0..60 {
            let deck = if i % 7 == 0 { small.id } else { big.id };
            col.add_card(&format!("q{i}"), "a", Some(deck)).unwrap();
        }
        for deck in [big.id, small.id] {
            let dids = storage::id_array(&[deck]);
            for offset in [0, 5, 40, 100] {
                let walk =
                    storage::cards::page_in_decks(col.conn(), &dids, 10, offset, true).unwrap();
                let index =
                    storage::cards::page_in_decks(col.conn(), &dids, 10, offset, false).unwrap();
                assert_eq!(walk, index, "deck {deck} offset {offset}");
                let ids: Vec<i64> = walk.iter().map(|c| c.card_id).collect();
                let mut sorted = ids.clone();
                sorted.sort_by(|a, b| b.cmp(a));
                assert_eq!(ids, sorted, "newest first");
            }
        }
        // The API's page: the small deck's nine cards, newest first.
        let page = col.deck_cards(small.id, 1, 100).unwrap();
        assert_eq!(page.cards.len(), 9);
    }

    type NoteRow = (String, i64, i64, String, String, i64, i64, String);

    fn note_row(col: &Collection, nid: i64) -> NoteRow {
        col.conn()
            .query_row(
                "SELECT guid, mod, usn, tags, flds, CAST(sfld AS TEXT), csum, data FROM notes WHERE id = ?1",
                [nid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
            )
            .map(|(g, m, u, t, f, s, c, d): (String, i64, i64, String, String, String, i64, String)| {
                (g, m, u, t, f, s.parse().unwrap_or(0), c, d)
            })
            .unwrap()
    }

    #[test]
    fn add_card_writes_rows_like_anki() {
        let (col, _) = empty();
        let deck = col.create_deck("D").unwrap();
        col.set_current_deck(deck.id).unwrap();
        let added = col.add_card("  <b>new card</b> ", " back ", None).unwrap();
        assert_eq!(added.note_id, T0_MS);
        assert_eq!(added.card_id, T0_MS, "cards and notes number independently");

        let (guid, nmod, usn, tags, flds, _, csum, data) = note_row(&col, added.note_id);
        // Anki-style base91 of a random u64: usually 10 characters, shorter for small values.
        assert!((1..=10).contains(&guid.len()), "{guid}");
        assert_eq!(
            (nmod, usn, tags.as_str(), data.as_str()),
            (T0_MS / 1000, -1, "", "")
        );
        assert_eq!(flds, "<b>new card</b>\u{1f}back");
        assert_eq!(csum, 2_973_807_768);
        let sfld: String = col
            .conn()
            .query_row("SELECT sfld FROM notes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sfld, "new card");

        let card: (i64, i64, i64, i64, i64, i64, i64, i64, i64, String) = col
            .conn()
            .query_row(
                "SELECT did, ord, mod, usn, type, queue, due, factor, odid, data FROM cards WHERE id = ?1",
                [added.card_id],
                |r| {
                    Ok((
                        r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?,
                        r.get(8)?, r.get(9)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(
            card,
            (
                deck.id,
                0,
                T0_MS / 1000,
                -1,
                0,
                0,
                1,
                0,
                0,
                "{}".to_string()
            )
        );

        let second = col.add_card("two", "2", Some(DEFAULT_DECK_ID)).unwrap();
        assert_eq!(col.card(second.card_id).unwrap().due, 2, "nextPos advances");
        assert_eq!(col.card(second.card_id).unwrap().deck_id, DEFAULT_DECK_ID);
    }

    #[test]
    fn add_card_rejects_bad_input() {
        let (col, _) = empty();
        for (f, b) in [("", "x"), ("x", "  "), ("a\u{1f}b", "x")] {
            assert!(
                matches!(
                    col.add_card(f, b, None),
                    Err(CollectionError::InvalidInput(_))
                ),
                "{f:?}/{b:?}"
            );
        }
        let big = "x".repeat(MAX_FIELD_BYTES + 1);
        assert!(matches!(
            col.add_card(&big, "b", None),
            Err(CollectionError::InvalidInput(_))
        ));
        assert!(
            col.add_card(&"x".repeat(MAX_FIELD_BYTES), "b", None)
                .is_ok()
        );
        assert!(matches!(
            col.add_card("f", "b", Some(77)),
            Err(CollectionError::NotFound(_))
        ));
        assert_eq!(count(&col, "SELECT count(*) FROM notes"), 1);
    }

    #[test]
    fn card_detail_update_and_delete() {
        let (col, clock) = empty();
        let added = col.add_card("front", "back", None).unwrap();
        let detail = col.card(added.card_id).unwrap();
        assert_eq!(
            detail,
            CardDetail {
                card_id: added.card_id,
                note_id: added.note_id,
                deck_id: DEFAULT_DECK_ID,
                front: "front".into(),
                back: "back".into(),
                queue: 0,
                due: 1,
                rendering: col.render_card(added.card_id, false).unwrap(),
            }
        );
        assert_eq!(
            detail.rendering.answer, "front\n\n<hr id=answer>\n\nback",
            "Anki's Basic answer"
        );
        assert!(matches!(col.card(1), Err(CollectionError::NotFound(_))));

        clock.advance_ms(60_000);
        col.update_card(added.card_id, "<i>Hola</i>", "Hello")
            .unwrap();
        let (_, nmod, usn, _, flds, _, csum, _) = note_row(&col, added.note_id);
        assert_eq!(flds, "<i>Hola</i>\u{1f}Hello");
        assert_eq!(nmod, clock.now_secs());
        assert_eq!(usn, -1);
        assert_eq!(csum, field_checksum("Hola"));
        // A no-op save leaves mod alone.
        clock.advance_ms(60_000);
        col.update_card(added.card_id, "<i>Hola</i>", "Hello")
            .unwrap();
        assert_eq!(note_row(&col, added.note_id).1, nmod);
        assert!(matches!(
            col.update_card(added.card_id, "", "x"),
            Err(CollectionError::InvalidInput(_))
        ));
        assert!(matches!(
            col.update_card(5, "a", "b"),
            Err(CollectionError::NotFound(_))
        ));

        col.delete_card(added.card_id).unwrap();
        assert_eq!(count(&col, "SELECT count(*) FROM cards"), 0);
        assert_eq!(count(&col, "SELECT count(*) FROM notes"), 0);
        assert!(matches!(
            col.delete_card(added.card_id),
            Err(CollectionError::NotFound(_))
        ));
    }

    #[test]
    fn reversed_cards_show_and_edit_the_fields_their_template_shows() {
        let (col, _) = empty();
        let added = col.add_card("cat", "gato", None).unwrap();
        // Turn the note type into Anki's "Basic (and reversed card)" and give the note card 2.
        let mut models = col.read_json(ColJson::Models).unwrap();
        let model = models.values_mut().next().unwrap();
        let mut reverse = model["tmpls"][0].clone();
        reverse["ord"] = 1.into();
        reverse["qfmt"] = "{{Back}}".into();
        reverse["afmt"] = "{{FrontSide}}\n\n<hr id=answer>\n\n{{text:Front}}".into();
        model["tmpls"].as_array_mut().unwrap().push(reverse);
        col.write_json(ColJson::Models, &models).unwrap();
        let reversed = added.card_id + 1;
        col.conn()
            .execute(
                "INSERT INTO cards SELECT id + 1, nid, did, 1, mod, usn, type, queue, due, ivl, factor,
                 reps, lapses, left, odue, odid, flags, data FROM cards",
                [],
            )
            .unwrap();
        let detail = col.card(reversed).unwrap();
        assert_eq!(
            (detail.front.as_str(), detail.back.as_str()),
            ("gato", "cat")
        );
        let listed = col.deck_cards(DEFAULT_DECK_ID, 1, 10).unwrap();
        assert_eq!(
            (
                listed.cards[0].front.as_str(),
                listed.cards[0].back.as_str()
            ),
            ("gato", "cat")
        );
        col.update_card(reversed, "perro", "dog").unwrap();
        assert_eq!(note_row(&col, added.note_id).4, "dog\u{1f}perro");
        assert_eq!(note_row(&col, added.note_id).6, field_checksum("dog"));
        let original = col.card(added.card_id).unwrap();
        assert_eq!(
            (original.front.as_str(), original.back.as_str()),
            ("dog", "perro")
        );
    }

    /// The one-field edit bug: editing a card of a one-field note type added a second field,
    /// and the export of that collection was then refused.
    #[test]
    fn editing_a_one_field_note_never_adds_a_field() {
        let (col, _) = empty();
        let added = col.add_card("solo", "x", None).unwrap();
        let mut models = col.read_json(ColJson::Models).unwrap();
        let mid: i64 = col
            .conn()
            .query_row("SELECT mid FROM notes", [], |r| r.get(0))
            .unwrap();
        let model = models.get_mut(&mid.to_string()).unwrap();
        model["flds"].as_array_mut().unwrap().truncate(1);
        model["tmpls"][0]["afmt"] = "{{FrontSide}}<hr id=answer>".into();
        col.write_json(ColJson::Models, &models).unwrap();
        col.conn()
            .execute("UPDATE notes SET flds = 'solo'", [])
            .unwrap();
        let detail = col.card(added.card_id).unwrap();
        assert_eq!((detail.front.as_str(), detail.back.as_str()), ("solo", ""));
        col.update_card(added.card_id, "edited", "ignored").unwrap();
        col.update_card(added.card_id, "edited again", "").unwrap();
        assert_eq!(note_row(&col, added.note_id).4, "edited again");
        assert_eq!(
            col.render_card(added.card_id, false).unwrap().answer,
            "edited again<hr id=answer>"
        );
    }

    #[test]
    fn template_fields_skip_sections_and_read_filters() {
        let got: Vec<&str> =
            template_fields("{{#Hint}}{{hint:Hint}}{{/Hint}} {{ type:Back }} {{!c}}").collect();
        assert_eq!(got, ["Hint", "Back"]);
    }

    #[test]
    fn update_keeps_extra_fields_of_imported_notes() {
        let (col, _) = empty();
        let added = col.add_card("a", "b", None).unwrap();
        col.conn()
            .execute("UPDATE notes SET flds = 'a\u{1f}b\u{1f}extra'", [])
            .unwrap();
        col.update_card(added.card_id, "A", "B").unwrap();
        assert_eq!(note_row(&col, added.note_id).4, "A\u{1f}B\u{1f}extra");
    }

    #[test]
    fn delete_card_keeps_note_with_other_cards() {
        let (col, _) = empty();
        let added = col.add_card("a", "b", None).unwrap();
        col.conn()
            .execute(
                "INSERT INTO cards SELECT id + 1, nid, did, 1, mod, usn, type, queue, due, ivl, factor, reps,
                 lapses, left, odue, odid, flags, data FROM cards",
                [],
            )
            .unwrap();
        col.delete_card(added.card_id).unwrap();
        assert_eq!(count(&col, "SELECT count(*) FROM notes"), 1);
    }

    #[test]
    fn deck_cards_pages_newest_first() {
        let (col, clock) = empty();
        let deck = col.create_deck("P").unwrap();
        let sub = col.create_deck("P::S").unwrap();
        let mut ids = Vec::new();
        for i in 0..25 {
            clock.advance_ms(1);
            let did = if i % 5 == 0 { sub.id } else { deck.id };
            ids.push(
                col.add_card(&format!("q{i}"), &format!("a{i}"), Some(did))
                    .unwrap()
                    .card_id,
            );
        }
        col.add_card("elsewhere", "x", Some(DEFAULT_DECK_ID))
            .unwrap();
        let page = col.deck_cards(deck.id, 3, 10).unwrap();
        assert_eq!(
            (page.total, page.page, page.per_page, page.total_pages),
            (25, 3, 10, 3)
        );
        assert_eq!(page.deck_name, "P");
        let got: Vec<i64> = page.cards.iter().map(|c| c.card_id).collect();
        assert_eq!(got, ids[..5].iter().rev().copied().collect::<Vec<_>>());
        assert_eq!(page.cards[4].front, "q0");
        assert_eq!(page.cards[4].back, "a0");
        assert!(col.deck_cards(deck.id, 4, 10).unwrap().cards.is_empty());

        assert!(matches!(
            col.deck_cards(deck.id, 0, 10),
            Err(CollectionError::InvalidInput(_))
        ));
        assert!(matches!(
            col.deck_cards(deck.id, 1, 0),
            Err(CollectionError::InvalidInput(_))
        ));
        assert!(matches!(
            col.deck_cards(deck.id, 1, 101),
            Err(CollectionError::InvalidInput(_))
        ));
        assert!(matches!(
            col.deck_cards(12345, 1, 10),
            Err(CollectionError::NotFound(_))
        ));
        let empty_deck = col.create_deck("E").unwrap();
        let page = col.deck_cards(empty_deck.id, 1, 100).unwrap();
        assert_eq!((page.total, page.total_pages), (0, 0));
    }

    mod prop {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(32))]

            /// Many adds at one frozen instant: ids stay unique and increasing, and every
            /// note's sfld/csum match its front.
            #[test]
            fn same_millisecond_adds_never_collide(
                fronts in proptest::collection::vec("[a-zA-Z0-9 <>/&;]{1,20}|0[0-9]{1,3}", 1..40),
            ) {
                let (col, _) = empty();
                let mut seen_cards = std::collections::BTreeSet::new();
                let mut seen_notes = std::collections::BTreeSet::new();
                for f in &fronts {
                    match col.add_card(f, "back", None) {
                        Ok(a) => {
                            prop_assert!(seen_cards.insert(a.card_id));
                            prop_assert!(seen_notes.insert(a.note_id));
                            prop_assert!(a.card_id >= T0_MS && a.note_id >= T0_MS);
                        }
                        Err(CollectionError::InvalidInput(_)) => prop_assert!(f.trim().is_empty()),
                        Err(e) => prop_assert!(false, "unexpected error {e}"),
                    }
                }
                let mut stmt = col.conn().prepare("SELECT id, flds, csum FROM notes").unwrap();
                let rows = stmt
                    .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))
                    .unwrap();
                for row in rows {
                    let (nid, flds, csum) = row.unwrap();
                    let front = flds.split(FIELD_SEP).next().unwrap_or_default();
                    // Compared in SQL: the column's integer affinity turns "007" into 7, as in Anki.
                    let same: bool = col.conn().query_row(
                        "SELECT sfld = ?2 FROM notes WHERE id = ?1",
                        params![nid, crate::notes::strip_html_preserving_media_filenames(front)],
                        |r| r.get(0),
                    ).unwrap();
                    prop_assert!(same);
                    prop_assert_eq!(csum, crate::notes::note_checksum(front));
                }
                let dues: Vec<i64> = col.conn().prepare("SELECT due FROM cards ORDER BY id").unwrap()
                    .query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
                prop_assert_eq!(dues, (1..=seen_cards.len() as i64).collect::<Vec<_>>());
            }
        }
    }
}
