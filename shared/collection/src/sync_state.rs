//! What the sync server keeps in the collection besides Anki's own tables
//! (`docs/ARCHITECTURE.md#sync`):
//!
//! - **graves**: the ids of cards, notes and decks deleted on the server (by the web app, the
//!   API or a device's sync), which other devices learn at their next sync. Anki's `graves`
//!   table has no primary key, so the changeset journal could not carry it; this private one
//!   has `(oid, type)`. A grave written outside a sync has `usn = -1` (like every row the server
//!   changes) until the sync server stamps it.
//! - **the sync session** (one row) and **the client's staged changes**: a sync spans many HTTP
//!   requests, which may reach different containers, so its state lives in the collection and
//!   every step of it is a journaled write; the client's changes are applied in one operation
//!   at `finish` (`javumbo_sync::normal`).
//!
//! Every private table is created at every open (`crate::idempotency`).

use rusqlite::{Connection, params};

use crate::Result;

/// Created at every open, like every private table.
pub(crate) const SYNC_STATE_DDL: &str = "\
    CREATE TABLE IF NOT EXISTS javumbo_graves (oid INTEGER NOT NULL, type INTEGER NOT NULL, \
     usn INTEGER NOT NULL, PRIMARY KEY (oid, type)) WITHOUT ROWID;\
    CREATE INDEX IF NOT EXISTS javumbo_graves_usn ON javumbo_graves (usn);\
    CREATE TABLE IF NOT EXISTS javumbo_sync_session (id INTEGER PRIMARY KEY CHECK (id = 1), \
     skey TEXT NOT NULL, client_usn INTEGER NOT NULL, server_usn INTEGER NOT NULL, \
     lnewer INTEGER NOT NULL, started_ms INTEGER NOT NULL, \
     revlog_cursor INTEGER NOT NULL, cards_cursor INTEGER NOT NULL, \
     notes_cursor INTEGER NOT NULL, chunks_done INTEGER NOT NULL);\
    CREATE TABLE IF NOT EXISTS javumbo_sync_stage (seq INTEGER PRIMARY KEY, \
     kind TEXT NOT NULL, payload TEXT NOT NULL);";

/// What a grave stands for, numbered as Anki numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i64)]
pub enum GraveKind {
    Card = 0,
    Note = 1,
    Deck = 2,
}

/// Record that `oid` was deleted, stamped `usn` (−1 outside a sync: the sync server stamps it).
pub fn add_grave(conn: &Connection, oid: i64, kind: GraveKind, usn: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO javumbo_graves (oid, type, usn) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![oid, kind as i64, usn])?;
    Ok(())
}

/// Whose cards are about to be deleted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CardsOf {
    Note(i64),
    Deck(i64),
}

/// Graves for every card of a note or a deck (before they are deleted), unstamped.
pub(crate) fn add_card_graves(conn: &Connection, of: CardsOf) -> Result<()> {
    // Column names cannot be parameters: one statement per owner.
    let (sql, id) = match of {
        CardsOf::Note(nid) => (
            "INSERT OR REPLACE INTO javumbo_graves (oid, type, usn) \
             SELECT id, 0, -1 FROM cards WHERE nid = ?1",
            nid,
        ),
        CardsOf::Deck(did) => (
            concat!(
                "INSERT OR REPLACE INTO javumbo_graves (oid, type, usn) \
                 SELECT id, 0, -1 FROM cards WHERE ",
                crate::storage::cards::of_deck!()
            ),
            did,
        ),
    };
    conn.prepare_cached(sql)?.execute([id])?;
    Ok(())
}

/// Discard the sync in progress and what it staged. Returns whether there was one.
pub fn clear_sync_session(conn: &Connection) -> Result<bool> {
    let had = conn.execute("DELETE FROM javumbo_sync_session", [])? > 0;
    conn.execute("DELETE FROM javumbo_sync_stage", [])?;
    Ok(had)
}

/// The collection was replaced whole (a full upload, a `.colpkg` restore): its graves and any
/// sync in progress belong to the collection that is gone.
pub fn forget_sync_history(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM javumbo_graves", [])?;
    clear_sync_session(conn)?;
    Ok(())
}
