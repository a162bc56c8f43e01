//! Reading an exported `.apkg` back into a [`FinalView`]: cards (deck, front, back), decks and
//! the review log per card. This is the audit's second, independent view of the final state.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use rusqlite::{Connection, OpenFlags};

use crate::audit::{FinalCard, FinalView};
use crate::error::{LoadError, Result};

/// Upper bound on the unpacked collection: exports of load-test users are a few hundred KiB,
/// so anything near this is a bug, not a collection.
const MAX_COLLECTION_BYTES: u64 = 256 * 1024 * 1024;

pub fn read_apkg(bytes: &[u8]) -> Result<FinalView> {
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| LoadError::Apkg(e.to_string()))?;
    let name = ["collection.anki21", "collection.anki2"]
        .into_iter()
        .find(|n| zip.index_for_name(n).is_some())
        .ok_or_else(|| LoadError::Apkg("no collection.anki2 in the package".into()))?;
    let mut entry = zip
        .by_name(name)
        .map_err(|e| LoadError::Apkg(e.to_string()))?;
    let mut db = Vec::new();
    (&mut entry)
        .take(MAX_COLLECTION_BYTES)
        .read_to_end(&mut db)?;
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), &db)?;
    let conn =
        Connection::open_with_flags(file.path(), OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sql)?;
    read_collection(&conn)
}

fn sql(e: rusqlite::Error) -> LoadError {
    LoadError::Apkg(e.to_string())
}

pub fn read_collection(conn: &Connection) -> Result<FinalView> {
    let decks_json: String = conn
        .query_row("SELECT decks FROM col", [], |r| r.get(0))
        .map_err(sql)?;
    let decks_value: serde_json::Value = serde_json::from_str(&decks_json)?;
    let mut decks = BTreeMap::new();
    if let Some(map) = decks_value.as_object() {
        for (key, deck) in map {
            let id = deck
                .get("id")
                .and_then(serde_json::Value::as_i64)
                .or_else(|| key.parse().ok());
            let name = deck.get("name").and_then(serde_json::Value::as_str);
            if let (Some(id), Some(name)) = (id, name) {
                decks.insert(id, name.to_string());
            }
        }
    }
    let mut stmt = conn
        .prepare("SELECT c.id, c.did, n.flds FROM cards c JOIN notes n ON n.id = c.nid")
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(sql)?;
    let mut cards = BTreeMap::new();
    for row in rows {
        let (id, deck_id, flds) = row.map_err(sql)?;
        let mut fields = flds.split('\x1f');
        let front = fields.next().unwrap_or_default().to_string();
        let back = fields.next().unwrap_or_default().to_string();
        cards.insert(
            id,
            FinalCard {
                deck_id,
                front,
                back,
            },
        );
    }
    let mut stmt = conn
        .prepare("SELECT cid, count(*) FROM revlog GROUP BY cid")
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
        .map_err(sql)?;
    let mut revlog = BTreeMap::new();
    for row in rows {
        let (cid, n) = row.map_err(sql)?;
        revlog.insert(cid, n.max(0) as u64);
    }
    Ok(FinalView {
        decks,
        cards,
        revlog: Some(revlog),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    /// The subset of the legacy schema the reader touches.
    fn tiny_collection() -> Vec<u8> {
        let file = tempfile::NamedTempFile::new().unwrap();
        let conn = Connection::open(file.path()).unwrap();
        conn.execute_batch(
            r#"CREATE TABLE col (id integer primary key, decks text not null);
               CREATE TABLE notes (id integer primary key, flds text not null);
               CREATE TABLE cards (id integer primary key, nid integer not null, did integer not null);
               CREATE TABLE revlog (id integer primary key, cid integer not null);
               INSERT INTO col VALUES (1, '{"1":{"id":1,"name":"Default"},"7":{"id":7,"name":"Verbs"}}');
               INSERT INTO notes VALUES (100, 'front' || char(31) || 'back');
               INSERT INTO cards VALUES (200, 100, 7);
               INSERT INTO revlog VALUES (1, 200), (2, 200), (3, 999);"#,
        )
        .unwrap();
        drop(conn);
        std::fs::read(file.path()).unwrap()
    }

    #[test]
    fn reads_cards_decks_and_revlog_from_a_package() {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default();
            w.start_file("collection.anki2", opts).unwrap();
            w.write_all(&tiny_collection()).unwrap();
            w.start_file("media", opts).unwrap();
            w.write_all(b"{}").unwrap();
            w.finish().unwrap();
        }
        let view = read_apkg(buf.get_ref()).unwrap();
        assert_eq!(view.decks[&7], "Verbs");
        assert_eq!(
            view.cards[&200],
            FinalCard {
                deck_id: 7,
                front: "front".into(),
                back: "back".into()
            }
        );
        let revlog = view.revlog.unwrap();
        assert_eq!(revlog[&200], 2);
        assert_eq!(revlog[&999], 1);
    }

    #[test]
    fn rejects_what_is_not_a_package() {
        assert!(read_apkg(b"not a zip").is_err());
    }
}
