//! How Anki reads the schema-11 JSON leniently: the serde helpers its legacy structs use,
//! re-implemented, and the conversions shared by the notetype, deck and preset modules.

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::{Map, Value};

/// Keys of a JSON object that no named field took (Anki's `#[serde(flatten)] other`).
pub(crate) type Other = Map<String, Value>;

/// A value that does not decode becomes the type's default (it must still be present unless
/// the field also has `#[serde(default)]`).
pub(crate) fn default_on_invalid<'de, T, D>(deserializer: D) -> Result<T, D::Error>
where
    T: Default + Deserialize<'de>,
    D: Deserializer<'de>,
{
    let v = Value::deserialize(deserializer)?;
    Ok(T::deserialize(v).unwrap_or_default())
}

/// An id stored as a number or as a string of one.
pub(crate) fn number_from_string<'de, D>(deserializer: D) -> Result<i64, D::Error>
where
    D: Deserializer<'de>,
{
    match Value::deserialize(deserializer)? {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| de::Error::custom(format!("not an integer id: {n}"))),
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| de::Error::custom(format!("not an integer id: {s:?}"))),
        other => Err(de::Error::custom(format!("not an integer id: {other}"))),
    }
}

/// A boolean written as `true`, `1`, `"true"`, `"1"`, `1.0`, …
pub(crate) fn bool_from_anything<'de, D>(deserializer: D) -> Result<bool, D::Error>
where
    D: Deserializer<'de>,
{
    fn from_f64<E: de::Error>(f: f64) -> Result<bool, E> {
        if f == 1.0 {
            Ok(true)
        } else if f == 0.0 {
            Ok(false)
        } else {
            Err(E::custom(format!("not a boolean: {f}")))
        }
    }
    match Value::deserialize(deserializer)? {
        Value::Bool(b) => Ok(b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Ok(true),
            Some(0) => Ok(false),
            Some(i) => Err(de::Error::custom(format!("not a boolean: {i}"))),
            None => from_f64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => {
            if let Ok(b) = s.to_lowercase().parse::<bool>() {
                Ok(b)
            } else if let Ok(i) = s.parse::<i64>() {
                from_f64(i as f64)
            } else if let Ok(f) = s.parse::<f64>() {
                from_f64(f)
            } else {
                Err(de::Error::custom(format!("not a boolean: {s:?}")))
            }
        }
        other => Err(de::Error::custom(format!("not a boolean: {other}"))),
    }
}

pub(crate) fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// Anki stores unknown JSON keys as the bytes of a JSON object; an empty object is no bytes.
pub(crate) fn other_to_bytes(other: &Other) -> Vec<u8> {
    if other.is_empty() {
        Vec::new()
    } else {
        serde_json::to_vec(other).unwrap_or_default()
    }
}

/// The inverse of [`other_to_bytes`], minus the keys the legacy object writes itself. Bytes
/// that are not a JSON object are dropped, as Anki drops them.
pub(crate) fn other_from_bytes(bytes: &[u8], reserved: &[&str]) -> Other {
    if bytes.is_empty() {
        return Other::new();
    }
    let mut map: Other = serde_json::from_slice(bytes).unwrap_or_default();
    map.retain(|k, _| !reserved.contains(&k.as_str()));
    map
}
