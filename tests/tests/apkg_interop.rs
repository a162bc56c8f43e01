//! `.apkg` interop refereed by the official Anki library (`tests/oracle/apkg_check.py`):
//! what we export, Anki imports unchanged; what Anki exports, we import as Anki does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use javumbo_apkg::{ImportLimits, export_apkg, import_apkg};
use javumbo_collection::{Collection, CreateOptions, ManualClock, SystemClock};
use javumbo_tests::{anki_python, run_oracle, workspace_root};
use serde_json::{Value, json};

/// 2024-01-01 12:00 UTC.
const T0: i64 = 1_704_110_400_000;
const DAY_MS: i64 = 86_400_000;

const CARD_KEYS: &[&str] = &[
    "id", "guid", "deck", "ord", "type", "queue", "due", "ivl", "factor", "reps", "lapses", "left",
];

fn anki_check(package: &Path) -> Value {
    let out = run_oracle("apkg_check.py", &[package.to_str().unwrap()], "");
    serde_json::from_str(&out).unwrap()
}

fn anki_check_bytes(bytes: &[u8]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("export.apkg");
    std::fs::write(&p, bytes).unwrap();
    anki_check(&p)
}

fn make_packages(dir: &Path) -> (PathBuf, PathBuf) {
    let out = run_oracle("make_packages.py", &[dir.to_str().unwrap()], "");
    let v: Value = serde_json::from_str(&out).unwrap();
    (
        PathBuf::from(v["official"].as_str().unwrap()),
        PathBuf::from(v["genanki"].as_str().unwrap()),
    )
}

fn col_json(col: &Collection, column: &str) -> Value {
    let s: String = col
        .conn()
        .query_row(&format!("SELECT {column} FROM col"), [], |r| r.get(0))
        .unwrap();
    serde_json::from_str(&s).unwrap()
}

