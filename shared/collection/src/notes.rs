//! Notes of any note type: add, read, edit, delete, with Anki's card generation.
//!
//! Adding a note creates the cards whose question renders a non-empty field (cloze: one per
//! cloze number); editing a note adds the cards its new content asks for and deletes none (Anki
//! keeps cards whose content went away until its Empty Cards tool removes them). The rows are
//! written as Anki writes them: fields NFC-normalised, `sfld` the sort field and `csum` the
//! checksum of the first field (both HTML-stripped, media file names kept), tags space-padded in
//! case-insensitive order and registered in `col.tags`, `mod` in seconds, `usn` −1.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use javumbo_scheduler::{CardQueue, CardType};
use javumbo_templates as tmpl;
use regex::Regex;
use serde::Serialize;
use serde_json::Value;
use sha1::{Digest, Sha1};
use unicode_normalization::UnicodeNormalization;

use crate::cards::MAX_FIELD_BYTES;
use crate::coljson::{ColJson, json_i64};
use crate::ids::{IdTable, new_guid};
use crate::notetypes::{NoteType, NoteTypeKind};
use crate::storage::cards::Card;
use crate::storage::notes::Note;
use crate::sync_state::GraveKind;
use crate::{Collection, CollectionError, Result, storage};

/// Anki's field separator inside `notes.flds`.
pub const FIELD_SEP: char = '\u{1f}';
/// Largest note (all fields together), in bytes: every edit is journaled whole, so a note stays
/// far below the journal's entry size. Each field is also bounded by [`MAX_FIELD_BYTES`].
pub const MAX_NOTE_BYTES: usize = 512 * 1024;
/// Most tags on one note.
pub const MAX_TAGS: usize = 100;
/// Longest tag, in bytes.
pub const MAX_TAG_BYTES: usize = 200;

/// A note to add.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewNote {
    /// The note type; `None`: the collection's Basic note type.
    pub notetype_id: Option<i64>,
    /// The deck its cards go to (unless a template overrides it); `None`: the current deck.
    pub deck_id: Option<i64>,
    /// One value per field of the note type, in its field order.
    pub fields: Vec<String>,
    pub tags: Vec<String>,
}

/// What adding a note created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddedNote {
    pub note_id: i64,
    /// The new cards, by ordinal.
    pub card_ids: Vec<i64>,
}

/// A new content for a note.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoteUpdate {
    /// One value per field of the note type, in its field order.
    pub fields: Vec<String>,
    /// `None` keeps the tags.
    pub tags: Option<Vec<String>>,
}

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdatedNote {
    /// Whether anything changed (an edit to the same content writes nothing).
    pub changed: bool,
    /// Cards the new content created, by ordinal.
    pub cards_added: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoteField {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoteCard {
    pub card_id: i64,
    pub ord: i64,
    pub deck_id: i64,
}

/// A note with its note type's field names and its cards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoteDetail {
    pub note_id: i64,
    pub guid: String,
    pub notetype_id: i64,
    pub notetype_name: String,
    pub fields: Vec<NoteField>,
    pub tags: Vec<String>,
    pub cards: Vec<NoteCard>,
    /// `notes.mod`, epoch seconds.
    pub modified: i64,
}

/// Anki's `strip_html_preserving_media_filenames`: media tags become ` name `, then tags go and
/// entities are decoded. `sfld` and `csum` are computed from it.
pub fn strip_html_preserving_media_filenames(html: &str) -> String {
    static MEDIA: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r#"(?xsi)
            <\b(?:img|audio|video|object)\b
            (?:[^>"']|"[^"]*?"|'[^']*?')*?
            \b(?:src|data)\b=
            \s*
            (?:"([^"]+?)"|'([^']+?)'|([^\s>]+))
            [^>]*>"#,
        )
        .expect("static regex")
    });
    let spaced = MEDIA.replace_all(html, " ${1}${2}${3} ");
    tmpl::strip_html(&spaced).into_owned()
}

