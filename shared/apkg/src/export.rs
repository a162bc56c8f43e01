use std::io::{Cursor, Write};
use std::path::Path;

use javumbo_collection::Collection;
use javumbo_collection::schema::{DDL, REQUIRED_COLUMNS};
use rusqlite::Connection;
use rusqlite::types::Value;
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use javumbo_modern::package::{self as modern, PackageVersion};

use crate::ApkgError;

/// Name Anki reads the collection from in a package without a `meta` member.
pub(crate) const LEGACY_COLLECTION: &str = "collection.anki2";

/// Which package format an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// `collection.anki2` (schema 11) and a JSON media map: every Anki since 2.1 imports it.
    #[default]
    Legacy,
    /// `meta` + `collection.anki21b` (zstd, schema 18), a protobuf media list and zstd media
    /// files: what Anki 2.1.50+ writes by default.
    Modern,
}

/// Export `col` as an `.apkg` Anki desktop imports: zip { `collection.anki2`, `media` = `{}` }.
///
/// The copy is a standalone file in `journal_mode=DELETE`, so it carries every committed change
/// (and, when called inside the session layer's open transaction, the uncommitted ones too).
pub fn export_apkg(col: &Collection) -> Result<Vec<u8>, ApkgError> {
    export_package(col, ExportFormat::Legacy, &[])
}

/// Export `col` in `format` with `media` (name, bytes) in the package.
pub fn export_package(
    col: &Collection,
    format: ExportFormat,
    media: &[(String, Vec<u8>)],
) -> Result<Vec<u8>, ApkgError> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(LEGACY_COLLECTION);
    snapshot(col.conn(), &path)?;
    col.stamp_studied_today(&Connection::open(&path)?)?;
    let zip_err = |e: zip::result::ZipError| ApkgError::Collection(std::io::Error::other(e).into());
    let modern_err = |e: javumbo_modern::ModernError| {
        ApkgError::Collection(std::io::Error::other(e.to_string()).into())
    };
    let size = std::fs::metadata(&path)?.len() as usize;
    let mut zip = ZipWriter::new(Cursor::new(Vec::with_capacity(size / 2 + 1024)));
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    // zstd output does not deflate; Anki stores these members.
    let stored = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(true);
    match format {
        ExportFormat::Legacy => {
            zip.start_file(LEGACY_COLLECTION, deflated)
                .map_err(zip_err)?;
            zip.write_all(&std::fs::read(&path)?)?;
            let map: serde_json::Map<String, serde_json::Value> = media
                .iter()
                .enumerate()
                .map(|(i, (name, _))| (i.to_string(), serde_json::Value::from(name.as_str())))
                .collect();
            zip.start_file("media", deflated).map_err(zip_err)?;
            zip.write_all(serde_json::Value::Object(map).to_string().as_bytes())?;
            for (i, (_, data)) in media.iter().enumerate() {
                zip.start_file(i.to_string(), deflated).map_err(zip_err)?;
                zip.write_all(data)?;
            }
        }
        ExportFormat::Modern => {
            {
                let conn = Connection::open(&path)?;
                let now_secs = col.clock().now_ms().div_euclid(1000);
                javumbo_modern::upgrade_to_schema18(
                    &conn,
                    &javumbo_modern::UpgradeOptions::at(now_secs),
                    &javumbo_modern::Limits::default(),
                )
                .map_err(modern_err)?;
            }
            zip.start_file("meta", stored).map_err(zip_err)?;
            zip.write_all(&modern::encode_meta(PackageVersion::Latest))?;
            zip.start_file(PackageVersion::Latest.collection_entry(), stored)
                .map_err(zip_err)?;
            modern::encode_collection(&mut std::fs::File::open(&path)?, &mut zip)
                .map_err(modern_err)?;
            let mut entries = Vec::with_capacity(media.len());
            for (i, (name, data)) in media.iter().enumerate() {
                zip.start_file(i.to_string(), stored).map_err(zip_err)?;
                let (size, sha1) = modern::encode_media_file(&mut data.as_slice(), &mut zip)
                    .map_err(modern_err)?;
                entries.push(modern::MediaEntry {
                    name: name.clone(),
                    size: u32::try_from(size).unwrap_or(u32::MAX),
                    sha1,
                    legacy_zip_filename: None,
                });
            }
            zip.start_file("media", stored).map_err(zip_err)?;
            zip.write_all(&modern::encode_media_entries(&entries).map_err(modern_err)?)?;
        }
    }
    Ok(zip.finish().map_err(zip_err)?.into_inner())
}

