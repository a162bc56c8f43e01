//! The `cards` table.

use javumbo_scheduler::{CardQueue, CardState, CardType};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{enum_column, read_error};
use crate::Result;

/// A whole `cards` row, typed. Units as in the table: `due` per [`CardQueue`], `mtime` seconds,
/// `factor` ease ×1000.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub id: i64,
    pub note_id: i64,
    pub deck_id: i64,
    /// Template ordinal (cloze number − 1 for cloze notes).
    pub ord: i64,
    pub mtime: i64,
    pub usn: i64,
    pub ctype: CardType,
    pub queue: CardQueue,
    pub due: i64,
    pub ivl: i64,
    pub factor: i64,
    pub reps: i64,
    pub lapses: i64,
    pub left: i64,
    /// `odue`: the due date in the home deck while a filtered deck borrows the card, else 0.
    pub original_due: i64,
    /// `odid`: the home deck while a filtered deck borrows the card, else 0.
    pub original_deck_id: i64,
    pub flags: i64,
    /// Anki's per-card JSON (`pos`, `lrt`, FSRS state, custom data).
    pub data: String,
}

impl Card {
    /// The columns the scheduler reads and writes.
    pub fn sched(&self) -> CardState {
        CardState {
            id: self.id,
            ctype: self.ctype,
            queue: self.queue,
            due: self.due,
            ivl: self.ivl,
            factor: self.factor,
            reps: self.reps,
            lapses: self.lapses,
            left: self.left,
        }
    }

    /// The deck whose options schedule the card: its home deck when a filtered deck borrows it.
    pub fn home_deck_id(&self) -> i64 {
        if self.original_deck_id != 0 {
            self.original_deck_id
        } else {
            self.deck_id
        }
    }
}

/// The columns of [`Card`], in [`card_from_row`]'s order.
macro_rules! card_columns {
    () => {
        "id, nid, did, ord, mod, usn, type, queue, due, ivl, factor, reps, lapses, left, odue, \
         odid, flags, data"
    };
}

/// Cards of a deck list: `?1` is a JSON array of deck ids (see `storage::id_array`).
macro_rules! in_decks {
    () => {
        "did IN (SELECT value FROM json_each(?1))"
    };
}

fn card_from_row(r: &Row<'_>) -> rusqlite::Result<Card> {
    Ok(Card {
        id: r.get(0)?,
        note_id: r.get(1)?,
        deck_id: r.get(2)?,
        ord: r.get(3)?,
        mtime: r.get(4)?,
        usn: r.get(5)?,
        ctype: enum_column(r, 6)?,
        queue: enum_column(r, 7)?,
        due: r.get(8)?,
        ivl: r.get(9)?,
        factor: r.get(10)?,
        reps: r.get(11)?,
        lapses: r.get(12)?,
        left: r.get(13)?,
        original_due: r.get(14)?,
        original_deck_id: r.get(15)?,
        flags: r.get(16)?,
        data: r.get(17)?,
    })
}

fn first(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<Option<Card>> {
    conn.prepare_cached(sql)?
        .query_row(params, card_from_row)
        .optional()
        .map_err(read_error("cards"))
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Card>> {
    first(
        conn,
        concat!("SELECT ", card_columns!(), " FROM cards WHERE id = ?1"),
        [id],
    )
}

/// Insert a whole row (a new card, or an imported one).
pub fn insert(conn: &Connection, c: &Card) -> Result<()> {
    conn.prepare_cached(concat!(
        "INSERT INTO cards (",
        card_columns!(),
        ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
    ))?
    .execute(params![
        c.id,
        c.note_id,
        c.deck_id,
        c.ord,
        c.mtime,
        c.usn,
        i64::from(c.ctype),
        i64::from(c.queue),
        c.due,
        c.ivl,
        c.factor,
        c.reps,
        c.lapses,
        c.left,
        c.original_due,
        c.original_deck_id,
        c.flags,
        c.data
    ])?;
    Ok(())
}

/// Write an answer's result: the scheduling columns, `data`, and the change stamp (`usn` −1:
/// not yet synced).
pub fn set_scheduling(conn: &Connection, s: &CardState, mtime: i64, data: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE cards SET type = ?2, queue = ?3, due = ?4, ivl = ?5, factor = ?6, reps = ?7,
                lapses = ?8, left = ?9, mod = ?10, usn = -1, data = ?11
         WHERE id = ?1",
    )?
    .execute(params![
        s.id,
        i64::from(s.ctype),
        i64::from(s.queue),
        s.due,
        s.ivl,
        s.factor,
        s.reps,
        s.lapses,
        s.left,
        mtime,
        data
    ])?;
    Ok(())
}

/// Whether any card is in one of these decks.
pub fn any_in_decks(conn: &Connection, decks: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT EXISTS(SELECT 1 FROM cards WHERE ",
            in_decks!(),
            ")"
        ))?
        .query_row([decks], |r| r.get(0))?)
}