/// Anki's note checksum: the first 32 bits of the SHA-1 of the stripped first field.
pub fn note_checksum(first_field: &str) -> i64 {
    let digest = Sha1::digest(strip_html_preserving_media_filenames(first_field).as_bytes());
    i64::from(u32::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3],
    ]))
}

/// Check a note's fields against its note type and the limits; NFC-normalised as Anki stores
/// them. The field count never changes: it is the note type's.
fn clean_fields(nt: &NoteType, fields: &[String]) -> Result<Vec<String>> {
    if fields.len() != nt.fields.len() {
        return Err(CollectionError::InvalidInput(format!(
            "note type '{}' has {} field{} ({}), got {}",
            nt.name,
            nt.fields.len(),
            if nt.fields.len() == 1 { "" } else { "s" },
            nt.fields.join(", "),
            fields.len()
        )));
    }
    let mut total = 0;
    let mut out = Vec::with_capacity(fields.len());
    for (name, value) in nt.fields.iter().zip(fields) {
        if value.len() > MAX_FIELD_BYTES {
            return Err(CollectionError::InvalidInput(format!(
                "field '{name}' is larger than {} KB",
                MAX_FIELD_BYTES / 1024
            )));
        }
        // The separator would silently split one field into two and corrupt the note.
        if value.contains(FIELD_SEP) {
            return Err(CollectionError::InvalidInput(format!(
                "field '{name}' contains a forbidden character"
            )));
        }
        total += value.len();
        out.push(value.nfc().collect::<String>());
    }
    if total > MAX_NOTE_BYTES {
        return Err(CollectionError::InvalidInput(format!(
            "the note is larger than {} KB",
            MAX_NOTE_BYTES / 1024
        )));
    }
    if out.iter().all(|f| tmpl::field_is_empty(f)) {
        return Err(CollectionError::InvalidInput("every field is empty".into()));
    }
    if nt.kind == NoteTypeKind::Cloze && tmpl::cloze_numbers_in_fields(&out).is_empty() {
        return Err(CollectionError::InvalidInput(
            "a cloze note needs at least one cloze deletion, such as {{c1::text}}".into(),
        ));
    }
    Ok(out)
}

/// Check the fields of a stored note being edited through the card routes: the same limits as
/// [`clean_fields`], but the count is the note's own (an imported note may carry more fields than
/// its note type; they are kept).
pub(crate) fn clean_stored_fields(nt: &NoteType, fields: Vec<String>) -> Result<Vec<String>> {
    let mut names = nt.fields.clone();
    names.resize(fields.len(), String::new());
    let shaped = NoteType {
        fields: names,
        ..nt.clone()
    };
    clean_fields(&shaped, &fields)
}

/// Tags as Anki keeps them: split on whitespace, duplicates (ignoring case) dropped, sorted
/// ignoring case.
pub fn canonical_tags(tags: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags.iter().flat_map(|t| t.split_whitespace()) {
        if tag.len() > MAX_TAG_BYTES {
            return Err(CollectionError::InvalidInput(format!(
                "a tag is longer than {MAX_TAG_BYTES} bytes"
            )));
        }
        if tag.chars().any(|c| c.is_control()) {
            return Err(CollectionError::InvalidInput(
                "a tag contains a control character".into(),
            ));
        }
        let tag: String = tag.nfc().collect();
        if !out.iter().any(|t| t.to_lowercase() == tag.to_lowercase()) {
            out.push(tag);
        }
        if out.len() > MAX_TAGS {
            return Err(CollectionError::InvalidInput(format!(
                "a note can have at most {MAX_TAGS} tags"
            )));
        }
    }
    out.sort_by_cached_key(|t| t.to_lowercase());
    Ok(out)
}

/// `notes.tags` form: `" a b "`, or empty.
fn join_tags(tags: &[String]) -> String {
    if tags.is_empty() {
        String::new()
    } else {
        format!(" {} ", tags.join(" "))
    }
}

fn split_tags(stored: &str) -> Vec<String> {
    stored.split_whitespace().map(str::to_string).collect()
}

fn note_not_found(id: i64) -> CollectionError {
    CollectionError::NotFound(format!("note {id} not found"))
}

