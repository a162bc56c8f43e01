//! Round trips and hostile input for the schema conversions (the Anki-refereed tests live in
//! the workspace's `tests/tests/modern_referee.rs`).

mod common;

use common::{col_json, create_schema11, ver};
use javumbo_modern::{
    Limits, ModernError, UpgradeOptions, downgrade_to_schema11, inspect, upgrade_to_schema18,
};
use proptest::prelude::*;
use rusqlite::{Connection, params};
use serde_json::{Value, json};

const NOW: i64 = 1_800_000_000;

fn upgraded(dir: &tempfile::TempDir) -> Connection {
    let conn = create_schema11(&dir.path().join("c.anki2"));
    upgrade_to_schema18(&conn, &UpgradeOptions::at(NOW), &Limits::default()).expect("upgrade");
    conn
}

fn table_count(conn: &Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

#[test]
fn eleven_to_eighteen_to_eleven_gives_the_file_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = upgraded(&dir);
    assert_eq!(ver(&conn), 18);
    assert_eq!(table_count(&conn, "notetypes"), 2);
    assert_eq!(table_count(&conn, "fields"), 4);
    assert_eq!(table_count(&conn, "decks"), 4);
    assert_eq!(table_count(&conn, "deck_config"), 2);
    assert_eq!(
        table_count(&conn, "graves"),
        2,
        "duplicate graves are dropped"
    );
    let report = downgrade_to_schema11(&conn, &Limits::default()).expect("downgrade");
    assert_eq!(ver(&conn), 11);
    // Upgraded tags start collapsed, so none is reported as forgotten.
    assert!(report.expanded_tags.is_empty());
    assert_eq!(col_json(&conn, "models"), common::models());
    assert_eq!(col_json(&conn, "decks"), common::decks());
    assert_eq!(col_json(&conn, "dconf"), common::dconf());
    assert_eq!(col_json(&conn, "conf"), common::conf());
    assert_eq!(col_json(&conn, "tags"), common::tags());
    let factor: i64 = conn
        .query_row("SELECT factor FROM cards WHERE id = 20", [], |r| r.get(0))
        .expect("card");
    assert_eq!(factor, 1800, "cards are untouched");
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("tables");
    for gone in [
        "notetypes",
        "fields",
        "templates",
        "decks",
        "deck_config",
        "config",
        "tags",
    ] {
        assert!(!tables.iter().any(|t| t == gone), "{gone} left behind");
    }
}

#[test]
fn upgrade_normalises_and_deduplicates_names_like_anki() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = create_schema11(&dir.path().join("c.anki2"));
    let mut decks = common::decks();
    let mut twin = decks["1704110400001"].clone();
    twin["id"] = json!(1704110400009_i64);
    twin["name"] = json!(" LANG ");
    decks["1704110400009"] = twin;
    decks["1704110400000"]["name"] = json!("Lang::  French\u{7}");
    let mut models = common::models();
    models["1704110400001"]["name"] = json!("basic");
    models["1704110400001"]["flds"][1]["name"] = json!("TEXT");
    conn.execute(
        "UPDATE col SET decks = ?1, models = ?2",
        params![decks.to_string(), models.to_string()],
    )
    .expect("update");
    let report =
        upgrade_to_schema18(&conn, &UpgradeOptions::at(NOW), &Limits::default()).expect("upgrade");
    let names: Vec<(i64, String, i64, i32)> = conn
        .prepare("SELECT id, name, mtime_secs, usn FROM decks ORDER BY id")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect()
        })
        .expect("decks");
    assert!(names.contains(&(1704110400000, "Lang\x1fFrench".into(), NOW, -1)));
    assert!(names.contains(&(1704110400009, "LANG_".into(), NOW, -1)));
    assert!(names.contains(&(1704110400001, "Lang".into(), 1704110504, -1)));
    assert_eq!(report.renamed_decks.len(), 2);
    let nt: String = conn
        .query_row(
            "SELECT name FROM notetypes WHERE id = 1704110400001",
            [],
            |r| r.get(0),
        )
        .expect("notetype");
    assert_eq!(nt, "basic_");
    let field: String = conn
        .query_row(
            "SELECT name FROM fields WHERE ntid = 1704110400001 AND ord = 1",
            [],
            |r| r.get(0),
        )
        .expect("field");
    assert_eq!(field, "TEXT+");
    assert_eq!(report.renamed_notetypes.len(), 1);
}

