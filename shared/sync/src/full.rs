//! The collection operations of the sync protocol: `meta`, full upload and full download, as
//! Anki's server does them (`usn`/`mod`/`scm`/`ls` kept in the `col` row: an upload stores the
//! client's row as is; a download first increments `usn`).
//!
//! They run on a javumbo [`Collection`] inside the session manager's request transaction, so
//! every write is journaled: an upload replaces all rows of `col`, `notes`, `cards` and `revlog`
//! in that one transaction (one changeset; rows that did not change cost nothing), a download
//! journals its `usn` increment.
//!
//! Every one of them ends a sync in progress, as Anki's server does (`crate::normal`). Rows
//! the server changed outside a sync (`usn = -1`) are stamped before a download, so the
//! downloaded copy holds Anki's usns.

use std::path::{Path, PathBuf};

use javumbo_collection::schema::{DDL, REQUIRED_COLUMNS, SCHEMA_VERSION};
use javumbo_collection::{Collection, CollectionError};
use javumbo_modern::{Limits, SchemaVersion};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params_from_iter};

use crate::SyncError;
use crate::messages::SyncMeta;

/// The `meta` answer for the collection: stamps from the `col` row, `empty` when it has no
/// cards (the client may then upload without asking). `media_usn` is the caller's (media lives
/// in its own store). A sync in progress is discarded (a write only then).
pub fn meta(col: &Collection, now_ms: i64, media_usn: i32) -> Result<SyncMeta, CollectionError> {
    crate::normal::abort(col)?;
    let conn = col.conn();
    let (modified, schema, usn): (i64, i64, i32) =
        conn.query_row("SELECT mod, scm, usn FROM col WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let has_card = conn
        .query_row("SELECT 1 FROM cards LIMIT 1", [], |_| Ok(()))
        .optional()?
        .is_some();
    Ok(SyncMeta {
        modified,
        schema,
        usn,
        current_time: now_ms.div_euclid(1000),
        server_message: String::new(),
        should_continue: true,
        host_number: 0,
        empty: !has_card,
        media_usn,
    })
}

/// An uploaded collection checked and converted to javumbo's stored format (schema 11), in a
/// file the caller's temporary directory owns.
#[derive(Debug, Clone)]
pub struct PreparedUpload {
    pub path: PathBuf,
    pub notes: i64,
    pub cards: i64,
    pub revlog: i64,
}

/// Why an upload is refused; Anki answers these with 200 and the message, which the client
/// shows as is.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UploadRejected(pub String);

/// Write the decompressed upload into `dir`, check it as Anki's server does (it must open and
/// pass an integrity check), and convert schema 18 → 11. Nothing touches the user's collection.
pub fn prepare_upload(
    data: &[u8],
    dir: &Path,
    limits: &Limits,
) -> Result<Result<PreparedUpload, UploadRejected>, SyncError> {
    let path = dir.join("upload.anki2");
    std::fs::write(&path, data)?;
    let checked = (|| -> Result<PreparedUpload, String> {
        let conn = Connection::open(&path).map_err(|e| e.to_string())?;
        // Schema 18's name indexes use Anki's collation; the integrity check walks them.
        javumbo_modern::register_unicase_collation(&conn).map_err(|e| e.to_string())?;
        let ok: String = conn
            .query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        if ok != "ok" {
            return Err(format!("integrity check: {ok}"));
        }
        match javumbo_modern::inspect(&conn).map_err(|e| e.to_string())? {
            SchemaVersion::V18 => {
                javumbo_modern::downgrade_to_schema11(&conn, limits).map_err(|e| e.to_string())?;
            }
            // Legacy clients upload schema 11 as it is.
            SchemaVersion::V11 => {
                let _: String = conn
                    .query_row("PRAGMA journal_mode = delete", [], |r| r.get(0))
                    .map_err(|e| e.to_string())?;
            }
        }
        check_stored_format(&conn).map_err(|e| e.to_string())?;
        let count = |t: &str| -> Result<i64, String> {
            conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .map_err(|e| e.to_string())
        };
        Ok(PreparedUpload {
            notes: count("notes")?,
            cards: count("cards")?,
            revlog: count("revlog")?,
            path: path.clone(),
        })
    })();
    Ok(checked.map_err(|detail| {
        // The detail may be long or name internals; the client gets Anki's fixed message.
        tracing::info!(%detail, "full upload refused");
        UploadRejected(crate::messages::CORRUPT_MESSAGE.to_owned())
    }))
}

/// The columns we copy must all exist, with exactly one `col` row of schema 11.
fn check_stored_format(conn: &Connection) -> Result<(), SyncError> {
    for (table, columns) in REQUIRED_COLUMNS {
        let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
        let have = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if let Some(missing) = columns.iter().find(|c| !have.iter().any(|h| h == *c)) {
            return Err(SyncError::BadRequest(format!("{table}.{missing} missing")));
        }
    }
    let (rows, ver): (i64, i64) =
        conn.query_row("SELECT count(*), max(ver) FROM col", [], |r| {
            Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.unwrap_or(0)))
        })?;
    if rows != 1 || ver != SCHEMA_VERSION {
        return Err(SyncError::BadRequest(format!(
            "col has {rows} rows at version {ver}"
        )));
    }
    Ok(())
}

