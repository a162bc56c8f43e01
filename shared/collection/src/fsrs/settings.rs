//! Where Anki 26.9.3 keeps the FSRS settings in a schema-11 collection, read through small
//! accessors so a typed deck-options model can replace them later:
//! - `col.conf`: `fsrs` (the collection-wide switch) and `fsrsShortTermWithStepsEnabled`;
//! - a preset in `col.dconf`: `fsrsParams6` (else `fsrsParams5`, else `fsrsWeights`),
//!   `desiredRetention`, `sm2Retention` (historical retention), `ignoreRevlogsBeforeDate`,
//!   `weightSearch` (the optimiser's search), `name`;
//! - a deck in `col.decks`: `desiredRetention` (whole percent) overriding its preset's.

use javumbo_scheduler::fsrs::FsrsSettings;
use serde_json::Value;

use crate::JsonObject;

pub const KEY_FSRS: &str = "fsrs";
pub const KEY_SHORT_TERM_WITH_STEPS: &str = "fsrsShortTermWithStepsEnabled";
pub const KEY_PARAMS_6: &str = "fsrsParams6";
pub const KEY_PARAMS_5: &str = "fsrsParams5";
pub const KEY_PARAMS_4: &str = "fsrsWeights";
pub const KEY_DESIRED_RETENTION: &str = "desiredRetention";
pub const KEY_HISTORICAL_RETENTION: &str = "sm2Retention";
pub const KEY_IGNORE_BEFORE: &str = "ignoreRevlogsBeforeDate";
pub const KEY_PARAM_SEARCH: &str = "weightSearch";

/// Anki's default (and the value an out-of-range one is replaced with) for both retentions.
pub const DEFAULT_RETENTION: f32 = 0.9;

/// The collection-wide FSRS switch (off when absent, as in Anki).
pub fn fsrs_enabled(conf: &JsonObject) -> bool {
    conf.get(KEY_FSRS).and_then(Value::as_bool).unwrap_or(false)
}

pub fn short_term_with_steps(conf: &JsonObject) -> bool {
    conf.get(KEY_SHORT_TERM_WITH_STEPS)
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// A preset's FSRS fields.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetFsrs {
    pub name: String,
    /// Empty = the `fsrs` crate's defaults.
    pub params: Vec<f32>,
    pub desired_retention: f32,
    pub historical_retention: f32,
    /// Revlog entries at or before this instant (ms) are ignored; 0 = none.
    pub ignore_before_ms: i64,
    /// The optimiser's card search when the preset sets one (`weightSearch`).
    pub param_search: String,
}

fn f32_list(v: Option<&Value>) -> Vec<f32> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_f64)
                .map(|x| x as f32)
                .collect()
        })
        .unwrap_or_default()
}

/// Anki replaces (does not clamp) an out-of-range retention with the default.
fn retention(v: Option<&Value>, max: f32) -> f32 {
    match v.and_then(Value::as_f64).map(|x| x as f32) {
        Some(r) if (0.7..=max).contains(&r) => r,
        _ => DEFAULT_RETENTION,
    }
}

/// `YYYY-MM-DD` (UTC midnight) → epoch ms; anything else → 0 (no cut-off).
fn date_to_ms(s: &str) -> i64 {
    let mut it = s.trim().splitn(3, '-').map(str::parse::<i64>);
    let (Some(Ok(y)), Some(Ok(m)), Some(Ok(d))) = (it.next(), it.next(), it.next()) else {
        return 0;
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return 0;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400_000
}

impl PresetFsrs {
    pub fn from_dconf_json(v: &Value) -> Self {
        let params = [KEY_PARAMS_6, KEY_PARAMS_5, KEY_PARAMS_4]
            .iter()
            .map(|k| f32_list(v.get(k)))
            .find(|p| !p.is_empty())
            .unwrap_or_default();
        Self {
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            params,
            desired_retention: retention(v.get(KEY_DESIRED_RETENTION), 0.99),
            historical_retention: retention(v.get(KEY_HISTORICAL_RETENTION), 0.97),
            ignore_before_ms: v
                .get(KEY_IGNORE_BEFORE)
                .and_then(Value::as_str)
                .map_or(0, date_to_ms),
            param_search: v
                .get(KEY_PARAM_SEARCH)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        }
    }

    /// The scheduler's view, with a deck's own desired retention when it has one.
    pub fn settings(&self, deck_retention: Option<f32>, conf: &JsonObject) -> FsrsSettings {
        FsrsSettings {
            params: self.params.clone(),
            desired_retention: deck_retention.unwrap_or(self.desired_retention),
            short_term_with_steps: short_term_with_steps(conf),
        }
    }
}

/// A deck's desired-retention override (`desiredRetention`, whole percent; null = none).
pub fn deck_desired_retention(deck: &Value) -> Option<f32> {
    deck.get(KEY_DESIRED_RETENTION)
        .and_then(Value::as_u64)
        .and_then(|p| u32::try_from(p).ok())
        .map(|p| p as f32 / 100.0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn params_fall_back_from_6_to_5_to_4() {
        let p = |v: Value| PresetFsrs::from_dconf_json(&v).params;
        assert_eq!(
            p(json!({"fsrsParams6": [1.0], "fsrsParams5": [2.0]})),
            vec![1.0]
        );
        assert_eq!(
            p(json!({"fsrsParams6": [], "fsrsParams5": [2.0]})),
            vec![2.0]
        );
        assert_eq!(p(json!({"fsrsWeights": [3.0]})), vec![3.0]);
        assert!(p(json!({})).is_empty());
    }

    #[test]
    fn out_of_range_retentions_become_the_default() {
        let r = |v: Value| {
            let p = PresetFsrs::from_dconf_json(&v);
            (p.desired_retention, p.historical_retention)
        };
        assert_eq!(r(json!({})), (0.9, 0.9));
        assert_eq!(
            r(json!({"desiredRetention": 0.99, "sm2Retention": 0.98})),
            (0.99, 0.9)
        );
        assert_eq!(
            r(json!({"desiredRetention": 0.5, "sm2Retention": 0.8})),
            (0.9, 0.8)
        );
    }

    #[test]
    fn ignore_date() {
        assert_eq!(date_to_ms("1970-01-02"), 86_400_000);
        assert_eq!(date_to_ms("2024-01-01"), 1_704_067_200_000);
        assert_eq!(date_to_ms(""), 0);
        assert_eq!(date_to_ms("junk"), 0);
    }

    #[test]
    fn deck_retention_is_a_percentage() {
        assert_eq!(
            deck_desired_retention(&json!({"desiredRetention": 85})),
            Some(0.85)
        );
        assert_eq!(
            deck_desired_retention(&json!({"desiredRetention": null})),
            None
        );
    }
}