#[test]
fn a_low_starting_ease_resets_the_preset_and_its_cards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = create_schema11(&dir.path().join("c.anki2"));
    let mut dconf = common::dconf();
    dconf["1704110400002"]["new"]["initialFactor"] = json!(1300);
    conn.execute("UPDATE col SET dconf = ?1", [dconf.to_string()])
        .expect("update");
    let report =
        upgrade_to_schema18(&conn, &UpgradeOptions::at(NOW), &Limits::default()).expect("upgrade");
    assert_eq!(report.reset_ease_presets, vec![1704110400002]);
    // Card 20 is in the preset's deck; card 21 is in a filtered deck whose home deck is.
    assert_eq!(report.reset_ease_cards, 1);
    let (factor, usn): (i64, i64) = conn
        .query_row("SELECT factor, usn FROM cards WHERE id = 20", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("card");
    assert_eq!((factor, usn), (2500, -1));
}

#[test]
fn a_bad_blob_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = upgraded(&dir);
    conn.execute("UPDATE decks SET kind = x'0a05ffffffffff' WHERE id = 1", [])
        .expect("corrupt");
    let err = downgrade_to_schema11(&conn, &Limits::default()).expect_err("refused");
    assert!(matches!(err, ModernError::Protobuf { .. }), "{err}");
    assert!(err.is_input_error());
    assert_eq!(ver(&conn), 18);
    assert_eq!(table_count(&conn, "decks"), 4);
    assert_eq!(col_json_text(&conn, "models"), "");
}

fn col_json_text(conn: &Connection, column: &str) -> String {
    conn.query_row(&format!("SELECT {column} FROM col"), [], |r| r.get(0))
        .expect("col")
}

#[test]
fn a_deck_without_a_kind_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = upgraded(&dir);
    conn.execute("UPDATE decks SET kind = x'' WHERE id = 1", [])
        .expect("empty kind");
    let err = downgrade_to_schema11(&conn, &Limits::default()).expect_err("refused");
    assert!(matches!(err, ModernError::Invalid(_)), "{err}");
    assert_eq!(ver(&conn), 18);
}

#[test]
fn bad_json_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = create_schema11(&dir.path().join("c.anki2"));
    conn.execute("UPDATE col SET decks = '{\"1\": {\"id\": 1}}'", [])
        .expect("update");
    let err = upgrade_to_schema18(&conn, &UpgradeOptions::at(NOW), &Limits::default())
        .expect_err("refused");
    assert!(matches!(err, ModernError::Json { .. }), "{err}");
    assert_eq!(ver(&conn), 11);
    assert_eq!(col_json(&conn, "models"), common::models());
    assert_eq!(table_count(&conn, "graves"), 3);
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('notetypes', 'deck_config')",
            [],
            |r| r.get(0),
        )
        .expect("tables");
    assert_eq!(tables, 0);
}

#[test]
fn ids_anki_would_invent_are_refused() {
    for (column, value) in [
        ("models", {
            let mut m = common::models();
            m["1704110400000"]["id"] = json!(5);
            m
        }),
        ("models", {
            let mut m = common::models();
            let nt = m["1704110400000"].clone();
            m["0"] = nt;
            m["0"]["id"] = json!(0);
            m
        }),
        ("decks", {
            let mut d = common::decks();
            d["1"]["id"] = json!(0);
            d
        }),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = create_schema11(&dir.path().join("c.anki2"));
        conn.execute(
            &format!("UPDATE col SET {column} = ?1"),
            [value.to_string()],
        )
        .expect("update");
        let err = upgrade_to_schema18(&conn, &UpgradeOptions::at(NOW), &Limits::default())
            .expect_err("refused");
        assert!(matches!(err, ModernError::Invalid(_)), "{err}");
        assert_eq!(ver(&conn), 11);
    }
}

