//! Burying, suspending and unburying refereed by the official `anki` package: a collection with
//! forward/reverse notes in every queue, a preset that buries new, review and interday-learning
//! siblings and suspends leeches, imported buried cards, then answers, card actions and day
//! rollovers replayed on javumbo's engine and in Anki (`tests/oracle/bury_oracle.py`) at the same
//! instants in Europe/Berlin; every card row and note's tags must match after every operation.
//!
//! Run: `cargo test -p javumbo-tests --test bury_oracle -- --nocapture`

use javumbo_collection::schema::stock_notetypes;
use javumbo_collection::{CardAction, ColJson, Collection, CreateOptions, ManualClock, TimeZone};
use javumbo_tests::run_oracle;
use rusqlite::params;
use serde_json::{Value, json};

const TZ: &str = "Europe/Berlin";
/// 2024-03-01 12:00 UTC: the collection's creation.
const CREATED: i64 = 1_709_294_400;
/// 2024-04-02 10:00 UTC: the study session (day 32).
const STUDY: i64 = 1_712_052_000;
const MID: i64 = 1_709_294_400_123;

/// Cards as (note, ord, type, queue, due (days from today, or seconds from STUDY for queue 1),
/// ivl, factor, reps, lapses, left).
type Row = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);

fn cards() -> Vec<Row> {
    vec![
        (1, 0, 2, 2, 0, 10, 2500, 5, 0, 0),
        (1, 1, 2, 2, -1, 12, 2500, 5, 0, 0),
        (2, 0, 0, 0, 1, 0, 0, 0, 0, 0),
        (2, 1, 0, 0, 2, 0, 0, 0, 0, 0),
        (3, 0, 3, 3, 0, 8, 2300, 9, 1, 1),
        (3, 1, 2, 2, 0, 20, 2500, 6, 0, 0),
        (4, 0, 2, 2, 0, 30, 2100, 12, 1, 0),
        (4, 1, 0, 0, 3, 0, 0, 0, 0, 0),
        // Arrived buried (scheduler and user) in an import: back at the first rollover.
        (5, 0, 2, -2, 0, 5, 2500, 3, 0, 0),
        (5, 1, 0, -3, 4, 0, 0, 0, 0, 0),
        (6, 0, 1, 1, -60, 0, 0, 1, 0, 1),
        (6, 1, 0, 0, 5, 0, 0, 0, 0, 0),
    ]
}

fn card_id(note: i64, ord: i64) -> i64 {
    1_700_000_000_000 + note * 10 + ord
}

fn build(path: &std::path::Path) -> i64 {
    let tz = TimeZone::parse(TZ).unwrap();
    let clock = ManualClock::new(CREATED * 1000);
    let opts = CreateOptions {
        utc_offset_minutes: tz.offset_east_minutes_at(CREATED),
        rollover_hour: 4,
        starter_deck: false,
    };
    let col = Collection::create(path, clock.clone(), &opts).unwrap();
    col.set_timezone(TZ).unwrap();
    // A forward/reverse note type.
    // Anki's stock "Basic (and reversed card)", under id MID.
    let mut nt = stock_notetypes(MID).unwrap().swap_remove(1);
    assert_eq!(nt["name"], json!("Basic (and reversed card)"));
    nt["id"] = json!(MID);
    let mut models = col.read_json(ColJson::Models).unwrap();
    models.insert(MID.to_string(), nt);
    col.write_json(ColJson::Models, &models).unwrap();

    let mut p = col.preset(1).unwrap();
    p.bury_new = true;
    p.bury_reviews = true;
    p.bury_interday_learning = true;
    p.leech_action = 0;
    p.leech_threshold = 2;
    col.update_preset(&p).unwrap();

    clock.set_secs(STUDY);
    let today = col.timing().unwrap().days_elapsed;
    for n in 1..=6 {
        col.conn()
            .execute(
                "INSERT INTO notes VALUES (?1, ?2, ?3, 0, -1, '', ?4, ?5, 0, 0, '')",
                params![
                    n,
                    format!("guid{n}"),
                    MID,
                    format!("front {n}\x1fback {n}"),
                    format!("front {n}")
                ],
            )
            .unwrap();
    }
    for (note, ord, ctype, queue, due, ivl, factor, reps, lapses, left) in cards() {
        let due = match queue {
            1 => STUDY + due,
            0 | -3 if ctype == 0 => due,
            _ => today + due,
        };
        col.conn()
            .execute(
                "INSERT INTO cards VALUES (?1, ?2, 1, ?3, 0, -1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, 0, 0, '{}')",
                params![card_id(note, ord), note, ord, ctype, queue, due, ivl, factor, reps, lapses, left],
            )
            .unwrap();
    }
    today
}

