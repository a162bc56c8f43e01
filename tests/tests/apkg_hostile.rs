//! Hostile uploads: every malformed or malicious package is refused with a clear
//! `InvalidPackage`/`TooLarge` and leaves the target collection exactly as it was.

use std::io::{Cursor, Write};
use std::sync::Arc;

use javumbo_apkg::{ApkgError, ImportLimits, export_apkg, import_apkg};
use javumbo_collection::{Collection, CreateOptions, ManualClock};
use rusqlite::Connection;
use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

const T0: i64 = 1_704_110_400_000;

fn target() -> Collection {
    let col =
        Collection::create_in_memory(ManualClock::new(T0), &CreateOptions::default()).unwrap();
    let deck = col.create_deck("Mine").unwrap().id;
    let card = col.add_card("mine", "yours", Some(deck)).unwrap().card_id;
    col.answer_card(card, 3, Some(1000)).unwrap();
    col
}

/// Every row of every table (and the schema itself), in rowid order.
fn dump(col: &Collection) -> Vec<String> {
    let conn = col.conn();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out: Vec<String> = conn
        .prepare("SELECT type || name || coalesce(sql, '') FROM sqlite_master ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for t in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        r.get::<_, rusqlite::types::Value>(i)
                            .map(|v| format!("{v:?}"))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        // Sorted: a canonical order for rowid and WITHOUT ROWID tables alike.
        let mut rows: Vec<String> = rows
            .map(|r| format!("{t}: {}", r.unwrap().join("|")))
            .collect();
        rows.sort();
        out.extend(rows);
    }
    out
}

enum Want {
    Invalid(&'static str),
    TooLarge,
}

fn assert_refused(bytes: &[u8], limits: &ImportLimits, want: Want) {
    let col = target();
    let before = dump(&col);
    let err = import_apkg(&col, bytes, limits).expect_err("hostile package was accepted");
    match (&err, &want) {
        (ApkgError::InvalidPackage { reason: m, .. }, Want::Invalid(needle)) => {
            assert!(
                m.to_lowercase().contains(&needle.to_lowercase()),
                "message {m:?} lacks {needle:?}"
            )
        }
        (ApkgError::TooLarge(_), Want::TooLarge) => {}
        _ => panic!("unexpected error {err:?}"),
    }
    assert!(!err.to_string().is_empty());
    assert_eq!(
        before,
        dump(&col),
        "the collection changed after a refused import"
    );
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut z = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, data) in entries {
        z.start_file(*name, opts).unwrap();
        z.write_all(data).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// A valid schema-11 collection file (ours, with the starter deck), altered by `mutate`.
fn collection_file(mutate: impl FnOnce(&Connection)) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.anki2");
    let clock = ManualClock::new(T0);
    drop(Collection::create(&path, clock as Arc<_>, &CreateOptions::default()).unwrap());
    let conn = Connection::open(&path).unwrap();
    mutate(&conn);
    drop(conn);
    std::fs::read(&path).unwrap()
}

fn package(mutate: impl FnOnce(&Connection)) -> Vec<u8> {
    zip_of(&[
        ("collection.anki2", &collection_file(mutate)),
        ("media", b"{}"),
    ])
}

fn defaults() -> ImportLimits {
    ImportLimits::default()
}

#[test]
fn control_a_valid_package_is_accepted() {
    let col = target();
    let s = import_apkg(&col, &package(|_| {}), &defaults()).unwrap();
    assert!(s.notes >= 30);
    let exported = export_apkg(&col).unwrap();
    assert!(import_apkg(&target(), &exported, &defaults()).is_ok());
    // Anki also accepts a collection whose header says WAL (read without any side file).
    let wal = package(|c| {
        let mode: String = c
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    });
    assert!(import_apkg(&target(), &wal, &defaults()).unwrap().notes >= 30);
}

#[test]
fn not_a_zip() {
    assert_refused(
        b"PK\x03\x04 but not really a zip file at all",
        &defaults(),
        Want::Invalid("not a zip"),
    );
    assert_refused(
        &collection_file(|_| {}),
        &defaults(),
        Want::Invalid("not a zip"),
    );
}

#[test]
fn empty_file() {
    assert_refused(b"", &defaults(), Want::Invalid("empty"));
}

#[test]
fn zip_without_collection() {
    assert_refused(
        &zip_of(&[("media", b"{}"), ("0", b"image")]),
        &defaults(),
        Want::Invalid("no collection"),
    );
    assert_refused(&zip_of(&[]), &defaults(), Want::Invalid("no collection"));
}

#[test]
fn damaged_modern_package_gets_a_clear_message() {
    // Modern packages are imported now; one whose zstd body is damaged is refused as such.
    let z = zip_of(&[
        ("meta", b"\x08\x03"),
        ("collection.anki21b", b"\x28\xb5\x2f\xfd"),
        ("collection.anki2", b"dummy"),
    ]);
    assert_refused(&z, &defaults(), Want::Invalid("modern"));
    // A package from a newer Anki than any we know.
    let z = zip_of(&[("meta", b"\x08\x07"), ("collection.anki21b", b"x")]);
    assert_refused(&z, &defaults(), Want::Invalid("newer Anki"));
}

#[test]
fn zip_bomb() {
    // 1 GiB of zeros deflates to about 1 MiB: under the package limit, far over the collection limit.
    let mut z = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1));
    z.start_file("collection.anki2", opts).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        z.write_all(&chunk).unwrap();
    }
    let bytes = z.finish().unwrap().into_inner();
    assert!(bytes.len() < 10 << 20, "bomb is {} bytes", bytes.len());
    assert_refused(&bytes, &defaults(), Want::TooLarge);
}

