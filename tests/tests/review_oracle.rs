//! End-to-end review scenarios through `Collection::answer_card` on a real collection under a
//! `ManualClock`, refereed by the official `anki` package (`tests/oracle/engine_oracle.py`, which
//! replays the same answers at the same instants in real Anki under libfaketime).
//!
//! For every answer we compare the whole card row Anki wrote (type, queue, due, ivl, factor,
//! reps, lapses, left, odue, odid, mod, usn, data) plus the note's tags, and the revlog row
//! (id = answer time in ms, cid, usn, ease, ivl, lastIvl, factor, time capped at maxTaken, type).
//! Fuzz is on: the engine must reproduce Anki's seeded fuzz exactly.

use javumbo_collection::{Collection, CreateOptions, ManualClock};
use javumbo_tests::run_oracle;
use serde_json::{Value, json};

const START: i64 = 1_704_110_400; // 2024-01-01 12:00:00 UTC

/// One answer: button, gap since the previous answer (or the start), time taken.
#[derive(Clone, Copy)]
struct A {
    ease: i64,
    days: i64,
    secs: i64,
    taken_ms: i64,
}

fn a(ease: i64, days: i64, secs: i64) -> A {
    A {
        ease,
        days,
        secs,
        taken_ms: 3000,
    }
}

struct Scenario {
    name: String,
    start: i64,
    card_id: i64,
    config: Value,
    initial: Option<Value>,
    answers: Vec<A>,
}

impl Scenario {
    fn new(name: &str, answers: Vec<A>) -> Self {
        Self {
            name: name.to_string(),
            start: START,
            card_id: START * 1000 + 17,
            config: json!({}),
            initial: None,
            answers,
        }
    }
    fn config(mut self, c: Value) -> Self {
        self.config = c;
        self
    }
    fn start(mut self, s: i64) -> Self {
        self.start = s;
        self
    }
    fn initial(mut self, i: Value) -> Self {
        self.initial = Some(i);
        self
    }
    fn card_id(mut self, id: i64) -> Self {
        self.card_id = id;
        self
    }

    fn to_oracle(&self) -> Value {
        let mut v = json!({
            "name": self.name,
            "start": self.start,
            "card_id": self.card_id,
            "config": self.config,
            "answers": self.answers.iter().map(|a| json!({
                "ease": a.ease, "days_later": a.days, "seconds_later": a.secs, "taken_ms": a.taken_ms
            })).collect::<Vec<_>>(),
        });
        if let Some(i) = &self.initial {
            v["initial"] = i.clone();
        }
        v
    }
}

