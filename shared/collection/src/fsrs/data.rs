//! Anki's `cards.data` JSON, typed as rslib `storage/card/data.rs` types it, so what we write is
//! byte for byte what Anki writes: keys in Anki's order, `f32`s rounded to Anki's places and
//! printed as the shortest `f32` representation, invalid values dropped one by one.

use javumbo_scheduler::fsrs::MemoryState;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CardData {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pos: Option<u32>,
    #[serde(rename = "s", skip_serializing_if = "Option::is_none")]
    pub stability: Option<f32>,
    #[serde(rename = "d", skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<f32>,
    #[serde(rename = "dr", skip_serializing_if = "Option::is_none")]
    pub desired_retention: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decay: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lrt: Option<i64>,
    /// Custom scheduling data (a JSON string Anki keeps verbatim).
    #[serde(skip_serializing_if = "custom_data_is_empty")]
    pub cd: Option<Value>,
}

fn custom_data_is_empty(cd: &Option<Value>) -> bool {
    match cd {
        None => true,
        Some(Value::String(s)) => matches!(s.as_str(), "" | "{}"),
        Some(_) => false,
    }
}

fn as_f32(v: Option<&Value>) -> Option<f32> {
    v.and_then(Value::as_f64).map(|x| x as f32)
}

fn round_to_places(v: Option<f32>, places: i32) -> Option<f32> {
    let factor = 10_f32.powi(places);
    v.map(|v| (v * factor).round() / factor)
}

impl CardData {
    /// Never fails: unparsable data is empty, as in Anki.
    pub fn parse(text: &str) -> Self {
        let Ok(Value::Object(o)) = serde_json::from_str::<Value>(text) else {
            return Self::default();
        };
        Self {
            pos: o
                .get("pos")
                .and_then(Value::as_u64)
                .and_then(|p| u32::try_from(p).ok()),
            stability: as_f32(o.get("s")),
            difficulty: as_f32(o.get("d")),
            desired_retention: as_f32(o.get("dr")),
            decay: as_f32(o.get("decay")),
            lrt: o.get("lrt").and_then(Value::as_i64),
            cd: o.get("cd").cloned(),
        }
    }

    pub fn memory(&self) -> Option<MemoryState> {
        Some(MemoryState {
            stability: self.stability?,
            difficulty: self.difficulty?,
        })
    }

    pub fn set_memory(&mut self, m: Option<MemoryState>) {
        self.stability = m.map(|m| m.stability);
        self.difficulty = m.map(|m| m.difficulty);
    }

    /// Anki's FSRS fields all cleared (FSRS switched off).
    pub fn clear_fsrs(&mut self) {
        self.set_memory(None);
        self.desired_retention = None;
        self.decay = None;
    }

    pub fn to_json(&self) -> String {
        let rounded = CardData {
            stability: round_to_places(self.stability, 4),
            difficulty: round_to_places(self.difficulty, 3),
            desired_retention: round_to_places(self.desired_retention, 2),
            decay: round_to_places(self.decay, 3),
            ..self.clone()
        };
        // Serializing plain numbers and strings cannot fail.
        serde_json::to_string(&rounded).unwrap_or_else(|_| "{}".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_anki_order_and_precision() {
        let mut d = CardData::parse(r#"{"lrt":5,"pos":3,"cd":"{\"a\":1}"}"#);
        d.set_memory(Some(MemoryState {
            stability: 2.306_549_8,
            difficulty: 2.118_104,
        }));
        d.desired_retention = Some(0.9);
        d.decay = Some(0.1542);
        assert_eq!(
            d.to_json(),
            r#"{"pos":3,"s":2.3065,"d":2.118,"dr":0.9,"decay":0.154,"lrt":5,"cd":"{\"a\":1}"}"#
        );
        d.clear_fsrs();
        d.cd = Some(Value::String("{}".into()));
        assert_eq!(d.to_json(), r#"{"pos":3,"lrt":5}"#);
    }

    #[test]
    fn junk_is_empty_and_bad_fields_are_dropped() {
        assert_eq!(CardData::parse("nonsense"), CardData::default());
        assert_eq!(CardData::parse("").to_json(), "{}");
        let d = CardData::parse(r#"{"s":"x","d":5,"pos":-1}"#);
        assert_eq!((d.stability, d.difficulty, d.pos), (None, Some(5.0), None));
        assert_eq!(d.memory(), None);
    }
}