/// Patch the uncompressed size the zip headers claim, to check the limit counts real bytes.
fn lie_about_sizes(mut bytes: Vec<u8>, claimed: u32) -> Vec<u8> {
    let patch = |bytes: &mut Vec<u8>, sig: &[u8; 4], offset: usize| {
        let positions: Vec<usize> = bytes
            .windows(4)
            .enumerate()
            .filter(|(_, w)| w == sig)
            .map(|(i, _)| i)
            .collect();
        for p in positions {
            bytes[p + offset..p + offset + 4].copy_from_slice(&claimed.to_le_bytes());
        }
    };
    patch(&mut bytes, b"PK\x03\x04", 22);
    patch(&mut bytes, b"PK\x01\x02", 24);
    bytes
}

#[test]
fn lying_size_headers_do_not_bypass_the_limit() {
    let limits = ImportLimits {
        max_collection_bytes: 1 << 20,
        ..defaults()
    };
    let z = lie_about_sizes(zip_of(&[("collection.anki2", &vec![0u8; 4 << 20])]), 100);
    let col = target();
    let before = dump(&col);
    let err = import_apkg(&col, &z, &limits).expect_err("accepted");
    // Either the streaming limit trips, or the reader stops at the claimed size and the CRC
    // or the content check refuses it: never more than the limit is written.
    assert!(
        matches!(
            err,
            ApkgError::TooLarge(_) | ApkgError::InvalidPackage { .. }
        ),
        "{err:?}"
    );
    assert_eq!(before, dump(&col));
}

#[test]
fn total_uncompressed_limit() {
    let limits = ImportLimits {
        max_uncompressed_bytes: 1000,
        ..defaults()
    };
    assert_refused(&package(|_| {}), &limits, Want::TooLarge);
}

#[test]
fn zip_slip_names() {
    let db = collection_file(|_| {});
    for evil in [
        "../../etc/passwd",
        "/etc/passwd",
        "..\\..\\windows\\system32",
        "media/../../x",
    ] {
        assert_refused(
            &zip_of(&[("collection.anki2", &db), (evil, b"root::0:0")]),
            &defaults(),
            Want::Invalid("unsafe"),
        );
    }
    assert_refused(
        &zip_of(&[("../collection.anki2", &db)]),
        &defaults(),
        Want::Invalid("unsafe"),
    );
}