/// Replace the collection's content with a prepared upload: every row of `col` (as row 1),
/// `notes`, `cards` and `revlog`. Runs inside the caller's transaction (the session layer's),
/// so it is all or nothing and journaled as one changeset. May run more than once (the session
/// layer retries a lost fence), so it only reads `upload`.
///
/// The server's graves go (both sides now hold the same collection, as after Anki's full
/// upload), and so does any sync in progress.
pub fn apply_upload(col: &Collection, upload: &Path) -> Result<(), CollectionError> {
    apply_upload_rows(col, upload)?;
    // The device's counters of today (its custom study extensions included) count here too.
    col.anchor_deck_counters(None)?;
    let conn = col.conn();
    javumbo_collection::sync_state::forget_sync_history(conn)?;
    conn.execute("UPDATE col SET ls = mod WHERE id = 1", [])?;
    Ok(())
}

fn apply_upload_rows(col: &Collection, upload: &Path) -> Result<(), CollectionError> {
    let src = Connection::open_with_flags(
        upload,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let dst = col.conn();
    for (table, columns) in REQUIRED_COLUMNS {
        dst.execute(&format!("DELETE FROM {table}"), [])?;
        let cols = quoted(columns);
        let marks = vec!["?"; columns.len()].join(", ");
        let mut read = src.prepare(&format!("SELECT {cols} FROM {table} ORDER BY rowid"))?;
        let mut write = dst.prepare(&format!("INSERT INTO {table} ({cols}) VALUES ({marks})"))?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let mut values = (0..columns.len())
                .map(|i| row.get::<_, Value>(i))
                .collect::<Result<Vec<_>, _>>()?;
            if *table == "col" {
                // The engine addresses the one `col` row as id 1, as Anki does.
                values[0] = Value::Integer(1);
            }
            write.execute(params_from_iter(values))?;
        }
    }
    Ok(())
}

/// A full download: increment the collection's `usn` (Anki's server does, so the next change
/// on the server is newer than anything the client has), then a standalone schema-11 copy of
/// the collection in `journal_mode=delete` (the 26.9.3 client accepts schema 11 and upgrades
/// it locally). Runs inside the caller's transaction, so the copy includes the increment.
pub fn download(col: &Collection) -> Result<Vec<u8>, CollectionError> {
    crate::normal::abort(col)?;
    let conn = col.conn();
    let usn: i64 = conn.query_row("SELECT usn FROM col WHERE id = 1", [], |r| r.get(0))?;
    crate::normal::stamp_pending(col, usn)?;
    conn.execute("UPDATE col SET usn = usn + 1, ls = mod WHERE id = 1", [])?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("download.anki2");
    copy_collection(conn, &path)?;
    col.stamp_studied_today(&Connection::open(&path)?)?;
    Ok(std::fs::read(&path)?)
}

/// Row-by-row copy into a fresh file with the schema-11 DDL: SQLite refuses `VACUUM INTO`
/// inside the transaction the session layer holds open.
fn copy_collection(src: &Connection, path: &Path) -> Result<(), CollectionError> {
    let mut out = Connection::open(path)?;
    let _: String = out.query_row("PRAGMA journal_mode = delete", [], |r| r.get(0))?;
    let tx = out.transaction()?;
    tx.execute_batch(DDL)?;
    let graves: (&str, &[&str]) = ("graves", &["usn", "oid", "type"]);
    for (table, columns) in REQUIRED_COLUMNS.iter().copied().chain([graves]) {
        let cols = quoted(columns);
        let marks = vec!["?"; columns.len()].join(", ");
        let mut read = src.prepare(&format!("SELECT {cols} FROM {table} ORDER BY rowid"))?;
        let mut write = tx.prepare(&format!("INSERT INTO {table} ({cols}) VALUES ({marks})"))?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let values = (0..columns.len())
                .map(|i| row.get::<_, Value>(i))
                .collect::<Result<Vec<_>, _>>()?;
            write.execute(params_from_iter(values))?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn quoted(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