/// Whether any card of these decks is in `queue`.
pub fn any_in_queue(conn: &Connection, decks: &str, queue: CardQueue) -> Result<bool> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT EXISTS(SELECT 1 FROM cards WHERE ",
            in_decks!(),
            " AND queue = ?2)"
        ))?
        .query_row(params![decks, i64::from(queue)], |r| r.get(0))?)
}

/// The card of these decks in `queue` that is due first, if it is due by `due_by` (in the
/// queue's own unit); ties go to the older card.
pub fn first_due_in_queue(
    conn: &Connection,
    decks: &str,
    queue: CardQueue,
    due_by: i64,
) -> Result<Option<Card>> {
    first(
        conn,
        concat!(
            "SELECT ",
            card_columns!(),
            " FROM cards WHERE ",
            in_decks!(),
            " AND queue = ?2 AND due <= ?3 ORDER BY due, id LIMIT 1"
        ),
        params![decks, i64::from(queue), due_by],
    )
}

/// Like [`first_due_in_queue`] over two queues that share a unit (review and day learning).
pub fn first_due_in_queues(
    conn: &Connection,
    decks: &str,
    queues: [CardQueue; 2],
    due_by: i64,
) -> Result<Option<Card>> {
    first(
        conn,
        concat!(
            "SELECT ",
            card_columns!(),
            " FROM cards WHERE ",
            in_decks!(),
            " AND queue IN (?2, ?3) AND due <= ?4 ORDER BY due, id LIMIT 1"
        ),
        params![decks, i64::from(queues[0]), i64::from(queues[1]), due_by],
    )
}

/// How many cards of these decks in two queues of one unit (review and day learning) are due
/// by `due_by`, counting at most `cap` (the caller needs no more than its remaining limit).
pub fn count_due_in_queues(
    conn: &Connection,
    decks: &str,
    queues: [CardQueue; 2],
    due_by: i64,
    cap: i64,
) -> Result<i64> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT count(*) FROM (SELECT 1 FROM cards WHERE ",
            in_decks!(),
            " AND queue IN (?2, ?3) AND due <= ?4 LIMIT ?5)"
        ))?
        .query_row(
            params![
                decks,
                i64::from(queues[0]),
                i64::from(queues[1]),
                due_by,
                cap
            ],
            |r| r.get(0),
        )?)
}

/// The first card of these decks in `queue`, by `due` (for new cards: their position).
pub fn first_in_queue(conn: &Connection, decks: &str, queue: CardQueue) -> Result<Option<Card>> {
    first(
        conn,
        concat!(
            "SELECT ",
            card_columns!(),
            " FROM cards WHERE ",
            in_decks!(),
            " AND queue = ?2 ORDER BY due, id LIMIT 1"
        ),
        params![decks, i64::from(queue)],
    )
}

/// Every card of note `nid`, by ordinal.
pub fn of_note(conn: &Connection, nid: i64) -> Result<Vec<Card>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        card_columns!(),
        " FROM cards WHERE nid = ?1 ORDER BY ord, id"
    ))?;
    let rows = stmt
        .query_map([nid], card_from_row)
        .map_err(read_error("cards"))?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(read_error("cards"))
}

/// Delete every card of note `nid`; how many went.
pub fn delete_of_note(conn: &Connection, nid: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM cards WHERE nid = ?1")?
        .execute([nid])?)
}

/// A card joined with its note: what showing or editing one card needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardWithNote {
    pub card_id: i64,
    pub note_id: i64,
    pub deck_id: i64,
    pub ord: i64,
    pub queue: CardQueue,
    pub due: i64,
    /// The note type.
    pub mid: i64,
    /// The note's fields, `\x1f`-separated.
    pub flds: String,
}

pub fn with_note(conn: &Connection, id: i64) -> Result<Option<CardWithNote>> {
    conn.prepare_cached(
        "SELECT c.id, c.nid, c.did, c.ord, c.queue, c.due, n.mid, n.flds
         FROM cards c JOIN notes n ON n.id = c.nid WHERE c.id = ?1",
    )?
    .query_row([id], |r| {
        Ok(CardWithNote {
            card_id: r.get(0)?,
            note_id: r.get(1)?,
            deck_id: r.get(2)?,
            ord: r.get(3)?,
            queue: enum_column(r, 4)?,
            due: r.get(5)?,
            mid: r.get(6)?,
            flds: r.get(7)?,
        })
    })
    .optional()
    .map_err(read_error("cards"))
}

/// One line of a deck's card list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedCard {
    pub card_id: i64,
    pub note_id: i64,
    pub ord: i64,
    pub mid: i64,
    pub flds: String,
    /// `notes.mod`, seconds.
    pub note_mtime: i64,
}

