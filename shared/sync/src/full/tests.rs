use javumbo_collection::{CreateOptions, ManualClock};

use super::*;

const T0_MS: i64 = 1_704_110_400_000;

fn collection(dir: &Path, name: &str, starter: bool) -> Collection {
    let opts = CreateOptions {
        starter_deck: starter,
        ..CreateOptions::default()
    };
    Collection::create(&dir.join(name), ManualClock::new(T0_MS), &opts).expect("create")
}

/// Every row of the four tables, as text, for comparisons; `col.ls` is the server's own
/// bookkeeping (see the module docs), so it is left out.
fn dump(conn: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    for (table, columns) in REQUIRED_COLUMNS {
        let columns: Vec<&str> = columns.iter().copied().filter(|c| *c != "ls").collect();
        let columns = &columns[..];
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {} FROM {table} ORDER BY id",
                quoted(columns)
            ))
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            let vals: Vec<String> = (0..columns.len())
                .map(|i| format!("{:?}", r.get::<_, Value>(i).unwrap()))
                .collect();
            out.push(format!("{table}: {}", vals.join("|")));
        }
    }
    out
}

/// What a 26.x client uploads: its collection closed as schema 18.
fn schema18_upload(dir: &Path, source: &Collection) -> Vec<u8> {
    let path = dir.join("client.anki2");
    copy_collection(source.conn(), &path).unwrap();
    let conn = Connection::open(&path).unwrap();
    javumbo_modern::upgrade_to_schema18(
        &conn,
        &javumbo_modern::UpgradeOptions::at(T0_MS / 1000),
        &Limits::default(),
    )
    .unwrap();
    drop(conn);
    std::fs::read(&path).unwrap()
}

