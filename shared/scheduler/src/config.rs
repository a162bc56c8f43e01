//! Deck options, read from legacy (schema 11) `dconf` JSON the way Anki reads them.

use serde_json::Value;

/// Deck options (one dconf group), with Anki's out-of-range → default replacement applied.
#[derive(Debug, Clone, PartialEq)]
pub struct DeckConfig {
    /// Learning steps in minutes.
    pub learn_steps: Vec<f32>,
    pub graduating_ivl: u32,
    pub easy_ivl: u32,
    pub initial_ease: f32,
    pub hard_mult: f32,
    pub easy_bonus: f32,
    pub ivl_mod: f32,
    pub max_ivl: u32,
    /// Relearning steps in minutes.
    pub relearn_steps: Vec<f32>,
    pub lapse_mult: f32,
    pub min_ivl: u32,
    pub leech_fails: u32,
    pub leech_action: LeechAction,
    pub max_taken_secs: u32,
    pub new_per_day: u32,
    pub rev_per_day: u32,
}

/// What happens to a card that becomes a leech (dconf `lapse.leechAction`: 0 suspend, 1 tag
/// only). Either way the note gets the "leech" tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeechAction {
    Suspend,
    TagOnly,
}

/// Anki's `DEFAULT_DECK_CONFIG_INNER` for the SM-2 fields.
impl Default for DeckConfig {
    fn default() -> Self {
        DeckConfig {
            learn_steps: vec![1.0, 10.0],
            graduating_ivl: 1,
            easy_ivl: 4,
            initial_ease: 2.5,
            hard_mult: 1.2,
            easy_bonus: 1.3,
            ivl_mod: 1.0,
            max_ivl: 36_500,
            relearn_steps: vec![10.0],
            lapse_mult: 0.0,
            min_ivl: 1,
            leech_fails: 8,
            leech_action: LeechAction::TagOnly,
            max_taken_secs: 60,
            new_per_day: 20,
            rev_per_day: 200,
        }
    }
}

impl DeckConfig {
    /// Reads a legacy dconf JSON object (`new.delays`, `new.ints`, `new.initialFactor`,
    /// `rev.hardFactor`, `rev.ease4`, `rev.ivlFct`, `rev.maxIvl`, `lapse.delays`, `lapse.mult`,
    /// `lapse.minInt`, `lapse.leechFails`, `lapse.leechAction`, `maxTaken`, `new.perDay`,
    /// `rev.perDay`).
    ///
    /// A key that is missing or has the wrong JSON type takes its default; then every value is
    /// passed through Anki's `ensure_deck_config_values_valid`, which *replaces* (does not clamp)
    /// out-of-range values with the default. Never fails: Anki never refuses a preset either.
    pub fn from_dconf_json(v: &Value) -> DeckConfig {
        let d = DeckConfig::default();
        let new = &v["new"];
        let rev = &v["rev"];
        let lapse = &v["lapse"];

        // `new.ints` must hold at least [good, easy] as u16s, else both fall back (AnkiDroid once
        // wrote 2-element arrays, so Anki only requires two).
        let (graduating_ivl, easy_ivl) = new["ints"]
            .as_array()
            .filter(|a| a.len() >= 2)
            .and_then(|a| Some((as_u16(&a[0])?, as_u16(&a[1])?)))
            .map_or((d.graduating_ivl, d.easy_ivl), |(g, e)| {
                (u32::from(g), u32::from(e))
            });

        let mut c = DeckConfig {
            learn_steps: steps(&new["delays"]).unwrap_or_else(|| d.learn_steps.clone()),
            graduating_ivl,
            easy_ivl,
            initial_ease: as_u16(&new["initialFactor"])
                .map_or(d.initial_ease, |f| f32::from(f) / 1000.0),
            hard_mult: as_f32(&rev["hardFactor"]).unwrap_or(d.hard_mult),
            easy_bonus: as_f32(&rev["ease4"]).unwrap_or(d.easy_bonus),
            ivl_mod: as_f32(&rev["ivlFct"]).unwrap_or(d.ivl_mod),
            max_ivl: as_u32(&rev["maxIvl"]).unwrap_or(d.max_ivl),
            relearn_steps: steps(&lapse["delays"]).unwrap_or_else(|| d.relearn_steps.clone()),
            lapse_mult: as_f32(&lapse["mult"]).unwrap_or(d.lapse_mult),
            min_ivl: as_u32(&lapse["minInt"]).unwrap_or(d.min_ivl),
            leech_fails: as_u32(&lapse["leechFails"]).unwrap_or(d.leech_fails),
            // Only 0 suspends; anything else (missing, out of range) is the default, tag only.
            leech_action: match lapse["leechAction"].as_u64() {
                Some(0) => LeechAction::Suspend,
                _ => LeechAction::TagOnly,
            },
            // Anki stores maxTaken as i32 and converts with `.max(0)`.
            max_taken_secs: v["maxTaken"].as_i64().map_or(d.max_taken_secs, |s| {
                u32::try_from(s.max(0)).unwrap_or(u32::MAX)
            }),
            new_per_day: as_u32(&new["perDay"]).unwrap_or(d.new_per_day),
            rev_per_day: as_u32(&rev["perDay"]).unwrap_or(d.rev_per_day),
        };
        c.ensure_values_valid();
        c
    }

