//! A copy of a collection that leaves javumbo the same day it was studied: official Anki
//! opens it (`tests/oracle/queue_oracle.py`, the deck list at the same instant) and must see
//! the daily limits javumbo sees — the new cards and reviews already studied here are not
//! offered again. Anki reads each deck's `newToday`/`revToday`; javumbo counts from the
//! revlog and writes the counters into every copy it hands out (`stamp_studied_today`).
//!
//! Custom study "increase today's limit" lowers a deck's counters in Anki; javumbo keeps such
//! counters (`Collection::extend_limits`, and a restored Anki collection's own): refereed both
//! ways, javumbo's extension read by Anki in an export and Anki's read by javumbo in a restore.
//!
//! Run: `cargo test -p javumbo-tests --test export_counters_oracle -- --nocapture`

use std::io::Read;

use std::io::Write;

use javumbo_apkg::{ExportFormat, ImportLimits, Package, export_package};
use javumbo_collection::review::Study;
use javumbo_collection::{Clock, Collection, CreateOptions, ManualClock};
use javumbo_tests::run_oracle;
use serde_json::{Value, json};

/// 2024-03-05 12:00 UTC.
const NOON: i64 = 1_709_640_000;

/// A deck `Lang` with a subdeck `Lang::Verbs` holding 30 new cards, seven of them studied
/// from `Lang` today (easy: straight to review).
fn studied_collection(
    dir: &std::path::Path,
) -> (Collection, std::sync::Arc<ManualClock>, i64, i64) {
    let clock = ManualClock::new(NOON * 1000);
    let opts = CreateOptions {
        starter_deck: false,
        ..CreateOptions::default()
    };
    let col = Collection::create(&dir.join("c.anki2"), clock.clone(), &opts).unwrap();
    let parent = col.create_deck("Lang").unwrap().id;
    let child = col.create_deck("Lang::Verbs").unwrap().id;
    for i in 0..30 {
        col.add_card(&format!("q{i}"), "a", Some(child)).unwrap();
    }
    col.set_current_deck(parent).unwrap();
    clock.advance_ms(60_000);
    // Seven new cards studied today (easy: straight to review, out of today's queues).
    for _ in 0..7 {
        clock.advance_ms(10_000);
        let id = match col.next_card().unwrap() {
            Study::Card(c) => c.card_id,
            Study::Nothing(n) => panic!("nothing to study: {n:?}"),
        };
        col.answer_card(id, 4, None).unwrap();
    }
    clock.advance_ms(60_000);
    (col, clock, parent, child)
}

/// The collection file of a legacy package.
fn package_collection(bytes: Vec<u8>) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut copy = Vec::new();
    zip.by_name("collection.anki2")
        .unwrap()
        .read_to_end(&mut copy)
        .unwrap();
    copy
}

/// Anki's deck list at `at` on javumbo's export of `col` (a legacy package, written in `dir`).
fn anki_deck_list_on_export(col: &Collection, dir: &std::path::Path, name: &str, at: i64) -> Value {
    let path = dir.join("export.anki2");
    let bytes = export_package(col, ExportFormat::Legacy, &[]).unwrap();
    std::fs::write(&path, package_collection(bytes)).unwrap();
    let input = json!({
        "tz": "UTC",
        "scenarios": [{"name": name, "path": path, "steps": [{"at": at, "tree": true}]}],
    });
    let out: Value =
        serde_json::from_str(&run_oracle("queue_oracle.py", &[], &input.to_string())).unwrap();
    out["scenarios"][0]["steps"][0]["tree"].clone()
}

/// Anki's deck list (`tree` of the oracle's last step) against javumbo's, for `decks`.
fn assert_deck_list(anki_tree: &Value, col: &Collection, decks: &[i64], what: &str) {
    for &did in decks {
        let anki = &anki_tree[did.to_string()];
        let ours = col.due_counts(did).unwrap();
        assert_eq!(
            anki,
            &json!([ours.new, ours.learn, ours.review]),
            "deck {did}: Anki's deck list vs javumbo's ({what})"
        );
    }
}

#[test]
fn an_export_opened_the_same_day_keeps_todays_limits() {
    let dir = tempfile::tempdir().unwrap();
    let (col, clock, parent, child) = studied_collection(dir.path());
    let ours = col.due_counts(parent).unwrap();
    assert_eq!(ours.new, 13, "javumbo's own limit: 20 new a day, 7 studied");

    let tree = anki_deck_list_on_export(&col, dir.path(), "export", clock.now_secs());
    assert_deck_list(&tree, &col, &[parent, child], "on the export");
}

