//! The v3 study queue refereed by the official `anki` package: collections javumbo builds (a
//! deck tree of eight decks on four presets, forward/reverse and cloze siblings and single cards, new,
//! learning, relearning, review, interday-learning, suspended and buried cards with a realistic
//! spread of dues and history) are studied step by step in javumbo (`next_card` +
//! `answer_card`) and, on a copy, in Anki (`get_queued_cards` + answering the served card with
//! the same rating at the same instant, `tests/oracle/queue_oracle.py`). At every step the
//! served card and the study counts must be equal, and at every tenth step every deck's
//! deck-list counts (`due_counts` against `deck_due_tree`).
//!
//! One scenario per option of the deck-options screen (gather, sort, review order, mixes),
//! the limit cases (subdeck limits, "this deck" and "today only" limits, new cards ignoring
//! the review limit, all parent limits, answers already given today), and a long mixed run
//! over three days. Filtered decks (`filtered_decks_match_anki`): Anki builds them on a copy,
//! both study them and then the home deck.
//!
//! Run: `cargo test --workspace --locked --test queue_oracle -- --nocapture` (set
//! `QUEUE_ORACLE_ONLY=<part of a scenario name>` to run some, `QUEUE_ORACLE_DEBUG=1` to print
//! the head of Anki's queue at every step). Every scenario was seen to fail with a bug planted
//! in the engine (a swapped order, an unsigned hash, a limit not applied, no session, ...).

use std::collections::HashMap;

use javumbo_collection::custom_study::{CramKind, CustomSession, SESSION_DECK_NAME};
use javumbo_collection::review::Study;
use javumbo_collection::schema::stock_notetypes;
use javumbo_collection::{
    ColJson, Collection, CreateOptions, DeckLimits, ManualClock, Preset, TimeZone, TodayLimit,
};
use javumbo_tests::run_oracle;
use rusqlite::params;
use serde_json::{Value, json};

const TZ: &str = "America/New_York";
/// 2024-03-01 12:00 UTC: the collection's creation.
const CREATED: i64 = 1_709_294_400;
/// 2024-05-14 09:00 EDT: the first study instant.
const STUDY: i64 = 1_715_691_600;
const DAY: i64 = 86_400;
/// Note type ids: Basic, "Basic (and reversed card)" and Cloze.
const BASIC: i64 = 1_709_294_400_100;
const REVERSED: i64 = BASIC + 1;
const CLOZE: i64 = BASIC + 4;

/// A small deterministic generator (xorshift64*), the same on every run.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// The decks, in creation order (ids grow with it, unlike the name order), and their presets.
const DECKS: &[(&str, &str)] = &[
    ("Science::Chem", "Default"),
    ("Lang::Spanish", "Bury"),
    ("Misc", "Default"),
    ("Lang::French::Verbs", "Lang"),
    ("Science::Bio", "Small"),
    ("Lang", "Lang"),
    ("Lang::French", "Small"),
    ("Science", "Bury"),
];

/// What a built collection's decks and presets are called.
struct Built {
    decks: HashMap<String, i64>,
    presets: HashMap<String, i64>,
    today: i64,
}

/// Changes a scenario makes to the base collection before it is studied.
type Tweak = fn(&Collection, &Built);

struct Scenario {
    name: &'static str,
    deck: &'static str,
    steps: usize,
    /// Study days; the steps are spread evenly over them.
    days: usize,
    tweak: Tweak,
}

fn preset(col: &Collection, b: &Built, name: &str, f: impl FnOnce(&mut Preset)) {
    let mut p = col.preset(b.presets[name]).unwrap();
    f(&mut p);
    col.update_preset(&p).unwrap();
}

fn conf_flag(col: &Collection, key: &str, on: bool) {
    let mut conf = col.read_json(ColJson::Conf).unwrap();
    conf.insert(key.into(), on.into());
    col.write_json(ColJson::Conf, &conf).unwrap();
}