fn hand_written() -> Vec<Scenario> {
    vec![
        Scenario::new("good path", vec![a(3, 0, 0), a(3, 0, 600), a(3, 1, 0), a(3, 3, 0), a(3, 8, 0), a(3, 20, 0)]),
        Scenario::new("again in learning", vec![a(1, 0, 0), a(1, 0, 60), a(2, 0, 60), a(3, 0, 400), a(3, 0, 700)]),
        Scenario::new("hard first step", vec![a(2, 0, 0), a(2, 0, 330), a(3, 0, 330), a(4, 0, 700)]),
        Scenario::new("easy new card", vec![a(4, 0, 0), a(4, 4, 0), a(2, 10, 0), a(3, 12, 0)]),
        Scenario::new("lapse and relearn", vec![a(4, 0, 0), a(3, 5, 0), a(1, 12, 0), a(3, 0, 700), a(3, 1, 0)]),
        Scenario::new("relearn again and easy", vec![a(4, 0, 0), a(1, 5, 0), a(1, 0, 650), a(2, 0, 650), a(4, 0, 900)]),
        Scenario::new("very late review", vec![a(4, 0, 0), a(3, 60, 0), a(4, 200, 0), a(2, 400, 0)]),
        Scenario::new("early review counts as on time", vec![a(4, 0, 0), a(3, 1, 0), a(3, 1, 0), a(4, 1, 0)]),
        Scenario::new("time taken is capped at maxTaken", {
            let mut v = vec![a(3, 0, 0), a(3, 0, 600)];
            v[0].taken_ms = 95_000;
            v[1].taken_ms = 60_001;
            v
        }),
        Scenario::new("zero time taken", {
            let mut v = vec![a(1, 0, 0), a(3, 0, 90)];
            v[0].taken_ms = 0;
            v
        }),
        Scenario::new("step crosses the rollover", vec![a(3, 0, 0), a(3, 0, 600), a(3, 1, 0)]).start(START - 8 * 3600 - 300),
        Scenario::new("answer just before rollover", vec![a(1, 0, 0), a(3, 0, 60), a(3, 0, 650)]).start(START + 15 * 3600 + 59 * 60),
        Scenario::new("no learning steps", vec![a(1, 0, 0), a(3, 2, 0), a(1, 3, 0), a(3, 0, 700)])
            .config(json!({"learn_steps": []})),
        Scenario::new("single learning step", vec![a(2, 0, 0), a(2, 0, 400), a(3, 0, 400), a(3, 1, 0)])
            .config(json!({"learn_steps": [5]})),
        Scenario::new("day-long learning steps", vec![a(3, 0, 0), a(3, 0, 600), a(3, 0, 3600), a(3, 1, 0), a(3, 2, 0)])
            .config(json!({"learn_steps": [1, 10, 60, 1440]})),
        Scenario::new("two-day step", vec![a(3, 0, 0), a(2, 2, 0), a(3, 2, 0)]).config(json!({"learn_steps": [2880]})),
        Scenario::new("custom graduating intervals", vec![a(3, 0, 0), a(3, 0, 600), a(3, 3, 0), a(4, 0, 0)])
            .config(json!({"graduating_ivl": 3, "easy_ivl": 7})),
        Scenario::new("low starting ease", vec![a(4, 0, 0), a(2, 4, 0), a(2, 5, 0), a(1, 6, 0), a(3, 0, 700), a(3, 2, 0)])
            .config(json!({"initial_ease": 1.8})),
        Scenario::new("hard multiplier below 1", vec![a(4, 0, 0), a(2, 4, 0), a(3, 4, 0), a(2, 9, 0)])
            .config(json!({"hard_mult": 0.8})),
        Scenario::new("hard multiplier exactly 1", vec![a(4, 0, 0), a(2, 4, 0), a(3, 4, 0)]).config(json!({"hard_mult": 1.0})),
        Scenario::new("big easy bonus and interval modifier", vec![a(4, 0, 0), a(4, 4, 0), a(3, 10, 0), a(2, 30, 0)])
            .config(json!({"easy_bonus": 2.0, "ivl_mod": 1.5})),
        Scenario::new("small interval modifier", vec![a(4, 0, 0), a(3, 4, 0), a(3, 7, 0)]).config(json!({"ivl_mod": 0.6})),
        Scenario::new("max interval", vec![a(4, 0, 0), a(4, 4, 0), a(4, 15, 0), a(4, 40, 0)]).config(json!({"max_ivl": 30})),
        Scenario::new("no relearning steps", vec![a(4, 0, 0), a(1, 5, 0), a(3, 1, 0)]).config(json!({"relearn_steps": []})),
        Scenario::new("two relearning steps", vec![a(4, 0, 0), a(1, 5, 0), a(3, 0, 700), a(2, 1, 0), a(3, 1, 0)])
            .config(json!({"relearn_steps": [10, 1440]})),
        Scenario::new("lapse multiplier and minimum", vec![a(4, 0, 0), a(4, 5, 0), a(1, 20, 0), a(3, 0, 700)])
            .config(json!({"lapse_mult": 0.5, "min_ivl": 3})),
        Scenario::new("leech tag", vec![a(4, 0, 0), a(1, 4, 0), a(3, 0, 700), a(1, 1, 0), a(3, 0, 700), a(1, 1, 0), a(3, 0, 700), a(1, 1, 0)])
            .config(json!({"leech_fails": 2, "leech_action": 1})),
        Scenario::new("leech suspends", vec![a(4, 0, 0), a(1, 4, 0), a(3, 0, 700), a(1, 1, 0)])
            .config(json!({"leech_fails": 2, "leech_action": 0})),
        Scenario::new("mature review", vec![a(3, 0, 0), a(2, 3, 0), a(4, 300, 0)])
            .initial(json!({"type": 2, "queue": 2, "ivl": 200, "factor": 2500, "reps": 12, "lapses": 1, "left": 0, "due_days": 0})),
        Scenario::new("ease at the floor", vec![a(1, 0, 0), a(3, 0, 700), a(2, 2, 0)])
            .initial(json!({"type": 2, "queue": 2, "ivl": 15, "factor": 1300, "reps": 9, "lapses": 3, "left": 0, "due_days": -2})),
        Scenario::new("overdue review card", vec![a(3, 0, 0), a(3, 10, 0)])
            .initial(json!({"type": 2, "queue": 2, "ivl": 10, "factor": 2300, "reps": 5, "lapses": 0, "left": 0, "due_days": -15})),
        Scenario::new("relearning card from state", vec![a(2, 0, 0), a(3, 0, 700)])
            .initial(json!({"type": 3, "queue": 1, "ivl": 1, "factor": 2100, "reps": 7, "lapses": 2, "left": 1, "due_secs": 0})),
        Scenario::new("day-learning card from state", vec![a(3, 0, 0), a(3, 1, 0)])
            .config(json!({"learn_steps": [1, 1440, 2880]}))
            .initial(json!({"type": 1, "queue": 3, "ivl": 0, "factor": 0, "reps": 2, "lapses": 0, "left": 2, "due_days": 0})),
        Scenario::new("leech threshold from state", vec![a(1, 0, 0)])
            .initial(json!({"type": 2, "queue": 2, "ivl": 30, "factor": 2000, "reps": 25, "lapses": 7, "left": 0, "due_days": 0})),
        Scenario::new("different card id changes fuzz", vec![a(4, 0, 0), a(3, 4, 0), a(3, 10, 0)]).card_id(1_650_000_000_123),
    ]
}