#[test]
fn files_that_are_not_plain_collections_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = create_schema11(&dir.path().join("c.anki2"));
    conn.execute_batch(
        "CREATE TRIGGER t AFTER UPDATE ON col BEGIN INSERT INTO graves VALUES (0, 0, 0); END;",
    )
    .expect("trigger");
    let err = upgrade_to_schema18(&conn, &UpgradeOptions::at(NOW), &Limits::default())
        .expect_err("refused");
    assert!(err.to_string().contains("trigger"), "{err}");
    conn.execute_batch("DROP TRIGGER t; UPDATE col SET ver = 12")
        .expect("v12");
    assert!(matches!(inspect(&conn), Err(ModernError::Unsupported(_))));
    conn.execute_batch("UPDATE col SET ver = 11; INSERT INTO col SELECT 2, crt, mod, scm, ver, dty, usn, ls, conf, models, decks, dconf, tags FROM col")
        .expect("two rows");
    assert!(matches!(inspect(&conn), Err(ModernError::Invalid(_))));
    conn.execute_batch("DELETE FROM col WHERE id = 2; DROP TABLE graves")
        .expect("no graves");
    assert!(matches!(inspect(&conn), Err(ModernError::Invalid(_))));

    let dir18 = tempfile::tempdir().expect("tempdir");
    let conn = upgraded(&dir18);
    conn.execute_batch("DROP TABLE fields").expect("drop");
    let err = downgrade_to_schema11(&conn, &Limits::default()).expect_err("refused");
    assert!(err.to_string().contains("fields"), "{err}");
    // A conversion in the wrong direction says so.
    let dir18 = tempfile::tempdir().expect("tempdir");
    let conn = upgraded(&dir18);
    assert!(matches!(
        upgrade_to_schema18(&conn, &UpgradeOptions::at(NOW), &Limits::default()),
        Err(ModernError::Unsupported(_))
    ));
}

#[test]
fn limits_are_errors_naming_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = create_schema11(&dir.path().join("c.anki2"));
    let tight = Limits {
        max_decks: 3,
        ..Limits::default()
    };
    let err =
        upgrade_to_schema18(&conn, &UpgradeOptions::at(NOW), &tight).expect_err("4 decks > 3");
    assert!(matches!(err, ModernError::TooLarge(_)), "{err}");
    assert!(err.to_string().contains("decks"), "{err}");
    let tight = Limits {
        max_json_bytes: 100,
        ..Limits::default()
    };
    assert!(matches!(
        upgrade_to_schema18(&conn, &UpgradeOptions::at(NOW), &tight),
        Err(ModernError::TooLarge(_))
    ));
    upgrade_to_schema18(&conn, &UpgradeOptions::at(NOW), &Limits::default()).expect("upgrade");
    for tight in [
        Limits {
            max_fields_per_notetype: 1,
            ..Limits::default()
        },
        Limits {
            max_notetypes: 1,
            ..Limits::default()
        },
        Limits {
            max_tags: 2,
            ..Limits::default()
        },
    ] {
        let err = downgrade_to_schema11(&conn, &tight).expect_err("over a limit");
        assert!(matches!(err, ModernError::TooLarge(_)), "{err}");
        assert_eq!(ver(&conn), 18);
    }
}

