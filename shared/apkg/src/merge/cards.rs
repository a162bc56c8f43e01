//! Cards and their review history. Cards stay in their filtered decks when the package holds
//! every home deck (Anki's rule), and come back home otherwise; new cards join the end of the
//! collection's new queue, day-based due dates move to the collection's calendar, scheduling
//! values are normalised by Anki's Check Database rules, a card whose note already has its
//! template is not added again, and a review already in the collection is not added twice.

use std::collections::{BTreeSet, HashMap, HashSet};

use javumbo_collection::storage;
use javumbo_collection::storage::cards::Card;
use javumbo_collection::storage::revlog::RevlogEntry;
use javumbo_collection::{CardQueue, CardType};
use serde_json::json;

use super::decks::DeckMap;
use super::notes::ImportedNotes;
use super::{Context, ID_STEP, IdAllocator, int};
use crate::ApkgError;
use crate::source::SourceData;

/// Anki tells epoch seconds from day numbers in `due` by size.
const EPOCH_SECS_THRESHOLD: i64 = 1_000_000_000;

/// Anki keeps filtered decks only when every borrowed card's home deck is in the package
/// (`ExchangeData::enables_filtered_decks`); a package made before that rule may lack them.
pub(super) fn package_holds_every_home_deck(src: &SourceData) -> bool {
    src.cards.iter().all(|c| {
        c.original_deck_id == 0
            || c.original_deck_id == 1
            || src
                .decks
                .get(&c.original_deck_id)
                .is_some_and(|d| !d.filtered)
    })
}

/// The package's cards whose notes were imported, normalised, and sent home from filtered
/// decks unless those are kept.
pub(super) fn of_imported_notes(
    src: &SourceData,
    notes: &ImportedNotes,
    keep_filtered: bool,
) -> Vec<Card> {
    let mut cards: Vec<Card> = src
        .cards
        .iter()
        .filter(|c| notes.get(c.note_id).is_some())
        .cloned()
        .collect();
    for card in &mut cards {
        normalize(card);
        let in_filtered = src.decks.get(&card.deck_id).is_some_and(|d| d.filtered);
        if !keep_filtered || !in_filtered {
            send_home(card);
        }
    }
    cards
}

/// Anki's Check Database rules for a card's numbers (rslib `storage/card/fix_*.sql`), applied
/// before the card is stored: nothing outside what Anki itself would keep reaches the
/// scheduler. (Review cards due absurdly far ahead, which Check Database moves to "today", are
/// handled in `import_cards`, where today is known.)
pub(super) fn normalize(card: &mut Card) {
    let i32_range = |v: i64| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    let u32_range = |v: i64| v.clamp(0, i64::from(i32::MAX));
    if card.ctype == CardType::New && card.queue != CardQueue::Suspended && card.due >= 1_000_000 {
        card.due = 1_000_000 + card.due % 1_000_000;
    }
    card.due = i32_range(card.due);
    card.original_due = i32_range(card.original_due);
    if card.original_due > 0
        && (card.ctype == CardType::Learn || card.queue == CardQueue::Review)
        && card.original_deck_id == 0
    {
        card.original_due = 0;
    }
    card.ivl = u32_range(card.ivl);
    // Anki reads the ease factor as a 16-bit number.
    card.factor = card.factor.clamp(0, i64::from(u16::MAX));
    card.reps = u32_range(card.reps);
    card.lapses = u32_range(card.lapses);
    card.left = u32_range(card.left);
    card.mtime = u32_range(card.mtime);
}

/// A card borrowed by a filtered deck goes home, as Anki does when it does not import filtered
/// decks: original deck and due back, queue restored from the card type.
fn send_home(card: &mut Card) {
    if card.original_deck_id == 0 {
        return;
    }
    card.deck_id = card.original_deck_id;
    if card.original_due != 0 {
        card.due = card.original_due;
    }
    card.original_deck_id = 0;
    card.original_due = 0;
    if !card.queue.is_out_of_queues() {
        card.queue = match card.ctype {
            CardType::New => CardQueue::New,
            CardType::Review => CardQueue::Review,
            // Learning due dates are epoch seconds in the intraday queue, day numbers otherwise.
            _ if card.due > EPOCH_SECS_THRESHOLD => CardQueue::Learn,
            _ => CardQueue::DayLearn,
        };
    }
}

