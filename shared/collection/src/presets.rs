//! Deck option presets (Anki's "option groups", `col.dconf`) as a typed model with every v3
//! field of Anki 26.9's deck-options screen, Anki's defaults, and the screen's validation ranges.
//!
//! A preset is stored as Anki's schema-11 JSON (keys `new`, `rev`, `lapse`, `newMix`, ...); a
//! write edits only the keys it owns, so keys written by other clients survive. Reading applies
//! Anki's lenient rules (a missing or out-of-range stored value takes the default, as Anki's
//! `ensure_deck_config_values_valid` does), while an update through [`Collection::update_preset`]
//! is strict: an out-of-range value is refused with `InvalidInput` naming the field and range.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::coljson::{ColJson, JsonObject, json_i64};
use crate::schema::{DEFAULT_DCONF_ID, default_dconf};
use crate::{Collection, CollectionError, Result};

/// One preset. Orders, mixes and actions carry Anki's enum numbers (the proto `DeckConfig.Config`
/// enums, as stored in schema 11); the allowed values are listed on each field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preset {
    pub id: i64,
    pub name: String,
    /// Seconds.
    pub mtime: i64,
    // Daily limits.
    pub new_per_day: u32,
    pub reviews_per_day: u32,
    // New cards.
    /// Minutes.
    pub learn_steps: Vec<f32>,
    pub graduating_interval_good: u32,
    pub graduating_interval_easy: u32,
    /// 0 due (in order added), 1 random (schema 11 `new.order` is 1 / 0).
    pub new_card_insert_order: i32,
    // Lapses.
    /// Minutes.
    pub relearn_steps: Vec<f32>,
    pub minimum_lapse_interval: u32,
    pub leech_threshold: u32,
    /// 0 suspend, 1 tag only.
    pub leech_action: i32,
    // Display order.
    /// 0 deck, 5 deck then random notes, 1 ascending position, 2 descending position,
    /// 3 random notes, 4 random cards.
    pub new_card_gather_priority: i32,
    /// 0 template, 1 no sort (order gathered), 2 template then random, 3 random note then
    /// template, 4 random card.
    pub new_card_sort_order: i32,
    /// 0 mix with reviews, 1 after reviews, 2 before reviews.
    pub new_mix: i32,
    /// Same values as `new_mix`.
    pub interday_learning_mix: i32,
    /// 0 due date then random, 1 due date then deck, 2 deck then due date, 3 ascending
    /// intervals, 4 descending intervals, 5 ascending ease, 6 descending ease, 7 ascending
    /// retrievability, 11 descending retrievability, 12 relative overdueness, 8 random,
    /// 9 order added, 10 reverse order added.
    pub review_order: i32,
    // Burying.
    pub bury_new: bool,
    pub bury_reviews: bool,
    pub bury_interday_learning: bool,
    // Advanced.
    pub maximum_review_interval: u32,
    pub initial_ease: f32,
    pub easy_multiplier: f32,
    pub hard_multiplier: f32,
    /// "New interval" after a lapse.
    pub lapse_multiplier: f32,
    pub interval_multiplier: f32,
    // FSRS (stored here; used by the FSRS engine).
    pub fsrs_params: Vec<f32>,
    pub desired_retention: f32,
    pub historical_retention: f32,
    pub ignore_revlogs_before_date: String,
    pub param_search: String,
    /// Empty or seven values (Monday first).
    pub easy_days_percentages: Vec<f32>,
    // Timer and audio (kept; javumbo's study screen reads `cap_answer_time_to_secs`).
    pub cap_answer_time_to_secs: u32,
    pub show_timer: bool,
    pub stop_timer_on_answer: bool,
    pub disable_autoplay: bool,
    pub skip_question_when_replaying_answer: bool,
    pub wait_for_audio: bool,
    pub seconds_to_show_question: f32,
    pub seconds_to_show_answer: f32,
    /// 0 show answer, 1 show reminder.
    pub question_action: i32,
    /// 0 bury card, 1 answer again, 2 answer good, 3 answer hard, 4 show reminder.
    pub answer_action: i32,
}

const GATHER: &[i32] = &[0, 1, 2, 3, 4, 5];
const NEW_SORT: &[i32] = &[0, 1, 2, 3, 4];
const MIX: &[i32] = &[0, 1, 2];
const REVIEW_ORDER: &[i32] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
/// The longest step the options screen accepts: 9999 days, in minutes.
const MAX_STEP_MINUTES: f32 = 9999.0 * 1440.0;

