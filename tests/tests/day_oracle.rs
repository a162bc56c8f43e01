//! The student's day refereed by the official `anki` package: collections javumbo creates for a
//! student in an IANA time zone (and a rollover hour) are opened by Anki on a device in that zone
//! (`TZ=<zone>`, libfaketime) at instants around rollovers and DST changes; Anki's `today` and
//! next rollover must equal ours at every instant (`tests/oracle/day_oracle.py`).
//!
//! Run: `cargo test -p javumbo-tests --test day_oracle -- --nocapture`

use javumbo_collection::{Collection, CreateOptions, ManualClock, TimeZone};
use javumbo_tests::run_oracle;
use serde_json::{Value, json};

const HOUR: i64 = 3600;

struct Case {
    name: String,
    tz: &'static str,
    rollover: i64,
    created: i64,
    /// Instants are generated around each rollover from this one for `days` days.
    from: i64,
    days: i64,
}

fn cases() -> Vec<Case> {
    let c = |tz: &'static str, rollover: i64, created: i64, from: i64, days: i64| Case {
        name: format!("{tz} rollover {rollover}"),
        tz,
        rollover,
        created,
        from,
        days,
    };
    vec![
        // New York: spring forward 2024-03-10 02:00, fall back 2024-11-03 02:00.
        c("America/New_York", 4, 1_704_110_400, 1_709_900_000, 4),
        c("America/New_York", 4, 1_704_110_400, 1_730_450_000, 4),
        // A rollover inside the skipped / repeated hour.
        c("America/New_York", 2, 1_704_110_400, 1_709_900_000, 3),
        c("America/New_York", 1, 1_704_110_400, 1_730_450_000, 3),
        // Los Angeles, negative offset, created in summer, studied across the fall-back.
        c("America/Los_Angeles", 4, 1_720_000_000, 1_730_450_000, 4),
        // Sydney: fall back 2024-04-07 03:00 AEDT, spring forward 2024-10-06 02:00 AEST.
        c("Australia/Sydney", 4, 1_704_110_400, 1_712_300_000, 4),
        c("Australia/Sydney", 0, 1_704_110_400, 1_728_000_000, 4),
        // India +5:30, no DST; a late rollover.
        c("Asia/Kolkata", 4, 1_704_110_400, 1_710_000_000, 3),
        c("Asia/Kolkata", 23, 1_704_110_400, 1_710_000_000, 3),
        // Berlin: spring forward 2024-03-31 02:00 CET.
        c("Europe/Berlin", 4, 1_704_110_400, 1_711_700_000, 3),
        // Lord Howe: a 30-minute DST shift (2024-04-07 02:00).
        c("Australia/Lord_Howe", 4, 1_704_110_400, 1_712_300_000, 3),
        c("UTC", 4, 1_704_110_400, 1_710_000_000, 2),
        // Chatham +12:45/+13:45, created just before the rollover.
        c("Pacific/Chatham", 4, 1_704_114_000, 1_712_300_000, 3),
    ]
}

/// Creates the collection as `javumbo-local` would for a student registering in `tz`: the
/// creation offset is the zone's offset at creation time.
fn build(case: &Case, path: &std::path::Path) -> Collection {
    let tz = TimeZone::parse(case.tz).unwrap();
    let clock = ManualClock::new(case.created * 1000);
    let opts = CreateOptions {
        utc_offset_minutes: tz.offset_east_minutes_at(case.created),
        rollover_hour: 4,
        starter_deck: false,
    };
    let col = Collection::create(path, clock, &opts).unwrap();
    col.set_timezone(case.tz).unwrap();
    col.set_rollover_hour(case.rollover).unwrap();
    col
}

/// Instants around every rollover of the span: ±1 s, ±30 min, ±61 min, and mid-day.
fn instants(case: &Case, col: &Collection, clock: &ManualClock) -> Vec<i64> {
    let mut out = Vec::new();
    clock.set_secs(case.from);
    for _ in 0..case.days {
        let next = col.timing().unwrap().next_day_at;
        for d in [
            -61 * 60,
            -30 * 60,
            -1,
            0,
            1,
            30 * 60,
            61 * 60,
            6 * HOUR,
            12 * HOUR,
        ] {
            out.push(next + d);
        }
        clock.set_secs(next + 1);
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[test]
fn the_day_matches_anki_in_every_zone() {
    let dir = tempfile::tempdir().unwrap();
    let mut input = Vec::new();
    let mut ours = Vec::new();
    for (i, case) in cases().iter().enumerate() {
        let path = dir.path().join(format!("c{i}.anki2"));
        let col = build(case, &path);
        let clock = ManualClock::new(0);
        let probe = Collection::open(&path, clock.clone()).unwrap();
        let at = instants(case, &probe, &clock);
        let expected: Vec<Value> = at
            .iter()
            .map(|&now| {
                clock.set_secs(now);
                let t = probe.timing().unwrap();
                json!({"now": now, "today": t.days_elapsed, "next_day_at": t.next_day_at})
            })
            .collect();
        drop(probe);
        drop(col);
        input.push(json!({"name": case.name, "path": path, "tz": case.tz, "instants": at}));
        ours.push(expected);
    }
    let out = run_oracle("day_oracle.py", &[], &Value::Array(input).to_string());
    let anki: Vec<Value> = serde_json::from_str(&out).unwrap();
    let mut mismatches = Vec::new();
    let mut steps = 0;
    for ((case, exp), got) in cases().iter().zip(&ours).zip(&anki) {
        assert_eq!(got["rollover"], case.rollover, "{}", case.name);
        let steps_anki = got["steps"].as_array().unwrap();
        assert_eq!(steps_anki.len(), exp.len());
        for (e, g) in exp.iter().zip(steps_anki) {
            steps += 1;
            if e != g {
                mismatches.push(format!("{}: ours {e} anki {g}", case.name));
            }
        }
    }
    println!("{steps} instants compared over {} cases", ours.len());
    assert!(
        mismatches.is_empty(),
        "{} of {steps} differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // Also check the zone actually changes the day (a test that cannot fail is a defect).
    assert!(steps > 200);
}