    /// Anki's `ensure_deck_config_values_valid`: out of range (or NaN) → default.
    pub(crate) fn ensure_values_valid(&mut self) {
        let d = DeckConfig::default();
        fix_u32(&mut self.new_per_day, d.new_per_day, 0, 9999);
        fix_u32(&mut self.rev_per_day, d.rev_per_day, 0, 9999);
        fix_f32(&mut self.initial_ease, d.initial_ease, 1.31, 5.0);
        fix_f32(&mut self.easy_bonus, d.easy_bonus, 1.0, 5.0);
        fix_f32(&mut self.hard_mult, d.hard_mult, 0.5, 1.3);
        fix_f32(&mut self.lapse_mult, d.lapse_mult, 0.0, 1.0);
        fix_f32(&mut self.ivl_mod, d.ivl_mod, 0.5, 2.0);
        fix_u32(&mut self.max_ivl, d.max_ivl, 1, 36_500);
        fix_u32(&mut self.min_ivl, d.min_ivl, 1, 36_500);
        fix_u32(&mut self.graduating_ivl, d.graduating_ivl, 1, 36_500);
        fix_u32(&mut self.easy_ivl, d.easy_ivl, 1, 36_500);
        fix_u32(&mut self.leech_fails, d.leech_fails, 1, 9999);
        fix_u32(&mut self.max_taken_secs, d.max_taken_secs, 1, 9999);
    }
}

fn fix_f32(val: &mut f32, default: f32, min: f32, max: f32) {
    if val.is_nan() || *val < min || *val > max {
        *val = default;
    }
}

fn fix_u32(val: &mut u32, default: u32, min: u32, max: u32) {
    if *val < min || *val > max {
        *val = default;
    }
}

/// A JSON number as f32; serde would accept any number for an f32 field.
fn as_f32(v: &Value) -> Option<f32> {
    v.as_f64().map(|f| f as f32)
}

/// An integer JSON number that fits (serde refuses floats and out-of-range values for ints).
fn as_u32(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok())
}

fn as_u16(v: &Value) -> Option<u16> {
    v.as_u64().and_then(|n| u16::try_from(n).ok())
}

/// Steps are `Vec<f32>` with `default_on_invalid`: any non-number element invalidates the list.
fn steps(v: &Value) -> Option<Vec<f32>> {
    v.as_array()?.iter().map(as_f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stock_json_gives_defaults() {
        let v = json!({
            "maxTaken": 60,
            "new": {"delays": [1, 10], "ints": [1, 4, 0], "initialFactor": 2500, "perDay": 20},
            "rev": {"ease4": 1.3, "ivlFct": 1, "maxIvl": 36500, "hardFactor": 1.2, "perDay": 200},
            "lapse": {"delays": [10], "mult": 0, "minInt": 1, "leechFails": 8, "leechAction": 1}
        });
        assert_eq!(DeckConfig::from_dconf_json(&v), DeckConfig::default());
    }

    #[test]
    fn empty_json_gives_defaults() {
        assert_eq!(
            DeckConfig::from_dconf_json(&json!({})),
            DeckConfig::default()
        );
        assert_eq!(
            DeckConfig::from_dconf_json(&json!(null)),
            DeckConfig::default()
        );
    }

    #[test]
    fn out_of_range_is_replaced_not_clamped() {
        let v = json!({
            "new": {"initialFactor": 1300, "ints": [0, 40000]},
            "rev": {"hardFactor": 1.5, "ease4": 0.9, "ivlFct": 3.0, "maxIvl": 0},
            "lapse": {"mult": 1.5, "minInt": 0, "leechFails": 0, "leechAction": 7},
            "maxTaken": 0
        });
        assert_eq!(DeckConfig::from_dconf_json(&v), DeckConfig::default());
    }

    #[test]
    fn custom_values_are_kept() {
        let v = json!({
            "maxTaken": 30,
            "new": {"delays": [2.5], "ints": [3, 7], "initialFactor": 2300, "perDay": 5},
            "rev": {"ease4": 1.5, "ivlFct": 0.8, "maxIvl": 100, "hardFactor": 1.0, "perDay": 50},
            "lapse": {"delays": [], "mult": 0.5, "minInt": 2, "leechFails": 4, "leechAction": 0}
        });
        let c = DeckConfig::from_dconf_json(&v);
        assert_eq!(c.learn_steps, vec![2.5]);
        assert_eq!((c.graduating_ivl, c.easy_ivl), (3, 7));
        assert_eq!(c.initial_ease, 2.3);
        assert_eq!(
            (c.easy_bonus, c.ivl_mod, c.max_ivl, c.hard_mult),
            (1.5, 0.8, 100, 1.0)
        );
        assert!(c.relearn_steps.is_empty());
        assert_eq!(
            (c.lapse_mult, c.min_ivl, c.leech_fails, c.leech_action),
            (0.5, 2, 4, LeechAction::Suspend)
        );
        assert_eq!(
            (c.max_taken_secs, c.new_per_day, c.rev_per_day),
            (30, 5, 50)
        );
    }

    #[test]
    fn invalid_steps_fall_back() {
        let v = json!({"new": {"delays": [1, "x"]}, "lapse": {"delays": "10"}});
        let c = DeckConfig::from_dconf_json(&v);
        assert_eq!(c.learn_steps, vec![1.0, 10.0]);
        assert_eq!(c.relearn_steps, vec![10.0]);
    }
}
