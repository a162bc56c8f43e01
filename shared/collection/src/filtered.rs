//! Studying a card that a filtered deck borrows (a "Custom Study Session" or any filtered deck
//! built on a device and synced here): which of Anki's states answers it, and where the card
//! is after the answer (the scheduling itself is `javumbo_scheduler`'s).
//!
//! Anki counts an answer against the deck the card was answered in (`newToday`/`revToday` of
//! that deck); javumbo counts today's answers from the revlog by the card's deck. A filtered
//! deck's card goes home (by an answer, or when the deck is emptied) and its answers would
//! then count for its home deck, so the deck of every answer given in a filtered deck is
//! recorded in a private table ([`ANSWER_DECKS_DDL`]).

use javumbo_scheduler::{Borrow, PreviewDelays, StudiedIn};
use rusqlite::{Connection, params};
use serde_json::Value;

use crate::coljson::{ColJson, JsonObject, json_i64};
use crate::storage::cards::Card;
use crate::{Collection, Result};

/// How a card is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Studied {
    /// Scheduled: in its home deck, or in a filtered deck that reschedules.
    Scheduled(StudiedIn),
    /// In a filtered deck that does not reschedule (Anki's preview).
    Preview {
        original_due: i64,
        delays: PreviewDelays,
    },
}

/// javumbo's private table (created at every open, dropped from every copy): the filtered deck
/// an answer of today was given in (rows of earlier days are pruned as new ones come).
pub(crate) const ANSWER_DECKS_DDL: &str = "CREATE TABLE IF NOT EXISTS javumbo_answer_decks (\
     rid INTEGER PRIMARY KEY, did INTEGER NOT NULL)";

/// A filtered deck's `resched`, which Anki reads from a bool or a number; absent, the default
/// of a new filtered deck (reschedule).
fn reschedules(deck: &JsonObject) -> bool {
    match deck.get("resched") {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => true,
    }
}

/// A preview delay (`u32` seconds in Anki; absent or invalid is 0, "end the preview").
fn delay(deck: &JsonObject, key: &str) -> u32 {
    json_i64(deck, key)
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0)
}

impl Collection {
    /// How `card` is answered: a card borrowed by a filtered deck (its `odid` set and its deck
    /// filtered) in that deck's mode; any other card as in its home deck, as Anki does (a card
    /// whose filtered deck was replaced by a normal one keeps its `odid` and is answered there).
    pub(crate) fn studied(&self, card: &Card) -> Result<Studied> {
        if card.original_deck_id == 0 {
            return Ok(Studied::Scheduled(StudiedIn::HomeDeck));
        }
        let decks = self.read_json_shared(ColJson::Decks)?;
        let Some(deck) = decks
            .get(&card.deck_id.to_string())
            .and_then(Value::as_object)
            .filter(|d| json_i64(d, "dyn").unwrap_or(0) != 0)
        else {
            return Ok(Studied::Scheduled(StudiedIn::HomeDeck));
        };
        let original_due = card.original_due;
        Ok(if reschedules(deck) {
            Studied::Scheduled(StudiedIn::Rescheduling { original_due })
        } else {
            Studied::Preview {
                original_due,
                delays: PreviewDelays {
                    again_secs: delay(deck, "previewAgainSecs"),
                    hard_secs: delay(deck, "previewHardSecs"),
                    good_secs: delay(deck, "previewGoodSecs"),
                },
            }
        })
    }
}

/// Where the answered `card` (as it was before the answer) is now: still borrowed, with its
/// new home due, or back home. Either way answer `rid` counts for the filtered deck: a card
/// that stays may go home by a later answer (or when the deck is emptied), and its earlier
/// answers still count where they were given.
pub(crate) fn apply_borrow(
    conn: &Connection,
    card: &Card,
    borrow: Borrow,
    rid: i64,
    day_start_ms: i64,
) -> Result<()> {
    match borrow {
        Borrow::Kept { original_due } => {
            conn.prepare_cached("UPDATE cards SET odue = ?2 WHERE id = ?1")?
                .execute(params![card.id, original_due])?;
        }
        Borrow::Returned => {
            conn.prepare_cached(
                "UPDATE cards SET did = odid, odid = 0, odue = 0 WHERE id = ?1 AND odid != 0",
            )?
            .execute([card.id])?;
        }
    }
    conn.prepare_cached("DELETE FROM javumbo_answer_decks WHERE rid < ?1")?
        .execute([day_start_ms])?;
    conn.prepare_cached("INSERT OR REPLACE INTO javumbo_answer_decks (rid, did) VALUES (?1, ?2)")?
        .execute(params![rid, card.deck_id])?;
    Ok(())
}
