//! The `notes` table.

use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;

/// A whole `notes` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub id: i64,
    pub guid: String,
    /// The note type.
    pub mid: i64,
    pub mtime: i64,
    pub usn: i64,
    /// Space-padded, space-separated (`" a b "`), or empty.
    pub tags: String,
    /// The fields, `\x1f`-separated.
    pub flds: String,
    /// The sort field, HTML stripped. Stored in an integer-affinity column, so numeric text
    /// becomes a number and sorts numerically, as in Anki.
    pub sfld: String,
    /// First 8 hex digits of the SHA-1 of the stripped first field, as a number.
    pub csum: i64,
    pub flags: i64,
    pub data: String,
}

pub fn insert(conn: &Connection, n: &Note) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO notes (id, guid, mid, mod, usn, tags, flds, sfld, csum, flags, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        n.id, n.guid, n.mid, n.mtime, n.usn, n.tags, n.flds, n.sfld, n.csum, n.flags, n.data
    ])?;
    Ok(())
}

/// The note type and fields of note `id`.
pub fn mid_and_fields(conn: &Connection, id: i64) -> Result<(i64, String)> {
    Ok(conn
        .prepare_cached("SELECT mid, flds FROM notes WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Replace the fields (and what derives from them) of note `id`; `usn` −1: not yet synced.
pub fn set_fields(
    conn: &Connection,
    id: i64,
    flds: &str,
    sfld: &str,
    csum: i64,
    mtime: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE notes SET flds = ?2, sfld = ?3, csum = ?4, mod = ?5, usn = -1 WHERE id = ?1",
    )?
    .execute(params![id, flds, sfld, csum, mtime])?;
    Ok(())
}

/// The tags of note `id`, `None` when there is no such note.
pub fn tags(conn: &Connection, id: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT tags FROM notes WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// Replace the tags of note `id`; `usn` −1: not yet synced.
pub fn set_tags(conn: &Connection, id: i64, tags: &str, mtime: i64) -> Result<()> {
    conn.prepare_cached("UPDATE notes SET tags = ?2, mod = ?3, usn = -1 WHERE id = ?1")?
        .execute(params![id, tags, mtime])?;
    Ok(())
}

/// Delete note `id` if no card is left on it; how many rows went (0 or 1).
pub fn delete_if_orphan(conn: &Connection, id: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "DELETE FROM notes WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM cards WHERE nid = ?1)",
        )?
        .execute([id])?)
}

pub fn max_id(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT max(id) FROM notes")?
        .query_row([], |r| r.get(0))?)
}

pub fn all_ids(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM notes")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn all_guids(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT guid FROM notes")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn note_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Note> {
    Ok(Note {
        id: r.get(0)?,
        guid: r.get(1)?,
        mid: r.get(2)?,
        mtime: r.get(3)?,
        usn: r.get(4)?,
        tags: r.get(5)?,
        flds: r.get(6)?,
        // Numeric sort fields come back as numbers (integer affinity): read them as text.
        sfld: r.get(7)?,
        csum: r.get(8)?,
        flags: r.get(9)?,
        data: r.get(10)?,
    })
}

/// The whole row of note `id`.
pub fn get(conn: &Connection, id: i64) -> Result<Option<Note>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, guid, mid, mod, usn, tags, flds, CAST(sfld AS TEXT), csum, flags, data
             FROM notes WHERE id = ?1",
        )?
        .query_row([id], note_from_row)
        .optional()?)
}

/// Replace what an edit changes: fields, sort field, checksum, tags and the change stamp.
pub fn update_content(conn: &Connection, n: &Note) -> Result<()> {
    conn.prepare_cached(
        "UPDATE notes SET flds = ?2, sfld = ?3, csum = ?4, tags = ?5, mod = ?6, usn = ?7
         WHERE id = ?1",
    )?
    .execute(params![
        n.id, n.flds, n.sfld, n.csum, n.tags, n.mtime, n.usn
    ])?;
    Ok(())
}

/// Delete note `id` (its cards must be gone already).
pub fn delete(conn: &Connection, id: i64) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM notes WHERE id = ?1")?
        .execute([id])?)
}
