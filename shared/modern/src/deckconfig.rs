//! Deck option presets: the schema-18 `deck_config` rows and the schema-11 `col.dconf` object.

use serde::de::{self, Deserializer};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::json::{Other, default_on_invalid, number_from_string};
use crate::json::{other_from_bytes, other_to_bytes};
use crate::proto::DeckConfigConfig;

/// One preset as the schema-18 `deck_config` table holds it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeckConfigRow {
    pub id: i64,
    pub name: String,
    pub mtime_secs: i64,
    pub usn: i32,
    pub config: DeckConfigConfig,
}

const RESERVED_KEYS: &[&str] = &[
    "id",
    "newSortOrder",
    "replayq",
    "newPerDayMinimum",
    "usn",
    "autoplay",
    "dyn",
    "maxTaken",
    "reviewOrder",
    "buryInterdayLearning",
    "newMix",
    "mod",
    "timer",
    "name",
    "interdayLearningMix",
    "newGatherPriority",
    "fsrsWeights",
    "fsrsParams5",
    "fsrsParams6",
    "desiredRetention",
    "stopTimerOnAnswer",
    "secondsToShowQuestion",
    "secondsToShowAnswer",
    "questionAction",
    "answerAction",
    "waitForAudio",
    "sm2Retention",
    "weightSearch",
    "ignoreRevlogsBeforeDate",
    "easyDaysPercentages",
];
const RESERVED_NEW_KEYS: &[&str] = &["order", "delays", "bury", "perDay", "initialFactor", "ints"];
const RESERVED_REV_KEYS: &[&str] = &["maxIvl", "hardFactor", "ease4", "ivlFct", "perDay", "bury"];
const RESERVED_LAPSE_KEYS: &[&str] = &["leechFails", "mult", "leechAction", "delays", "minInt"];

fn wait_for_audio_default() -> bool {
    true
}

fn hard_factor_default() -> f32 {
    1.2
}

/// A preset in `col.dconf`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeckConfJson {
    #[serde(deserialize_with = "number_from_string")]
    pub id: i64,
    #[serde(rename = "mod", deserialize_with = "number_from_string")]
    pub mtime: i64,
    pub name: String,
    pub usn: i32,
    pub max_taken: i32,
    pub autoplay: bool,
    #[serde(deserialize_with = "default_on_invalid")]
    pub timer: u8,
    #[serde(default)]
    pub replayq: bool,
    #[serde(deserialize_with = "default_on_invalid")]
    pub new: NewConfJson,
    #[serde(deserialize_with = "default_on_invalid")]
    pub rev: RevConfJson,
    #[serde(deserialize_with = "default_on_invalid")]
    pub lapse: LapseConfJson,
    #[serde(rename = "dyn", default, deserialize_with = "default_on_invalid")]
    pub dynamic: bool,
    // The 2021 scheduler's options: not in schema 11, kept there so they survive a downgrade.
    #[serde(default)]
    pub new_mix: i32,
    #[serde(default)]
    pub new_per_day_minimum: u32,
    #[serde(default)]
    pub interday_learning_mix: i32,
    #[serde(default)]
    pub review_order: i32,
    #[serde(default)]
    pub new_sort_order: i32,
    #[serde(default)]
    pub new_gather_priority: i32,
    #[serde(default)]
    pub bury_interday_learning: bool,
    #[serde(default, rename = "fsrsWeights")]
    pub fsrs_params_4: Vec<f32>,
    #[serde(default)]
    pub fsrs_params_5: Vec<f32>,
    #[serde(default)]
    pub fsrs_params_6: Vec<f32>,
    #[serde(default)]
    pub desired_retention: f32,
    #[serde(default)]
    pub ignore_revlogs_before_date: String,
    #[serde(default)]
    pub easy_days_percentages: Vec<f32>,
    #[serde(default)]
    pub stop_timer_on_answer: bool,
    #[serde(default)]
    pub seconds_to_show_question: f32,
    #[serde(default)]
    pub seconds_to_show_answer: f32,
    #[serde(default)]
    pub question_action: SmallEnum<1>,
    #[serde(default)]
    pub answer_action: SmallEnum<4>,
    #[serde(default = "wait_for_audio_default")]
    pub wait_for_audio: bool,
    /// Historical retention.
    #[serde(default)]
    pub sm2_retention: f32,
    #[serde(default, rename = "weightSearch")]
    pub param_search: String,
    #[serde(flatten)]
    pub other: Other,
}