/// Every card of the collection.
pub fn count_all(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM cards")?
        .query_row([], |r| r.get(0))?)
}

pub fn count_in_decks(conn: &Connection, decks: &str) -> Result<i64> {
    Ok(conn
        .prepare_cached(concat!("SELECT count(*) FROM cards WHERE ", in_decks!()))?
        .query_row([decks], |r| r.get(0))?)
}

/// Cards of these decks, newest (highest id) first, `limit` of them after skipping `offset`.
/// `dense` says the decks hold a large share of all cards: the table is then walked newest id
/// first until the page is full (a few hundred rows), instead of collecting every card of the
/// decks through the deck index and sorting them (105 ms for a page at 100,000 cards, 4.7 ms
/// this way); a small deck in a large collection keeps the index.
pub fn page_in_decks(
    conn: &Connection,
    decks: &str,
    limit: i64,
    offset: i64,
    dense: bool,
) -> Result<Vec<ListedCard>> {
    let mut stmt = if dense {
        // `+c.did`: no index on the deck, so SQLite walks the primary key in order.
        conn.prepare_cached(
            "SELECT c.id, c.nid, c.ord, n.mid, n.flds, n.mod FROM cards c JOIN notes n ON n.id = c.nid
             WHERE +c.did IN (SELECT value FROM json_each(?1)) ORDER BY c.id DESC LIMIT ?2 OFFSET ?3",
        )?
    } else {
        conn.prepare_cached(
            "SELECT c.id, c.nid, c.ord, n.mid, n.flds, n.mod FROM cards c JOIN notes n ON n.id = c.nid
             WHERE c.did IN (SELECT value FROM json_each(?1)) ORDER BY c.id DESC LIMIT ?2 OFFSET ?3",
        )?
    };
    let rows = stmt.query_map(params![decks, limit, offset], |r| {
        Ok(ListedCard {
            card_id: r.get(0)?,
            note_id: r.get(1)?,
            ord: r.get(2)?,
            mid: r.get(3)?,
            flds: r.get(4)?,
            note_mtime: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many cards of these decks share a type, a queue and a side of the `mature_ivl` boundary
/// (`(type, queue, ivl >= mature_ivl, count)`), for the deck statistics.
pub fn census(
    conn: &Connection,
    decks: &str,
    mature_ivl: i64,
) -> Result<Vec<(CardType, CardQueue, bool, i64)>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT type, queue, ivl >= ?2, count(*) FROM cards WHERE ",
        in_decks!(),
        " GROUP BY 1, 2, 3"
    ))?;
    let rows = stmt.query_map(params![decks, mature_ivl], |r| {
        Ok((enum_column(r, 0)?, enum_column(r, 1)?, r.get(2)?, r.get(3)?))
    })?;
    rows.collect::<rusqlite::Result<_>>()
        .map_err(read_error("cards"))
}

/// The notes of the card `id` (none when it does not exist).
pub fn note_ids_of_card(conn: &Connection, id: i64) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT DISTINCT nid FROM cards WHERE id = ?1")?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The cards of deck `did` as Anki deletes them with the deck: those in it and those a filtered
/// deck borrows from it (rslib `cards_for_deck.sql`).
macro_rules! of_deck {
    () => {
        "(did = ?1 OR (odid != 0 AND odid = ?1))"
    };
}
pub(crate) use of_deck;

/// The notes of the cards of deck `did` (borrowed ones included).
pub fn note_ids_in_deck(conn: &Connection, did: i64) -> Result<Vec<i64>> {
    let mut stmt =
        conn.prepare_cached(concat!("SELECT DISTINCT nid FROM cards WHERE ", of_deck!()))?;
    let rows = stmt.query_map([did], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Delete one card; returns how many rows went (0 or 1).
pub fn delete(conn: &Connection, id: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM cards WHERE id = ?1")?
        .execute([id])?)
}

/// Delete every card of deck `did` (borrowed ones included); returns how many went.
pub fn delete_in_deck(conn: &Connection, did: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(concat!("DELETE FROM cards WHERE ", of_deck!()))?
        .execute([did])?)
}

/// Lend card `id` to filtered deck `did` at `position`, as Anki's `move_into_filtered_deck`:
/// its home deck and due kept in `odid`/`odue`, the position as its due (a due of 0 or less
/// stays), and the review queue when the deck does not reschedule (a preview).
pub fn lend(
    conn: &Connection,
    id: i64,
    did: i64,
    position: i64,
    reschedule: bool,
    mtime: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE cards SET odid = did, did = ?2, odue = due,
            due = CASE WHEN due > 0 THEN ?3 ELSE due END,
            queue = CASE WHEN ?4 THEN queue ELSE 2 END,
            mod = ?5, usn = -1
         WHERE id = ?1 AND odid = 0",
    )?
    .execute(params![id, did, position, reschedule, mtime])?;
    Ok(())
}

/// Send every card filtered deck `did` borrows back home, as Anki empties a filtered deck
/// (`remove_from_filtered_deck_restoring_queue`): its home deck, its home due when one was
/// recorded, and the queue of its type (learning by the unit of its due) unless it is
/// suspended or buried. Returns how many went.
pub fn return_home(conn: &Connection, did: i64, mtime: i64) -> Result<usize> {
    // One statement: every expression reads the row as it was, so the queue follows the home due.
    let home_due = "(CASE WHEN odue != 0 THEN odue ELSE due END)";
    Ok(conn
        .prepare_cached(&format!(
            "UPDATE cards SET did = odid, odid = 0, odue = 0, due = {home_due},
                queue = CASE WHEN queue < 0 THEN queue ELSE {} END,
                mod = ?2, usn = -1
             WHERE did = ?1 AND odid != 0",
            queue_from_type(home_due)
        ))?
        .execute(params![did, mtime])?)
}

/// Whether deck `did` (alone, not its subdecks) holds a card.
pub fn any_in_deck(conn: &Connection, did: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM cards WHERE did = ?1)")?
        .query_row([did], |r| r.get(0))?)
}

