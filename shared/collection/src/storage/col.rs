//! The `col` table: one row (id 1) holding the collection's stamps and its JSON columns.

use rusqlite::{Connection, params};

use crate::Result;

/// One JSON column of `col`. Schema 11 keeps settings, note types, decks, deck options and the
/// tag registry as JSON blobs in the single row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColJson {
    Conf,
    Models,
    Decks,
    Dconf,
    /// The legacy tag registry (`{"tag": usn}`); Anki moves it into its tags table on upgrade.
    Tags,
}

impl ColJson {
    pub fn column(self) -> &'static str {
        match self {
            Self::Conf => "conf",
            Self::Models => "models",
            Self::Decks => "decks",
            Self::Dconf => "dconf",
            Self::Tags => "tags",
        }
    }

    /// Column names cannot be parameters, so each column has its own pair of statements.
    fn select_sql(self) -> &'static str {
        match self {
            Self::Conf => "SELECT conf FROM col WHERE id = 1",
            Self::Models => "SELECT models FROM col WHERE id = 1",
            Self::Decks => "SELECT decks FROM col WHERE id = 1",
            Self::Dconf => "SELECT dconf FROM col WHERE id = 1",
            Self::Tags => "SELECT tags FROM col WHERE id = 1",
        }
    }

    fn update_sql(self) -> &'static str {
        match self {
            Self::Conf => "UPDATE col SET conf = ?1 WHERE id = 1",
            Self::Models => "UPDATE col SET models = ?1 WHERE id = 1",
            Self::Decks => "UPDATE col SET decks = ?1 WHERE id = 1",
            Self::Dconf => "UPDATE col SET dconf = ?1 WHERE id = 1",
            Self::Tags => "UPDATE col SET tags = ?1 WHERE id = 1",
        }
    }
}

/// The values of a new collection's `col` row.
pub(crate) struct NewCol<'a> {
    pub crt: i64,
    pub now_ms: i64,
    pub ver: i64,
    pub conf: &'a str,
    pub models: &'a str,
    pub decks: &'a str,
    pub dconf: &'a str,
}

/// Insert the `col` row of a new collection: never synced (`usn` 0, `ls` 0), schema modified
/// now, no tags yet.
pub(crate) fn insert(conn: &Connection, c: &NewCol<'_>) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO col (id, crt, mod, scm, ver, dty, usn, ls, conf, models, decks, dconf, tags)
         VALUES (1, ?1, ?2, ?2, ?3, 0, 0, 0, ?4, ?5, ?6, ?7, '{}')",
    )?
    .execute(params![
        c.crt, c.now_ms, c.ver, c.conf, c.models, c.decks, c.dconf
    ])?;
    Ok(())
}

/// `col.ver`. The error stays rusqlite's: on a file being opened, any failure here (no `col`
/// table, no row, not a database) means the file is not a collection.
pub(crate) fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT ver FROM col WHERE id = 1")?
        .query_row([], |r| r.get(0))
}

/// `col.crt`: the creation stamp (seconds, at the rollover hour of the creation day).
pub fn crt(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT crt FROM col WHERE id = 1")?
        .query_row([], |r| r.get(0))?)
}

/// Set `col.mod` (milliseconds): the collection changed. Anki sets it to now; here it also
/// moves at least 1 ms past its last value, so that a change made in the millisecond of the
/// last one (a study session's build, a sync's `finish`, which stores `mod = ls`) still shows
/// as a change to what compares `col.mod`: the study session rebuilds, a device's `meta`
/// sees something new.
pub fn set_modified(conn: &Connection, now_ms: i64) -> Result<()> {
    conn.prepare_cached("UPDATE col SET mod = max(?1, mod + 1) WHERE id = 1")?
        .execute([now_ms])?;
    Ok(())
}

/// The raw text of a JSON column.
pub fn read_json(conn: &Connection, which: ColJson) -> Result<String> {
    Ok(conn
        .prepare_cached(which.select_sql())?
        .query_row([], |r| r.get(0))?)
}

/// Replace a JSON column whole.
pub fn write_json(conn: &Connection, which: ColJson, text: &str) -> Result<()> {
    conn.prepare_cached(which.update_sql())?.execute([text])?;
    Ok(())
}
