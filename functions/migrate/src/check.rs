//! What is verified of every collection, before and after normalisation.

use rusqlite::Connection;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::MigrateError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub notes: i64,
    pub cards: i64,
    pub revlog: i64,
}

/// `PRAGMA integrity_check` must answer exactly `ok`.
pub fn integrity(conn: &Connection) -> Result<(), MigrateError> {
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let lines: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if lines != ["ok"] {
        return Err(MigrateError::Verify(format!(
            "integrity_check: {}",
            lines.join("; ")
        )));
    }
    Ok(())
}

pub fn counts(conn: &Connection) -> Result<Counts, MigrateError> {
    let n = |t: &str| -> Result<i64, MigrateError> {
        Ok(conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))?)
    };
    Ok(Counts {
        notes: n("notes")?,
        cards: n("cards")?,
        revlog: n("revlog")?,
    })
}

/// A digest of every revlog row, column by column with its SQLite type, in id order: equal
/// digests mean the history was kept row for row.
pub fn revlog_digest(conn: &Connection) -> Result<String, MigrateError> {
    use rusqlite::types::ValueRef;
    let mut h = Sha256::new();
    let mut stmt = conn.prepare(
        "SELECT id, cid, usn, ease, ivl, lastIvl, factor, time, type FROM revlog ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        for i in 0..9 {
            match row.get_ref(i)? {
                ValueRef::Null => h.update([0u8]),
                ValueRef::Integer(v) => {
                    h.update([1u8]);
                    h.update(v.to_be_bytes());
                }
                ValueRef::Real(v) => {
                    h.update([2u8]);
                    h.update(v.to_be_bytes());
                }
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    h.update([3u8]);
                    h.update((t.len() as u64).to_be_bytes());
                    h.update(t);
                }
            }
        }
    }
    Ok(hex::encode(h.finalize()))
}