pub fn max_id(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT max(id) FROM cards")?
        .query_row([], |r| r.get(0))?)
}

pub fn all_ids(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM cards")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Anki's `restore_queue_from_type` as SQL: the queue a card's type (and, for learning cards,
/// the unit of its due, the SQL expression `due`) puts it in.
fn queue_from_type(due: &str) -> String {
    format!(
        "CASE type WHEN 0 THEN 0 WHEN 2 THEN 2 \
         ELSE (CASE WHEN {due} > 1000000000 THEN 1 ELSE 3 END) END"
    )
}

/// Move one card to `queue`, marking it modified.
pub fn set_queue(conn: &Connection, id: i64, queue: CardQueue, mtime: i64) -> Result<()> {
    conn.prepare_cached("UPDATE cards SET queue = ?2, mod = ?3, usn = -1 WHERE id = ?1")?
        .execute(params![id, i64::from(queue), mtime])?;
    Ok(())
}

/// Put a suspended or buried card back in the queue its type implies, marking it modified.
pub fn restore_queue(conn: &Connection, id: i64, mtime: i64) -> Result<()> {
    conn.prepare_cached(&format!(
        "UPDATE cards SET queue = {}, mod = ?2, usn = -1
         WHERE id = ?1 AND queue IN (-1, -2, -3)",
        queue_from_type("due")
    ))?
    .execute(params![id, mtime])?;
    Ok(())
}

/// Unbury every buried card (scheduler and user), without marking them modified, as Anki does at
/// the day rollover. Returns how many moved.
pub fn unbury_all(conn: &Connection) -> Result<usize> {
    Ok(conn
        .prepare_cached(&format!(
            "UPDATE cards SET queue = {} WHERE queue IN (-2, -3)",
            queue_from_type("due")
        ))?
        .execute([])?)
}

/// Bury (queue -2) the siblings of card `id` (same note) that sit in the chosen queues, marking
/// them modified; Anki's `siblings_for_bury.sql` then `bury_or_suspend_cards_inner`.
pub fn bury_siblings(
    conn: &Connection,
    id: i64,
    note_id: i64,
    new: bool,
    review: bool,
    day_learn: bool,
    mtime: i64,
) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE cards SET queue = -2, mod = ?6, usn = -1
             WHERE id != ?1 AND nid = ?2
               AND ((?3 AND queue = 0) OR (?4 AND queue = 2) OR (?5 AND queue = 3))",
        )?
        .execute(params![id, note_id, new, review, day_learn, mtime])?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CollectionError;
    use crate::storage::id_array;
    use crate::testutil::empty;

    #[test]
    fn an_out_of_range_queue_is_corruption_with_its_cause() {
        let (col, _) = empty();
        let added = col.add_card("q", "a", None).unwrap();
        col.conn()
            .execute("UPDATE cards SET queue = 9", [])
            .unwrap();
        let err = get(col.conn(), added.card_id).unwrap_err();
        assert!(matches!(err, CollectionError::Corrupt(_)), "{err:?}");
        let chain: Vec<String> =
            std::iter::successors(Some(&err as &(dyn std::error::Error + 'static)), |e| {
                e.source()
            })
            .map(ToString::to_string)
            .collect();
        assert!(
            chain
                .iter()
                .any(|m| m == "cards.queue 9 is out of range (expected -3 to 4)"),
            "{chain:?}"
        );
        let decks = id_array(&[1]);
        assert!(matches!(
            census(col.conn(), &decks, 21),
            Err(CollectionError::Corrupt(_))
        ));
    }
}
