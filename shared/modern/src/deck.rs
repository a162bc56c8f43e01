//! Decks: the schema-18 `decks` rows and the schema-11 `col.decks` JSON object.

use serde::de::{self, Deserializer};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::json::{Other, bool_from_anything, default_on_invalid, is_false, number_from_string};
use crate::json::{other_from_bytes, other_to_bytes};
use crate::proto::{DayLimit, DeckCommon, DeckKind, FilteredDeck, NormalDeck, SearchTerm};

/// One deck as the schema-18 `decks` table holds it (`name` uses `\x1f` between levels).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeckRow {
    pub id: i64,
    pub name: String,
    pub mtime_secs: i64,
    pub usn: i32,
    pub common: DeckCommon,
    pub kind: DeckKind,
}

const RESERVED_DECK_KEYS: &[&str] = &[
    "usn",
    "revToday",
    "newLimit",
    "dyn",
    "reviewLimit",
    "newToday",
    "timeToday",
    "reviewLimitToday",
    "extendNew",
    "mod",
    "newLimitToday",
    "desc",
    "name",
    "lrnToday",
    "conf",
    "browserCollapsed",
    "extendRev",
    "id",
    "collapsed",
    "desiredRetention",
];

/// A deck in `col.decks`: `dyn` (0/1, or a boolean in old files) picks the variant.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum DeckJson {
    Normal(NormalDeckJson),
    Filtered(FilteredDeckJson),
}

impl<'de> Deserialize<'de> for DeckJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = Map::deserialize(deserializer)?;
        let (is_dyn, was_bool) = match map.get("dyn") {
            None => return Err(de::Error::missing_field("dyn")),
            Some(Value::Bool(b)) => (*b, true),
            Some(Value::Number(n)) => (n.as_i64().unwrap_or(0) == 1, false),
            Some(_) => return Err(de::Error::custom("dyn was wrong type")),
        };
        if was_bool {
            map.insert("dyn".into(), Value::from(u8::from(is_dyn)));
        }
        // An obsolete key Anki drops on read.
        map.remove("return");
        let rest = Value::Object(map);
        if is_dyn {
            FilteredDeckJson::deserialize(rest)
                .map(DeckJson::Filtered)
                .map_err(de::Error::custom)
        } else {
            NormalDeckJson::deserialize(rest)
                .map(DeckJson::Normal)
                .map_err(de::Error::custom)
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeckCommonJson {
    #[serde(deserialize_with = "number_from_string")]
    pub id: i64,
    #[serde(rename = "mod", deserialize_with = "number_from_string", default)]
    pub mtime: i64,
    pub name: String,
    pub usn: i32,
    #[serde(flatten)]
    pub today: DeckTodayJson,
    #[serde(rename = "collapsed")]
    pub study_collapsed: bool,
    #[serde(default, rename = "browserCollapsed")]
    pub browser_collapsed: bool,
    #[serde(default)]
    pub desc: String,
    #[serde(default, rename = "md", skip_serializing_if = "is_false")]
    pub markdown_description: bool,
    #[serde(rename = "dyn")]
    pub dynamic: u8,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct DeckTodayJson {
    #[serde(rename = "lrnToday")]
    pub lrn: TodayAmount,
    #[serde(rename = "revToday")]
    pub rev: TodayAmount,
    #[serde(rename = "newToday")]
    pub new: TodayAmount,
    #[serde(rename = "timeToday")]
    pub time: TodayAmount,
}

/// `[day, amount]`; Anki reads the last two elements as numbers and anything else as 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TodayAmount {
    pub day: i32,
    pub amount: i32,
}

impl Serialize for TodayAmount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.day)?;
        t.serialize_element(&self.amount)?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for TodayAmount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut v = Vec::<Value>::deserialize(d)?;
        let amount = v.pop().and_then(|v| v.as_i64()).unwrap_or(0);
        let day = v.pop().and_then(|v| v.as_i64()).unwrap_or(0);
        Ok(TodayAmount {
            day: day as i32,
            amount: amount as i32,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NormalDeckJson {
    #[serde(flatten)]
    pub common: DeckCommonJson,
    #[serde(deserialize_with = "number_from_string")]
    pub conf: i64,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub extend_new: i32,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub extend_rev: i32,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub review_limit: Option<u32>,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub new_limit: Option<u32>,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub review_limit_today: Option<DayLimit>,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub new_limit_today: Option<DayLimit>,
    /// Percent (87 = 0.87).
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub desired_retention: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilteredDeckJson {
    #[serde(flatten)]
    pub common: DeckCommonJson,
    #[serde(deserialize_with = "bool_from_anything")]
    pub resched: bool,
    pub terms: Vec<SearchTermJson>,
    /// Unused, but older clients require it.
    #[serde(default)]
    pub separate: bool,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub delays: Option<Vec<f32>>,
    #[serde(default)]
    pub preview_delay: u32,
    #[serde(default)]
    pub preview_again_secs: u32,
    #[serde(default)]
    pub preview_hard_secs: u32,
    #[serde(default)]
    pub preview_good_secs: u32,
}

/// `[search, limit, order]`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SearchTermJson {
    pub search: String,
    #[serde(deserialize_with = "i32_from_string")]
    pub limit: i32,
    pub order: i32,
}

fn i32_from_string<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    let n = number_from_string(d)?;
    i32::try_from(n).map_err(|_| de::Error::custom(format!("limit out of range: {n}")))
}

impl Serialize for SearchTermJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(3)?;
        t.serialize_element(&self.search)?;
        t.serialize_element(&self.limit)?;
        t.serialize_element(&self.order)?;
        t.end()
    }
}