#[test]
fn non_sqlite_collection() {
    assert_refused(
        &zip_of(&[("collection.anki2", b"hello, I am not a database")]),
        &defaults(),
        Want::Invalid("not an SQLite"),
    );
    // A real header over garbage pages.
    let mut fake = b"SQLite format 3\0".to_vec();
    fake.extend(std::iter::repeat_n(0xA5u8, 8192));
    assert_refused(
        &zip_of(&[("collection.anki2", &fake)]),
        &defaults(),
        Want::Invalid("database"),
    );
    // A real file cut in half.
    let db = collection_file(|_| {});
    assert_refused(
        &zip_of(&[("collection.anki2", &db[..db.len() / 2])]),
        &defaults(),
        Want::Invalid("database"),
    );
}

#[test]
fn sqlite_with_trigger() {
    let p = package(|c| {
        c.execute_batch(
            "CREATE TABLE evil (x); CREATE TRIGGER t AFTER INSERT ON notes BEGIN INSERT INTO evil VALUES (1); END;",
        )
        .unwrap()
    });
    assert_refused(&p, &defaults(), Want::Invalid("trigger"));
}

#[test]
fn sqlite_with_view() {
    let p = package(|c| {
        c.execute_batch("CREATE VIEW v AS SELECT * FROM notes;")
            .unwrap()
    });
    assert_refused(&p, &defaults(), Want::Invalid("view"));
    // A view hiding behind a table name we read.
    let p = package(|c| {
        c.execute_batch("ALTER TABLE revlog RENAME TO r2; CREATE VIEW revlog AS SELECT * FROM r2;")
            .unwrap()
    });
    assert_refused(&p, &defaults(), Want::Invalid("view"));
}

#[test]
fn sqlite_with_virtual_table() {
    let p = package(|c| {
        c.execute_batch("CREATE VIRTUAL TABLE vt USING fts5(a);")
            .unwrap()
    });
    assert_refused(&p, &defaults(), Want::Invalid("virtual table"));
}

#[test]
fn wrong_schema_versions() {
    for (ver, needle) in [
        (10, "too old"),
        (12, "Support older Anki versions"),
        (18, "Support older"),
        (99, "unknown"),
    ] {
        let p = package(|c| {
            c.execute("UPDATE col SET ver = ?1", [ver]).unwrap();
        });
        assert_refused(&p, &defaults(), Want::Invalid(needle));
    }
}

#[test]
fn missing_tables_and_columns() {
    assert_refused(
        &package(|c| c.execute_batch("DROP TABLE revlog").unwrap()),
        &defaults(),
        Want::Invalid("no revlog table"),
    );
    assert_refused(
        &package(|c| c.execute_batch("DROP TABLE col").unwrap()),
        &defaults(),
        Want::Invalid("no col table"),
    );
    assert_refused(
        &package(|c| {
            c.execute_batch("DROP INDEX ix_notes_csum; ALTER TABLE notes DROP COLUMN csum")
                .unwrap()
        }),
        &defaults(),
        Want::Invalid("no csum column"),
    );
    assert_refused(
        &package(|c| c.execute_batch("DELETE FROM col").unwrap()),
        &defaults(),
        Want::Invalid("col table is empty"),
    );
}

#[test]
fn bad_json_and_dangling_references() {
    assert_refused(
        &package(|c| c.execute_batch("UPDATE col SET models = 'nope'").unwrap()),
        &defaults(),
        Want::Invalid("col.models"),
    );
    assert_refused(
        &package(|c| c.execute_batch("UPDATE col SET decks = '[]'").unwrap()),
        &defaults(),
        Want::Invalid("col.decks"),
    );
    assert_refused(
        &package(|c| c.execute_batch("UPDATE notes SET mid = 42").unwrap()),
        &defaults(),
        Want::Invalid("note type"),
    );
    assert_refused(
        &package(|c| c.execute_batch("UPDATE cards SET ord = 7").unwrap()),
        &defaults(),
        Want::Invalid("template"),
    );
    assert_refused(
        &package(|c| c.execute_batch("UPDATE cards SET type = 9").unwrap()),
        &defaults(),
        Want::Invalid("invalid type"),
    );
    assert_refused(
        &package(|c| c.execute_batch("UPDATE cards SET due = 'soon'").unwrap()),
        &defaults(),
        Want::Invalid("unreadable"),
    );
}