/// Anki's "today": whole days since `crt`, which sits on the rollover hour.
fn days_elapsed(crt: i64, now_secs: i64) -> i64 {
    (now_secs - crt).div_euclid(86_400)
}

impl Context<'_> {
    /// Insert `cards` (all of imported notes) into their decks; returns the collection's id of
    /// each, by package id.
    pub(super) fn import_cards(
        &mut self,
        cards: &[Card],
        notes: &ImportedNotes,
        decks: &DeckMap,
    ) -> Result<HashMap<i64, i64>, ApkgError> {
        let col = self.col;
        let conn = col.conn();
        let now_secs = self.now_secs();
        // Day numbers count from the package's crt: keep "due in N days" on our calendar.
        let day_shift = days_elapsed(self.src.crt, now_secs) - days_elapsed(self.crt, now_secs);
        let today = days_elapsed(self.crt, now_secs);
        let mut existing: HashSet<(i64, i64)> = HashSet::new();
        {
            let mut stmt = conn.prepare("SELECT nid, ord FROM cards")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                existing.insert((r.get(0)?, r.get(1)?));
            }
        }
        let cards: Vec<&Card> = cards
            .iter()
            .filter(|c| {
                notes
                    .get(c.note_id)
                    .is_some_and(|n| existing.insert((n.id, c.ord)))
            })
            .collect();
        let new_queue = NewQueueTail::new(int(&self.conf, "nextPos"), cards.iter().copied());
        let mut card_ids = IdAllocator::new(storage::cards::all_ids(conn)?, ID_STEP);
        let mut imported = HashMap::new();
        for card in cards {
            let Some(note) = notes.get(card.note_id) else {
                continue;
            };
            if !note.cloze && card.ord as usize >= note.templates {
                return Err(ApkgError::invalid(format!(
                    "card {} uses template {} of a note type with {} templates",
                    card.id, card.ord, note.templates
                )));
            }
            if note.cloze && card.ord > MAX_CLOZE_ORDINAL {
                return Err(ApkgError::invalid(format!(
                    "card {} uses cloze ordinal {}; Anki's highest is {}",
                    card.id, card.ord, MAX_CLOZE_ORDINAL
                )));
            }
            let due = if card.ctype == CardType::New && card.original_deck_id == 0 {
                new_queue.position_of(card.due)
            } else if card.queue == CardQueue::Review && card.due > 100_000 {
                // Check Database: a review due beyond day 100,000 (~270 years) is due today.
                today
            } else if matches!(card.queue, CardQueue::Review | CardQueue::DayLearn)
                || card.ctype == CardType::Review
            {
                card.due.saturating_sub(day_shift)
            } else {
                card.due
            };
            let original_due = if card.ctype == CardType::Review && card.original_due != 0 {
                card.original_due.saturating_sub(day_shift)
            } else {
                card.original_due
            };
            let id = card_ids.take(card.id)?;
            let original_deck_id = if card.original_deck_id == 0 {
                0
            } else {
                decks.target_of(card.original_deck_id)
            };
            storage::cards::insert(
                conn,
                &Card {
                    id,
                    note_id: note.id,
                    deck_id: decks.target_of(card.deck_id),
                    usn: -1,
                    due,
                    original_due,
                    original_deck_id,
                    ..card.clone()
                },
            )?;
            imported.insert(card.id, id);
        }
        if let Some(next) = new_queue.next_position() {
            self.conf.insert("nextPos".into(), json!(next));
        }
        Ok(imported)
    }

    /// Insert the history of the imported cards (`card_ids`: package id → collection id);
    /// returns how many entries were added.
    ///
    /// An entry whose id the collection already has *for the same card* is that very review
    /// imported before (e.g. the deck was deleted, which keeps its history, and is now imported
    /// again): skipped, as Anki does. Any other clash gets a fresh id.
    pub(super) fn import_revlog(
        &self,
        card_ids: &HashMap<i64, i64>,
    ) -> Result<RevlogCounts, ApkgError> {
        let conn = self.col.conn();
        let mut existing = storage::revlog::card_of_each(conn)?;
        let mut revlog_ids = IdAllocator::new(existing.keys().copied(), 1);
        let mut counts = RevlogCounts::default();
        let i32_range = |v: i64| v.clamp(i64::from(i32::MIN), i64::from(i32::MAX));
        for entry in &self.src.revlog {
            let Some(&card_id) = card_ids.get(&entry.card_id) else {
                continue;
            };
            // The same review again (imported before, or twice in this package).
            if existing.get(&entry.id) == Some(&card_id) {
                counts.skipped += 1;
                continue;
            }
            let id = revlog_ids.take(entry.id)?;
            existing.insert(entry.id, card_id);
            storage::revlog::insert(
                conn,
                &RevlogEntry {
                    id,
                    card_id,
                    usn: -1,
                    ivl: i32_range(entry.ivl),
                    last_ivl: i32_range(entry.last_ivl),
                    factor: entry.factor.clamp(0, i64::from(i32::MAX)),
                    time_ms: entry.time_ms.clamp(0, i64::from(i32::MAX)),
                    ..*entry
                },
            )?;
            counts.added += 1;
        }
        Ok(counts)
    }
}

