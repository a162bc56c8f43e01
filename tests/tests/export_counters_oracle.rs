//! A copy of a collection that leaves javumbo the same day it was studied: official Anki
//! opens it (`tests/oracle/queue_oracle.py`, the deck list at the same instant) and must see
//! the daily limits javumbo sees — the new cards and reviews already studied here are not
//! offered again. Anki reads each deck's `newToday`/`revToday`; javumbo counts from the
//! revlog and writes the counters into every copy it hands out (`stamp_studied_today`).
//!
//! Run: `cargo test -p javumbo-tests --test export_counters_oracle -- --nocapture`

use std::io::Read;

use javumbo_apkg::{ExportFormat, export_package};
use javumbo_collection::review::Study;
use javumbo_collection::{Clock, Collection, CreateOptions, ManualClock};
use javumbo_tests::run_oracle;
use serde_json::{Value, json};

/// 2024-03-05 12:00 UTC.
const NOON: i64 = 1_709_640_000;

#[test]
fn an_export_opened_the_same_day_keeps_todays_limits() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(NOON * 1000);
    let opts = CreateOptions {
        starter_deck: false,
        ..CreateOptions::default()
    };
    let col = Collection::create(&dir.path().join("c.anki2"), clock.clone(), &opts).unwrap();
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
    let ours = col.due_counts(parent).unwrap();
    assert_eq!(ours.new, 13, "javumbo's own limit: 20 new a day, 7 studied");

    let bytes = export_package(&col, ExportFormat::Legacy, &[]).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut copy = Vec::new();
    zip.by_name("collection.anki2")
        .unwrap()
        .read_to_end(&mut copy)
        .unwrap();
    let path = dir.path().join("export.anki2");
    std::fs::write(&path, copy).unwrap();

    let input = json!({
        "tz": "UTC",
        "scenarios": [{
            "name": "export",
            "path": path,
            "steps": [{"at": clock.now_secs(), "ease": 3, "tree": true}],
        }],
    });
    let out: Value =
        serde_json::from_str(&run_oracle("queue_oracle.py", &[], &input.to_string())).unwrap();
    let tree = &out["scenarios"][0]["steps"][0]["tree"];
    for did in [parent, child] {
        let anki = &tree[did.to_string()];
        let ours = col.due_counts(did).unwrap();
        assert_eq!(
            anki,
            &json!([ours.new, ours.learn, ours.review]),
            "deck {did}: Anki's deck list on the export vs javumbo's"
        );
    }
}