/// The ordinals of a note's existing cards, as the template crate counts them.
fn ordinals(cards: &[Card]) -> BTreeSet<u16> {
    cards
        .iter()
        .filter_map(|c| u16::try_from(c.ord).ok())
        .collect()
}

impl Collection {
    /// Register tags in `col.tags` (usn −1) as Anki's legacy schema does.
    fn register_tags(&self, tags: &[String]) -> Result<()> {
        if tags.is_empty() {
            return Ok(());
        }
        let mut known = self.read_json(ColJson::Tags)?;
        let mut changed = false;
        for tag in tags {
            if !known.keys().any(|k| k.to_lowercase() == tag.to_lowercase()) {
                known.insert(tag.clone(), Value::from(-1));
                changed = true;
            }
        }
        if changed {
            self.write_json(ColJson::Tags, &known)?;
        }
        Ok(())
    }

    /// The note type new notes get when none is named: the current one if it is a two-field
    /// normal type, else the oldest "Basic".
    pub fn default_note_type(&self) -> Result<NoteType> {
        let conf = self.read_json_shared(ColJson::Conf)?;
        let usable = |n: &&NoteType| {
            n.kind == NoteTypeKind::Normal && n.fields.len() == 2 && !n.templates.is_empty()
        };
        // The current note type alone first: parsing every note type for each added card was
        // most of `add_card`'s time.
        if let Some(current) = json_i64(&conf, "curModel")
            .and_then(|id| self.note_type(id).ok())
            .filter(|n| usable(&n) && n.name == "Basic")
        {
            return Ok(current);
        }
        self.note_types()?
            .into_iter()
            .filter(|n| n.name == "Basic")
            .filter(|n| usable(&n))
            .min_by_key(|n| n.id)
            .ok_or_else(|| CollectionError::corrupt("the collection has no Basic note type"))
    }

    /// The next new-card position (`col.conf.nextPos`), advanced.
    fn take_position(&self) -> Result<i64> {
        let mut conf = self.read_json(ColJson::Conf)?;
        let position = json_i64(&conf, "nextPos").unwrap_or(1).max(1);
        conf.insert("nextPos".into(), (position + 1).into());
        self.write_json(ColJson::Conf, &conf)?;
        Ok(position)
    }

    /// The deck a new card goes to: the template's override when it is a normal deck, else
    /// `fallback`.
    fn deck_for_new_card(&self, nt: &NoteType, ord: u16, fallback: i64) -> Result<i64> {
        if let Some(did) = nt.deck_override(ord)
            && self.deck_rows()?.iter().any(|d| d.id == did && !d.filtered)
        {
            return Ok(did);
        }
        Ok(fallback)
    }