/// Review log entries added, and those skipped as reviews the collection already has.
#[derive(Debug, Default)]
pub(super) struct RevlogCounts {
    pub added: usize,
    pub skipped: usize,
}

/// Anki generates cloze cards up to ordinal 499 (`cardgen.rs` caps it there).
const MAX_CLOZE_ORDINAL: i64 = 499;

/// Where imported new cards go: after the collection's last new position, keeping their
/// relative order (cards that shared a position, e.g. siblings, still do).
struct NewQueueTail {
    /// The collection's `nextPos`.
    first: i64,
    /// The distinct package positions of the new cards, ascending.
    positions: Vec<i64>,
}

impl NewQueueTail {
    fn new<'c>(next_pos: Option<i64>, cards: impl IntoIterator<Item = &'c Card>) -> Self {
        Self {
            first: next_pos.unwrap_or(1).max(1),
            positions: cards
                .into_iter()
                .filter(|c| c.ctype == CardType::New && c.original_deck_id == 0)
                .map(|c| c.due)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        }
    }

    fn position_of(&self, package_position: i64) -> i64 {
        let rank = self.positions.binary_search(&package_position).unwrap_or(0) as i64;
        self.first + rank
    }

    /// The collection's `nextPos` after the import, if it imported new cards.
    fn next_position(&self) -> Option<i64> {
        (!self.positions.is_empty()).then(|| self.first + self.positions.len() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filtered_cards_go_home() {
        let mut c = Card {
            id: 1,
            note_id: 1,
            deck_id: 50,
            ord: 0,
            mtime: 0,
            usn: 0,
            ctype: CardType::Learn,
            queue: CardQueue::Learn,
            due: 1_700_000_000,
            ivl: 0,
            factor: 0,
            reps: 1,
            lapses: 0,
            left: 1,
            original_due: 0,
            original_deck_id: 7,
            flags: 0,
            data: String::new(),
        };
        send_home(&mut c);
        assert_eq!(
            (c.deck_id, c.original_deck_id, c.queue, c.due),
            (7, 0, CardQueue::Learn, 1_700_000_000)
        );
        c.ctype = CardType::Review;
        c.original_deck_id = 7;
        c.original_due = 12;
        c.due = -100_000;
        send_home(&mut c);
        assert_eq!(
            (c.deck_id, c.queue, c.due, c.original_due),
            (7, CardQueue::Review, 12, 0)
        );
    }

    #[test]
    fn new_cards_queue_after_the_collection_keeping_shared_positions() {
        let card = |due| Card {
            id: due,
            note_id: 1,
            deck_id: 1,
            ord: 0,
            mtime: 0,
            usn: 0,
            ctype: CardType::New,
            queue: CardQueue::New,
            due,
            ivl: 0,
            factor: 0,
            reps: 0,
            lapses: 0,
            left: 0,
            original_due: 0,
            original_deck_id: 0,
            flags: 0,
            data: String::new(),
        };
        let tail = NewQueueTail::new(Some(10), &[card(7), card(3), card(7)]);
        assert_eq!((tail.position_of(3), tail.position_of(7)), (10, 11));
        assert_eq!(tail.next_position(), Some(12));
        assert_eq!(NewQueueTail::new(None, []).next_position(), None);
    }
}
