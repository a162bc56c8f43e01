//! The legacy schema-11 file format, exactly as Anki's own legacy exporter writes it.

use rusqlite::Connection;
use serde_json::{Value, json};

use crate::error::Result;
use crate::storage;

/// Schema version Anki's importer expects from a legacy file (10 is too old, 12/13 too new).
pub const SCHEMA_VERSION: i64 = 11;

/// The DDL of a genuine schema-11 collection (`sqlite3 collection.anki2 .schema`), minus the
/// optional `sqlite_stat*` tables that only `ANALYZE` creates.
pub const DDL: &str = r#"
CREATE TABLE col (
  id integer PRIMARY KEY,
  crt integer NOT NULL,
  mod integer NOT NULL,
  scm integer NOT NULL,
  ver integer NOT NULL,
  dty integer NOT NULL,
  usn integer NOT NULL,
  ls integer NOT NULL,
  conf text NOT NULL,
  models text NOT NULL,
  decks text NOT NULL,
  dconf text NOT NULL,
  tags text NOT NULL
);
CREATE TABLE notes (
  id integer PRIMARY KEY,
  guid text NOT NULL,
  mid integer NOT NULL,
  mod integer NOT NULL,
  usn integer NOT NULL,
  tags text NOT NULL,
  flds text NOT NULL,
  -- The use of type integer for sfld is deliberate, because it means that integer values in this
  -- field will sort numerically.
  sfld integer NOT NULL,
  csum integer NOT NULL,
  flags integer NOT NULL,
  data text NOT NULL
);
CREATE TABLE cards (
  id integer PRIMARY KEY,
  nid integer NOT NULL,
  did integer NOT NULL,
  ord integer NOT NULL,
  mod integer NOT NULL,
  usn integer NOT NULL,
  type integer NOT NULL,
  queue integer NOT NULL,
  due integer NOT NULL,
  ivl integer NOT NULL,
  factor integer NOT NULL,
  reps integer NOT NULL,
  lapses integer NOT NULL,
  left integer NOT NULL,
  odue integer NOT NULL,
  odid integer NOT NULL,
  flags integer NOT NULL,
  data text NOT NULL
);
CREATE TABLE revlog (
  id integer PRIMARY KEY,
  cid integer NOT NULL,
  usn integer NOT NULL,
  ease integer NOT NULL,
  ivl integer NOT NULL,
  lastIvl integer NOT NULL,
  factor integer NOT NULL,
  time integer NOT NULL,
  type integer NOT NULL
);
CREATE INDEX ix_notes_usn ON notes (usn);
CREATE INDEX ix_cards_usn ON cards (usn);
CREATE INDEX ix_revlog_usn ON revlog (usn);
CREATE INDEX ix_cards_nid ON cards (nid);
CREATE INDEX ix_cards_sched ON cards (did, queue, due);
CREATE INDEX ix_revlog_cid ON revlog (cid);
CREATE INDEX ix_notes_csum ON notes (csum);
CREATE TABLE graves (
  usn integer NOT NULL,
  oid integer NOT NULL,
  type integer NOT NULL
);
"#;

/// The tables (and their columns) a legacy collection must have for us to read it. Used to check
/// uploaded packages before any query touches them, and the session layer's schema fingerprint.
pub const REQUIRED_COLUMNS: &[(&str, &[&str])] = &[
    (
        "col",
        &[
            "id", "crt", "mod", "scm", "ver", "dty", "usn", "ls", "conf", "models", "decks",
            "dconf", "tags",
        ],
    ),
    (
        "notes",
        &[
            "id", "guid", "mid", "mod", "usn", "tags", "flds", "sfld", "csum", "flags", "data",
        ],
    ),
    (
        "cards",
        &[
            "id", "nid", "did", "ord", "mod", "usn", "type", "queue", "due", "ivl", "factor",
            "reps", "lapses", "left", "odue", "odid", "flags", "data",
        ],
    ),
    (
        "revlog",
        &[
            "id", "cid", "usn", "ease", "ivl", "lastIvl", "factor", "time", "type",
        ],
    ),
];

/// Deck id of Anki's built-in "Default" deck.
pub const DEFAULT_DECK_ID: i64 = 1;
/// Deck option group every deck we create uses.
pub const DEFAULT_DCONF_ID: i64 = 1;

/// Options chosen when a collection is created.
#[derive(Debug, Clone, Copy)]
pub struct CreateOptions {
    /// The user's offset from UTC in minutes, east positive (UTC+2 → 120).
    pub utc_offset_minutes: i32,
    /// Hour of the day (local) at which Anki's day rolls over.
    pub rollover_hour: u8,
    /// Whether to add the "Verbal Tenses" starter deck (and make it current).
    pub starter_deck: bool,
}

