//! Replay equivalence (`docs/ARCHITECTURE.md#replay-equivalence`) for every engine operation:
//! the SQLite session changeset captured around one operation, applied to a copy of the state
//! before it, must reproduce the state after it row for row, in every table.

use std::path::Path;
use std::sync::Arc;

use javumbo_collection::review::Study;
use javumbo_collection::{Collection, CreateOptions, ManualClock};
use rusqlite::Connection;
use rusqlite::session::{ConflictAction, Session};
use rusqlite::types::Value;

/// 2024-01-01 12:00 UTC.
const T0_MS: i64 = 1_704_110_400_000;
const DAY_MS: i64 = 86_400_000;

struct Fixture {
    _dir: tempfile::TempDir,
    col: Collection,
    clock: Arc<ManualClock>,
    before_path: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0_MS);
    let col = Collection::create(
        &dir.path().join("collection.anki2"),
        clock.clone(),
        &CreateOptions::default(),
    )
    .unwrap();
    let before_path = dir.path().join("before.anki2");
    Fixture {
        _dir: dir,
        col,
        clock,
        before_path,
    }
}

type Dump = Vec<(String, Vec<Vec<Value>>)>;

/// Every table's rows, sorted.
fn dump(conn: &Connection) -> Dump {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    tables
        .into_iter()
        .map(|t| {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
            let n = stmt.column_count();
            let mut rows: Vec<Vec<Value>> = stmt
                .query_map([], |r| {
                    (0..n)
                        .map(|i| r.get::<_, Value>(i))
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            // A canonical order: a replay inserts in changeset order, and not every private
            // table is a rowid table.
            rows.sort_by_key(|r| format!("{r:?}"));
            (t, rows)
        })
        .collect()
}

fn has_primary_key(conn: &Connection, table: &str) -> bool {
    conn.prepare(&format!("PRAGMA table_info(\"{table}\")"))
        .unwrap()
        .query_map([], |r| r.get::<_, i64>(5))
        .unwrap()
        .any(|pk| pk.unwrap() > 0)
}

/// Capture `op` as a changeset, replay it on the pre-state copy, compare everything.
fn assert_replays(fx: &Fixture, name: &str, op: impl FnOnce(&Collection)) {
    let conn = fx.col.conn();
    let _ = std::fs::remove_file(&fx.before_path);
    conn.execute("VACUUM INTO ?1", [fx.before_path.to_str().unwrap()])
        .unwrap();
    let pre = dump(conn);

    let mut bytes = Vec::new();
    {
        let mut session = Session::new(conn).unwrap();
        session.attach::<&str>(None).unwrap();
        op(&fx.col);
        session.changeset_strm(&mut bytes).unwrap();
    }
    let post = dump(conn);
    assert_ne!(pre, post, "{name}: the operation changed nothing");
    assert!(!bytes.is_empty(), "{name}: empty changeset");

    // The session extension silently skips tables without a primary key (such as `graves`):
    // every table an operation writes must have one.
    for ((table, before), (_, after)) in pre.iter().zip(&post) {
        if before != after {
            assert!(
                has_primary_key(conn, table),
                "{name}: wrote table {table}, which has no primary key"
            );
        }
    }

    // A second copy of the state before, for the journal's own apply below.
    let ours_path = fx.before_path.with_extension("ours");
    std::fs::copy(&fx.before_path, &ours_path).unwrap();
    let replica = Connection::open(&fx.before_path).unwrap();
    replica
        .apply_strm(&mut &bytes[..], None::<fn(&str) -> bool>, |_, _| {
            ConflictAction::SQLITE_CHANGESET_ABORT
        })
        .unwrap_or_else(|e| panic!("{name}: applying the changeset failed: {e}"));
    let replayed = dump(&replica);
    for ((table, want), (_, got)) in post.iter().zip(&replayed) {
        assert_eq!(want, got, "{name}: table {table} differs after replay");
    }
    assert_eq!(post.len(), replayed.len());

    // The journal replays with its own cached-statement apply: the same rows, and a second
    // apply of the same changeset conflicts as SQLite's does.
    let ours = Connection::open(&ours_path).unwrap();
    javumbo_session::journal::apply_changeset(&ours, &bytes)
        .unwrap_or_else(|e| panic!("{name}: the journal's apply failed: {e}"));
    let replayed = dump(&ours);
    for ((table, want), (_, got)) in post.iter().zip(&replayed) {
        assert_eq!(
            want, got,
            "{name}: table {table} differs after the journal's apply"
        );
    }
    assert_eq!(post.len(), replayed.len());
    assert!(
        javumbo_session::journal::apply_changeset(&ours, &bytes).is_err(),
        "{name}: a second apply did not conflict"
    );
    assert_eq!(
        dump(&ours),
        replayed,
        "{name}: a refused apply changed rows"
    );
}

fn starter_deck(col: &Collection) -> i64 {
    col.current_deck_id().unwrap()
}

fn first_card(col: &Collection) -> i64 {
    match col.next_card().unwrap() {
        Study::Card(c) => c.card_id,
        Study::Nothing(why) => panic!("nothing to study: {why:?}"),
    }
}

#[test]
fn deck_operations_replay() {
    let fx = fixture();
    fx.clock.advance_ms(1000);
    assert_replays(&fx, "create deck", |c| {
        c.create_deck("Spanish").unwrap();
    });
    assert_replays(&fx, "create nested deck with new parent", |c| {
        c.create_deck("French::Verbs").unwrap();
    });
    let french = fx
        .col
        .decks()
        .unwrap()
        .into_iter()
        .find(|d| d.name == "French")
        .unwrap()
        .id;
    assert_replays(&fx, "rename deck with child", |c| {
        c.rename_deck(french, "Français").unwrap();
    });
    assert_replays(&fx, "set current deck", |c| {
        c.set_current_deck(french).unwrap()
    });
    let starter = fx
        .col
        .decks()
        .unwrap()
        .into_iter()
        .find(|d| d.name == "Verbal Tenses")
        .unwrap()
        .id;
    fx.col.set_current_deck(starter).unwrap();
    let id = first_card(&fx.col);
    fx.col.answer_card(id, 3, Some(2000)).unwrap();
    assert_replays(&fx, "delete deck with cards and history", |c| {
        let d = c.delete_deck(starter).unwrap();
        assert!(d.cards_deleted >= 30);
    });
}

#[test]
fn card_operations_replay() {
    let fx = fixture();
    fx.clock.advance_ms(1000);
    let mut added = None;
    assert_replays(&fx, "add card", |c| {
        added = Some(c.add_card("Hola", "Hello", None).unwrap())
    });
    let added = added.unwrap();
    fx.clock.advance_ms(1000);
    assert_replays(&fx, "update card", |c| {
        c.update_card(added.card_id, "<b>Hola</b>", "Hello!")
            .unwrap()
    });
    assert_replays(&fx, "delete card and orphan note", |c| {
        c.delete_card(added.card_id).unwrap()
    });
    // Two adds in the same millisecond, captured as one entry.
    assert_replays(&fx, "two adds in one millisecond", |c| {
        let a = c.add_card("one", "1", None).unwrap();
        let b = c.add_card("two", "2", None).unwrap();
        assert_ne!(a.card_id, b.card_id);
    });
}

/// Bring a fresh starter card into a given state with real answers; returns its id.
fn card_in_state(fx: &Fixture, state: &str) -> i64 {
    let col = &fx.col;
    let id = first_card(col);
    let at = |ms: i64| fx.clock.advance_ms(ms);
    match state {
        "new" => {}
        "learning" => {
            col.answer_card(id, 3, None).unwrap();
            at(15 * 60_000);
        }
        "review" => {
            col.answer_card(id, 4, None).unwrap();
            at(6 * DAY_MS);
        }
        "relearning" => {
            col.answer_card(id, 4, None).unwrap();
            at(6 * DAY_MS);
            col.answer_card(id, 1, None).unwrap();
            at(15 * 60_000);
        }
        "day-learning" => {
            col.conn()
                .execute(
                    "UPDATE cards SET type = 1, queue = 3, due = 0, left = 1 WHERE id = ?1",
                    [id],
                )
                .unwrap();
        }
        "leech" => {
            col.conn()
                .execute(
                    "UPDATE cards SET type = 2, queue = 2, due = 0, ivl = 12, factor = 2500, reps = 15, lapses = 7
                     WHERE id = ?1",
                    [id],
                )
                .unwrap();
        }
        other => panic!("unknown state {other}"),
    }
    id
}

#[test]
fn answers_replay_from_every_state() {
    for state in [
        "new",
        "learning",
        "review",
        "relearning",
        "day-learning",
        "leech",
    ] {
        for ease in 1..=4 {
            let fx = fixture();
            let _ = starter_deck(&fx.col);
            let id = card_in_state(&fx, state);
            fx.clock.advance_ms(1234);
            assert_replays(&fx, &format!("answer {ease} from {state}"), |c| {
                c.answer_card(id, ease, Some(4321)).unwrap();
            });
        }
    }
}

#[test]
fn tables_we_write_have_primary_keys() {
    let fx = fixture();
    for table in ["col", "notes", "cards", "revlog"] {
        assert!(has_primary_key(fx.col.conn(), table), "{table}");
    }
    // graves has none, so the engine must never write it.
    assert!(!has_primary_key(fx.col.conn(), "graves"));
}

#[test]
fn applying_a_changeset_twice_conflicts() {
    let fx = fixture();
    let before = fx.before_path.clone();
    fx.col
        .conn()
        .execute("VACUUM INTO ?1", [before.to_str().unwrap()])
        .unwrap();
    let mut bytes = Vec::new();
    {
        let mut s = Session::new(fx.col.conn()).unwrap();
        s.attach::<&str>(None).unwrap();
        fx.col.add_card("q", "a", None).unwrap();
        s.changeset_strm(&mut bytes).unwrap();
    }
    let replica = Connection::open(Path::new(&before)).unwrap();
    let abort = |_: rusqlite::session::ConflictType, _: &rusqlite::session::ChangesetItem| {
        ConflictAction::SQLITE_CHANGESET_ABORT
    };
    replica
        .apply_strm(&mut &bytes[..], None::<fn(&str) -> bool>, abort)
        .unwrap();
    assert!(
        replica
            .apply_strm(&mut &bytes[..], None::<fn(&str) -> bool>, abort)
            .is_err()
    );
}