fn scenarios() -> Vec<Scenario> {
    let mut out = Vec::new();
    let s = |name, deck, steps, days, tweak: Tweak| Scenario {
        name,
        deck,
        steps,
        days,
        tweak,
    };
    // Anki's defaults on the selected deck's preset.
    out.push(s("defaults", "Lang", 120, 1, |_, _| {}));
    // New-card gather priorities (new cards first and not re-sorted, so that the gather order
    // shows).
    out.push(s("gather deck", "Science", 40, 1, |c, b| {
        preset(c, b, "Bury", |p| {
            p.new_mix = 2;
            p.new_card_gather_priority = 0;
            p.new_card_sort_order = 1;
        })
    }));
    out.push(s("gather deck then random notes", "Lang", 40, 1, |c, b| {
        preset(c, b, "Lang", |p| {
            p.new_mix = 2;
            p.new_card_gather_priority = 5;
            p.new_card_sort_order = 1;
        })
    }));
    out.push(s("gather ascending position", "Lang", 40, 1, |c, b| {
        preset(c, b, "Lang", |p| {
            p.new_mix = 2;
            p.new_card_gather_priority = 1;
            p.new_card_sort_order = 1;
        })
    }));
    out.push(s("gather descending position", "Lang", 40, 1, |c, b| {
        preset(c, b, "Lang", |p| {
            p.new_mix = 2;
            p.new_card_gather_priority = 2;
            p.new_card_sort_order = 1;
        })
    }));
    out.push(s("gather random notes", "Lang", 40, 1, |c, b| {
        preset(c, b, "Lang", |p| {
            p.new_mix = 2;
            p.new_card_gather_priority = 3;
            p.new_card_sort_order = 1;
        })
    }));
    out.push(s("gather random cards", "Science", 40, 1, |c, b| {
        preset(c, b, "Bury", |p| {
            p.new_mix = 2;
            p.new_card_gather_priority = 4;
            p.new_card_sort_order = 1;
        })
    }));
    // New-card sort orders.
    let sorts: [(&'static str, Tweak); 5] = [
        ("sort template", |c, b| sort_new(c, b, 0)),
        ("sort no sort", |c, b| sort_new(c, b, 1)),
        ("sort template then random", |c, b| sort_new(c, b, 2)),
        ("sort random note then template", |c, b| sort_new(c, b, 3)),
        ("sort random card", |c, b| sort_new(c, b, 4)),
    ];
    for (name, tweak) in sorts {
        out.push(s(name, "Lang", 40, 1, tweak));
    }
    // Review orders (reviews before new cards so that the order shows).
    let review_orders: [(&'static str, Tweak); 13] = [
        ("review due then random", |c, b| review_order(c, b, 0)),
        ("review due then deck", |c, b| review_order(c, b, 1)),
        ("review deck then due", |c, b| review_order(c, b, 2)),
        ("review intervals ascending", |c, b| review_order(c, b, 3)),
        ("review intervals descending", |c, b| review_order(c, b, 4)),
        ("review ease ascending", |c, b| review_order(c, b, 5)),
        ("review ease descending", |c, b| review_order(c, b, 6)),
        ("review retrievability ascending", |c, b| {
            review_order(c, b, 7)
        }),
        ("review retrievability descending", |c, b| {
            review_order(c, b, 11)
        }),
        ("review relative overdueness", |c, b| review_order(c, b, 12)),
        ("review random", |c, b| review_order(c, b, 8)),
        ("review order added", |c, b| review_order(c, b, 9)),
        ("review reverse order added", |c, b| review_order(c, b, 10)),
    ];
    for (name, tweak) in review_orders {
        out.push(s(name, "Lang", 30, 1, tweak));
    }
    // New / review and interday-learning mixes.
    let mixes: [(&'static str, Tweak); 5] = [
        ("new after reviews, interday after", |c, b| {
            mixes(c, b, 1, 1)
        }),
        ("new before reviews, interday before", |c, b| {
            mixes(c, b, 2, 2)
        }),
        ("new mixed, interday after", |c, b| mixes(c, b, 0, 1)),
        ("new after, interday mixed", |c, b| mixes(c, b, 1, 0)),
        ("new before, interday mixed", |c, b| mixes(c, b, 2, 0)),
    ];
    for (name, tweak) in mixes {
        out.push(s(name, "Science", 40, 1, tweak));
    }
    // Limits.
    out.push(s(
        "limits: small parent caps the children",
        "Lang",
        60,
        1,
        |c, b| {
            preset(c, b, "Lang", |p| {
                p.new_per_day = 5;
                p.reviews_per_day = 12;
            })
        },
    ));
    out.push(s(
        "limits: deck order reaches the subdecks",
        "Lang",
        40,
        1,
        |c, b| {
            // The parent's own new cards are set aside, so each subdeck's limit shows.
            c.conn()
                .execute(
                    "UPDATE cards SET queue = -1 WHERE queue = 0 AND did = ?1",
                    [b.decks["Lang"]],
                )
                .unwrap();
            preset(c, b, "Lang", |p| {
                p.new_mix = 2;
                p.new_per_day = 40;
            })
        },
    ));
    out.push(s(
        "limits: this deck and today only",
        "Lang",
        60,
        1,
        |c, b| {
            let french = b.decks["Lang::French"];
            c.set_deck_limits(
                french,
                &DeckLimits {
                    review_limit: Some(3),
                    new_limit: Some(9),
                    ..DeckLimits::default()
                },
            )
            .unwrap();
            let spanish = b.decks["Lang::Spanish"];
            let today = u32::try_from(b.today).unwrap();
            c.set_deck_limits(
                spanish,
                &DeckLimits {
                    review_limit: Some(1),
                    new_limit: Some(1),
                    review_limit_today: Some(TodayLimit { limit: 7, today }),
                    new_limit_today: Some(TodayLimit { limit: 4, today }),
                },
            )
            .unwrap();
        },
    ));
    out.push(s(
        "limits: new cards ignore the review limit",
        "Lang",
        60,
        1,
        |c, b| {
            conf_flag(c, "newCardsIgnoreReviewLimit", true);
            preset(c, b, "Lang", |p| p.reviews_per_day = 10);
        },
    ));
    out.push(s(
        "limits: all parent limits on a child",
        "Lang::French",
        40,
        1,
        |c, b| {
            conf_flag(c, "applyAllParentLimits", true);
            preset(c, b, "Lang", |p| {
                p.new_per_day = 3;
                p.reviews_per_day = 8;
            })
        },
    ));
    out.push(s("limits: review limit zero", "Science", 30, 1, |c, b| {
        preset(c, b, "Bury", |p| p.reviews_per_day = 0);
    }));
    out.push(s(
        "limits: answers given earlier today",
        "Lang",
        60,
        1,
        |c, b| {
            studied_earlier_today(c, b);
        },
    ));
    out.push(s(
        "burying siblings across presets",
        "Lang",
        60,
        1,
        |c, b| {
            preset(c, b, "Lang", |p| {
                p.bury_new = true;
                p.bury_reviews = true;
                p.bury_interday_learning = true;
            })
        },
    ));
    out.push(s("long mixed run", "Lang", 500, 3, |c, b| {
        preset(c, b, "Lang", |p| {
            p.new_card_gather_priority = 5;
            p.new_card_sort_order = 3;
            p.review_order = 1;
            p.interday_learning_mix = 0;
            p.new_mix = 0;
            p.new_per_day = 15;
            p.reviews_per_day = 80;
        })
    }));
    out
}

fn sort_new(col: &Collection, b: &Built, order: i32) {
    preset(col, b, "Lang", |p| {
        p.new_mix = 2;
        p.new_card_gather_priority = 1;
        p.new_card_sort_order = order;
    });
}

fn review_order(col: &Collection, b: &Built, order: i32) {
    preset(col, b, "Lang", |p| {
        p.new_mix = 1;
        p.review_order = order;
        p.reviews_per_day = 100;
    });
}

fn mixes(col: &Collection, b: &Built, new_mix: i32, interday: i32) {
    preset(col, b, "Bury", |p| {
        p.new_mix = new_mix;
        p.interday_learning_mix = interday;
    });
}

/// Answers given earlier today (before the first step): revlog rows, and the decks' own
/// counters Anki reads (javumbo reads the revlog).
fn studied_earlier_today(col: &Collection, b: &Built) {
    let conn = col.conn();
    let day_start = col.day_start_secs().unwrap();
    let mut rid = (day_start + 3600) * 1000;
    // Reviews answered today (now due later) and new cards first seen today.
    let reviewed: Vec<(i64, i64)> = conn
        .prepare("SELECT id, did FROM cards WHERE queue = 2 AND due > ?1 ORDER BY id LIMIT 14")
        .unwrap()
        .query_map([b.today], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let introduced: Vec<(i64, i64)> = conn
        .prepare("SELECT id, did FROM cards WHERE queue = 2 AND due > ?1 ORDER BY id DESC LIMIT 6")
        .unwrap()
        .query_map([b.today], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut per_deck: HashMap<i64, (i64, i64)> = HashMap::new();
    for (cid, did) in &reviewed {
        rid += 1000;
        conn.execute(
            "INSERT INTO revlog VALUES (?1, ?2, -1, 3, 10, 5, 2500, 5000, 1)",
            params![rid, cid],
        )
        .unwrap();
        per_deck.entry(*did).or_default().1 += 1;
    }
    for (cid, did) in &introduced {
        rid += 1000;
        conn.execute(
            "INSERT INTO revlog VALUES (?1, ?2, -1, 4, 4, 0, 2500, 5000, 0)",
            params![rid, cid],
        )
        .unwrap();
        per_deck.entry(*did).or_default().0 += 1;
    }
    // Anki adds each answer to the card's deck and its parents.
    let names: HashMap<i64, String> = b.decks.iter().map(|(n, id)| (*id, n.clone())).collect();
    let mut totals: HashMap<String, (i64, i64)> = HashMap::new();
    for (did, (n, r)) in per_deck {
        let mut name = names[&did].as_str();
        loop {
            let e = totals.entry(name.to_owned()).or_default();
            e.0 += n;
            e.1 += r;
            match name.rsplit_once("::") {
                Some((parent, _)) => name = parent,
                None => break,
            }
        }
    }
    let mut decks = col.read_json(ColJson::Decks).unwrap();
    for (name, (n, r)) in totals {
        let d = &mut decks[&b.decks[&name].to_string()];
        d["newToday"] = json!([b.today, n]);
        d["revToday"] = json!([b.today, r]);
        d["lrnToday"] = json!([b.today, 0]);
        d["timeToday"] = json!([b.today, 0]);
    }
    col.write_json(ColJson::Decks, &decks).unwrap();
}

/// Where and when a collection is created and studied.
#[derive(Clone, Copy)]
struct Zone {
    tz: &'static str,
    /// The collection's creation.
    created: i64,
    /// The first study instant (the history is laid out around it).
    study: i64,
    /// Rounds of notes (each round adds about one note per deck).
    rounds: usize,
}

const NEW_YORK_MAY: Zone = Zone {
    tz: TZ,
    created: CREATED,
    study: STUDY,
    rounds: 40,
};

/// The base collection: decks, presets, notes and cards in every state.
fn build(path: &std::path::Path, seed: u64) -> (Collection, Built, std::sync::Arc<ManualClock>) {
    build_in(path, seed, &NEW_YORK_MAY)
}

fn build_in(
    path: &std::path::Path,
    seed: u64,
    zone: &Zone,
) -> (Collection, Built, std::sync::Arc<ManualClock>) {
    let (created, study) = (zone.created, zone.study);
    let tz = TimeZone::parse(zone.tz).unwrap();
    let clock = ManualClock::new(created * 1000);
    let opts = CreateOptions {
        utc_offset_minutes: tz.offset_east_minutes_at(created),
        rollover_hour: 4,
        starter_deck: false,
    };
    let col = Collection::create(path, clock.clone(), &opts).unwrap();
    col.set_timezone(zone.tz).unwrap();
    let mut models = col.read_json(ColJson::Models).unwrap();
    for (i, id) in [(0, BASIC), (1, REVERSED), (4, CLOZE)] {
        let mut nt = stock_notetypes(BASIC).unwrap().swap_remove(i);
        nt["id"] = json!(id);
        models.insert(id.to_string(), nt);
    }
    col.write_json(ColJson::Models, &models).unwrap();

    let mut presets = HashMap::from([("Default".to_owned(), 1)]);
    for (name, new, rev, bury) in [
        ("Lang", 12, 60, false),
        ("Small", 4, 12, false),
        ("Bury", 8, 30, true),
    ] {
        clock.advance_ms(1000);
        let mut p = col.create_preset(name, None).unwrap();
        p.new_per_day = new;
        p.reviews_per_day = rev;
        p.bury_new = bury;
        p.bury_reviews = bury;
        p.bury_interday_learning = bury;
        col.update_preset(&p).unwrap();
        presets.insert(name.to_owned(), p.id);
    }
    let mut decks = HashMap::new();
    for (name, _) in DECKS {
        clock.advance_ms(1000);
        // A parent may exist already (created with its first child).
        let _ = col.create_deck(name);
    }
    for d in col.decks().unwrap() {
        decks.insert(d.name, d.id);
    }
    for (name, p) in DECKS {
        col.set_deck_preset(decks[*name], presets[*p]).unwrap();
    }
    // "Lang::French::Verbs" has its own "this deck" new limit.
    col.set_deck_limits(
        decks["Lang::French::Verbs"],
        &DeckLimits {
            new_limit: Some(3),
            ..DeckLimits::default()
        },
    )
    .unwrap();

    clock.set_secs(study - 3 * 3600);
    let today = col.timing().unwrap().days_elapsed;
    let day_start = col.day_start_secs().unwrap();
    let mut rng = Rng::new(seed);
    let mut nid = 1_712_000_000_000;
    let mut cid = 1_712_500_000_000;
    let mut rid = (day_start - 40 * DAY) * 1000;
    // Note positions are handed out across decks in a shuffled order.
    let mut position = 0;
    // Intraday learning dues are distinct: Anki orders two learning cards of different decks
    // due in the same second as SQLite's plan happens to return them.
    let mut learning_dues = std::collections::HashSet::new();
    let deck_names: Vec<&str> = DECKS.iter().map(|(n, _)| *n).collect();
    for round in 0..zone.rounds {
        for (k, name) in deck_names.iter().enumerate() {
            let did = decks[*name];
            if rng.chance(15) {
                continue;
            }
            nid += 1 + rng.range(0, 50);
            position += 1;
            let reversed = rng.chance(60);
            // About one two-card note in five is a cloze (c1 and c2: ords 0 and 1) instead of
            // Basic-and-reversed. Decided from the note id, so the generator's draws (and with
            // them every other card) stay the same.
            let cloze = reversed && nid % 5 == 0;
            let (mid, fields, sort) = if cloze {
                (
                    CLOZE,
                    format!("{{{{c1::front {nid}}}}} and {{{{c2::back {nid}}}}}\x1fextra"),
                    format!("{{{{c1::front {nid}}}}} and {{{{c2::back {nid}}}}}"),
                )
            } else {
                (
                    if reversed { REVERSED } else { BASIC },
                    format!("front {nid}\x1fback {nid}"),
                    format!("front {nid}"),
                )
            };
            col.conn()
                .execute(
                    "INSERT INTO notes VALUES (?1, ?2, ?3, 0, -1, '', ?4, ?5, 0, 0, '')",
                    params![nid, format!("g{round}-{k}"), mid, fields, sort],
                )
                .unwrap();
            for ord in 0..(if reversed { 2 } else { 1 }) {
                cid += 1 + rng.range(0, 9);
                let mut c = random_card(&mut rng, today, position);
                while c.queue == 1 && !learning_dues.insert(c.due) {
                    c.due += 1;
                }
                col.conn()
                    .execute(
                        "INSERT INTO cards VALUES (?1, ?2, ?3, ?4, ?5, -1, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0, 0, 0, '')",
                        params![
                            cid, nid, did, ord, created + round as i64, c.ctype, c.queue,
                            match c.queue {
                                1 => study + c.due,
                                0 => c.due,
                                -1 | -2 if c.ctype == 0 => c.due,
                                _ => today + c.due,
                            },
                            c.ivl, c.factor, c.reps, c.lapses, c.left
                        ],
                    )
                    .unwrap();
                // The answer that put the card where it is (before today).
                if let Some((kind, ivl, last)) = c.history {
                    rid += 1 + rng.range(1, 40_000);
                    col.conn()
                        .execute(
                            "INSERT INTO revlog VALUES (?1, ?2, -1, 3, ?3, ?4, ?5, 6000, ?6)",
                            params![rid, cid, ivl, last, c.factor, kind],
                        )
                        .unwrap();
                }
            }
        }
    }
    clock.set_secs(study - 3600);
    (
        col,
        Built {
            decks,
            presets,
            today,
        },
        clock,
    )
}

struct CardRow {
    ctype: i64,
    queue: i64,
    /// Days from today (review, day learning), seconds from the study start (learning), position
    /// (new).
    due: i64,
    ivl: i64,
    factor: i64,
    reps: i64,
    lapses: i64,
    left: i64,
    /// The last revlog row: (type, ivl, lastIvl).
    history: Option<(i64, i64, i64)>,
}

fn random_card(rng: &mut Rng, _today: i64, position: i64) -> CardRow {
    let roll = rng.range(0, 99);
    let new = CardRow {
        ctype: 0,
        queue: 0,
        due: position,
        ivl: 0,
        factor: 0,
        reps: 0,
        lapses: 0,
        left: 0,
        history: None,
    };
    match roll {
        0..=34 => new,
        35..=69 => {
            let ivl = rng.range(1, 120);
            let factor = rng.range(13, 30) * 100;
            CardRow {
                ctype: 2,
                queue: 2,
                due: rng.range(-15, 6),
                ivl,
                factor,
                reps: rng.range(3, 20),
                lapses: rng.range(0, 3),
                left: 0,
                history: Some((1, ivl, ivl / 2)),
            }
        }
        70..=77 => {
            // Intraday learning (or relearning): due from 10 minutes ago to 2 hours ahead.
            let relearn = rng.chance(40);
            CardRow {
                ctype: if relearn { 3 } else { 1 },
                queue: 1,
                due: rng.range(-600, 7200),
                ivl: if relearn { rng.range(1, 30) } else { 0 },
                factor: if relearn { 2300 } else { 0 },
                reps: rng.range(1, 6),
                lapses: i64::from(relearn),
                left: 1,
                history: Some((if relearn { 2 } else { 0 }, -600, -60)),
            }
        }
        78..=87 => {
            // Interday learning: a step of a day or more.
            let relearn = rng.chance(30);
            CardRow {
                ctype: if relearn { 3 } else { 1 },
                queue: 3,
                due: rng.range(-2, 1),
                ivl: if relearn { rng.range(1, 30) } else { 0 },
                factor: if relearn { 2300 } else { 0 },
                reps: rng.range(1, 6),
                lapses: i64::from(relearn),
                left: 1,
                history: Some((if relearn { 2 } else { 0 }, 1, -600)),
            }
        }
        88..=92 => CardRow {
            queue: -1,
            ..CardRow {
                ctype: 2,
                queue: 2,
                due: rng.range(-5, 0),
                ivl: 10,
                factor: 2500,
                reps: 5,
                lapses: 0,
                left: 0,
                history: Some((1, 10, 5)),
            }
        },
        _ => {
            let ivl = rng.range(30, 300);
            CardRow {
                ctype: 2,
                queue: 2,
                due: rng.range(7, 200),
                ivl,
                factor: 2500,
                reps: 8,
                lapses: 0,
                left: 0,
                history: Some((1, ivl, ivl / 2)),
            }
        }
    }
}

/// The instants and ratings of a scenario's steps.
fn steps(sc: &Scenario, seed: u64) -> Vec<Value> {
    let mut rng = Rng::new(seed ^ 0xABCD);
    let per_day = sc.steps.div_ceil(sc.days);
    let mut at = STUDY;
    let mut out = Vec::with_capacity(sc.steps);
    for i in 0..sc.steps {
        if i > 0 && i % per_day == 0 {
            // The next day, 09:00 and a bit.
            let day = (i / per_day) as i64;
            at = STUDY + day * DAY + rng.range(0, 600);
        }
        let ease = match rng.range(0, 99) {
            0..=14 => 1,
            15..=24 => 2,
            25..=84 => 3,
            _ => 4,
        };
        out.push(json!({"at": at, "ease": ease, "tree": i % 10 == 0}));
        // Mostly seconds apart, sometimes a break that lets learning cards come due.
        at += match rng.range(0, 99) {
            0..=79 => rng.range(3, 40),
            80..=94 => rng.range(60, 400),
            _ => rng.range(900, 2400),
        };
    }
    out
}

/// A card's row, for a mismatch report.
fn describe_card(col: &Collection, id: i64) -> String {
    col.conn()
        .query_row(
            "SELECT nid, did, ord, type, queue, due, ivl, factor, reps, mod FROM cards WHERE id = ?1",
            [id],
            |r| {
                Ok(format!(
                    "(nid {} did {} ord {} type {} queue {} due {} ivl {} factor {} reps {} mod {})",
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, i64>(8)?,
                    r.get::<_, i64>(9)?
                ))
            },
        )
        .unwrap_or_else(|_| "(none)".into())
}

/// The answered card's row and its new revlog row against Anki's (`after`, `revlog`).
fn compare_answer(col: &Collection, id: i64, want: &Value) -> Option<String> {
    let after: Value = col
        .conn()
        .query_row(
            "SELECT type, queue, due, ivl, factor, reps, lapses, left, odue, odid FROM cards
             WHERE id = ?1",
            [id],
            |r| {
                Ok(json!(
                    (0..10)
                        .map(|k| r.get::<_, i64>(k).unwrap())
                        .collect::<Vec<_>>()
                ))
            },
        )
        .unwrap();
    let revlog: Value = col
        .conn()
        .query_row(
            "SELECT ease, ivl, lastIvl, factor, time, type FROM revlog WHERE cid = ?1
             ORDER BY id DESC LIMIT 1",
            [id],
            |r| {
                Ok(json!(
                    (0..6)
                        .map(|k| r.get::<_, i64>(k).unwrap())
                        .collect::<Vec<_>>()
                ))
            },
        )
        .unwrap();
    (after != want["after"] || revlog != want["revlog"]).then(|| {
        format!(
            "card {id} answered: ours [type queue due ivl factor reps lapses left odue odid] \
             {after} revlog [ease ivl lastIvl factor time type] {revlog}, anki {} revlog {}",
            want["after"], want["revlog"]
        )
    })
}

/// A step's custom study request as the engine takes it.
fn custom_session(v: &Value) -> CustomSession {
    let days = |k: &str| v[k].as_u64().map(|d| d as u32);
    if let Some(d) = days("forgotDays") {
        return CustomSession::ForgotDays(d);
    }
    if let Some(d) = days("reviewAheadDays") {
        return CustomSession::ReviewAheadDays(d);
    }
    if let Some(d) = days("previewDays") {
        return CustomSession::PreviewDays(d);
    }
    let cram = &v["cram"];
    let tags = |k: &str| -> Vec<String> {
        cram[k]
            .as_array()
            .map(|a| a.iter().map(|t| t.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    CustomSession::Cram {
        kind: match cram["kind"].as_str().unwrap() {
            "new" => CramKind::New,
            "due" => CramKind::Due,
            "review" => CramKind::Review,
            _ => CramKind::All,
        },
        card_limit: cram["cardLimit"].as_u64().unwrap() as u32,
        tags_to_include: tags("tagsToInclude"),
        tags_to_exclude: tags("tagsToExclude"),
    }
}

/// Whether a custom study request orders its cards at random (Anki's unseeded `random()`).
fn random_order(custom: &Value) -> bool {
    custom.get("forgotDays").is_some()
        || matches!(custom["cram"]["kind"].as_str(), Some("review" | "all"))
}

/// The session javumbo built (or its refusal) against Anki's: the borrowed cards (`[id, odid,
/// due, odue, queue, type]`, the session deck's own id aside; without the position when the
/// order is random), the deck's search and whether it reschedules.
fn compare_session(
    col: &Collection,
    custom: &Value,
    error: Option<&javumbo_collection::CollectionError>,
    want: &Value,
) -> Option<String> {
    let anki_refused = !want["custom_error"].is_null();
    if error.is_some() != anki_refused {
        return Some(format!(
            "custom study {custom}: ours {error:?}, anki {}",
            want["custom_error"]
        ));
    }
    let random = random_order(custom);
    let row = |r: &[Value]| -> Value {
        let mut v = vec![
            r[0].clone(),
            r[2].clone(),
            r[3].clone(),
            r[4].clone(),
            r[5].clone(),
            r[6].clone(),
        ];
        if random {
            v.remove(2);
        }
        json!(v)
    };
    let ours: Vec<Value> = col
        .conn()
        .prepare(
            "SELECT id, did, odid, due, odue, queue, type FROM cards WHERE odid != 0 ORDER BY id",
        )
        .unwrap()
        .query_map([], |r| {
            Ok((0..7)
                .map(|k| json!(r.get::<_, i64>(k).unwrap()))
                .collect::<Vec<_>>())
        })
        .unwrap()
        .map(|r| row(&r.unwrap()))
        .collect();
    let anki: Vec<Value> = want["session"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| row(r.as_array().unwrap()))
        .collect();
    if ours != anki {
        let differ: Vec<String> = ours
            .iter()
            .zip(&anki)
            .filter(|(a, b)| a != b)
            .take(5)
            .map(|(a, b)| format!("ours {a} anki {b}"))
            .collect();
        return Some(format!(
            "custom study {custom}: {} borrowed cards here, {} in Anki; first differences: {differ:?}",
            ours.len(),
            anki.len()
        ));
    }
    let decks = col.read_json(ColJson::Decks).unwrap();
    let session = decks
        .values()
        .find(|d| d["name"] == SESSION_DECK_NAME)
        .map(|d| (d["terms"].clone(), d["resched"].clone()));
    let theirs =
        (!want["terms"].is_null()).then(|| (want["terms"].clone(), want["resched"].clone()));
    (session != theirs)
        .then(|| format!("custom study {custom}: deck ours {session:?} anki {theirs:?}"))
}

/// With `QUEUE_ORACLE_DEBUG=1`, the oracle also lists Anki's queue at every step: print its
/// head and our stored session.
fn debug_step(col: &Collection, step: usize, want: &Value) {
    let Some(queue) = want.get("queue").and_then(Value::as_array) else {
        return;
    };
    if let Some(cards) = want.get("cards").and_then(Value::as_array) {
        for c in cards {
            let id = c[0].as_i64().unwrap();
            let ours: Value = col
                .conn()
                .query_row(
                    "SELECT id, type, queue, due, ivl, mod, reps, did, odid, odue FROM cards
                     WHERE id = ?1",
                    [id],
                    |r| {
                        Ok(json!(
                            (0..10)
                                .map(|k| r.get::<_, i64>(k).unwrap())
                                .collect::<Vec<_>>()
                        ))
                    },
                )
                .unwrap();
            if &ours != c {
                println!("  card differs: ours {ours} anki {c}");
            }
        }
    }
    let conf = col.read_json(ColJson::Conf).unwrap();
    println!(
        "step {step}: our session {}",
        conf.get("javumboStudyQueue").unwrap_or(&Value::Null)
    );
    for entry in queue.iter().take(8) {
        let id = entry[0].as_i64().unwrap_or(0);
        println!("  anki {entry} {}", describe_card(col, id));
    }
}

#[test]
fn the_study_queue_matches_anki_step_by_step() {
    let dir = tempfile::tempdir().unwrap();
    // QUEUE_ORACLE_ONLY=<part of a name> runs the matching scenarios only.
    let only = std::env::var("QUEUE_ORACLE_ONLY").unwrap_or_default();
    let all: Vec<Scenario> = scenarios()
        .into_iter()
        .filter(|s| s.name.contains(&only))
        .collect();
    let mut inputs = Vec::new();
    for (n, sc) in all.iter().enumerate() {
        let path = dir.path().join(format!("q{n}.anki2"));
        let (col, built, clock) = build(&path, 7 + n as u64);
        clock.advance_ms(1000);
        (sc.tweak)(&col, &built);
        let deck = built.decks.get(sc.deck).copied().unwrap_or(1);
        clock.advance_ms(1000);
        col.set_current_deck(deck).unwrap();
        drop(col);
        inputs.push(json!({"name": sc.name, "path": path, "steps": steps(sc, n as u64)}));
    }
    let input = json!({"tz": TZ, "scenarios": inputs});
    let anki: Value =
        serde_json::from_str(&run_oracle("queue_oracle.py", &[], &input.to_string())).unwrap();

    let mut mismatches = Vec::new();
    let mut total_steps = 0;
    for (n, (sc, want)) in all
        .iter()
        .zip(anki["scenarios"].as_array().unwrap())
        .enumerate()
    {
        let path = dir.path().join(format!("q{n}.anki2"));
        let our_steps = inputs[n]["steps"].as_array().unwrap();
        let r = replay(&path, sc.name, our_steps, want["steps"].as_array().unwrap());
        total_steps += r.matched;
        mismatches.extend(r.mismatches);
        println!(
            "{:45} {:4} steps, {:4} cards served",
            sc.name,
            our_steps.len(),
            r.served
        );
    }
    println!("{total_steps} steps matched");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// What replaying one study run in javumbo gave.
struct Replay {
    /// Steps whose card, counts, answered card and revlog row (and deck list) matched.
    matched: usize,
    served: usize,
    mismatches: Vec<String>,
}

/// Study the collection at `path` in javumbo at the steps' instants and compare every step
/// with Anki's (`want`): the deck list when Anki reported one, the served card and the study
/// counts, then the answered card's row and its revlog row. Stops at the first divergence of
/// the queue or of an answer (everything after it would differ too).
fn replay(path: &std::path::Path, name: &str, steps: &[Value], want: &[Value]) -> Replay {
    let clock = ManualClock::new(steps[0]["at"].as_i64().unwrap() * 1000);
    let col = Collection::open(path, clock.clone()).unwrap();
    let mut r = Replay {
        matched: 0,
        served: 0,
        mismatches: Vec::new(),
    };
    assert_eq!(steps.len(), want.len(), "{name}: step count");
    for (i, (step, want)) in steps.iter().zip(want).enumerate() {
        clock.set_secs(step["at"].as_i64().unwrap());
        if let Some(deck) = step["deck"].as_i64() {
            col.set_current_deck(deck).unwrap();
        }
        let mut step_ok = true;
        if let Some(custom) = step.get("custom") {
            let built =
                col.custom_study_session(custom["deck"].as_i64().unwrap(), &custom_session(custom));
            println!(
                "{name} step {i}: custom study {custom}: {}",
                built
                    .as_ref()
                    .map_or_else(|e| e.to_string(), |b| format!("{} cards", b.cards))
            );
            if let Some(problem) = compare_session(&col, custom, built.as_ref().err(), want) {
                r.mismatches.push(format!("{name} step {i}: {problem}"));
                break;
            }
            if let Some(deck) = step["then_deck"].as_i64() {
                col.set_current_deck(deck).unwrap();
            }
        }
        if let Some(tree) = want.get("tree").and_then(Value::as_object) {
            for (did, counts) in tree {
                let c = col.due_counts(did.parse().unwrap()).unwrap();
                let ours = json!([c.new, c.learn, c.review]);
                if &ours != counts {
                    step_ok = false;
                    r.mismatches.push(format!(
                        "{name} step {i}: deck {did} list counts ours {ours} anki {counts}"
                    ));
                }
            }
        }
        let (card, counts) = match col.next_card().unwrap() {
            Study::Card(c) => (
                json!(c.card_id),
                json!([c.counts.new, c.counts.learn, c.counts.review]),
            ),
            Study::Nothing(_) => (Value::Null, json!([0, 0, 0])),
        };
        if card != want["card"] || counts != want["counts"] {
            let describe = |id: &Value| describe_card(&col, id.as_i64().unwrap_or(0));
            debug_step(&col, i, want);
            r.mismatches.push(format!(
                "{name} step {i}: ours card {card} {} counts {counts}, anki card {} {} counts {}",
                describe(&card),
                want["card"],
                describe(&want["card"]),
                want["counts"]
            ));
            break;
        }
        debug_step(&col, i, want);
        if let Some(id) = card.as_i64() {
            r.served += 1;
            col.answer_card(id, step["ease"].as_i64().unwrap(), Some(5000))
                .unwrap();
            if let Some(problem) = compare_answer(&col, id, want) {
                r.mismatches.push(format!("{name} step {i}: {problem}"));
                break;
            }
        }
        r.matched += usize::from(step_ok);
    }
    r
}

/// The collection file at `path` as a `.colpkg` (what a student restores from Anki).
fn colpkg_of(path: &std::path::Path) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default();
    zip.start_file("collection.anki2", opts).unwrap();
    zip.write_all(&std::fs::read(path).unwrap()).unwrap();
    zip.start_file("media", opts).unwrap();
    zip.write_all(b"{}").unwrap();
    zip.finish().unwrap().into_inner()
}

/// [`replay`] through javumbo's HTTP API, as a student's client studies: the collection at
/// `path` restored as a `.colpkg` into a new account of an in-process API whose clock is moved
/// to each step's instant; then per step the deck chosen (`PUT /api/decks/current`), the deck
/// list (`GET /api/decks`) when Anki reported one, the served card and its study counts
/// (`GET /api/review`), and the answer (`POST /api/review`, 5 s taken). The answered card's
/// row is the engine replay's to compare; a wrong answer shows here as a later wrong card.
async fn replay_http(
    path: &std::path::Path,
    name: &str,
    steps: &[Value],
    want: &[Value],
) -> Replay {
    use javumbo_tests::http::{ApiClient, register_login};
    use javumbo_tests::spawn::spawn_app_with_clock;

    let clock = ManualClock::new(steps[0]["at"].as_i64().unwrap() * 1000 - 60_000);
    // One login for the whole run: the token lives through the five study days (a client
    // would log in again each day; the study is what is refereed here).
    let app = spawn_app_with_clock(
        |c| c.token_ttl = std::time::Duration::from_secs(30 * 86_400),
        clock.clone(),
    )
    .await;
    let api = ApiClient::direct(&app.base);
    let token = register_login(&api, "lockstep").await;
    let resp = api
        .post("/api/import?kind=colpkg&confirmReplace=true")
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        .body(colpkg_of(path))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{name}: restore: {}", resp.text());
    let mut r = Replay {
        matched: 0,
        served: 0,
        mismatches: Vec::new(),
    };
    for (i, (step, want)) in steps.iter().zip(want).enumerate() {
        clock.set_secs(step["at"].as_i64().unwrap());
        if let Some(deck) = step["deck"].as_i64() {
            let resp = api
                .put("/api/decks/current")
                .bearer_auth(&token)
                .json(&json!({"deckId": deck}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{name} step {i}: {}", resp.text());
        }
        let mut step_ok = true;
        if let Some(custom) = step.get("custom") {
            // The request as a client sends it: the choice, without the deck (in the path).
            let mut body = custom.clone();
            let deck = body.as_object_mut().unwrap().remove("deck").unwrap();
            let resp = api
                .post(&format!("/api/decks/{deck}/custom-study"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let want_status = if want["custom_error"].is_null() {
                200
            } else {
                400
            };
            if resp.status() != want_status {
                r.mismatches.push(format!(
                    "{name} step {i} (HTTP): custom study {custom}: {} {}, anki {}",
                    resp.status(),
                    resp.text(),
                    want["custom_error"]
                ));
                break;
            }
            if let Some(deck) = step["then_deck"].as_i64() {
                let resp = api
                    .put("/api/decks/current")
                    .bearer_auth(&token)
                    .json(&json!({"deckId": deck}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200, "{name} step {i}: {}", resp.text());
            }
        }
        if let Some(tree) = want.get("tree").and_then(Value::as_object) {
            let resp = api
                .get("/api/decks")
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{name} step {i}: {}", resp.text());
            let decks = resp.json();
            for (did, counts) in tree {
                let ours = decks["decks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|d| {
                        d["id"].as_i64().map(|id| id.to_string()).as_deref() == Some(did.as_str())
                    })
                    .map(|d| json!([d["newCount"], d["learnCount"], d["reviewCount"]]));
                if ours.as_ref() != Some(counts) {
                    step_ok = false;
                    r.mismatches.push(format!(
                        "{name} step {i} (HTTP): deck {did} list counts ours {ours:?} anki {counts}"
                    ));
                }
            }
        }
        let resp = api
            .get("/api/review")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{name} step {i}: {}", resp.text());
        let v = resp.json();
        let (card, counts) = match v.get("cardId") {
            Some(id) => (
                id.clone(),
                json!([v["newCount"], v["learnCount"], v["reviewCount"]]),
            ),
            None => (Value::Null, json!([0, 0, 0])),
        };
        if card != want["card"] || counts != want["counts"] {
            r.mismatches.push(format!(
                "{name} step {i} (HTTP): ours card {card} counts {counts}, anki card {} counts {}",
                want["card"], want["counts"]
            ));
            break;
        }
        if let Some(id) = card.as_i64() {
            r.served += 1;
            let resp = api
                .post("/api/review")
                .bearer_auth(&token)
                .json(&json!({"cardId": id, "ease": step["ease"], "timeTaken": 5000}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{name} step {i}: {}", resp.text());
        }
        r.matched += usize::from(step_ok);
    }
    r
}

/// [`replay`] and [`replay_http`] of one run, each on its own copy of the collection at
/// `path` (the engine replay writes `path`; the HTTP replay restores a copy made first).
fn replay_both(
    path: &std::path::Path,
    name: &str,
    steps: &[Value],
    want: &[Value],
) -> (Replay, Replay) {
    let http_copy = path.with_extension("http.anki2");
    std::fs::copy(path, &http_copy).unwrap();
    let engine = replay(path, name, steps, want);
    let http = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
        .block_on(replay_http(&http_copy, name, steps, want));
    (engine, http)
}

/// Anki studies the scenarios `inputs` (`queue_oracle.py`'s); javumbo replays each through
/// the engine and the HTTP API on the scenario's collection. Every step must match; `what`
/// names the runs in the summary.
fn referee_in_lock_step(inputs: &[Value], what: &str) {
    let anki: Value = serde_json::from_str(&run_oracle(
        "queue_oracle.py",
        &[],
        &json!({"tz": TZ, "scenarios": inputs}).to_string(),
    ))
    .unwrap();
    let mut mismatches = Vec::new();
    let (mut total, mut total_http) = (0, 0);
    for (input, result) in inputs.iter().zip(anki["scenarios"].as_array().unwrap()) {
        let name = input["name"].as_str().unwrap();
        let steps = input["steps"].as_array().unwrap();
        let want = result["steps"].as_array().unwrap();
        let path = std::path::PathBuf::from(input["path"].as_str().unwrap());
        let (r, h) = replay_both(&path, name, steps, want);
        println!(
            "{name:62} {:4} steps, {:4} matched (engine), {:4} (HTTP), {:4} cards served",
            steps.len(),
            r.matched,
            h.matched,
            r.served
        );
        total += r.matched;
        total_http += h.matched;
        mismatches.extend(r.mismatches);
        mismatches.extend(h.mismatches);
    }
    println!("{total} steps matched {what}, {total_http} through the HTTP API");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// The multi-day runs: one realistic collection per zone, studied for several days.
struct ZoneRun {
    name: &'static str,
    zone: Zone,
    days: i64,
    /// Extra setup (FSRS, easy days, ...).
    tweak: Tweak,
}

/// 2024-xx-xx 09:00 local as epoch seconds, from the UTC offset that day (hours east).
const fn local_nine(utc_midnight: i64, east_hours_x2: i64) -> i64 {
    utc_midnight + 9 * 3600 - east_hours_x2 * 1800
}

fn zone_runs() -> Vec<ZoneRun> {
    // Created about 75 days before the study: new cards' positions (1..~500) then overlap the
    // balancer's 99 days, which Anki counts like reviews.
    let z = |tz, study: i64| Zone {
        tz,
        created: study - 75 * DAY - 5 * 3600,
        study,
        rounds: 110,
    };
    vec![
        ZoneRun {
            // Fall back on Sunday 2024-11-03 02:00 EDT (day 2).
            name: "New York, across the end of DST",
            zone: z("America/New_York", local_nine(1_730_419_200, -8)),
            days: 5,
            tweak: |_, _| {},
        },
        ZoneRun {
            // Spring forward on Sunday 2024-03-10 02:00 PST (day 2); easy days.
            name: "Los Angeles, across the start of DST",
            zone: z("America/Los_Angeles", local_nine(1_709_856_000, -16)),
            days: 5,
            tweak: easy_days,
        },
        ZoneRun {
            name: "Kolkata (+5:30)",
            zone: z("Asia/Kolkata", local_nine(1_717_977_600, 11)),
            days: 5,
            tweak: easy_days,
        },
        ZoneRun {
            // Spring forward on Sunday 2024-10-06 02:00 AEST (day 2).
            name: "Sydney, across the start of DST",
            zone: z("Australia/Sydney", local_nine(1_728_000_000, 20)),
            days: 5,
            tweak: |_, _| {},
        },
        ZoneRun {
            // Spring forward on Sunday 2024-03-31 02:00 CET (day 2); FSRS on.
            name: "Berlin, across the start of DST, FSRS",
            zone: z("Europe/Berlin", local_nine(1_711_670_400, 2)),
            days: 5,
            tweak: |c, _| {
                c.set_fsrs_enabled(true).unwrap();
            },
        },
        ZoneRun {
            name: "UTC",
            zone: z("UTC", local_nine(1_705_276_800, 0)),
            days: 5,
            tweak: easy_days,
        },
    ]
}

/// Easy days on two presets: Saturday reduced, Sunday minimum; Wednesday reduced.
fn easy_days(col: &Collection, b: &Built) {
    preset(col, b, "Lang", |p| {
        p.easy_days_percentages = vec![1.0, 1.0, 0.5, 1.0, 1.0, 0.5, 0.0];
    });
    preset(col, b, "Default", |p| {
        p.easy_days_percentages = vec![1.0, 1.0, 1.0, 1.0, 0.5, 1.0, 0.0];
    });
}

/// A student's days: each day a session in each top-level deck (selected from the deck
/// list), starting between 07:00 and 08:00 local, except on the third day, which starts at
/// 03:30 local so that the rollover (04:00) falls within the first session.
fn zone_steps(run: &ZoneRun, b: &Built, seed: u64) -> Vec<Value> {
    const SESSION: usize = 62;
    let mut rng = Rng::new(seed);
    let decks = [b.decks["Lang"], b.decks["Science"], b.decks["Misc"]];
    let mut current = b.decks["Lang"];
    let mut out = Vec::new();
    let tz = TimeZone::parse(run.zone.tz).unwrap();
    for day in 0..run.days {
        // 09:00 local that day, whatever DST did since the first day.
        let mut nine = run.zone.study + day * DAY;
        nine += 60
            * i64::from(
                tz.offset_east_minutes_at(run.zone.study) - tz.offset_east_minutes_at(nine),
            );
        let mut at = nine - 2 * 3600 + rng.range(0, 3600);
        if day == 2 {
            at = nine - 5 * 3600 - 1800;
        }
        for k in 0..decks.len() {
            let deck = decks[(k + day as usize) % decks.len()];
            for i in 0..SESSION {
                let ease = match rng.range(0, 99) {
                    0..=13 => 1,
                    14..=23 => 2,
                    24..=86 => 3,
                    _ => 4,
                };
                let mut step = json!({"at": at, "ease": ease, "tree": out.len() % 25 == 0});
                if i == 0 && deck != current {
                    step["deck"] = json!(deck);
                    current = deck;
                }
                out.push(step);
                at += match rng.range(0, 99) {
                    0..=84 => rng.range(4, 30),
                    85..=96 => rng.range(60, 400),
                    _ => rng.range(900, 1800),
                };
            }
            at += rng.range(1200, 3600);
        }
    }
    out
}

/// The lock-step referee at scale: six collections studied day by day for five days in six
/// zones (two negative offsets, +5:30, +10/+11, +1/+2 and UTC; four runs cross a DST change,
/// one with the rollover inside a session), with the load balancer on (Anki's default), easy
/// days in three zones and FSRS in one. At every step the served card, the counts, the
/// answered card's row and its revlog row must be Anki's; every 25th step also the deck list.
#[test]
fn study_days_in_six_zones_match_anki() {
    let dir = tempfile::tempdir().unwrap();
    let only = std::env::var("QUEUE_ORACLE_ONLY").unwrap_or_default();
    let runs: Vec<ZoneRun> = zone_runs()
        .into_iter()
        .filter(|r| r.name.contains(&only))
        .collect();
    let results: Vec<(usize, usize, usize, usize, Vec<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = runs
            .iter()
            .enumerate()
            .map(|(n, run)| {
                let path = dir.path().join(format!("z{n}.anki2"));
                s.spawn(move || {
                    let (col, built, clock) = build_in(&path, 101 + n as u64, &run.zone);
                    clock.advance_ms(1000);
                    (run.tweak)(&col, &built);
                    clock.advance_ms(1000);
                    col.set_current_deck(built.decks["Lang"]).unwrap();
                    drop(col);
                    let steps = zone_steps(run, &built, 31 + n as u64);
                    let input = json!({"tz": run.zone.tz, "scenarios": [
                        {"name": run.name, "path": path, "steps": steps}
                    ]});
                    let anki: Value = serde_json::from_str(&run_oracle(
                        "queue_oracle.py",
                        &[],
                        &input.to_string(),
                    ))
                    .unwrap();
                    let want = anki["scenarios"][0]["steps"].as_array().unwrap();
                    let (r, h) = replay_both(&path, run.name, &steps, want);
                    let mut problems = r.mismatches;
                    problems.extend(h.mismatches);
                    (steps.len(), r.matched, h.matched, r.served, problems)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut mismatches = Vec::new();
    let (mut total, mut total_http) = (0, 0);
    for (run, (steps, matched, http, served, problems)) in runs.iter().zip(results) {
        println!(
            "{:40} {:20} {steps:5} steps, {matched:5} matched (engine), {http:5} (HTTP), \
             {served:5} cards served",
            run.name, run.zone.tz
        );
        total += matched;
        total_http += http;
        mismatches.extend(problems);
    }
    println!("{total} lock-step steps matched in the engine, {total_http} through the HTTP API");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    if only.is_empty() {
        assert!(total >= 5000, "only {total} steps");
        assert!(total_http >= 5000, "only {total_http} steps through HTTP");
    }
}

/// A study run in a filtered deck that Anki builds on a copy of a javumbo collection.
struct FilteredRun {
    name: &'static str,
    /// The filtered deck, as `queue_oracle.py` builds it (Anki's own search and order).
    spec: Value,
    /// The deck studied after two thirds of the steps: the filtered deck's cards that went
    /// home are studied there, and its counts include the answers given in the filtered deck.
    home: &'static str,
    steps: usize,
    days: usize,
    /// A change to the collection before Anki builds the deck (FSRS on).
    tweak: Tweak,
}

fn filtered_runs() -> Vec<FilteredRun> {
    let run = |name, spec, home, steps, days| FilteredRun {
        name,
        spec,
        home,
        steps,
        days,
        tweak: |_, _| {},
    };
    vec![
        run(
            "reschedule: due cards of Lang",
            json!({"search": "deck:Lang is:due", "limit": 50, "order": 0, "resched": true}),
            "Lang",
            150,
            2,
        ),
        // Anki's custom study "review ahead": reviews answered before their day.
        run(
            "reschedule: review ahead in Science",
            json!({"search": "deck:Science prop:due<=4 prop:due>0", "limit": 40, "order": 6,
                   "resched": true}),
            "Science",
            120,
            2,
        ),
        run(
            "reschedule: new cards of every deck",
            json!({"search": "is:new", "limit": 30, "order": 5, "resched": true}),
            "Lang",
            150,
            2,
        ),
        run(
            "preview: Misc and Spanish, Good ends it",
            json!({"search": "deck:Misc OR deck:Lang::Spanish", "limit": 60, "order": 1,
                   "resched": false, "preview": [60, 600, 0]}),
            "Lang",
            150,
            2,
        ),
        run(
            "preview: Science reviews, only Easy ends it",
            json!({"search": "deck:Science is:review", "limit": 40, "order": 2,
                   "resched": false, "preview": [30, 300, 900]}),
            "Science",
            120,
            1,
        ),
        // A filtered deck inside a normal deck: Anki counts its answers (early reviews and
        // previews from the review queue too) against the parent's limits.
        run(
            "reschedule: review ahead nested in Lang",
            json!({"name": "Lang::Ahead", "search": "deck:Lang::French prop:due>0 prop:due<=5",
                   "limit": 30, "order": 6, "resched": true}),
            "Lang",
            150,
            2,
        ),
        run(
            "preview: nested in Science, Again repeats",
            json!({"name": "Science::Preview", "search": "deck:Science::Bio -is:new",
                   "limit": 30, "order": 0, "resched": false, "preview": [45, 0, 0]}),
            "Science",
            120,
            1,
        ),
        FilteredRun {
            tweak: |col, _| conf_flag(col, "fsrs", true),
            ..run(
                "reschedule with FSRS: review ahead in Lang",
                json!({"search": "deck:Lang prop:due>0 prop:due<=3", "limit": 40, "order": 6,
                       "resched": true}),
                "Lang",
                150,
                2,
            )
        },
    ]
}

/// A run's filtered deck, named "Filtered <n>" unless its spec names it.
fn filtered_spec(n: usize, spec: &Value) -> Value {
    let mut spec = spec.clone();
    if spec.get("name").is_none() {
        spec["name"] = json!(format!("Filtered {n}"));
    }
    spec
}

/// Filtered decks as a device builds and syncs them (a custom study session, review ahead, a
/// preview deck): Anki builds each on a copy of a javumbo collection, then both study it step
/// by step at the same instants — the card served, the counts, the answered card's row
/// (`odue`/`odid` included: a review result goes home, a learning step stays borrowed) and its
/// revlog row, and every deck's deck-list counts — then move to the home deck and go on.
#[test]
fn filtered_decks_match_anki() {
    let dir = tempfile::tempdir().unwrap();
    let only = std::env::var("QUEUE_ORACLE_ONLY").unwrap_or_default();
    // Seeds follow a run's place in the full list, so a run alone is the same run.
    let (seeds, runs): (Vec<u64>, Vec<FilteredRun>) = filtered_runs()
        .into_iter()
        .zip(0u64..)
        .filter(|(r, _)| r.name.contains(&only))
        .map(|(r, n)| (n, r))
        .unzip();
    let mut build_input = Vec::new();
    let mut decks = Vec::new();
    for (n, run) in runs.iter().enumerate() {
        let path = dir.path().join(format!("f{n}.anki2"));
        let (col, built, clock) = build(&path, 61 + seeds[n]);
        clock.advance_ms(1000);
        (run.tweak)(&col, &built);
        clock.advance_ms(1000);
        col.set_current_deck(built.decks[run.home]).unwrap();
        drop(col);
        build_input.push(json!({
            "name": run.name,
            "path": path,
            "steps": [{"at": STUDY - 1800}],
            "filtered": [filtered_spec(n, &run.spec)],
            "save_to": dir.path().join(format!("f{n}-built.anki2")),
        }));
        decks.push(built.decks[run.home]);
    }
    let built: Value = serde_json::from_str(&run_oracle(
        "queue_oracle.py",
        &[],
        &json!({"tz": TZ, "scenarios": build_input}).to_string(),
    ))
    .unwrap();

    let mut inputs = Vec::new();
    for (n, run) in runs.iter().enumerate() {
        let filtered = built["scenarios"][n]["filtered"][0].as_i64().unwrap();
        let sc = Scenario {
            name: run.name,
            deck: run.home,
            steps: run.steps,
            days: run.days,
            tweak: |_, _| {},
        };
        let mut steps = steps(&sc, 90 + seeds[n]);
        steps[0]["deck"] = json!(filtered);
        steps[0]["tree"] = json!(true);
        let switch = run.steps * 2 / 3;
        steps[switch]["deck"] = json!(decks[n]);
        steps[switch]["tree"] = json!(true);
        inputs.push(json!({
            "name": run.name,
            "path": dir.path().join(format!("f{n}-built.anki2")),
            "steps": steps,
        }));
    }
    referee_in_lock_step(&inputs, "in filtered decks");
}

/// A study run with custom study sessions built at some steps: `(step, request, then the deck
/// selected after the build, when the session's order is random and cannot be studied in
/// lock-step)`.
struct CustomRun {
    name: &'static str,
    home: &'static str,
    steps: usize,
    days: usize,
    builds: Vec<(usize, Value, Option<&'static str>)>,
}

fn custom_runs() -> Vec<CustomRun> {
    vec![
        CustomRun {
            name: "custom study: review ahead in Lang, then cram its new cards",
            home: "Lang",
            steps: 150,
            days: 2,
            builds: vec![
                (0, json!({"reviewAheadDays": 2}), None),
                // The session deck rebuilt: its cards go home first.
                (60, json!({"cram": {"kind": "new", "cardLimit": 15}}), None),
            ],
        },
        CustomRun {
            name: "custom study: preview new cards of Science",
            home: "Science",
            steps: 120,
            days: 1,
            builds: vec![(0, json!({"previewDays": 60}), None)],
        },
        CustomRun {
            name: "custom study: cram due cards of Lang, nothing forgotten yet",
            home: "Lang",
            steps: 150,
            days: 2,
            builds: vec![
                // Nothing was answered Again in the last day: refused, nothing changed.
                (0, json!({"forgotDays": 1}), None),
                (1, json!({"cram": {"kind": "due", "cardLimit": 40}}), None),
            ],
        },
        CustomRun {
            // At random, a session is compared as a set: the limits take every matching card.
            name: "custom study: forgotten cards and cram at random, by tag",
            home: "Lang",
            steps: 120,
            days: 2,
            builds: vec![
                // Day two: the cards failed on day one ("in the last 2 days": today counts).
                (60, json!({"forgotDays": 2}), Some("Lang")),
                (
                    90,
                    json!({"cram": {"kind": "all", "cardLimit": 9999, "tagsToExclude": ["g1-1", "shared::child"]}}),
                    Some("Lang"),
                ),
                (
                    100,
                    json!({"cram": {"kind": "review", "cardLimit": 9999, "tagsToInclude": ["shared", "G4-1", "g8"]}}),
                    Some("Lang"),
                ),
            ],
        },
    ]
}

/// Anki's custom study sessions (review ahead, preview, cram by state or tag, forgotten cards)
/// built by javumbo and by Anki on identical copies at the same instants: the same cards
/// borrowed the same way (positions too, unless the order is random), the same search in the
/// session deck; then both study the session (or the home deck, after a random one) step by
/// step.
#[test]
fn custom_study_sessions_match_anki() {
    let dir = tempfile::tempdir().unwrap();
    let only = std::env::var("QUEUE_ORACLE_ONLY").unwrap_or_default();
    let (seeds, runs): (Vec<u64>, Vec<CustomRun>) = custom_runs()
        .into_iter()
        .zip(0u64..)
        .filter(|(r, _)| r.name.contains(&only))
        .map(|(r, n)| (n, r))
        .unzip();
    let mut inputs = Vec::new();
    for (n, run) in runs.iter().enumerate() {
        let path = dir.path().join(format!("c{n}.anki2"));
        let (col, built, clock) = build(&path, 71 + seeds[n]);
        // Tags to cram by: each note's own (`g<round>-<deck>`, its guid here) and, on every
        // third note, a child tag.
        col.conn()
            .execute(
                "UPDATE notes SET tags = ' ' || guid || \
                 CASE WHEN id % 3 = 0 THEN ' Shared::Child ' ELSE ' ' END",
                [],
            )
            .unwrap();
        clock.advance_ms(1000);
        col.set_current_deck(built.decks[run.home]).unwrap();
        drop(col);
        let sc = Scenario {
            name: run.name,
            deck: run.home,
            steps: run.steps,
            days: run.days,
            tweak: |_, _| {},
        };
        let mut steps = steps(&sc, 120 + seeds[n]);
        for (at, request, then) in &run.builds {
            let mut custom = request.clone();
            custom["deck"] = json!(built.decks[run.home]);
            steps[*at]["custom"] = custom;
            steps[*at]["tree"] = json!(true);
            if let Some(deck) = then {
                steps[*at]["then_deck"] = json!(built.decks[*deck]);
            }
        }
        inputs.push(json!({"name": run.name, "path": path, "steps": steps}));
    }
    referee_in_lock_step(&inputs, "with custom study sessions");
}