impl Default for CreateOptions {
    fn default() -> Self {
        Self {
            utc_offset_minutes: 0,
            rollover_hour: 4,
            starter_deck: true,
        }
    }
}

/// `crt` as Anki computes it: the rollover hour of the creation day in local time, or of the
/// previous day when the collection is created before the rollover hour.
pub fn creation_stamp(now_secs: i64, utc_offset_minutes: i32, rollover_hour: u8) -> i64 {
    let offset = i64::from(utc_offset_minutes) * 60;
    let local = now_secs + offset;
    let local_midnight = local.div_euclid(86_400) * 86_400;
    let mut rollover_local = local_midnight + i64::from(rollover_hour) * 3600;
    if local < rollover_local {
        rollover_local -= 86_400;
    }
    rollover_local - offset
}

/// Anki's stock deck option group 1 (the values a new Anki 26.9 collection has).
pub fn default_dconf() -> Value {
    json!({
        "id": DEFAULT_DCONF_ID,
        "mod": 0,
        "name": "Default",
        "usn": 0,
        "maxTaken": 60,
        "autoplay": true,
        "timer": 0,
        "replayq": true,
        "new": {
            "bury": false,
            "delays": [1.0, 10.0],
            "initialFactor": 2500,
            "ints": [1, 4, 0],
            "order": 1,
            "perDay": 20
        },
        "rev": {
            "bury": false,
            "ease4": 1.3,
            "ivlFct": 1.0,
            "maxIvl": 36500,
            "perDay": 200,
            "hardFactor": 1.2
        },
        "lapse": {
            "delays": [10.0],
            "leechAction": 1,
            "leechFails": 8,
            "minInt": 1,
            "mult": 0.0
        },
        "dyn": false,
        "newMix": 0,
        "newPerDayMinimum": 0,
        "interdayLearningMix": 0,
        "reviewOrder": 0,
        "newSortOrder": 0,
        "newGatherPriority": 0,
        "buryInterdayLearning": false,
        "fsrsWeights": [],
        "fsrsParams5": [],
        "fsrsParams6": [],
        "desiredRetention": 0.9,
        "ignoreRevlogsBeforeDate": "",
        "easyDaysPercentages": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        "stopTimerOnAnswer": false,
        "secondsToShowQuestion": 0.0,
        "secondsToShowAnswer": 0.0,
        "questionAction": 0,
        "answerAction": 0,
        "waitForAudio": true,
        "sm2Retention": 0.9,
        "weightSearch": ""
    })
}

/// A deck object with every key Anki's legacy reader requires.
pub fn deck_json(id: i64, name: &str, mod_secs: i64) -> Value {
    let mut deck = deck_common_json(id, name, mod_secs);
    deck.extend([
        ("dyn".into(), json!(0)),
        ("conf".into(), json!(DEFAULT_DCONF_ID)),
        ("extendNew".into(), json!(0)),
        ("extendRev".into(), json!(0)),
        ("reviewLimit".into(), Value::Null),
        ("newLimit".into(), Value::Null),
        ("reviewLimitToday".into(), Value::Null),
        ("newLimitToday".into(), Value::Null),
        ("desiredRetention".into(), Value::Null),
    ]);
    Value::Object(deck)
}

/// The keys every deck object has, normal or filtered (Anki's legacy `DeckCommon`), expanded
/// and with today's counters at zero; the caller adds `dyn` and its kind's keys.
pub(crate) fn deck_common_json(
    id: i64,
    name: &str,
    mod_secs: i64,
) -> serde_json::Map<String, Value> {
    serde_json::Map::from_iter([
        ("id".into(), json!(id)),
        ("mod".into(), json!(mod_secs)),
        ("name".into(), json!(name)),
        ("usn".into(), json!(-1)),
        ("lrnToday".into(), json!([0, 0])),
        ("revToday".into(), json!([0, 0])),
        ("newToday".into(), json!([0, 0])),
        ("timeToday".into(), json!([0, 0])),
        ("collapsed".into(), json!(false)),
        ("browserCollapsed".into(), json!(false)),
        ("desc".into(), json!("")),
    ])
}

/// Anki 26.9.3's stock note types, in the order and form `Collection()` creates them (dumped from
/// a new collection of the official package, ids removed): Basic, Basic (and reversed card),
/// Basic (optional reversed card), Basic (type in the answer), Cloze, Image Occlusion.
const STOCK_NOTETYPES: &str = include_str!("stock_notetypes.json");

