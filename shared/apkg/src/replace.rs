//! A `.colpkg` restore: the user's collection becomes the package's, row for row. The package
//! has already been vetted and held to the import limits ([`crate::Package::open`]); the copy
//! runs inside the caller's transaction, then scheduling values are normalised with Anki's
//! Check Database rules and the totals checked, so a refused restore changes nothing.

use std::path::Path;

use javumbo_collection::Collection;
use javumbo_collection::schema::REQUIRED_COLUMNS;
use rusqlite::types::Value;

use crate::source::open_untrusted;
use crate::{ApkgError, ImportSummary};

pub(crate) fn replace(col: &Collection, package: &Path) -> Result<ImportSummary, ApkgError> {
    let src = open_untrusted(package)?;
    let conn = col.conn();
    conn.execute_batch("DELETE FROM graves;")?;
    for (table, columns) in REQUIRED_COLUMNS {
        conn.execute(&format!("DELETE FROM {table}"), [])?;
        let cols = columns
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let marks = vec!["?"; columns.len()].join(", ");
        // `col` has one row; a second copy of a revlog id (no primary key in a hostile file)
        // is the same review and is dropped. Notes and cards with repeated ids were refused.
        let limit = if *table == "col" { " LIMIT 1" } else { "" };
        let mut read = src
            .prepare(&format!("SELECT {cols} FROM {table} ORDER BY rowid{limit}"))
            .map_err(|e| ApkgError::invalid_because("the collection is unreadable", e))?;
        let mut write = conn.prepare(&format!(
            "INSERT OR IGNORE INTO {table} ({cols}) VALUES ({marks})"
        ))?;
        let mut rows = read
            .query([])
            .map_err(|e| ApkgError::invalid_because("the collection is unreadable", e))?;
        while let Some(row) = rows
            .next()
            .map_err(|e| ApkgError::invalid_because("the collection is unreadable", e))?
        {
            let values = (0..columns.len())
                .map(|i| row.get::<_, Value>(i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ApkgError::invalid_because("the collection is unreadable", e))?;
            write.execute(rusqlite::params_from_iter(values))?;
        }
    }
    // Devices synced with the collection that is gone: a new schema stamp makes their next
    // sync a full one (Anki's "one-way sync"), and the old graves and any sync in progress go.
    javumbo_collection::sync_state::forget_sync_history(conn)?;
    conn.execute(
        "UPDATE col SET scm = max(?1, scm + 1) WHERE id = 1",
        [col.clock().now_ms()],
    )?;
    normalize_scheduling(col)?;
    // Anki opens a restored collection with its decks' counters of today: so does javumbo.
    col.anchor_deck_counters(None)?;
    crate::merge::check_totals(col)?;
    let count = |t: &str| -> Result<usize, ApkgError> {
        let n: i64 = conn.query_row(&format!("SELECT count() FROM {t}"), [], |r| r.get(0))?;
        Ok(n as usize)
    };
    let decks = col.decks()?.into_iter().map(|d| d.name).collect();
    Ok(ImportSummary {
        decks,
        decks_added: 0,
        notes: count("notes")?,
        notes_updated: 0,
        notes_skipped: 0,
        cards: count("cards")?,
        cards_skipped: 0,
        revlog: count("revlog")?,
        revlog_skipped: 0,
        media: 0,
        media_skipped: 0,
    })
}

/// Anki's Check Database card fixes (rslib `storage/card/fix_*.sql`), in place.
fn normalize_scheduling(col: &Collection) -> Result<(), ApkgError> {
    let crt = col.crt()?;
    let today = (col.clock().now_ms().div_euclid(1000) - crt).div_euclid(86_400);
    col.conn().execute(
        "UPDATE cards SET
           due = CASE
             WHEN type = 0 AND queue != 4 AND due >= 1000000 THEN 1000000 + due % 1000000
             WHEN queue = 2 AND due > 100000 THEN ?1
             ELSE min(max(due, -2147483648), 2147483647) END,
           odue = CASE
             WHEN odue > 0 AND (type = 1 OR queue = 2) AND odid = 0 THEN 0
             ELSE min(max(odue, -2147483648), 2147483647) END,
           ivl = min(max(ivl, 0), 2147483647),
           factor = min(max(factor, 0), 65535),
           reps = min(max(reps, 0), 2147483647),
           lapses = min(max(lapses, 0), 2147483647),
           left = min(max(left, 0), 2147483647)",
        [today],
    )?;
    Ok(())
}