impl DeckJson {
    pub fn common(&self) -> &DeckCommonJson {
        match self {
            DeckJson::Normal(d) => &d.common,
            DeckJson::Filtered(d) => &d.common,
        }
    }
}

// Downgrade (schema 18 -> 11).

fn common_json(row: &DeckRow, desc: String, markdown: bool, dynamic: u8) -> DeckCommonJson {
    let c = &row.common;
    // The four per-day counters share the one day schema 18 keeps.
    let day = c.last_day_studied as i32;
    DeckCommonJson {
        id: row.id,
        mtime: row.mtime_secs,
        name: row.name.replace('\x1f', "::"),
        usn: row.usn,
        today: DeckTodayJson {
            lrn: TodayAmount {
                day,
                amount: c.learning_studied,
            },
            rev: TodayAmount {
                day,
                amount: c.review_studied,
            },
            new: TodayAmount {
                day,
                amount: c.new_studied,
            },
            time: TodayAmount {
                day,
                amount: c.milliseconds_studied,
            },
        },
        study_collapsed: c.study_collapsed,
        browser_collapsed: c.browser_collapsed,
        desc,
        markdown_description: markdown,
        dynamic,
        other: other_from_bytes(&c.other, RESERVED_DECK_KEYS),
    }
}

impl From<&DeckRow> for DeckJson {
    fn from(row: &DeckRow) -> Self {
        match &row.kind {
            DeckKind::Normal(n) => DeckJson::Normal(NormalDeckJson {
                common: common_json(row, n.description.clone(), n.markdown_description, 0),
                conf: n.config_id,
                extend_new: n.extend_new as i32,
                extend_rev: n.extend_review as i32,
                review_limit: n.review_limit,
                new_limit: n.new_limit,
                review_limit_today: n.review_limit_today,
                new_limit_today: n.new_limit_today,
                // f32 arithmetic and a saturating cast, as Anki computes it.
                desired_retention: n.desired_retention.map(|v| (v * 100.0) as u32),
            }),
            DeckKind::Filtered(f) => DeckJson::Filtered(FilteredDeckJson {
                common: common_json(row, String::new(), false, 1),
                resched: f.reschedule,
                terms: f
                    .search_terms
                    .iter()
                    .map(|t| SearchTermJson {
                        search: t.search.clone(),
                        limit: t.limit as i32,
                        order: t.order,
                    })
                    .collect(),
                separate: true,
                delays: (!f.delays.is_empty()).then(|| f.delays.clone()),
                preview_delay: f.preview_delay,
                preview_again_secs: f.preview_again_secs,
                preview_hard_secs: f.preview_hard_secs,
                preview_good_secs: f.preview_good_secs,
            }),
        }
    }
}

// Upgrade (schema 11 -> 18). The name is normalised by the caller.

