//! The queries of FSRS memory states and the optimiser: review histories in card order (Anki's
//! `revlog_for_srs`), the cards of a preset's decks, and `cards.data` updates.

use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;
use crate::fsrs::history::Review;

fn review_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Review> {
    Ok(Review {
        id: r.get(0)?,
        cid: r.get(1)?,
        button: r.get(2)?,
        ivl: r.get(3)?,
        last_ivl: r.get(4)?,
        factor: r.get(5)?,
        kind: r.get(6)?,
    })
}

/// The revlog of these cards (a JSON array of ids), by card then time.
pub fn revlog_for_cards(conn: &Connection, cids: &str) -> Result<Vec<Review>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, cid, ease, ivl, lastIvl, factor, type FROM revlog
         WHERE cid IN (SELECT value FROM json_each(?1)) ORDER BY cid, id",
    )?;
    let rows = stmt.query_map([cids], review_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many revlog rows [`revlog_for_cards`] would return for these cards.
pub fn count_revlog_for_cards(conn: &Connection, cids: &str) -> Result<usize> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM revlog WHERE cid IN (SELECT value FROM json_each(?1))",
        )?
        .query_row([cids], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Anki's `time_of_last_review`: the last graded answer that was not cramming, seconds.
pub fn last_review_secs(conn: &Connection, cid: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id / 1000 FROM revlog
             WHERE cid = ?1 AND ease BETWEEN 1 AND 4 AND (type != 3 OR factor != 0)
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row([cid], |r| r.get(0))
        .optional()?)
}

/// What memory-state updates read of a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsrsCardRow {
    pub id: i64,
    pub ctype: i64,
    pub queue: i64,
    /// `odid` when the card is borrowed by a filtered deck, else `did`.
    pub home_deck: i64,
    pub data: String,
}

/// Cards whose home deck is one of `dids` (a JSON array), by id.
pub fn cards_in_home_decks(conn: &Connection, dids: &str) -> Result<Vec<FsrsCardRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, type, queue, CASE WHEN odid != 0 THEN odid ELSE did END, data FROM cards
         WHERE did IN (SELECT value FROM json_each(?1))
            OR (odid != 0 AND odid IN (SELECT value FROM json_each(?1)))
         ORDER BY id",
    )?;
    let rows = stmt.query_map([dids], |r| {
        Ok(FsrsCardRow {
            id: r.get(0)?,
            ctype: r.get(1)?,
            queue: r.get(2)?,
            home_deck: r.get(3)?,
            data: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A memory-state update: new `data`, stamped modified and unsynced, as Anki's
/// `update_card_inner` does.
pub fn set_data(conn: &Connection, cid: i64, data: &str, mtime: i64) -> Result<()> {
    conn.prepare_cached("UPDATE cards SET data = ?2, mod = ?3, usn = -1 WHERE id = ?1")?
        .execute(params![cid, data, mtime])?;
    Ok(())
}