/// A `u8` enum of `0..=MAX` written as its number; other values are refused, as Anki's
/// `serde_repr` enums refuse them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SmallEnum<const MAX: u8>(pub u8);

impl<const MAX: u8> Serialize for SmallEnum<MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

impl<'de, const MAX: u8> Deserialize<'de> for SmallEnum<MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u8::deserialize(d)?;
        if v <= MAX {
            Ok(Self(v))
        } else {
            Err(de::Error::custom(format!("invalid value {v}")))
        }
    }
}

/// `new.order` and `lapse.leechAction`: 0/1 with a default of 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ZeroOrOne(pub u8);

impl Default for ZeroOrOne {
    fn default() -> Self {
        Self(1)
    }
}

impl Serialize for ZeroOrOne {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.0)
    }
}

impl<'de> Deserialize<'de> for ZeroOrOne {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u8::deserialize(d)? {
            v @ (0 | 1) => Ok(Self(v)),
            v => Err(de::Error::custom(format!("invalid value {v}"))),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NewConfJson {
    #[serde(default)]
    pub bury: bool,
    #[serde(deserialize_with = "default_on_invalid")]
    pub delays: Vec<f32>,
    pub initial_factor: u16,
    #[serde(deserialize_with = "new_intervals")]
    pub ints: NewIntervals,
    /// 0 random, 1 due.
    #[serde(deserialize_with = "default_on_invalid")]
    pub order: ZeroOrOne,
    #[serde(deserialize_with = "default_on_invalid")]
    pub per_day: u32,
    #[serde(flatten)]
    pub other: Other,
}

impl Default for NewConfJson {
    fn default() -> Self {
        Self {
            bury: false,
            delays: vec![1.0, 10.0],
            initial_factor: 2500,
            ints: NewIntervals::default(),
            order: ZeroOrOne(1),
            per_day: 20,
            other: Other::new(),
        }
    }
}

/// `[good, easy, unused]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NewIntervals {
    pub good: u16,
    pub easy: u16,
}

impl Default for NewIntervals {
    fn default() -> Self {
        Self { good: 1, easy: 4 }
    }
}

impl Serialize for NewIntervals {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(3)?;
        t.serialize_element(&self.good)?;
        t.serialize_element(&self.easy)?;
        t.serialize_element(&0u16)?;
        t.end()
    }
}

/// AnkiDroid once wrote two elements instead of three; anything unreadable is the default.
fn new_intervals<'de, D: Deserializer<'de>>(d: D) -> Result<NewIntervals, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(Vec::<u16>::deserialize(v)
        .ok()
        .and_then(|vals| match vals.as_slice() {
            [good, easy, ..] => Some(NewIntervals {
                good: *good,
                easy: *easy,
            }),
            _ => None,
        })
        .unwrap_or_default())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RevConfJson {
    #[serde(default)]
    pub bury: bool,
    pub ease4: f32,
    pub ivl_fct: f32,
    pub max_ivl: u32,
    #[serde(deserialize_with = "default_on_invalid")]
    pub per_day: u32,
    #[serde(default = "hard_factor_default")]
    pub hard_factor: f32,
    #[serde(flatten)]
    pub other: Other,
}