fn deck_names(col: &Collection) -> BTreeMap<i64, String> {
    col_json(col, "decks")
        .as_object()
        .unwrap()
        .values()
        .map(|d| {
            (
                d["id"].as_i64().unwrap(),
                d["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Our cards in apkg_check.py's shape (only the compared keys).
fn our_cards(col: &Collection) -> Vec<Value> {
    let names = deck_names(col);
    let mut stmt = col
        .conn()
        .prepare(
            "SELECT c.id, n.guid, c.did, c.ord, c.type, c.queue, c.due, c.ivl, c.factor, c.reps,
                    c.lapses, c.left FROM cards c JOIN notes n ON n.id = c.nid ORDER BY c.id",
        )
        .unwrap();
    stmt.query_map([], |r| {
        let did: i64 = r.get(2)?;
        Ok(json!({
            "id": r.get::<_, i64>(0)?, "guid": r.get::<_, String>(1)?, "deck": names.get(&did),
            "ord": r.get::<_, i64>(3)?, "type": r.get::<_, i64>(4)?, "queue": r.get::<_, i64>(5)?,
            "due": r.get::<_, i64>(6)?, "ivl": r.get::<_, i64>(7)?, "factor": r.get::<_, i64>(8)?,
            "reps": r.get::<_, i64>(9)?, "lapses": r.get::<_, i64>(10)?, "left": r.get::<_, i64>(11)?,
        }))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn project(cards: &Value, keys: &[&str]) -> Vec<Value> {
    cards
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            Value::Object(
                keys.iter()
                    .map(|k| ((*k).to_owned(), c[*k].clone()))
                    .collect(),
            )
        })
        .collect()
}

fn our_notes(col: &Collection) -> Vec<Value> {
    let mut stmt = col
        .conn()
        .prepare("SELECT guid, flds, tags FROM notes ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        let flds: String = r.get(1)?;
        let tags: String = r.get(2)?;
        Ok(json!({
            "guid": r.get::<_, String>(0)?,
            "fields": flds.split('\x1f').collect::<Vec<_>>(),
            "tags": tags.split_whitespace().collect::<Vec<_>>(),
        }))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn our_revlog(col: &Collection) -> Vec<Value> {
    let mut stmt = col
        .conn()
        .prepare("SELECT id, cid, ease, ivl, lastIvl, factor, time, type FROM revlog ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(json!({
            "id": r.get::<_, i64>(0)?, "cid": r.get::<_, i64>(1)?, "ease": r.get::<_, i64>(2)?,
            "ivl": r.get::<_, i64>(3)?, "lastIvl": r.get::<_, i64>(4)?, "factor": r.get::<_, i64>(5)?,
            "time": r.get::<_, i64>(6)?, "type": r.get::<_, i64>(7)?,
        }))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn assert_clean(anki: &Value) {
    assert_eq!(anki["errors"], json!([]), "Anki reported errors: {anki}");
    assert_eq!(
        anki["check_database"],
        json!([]),
        "Check Database had to fix things"
    );
}

/// Anki's view must equal ours: notes, every card's scheduling, every revlog row.
fn assert_same_as_anki(col: &Collection, anki: &Value) {
    assert_clean(anki);
    let anki_notes = project(&anki["notes"], &["guid", "fields", "tags"]);
    assert_eq!(our_notes(col), anki_notes);
    assert_eq!(our_cards(col), project(&anki["cards"], CARD_KEYS));
    assert_eq!(
        our_revlog(col),
        project(
            &anki["revlog"],
            &[
                "id", "cid", "ease", "ivl", "lastIvl", "factor", "time", "type"
            ]
        )
    );
}

fn no_starter() -> CreateOptions {
    CreateOptions {
        starter_deck: false,
        ..CreateOptions::default()
    }
}

/// A collection our engine wrote, with cards in every state and a review history.
fn studied_collection() -> Collection {
    let clock = ManualClock::new(T0);
    let col = Collection::create_in_memory(clock.clone(), &CreateOptions::default()).unwrap();
    let grammar = col.create_deck("Grammar").unwrap().id;
    let advanced = col.create_deck("Grammar::Advanced").unwrap().id;
    let mut ids = Vec::new();
    for i in 0..8 {
        let deck = if i % 2 == 0 { grammar } else { advanced };
        ids.push(
            col.add_card(
                &format!("front <b>{i}</b>"),
                &format!("back {i}"),
                Some(deck),
            )
            .unwrap()
            .card_id,
        );
    }
    // learning: Good once
    col.answer_card(ids[0], 3, Some(4000)).unwrap();
    // review: Easy
    col.answer_card(ids[1], 4, Some(3000)).unwrap();
    // two more reviews: graduate now, then answer later
    col.answer_card(ids[2], 4, Some(2000)).unwrap();
    col.answer_card(ids[3], 4, Some(2000)).unwrap();
    col.answer_card(ids[4], 3, None).unwrap();
    clock.advance_ms(10 * 60 * 1000);
    col.answer_card(ids[4], 3, Some(120_000)).unwrap(); // graduates (time capped at maxTaken)
    clock.advance_ms(6 * DAY_MS);
    col.answer_card(ids[2], 2, Some(5000)).unwrap(); // hard review
    col.answer_card(ids[3], 1, Some(7000)).unwrap(); // lapse → relearning
    col.answer_card(ids[4], 3, Some(1000)).unwrap(); // good review
    // ids[5..] stay new
    col
}

#[test]
fn engine_export_imports_into_anki_unchanged() {
    let col = studied_collection();
    let types: Vec<i64> = our_cards(&col)
        .iter()
        .map(|c| c["type"].as_i64().unwrap())
        .collect();
    for t in 0..=3 {
        assert!(types.contains(&t), "fixture lacks card type {t}: {types:?}");
    }
    let anki = anki_check_bytes(&export_apkg(&col).unwrap());
    assert_eq!(anki["package"]["inner_col"]["ver"], 11);
    assert_eq!(anki["package"]["inner_col"]["schedVer"], 2);
    assert_same_as_anki(&col, &anki);
    assert!(anki["revlog"].as_array().unwrap().len() >= 9);
}

#[test]
fn fresh_collection_imports_cleanly() {
    let col =
        Collection::create_in_memory(Arc::new(SystemClock), &CreateOptions::default()).unwrap();
    let anki = anki_check_bytes(&export_apkg(&col).unwrap());
    assert_same_as_anki(&col, &anki);
    assert!(
        anki["decks"]
            .as_array()
            .unwrap()
            .contains(&json!("Verbal Tenses"))
    );
    assert!(anki["notes_count"].as_i64().unwrap() >= 30);
}

/// A fresh target on the source's calendar (Anki's referee rebases its target the same way),
/// so day-based due dates are directly comparable.
fn target_with_crt_of(package: &Path) -> Collection {
    let col = Collection::create_in_memory(Arc::new(SystemClock), &no_starter()).unwrap();
    let anki = anki_check(package);
    let crt = anki["package"]["inner_col"]["crt"].as_i64().unwrap();
    col.conn()
        .execute("UPDATE col SET crt = ?1", [crt])
        .unwrap();
    col
}

/// Import `package` into our engine and compare with what Anki itself makes of it.
fn import_and_compare(package: &Path) -> Collection {
    let anki = anki_check(package);
    assert_clean(&anki);
    let col = target_with_crt_of(package);
    let summary = import_apkg(
        &col,
        &std::fs::read(package).unwrap(),
        &ImportLimits::default(),
    )
    .unwrap();

    assert_eq!(summary.notes as i64, anki["notes_count"].as_i64().unwrap());
    assert_eq!(summary.cards as i64, anki["cards_count"].as_i64().unwrap());
    assert_eq!(
        summary.revlog as i64,
        anki["revlog_count"].as_i64().unwrap()
    );
    let mut ours: Vec<String> = deck_names(&col).into_values().collect();
    ours.sort();
    let theirs: Vec<String> = anki["decks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ours, theirs);
    assert_eq!(
        our_notes(&col),
        project(&anki["notes"], &["guid", "fields", "tags"])
    );

    // Every field of every card matches, except new-card positions: we append after our
    // `nextPos` while Anki keeps the source's numbers, so compare their order instead.
    let strip_new_due = |cards: Vec<Value>| -> Vec<Value> {
        cards
            .into_iter()
            .map(|mut c| {
                if c["type"] == 0 {
                    c["due"] = json!("new");
                }
                c
            })
            .collect()
    };
    let theirs_cards = project(&anki["cards"], CARD_KEYS);
    assert_eq!(
        strip_new_due(our_cards(&col)),
        strip_new_due(theirs_cards.clone())
    );
    let new_order = |cards: &[Value]| {
        let mut v: Vec<(i64, i64)> = cards
            .iter()
            .filter(|c| c["type"] == 0)
            .map(|c| (c["due"].as_i64().unwrap(), c["id"].as_i64().unwrap()))
            .collect();
        v.sort();
        v.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
    };
    assert_eq!(new_order(&our_cards(&col)), new_order(&theirs_cards));
    assert_eq!(
        our_revlog(&col),
        project(
            &anki["revlog"],
            &[
                "id", "cid", "ease", "ivl", "lastIvl", "factor", "time", "type"
            ]
        )
    );
    col
}

#[test]
fn official_and_genanki_packages_import_like_anki_and_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (official, genanki) = make_packages(dir.path());

    let col = import_and_compare(&official);
    let states: Vec<(i64, i64)> = our_cards(&col)
        .iter()
        .map(|c| (c["type"].as_i64().unwrap(), c["queue"].as_i64().unwrap()))
        .collect();
    for wanted in [(0, 0), (1, 1), (1, 3), (2, 2), (3, 1), (2, -1)] {
        assert!(
            states.contains(&wanted),
            "official fixture lacks (type, queue) {wanted:?}: {states:?}"
        );
    }
    // Round trip: our export of what we imported goes back into Anki unchanged.
    assert_same_as_anki(&col, &anki_check_bytes(&export_apkg(&col).unwrap()));

    let col = import_and_compare(&genanki);
    assert!(deck_names(&col).values().any(|n| n == "Genanki Deck"));
    assert_same_as_anki(&col, &anki_check_bytes(&export_apkg(&col).unwrap()));

    // Both packages into one collection that already has content: everything lands once.
    let clock = ManualClock::new(T0);
    let col = Collection::create_in_memory(clock, &CreateOptions::default()).unwrap();
    let before = our_cards(&col).len();
    let a = import_apkg(
        &col,
        &std::fs::read(&official).unwrap(),
        &ImportLimits::default(),
    )
    .unwrap();
    let b = import_apkg(
        &col,
        &std::fs::read(&genanki).unwrap(),
        &ImportLimits::default(),
    )
    .unwrap();
    let again = import_apkg(
        &col,
        &std::fs::read(&official).unwrap(),
        &ImportLimits::default(),
    )
    .unwrap();
    assert_eq!((again.notes, again.cards, again.revlog), (0, 0, 0));
    assert_eq!(our_cards(&col).len(), before + a.cards + b.cards);
    let anki = anki_check_bytes(&export_apkg(&col).unwrap());
    assert_same_as_anki(&col, &anki);
}

#[test]
fn referee_is_installed() {
    // A missing referee must fail loudly, not skip (see `anki_python`).
    assert!(anki_python().exists());
    assert!(workspace_root().join("tests/oracle/apkg_check.py").exists());
}

/// Without rebasing, Anki moves day-based due dates by `source_today - target_today`; our
/// import must leave every card the same number of days from "today" as Anki does.
#[test]
fn day_based_due_dates_follow_the_target_calendar_like_anki() {
    let dir = tempfile::tempdir().unwrap();
    let (official, _) = make_packages(dir.path());
    let out = run_oracle(
        "apkg_check.py",
        &[official.to_str().unwrap(), "--no-rebase-crt"],
        "",
    );
    let anki: Value = serde_json::from_str(&out).unwrap();
    assert_clean(&anki);
    let anki_today = anki["today"].as_i64().unwrap();
    let src_crt = anki["package"]["inner_col"]["crt"].as_i64().unwrap();
    assert!(
        anki["crt"].as_i64().unwrap() - src_crt >= 5 * 86_400,
        "fixture crt is not backdated"
    );

    let col = Collection::create_in_memory(Arc::new(SystemClock), &no_starter()).unwrap();
    import_apkg(
        &col,
        &std::fs::read(&official).unwrap(),
        &ImportLimits::default(),
    )
    .unwrap();
    let crt: i64 = col
        .conn()
        .query_row("SELECT crt FROM col", [], |r| r.get(0))
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let our_today = (now - crt).div_euclid(86_400);

    let relative = |cards: Vec<Value>, today: i64| -> Vec<(i64, i64)> {
        cards
            .iter()
            .filter(|c| c["queue"] == 2 || c["queue"] == 3 || c["type"] == 2)
            .map(|c| {
                (
                    c["id"].as_i64().unwrap(),
                    c["due"].as_i64().unwrap() - today,
                )
            })
            .collect()
    };
    let ours = relative(our_cards(&col), our_today);
    assert!(ours.len() >= 4);
    assert_eq!(
        ours,
        relative(project(&anki["cards"], CARD_KEYS), anki_today)
    );
}

/// Anki's default (modern) export of the same collection imports exactly as its legacy export
/// does (our schema 18 → 11 conversion equals Anki's legacy writer), and our modern export is
/// imported by Anki cleanly with the same content.
#[test]
fn modern_package_imports_like_the_legacy_one_and_our_modern_export_opens_in_anki() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_oracle("make_packages.py", &[dir.path().to_str().unwrap()], "");
    let v: Value = serde_json::from_str(&out).unwrap();
    let legacy = PathBuf::from(v["official"].as_str().unwrap());
    let modern = PathBuf::from(v["official_modern"].as_str().unwrap());
    let from_legacy = target_with_crt_of(&legacy);
    let from_modern = target_with_crt_of(&legacy);
    let a = import_apkg(
        &from_legacy,
        &std::fs::read(&legacy).unwrap(),
        &ImportLimits::default(),
    )
    .unwrap();
    let b = import_apkg(
        &from_modern,
        &std::fs::read(&modern).unwrap(),
        &ImportLimits::default(),
    )
    .unwrap();
    assert_eq!((a.notes, a.cards, a.revlog), (b.notes, b.cards, b.revlog));
    assert!(b.notes > 0 && b.revlog > 0);
    assert_eq!(our_notes(&from_legacy), our_notes(&from_modern));
    assert_eq!(our_cards(&from_legacy), our_cards(&from_modern));
    assert_eq!(our_revlog(&from_legacy), our_revlog(&from_modern));

    let ours = javumbo_apkg::export_package(&from_modern, javumbo_apkg::ExportFormat::Modern, &[])
        .unwrap();
    let anki = anki_check_bytes(&ours);
    assert_clean(&anki);
    assert_eq!(anki["notes_count"].as_i64().unwrap(), b.notes as i64);
    assert_eq!(anki["cards_count"].as_i64().unwrap(), b.cards as i64);
    assert_eq!(anki["revlog_count"].as_i64().unwrap(), b.revlog as i64);
    // And back: our own modern export imports into a fresh javumbo collection unchanged.
    let again = target_with_crt_of(&legacy);
    import_apkg(&again, &ours, &ImportLimits::default()).unwrap();
    assert_eq!(our_notes(&again), our_notes(&from_modern));
    assert_eq!(our_revlog(&again), our_revlog(&from_modern));
}