/// Custom study in javumbo: `Lang` +5 new cards today, `Lang::Verbs` +10 then -2 (v3: each
/// deck's own counters only). Anki opens the export the same day and lists the same counts.
#[test]
fn todays_limit_extended_here_is_anki_s_in_an_export() {
    let dir = tempfile::tempdir().unwrap();
    let (col, clock, parent, child) = studied_collection(dir.path());
    col.extend_limits(parent, 5, 0).unwrap();
    assert_eq!(
        col.due_counts(parent).unwrap().new,
        13,
        "the subdeck's own limit still caps its cards"
    );
    col.extend_limits(child, 10, 0).unwrap();
    col.extend_limits(child, -2, 0).unwrap();
    assert_eq!(col.due_counts(child).unwrap().new, 21, "20 - 7 + 10 - 2");
    assert_eq!(col.due_counts(parent).unwrap().new, 18, "20 - 7 + 5");
    // Two more studied after the extension count on top of the extended counters.
    for _ in 0..2 {
        clock.advance_ms(10_000);
        let id = match col.next_card().unwrap() {
            Study::Card(c) => c.card_id,
            Study::Nothing(n) => panic!("nothing to study: {n:?}"),
        };
        col.answer_card(id, 4, None).unwrap();
    }
    assert_eq!(col.due_counts(parent).unwrap().new, 16);
    assert_eq!(col.due_counts(child).unwrap().new, 19);
    // Out of range, or a deck that is not there: refused, nothing changed.
    assert!(col.extend_limits(child, 10_000, 0).is_err());
    assert!(col.extend_limits(424_242, 5, 0).is_err());
    assert_eq!(col.due_counts(child).unwrap().new, 19);

    clock.advance_ms(60_000);
    let tree = anki_deck_list_on_export(&col, dir.path(), "extended here", clock.now_secs());
    assert_deck_list(&tree, &col, &[parent, child], "extended in javumbo");
}

/// Custom study in Anki (its own dialog's request), then the collection restored into javumbo
/// the same day (`.colpkg`): javumbo keeps Anki's counters, extension included, and counts
/// its own answers on top, as Anki would.
#[test]
fn todays_limit_extended_in_anki_holds_after_a_restore() {
    let dir = tempfile::tempdir().unwrap();
    let (col, clock, parent, child) = studied_collection(dir.path());
    let start = dir.path().join("start.anki2");
    let bytes = export_package(&col, ExportFormat::Legacy, &[]).unwrap();
    std::fs::write(&start, package_collection(bytes)).unwrap();
    let saved = dir.path().join("from-anki.anki2");
    let t = clock.now_secs();
    let input = json!({
        "tz": "UTC",
        "scenarios": [{
            "name": "extended in Anki",
            "path": start,
            "save_to": saved,
            "steps": [
                {"at": t, "deck": parent, "extend": {"deck": parent, "new": 5}},
                {"at": t + 1, "extend": {"deck": child, "new": 10}},
                {"at": t + 2, "ease": 4},
                {"at": t + 3, "tree": true},
            ],
        }],
    });
    let out: Value =
        serde_json::from_str(&run_oracle("queue_oracle.py", &[], &input.to_string())).unwrap();
    let anki_tree = out["scenarios"][0]["steps"][3]["tree"].clone();
    assert_eq!(
        anki_tree[child.to_string()][0],
        json!(22),
        "Anki: 20 - 8 + 10"
    );

    // The same instant, in a fresh javumbo collection restored from Anki's file.
    let mut colpkg = Vec::new();
    {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut colpkg));
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("collection.anki2", opts).unwrap();
        zip.write_all(&std::fs::read(&saved).unwrap()).unwrap();
        zip.start_file("media", opts).unwrap();
        zip.write_all(b"{}").unwrap();
        zip.finish().unwrap();
    }
    clock.advance_ms(3_000);
    let opts = CreateOptions {
        starter_deck: false,
        ..CreateOptions::default()
    };
    let restored =
        Collection::create(&dir.path().join("restored.anki2"), clock.clone(), &opts).unwrap();
    Package::open(&colpkg, &ImportLimits::default())
        .unwrap()
        .replace_collection(&restored)
        .unwrap();
    assert_deck_list(
        &anki_tree,
        &restored,
        &[parent, child],
        "restored from Anki",
    );

    // One more new card studied in javumbo counts on top of Anki's counters.
    clock.advance_ms(10_000);
    restored.set_current_deck(parent).unwrap();
    let id = match restored.next_card().unwrap() {
        Study::Card(c) => c.card_id,
        Study::Nothing(n) => panic!("nothing to study: {n:?}"),
    };
    restored.answer_card(id, 4, None).unwrap();
    assert_eq!(restored.due_counts(child).unwrap().new, 21);
    assert_eq!(restored.due_counts(parent).unwrap().new, 16, "20 - 9 + 5");
}