#[test]
fn ten_thousand_entries_are_no_longer_refused_but_the_entry_limit_is_named() {
    let mut z = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    z.start_file("collection.anki2", opts).unwrap();
    z.write_all(&collection_file(|_| {})).unwrap();
    for i in 0..9_999 {
        z.start_file(i.to_string(), opts).unwrap();
    }
    let bytes = z.finish().unwrap().into_inner();
    assert!(bytes.len() < 10 << 20);
    // No 64-entry cap: unreferenced members are ignored.
    assert!(import_apkg(&target(), &bytes, &defaults()).unwrap().notes >= 30);
    let few = ImportLimits {
        max_entries: 1_000,
        ..defaults()
    };
    assert_refused(&bytes, &few, Want::Invalid("entry limit is 1000"));
}

/// The hostile findings of the content issue, each refused or normalised with nothing
/// half-applied, in work linear in the package (the id allocator's own work bound is a unit
/// test of javumbo-apkg: `allocator_work_is_linear_on_hostile_id_patterns`).
mod findings {
    use super::*;
    use javumbo_collection::limits::{MAX_DECK_DEPTH, MAX_DECKS, MAX_FIELD_BYTES};

    fn set_decks(c: &Connection, decks: serde_json::Map<String, serde_json::Value>) {
        c.execute(
            "UPDATE col SET decks = ?1",
            [serde_json::Value::Object(decks).to_string()],
        )
        .unwrap();
    }

    fn deck(id: i64, name: &str) -> serde_json::Value {
        javumbo_collection::schema::deck_json(id, name, 0)
    }

    #[test]
    fn a_deck_nested_8000_levels_deep() {
        let name = vec!["a"; 8_000].join("::");
        let p = package(|c| {
            let mut decks = serde_json::Map::new();
            decks.insert("1".into(), deck(1, "Default"));
            decks.insert("5".into(), deck(5, &name));
            set_decks(c, decks);
            c.execute_batch("UPDATE cards SET did = 5").unwrap();
        });
        assert!(p.len() < 64 * 1024, "{} bytes", p.len());
        assert_refused(&p, &defaults(), Want::Invalid("deck name limit"));
        // Depth alone (short names): the depth limit is named.
        let name = vec!["a"; MAX_DECK_DEPTH + 1].join("::");
        let p = package(|c| {
            let mut decks = serde_json::Map::new();
            decks.insert("1".into(), deck(1, "Default"));
            decks.insert("5".into(), deck(5, &name));
            set_decks(c, decks);
            c.execute_batch("UPDATE cards SET did = 5").unwrap();
        });
        assert_refused(&p, &defaults(), Want::Invalid("deck depth limit"));
    }

    #[test]
    fn eight_thousand_decks() {
        let p = package(|c| {
            let mut decks = serde_json::Map::new();
            decks.insert("1".into(), deck(1, "Default"));
            let mut name = String::from("a");
            for i in 0..8_001i64 {
                name.push_str("::a");
                decks.insert(
                    (100 + i).to_string(),
                    deck(100 + i, &name[..name.len().min(90)]),
                );
            }
            set_decks(c, decks);
        });
        const { assert!(MAX_DECKS < 8_002) };
        assert_refused(&p, &defaults(), Want::TooLarge);
    }