/// Write a standalone copy of the database behind `conn` to `path`.
fn snapshot(conn: &Connection, path: &Path) -> Result<(), ApkgError> {
    let path_str = path
        .to_str()
        .ok_or_else(|| std::io::Error::other("temporary path is not UTF-8"))?;
    if conn.is_autocommit() {
        conn.execute("VACUUM INTO ?1", [path_str])?;
    } else {
        // SQLite refuses VACUUM INTO (and ATTACH) inside a transaction, so a caller holding one
        // open gets a row-by-row copy of the Anki tables instead — same content, same DDL.
        copy_tables(conn, path)?;
    }
    let out = Connection::open(path)?;
    // javumbo's private tables (the media index, idempotency records) are not Anki's: a package
    // carries media as files, never our index (docs/ARCHITECTURE.md#media).
    let private: Vec<String> = out
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'javumbo\\_%' ESCAPE '\\'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for table in private {
        out.execute_batch(&format!("DROP TABLE \"{table}\""))?;
    }
    // Anki accepts WAL too, but a package member must be one self-contained file.
    let mode: String = out.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(
            std::io::Error::other(format!("export copy stuck in journal mode {mode}")).into(),
        );
    }
    Ok(())
}

fn copy_tables(conn: &Connection, path: &Path) -> Result<(), ApkgError> {
    let mut out = Connection::open(path)?;
    let tx = out.transaction()?;
    tx.execute_batch(DDL)?;
    let graves: (&str, &[&str]) = ("graves", &["usn", "oid", "type"]);
    for (table, columns) in REQUIRED_COLUMNS.iter().copied().chain([graves]) {
        let cols = columns
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let marks = vec!["?"; columns.len()].join(", ");
        let mut read = conn.prepare(&format!("SELECT {cols} FROM {table} ORDER BY rowid"))?;
        let mut write = tx.prepare(&format!("INSERT INTO {table} ({cols}) VALUES ({marks})"))?;
        let mut rows = read.query([])?;
        while let Some(row) = rows.next()? {
            let values = (0..columns.len())
                .map(|i| row.get::<_, Value>(i))
                .collect::<Result<Vec<_>, _>>()?;
            write.execute(rusqlite::params_from_iter(values))?;
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use javumbo_collection::{CreateOptions, ManualClock};

    use super::*;

    fn collection() -> Collection {
        let opts = CreateOptions {
            starter_deck: false,
            ..CreateOptions::default()
        };
        Collection::create_in_memory(ManualClock::new(1_704_110_400_000), &opts).unwrap()
    }

    fn members(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        (0..zip.len())
            .map(|i| {
                let mut f = zip.by_index(i).unwrap();
                let mut buf = Vec::new();
                f.read_to_end(&mut buf).unwrap();
                (f.name().unwrap().to_string(), buf)
            })
            .collect()
    }

    fn exported_db(bytes: &[u8]) -> (tempfile::TempDir, Connection) {
        let (_, db) = members(bytes)
            .into_iter()
            .find(|(n, _)| n == LEGACY_COLLECTION)
            .unwrap();
        assert_eq!(&db[..16], b"SQLite format 3\0");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.anki2");
        std::fs::write(&p, db).unwrap();
        let conn = Connection::open(&p).unwrap();
        (dir, conn)
    }

    #[test]
    fn package_has_collection_and_empty_media() {
        let bytes = export_apkg(&collection()).unwrap();
        let m = members(&bytes);
        let names: Vec<_> = m.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["collection.anki2", "media"]);
        assert_eq!(m[1].1, b"{}");
        let (_dir, conn) = exported_db(&bytes);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
        let ver: i64 = conn
            .query_row("SELECT ver FROM col", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ver, 11);
    }

    #[test]
    fn export_inside_open_transaction_includes_uncommitted_rows() {
        let col = collection();
        col.conn()
            .execute_batch("BEGIN; INSERT INTO graves VALUES (-1, 42, 0);")
            .unwrap();
        let bytes = export_apkg(&col).unwrap();
        col.conn().execute_batch("ROLLBACK").unwrap();
        let (_dir, conn) = exported_db(&bytes);
        let oid: i64 = conn
            .query_row("SELECT oid FROM graves", [], |r| r.get(0))
            .unwrap();
        assert_eq!(oid, 42);
        let original: String = col
            .conn()
            .query_row("SELECT models FROM col", [], |r| r.get(0))
            .unwrap();
        let copied: String = conn
            .query_row("SELECT models FROM col", [], |r| r.get(0))
            .unwrap();
        assert_eq!(original, copied);
    }
}