#[test]
fn thousands_of_identical_deck_names_are_made_unique() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = create_schema11(&dir.path().join("c.anki2"));
    let mut decks = common::decks();
    let template = decks["1704110400001"].clone();
    for i in 0..3000_i64 {
        let mut d = template.clone();
        d["id"] = json!(1_000_000 + i);
        decks[(1_000_000 + i).to_string()] = d;
    }
    conn.execute("UPDATE col SET decks = ?1", [decks.to_string()])
        .expect("update");
    upgrade_to_schema18(&conn, &UpgradeOptions::at(NOW), &Limits::default()).expect("upgrade");
    let distinct: i64 = conn
        .query_row("SELECT count(DISTINCT name) FROM decks", [], |r| r.get(0))
        .expect("count");
    assert_eq!(distinct, 3004);
}

/// The blob columns of a schema-18 file, for mutation.
const BLOB_COLUMNS: &[(&str, &str)] = &[
    ("notetypes", "config"),
    ("fields", "config"),
    ("templates", "config"),
    ("decks", "common"),
    ("decks", "kind"),
    ("deck_config", "config"),
    ("config", "val"),
];

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z:_ ]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Any bytes in any blob: the downgrade succeeds or refuses, never panics, and a refusal
    /// leaves the file as it was.
    #[test]
    fn downgrade_of_mutated_blobs_never_panics(
        which in 0..BLOB_COLUMNS.len(),
        bytes in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = upgraded(&dir);
        let (table, column) = BLOB_COLUMNS[which];
        conn.execute(&format!("UPDATE {table} SET {column} = ?1"), [&bytes]).expect("mutate");
        match downgrade_to_schema11(&conn, &Limits::default()) {
            Ok(_) => prop_assert_eq!(ver(&conn), 11),
            Err(e) => {
                prop_assert!(e.is_input_error(), "{}", e);
                prop_assert_eq!(ver(&conn), 18);
                prop_assert_eq!(table_count(&conn, "notetypes"), 2);
            }
        }
    }

    /// Any JSON in place of one value of the schema-11 objects: the upgrade succeeds or
    /// refuses, never panics, and a refusal leaves the file as it was.
    #[test]
    fn upgrade_of_mutated_json_never_panics(
        column in prop::sample::select(vec!["models", "decks", "dconf", "conf", "tags"]),
        pick in any::<prop::sample::Index>(),
        value in arbitrary_json(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = create_schema11(&dir.path().join("c.anki2"));
        let mut doc = col_json(&conn, column);
        replace_somewhere(&mut doc, pick, value);
        let text = doc.to_string();
        conn.execute(&format!("UPDATE col SET {column} = ?1"), [&text]).expect("mutate");
        let stored: Value = serde_json::from_str(&text).expect("parses");
        match upgrade_to_schema18(&conn, &UpgradeOptions::at(NOW), &Limits::default()) {
            Ok(_) => {
                prop_assert_eq!(ver(&conn), 18);
                // Whatever was accepted converts back.
                downgrade_to_schema11(&conn, &Limits::default()).expect("downgrade");
            }
            Err(e) => {
                prop_assert!(e.is_input_error(), "{}", e);
                prop_assert_eq!(ver(&conn), 11);
                prop_assert_eq!(col_json(&conn, column), stored);
            }
        }
    }
}

/// Replace one node (chosen by `pick` in document order) of `doc` with `value`.
fn replace_somewhere(doc: &mut Value, pick: prop::sample::Index, value: Value) {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(a) => a.iter().map(count).sum(),
            Value::Object(o) => o.values().map(count).sum(),
            _ => 0,
        }
    }
    fn nth(v: &mut Value, mut n: usize) -> Option<&mut Value> {
        if n == 0 {
            return Some(v);
        }
        n -= 1;
        let children: Vec<&mut Value> = match v {
            Value::Array(a) => a.iter_mut().collect(),
            Value::Object(o) => o.values_mut().collect(),
            _ => return None,
        };
        for child in children {
            let c = count(child);
            if n < c {
                return nth(child, n);
            }
            n -= c;
        }
        None
    }
    let total = count(doc);
    if let Some(slot) = nth(doc, pick.index(total)) {
        *slot = value;
    }
}