fn common_proto(c: &DeckCommonJson) -> DeckCommon {
    // Schema 18 keeps one day for all counters: counters of an earlier day are reset. Study
    // always updates `time`; custom study may update only `rev` or `new`.
    let mut today = c.today.clone();
    let max_day = today.time.day.max(today.new.day).max(today.rev.day);
    if today.lrn.day != max_day {
        today.lrn.amount = 0;
    }
    if today.rev.day != max_day {
        today.rev.amount = 0;
    }
    if today.new.day != max_day {
        today.new.amount = 0;
    }
    DeckCommon {
        study_collapsed: c.study_collapsed,
        browser_collapsed: c.browser_collapsed,
        last_day_studied: max_day as u32,
        new_studied: today.new.amount,
        review_studied: today.rev.amount,
        learning_studied: today.lrn.amount,
        milliseconds_studied: c.today.time.amount,
        other: other_to_bytes(&c.other),
    }
}

impl From<&DeckJson> for DeckRow {
    fn from(deck: &DeckJson) -> Self {
        let common = deck.common();
        let kind = match deck {
            DeckJson::Normal(d) => DeckKind::Normal(NormalDeck {
                config_id: d.conf,
                extend_new: d.extend_new.max(0) as u32,
                extend_review: d.extend_rev.max(0) as u32,
                description: d.common.desc.clone(),
                markdown_description: d.common.markdown_description,
                review_limit: d.review_limit,
                new_limit: d.new_limit,
                review_limit_today: d.review_limit_today,
                new_limit_today: d.new_limit_today,
                desired_retention: d.desired_retention.map(|v| v as f32 / 100.0),
            }),
            DeckJson::Filtered(d) => DeckKind::Filtered(FilteredDeck {
                reschedule: d.resched,
                search_terms: d
                    .terms
                    .iter()
                    .map(|t| SearchTerm {
                        search: t.search.clone(),
                        limit: t.limit.max(0) as u32,
                        order: t.order,
                    })
                    .collect(),
                delays: d.delays.clone().unwrap_or_default(),
                preview_delay: d.preview_delay,
                preview_again_secs: d.preview_again_secs,
                preview_hard_secs: d.preview_hard_secs,
                preview_good_secs: d.preview_good_secs,
            }),
        };
        DeckRow {
            id: common.id,
            name: common.name.clone(),
            mtime_secs: common.mtime,
            usn: common.usn,
            common: common_proto(common),
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn normal(extra: Value) -> Value {
        let mut v = json!({
            "id": 5, "mod": 7, "name": "A::B", "usn": -1, "lrnToday": [3, 1], "revToday": [4, 2],
            "newToday": [4, 3], "timeToday": [4, 4000], "collapsed": false, "dyn": 0, "conf": 1
        });
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    }

    #[test]
    fn dyn_picks_the_variant_and_booleans_are_accepted() {
        let d: DeckJson = serde_json::from_value(normal(json!({"dyn": false}))).expect("normal");
        assert!(matches!(d, DeckJson::Normal(_)));
        let f: DeckJson = serde_json::from_value(normal(json!({
            "dyn": true, "resched": 1, "terms": [["is:due", "20", 0]], "return": true
        })))
        .expect("filtered");
        let DeckJson::Filtered(f) = f else {
            panic!("expected a filtered deck")
        };
        assert!(f.resched);
        assert_eq!(f.terms[0].limit, 20);
        assert!(!f.common.other.contains_key("return"));
        assert!(serde_json::from_value::<DeckJson>(normal(json!({"dyn": "0"}))).is_err());
    }

    #[test]
    fn counters_of_an_earlier_day_are_reset_on_upgrade() {
        let d: DeckJson = serde_json::from_value(normal(json!({"x": 1}))).expect("decodes");
        let row = DeckRow::from(&d);
        assert_eq!(row.common.last_day_studied, 4);
        assert_eq!(row.common.learning_studied, 0, "lrnToday was for day 3");
        assert_eq!(row.common.review_studied, 2);
        assert_eq!(row.common.new_studied, 3);
        assert_eq!(row.common.milliseconds_studied, 4000);
        let other: Value = serde_json::from_slice(&row.common.other).expect("json");
        assert_eq!(other, json!({"x": 1}));
    }
}
