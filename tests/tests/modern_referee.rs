//! The schema-18 conversions of `javumbo-modern`, refereed by the official `anki` package
//! (`tests/oracle/modern_check.py`): on a rich collection built in Anki,
//! - our 18 → 11 equals Anki's own downgrade (DDL, every table's rows, `col` JSON compared
//!   structurally);
//! - our 11 → 18 of that file, opened by Anki, is the collection Anki's own upgrade gives, and
//!   the original collection except for what schema 11 cannot hold; Check Database is clean.

use std::path::{Path, PathBuf};

use javumbo_modern::{Limits, UpgradeOptions, downgrade_to_schema11, upgrade_to_schema18};
use javumbo_tests::run_oracle;
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use serde_json::Value;

struct Built {
    _dir: tempfile::TempDir,
    anki18: PathBuf,
    anki11: PathBuf,
    summary: Value,
}

fn build() -> Built {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run_oracle("modern_check.py", &["build", path_str(dir.path())], "");
    let summary: Value = serde_json::from_str(&out).expect("summary is JSON");
    Built {
        anki18: dir.path().join("anki18.anki2"),
        anki11: dir.path().join("anki11.anki2"),
        _dir: dir,
        summary,
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

fn dump(path: &Path) -> Value {
    let out = run_oracle("modern_check.py", &["dump", path_str(path)], "");
    serde_json::from_str(&out).expect("dump is JSON")
}

/// Up to 20 paths where `a` and `b` differ.
fn diff(a: &Value, b: &Value) -> Vec<String> {
    fn walk(a: &Value, b: &Value, path: String, out: &mut Vec<String>) {
        if out.len() >= 20 {
            return;
        }
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                    let (va, vb) = (x.get(k), y.get(k));
                    match (va, vb) {
                        (Some(va), Some(vb)) => walk(va, vb, format!("{path}.{k}"), out),
                        _ => out.push(format!("{path}.{k}: {va:?} vs {vb:?}")),
                    }
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                    walk(va, vb, format!("{path}[{i}]"), out);
                }
            }
            _ if a != b => out.push(format!("{path}: {a} vs {b}")),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(a, b, String::new(), &mut out);
    out
}

fn assert_same(what: &str, ours: &Value, theirs: &Value) {
    let d = diff(ours, theirs);
    assert!(
        d.is_empty(),
        "{what} differs (ours vs Anki's):\n{}",
        d.join("\n")
    );
}

fn copy_to(src: &Path, dir: &Path, name: &str) -> PathBuf {
    let dst = dir.join(name);
    std::fs::copy(src, &dst).expect("copy collection");
    dst
}

/// Every table's rows, in a stable order, as JSON (blobs as byte arrays).
fn table_rows(conn: &Connection, table: &str) -> Value {
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM \"{table}\""))
        .expect("select");
    let n = stmt.column_count();
    let mut rows: Vec<Vec<Value>> = stmt
        .query_map([], |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get::<_, SqlValue>(i)? {
                        SqlValue::Null => Value::Null,
                        SqlValue::Integer(v) => v.into(),
                        SqlValue::Real(v) => v.into(),
                        SqlValue::Text(v) => v.into(),
                        SqlValue::Blob(v) => v.into(),
                    })
                })
                .collect()
        })
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    rows.sort_by_key(|r| serde_json::to_string(r).unwrap_or_default());
    Value::from(rows.into_iter().map(Value::from).collect::<Vec<_>>())
}

fn schema(conn: &Connection) -> Vec<(String, String, Option<String>)> {
    let mut stmt = conn
        .prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        .expect("schema");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows")
}