/// Deterministic pseudo-random scenarios (xorshift), so a failure always reproduces.
fn generated(n: usize) -> Vec<Scenario> {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |m: u64| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s % m
    };
    let configs = [
        json!({}),
        json!({"learn_steps": [1, 10, 60], "relearn_steps": [10, 60]}),
        json!({"initial_ease": 2.1, "hard_mult": 1.1, "easy_bonus": 1.5}),
        json!({"ivl_mod": 1.3, "max_ivl": 120, "lapse_mult": 0.3, "min_ivl": 2}),
        json!({"learn_steps": [3], "graduating_ivl": 2, "easy_ivl": 5, "leech_fails": 3}),
    ];
    (0..n)
        .map(|i| {
            let answers = (0..3 + next(7))
                .map(|_| {
                    let ease = match next(100) {
                        0..=19 => 1,
                        20..=34 => 2,
                        35..=84 => 3,
                        _ => 4,
                    } as i64;
                    let (days, secs) = if next(10) < 4 {
                        (0, 30 + next(1500) as i64)
                    } else {
                        (next(46) as i64, next(3600) as i64)
                    };
                    A {
                        ease,
                        days,
                        secs,
                        taken_ms: next(100_000) as i64,
                    }
                })
                .collect();
            let mut sc = Scenario::new(&format!("generated {i}"), answers);
            sc.config = configs[i % configs.len()].clone();
            sc.card_id = START * 1000 + next(1_000_000) as i64;
            sc.start = START + next(86_400) as i64 - 43_200;
            sc
        })
        .collect()
}