/// A deterministic 63-bit id for the `n`th template or field of note type `model_id`. Anki draws
/// these at random; deriving them from the creation time keeps collection creation
/// deterministic under a manual clock (and distinct within the collection).
fn part_id(model_id: i64, n: u64) -> i64 {
    let x = (model_id as u64)
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(n.wrapping_mul(1_442_695_040_888_963_407) | 1);
    // splitmix64's finaliser spreads consecutive inputs over the whole range.
    let x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((x ^ (x >> 31)) & (i64::MAX as u64)) as i64
}

/// The stock note types with ids `first_id`, `first_id + 1`, … (Anki numbers them so too).
pub fn stock_notetypes(first_id: i64) -> Result<Vec<Value>> {
    let mut all: Vec<Value> = serde_json::from_str(STOCK_NOTETYPES)?;
    let mut n = 0;
    for (i, m) in all.iter_mut().enumerate() {
        let id = first_id + i as i64;
        m["id"] = id.into();
        for key in ["tmpls", "flds"] {
            if let Some(parts) = m.get_mut(key).and_then(Value::as_array_mut) {
                for part in parts {
                    n += 1;
                    part["id"] = part_id(first_id, n).into();
                }
            }
        }
    }
    Ok(all)
}

/// Anki's stock "Basic" note type (Front/Back, one template), with id `id`.
pub fn basic_notetype(id: i64) -> Result<Value> {
    let mut all = stock_notetypes(id)?;
    Ok(all.swap_remove(0))
}

/// `col.conf` for a new collection. `schedVer: 2` and `sched2021: true` are load-bearing: without
/// them Anki's importer treats the file as v1 and silently rewrites learning revlog eases.
pub fn default_conf(basic_model_id: i64, utc_offset_minutes: i32, rollover_hour: u8) -> Value {
    json!({
        "activeDecks": [DEFAULT_DECK_ID],
        "dayLearnFirst": false,
        "estTimes": true,
        "sortBackwards": false,
        "dueCounts": true,
        "sortType": "noteFld",
        "collapseTime": 1200,
        "timeLim": 0,
        "schedVer": 2,
        "sched2021": true,
        "nextPos": 1,
        "addToCur": true,
        "curModel": basic_model_id,
        // Anki stores offsets as minutes *west* of UTC.
        "creationOffset": -utc_offset_minutes,
        "localOffset": -utc_offset_minutes,
        "rollover": rollover_hour,
        "newSpread": 0,
        "curDeck": DEFAULT_DECK_ID
    })
}

/// Create the tables and the `col` row of an empty collection (Default deck, Anki's stock note
/// types, Basic current).
/// Returns the Basic note type id.
pub fn init_empty(conn: &Connection, now_ms: i64, opts: &CreateOptions) -> Result<i64> {
    conn.execute_batch(DDL)?;
    let now_secs = now_ms.div_euclid(1000);
    let crt = creation_stamp(now_secs, opts.utc_offset_minutes, opts.rollover_hour);
    let model_id = now_ms;
    let mut models = serde_json::Map::new();
    for m in stock_notetypes(model_id)? {
        let id = m["id"].as_i64().unwrap_or(model_id);
        models.insert(id.to_string(), m);
    }
    let models = Value::Object(models);
    let decks = json!({ "1": deck_json(DEFAULT_DECK_ID, "Default", 0) });
    let dconf = json!({ "1": default_dconf() });
    let conf = default_conf(model_id, opts.utc_offset_minutes, opts.rollover_hour);
    storage::col::insert(
        conn,
        &storage::col::NewCol {
            crt,
            now_ms,
            ver: SCHEMA_VERSION,
            conf: &conf.to_string(),
            models: &models.to_string(),
            decks: &decks.to_string(),
            dconf: &dconf.to_string(),
        },
    )?;
    Ok(model_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crt_is_rollover_hour_of_creation_day() {
        // 2024-01-01 12:00 UTC → 04:00 UTC the same day.
        assert_eq!(creation_stamp(1_704_110_400, 0, 4), 1_704_081_600);
        // 02:00 UTC is before the rollover: the collection's day began yesterday at 04:00.
        assert_eq!(creation_stamp(1_704_074_400, 0, 4), 1_704_081_600 - 86_400);
        // UTC-3 at 2024-01-01 12:00 UTC is 09:00 local → 04:00 local = 07:00 UTC.
        assert_eq!(
            creation_stamp(1_704_110_400, -180, 4),
            1_704_081_600 + 3 * 3600
        );
    }
}