#[test]
fn our_downgrade_equals_ankis_own() {
    let built = build();
    assert!(built.summary["filtered_cards"].as_i64() > Some(0));
    assert!(built.summary["revlog"].as_i64() > Some(10));
    let work = tempfile::tempdir().expect("tempdir");
    let ours_path = copy_to(&built.anki18, work.path(), "ours11.anki2");
    let ours = Connection::open(&ours_path).expect("open");
    let report = downgrade_to_schema11(&ours, &Limits::default()).expect("downgrade");
    assert_eq!(report.expanded_tags, vec!["lang".to_string()]);
    assert_eq!(report.notetypes, 8);
    assert_eq!(report.deck_configs, 3);

    let theirs = Connection::open(&built.anki11).expect("open Anki's downgrade");
    assert_eq!(schema(&ours), schema(&theirs), "DDL");
    let mode = |c: &Connection| -> String {
        c.query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("journal mode")
    };
    assert_eq!(mode(&ours), mode(&theirs));

    let scalars = "SELECT id, crt, mod, scm, ver, dty, usn, ls FROM col";
    let row = |c: &Connection| -> Vec<i64> {
        c.query_row(scalars, [], |r| (0..8).map(|i| r.get(i)).collect())
            .expect("col row")
    };
    assert_eq!(row(&ours), row(&theirs), "col scalars");
    for column in ["conf", "models", "decks", "dconf", "tags"] {
        let json = |c: &Connection| -> Value {
            let s: String = c
                .query_row(&format!("SELECT {column} FROM col"), [], |r| r.get(0))
                .expect("col json");
            serde_json::from_str(&s).expect("col json parses")
        };
        assert_same(&format!("col.{column}"), &json(&ours), &json(&theirs));
    }
    for (kind, table, _) in schema(&theirs) {
        if kind == "table" && table != "col" {
            assert_same(
                &format!("table {table}"),
                &table_rows(&ours, &table),
                &table_rows(&theirs, &table),
            );
        }
    }
}

/// What schema 11 cannot hold (see the crate docs): template mtimes/usns and tags' expanded
/// state come back as the upgrade sets them (0, 0, collapsed).
fn without_schema11_losses(mut dump: Value) -> Value {
    if let Some(nts) = dump["notetypes"].as_array_mut() {
        for nt in nts {
            if let Some(ts) = nt["templates"].as_array_mut() {
                for t in ts {
                    t["mtime_secs"] = Value::from("0");
                    t["usn"] = Value::from(0);
                }
            }
        }
    }
    if let Some(tags) = dump["tags"].as_array_mut() {
        for t in tags {
            t[2] = Value::from(1);
        }
    }
    dump
}

#[test]
fn our_upgrade_is_what_anki_opens_as_the_original() {
    let built = build();
    let work = tempfile::tempdir().expect("tempdir");
    let ours_path = copy_to(&built.anki11, work.path(), "ours18.anki2");
    let conn = Connection::open(&ours_path).expect("open");
    let report = upgrade_to_schema18(
        &conn,
        &UpgradeOptions::at(1_800_000_000),
        &Limits::default(),
    )
    .expect("upgrade");
    assert!(report.renamed_decks.is_empty(), "{report:?}");
    assert!(report.renamed_notetypes.is_empty(), "{report:?}");
    assert!(report.reset_ease_presets.is_empty(), "{report:?}");
    assert_eq!(report.notetypes, 8);
    assert_eq!(report.decks, 8);
    drop(conn);

    let ours = dump(&ours_path);
    assert_eq!(
        ours["check_database"],
        Value::Array(vec![]),
        "Check Database"
    );
    assert_eq!(ours["col"]["ver"], 18);

    // Anki's own upgrade of the same schema-11 file: identical, every field.
    let anki_upgrade = dump(&built.anki11);
    assert_same("upgrade of Anki's schema-11 file", &ours, &anki_upgrade);

    // The original schema-18 collection: identical except for what schema 11 cannot hold.
    let original = dump(&built.anki18);
    assert_eq!(original["check_database"], Value::Array(vec![]));
    for part in [
        "col",
        "notetypes",
        "decks",
        "deck_configs",
        "config",
        "tags",
        "notes",
        "cards",
        "revlog",
        "graves",
    ] {
        assert_same(
            part,
            &without_schema11_losses(ours.clone())[part],
            &without_schema11_losses(original.clone())[part],
        );
    }
    assert_eq!(
        original["tags"]
            .as_array()
            .map(|t| t.iter().filter(|t| t[2] == 0).count()),
        Some(1),
        "the original has one expanded tag (the loss the comparison forgives)"
    );
}