/// Our deck options = the oracle's `config` (defaults are Anki's stock values in both).
fn apply_config(col: &Collection, config: &Value) {
    let dconf_text: String = col
        .conn()
        .query_row("SELECT dconf FROM col", [], |r| r.get(0))
        .unwrap();
    let mut dconf: Value = serde_json::from_str(&dconf_text).unwrap();
    let c = &mut dconf["1"];
    let set = |c: &mut Value, path: (&str, &str), v: Option<&Value>| {
        if let Some(v) = v {
            c[path.0][path.1] = v.clone();
        }
    };
    set(c, ("new", "delays"), config.get("learn_steps"));
    set(
        c,
        ("new", "initialFactor"),
        config
            .get("initial_ease")
            .map(|e| json!((e.as_f64().unwrap() * 1000.0).round() as i64))
            .as_ref(),
    );
    set(c, ("rev", "hardFactor"), config.get("hard_mult"));
    set(c, ("rev", "ease4"), config.get("easy_bonus"));
    set(c, ("rev", "ivlFct"), config.get("ivl_mod"));
    set(c, ("rev", "maxIvl"), config.get("max_ivl"));
    set(c, ("lapse", "delays"), config.get("relearn_steps"));
    set(c, ("lapse", "mult"), config.get("lapse_mult"));
    set(c, ("lapse", "minInt"), config.get("min_ivl"));
    set(c, ("lapse", "leechFails"), config.get("leech_fails"));
    set(c, ("lapse", "leechAction"), config.get("leech_action"));
    let grad = config
        .get("graduating_ivl")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let easy = config.get("easy_ivl").and_then(Value::as_i64).unwrap_or(4);
    c["new"]["ints"] = json!([grad, easy, 0]);
    col.conn()
        .execute("UPDATE col SET dconf = ?1", [dconf.to_string()])
        .unwrap();
}

const CARD_COLS: [&str; 13] = [
    "type", "queue", "ivl", "due", "factor", "left", "lapses", "reps", "odue", "odid", "data",
    "mod", "usn",
];
const REVLOG_COLS: [&str; 9] = [
    "id", "cid", "usn", "ease", "ivl", "lastIvl", "factor", "time", "type",
];

fn row_json(col: &Collection, sql: &str, cols: &[&str], id: i64) -> Value {
    col.conn()
        .query_row(sql, [id], |r| {
            let mut m = serde_json::Map::new();
            for (i, c) in cols.iter().enumerate() {
                let v: rusqlite::types::Value = r.get(i)?;
                m.insert(
                    c.to_string(),
                    match v {
                        rusqlite::types::Value::Integer(n) => json!(n),
                        rusqlite::types::Value::Text(t) => json!(t),
                        other => json!(format!("{other:?}")),
                    },
                );
            }
            Ok(Value::Object(m))
        })
        .unwrap()
}