fn ops() -> Vec<Value> {
    let h = 3600;
    let next_rollover = 1_712_109_600; // 2024-04-03 02:00 UTC = 04:00 CEST
    vec![
        json!({"at": STUDY, "op": "study"}),
        json!({"at": STUDY + 10, "op": "answer", "card": card_id(1, 0), "ease": 3, "taken_ms": 4000}),
        json!({"at": STUDY + 20, "op": "answer", "card": card_id(2, 0), "ease": 3, "taken_ms": 4000}),
        json!({"at": STUDY + 30, "op": "answer", "card": card_id(3, 1), "ease": 3, "taken_ms": 4000}),
        json!({"at": STUDY + 40, "op": "answer", "card": card_id(6, 0), "ease": 3, "taken_ms": 4000}),
        json!({"at": STUDY + 50, "op": "answer", "card": card_id(4, 0), "ease": 1, "taken_ms": 4000}),
        json!({"at": STUDY + 60, "op": "bury", "card": card_id(3, 0)}),
        json!({"at": STUDY + 70, "op": "suspend", "card": card_id(2, 0)}),
        json!({"at": STUDY + 80, "op": "bury", "card": card_id(2, 0)}),
        json!({"at": STUDY + h, "op": "study"}),
        json!({"at": STUDY + h + 5, "op": "restore", "card": card_id(2, 0)}),
        json!({"at": STUDY + h + 6, "op": "suspend", "card": card_id(2, 0)}),
        json!({"at": next_rollover - 1, "op": "study"}),
        json!({"at": next_rollover + 60, "op": "study"}),
        json!({"at": next_rollover + 70, "op": "restore", "card": card_id(4, 0)}),
    ]
}

fn snapshot(col: &Collection) -> Value {
    let conn = col.conn();
    let mut stmt = conn
        .prepare("SELECT id, type, queue, due, ivl, factor, reps, lapses, left, mod, usn FROM cards ORDER BY id")
        .unwrap();
    let cards: Vec<Value> = stmt
        .query_map([], |r| {
            Ok(json!(
                (0..11)
                    .map(|i| r.get::<_, i64>(i))
                    .collect::<Result<Vec<_>, _>>()?
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut stmt = conn.prepare("SELECT id, tags FROM notes").unwrap();
    let tags: serde_json::Map<String, Value> = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?.to_string(),
                json!(r.get::<_, String>(1)?),
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    json!({"cards": cards, "tags": tags})
}

#[test]
fn burying_and_suspending_match_anki() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bury.anki2");
    build(&path);
    let input = json!({"path": path, "tz": TZ, "ops": ops()});
    let anki: Value =
        serde_json::from_str(&run_oracle("bury_oracle.py", &[], &input.to_string())).unwrap();

    let clock = ManualClock::new(STUDY * 1000);
    let col = Collection::open(&path, clock.clone()).unwrap();
    let mut mismatches = Vec::new();
    for (i, (op, want)) in ops()
        .iter()
        .zip(anki["steps"].as_array().unwrap())
        .enumerate()
    {
        clock.set_secs(op["at"].as_i64().unwrap());
        let card = op["card"].as_i64().unwrap_or(0);
        match op["op"].as_str().unwrap() {
            "study" => {
                col.next_card().unwrap();
            }
            "answer" => {
                col.answer_card(card, op["ease"].as_i64().unwrap(), op["taken_ms"].as_i64())
                    .unwrap();
            }
            "bury" => col.card_action(card, CardAction::Bury).unwrap(),
            "suspend" => col.card_action(card, CardAction::Suspend).unwrap(),
            "restore" => col.card_action(card, CardAction::Restore).unwrap(),
            other => panic!("unknown op {other}"),
        }
        let got = snapshot(&col);
        if &got != want {
            mismatches.push(format!("step {i} {op}:\n ours {got}\n anki {want}"));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