    #[test]
    fn forty_thousand_duplicate_revlog_ids() {
        // Anki's revlog has `id` as its primary key; this one does not, and every id is
        // shared by 30 reviews of different cards in a dense block of ids.
        let p = package(|c| {
            c.execute_batch(
                "DROP TABLE revlog;
                 CREATE TABLE revlog (id integer not null, cid integer not null,
                   usn integer not null, ease integer not null, ivl integer not null,
                   lastIvl integer not null, factor integer not null, time integer not null,
                   type integer not null);
                 WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < 39999),
                   c AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM cards)
                 INSERT INTO revlog SELECT 1700000000000 + i.n / 30, c.id, -1, 3, 1, 0, 2500,
                   5000, 0 FROM i JOIN c ON c.k = i.n % 30;",
            )
            .unwrap();
            let n: i64 = c
                .query_row("SELECT count() FROM revlog", [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 40_000);
        });
        let col = target();
        let s = import_apkg(&col, &p, &defaults()).unwrap();
        assert_eq!((s.revlog, s.revlog_skipped), (40_000, 0));
        let distinct: i64 = col
            .conn()
            .query_row("SELECT count(DISTINCT id) FROM revlog", [], |r| r.get(0))
            .unwrap();
        assert_eq!(distinct, 40_001);
        // The same package again: every review is known, none is added twice.
        let again = import_apkg(&col, &p, &defaults()).unwrap();
        assert_eq!((again.revlog, again.cards), (0, 0));
    }

    #[test]
    fn a_fifty_megabyte_field() {
        let p = package(|c| {
            c.execute(
                "UPDATE notes SET flds = ?1 || char(31) || 'back' WHERE id = (SELECT min(id) FROM notes)",
                ["x".repeat(50 << 20)],
            )
            .unwrap();
        });
        assert!(p.len() < 1 << 20, "{} bytes", p.len());
        let col = target();
        let before = dump(&col);
        let err = import_apkg(&col, &p, &defaults()).unwrap_err();
        let ApkgError::TooLarge(m) = &err else {
            panic!("{err:?}")
        };
        assert!(m.contains("size limit"), "{m}");
        assert_eq!(before, dump(&col));
        // Just over the API's field limit is refused the same way; at the limit it is accepted.
        for (len, ok) in [(MAX_FIELD_BYTES + 1, false), (MAX_FIELD_BYTES, true)] {
            let p = package(|c| {
                c.execute(
                    "UPDATE notes SET flds = ?1 || char(31) || 'back' WHERE id = (SELECT min(id) FROM notes)",
                    ["y".repeat(len)],
                )
                .unwrap();
            });
            assert_eq!(import_apkg(&target(), &p, &defaults()).is_ok(), ok, "{len}");
        }
    }

    #[test]
    fn three_notes_sharing_one_id() {
        let p = package(|c| {
            c.execute_batch(
                "CREATE TABLE n2 AS SELECT * FROM notes; DROP TABLE notes;
                 ALTER TABLE n2 RENAME TO notes;
                 UPDATE notes SET id = 42, guid = 'g' || rowid WHERE rowid IN
                   (SELECT rowid FROM notes ORDER BY rowid LIMIT 3);",
            )
            .unwrap();
        });
        assert_refused(
            &p,
            &defaults(),
            Want::Invalid("note id 42 appears more than once"),
        );
    }

    #[test]
    fn extreme_scheduling_values_are_normalised_and_study_stays_sane() {
        let p = package(|c| {
            c.execute_batch(
                "UPDATE cards SET type = 2, queue = 2, due = 9223372036854775807, \
                   ivl = -1, factor = -9223372036854775808, reps = 9223372036854775807, \
                   lapses = -1, odue = -9223372036854775808;",
            )
            .unwrap();
        });
        let col = target();
        let s = import_apkg(&col, &p, &defaults()).unwrap();
        assert!(s.cards >= 30);
        let bad: i64 = col
            .conn()
            .query_row(
                "SELECT count() FROM cards WHERE queue = 2 AND (ivl < 0 OR factor < 0 OR reps < 0 \
                 OR lapses < 0 OR due > 100000 OR odue NOT BETWEEN -2147483648 AND 2147483647)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(bad, 0);
        // Review cards due "never" are due today (Check Database): answering one is sane.
        let id: i64 = col
            .conn()
            .query_row("SELECT max(id) FROM cards", [], |r| r.get(0))
            .unwrap();
        col.answer_card(id, 3, Some(1000)).unwrap();
        let (ivl, due): (i64, i64) = col
            .conn()
            .query_row("SELECT ivl, due FROM cards WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert!((1..=36_500).contains(&ivl), "interval {ivl}");
        assert!(due > 0 && due < 100_000, "due {due}");
    }
}

#[test]
fn oversized_package() {
    let limits = defaults();
    let big = vec![0u8; limits.max_package_bytes as usize + 1];
    assert_refused(&big, &limits, Want::TooLarge);
    // The size check comes first, even for an otherwise valid package.
    let small = ImportLimits {
        max_package_bytes: 1000,
        ..defaults()
    };
    assert_refused(&package(|_| {}), &small, Want::TooLarge);
}