/// Runs one scenario through the engine; returns a list of mismatch descriptions.
fn run_engine(sc: &Scenario, oracle: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let clock = ManualClock::new(sc.start * 1000);
    let opts = CreateOptions {
        starter_deck: false,
        ..CreateOptions::default()
    };
    let col = Collection::create_in_memory(clock.clone(), &opts).unwrap();
    let crt: i64 = col
        .conn()
        .query_row("SELECT crt FROM col", [], |r| r.get(0))
        .unwrap();
    if Some(crt) != oracle["crt"].as_i64() {
        problems.push(format!("crt {crt} != anki {}", oracle["crt"]));
    }
    apply_config(&col, &sc.config);
    let added = col.add_card("front", "back", None).unwrap();
    col.conn()
        .execute(
            "UPDATE cards SET id = ?1 WHERE id = ?2",
            [sc.card_id, added.card_id],
        )
        .unwrap();
    if let Some(init) = &sc.initial {
        let today = col.timing().unwrap().days_elapsed;
        for k in ["type", "queue", "ivl", "factor", "reps", "lapses", "left"] {
            if let Some(v) = init[k].as_i64() {
                col.conn()
                    .execute(
                        &format!("UPDATE cards SET {k} = ?1 WHERE id = ?2"),
                        [v, sc.card_id],
                    )
                    .unwrap();
            }
        }
        let due = init["due_days"]
            .as_i64()
            .map(|d| today + d)
            .or(init["due_secs"].as_i64().map(|s| sc.start + s));
        if let Some(due) = due {
            col.conn()
                .execute("UPDATE cards SET due = ?1 WHERE id = ?2", [due, sc.card_id])
                .unwrap();
        }
    }

    let steps = oracle["steps"].as_array().unwrap();
    assert_eq!(
        steps.len(),
        sc.answers.len(),
        "{}: the oracle answered a different number of times",
        sc.name
    );
    let mut now = sc.start;
    for (i, (ans, step)) in sc.answers.iter().zip(steps).enumerate() {
        now += ans.days * 86_400 + ans.secs;
        assert_eq!(
            Some(now),
            step["now"].as_i64(),
            "{}: step {i} time",
            sc.name
        );
        clock.set_secs(now);
        let result = match col.answer_card(sc.card_id, ans.ease, Some(ans.taken_ms)) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("step {i}: engine refused the answer: {e}"));
                break;
            }
        };
        let card = row_json(
            &col,
            &format!("SELECT {} FROM cards WHERE id = ?1", CARD_COLS.join(", ")),
            &CARD_COLS,
            sc.card_id,
        );
        for c in CARD_COLS {
            if card[c] != step["after"][c] {
                problems.push(format!(
                    "step {i} (ease {}): card.{c} = {} but anki {}",
                    ans.ease, card[c], step["after"][c]
                ));
            }
        }
        let tags: String = col
            .conn()
            .query_row(
                "SELECT n.tags FROM notes n JOIN cards c ON c.nid = n.id WHERE c.id = ?1",
                [sc.card_id],
                |r| r.get(0),
            )
            .unwrap();
        if json!(tags) != step["after"]["tags"] {
            problems.push(format!(
                "step {i}: note tags {tags:?} but anki {}",
                step["after"]["tags"]
            ));
        }
        let revlog = row_json(
            &col,
            &format!(
                "SELECT {} FROM revlog WHERE cid = ?1 ORDER BY id DESC LIMIT 1",
                REVLOG_COLS.join(", ")
            ),
            &REVLOG_COLS,
            sc.card_id,
        );
        for c in REVLOG_COLS {
            if revlog[c] != step["revlog"][c] {
                problems.push(format!(
                    "step {i} (ease {}): revlog.{c} = {} but anki {}",
                    ans.ease, revlog[c], step["revlog"][c]
                ));
            }
        }
        if result.queue != card["queue"].as_i64().unwrap()
            || result.interval_days != card["ivl"].as_i64().unwrap()
        {
            problems.push(format!(
                "step {i}: AnswerResult {result:?} disagrees with the card row"
            ));
        }
    }
    problems
}

#[test]
fn answer_card_matches_official_anki() {
    let mut scenarios = hand_written();
    scenarios.extend(generated(30));
    assert!(scenarios.len() >= 40);
    // Each scenario is a fresh Anki process (~1 s): referee two halves in parallel.
    let half = scenarios.len().div_ceil(2);
    let results: Vec<Value> = std::thread::scope(|s| {
        let jobs: Vec<_> = scenarios
            .chunks(half)
            .map(|chunk| {
                let input =
                    Value::Array(chunk.iter().map(Scenario::to_oracle).collect()).to_string();
                s.spawn(move || run_oracle("engine_oracle.py", &[], &input))
            })
            .collect();
        jobs.into_iter()
            .flat_map(
                |j| match serde_json::from_str::<Value>(&j.join().unwrap()).unwrap() {
                    Value::Array(v) => v,
                    other => panic!("unexpected oracle output {other}"),
                },
            )
            .collect()
    });
    assert_eq!(results.len(), scenarios.len());

    let mut failures = Vec::new();
    let mut answers = 0;
    for (sc, oracle) in scenarios.iter().zip(&results) {
        assert!(
            oracle.get("error").is_none(),
            "oracle failed on {}: {}",
            sc.name,
            oracle["error"]
        );
        answers += sc.answers.len();
        let problems = run_engine(sc, oracle);
        if !problems.is_empty() {
            failures.push(format!("{}:\n  {}", sc.name, problems.join("\n  ")));
        }
    }
    eprintln!(
        "{} scenarios, {answers} answers compared with anki",
        scenarios.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} scenarios differ from Anki:\n{}",
        failures.len(),
        scenarios.len(),
        failures.join("\n")
    );
}