impl Default for RevConfJson {
    fn default() -> Self {
        Self {
            bury: false,
            ease4: 1.3,
            ivl_fct: 1.0,
            max_ivl: 36500,
            per_day: 200,
            hard_factor: 1.2,
            other: Other::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LapseConfJson {
    #[serde(deserialize_with = "default_on_invalid")]
    pub delays: Vec<f32>,
    /// 0 suspend, 1 tag only.
    #[serde(deserialize_with = "default_on_invalid")]
    pub leech_action: ZeroOrOne,
    pub leech_fails: u32,
    pub min_int: u32,
    pub mult: f32,
    #[serde(flatten)]
    pub other: Other,
}

impl Default for LapseConfJson {
    fn default() -> Self {
        Self {
            delays: vec![10.0],
            leech_action: ZeroOrOne(1),
            leech_fails: 8,
            min_int: 1,
            mult: 0.0,
            other: Other::new(),
        }
    }
}

/// There was a time when Anki's options screen stored 0 or NaN; Anki replaces values outside
/// these bounds with the defaults every time it reads a preset, its downgrade included.
pub(crate) fn ensure_values_valid(c: &mut DeckConfigConfig) {
    fn u32_in(v: &mut u32, default: u32, min: u32, max: u32) {
        if *v < min || *v > max {
            *v = default;
        }
    }
    fn f32_in(v: &mut f32, default: f32, min: f32, max: f32) {
        if v.is_nan() || *v < min || *v > max {
            *v = default;
        }
    }
    u32_in(&mut c.new_per_day, 20, 0, 9999);
    u32_in(&mut c.reviews_per_day, 200, 0, 9999);
    u32_in(&mut c.new_per_day_minimum, 0, 0, 9999);
    f32_in(&mut c.initial_ease, 2.5, 1.31, 5.0);
    f32_in(&mut c.easy_multiplier, 1.3, 1.0, 5.0);
    f32_in(&mut c.hard_multiplier, 1.2, 0.5, 1.3);
    f32_in(&mut c.lapse_multiplier, 0.0, 0.0, 1.0);
    f32_in(&mut c.interval_multiplier, 1.0, 0.5, 2.0);
    u32_in(&mut c.maximum_review_interval, 36_500, 1, 36_500);
    u32_in(&mut c.minimum_lapse_interval, 1, 1, 36_500);
    u32_in(&mut c.graduating_interval_good, 1, 1, 36_500);
    u32_in(&mut c.graduating_interval_easy, 4, 1, 36_500);
    u32_in(&mut c.leech_threshold, 8, 1, 9999);
    u32_in(&mut c.cap_answer_time_to_secs, 60, 1, 9999);
    f32_in(&mut c.desired_retention, 0.9, 0.7, 0.99);
    f32_in(&mut c.historical_retention, 0.9, 0.7, 0.97);
}

fn sub_other(top: &mut Other, key: &str, reserved: &[&str]) -> Other {
    match top.remove(key) {
        Some(Value::Object(mut m)) => {
            m.retain(|k, _| !reserved.contains(&k.as_str()));
            m
        }
        _ => Other::new(),
    }
}

impl From<&DeckConfigRow> for DeckConfJson {
    /// The row's values must already have passed [`ensure_values_valid`].
    fn from(row: &DeckConfigRow) -> Self {
        let i = &row.config;
        // Unknown keys of the `new`/`rev`/`lapse` sub-objects are kept under those keys.
        let mut top = other_from_bytes(&i.other, &[]);
        let new_other = sub_other(&mut top, "new", RESERVED_NEW_KEYS);
        let rev_other = sub_other(&mut top, "rev", RESERVED_REV_KEYS);
        let lapse_other = sub_other(&mut top, "lapse", RESERVED_LAPSE_KEYS);
        top.retain(|k, _| !RESERVED_KEYS.contains(&k.as_str()));
        DeckConfJson {
            id: row.id,
            mtime: row.mtime_secs,
            name: row.name.clone(),
            usn: row.usn,
            max_taken: i.cap_answer_time_to_secs as i32,
            autoplay: !i.disable_autoplay,
            timer: u8::from(i.show_timer),
            replayq: !i.skip_question_when_replaying_answer,
            new: NewConfJson {
                bury: i.bury_new,
                delays: i.learn_steps.clone(),
                initial_factor: (i.initial_ease * 1000.0) as u16,
                ints: NewIntervals {
                    good: i.graduating_interval_good as u16,
                    easy: i.graduating_interval_easy as u16,
                },
                // Schema 18 counts 0 = due, 1 = random; schema 11 the other way round.
                order: ZeroOrOne(if i.new_card_insert_order == 1 { 0 } else { 1 }),
                per_day: i.new_per_day,
                other: new_other,
            },
            rev: RevConfJson {
                bury: i.bury_reviews,
                ease4: i.easy_multiplier,
                ivl_fct: i.interval_multiplier,
                max_ivl: i.maximum_review_interval,
                per_day: i.reviews_per_day,
                hard_factor: i.hard_multiplier,
                other: rev_other,
            },
            lapse: LapseConfJson {
                delays: i.relearn_steps.clone(),
                leech_action: ZeroOrOne(u8::from(i.leech_action == 1)),
                leech_fails: i.leech_threshold,
                min_int: i.minimum_lapse_interval,
                mult: i.lapse_multiplier,
                other: lapse_other,
            },
            dynamic: false,
            new_mix: i.new_mix,
            new_per_day_minimum: i.new_per_day_minimum,
            interday_learning_mix: i.interday_learning_mix,
            review_order: i.review_order,
            new_sort_order: i.new_card_sort_order,
            new_gather_priority: i.new_card_gather_priority,
            bury_interday_learning: i.bury_interday_learning,
            fsrs_params_4: i.fsrs_params_4.clone(),
            fsrs_params_5: i.fsrs_params_5.clone(),
            fsrs_params_6: i.fsrs_params_6.clone(),
            desired_retention: i.desired_retention,
            ignore_revlogs_before_date: i.ignore_revlogs_before_date.clone(),
            easy_days_percentages: i.easy_days_percentages.clone(),
            stop_timer_on_answer: i.stop_timer_on_answer,
            seconds_to_show_question: i.seconds_to_show_question,
            seconds_to_show_answer: i.seconds_to_show_answer,
            question_action: SmallEnum(u8::from(i.question_action == 1)),
            answer_action: SmallEnum(match i.answer_action {
                v @ 1..=4 => v as u8,
                _ => 0,
            }),
            wait_for_audio: i.wait_for_audio,
            sm2_retention: i.historical_retention,
            param_search: i.param_search.clone(),
            other: top,
        }
    }
}

impl DeckConfJson {
    /// The preset as schema 18 stores it, after Anki's upgrades 14 → 16: the starting ease
    /// goes from permille to a factor through the schema-15 detour (×100, then ÷100, in f32),
    /// and a starting ease of 1.3 or less becomes 2.5. Returns the row and whether that reset
    /// happened (Anki then also resets low card eases in the preset's decks).
    pub fn into_row(self) -> (DeckConfigRow, bool) {
        let mut other = self.other;
        for (key, sub) in [
            ("new", self.new.other),
            ("rev", self.rev.other),
            ("lapse", self.lapse.other),
        ] {
            if !sub.is_empty() {
                other.insert(key.into(), Value::Object(sub));
            }
        }
        let mut initial_ease = f32::from(self.new.initial_factor) / 1000.0;
        initial_ease *= 100.0;
        initial_ease /= 100.0;
        let reset_ease = initial_ease <= 1.3;
        if reset_ease {
            initial_ease = 2.5;
        }
        let config = DeckConfigConfig {
            learn_steps: self.new.delays,
            relearn_steps: self.lapse.delays,
            new_per_day: self.new.per_day,
            reviews_per_day: self.rev.per_day,
            new_per_day_minimum: self.new_per_day_minimum,
            initial_ease,
            easy_multiplier: self.rev.ease4,
            hard_multiplier: self.rev.hard_factor,
            lapse_multiplier: self.lapse.mult,
            interval_multiplier: self.rev.ivl_fct,
            maximum_review_interval: self.rev.max_ivl,
            minimum_lapse_interval: self.lapse.min_int,
            graduating_interval_good: u32::from(self.new.ints.good),
            graduating_interval_easy: u32::from(self.new.ints.easy),
            new_card_insert_order: if self.new.order.0 == 0 { 1 } else { 0 },
            new_card_gather_priority: self.new_gather_priority,
            new_card_sort_order: self.new_sort_order,
            new_mix: self.new_mix,
            review_order: self.review_order,
            interday_learning_mix: self.interday_learning_mix,
            leech_action: i32::from(self.lapse.leech_action.0),
            leech_threshold: self.lapse.leech_fails,
            disable_autoplay: !self.autoplay,
            cap_answer_time_to_secs: self.max_taken.max(0) as u32,
            show_timer: self.timer != 0,
            stop_timer_on_answer: self.stop_timer_on_answer,
            seconds_to_show_question: self.seconds_to_show_question,
            seconds_to_show_answer: self.seconds_to_show_answer,
            question_action: i32::from(self.question_action.0),
            answer_action: i32::from(self.answer_action.0),
            wait_for_audio: self.wait_for_audio,
            skip_question_when_replaying_answer: !self.replayq,
            bury_new: self.new.bury,
            bury_reviews: self.rev.bury,
            bury_interday_learning: self.bury_interday_learning,
            fsrs_params_4: self.fsrs_params_4,
            fsrs_params_5: self.fsrs_params_5,
            fsrs_params_6: self.fsrs_params_6,
            desired_retention: self.desired_retention,
            ignore_revlogs_before_date: self.ignore_revlogs_before_date,
            easy_days_percentages: self.easy_days_percentages,
            historical_retention: self.sm2_retention,
            param_search: self.param_search,
            other: other_to_bytes(&other),
        };
        (
            DeckConfigRow {
                id: self.id,
                name: self.name,
                mtime_secs: self.mtime,
                usn: self.usn,
                config,
            },
            reset_ease,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stock() -> Value {
        json!({
            "id": 1, "mod": 0, "name": "Default", "usn": 0, "maxTaken": 60, "autoplay": true,
            "timer": 0, "replayq": true,
            "new": {"bury": false, "delays": [1.0, 10.0], "initialFactor": 2500, "ints": [1, 4, 0],
                    "order": 1, "perDay": 20},
            "rev": {"bury": false, "ease4": 1.3, "ivlFct": 1.0, "maxIvl": 36500, "perDay": 200,
                    "hardFactor": 1.2},
            "lapse": {"delays": [10.0], "leechAction": 1, "leechFails": 8, "minInt": 1, "mult": 0.0},
            "dyn": false
        })
    }

    #[test]
    fn unknown_sub_keys_round_trip_under_their_section() {
        let mut v = stock();
        v["new"]["addonNew"] = json!(5);
        v["lapse"]["addonLapse"] = json!("x");
        v["addonTop"] = json!({"a": [1, 2]});
        let conf: DeckConfJson = serde_json::from_value(v).expect("decodes");
        let (row, reset) = conf.into_row();
        assert!(!reset);
        assert_eq!(row.config.initial_ease, 2.5);
        let back = serde_json::to_value(DeckConfJson::from(&row)).expect("serialises");
        assert_eq!(back["new"]["addonNew"], json!(5));
        assert_eq!(back["lapse"]["addonLapse"], json!("x"));
        assert_eq!(back["addonTop"], json!({"a": [1, 2]}));
        assert!(back.get("new").and_then(|n| n.get("perDay")).is_some());
        assert!(back["rev"].get("addonNew").is_none());
    }

    #[test]
    fn a_section_with_a_missing_key_becomes_the_default_section() {
        let mut v = stock();
        v["new"] = json!({"perDay": 99});
        let conf: DeckConfJson = serde_json::from_value(v).expect("decodes");
        assert_eq!(conf.new.per_day, 20);
    }

    #[test]
    fn low_starting_ease_is_reset_like_anki_schema16() {
        let mut v = stock();
        v["new"]["initialFactor"] = json!(1300);
        let (row, reset) = serde_json::from_value::<DeckConfJson>(v)
            .expect("decodes")
            .into_row();
        assert!(reset);
        assert_eq!(row.config.initial_ease, 2.5);
    }

    #[test]
    fn out_of_range_values_read_as_defaults() {
        let mut c = DeckConfigConfig {
            desired_retention: 0.5,
            initial_ease: f32::NAN,
            new_per_day: 10_000,
            ..Default::default()
        };
        ensure_values_valid(&mut c);
        assert_eq!(c.desired_retention, 0.9);
        assert_eq!(c.initial_ease, 2.5);
        assert_eq!(c.new_per_day, 20);
    }
}
