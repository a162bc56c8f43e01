//! The `revlog` table: one row per answer (and per manual reschedule), kept when cards go.

use std::collections::HashMap;

use javumbo_scheduler::{Ease, OutOfRange, RevlogKind};
use rusqlite::{Connection, params};

use crate::Result;

/// A whole `revlog` row. `id` is the answer's time in milliseconds (made unique).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevlogEntry {
    pub id: i64,
    pub card_id: i64,
    pub usn: i64,
    /// The button; `None` (stored 0) for entries that are not answers (manual reschedules).
    pub ease: Option<Ease>,
    /// New interval: days, or −seconds for a learning delay.
    pub ivl: i64,
    /// Previous interval, same convention.
    pub last_ivl: i64,
    /// Ease ×1000 after the answer (0 for learning answers).
    pub factor: i64,
    pub time_ms: i64,
    pub kind: RevlogKind,
}

/// `revlog.ease` as stored: 0 for "no button", else the button's number.
pub fn ease_to_stored(ease: Option<Ease>) -> i64 {
    ease.map_or(0, i64::from)
}

/// The inverse of [`ease_to_stored`]; anything outside 0..=4 is out of range.
pub fn ease_from_stored(n: i64) -> std::result::Result<Option<Ease>, OutOfRange> {
    match n {
        0 => Ok(None),
        n => Ease::try_from(n).map(Some).map_err(|_| OutOfRange {
            column: "revlog.ease",
            value: n,
            expected: "0 to 4",
        }),
    }
}

pub fn insert(conn: &Connection, e: &RevlogEntry) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        e.id,
        e.card_id,
        e.usn,
        ease_to_stored(e.ease),
        e.ivl,
        e.last_ivl,
        e.factor,
        e.time_ms,
        i64::from(e.kind)
    ])?;
    Ok(())
}

/// How many distinct cards of these decks (`decks`: a JSON array of deck ids) were answered
/// for the first time since `since_ms`: a learning answer with no previous interval is the
/// first answer of a new card.
pub fn new_cards_first_answered_since(
    conn: &Connection,
    decks: &str,
    since_ms: i64,
) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(DISTINCT cid) FROM revlog
             WHERE id >= ?1 AND type = ?2 AND lastIvl = 0
               AND cid IN (SELECT id FROM cards WHERE did IN (SELECT value FROM json_each(?3)))",
        )?
        .query_row(
            params![since_ms, i64::from(RevlogKind::Learning), decks],
            |r| r.get(0),
        )?)
}

/// Answers given since `since_ms` to review cards of these decks (revlog type Review: one per
/// answer from the review queue; the relearning steps after a lapse are not reviews), which
/// is what Anki counts against the daily review limit.
pub fn reviews_answered_since(conn: &Connection, decks: &str, since_ms: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM revlog
             WHERE id >= ?1 AND type = ?2
               AND cid IN (SELECT id FROM cards WHERE did IN (SELECT value FROM json_each(?3)))",
        )?
        .query_row(
            params![since_ms, i64::from(RevlogKind::Review), decks],
            |r| r.get(0),
        )?)
}

pub fn max_id(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT max(id) FROM revlog")?
        .query_row([], |r| r.get(0))?)
}

/// Every entry's card, by entry id.
pub fn card_of_each(conn: &Connection) -> Result<HashMap<i64, i64>> {
    let mut stmt = conn.prepare_cached("SELECT id, cid FROM revlog")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_ease() {
        assert_eq!(ease_from_stored(0), Ok(None));
        assert_eq!(ease_from_stored(4), Ok(Some(Ease::Easy)));
        for n in 0..=4 {
            assert_eq!(ease_to_stored(ease_from_stored(n).unwrap()), n);
        }
        let err = ease_from_stored(5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "revlog.ease 5 is out of range (expected 0 to 4)"
        );
        assert!(ease_from_stored(-1).is_err());
    }
}