impl Default for Preset {
    /// Anki's `DeckConfig::default()` (a new preset), named "Default", id 0 (unsaved).
    fn default() -> Self {
        Self::from_json(0, &default_dconf())
    }
}

fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| &v[*k])
}

fn u32_in(v: &Value, default: u32, min: u32, max: u32) -> u32 {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| (min..=max).contains(n))
        .unwrap_or(default)
}

fn f32_in(v: &Value, default: f32, min: f32, max: f32) -> f32 {
    v.as_f64()
        .map(|f| f as f32)
        .filter(|f| !f.is_nan() && (min..=max).contains(f))
        .unwrap_or(default)
}

fn enum_in(v: &Value, allowed: &[i32], default: i32) -> i32 {
    v.as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .filter(|n| allowed.contains(n))
        .unwrap_or(default)
}

fn floats(v: &Value) -> Option<Vec<f32>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_f64().map(|f| f as f32))
        .collect()
}

/// The shortest decimal that reads back as `x` (Anki serializes its f32s so: 0.9, not
/// 0.8999999761581421).
fn f32_as_decimal(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

fn bool_or(v: &Value, default: bool) -> bool {
    v.as_bool().unwrap_or(default)
}

impl Preset {
    /// Read a stored preset leniently, as Anki does.
    pub fn from_json(id: i64, v: &Value) -> Self {
        let ints = get(v, &["new", "ints"]).as_array().filter(|a| a.len() >= 2);
        let int_at = |i: usize, d: u32| {
            ints.and_then(|a| a[i].as_u64())
                .and_then(|n| u16::try_from(n).ok())
                .map(u32::from)
                .filter(|n| (1..=36_500).contains(n))
                .unwrap_or(d)
        };
        let fsrs = ["fsrsParams6", "fsrsParams5", "fsrsWeights"]
            .iter()
            .filter_map(|k| floats(&v[*k]))
            .find(|p| !p.is_empty())
            .unwrap_or_default();
        Self {
            id,
            name: v["name"].as_str().unwrap_or("Default").to_owned(),
            mtime: v["mod"].as_i64().unwrap_or(0),
            new_per_day: u32_in(get(v, &["new", "perDay"]), 20, 0, 9999),
            reviews_per_day: u32_in(get(v, &["rev", "perDay"]), 200, 0, 9999),
            learn_steps: floats(get(v, &["new", "delays"])).unwrap_or_else(|| vec![1.0, 10.0]),
            graduating_interval_good: int_at(0, 1),
            graduating_interval_easy: int_at(1, 4),
            // Schema 11 stores 1 for "due" and 0 for "random".
            new_card_insert_order: match get(v, &["new", "order"]).as_i64() {
                Some(0) => 1,
                _ => 0,
            },
            relearn_steps: floats(get(v, &["lapse", "delays"])).unwrap_or_else(|| vec![10.0]),
            minimum_lapse_interval: u32_in(get(v, &["lapse", "minInt"]), 1, 1, 36_500),
            leech_threshold: u32_in(get(v, &["lapse", "leechFails"]), 8, 1, 9999),
            leech_action: enum_in(get(v, &["lapse", "leechAction"]), &[0, 1], 1),
            new_card_gather_priority: enum_in(&v["newGatherPriority"], GATHER, 0),
            new_card_sort_order: enum_in(&v["newSortOrder"], NEW_SORT, 0),
            new_mix: enum_in(&v["newMix"], MIX, 0),
            interday_learning_mix: enum_in(&v["interdayLearningMix"], MIX, 0),
            review_order: enum_in(&v["reviewOrder"], REVIEW_ORDER, 0),
            bury_new: bool_or(get(v, &["new", "bury"]), false),
            bury_reviews: bool_or(get(v, &["rev", "bury"]), false),
            bury_interday_learning: bool_or(&v["buryInterdayLearning"], false),
            maximum_review_interval: u32_in(get(v, &["rev", "maxIvl"]), 36_500, 1, 36_500),
            initial_ease: get(v, &["new", "initialFactor"])
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .map(|n| f32::from(n) / 1000.0)
                .filter(|f| (1.31..=5.0).contains(f))
                .unwrap_or(2.5),
            easy_multiplier: f32_in(get(v, &["rev", "ease4"]), 1.3, 1.0, 5.0),
            hard_multiplier: f32_in(get(v, &["rev", "hardFactor"]), 1.2, 0.5, 1.3),
            lapse_multiplier: f32_in(get(v, &["lapse", "mult"]), 0.0, 0.0, 1.0),
            interval_multiplier: f32_in(get(v, &["rev", "ivlFct"]), 1.0, 0.5, 2.0),
            fsrs_params: fsrs,
            desired_retention: f32_in(&v["desiredRetention"], 0.9, 0.7, 0.99),
            historical_retention: f32_in(&v["sm2Retention"], 0.9, 0.7, 0.97),
            ignore_revlogs_before_date: v["ignoreRevlogsBeforeDate"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            param_search: v["weightSearch"].as_str().unwrap_or("").to_owned(),
            easy_days_percentages: floats(&v["easyDaysPercentages"])
                .filter(|p| p.len() == 7)
                .unwrap_or_else(|| vec![1.0; 7]),
            cap_answer_time_to_secs: v["maxTaken"]
                .as_i64()
                .map(|s| u32::try_from(s.max(0)).unwrap_or(u32::MAX))
                .filter(|s| (1..=9999).contains(s))
                .unwrap_or(60),
            show_timer: v["timer"].as_i64().is_some_and(|t| t != 0),
            stop_timer_on_answer: bool_or(&v["stopTimerOnAnswer"], false),
            disable_autoplay: !bool_or(&v["autoplay"], true),
            skip_question_when_replaying_answer: !bool_or(&v["replayq"], true),
            wait_for_audio: bool_or(&v["waitForAudio"], true),
            seconds_to_show_question: f32_in(&v["secondsToShowQuestion"], 0.0, 0.0, f32::MAX),
            seconds_to_show_answer: f32_in(&v["secondsToShowAnswer"], 0.0, 0.0, f32::MAX),
            question_action: enum_in(&v["questionAction"], &[0, 1], 0),
            answer_action: enum_in(&v["answerAction"], &[0, 1, 2, 3, 4], 0),
        }
    }

    /// Refuse anything Anki's options screen would not accept, naming the field and its range.
    pub fn validate(&self) -> Result<()> {
        fn range<T: PartialOrd + std::fmt::Display>(name: &str, v: T, lo: T, hi: T) -> Result<()> {
            if v >= lo && v <= hi {
                Ok(())
            } else {
                Err(CollectionError::InvalidInput(format!(
                    "{name} {v} is out of range (expected {lo} to {hi})"
                )))
            }
        }
        fn one_of(name: &str, v: i32, allowed: &[i32]) -> Result<()> {
            if allowed.contains(&v) {
                Ok(())
            } else {
                Err(CollectionError::InvalidInput(format!(
                    "{name} {v} is not one of {allowed:?}"
                )))
            }
        }
        fn steps(name: &str, steps: &[f32]) -> Result<()> {
            if steps.len() > 100 {
                return Err(CollectionError::InvalidInput(format!(
                    "{name} has {} steps (at most 100)",
                    steps.len()
                )));
            }
            for s in steps {
                if !s.is_finite() || *s <= 0.0 || *s > MAX_STEP_MINUTES {
                    return Err(CollectionError::InvalidInput(format!(
                        "{name} step {s} is out of range (expected more than 0 to {MAX_STEP_MINUTES} minutes)"
                    )));
                }
            }
            Ok(())
        }
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(CollectionError::InvalidInput(
                "name must be 1 to 200 characters".into(),
            ));
        }
        range("newPerDay", self.new_per_day, 0, 9999)?;
        range("reviewsPerDay", self.reviews_per_day, 0, 9999)?;
        steps("learnSteps", &self.learn_steps)?;
        steps("relearnSteps", &self.relearn_steps)?;
        range(
            "graduatingIntervalGood",
            self.graduating_interval_good,
            1,
            36_500,
        )?;
        range(
            "graduatingIntervalEasy",
            self.graduating_interval_easy,
            1,
            36_500,
        )?;
        one_of("newCardInsertOrder", self.new_card_insert_order, &[0, 1])?;
        range(
            "minimumLapseInterval",
            self.minimum_lapse_interval,
            1,
            36_500,
        )?;
        range("leechThreshold", self.leech_threshold, 1, 9999)?;
        one_of("leechAction", self.leech_action, &[0, 1])?;
        one_of(
            "newCardGatherPriority",
            self.new_card_gather_priority,
            GATHER,
        )?;
        one_of("newCardSortOrder", self.new_card_sort_order, NEW_SORT)?;
        one_of("newMix", self.new_mix, MIX)?;
        one_of("interdayLearningMix", self.interday_learning_mix, MIX)?;
        one_of("reviewOrder", self.review_order, REVIEW_ORDER)?;
        range(
            "maximumReviewInterval",
            self.maximum_review_interval,
            1,
            36_500,
        )?;
        range("initialEase", self.initial_ease, 1.31, 5.0)?;
        range("easyMultiplier", self.easy_multiplier, 1.0, 5.0)?;
        range("hardMultiplier", self.hard_multiplier, 0.5, 1.3)?;
        range("lapseMultiplier", self.lapse_multiplier, 0.0, 1.0)?;
        range("intervalMultiplier", self.interval_multiplier, 0.5, 2.0)?;
        range("desiredRetention", self.desired_retention, 0.7, 0.99)?;
        range("historicalRetention", self.historical_retention, 0.7, 0.97)?;
        if !self.fsrs_params.is_empty() && ![17, 19, 21].contains(&self.fsrs_params.len()) {
            return Err(CollectionError::InvalidInput(format!(
                "fsrsParams has {} values (expected 0, 17, 19 or 21)",
                self.fsrs_params.len()
            )));
        }
        if self.fsrs_params.iter().any(|p| !p.is_finite()) {
            return Err(CollectionError::InvalidInput(
                "fsrsParams must be finite numbers".into(),
            ));
        }
        if self.easy_days_percentages.len() != 7 {
            return Err(CollectionError::InvalidInput(format!(
                "easyDaysPercentages has {} values (expected 7)",
                self.easy_days_percentages.len()
            )));
        }
        for p in &self.easy_days_percentages {
            range("easyDaysPercentages", *p, 0.0, 1.5)?;
        }
        range("capAnswerTimeToSecs", self.cap_answer_time_to_secs, 1, 9999)?;
        range(
            "secondsToShowQuestion",
            self.seconds_to_show_question,
            0.0,
            9999.0,
        )?;
        range(
            "secondsToShowAnswer",
            self.seconds_to_show_answer,
            0.0,
            9999.0,
        )?;
        one_of("questionAction", self.question_action, &[0, 1])?;
        one_of("answerAction", self.answer_action, &[0, 1, 2, 3, 4])?;
        Ok(())
    }

    /// Write this preset into `obj` (a stored preset, or Anki's defaults for a new one), keeping
    /// every key it does not own.
    fn write_into(&self, obj: &mut Value, mtime: i64) {
        if !obj.is_object() {
            *obj = default_dconf();
        }
        for section in ["new", "rev", "lapse"] {
            if !obj[section].is_object() {
                obj[section] = json!({});
            }
        }
        let f = |x: f32| Value::from(f32_as_decimal(x));
        let fs =
            |xs: &[f32]| Value::from(xs.iter().map(|x| f32_as_decimal(*x)).collect::<Vec<_>>());
        obj["id"] = self.id.into();
        obj["name"] = self.name.trim().into();
        obj["mod"] = mtime.into();
        obj["usn"] = (-1).into();
        obj["new"]["perDay"] = self.new_per_day.into();
        obj["new"]["delays"] = fs(&self.learn_steps);
        obj["new"]["ints"] = json!([
            self.graduating_interval_good,
            self.graduating_interval_easy,
            0
        ]);
        obj["new"]["order"] = i32::from(self.new_card_insert_order == 0).into();
        obj["new"]["initialFactor"] = ((self.initial_ease * 1000.0).round() as i64).into();
        obj["new"]["bury"] = self.bury_new.into();
        obj["rev"]["perDay"] = self.reviews_per_day.into();
        obj["rev"]["bury"] = self.bury_reviews.into();
        obj["rev"]["ease4"] = f(self.easy_multiplier);
        obj["rev"]["hardFactor"] = f(self.hard_multiplier);
        obj["rev"]["ivlFct"] = f(self.interval_multiplier);
        obj["rev"]["maxIvl"] = self.maximum_review_interval.into();
        obj["lapse"]["delays"] = fs(&self.relearn_steps);
        obj["lapse"]["minInt"] = self.minimum_lapse_interval.into();
        obj["lapse"]["leechFails"] = self.leech_threshold.into();
        obj["lapse"]["leechAction"] = self.leech_action.into();
        obj["lapse"]["mult"] = f(self.lapse_multiplier);
        obj["newGatherPriority"] = self.new_card_gather_priority.into();
        obj["newSortOrder"] = self.new_card_sort_order.into();
        obj["newMix"] = self.new_mix.into();
        obj["interdayLearningMix"] = self.interday_learning_mix.into();
        obj["reviewOrder"] = self.review_order.into();
        obj["buryInterdayLearning"] = self.bury_interday_learning.into();
        // Anki writes the newest generation and keeps older ones only as fallbacks.
        obj["fsrsParams6"] = fs(&self.fsrs_params);
        obj["desiredRetention"] = f(self.desired_retention);
        obj["sm2Retention"] = f(self.historical_retention);
        obj["ignoreRevlogsBeforeDate"] = self.ignore_revlogs_before_date.as_str().into();
        obj["weightSearch"] = self.param_search.as_str().into();
        obj["easyDaysPercentages"] = fs(&self.easy_days_percentages);
        obj["maxTaken"] = self.cap_answer_time_to_secs.into();
        obj["timer"] = i32::from(self.show_timer).into();
        obj["stopTimerOnAnswer"] = self.stop_timer_on_answer.into();
        obj["autoplay"] = (!self.disable_autoplay).into();
        obj["replayq"] = (!self.skip_question_when_replaying_answer).into();
        obj["waitForAudio"] = self.wait_for_audio.into();
        obj["secondsToShowQuestion"] = f(self.seconds_to_show_question);
        obj["secondsToShowAnswer"] = f(self.seconds_to_show_answer);
        obj["questionAction"] = self.question_action.into();
        obj["answerAction"] = self.answer_action.into();
    }
}

/// Per-deck limits kept in the deck's own JSON (Anki's "This deck" and "Today only" tabs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeckLimits {
    pub review_limit: Option<u32>,
    pub new_limit: Option<u32>,
    /// Applies only on the day it was set (`today` is the day number then).
    pub review_limit_today: Option<TodayLimit>,
    pub new_limit_today: Option<TodayLimit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodayLimit {
    pub limit: u32,
    pub today: u32,
}

impl DeckLimits {
    pub(crate) fn from_deck_json(deck: &Value) -> Self {
        let limit = |k: &str| deck[k].as_u64().and_then(|n| u32::try_from(n).ok());
        let today = |k: &str| {
            let v = &deck[k];
            Some(TodayLimit {
                limit: u32::try_from(v["limit"].as_u64()?).ok()?,
                today: u32::try_from(v["today"].as_u64()?).ok()?,
            })
        };
        Self {
            review_limit: limit("reviewLimit"),
            new_limit: limit("newLimit"),
            review_limit_today: today("reviewLimitToday"),
            new_limit_today: today("newLimitToday"),
        }
    }
}

impl Collection {
    fn dconf_map(&self) -> Result<JsonObject> {
        self.read_json(ColJson::Dconf)
    }

    /// Every preset, ordered by name as Anki lists them.
    pub fn presets(&self) -> Result<Vec<Preset>> {
        let mut out: Vec<Preset> = self
            .dconf_map()?
            .iter()
            .filter_map(|(k, v)| Some(Preset::from_json(k.parse().ok()?, v)))
            .collect();
        out.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then(a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// The normal decks using each preset, by preset id (sorted deck ids; a preset no deck uses
    /// is absent). Filtered decks have no preset.
    pub fn preset_decks(&self) -> Result<std::collections::BTreeMap<i64, Vec<i64>>> {
        let mut out = std::collections::BTreeMap::<i64, Vec<i64>>::new();
        for deck in self.deck_rows()?.into_iter().filter(|d| !d.filtered) {
            out.entry(deck.conf_id).or_default().push(deck.id);
        }
        for ids in out.values_mut() {
            ids.sort_unstable();
        }
        Ok(out)
    }

    /// One preset; a missing id is `NotFound`.
    pub fn preset(&self, id: i64) -> Result<Preset> {
        self.dconf_map()?
            .get(&id.to_string())
            .map(|v| Preset::from_json(id, v))
            .ok_or_else(|| CollectionError::NotFound(format!("preset {id} not found")))
    }

    /// The preset a deck uses (a dangling id falls back to preset 1, then to the defaults, as
    /// Anki's `get_deck_config(.., fallback)`).
    pub fn deck_preset(&self, deck_id: i64) -> Result<Preset> {
        let conf_id = self.deck_row(deck_id)?.conf_id;
        let map = self.dconf_map()?;
        Ok(map
            .get(&conf_id.to_string())
            .map(|v| Preset::from_json(conf_id, v))
            .or_else(|| {
                map.get(&DEFAULT_DCONF_ID.to_string())
                    .map(|v| Preset::from_json(DEFAULT_DCONF_ID, v))
            })
            .unwrap_or_default())
    }

    /// Replace every field of an existing preset (validated first; nothing is written when a
    /// value is refused).
    pub fn update_preset(&self, preset: &Preset) -> Result<Preset> {
        preset.validate()?;
        self.atomic(|c| {
            let mut map = c.dconf_map()?;
            let key = preset.id.to_string();
            let stored = map.get_mut(&key).ok_or_else(|| {
                CollectionError::NotFound(format!("preset {} not found", preset.id))
            })?;
            preset.write_into(stored, c.clock().now_secs());
            let saved = Preset::from_json(preset.id, stored);
            c.write_json(ColJson::Dconf, &map)?;
            c.touch()?;
            Ok(saved)
        })
    }

    /// A new preset with Anki's defaults (or a copy of `from`'s settings) under `name`; its id
    /// is the creation time in milliseconds, as Anki assigns it (bumped past any taken id).
    pub fn create_preset(&self, name: &str, from: Option<i64>) -> Result<Preset> {
        self.atomic(|c| {
            let mut preset = match from {
                Some(id) => c.preset(id)?,
                None => Preset::default(),
            };
            preset.name = name.to_owned();
            let mut map = c.dconf_map()?;
            let mut id = c.clock().now_ms();
            while map.contains_key(&id.to_string()) {
                id += 1;
            }
            preset.id = id;
            preset.validate()?;
            let mut obj = default_dconf();
            preset.write_into(&mut obj, c.clock().now_secs());
            map.insert(id.to_string(), obj);
            c.write_json(ColJson::Dconf, &map)?;
            c.touch()?;
            c.preset(id)
        })
    }

    pub fn rename_preset(&self, id: i64, name: &str) -> Result<Preset> {
        let mut preset = self.preset(id)?;
        preset.name = name.to_owned();
        self.update_preset(&preset)
    }

    /// Delete a preset; decks that used it move to preset 1. Preset 1 cannot be deleted.
    pub fn delete_preset(&self, id: i64) -> Result<()> {
        if id == DEFAULT_DCONF_ID {
            return Err(CollectionError::InvalidInput(
                "the default preset (1) cannot be deleted".into(),
            ));
        }
        self.atomic(|c| {
            let mut map = c.dconf_map()?;
            if map.remove(&id.to_string()).is_none() {
                return Err(CollectionError::NotFound(format!("preset {id} not found")));
            }
            c.write_json(ColJson::Dconf, &map)?;
            let mut decks = c.read_json(ColJson::Decks)?;
            let now = c.clock().now_secs();
            for deck in decks.values_mut() {
                if json_i64(deck.as_object().unwrap_or(&JsonObject::new()), "conf") == Some(id) {
                    deck["conf"] = DEFAULT_DCONF_ID.into();
                    deck["mod"] = now.into();
                    deck["usn"] = (-1).into();
                }
            }
            c.write_json(ColJson::Decks, &decks)?;
            c.touch()
        })
    }

    /// Make a (normal) deck use a preset.
    pub fn set_deck_preset(&self, deck_id: i64, preset_id: i64) -> Result<()> {
        self.atomic(|c| {
            c.preset(preset_id)?;
            c.edit_deck_json(deck_id, |deck| {
                if deck["dyn"].as_i64().unwrap_or(0) != 0 {
                    return Err(CollectionError::InvalidInput(format!(
                        "deck {deck_id} is a filtered deck and has no preset"
                    )));
                }
                deck["conf"] = preset_id.into();
                Ok(())
            })
        })
    }

    /// A deck's own limits ("This deck" / "Today only").
    pub fn deck_limits(&self, deck_id: i64) -> Result<DeckLimits> {
        let decks = self.read_json_shared(ColJson::Decks)?;
        decks
            .get(&deck_id.to_string())
            .map(DeckLimits::from_deck_json)
            .ok_or_else(|| CollectionError::NotFound(format!("deck {deck_id} not found")))
    }

    /// Set a deck's own limits (each 0–9999 or none). A "today only" limit given with any
    /// `today` is stamped with the current day number, as Anki's options screen does.
    pub fn set_deck_limits(&self, deck_id: i64, limits: &DeckLimits) -> Result<DeckLimits> {
        let check = |name: &str, v: Option<u32>| match v {
            Some(n) if n > 9999 => Err(CollectionError::InvalidInput(format!(
                "{name} {n} is out of range (expected 0 to 9999)"
            ))),
            _ => Ok(()),
        };
        check("reviewLimit", limits.review_limit)?;
        check("newLimit", limits.new_limit)?;
        check(
            "reviewLimitToday",
            limits.review_limit_today.map(|l| l.limit),
        )?;
        check("newLimitToday", limits.new_limit_today.map(|l| l.limit))?;
        self.atomic(|c| {
            let today = u32::try_from(c.timing()?.days_elapsed).unwrap_or(u32::MAX);
            let stamp = |l: Option<TodayLimit>| match l {
                Some(l) => json!({"limit": l.limit, "today": today}),
                None => Value::Null,
            };
            c.edit_deck_json(deck_id, |deck| {
                deck["reviewLimit"] = limits.review_limit.map_or(Value::Null, Value::from);
                deck["newLimit"] = limits.new_limit.map_or(Value::Null, Value::from);
                deck["reviewLimitToday"] = stamp(limits.review_limit_today);
                deck["newLimitToday"] = stamp(limits.new_limit_today);
                Ok(())
            })?;
            c.deck_limits(deck_id)
        })
    }

    /// Edit one deck's JSON in place (marking it modified); a missing deck is `NotFound`.
    pub(crate) fn edit_deck_json(
        &self,
        deck_id: i64,
        f: impl FnOnce(&mut Value) -> Result<()>,
    ) -> Result<()> {
        let mut decks = self.read_json(ColJson::Decks)?;
        let deck = decks
            .get_mut(&deck_id.to_string())
            .ok_or_else(|| CollectionError::NotFound(format!("deck {deck_id} not found")))?;
        f(deck)?;
        deck["mod"] = self.clock().now_secs().into();
        deck["usn"] = (-1).into();
        self.write_json(ColJson::Decks, &decks)?;
        self.touch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::empty;

    #[test]
    fn default_preset_is_ankis() {
        let (col, _) = empty();
        let p = col.preset(1).unwrap();
        let d = Preset {
            id: 1,
            ..Preset::default()
        };
        assert_eq!(p, d);
        assert_eq!((p.new_per_day, p.reviews_per_day), (20, 200));
        assert_eq!(
            (p.learn_steps.clone(), p.relearn_steps.clone()),
            (vec![1.0, 10.0], vec![10.0])
        );
        assert_eq!((p.leech_threshold, p.leech_action), (8, 1));
        assert_eq!(p.easy_days_percentages, vec![1.0; 7]);
        assert!(!p.disable_autoplay && p.wait_for_audio && !p.show_timer);
    }

    #[test]
    fn crud_and_assignment() {
        let (col, _) = empty();
        let deck = col.create_deck("Spanish").unwrap();
        let p = col.create_preset("Hard mode", None).unwrap();
        assert_eq!(p.name, "Hard mode");
        let mut q = p.clone();
        q.new_per_day = 5;
        q.learn_steps = vec![2.5, 30.0];
        q.leech_action = 0;
        q.bury_new = true;
        q.review_order = 8;
        q.fsrs_params = vec![0.5; 21];
        q.desired_retention = 0.85;
        let saved = col.update_preset(&q).unwrap();
        assert_eq!(saved.mtime, q.mtime.max(saved.mtime));
        assert_eq!(
            Preset {
                mtime: 0,
                ..saved.clone()
            },
            Preset {
                mtime: 0,
                ..q.clone()
            }
        );
        col.set_deck_preset(deck.id, p.id).unwrap();
        assert_eq!(col.deck_preset(deck.id).unwrap().new_per_day, 5);
        let used = col.preset_decks().unwrap();
        assert_eq!(used.get(&p.id), Some(&vec![deck.id]));
        assert!(!used[&1].contains(&deck.id));
        assert_eq!(col.fsrs_training_reviews(p.id).unwrap(), 0);
        assert!(matches!(
            col.fsrs_training_reviews(42),
            Err(CollectionError::NotFound(_))
        ));
        // The scheduler reads the same stored JSON.
        let dconf = col.read_json_shared(ColJson::Dconf).unwrap();
        let sched = javumbo_scheduler::DeckConfig::from_dconf_json(&dconf[&p.id.to_string()]);
        assert_eq!(sched.learn_steps, vec![2.5, 30.0]);
        assert_eq!(sched.leech_action, javumbo_scheduler::LeechAction::Suspend);

        let copy = col.create_preset("Copy", Some(p.id)).unwrap();
        assert_ne!(copy.id, p.id);
        assert_eq!(copy.new_per_day, 5);
        assert_eq!(
            col.rename_preset(copy.id, "  Renamed ").unwrap().name,
            "Renamed"
        );
        assert_eq!(
            col.presets()
                .unwrap()
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>(),
            ["Default", "Hard mode", "Renamed"]
        );

        col.delete_preset(p.id).unwrap();
        assert_eq!(col.deck_preset(deck.id).unwrap().id, 1);
        assert!(matches!(
            col.preset(p.id),
            Err(CollectionError::NotFound(_))
        ));
        assert!(matches!(
            col.delete_preset(1),
            Err(CollectionError::InvalidInput(_))
        ));
        assert!(matches!(
            col.set_deck_preset(deck.id, 42),
            Err(CollectionError::NotFound(_))
        ));
        assert!(matches!(
            col.set_deck_preset(9, 1),
            Err(CollectionError::NotFound(_))
        ));
    }

    #[test]
    fn updates_are_validated_and_name_the_field() {
        let (col, _) = empty();
        let base = col.preset(1).unwrap();
        type Breaker = Box<dyn Fn(&mut Preset)>;
        let cases: Vec<(&str, Breaker)> = vec![
            ("newPerDay", Box::new(|p| p.new_per_day = 10_000)),
            ("reviewsPerDay", Box::new(|p| p.reviews_per_day = 10_000)),
            ("learnSteps", Box::new(|p| p.learn_steps = vec![1.0, 0.0])),
            (
                "relearnSteps",
                Box::new(|p| p.relearn_steps = vec![f32::NAN]),
            ),
            (
                "graduatingIntervalGood",
                Box::new(|p| p.graduating_interval_good = 0),
            ),
            (
                "graduatingIntervalEasy",
                Box::new(|p| p.graduating_interval_easy = 36_501),
            ),
            ("leechThreshold", Box::new(|p| p.leech_threshold = 0)),
            ("leechAction", Box::new(|p| p.leech_action = 2)),
            ("reviewOrder", Box::new(|p| p.review_order = 13)),
            ("newMix", Box::new(|p| p.new_mix = 3)),
            (
                "newCardGatherPriority",
                Box::new(|p| p.new_card_gather_priority = 6),
            ),
            ("newCardSortOrder", Box::new(|p| p.new_card_sort_order = -1)),
            (
                "maximumReviewInterval",
                Box::new(|p| p.maximum_review_interval = 0),
            ),
            ("initialEase", Box::new(|p| p.initial_ease = 1.3)),
            ("easyMultiplier", Box::new(|p| p.easy_multiplier = 5.5)),
            ("hardMultiplier", Box::new(|p| p.hard_multiplier = 1.31)),
            ("lapseMultiplier", Box::new(|p| p.lapse_multiplier = -0.1)),
            (
                "intervalMultiplier",
                Box::new(|p| p.interval_multiplier = 2.5),
            ),
            (
                "desiredRetention",
                Box::new(|p| p.desired_retention = 0.995),
            ),
            ("fsrsParams", Box::new(|p| p.fsrs_params = vec![1.0; 3])),
            (
                "capAnswerTimeToSecs",
                Box::new(|p| p.cap_answer_time_to_secs = 0),
            ),
            ("name", Box::new(|p| p.name = "  ".into())),
        ];
        for (field, bad) in cases {
            let mut p = base.clone();
            bad(&mut p);
            let e = col.update_preset(&p).unwrap_err();
            assert!(
                matches!(&e, CollectionError::InvalidInput(m) if m.contains(field)),
                "{field}: {e}"
            );
        }
        assert_eq!(col.preset(1).unwrap(), base, "nothing written");
    }

    #[test]
    fn unknown_keys_survive_and_stored_values_are_read_leniently() {
        let (col, _) = empty();
        let mut dconf = col.read_json(ColJson::Dconf).unwrap();
        dconf["1"]["someAddon"] = json!({"x": 1});
        dconf["1"]["new"]["perDay"] = json!(123_456);
        dconf["1"]["reviewOrder"] = json!(99);
        col.write_json(ColJson::Dconf, &dconf).unwrap();
        let p = col.preset(1).unwrap();
        assert_eq!((p.new_per_day, p.review_order), (20, 0));
        col.update_preset(&p).unwrap();
        let dconf = col.read_json_shared(ColJson::Dconf).unwrap();
        assert_eq!(dconf["1"]["someAddon"], json!({"x": 1}));
    }

    #[test]
    fn deck_limits_round_trip() {
        let (col, _) = empty();
        let deck = col.create_deck("D").unwrap();
        assert_eq!(col.deck_limits(deck.id).unwrap(), DeckLimits::default());
        let l = DeckLimits {
            review_limit: Some(50),
            new_limit: Some(0),
            review_limit_today: None,
            new_limit_today: Some(TodayLimit {
                limit: 7,
                today: 999,
            }),
        };
        let saved = col.set_deck_limits(deck.id, &l).unwrap();
        assert_eq!(
            saved.new_limit_today,
            Some(TodayLimit { limit: 7, today: 0 })
        );
        assert_eq!(saved.review_limit, Some(50));
        let bad = DeckLimits {
            new_limit: Some(10_000),
            ..l
        };
        assert!(matches!(
            col.set_deck_limits(deck.id, &bad),
            Err(CollectionError::InvalidInput(m)) if m.contains("newLimit")
        ));
    }
}
