//! `javumbo-scheduler` refereed by the official Anki package: ≥ 250 seeded random scenarios (deck
//! options across Anki's valid ranges, realistic and adversarial answer timing, leeches, forced
//! card ids), fuzz on, replayed through `tests/oracle/sm2_oracle.py`; every field of every answer
//! must match.
//!
//! Run: `cargo test -p javumbo-tests --test scheduler_oracle -- --nocapture`
//! (`SCHED_ORACLE_SEED=<u64>` and `SCHED_ORACLE_SCENARIOS=<n>` explore other scenario sets).

use javumbo_scheduler::{
    CardQueue, CardState, CardType, DeckConfig, Ease, answer, button_label, next_intervals, timing,
};
use javumbo_tests::run_oracle;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const DAY: i64 = 86_400;
const DEFAULT_SEED: u64 = 0x005e_eda1_1ce5;
const DEFAULT_SCENARIOS: usize = 300;
/// 2037-06-01: Anki keeps `due` in an i32, so learning due stamps wrap after 2038-01-19
/// (it would write negative `due`s; we don't model that overflow).
const LATEST: i64 = 2_127_427_200;

/// One generated scenario: what the oracle gets, plus what we feed our scheduler.
struct Scenario {
    json: Value,
    conf: DeckConfig,
    card_id: i64,
    answers: Vec<(Ease, i64, i64)>, // ease, seconds after previous answer, taken ms
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

/// A value with two decimals, so JSON → f32 in Anki and here round identically.
fn decimal(rng: &mut StdRng, lo: f64, hi: f64) -> f64 {
    let cents = rng.random_range((lo * 100.0).round() as i64..=(hi * 100.0).round() as i64);
    cents as f64 / 100.0
}

fn gen_steps(rng: &mut StdRng, max: usize) -> Vec<f64> {
    const POOL: [f64; 17] = [
        0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 180.0, 360.0, 720.0, 1440.0,
        2880.0, 4320.0,
    ];
    let n = if max == 3 {
        pick(rng, &[0, 1, 1, 2, 2, 2, 2, 3, 3])
    } else {
        pick(rng, &[0, 1, 1, 1, 2, 2])
    };
    let mut steps: Vec<f64> = (0..n)
        .map(|_| {
            if rng.random_bool(0.8) {
                pick(rng, &POOL)
            } else {
                decimal(rng, 0.25, 60.0)
            }
        })
        .collect();
    // Users nearly always enter ascending steps; Anki accepts any order, so sometimes keep it.
    if rng.random_bool(0.85) {
        steps.sort_by(f64::total_cmp);
    }
    steps
}

/// Random deck options within the ranges Anki's options screen allows, as dconf JSON.
fn gen_dconf(rng: &mut StdRng, leechy: bool) -> Value {
    let grad = if rng.random_bool(0.7) {
        1
    } else {
        rng.random_range(1..=30)
    };
    let easy = if rng.random_bool(0.6) {
        4
    } else {
        rng.random_range(1..=40)
    };
    let factor = if rng.random_bool(0.5) {
        2500
    } else {
        rng.random_range(1310..=5000)
    };
    let hard = if rng.random_bool(0.6) {
        1.2
    } else {
        decimal(rng, 0.5, 1.3)
    };
    let easy_bonus = if rng.random_bool(0.6) {
        1.3
    } else {
        decimal(rng, 1.0, 5.0)
    };
    let ivl_fct = if rng.random_bool(0.6) {
        1.0
    } else {
        decimal(rng, 0.5, 2.0)
    };
    let max_ivl = match rng.random_range(0..10) {
        0 => rng.random_range(1..=10),
        1 => rng.random_range(10..=400),
        _ => 36_500,
    };
    let mult = if rng.random_bool(0.6) {
        0.0
    } else {
        decimal(rng, 0.0, 1.0)
    };
    let min_int = if rng.random_bool(0.6) {
        1
    } else {
        rng.random_range(1..=20)
    };
    let leech_fails = if leechy {
        rng.random_range(1..=5)
    } else if rng.random_bool(0.7) {
        8
    } else {
        rng.random_range(1..=12)
    };
    json!({
        "maxTaken": rng.random_range(1..=120),
        "new": {"delays": gen_steps(rng, 3), "ints": [grad, easy, 0], "initialFactor": factor,
                "perDay": 9999},
        "rev": {"ease4": easy_bonus, "ivlFct": ivl_fct, "maxIvl": max_ivl, "hardFactor": hard,
                "perDay": 9999},
        "lapse": {"delays": gen_steps(rng, 2), "mult": mult, "minInt": min_int,
                  "leechFails": leech_fails, "leechAction": rng.random_range(0..=1)},
    })
}

/// The oracle's flat `config` object for a dconf.
fn oracle_config(d: &Value) -> Value {
    json!({
        "learn_steps": d["new"]["delays"], "graduating_ivl": d["new"]["ints"][0],
        "easy_ivl": d["new"]["ints"][1],
        "initial_ease": d["new"]["initialFactor"].as_f64().unwrap_or(2500.0) / 1000.0,
        "hard_mult": d["rev"]["hardFactor"], "easy_bonus": d["rev"]["ease4"],
        "ivl_mod": d["rev"]["ivlFct"], "max_ivl": d["rev"]["maxIvl"],
        "relearn_steps": d["lapse"]["delays"], "lapse_mult": d["lapse"]["mult"],
        "min_ivl": d["lapse"]["minInt"], "leech_fails": d["lapse"]["leechFails"],
        "leech_action": d["lapse"]["leechAction"], "max_taken": d["maxTaken"],
    })
}

fn gen_ease(rng: &mut StdRng, leechy: bool) -> Ease {
    let r = rng.random_range(0..100);
    let (again, hard, good) = if leechy { (55, 60, 95) } else { (15, 27, 92) };
    if r < again {
        Ease::Again
    } else if r < hard {
        Ease::Hard
    } else if r < good {
        Ease::Good
    } else {
        Ease::Easy
    }
}

/// Seconds to wait before the next answer, chosen around the card's due time: mostly on time,
/// sometimes early or (very) late, at random times of day so the 04:00 rollover gets crossed.
fn gen_gap(rng: &mut StdRng, card: &CardState, now: i64, today: i64) -> i64 {
    if rng.random_bool(0.08) {
        // anything from seconds to weeks, regardless of the due time
        let upper = pick(rng, &[120, DAY, 21 * DAY]);
        return rng.random_range(0..upper);
    }
    match card.queue {
        CardQueue::New => rng.random_range(0..60),
        CardQueue::Learn => {
            let wait = card.due - now;
            let jitter = match rng.random_range(0..10) {
                0 | 1 => -rng.random_range(0..=300),
                2..=6 => rng.random_range(0..120),
                7 | 8 => rng.random_range(120..7200),
                _ => rng.random_range(DAY..3 * DAY),
            };
            (wait + jitter).max(0)
        }
        CardQueue::Review | CardQueue::DayLearn => {
            let k = match rng.random_range(0..20) {
                0..=2 => -rng.random_range(1..=3),
                3..=12 => 0,
                13..=17 => rng.random_range(1..=5),
                _ => rng.random_range(6..=60),
            };
            let target_day = card.due + k;
            if target_day <= today {
                rng.random_range(0..3600)
            } else {
                ((target_day - today) * DAY + rng.random_range(-6 * 3600..6 * 3600)).max(60)
            }
        }
        _ => rng.random_range(3600..3 * DAY), // suspended leech: the user unsuspends later
    }
}

fn new_card(id: i64) -> CardState {
    CardState {
        id,
        ctype: CardType::New,
        queue: CardQueue::New,
        due: 1,
        ivl: 0,
        factor: 0,
        reps: 0,
        lapses: 0,
        left: 0,
    }
}

fn gen_scenario(rng: &mut StdRng, index: usize) -> Scenario {
    // 2024-01-01 .. 2025-12-31, any second of the day (≈ 8% start between 02:00 and 04:00)
    let start = 1_704_067_200 + rng.random_range(0..730) * DAY + rng.random_range(0..DAY);
    let leechy = index % 6 == 5;
    let card_id = match rng.random_range(0..10) {
        0 => rng.random_range(1..i64::MAX),
        1 => pick(rng, &[1, 1 << 53, i64::MAX - 3, i64::MAX]),
        _ => start * 1000,
    };
    let dconf = if index == 0 {
        json!({})
    } else {
        gen_dconf(rng, leechy)
    };
    let conf = DeckConfig::from_dconf_json(&dconf);
    let len = if leechy {
        rng.random_range(30..=60)
    } else {
        rng.random_range(3..=25)
    };

    // Choose gaps by simulating our own scheduler: inputs stay valid even if it were wrong.
    let crt = crt_for(start);
    let mut card = new_card(card_id);
    let mut now = start;
    let mut answers = Vec::with_capacity(len);
    for i in 0..len {
        let today = timing(crt, now, 4, 0).days_elapsed;
        let mut gap = if i == 0 {
            0
        } else {
            gen_gap(rng, &card, now, today)
        };
        if now + gap > LATEST {
            // Stay before Y2038 (see LATEST): answer early instead.
            gap = rng.random_range(0..=(LATEST - now).clamp(0, 30 * DAY));
        }
        now += gap;
        let ease = gen_ease(rng, leechy);
        let taken = rng.random_range(0..150_000);
        card = answer(&card, &conf, &timing(crt, now, 4, 0), ease, taken).card;
        answers.push((ease, gap, taken));
    }
    let json = json!({
        "name": format!("s{index}"),
        "start": start,
        "card_id": card_id,
        "config": if index == 0 { json!({}) } else { oracle_config(&dconf) },
        "answers": answers.iter().map(|&(e, gap, taken)| json!({
            "ease": i64::from(e), "seconds_later": gap, "taken_ms": taken,
        })).collect::<Vec<_>>(),
    });
    Scenario {
        json,
        conf,
        card_id,
        answers,
    }
}

/// Hand-picked edge cases, on top of the random ones.
fn fixed_scenarios() -> Vec<Scenario> {
    use Ease::{Again, Easy, Good, Hard};
    let noon = 1_704_110_400; // 2024-01-01 12:00 UTC
    let fixed = |name: &str, start: i64, card_id: i64, dconf: Value, answers: Vec<(Ease, i64)>| {
        let answers: Vec<(Ease, i64, i64)> =
            answers.into_iter().map(|(e, gap)| (e, gap, 0)).collect();
        Scenario {
            json: json!({
                "name": name, "start": start, "card_id": card_id, "config": oracle_config(&dconf),
                "answers": answers.iter().map(|&(e, gap, _)| json!({"ease": i64::from(e), "seconds_later": gap}))
                    .collect::<Vec<_>>(),
            }),
            conf: DeckConfig::from_dconf_json(&dconf),
            card_id,
            answers,
        }
    };
    let stock = |edit: &dyn Fn(&mut Value)| {
        let mut d = json!({
            "maxTaken": 60,
            "new": {"delays": [1.0, 10.0], "ints": [1, 4, 0], "initialFactor": 2500},
            "rev": {"ease4": 1.3, "ivlFct": 1.0, "maxIvl": 36500, "hardFactor": 1.2},
            "lapse": {"delays": [10.0], "mult": 0.0, "minInt": 1, "leechFails": 8, "leechAction": 1},
        });
        edit(&mut d);
        d
    };
    vec![
        // One card over 26 days with stock options (the scheduler crate's unit tests replay it
        // too, as `readme_example_table`).
        fixed(
            "readme",
            noon,
            noon * 1000,
            stock(&|_| {}),
            vec![
                (Good, 0),
                (Good, 600),
                (Good, DAY),
                (Hard, 3 * DAY),
                (Again, 4 * DAY),
                (Good, 600),
                (Easy, DAY),
                (Good, 5 * DAY),
                (Good, 12 * DAY),
            ],
        ),
        // Fuzz factor 0.99959 on a range collapsed at max_ivl: Anki's f32 arithmetic gives
        // max_ivl + 1 (30001).
        fixed(
            "f32-max-plus-one",
            noon,
            1_704_110_400_613,
            stock(&|d| {
                d["new"]["delays"] = json!([]);
                d["new"]["ints"] = json!([1, 30000, 0]);
                d["rev"]["maxIvl"] = json!(30000);
            }),
            vec![(Easy, 0), (Easy, DAY)],
        ),
        // 03:50: a 30 minute step reaches the 04:00 rollover and becomes day learning.
        fixed(
            "step-over-rollover",
            noon + 15 * 3600 + 50 * 60,
            77,
            stock(&|d| {
                d["new"]["delays"] = json!([1.0, 30.0, 1440.0]);
            }),
            vec![
                (Good, 0),
                (Good, 60),
                (Hard, DAY),
                (Good, 3600),
                (Good, 2 * DAY),
            ],
        ),
        // Hard on a single two-day step: 1.5× capped at +1 day, rounded to whole days.
        fixed(
            "single-long-step",
            noon,
            78,
            stock(&|d| {
                d["new"]["delays"] = json!([2880.0]);
                d["lapse"]["delays"] = json!([]);
            }),
            vec![
                (Hard, 0),
                (Hard, 3 * DAY),
                (Good, 3 * DAY),
                (Again, 2 * DAY),
                (Good, DAY),
            ],
        ),
    ]
}

/// A fresh collection created at `now` (TZ=UTC) has crt = 04:00 of its scheduling day.
fn crt_for(now: i64) -> i64 {
    let four = now.div_euclid(DAY) * DAY + 4 * 3600;
    if four > now { four - DAY } else { four }
}

/// Compares one answer; returns the first differing field.
fn compare_step(ours: &Value, anki: &Value) -> Option<String> {
    for group in ["timing", "after", "revlog"] {
        let (Some(o), Some(a)) = (ours[group].as_object(), anki[group].as_object()) else {
            return Some(format!("{group}: missing"));
        };
        for (k, v) in o {
            if a.get(k) != Some(v) {
                return Some(format!(
                    "{group}.{k}: ours {v}, anki {}",
                    a.get(k).unwrap_or(&Value::Null)
                ));
            }
        }
    }
    for key in ["leech", "labels"] {
        if ours[key] != anki[key] {
            return Some(format!("{key}: ours {}, anki {}", ours[key], anki[key]));
        }
    }
    None
}

#[test]
fn scheduler_matches_anki() {
    let started = std::time::Instant::now();
    let seed = std::env::var("SCHED_ORACLE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let count = std::env::var("SCHED_ORACLE_SCENARIOS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SCENARIOS);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut scenarios = fixed_scenarios();
    scenarios.extend((0..count).map(|i| gen_scenario(&mut rng, i)));
    let input = Value::Array(scenarios.iter().map(|s| s.json.clone()).collect()).to_string();
    if let Ok(path) = std::env::var("SCHED_ORACLE_DUMP") {
        std::fs::write(&path, &input).expect("write SCHED_ORACLE_DUMP");
    }
    let output: Value =
        serde_json::from_str(&run_oracle("sm2_oracle.py", &[], &input)).expect("oracle JSON");
    let results = output.as_array().expect("oracle list");
    assert_eq!(results.len(), scenarios.len());

    let (mut answers, mut mismatches, mut leeches) = (0usize, 0usize, 0usize);
    for (sc, res) in scenarios.iter().zip(results) {
        let crt = res["crt"].as_i64().expect("crt");
        assert_eq!(res["card_id"].as_i64(), Some(sc.card_id));
        let steps = res["steps"].as_array().expect("steps");
        assert_eq!(steps.len(), sc.answers.len());
        let mut card = new_card(sc.card_id);
        let mut tagged = false;
        for (i, (&(ease, _, taken), anki)) in sc.answers.iter().zip(steps).enumerate() {
            let now = anki["now"].as_i64().expect("now");
            let t = timing(crt, now, 4, 0);
            let out = answer(&card, &sc.conf, &t, ease, taken);
            tagged |= out.leeched;
            leeches += usize::from(out.leeched);
            let c = out.card;
            let r = out.revlog;
            // `left` is compared whole: Anki 26.9 writes the bare step count (no today*1000).
            let ours = json!({
                "timing": {"today": t.days_elapsed, "next_day_at": t.next_day_at},
                "after": {"type": i64::from(c.ctype), "queue": i64::from(c.queue), "due": c.due,
                          "ivl": c.ivl, "factor": c.factor, "left": c.left, "lapses": c.lapses,
                          "reps": c.reps},
                "revlog": {"ease": i64::from(r.ease), "ivl": r.ivl, "lastIvl": r.last_ivl,
                           "factor": r.factor, "time": r.time_ms, "type": i64::from(r.kind)},
                "leech": tagged,
                // Anki's default learn-ahead limit (20 min) decides the "<".
                "labels": next_intervals(&card, &sc.conf, &t).map(|i| button_label(i, 1200)),
            });
            let anki_view = json!({
                "timing": {"today": anki["today"], "next_day_at": anki["next_day_at"]},
                "after": anki["after"], "revlog": anki["revlog"], "leech": anki["leech"],
                "labels": anki["labels"],
            });
            answers += 1;
            if let Some(diff) = compare_step(&ours, &anki_view) {
                mismatches += 1;
                eprintln!(
                    "MISMATCH {} answer {i} ({ease:?}): {diff}\n  card before: {card:?}\n  scenario: {}",
                    sc.json["name"], sc.json
                );
                break; // later answers would only repeat the divergence
            }
            card = c;
        }
    }
    println!(
        "scheduler_oracle: seed {seed:#x}, {} scenarios, {answers} answers compared, {leeches} leech events, \
         {mismatches} mismatching scenarios, {:.1}s",
        scenarios.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(mismatches, 0, "scheduler differs from Anki (details above)");
}