#[test]
fn upload_replaces_everything_and_download_gives_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let client = collection(dir.path(), "a.anki2", true);
    let server = collection(dir.path(), "s.anki2", false);
    let bytes = schema18_upload(dir.path(), &client);

    let work = tempfile::tempdir().unwrap();
    let prepared = prepare_upload(&bytes, work.path(), &Limits::default())
        .unwrap()
        .expect("accepted");
    assert!(prepared.cards > 0);
    apply_upload(&server, &prepared.path).unwrap();
    // Rows come through the schema-18 round trip unchanged; the `col` JSON is Anki's own
    // downgrade of the upgrade (template mtimes and the like differ, as in Anki), so only its
    // stamps are compared.
    let rows = |conn: &Connection| -> Vec<String> {
        dump(conn)
            .into_iter()
            .filter(|r| !r.starts_with("col:"))
            .collect()
    };
    assert_eq!(rows(server.conn()), rows(client.conn()));
    let stamps = "SELECT crt, mod, scm, ver FROM col";
    let read = |conn: &Connection| -> (i64, i64, i64, i64) {
        conn.query_row(stamps, [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap()
    };
    assert_eq!(read(server.conn()), read(client.conn()));

    let usn_before: i32 = server
        .conn()
        .query_row("SELECT usn FROM col", [], |r| r.get(0))
        .unwrap();
    let file = download(&server).unwrap();
    let path = dir.path().join("downloaded.anki2");
    std::fs::write(&path, file).unwrap();
    let got = Collection::open(&path, ManualClock::new(T0_MS)).expect("opens as schema 11");
    assert_eq!(dump(got.conn()), dump(server.conn()));
    let usn_after: i32 = got
        .conn()
        .query_row("SELECT usn FROM col", [], |r| r.get(0))
        .unwrap();
    assert_eq!(usn_after, usn_before + 1, "a download increments usn");
}

#[test]
fn meta_reports_the_stamps_and_emptiness() {
    let dir = tempfile::tempdir().unwrap();
    let empty = collection(dir.path(), "e.anki2", false);
    let m = meta(&empty, 42_000, 0).unwrap();
    assert!(m.empty);
    assert_eq!(m.current_time, 42);
    assert!(m.should_continue);

    let full = collection(dir.path(), "f.anki2", true);
    full.conn().execute("UPDATE col SET ls = mod", []).unwrap();
    let (modified, scm): (i64, i64) = full
        .conn()
        .query_row("SELECT mod, scm FROM col", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let m = meta(&full, T0_MS + 5, 0).unwrap();
    assert!(!m.empty);
    assert_eq!(
        (m.modified, m.schema),
        (modified, scm),
        "clean: the stored stamps"
    );
}

#[test]
fn a_change_outside_sync_leads_to_a_normal_sync() {
    let dir = tempfile::tempdir().unwrap();
    let col = collection(dir.path(), "c.anki2", true);
    let clean = meta(&col, T0_MS + 10, 0).unwrap();
    // A web review moves `mod` on: the client sees a newer server and syncs normally; the
    // schema stamp stays, so no full sync is asked for.
    col.conn()
        .execute("UPDATE col SET mod = mod + 1000", [])
        .unwrap();
    let dirty = meta(&col, T0_MS + 20, 0).unwrap();
    assert_eq!(dirty.schema, clean.schema);
    assert_eq!(dirty.modified, clean.modified + 1000);
}

#[test]
fn a_download_stamps_what_the_server_changed() {
    let dir = tempfile::tempdir().unwrap();
    let col = collection(dir.path(), "c.anki2", true);
    let pending = "SELECT count(*) FROM notes WHERE usn = -1";
    let before: i64 = col.conn().query_row(pending, [], |r| r.get(0)).unwrap();
    assert!(before > 0, "the starter deck's notes are unstamped");
    let file = download(&col).unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(out.path(), file).unwrap();
    let copy = Connection::open(out.path()).unwrap();
    let (stamped, usn): (i64, i64) = copy
        .query_row(
            "SELECT (SELECT count(*) FROM notes WHERE usn = 0), usn FROM col",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (stamped, usn),
        (before, 1),
        "stamped with the usn before the increment"
    );
}

/// A device that downloads the collection the day it was studied here keeps today's limits:
/// the copy's decks carry the counters Anki would have kept while answering.
#[test]
fn a_download_carries_today_s_counters() {
    let dir = tempfile::tempdir().unwrap();
    let col = collection(dir.path(), "c.anki2", true);
    let javumbo_collection::review::Study::Card(c) = col.next_card().unwrap() else {
        panic!("the starter deck has new cards")
    };
    col.answer_card(c.card_id, 4, None).unwrap();
    let deck = col.current_deck_id().unwrap();
    let today = col.timing().unwrap().days_elapsed;
    let file = download(&col).unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(out.path(), file).unwrap();
    let decks: String = Connection::open(out.path())
        .unwrap()
        .query_row("SELECT decks FROM col", [], |r| r.get(0))
        .unwrap();
    let decks: serde_json::Value = serde_json::from_str(&decks).unwrap();
    assert_eq!(
        decks[deck.to_string()]["newToday"],
        serde_json::json!([today, 1])
    );
}

#[test]
fn garbage_uploads_get_anki_s_corrupt_message() {
    let work = tempfile::tempdir().unwrap();
    for bytes in [&b"not a collection"[..], b"", &[0u8; 4096]] {
        let got = prepare_upload(bytes, work.path(), &Limits::default()).unwrap();
        let err = got.expect_err("refused");
        assert_eq!(err.0, crate::messages::CORRUPT_MESSAGE);
    }
}

#[test]
fn a_schema11_upload_is_accepted_as_is() {
    let dir = tempfile::tempdir().unwrap();
    let client = collection(dir.path(), "a.anki2", true);
    let path = dir.path().join("legacy.anki2");
    copy_collection(client.conn(), &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let work = tempfile::tempdir().unwrap();
    let prepared = prepare_upload(&bytes, work.path(), &Limits::default())
        .unwrap()
        .expect("accepted");
    let server = collection(dir.path(), "s.anki2", false);
    apply_upload(&server, &prepared.path).unwrap();
    assert_eq!(dump(server.conn()), dump(client.conn()));
}