    /// Insert new cards `ords` of a note; every card of one call shares `position` (Anki gives
    /// the cards of one note one position).
    fn insert_cards(
        &self,
        nt: &NoteType,
        note_id: i64,
        ords: &[u16],
        deck_id: i64,
        position: i64,
    ) -> Result<Vec<i64>> {
        let now = self.clock().now_secs();
        let mut ids = Vec::with_capacity(ords.len());
        for &ord in ords {
            let id = self.next_id(IdTable::Cards)?;
            // A new card: due = its position in the new queue, data "{}" (what Anki 26 writes
            // until the first answer adds `pos` and `lrt`).
            storage::cards::insert(
                self.conn(),
                &Card {
                    id,
                    note_id,
                    deck_id: self.deck_for_new_card(nt, ord, deck_id)?,
                    ord: i64::from(ord),
                    mtime: now,
                    usn: -1,
                    ctype: CardType::New,
                    queue: CardQueue::New,
                    due: position,
                    ivl: 0,
                    factor: 0,
                    reps: 0,
                    lapses: 0,
                    left: 0,
                    original_due: 0,
                    original_deck_id: 0,
                    flags: 0,
                    data: "{}".into(),
                },
            )?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// Insert a note with already cleaned fields and tags, and its cards. The caller runs
    /// inside `atomic`.
    pub(crate) fn insert_note(
        &self,
        nt: &NoteType,
        deck_id: i64,
        fields: Vec<String>,
        tags: &[String],
    ) -> Result<AddedNote> {
        let ords = tmpl::ordinals_to_add(
            &nt.for_rendering(),
            &tmpl::Note {
                fields: &fields,
                tags,
            },
            &BTreeSet::new(),
        );
        let position = self.take_position()?;
        let note_id = self.next_id(IdTable::Notes)?;
        let sort = fields.get(nt.sort_field).map_or("", String::as_str);
        storage::notes::insert(
            self.conn(),
            &Note {
                id: note_id,
                guid: new_guid(),
                mid: nt.id,
                mtime: self.clock().now_secs(),
                usn: -1,
                tags: join_tags(tags),
                sfld: strip_html_preserving_media_filenames(sort),
                csum: note_checksum(&fields[0]),
                flds: fields.join(&FIELD_SEP.to_string()),
                flags: 0,
                data: String::new(),
            },
        )?;
        self.register_tags(tags)?;
        let card_ids = self.insert_cards(nt, note_id, &ords, deck_id, position)?;
        Ok(AddedNote { note_id, card_ids })
    }

    /// Add a note of any note type, and the cards Anki would create for it.
    pub fn add_note(&self, new: &NewNote) -> Result<AddedNote> {
        let tags = canonical_tags(&new.tags)?;
        let nt = match new.notetype_id {
            Some(id) => self.note_type(id)?,
            None => self.default_note_type()?,
        };
        let fields = clean_fields(&nt, &new.fields)?;
        self.atomic(|c| {
            let did = match new.deck_id {
                Some(id) => id,
                None => c.current_deck_id()?,
            };
            let deck = c.deck_row(did)?;
            if deck.filtered {
                return Err(CollectionError::InvalidInput(format!(
                    "'{}' is a filtered deck; cards cannot be added to it",
                    deck.name
                )));
            }
            let added = c.insert_note(&nt, did, fields.clone(), &tags)?;
            c.touch()?;
            Ok(added)
        })
    }

    /// A note, its fields by name, its tags and cards.
    pub fn note(&self, id: i64) -> Result<NoteDetail> {
        let note = storage::notes::get(self.conn(), id)?.ok_or_else(|| note_not_found(id))?;
        let nt = self.note_type(note.mid).map_err(|_| {
            CollectionError::corrupt(format!("note {id} has no note type {}", note.mid))
        })?;
        let values: Vec<&str> = note.flds.split(FIELD_SEP).collect();
        let fields = nt
            .fields
            .iter()
            .enumerate()
            .map(|(i, name)| NoteField {
                name: name.clone(),
                value: values.get(i).copied().unwrap_or_default().to_string(),
            })
            .collect();
        let cards = storage::cards::of_note(self.conn(), id)?
            .into_iter()
            .map(|c| NoteCard {
                card_id: c.id,
                ord: c.ord,
                deck_id: c.deck_id,
            })
            .collect();
        Ok(NoteDetail {
            note_id: note.id,
            guid: note.guid,
            notetype_id: nt.id,
            notetype_name: nt.name,
            fields,
            tags: split_tags(&note.tags),
            cards,
            modified: note.mtime,
        })
    }

    /// Replace all fields (and optionally the tags) of a note, then add the cards its new
    /// content asks for. Nothing is deleted: a card whose content went away stays, rendered with
    /// Anki's empty-card message. An edit that changes nothing writes nothing.
    pub fn update_note(&self, id: i64, update: &NoteUpdate) -> Result<UpdatedNote> {
        let tags = update.tags.as_deref().map(canonical_tags).transpose()?;
        self.atomic(|c| {
            let note = storage::notes::get(c.conn(), id)?.ok_or_else(|| note_not_found(id))?;
            let nt = c.note_type(note.mid).map_err(|_| {
                CollectionError::corrupt(format!("note {id} has no note type {}", note.mid))
            })?;
            let fields = clean_fields(&nt, &update.fields)?;
            c.write_note_content(&nt, note, fields, tags.clone())
        })
    }

    /// Write new fields/tags of `note` (already cleaned) and generate its missing cards.
    pub(crate) fn write_note_content(
        &self,
        nt: &NoteType,
        note: Note,
        fields: Vec<String>,
        tags: Option<Vec<String>>,
    ) -> Result<UpdatedNote> {
        let flds = fields.join(&FIELD_SEP.to_string());
        let tags_text = tags.as_deref().map_or_else(|| note.tags.clone(), join_tags);
        if flds == note.flds && tags_text == note.tags {
            return Ok(UpdatedNote {
                changed: false,
                cards_added: vec![],
            });
        }
        let sort = fields.get(nt.sort_field).map_or("", String::as_str);
        let tag_list = split_tags(&tags_text);
        storage::notes::update_content(
            self.conn(),
            &Note {
                flds,
                sfld: strip_html_preserving_media_filenames(sort),
                csum: note_checksum(&fields[0]),
                tags: tags_text,
                mtime: self.clock().now_secs(),
                usn: -1,
                ..note
            },
        )?;
        self.register_tags(&tag_list)?;

        let existing = storage::cards::of_note(self.conn(), note.id)?;
        let ords = tmpl::ordinals_to_add(
            &nt.for_rendering(),
            &tmpl::Note {
                fields: &fields,
                tags: &tag_list,
            },
            &ordinals(&existing),
        );
        let mut cards_added = vec![];
        if !ords.is_empty() {
            // Anki puts the new cards where the note's cards are (their home deck when they all
            // share one) and, while one of them is still new, at its position in the queue.
            let homes: BTreeSet<i64> = existing.iter().map(Card::home_deck_id).collect();
            let deck_id = match homes.first() {
                Some(home) if homes.len() == 1 => *home,
                _ => self.current_deck_id()?,
            };
            let position = match existing
                .iter()
                .find(|c| c.queue == CardQueue::New && c.original_deck_id == 0)
            {
                Some(c) => c.due,
                None => self.take_position()?,
            };
            cards_added = self.insert_cards(nt, note.id, &ords, deck_id, position)?;
        }
        self.touch()?;
        Ok(UpdatedNote {
            changed: true,
            cards_added,
        })
    }

    /// Delete a note and all its cards. Review history stays, as in Anki.
    pub fn delete_note(&self, id: i64) -> Result<()> {
        self.atomic(|c| {
            crate::sync_state::add_card_graves(c.conn(), crate::sync_state::CardsOf::Note(id))?;
            storage::cards::delete_of_note(c.conn(), id)?;
            if storage::notes::delete(c.conn(), id)? == 0 {
                return Err(note_not_found(id));
            }
            crate::sync_state::add_grave(c.conn(), id, GraveKind::Note, -1)?;
            c.touch()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::DEFAULT_DECK_ID;
    use crate::testutil::{count, empty};

    fn nt_id(col: &Collection, name: &str) -> i64 {
        col.note_types()
            .unwrap()
            .into_iter()
            .find(|n| n.name == name)
            .unwrap()
            .id
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn ords(col: &Collection, nid: i64) -> Vec<i64> {
        col.note(nid).unwrap().cards.iter().map(|c| c.ord).collect()
    }

    #[test]
    fn cloze_notes_get_one_card_per_number_and_keep_removed_ones() {
        let (col, _) = empty();
        let cloze = nt_id(&col, "Cloze");
        let added = col
            .add_note(&NewNote {
                notetype_id: Some(cloze),
                fields: strings(&["{{c1::Paris}} is in {{c2::France::country}}", ""]),
                tags: strings(&["geo", "Europe", "GEO"]),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(added.card_ids.len(), 2);
        assert_eq!(ords(&col, added.note_id), [0, 1]);
        let detail = col.note(added.note_id).unwrap();
        assert_eq!(detail.tags, ["Europe", "geo"]);
        assert_eq!(detail.fields[1].name, "Back Extra");
        // Both cards of the note share one new-queue position.
        assert_eq!(
            count(&col, "SELECT count(DISTINCT due) FROM cards"),
            1,
            "one position per note"
        );

        // Adding c3 creates card 3; removing c1 leaves card 1.
        let up = col
            .update_note(
                added.note_id,
                &NoteUpdate {
                    fields: strings(&["Paris is in {{c2::France}} {{c3::Europe}}", "x"]),
                    tags: None,
                },
            )
            .unwrap();
        assert!(up.changed);
        assert_eq!(up.cards_added.len(), 1);
        assert_eq!(ords(&col, added.note_id), [0, 1, 2]);
        let stored: String = col
            .conn()
            .query_row("SELECT tags FROM notes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, " Europe geo ");
        // Same content again: nothing written.
        let again = col
            .update_note(
                added.note_id,
                &NoteUpdate {
                    fields: strings(&["Paris is in {{c2::France}} {{c3::Europe}}", "x"]),
                    tags: Some(strings(&["geo", "Europe"])),
                },
            )
            .unwrap();
        assert!(!again.changed);
    }

    #[test]
    fn optional_reverse_and_field_checks() {
        let (col, _) = empty();
        let optional = nt_id(&col, "Basic (optional reversed card)");
        let added = col
            .add_note(&NewNote {
                notetype_id: Some(optional),
                deck_id: Some(DEFAULT_DECK_ID),
                fields: strings(&["<img src=\"cat.jpg\"> cat", "gato", ""]),
                tags: vec![],
            })
            .unwrap();
        assert_eq!(ords(&col, added.note_id), [0]);
        let (sfld, csum): (String, i64) = col
            .conn()
            .query_row("SELECT sfld, csum FROM notes", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(sfld, " cat.jpg  cat");
        assert_eq!(csum, note_checksum("<img src=\"cat.jpg\"> cat"));
        col.update_note(
            added.note_id,
            &NoteUpdate {
                fields: strings(&["cat", "gato", "y"]),
                tags: None,
            },
        )
        .unwrap();
        assert_eq!(ords(&col, added.note_id), [0, 1]);
        // Emptying "Add Reverse" again keeps card 2.
        col.update_note(
            added.note_id,
            &NoteUpdate {
                fields: strings(&["cat", "gato", ""]),
                tags: None,
            },
        )
        .unwrap();
        assert_eq!(ords(&col, added.note_id), [0, 1]);

        let err = |fields: &[&str]| {
            col.update_note(
                added.note_id,
                &NoteUpdate {
                    fields: strings(fields),
                    tags: None,
                },
            )
            .unwrap_err()
            .to_string()
        };
        assert!(
            err(&["a", "b"]).contains("has 3 fields"),
            "{}",
            err(&["a", "b"])
        );
        assert!(err(&["a", "b", "c", "d"]).contains("got 4"));
        assert!(err(&["", "", ""]).contains("every field is empty"));
        assert!(err(&["a\u{1f}b", "", ""]).contains("forbidden"));
        let big = "x".repeat(MAX_FIELD_BYTES + 1);
        assert!(err(&[&big, "", ""]).contains("larger than"));
        let cloze = nt_id(&col, "Cloze");
        let e = col
            .add_note(&NewNote {
                notetype_id: Some(cloze),
                fields: strings(&["no deletion", ""]),
                ..Default::default()
            })
            .unwrap_err();
        assert!(e.to_string().contains("cloze deletion"), "{e}");
        assert!(matches!(
            col.add_note(&NewNote {
                notetype_id: Some(99),
                fields: strings(&["a", "b"]),
                ..Default::default()
            }),
            Err(CollectionError::NotFound(_))
        ));
        // Nothing half-applied: still one note, two cards.
        assert_eq!(count(&col, "SELECT count(*) FROM notes"), 1);
        assert_eq!(count(&col, "SELECT count(*) FROM cards"), 2);
        col.delete_note(added.note_id).unwrap();
        assert_eq!(count(&col, "SELECT count(*) FROM cards"), 0);
        assert!(matches!(
            col.delete_note(added.note_id),
            Err(CollectionError::NotFound(_))
        ));
    }
}
