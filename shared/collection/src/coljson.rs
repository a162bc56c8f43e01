//! Typed access to the JSON columns of the `col` row (`conf`, `models`, `decks`, `dconf`, `tags`).
//!
//! Schema 11 keeps decks, deck options and settings as JSON blobs in one row; every read parses
//! the blob and every write replaces it whole, as Anki's legacy code did. Values we did not
//! write (imported collections) are preserved: we only edit the keys we own.

use std::cell::RefCell;
use std::sync::Arc;

use serde_json::{Map, Value};

pub use crate::storage::col::ColJson;
use crate::{Collection, CollectionError, Result, storage};

pub type JsonObject = Map<String, Value>;

/// Columns longer than this are parsed on every read rather than kept parsed (memory: a
/// container keeps hundreds of collections open).
const CACHE_MAX_TEXT: usize = 256 * 1024;

/// The parsed JSON columns of `col`, each with the text it was parsed from. A read still
/// fetches the column's text but compares it (a memcmp) instead of parsing it again: parsing
/// `models` was the largest allocation hot spot of a review request (heaptrack). The text is
/// the key, so a change by any path — an operation, a replayed changeset, a rollback, raw
/// SQL — is seen.
#[derive(Default)]
pub(crate) struct JsonCache(RefCell<[Option<Parsed>; 5]>);

/// A column's text and what it parses to.
type Parsed = (String, Arc<JsonObject>);

fn slot(which: ColJson) -> usize {
    match which {
        ColJson::Conf => 0,
        ColJson::Models => 1,
        ColJson::Decks => 2,
        ColJson::Dconf => 3,
        ColJson::Tags => 4,
    }
}

impl Collection {
    /// One JSON column of `col`, parsed, to change. Anything but a JSON object is corruption.
    pub fn read_json(&self, which: ColJson) -> Result<JsonObject> {
        Ok(JsonObject::clone(&*self.read_json_shared(which)?))
    }

    /// One JSON column of `col`, parsed, to read: shared with the cache, no copy.
    pub fn read_json_shared(&self, which: ColJson) -> Result<Arc<JsonObject>> {
        let text = storage::col::read_json(self.conn(), which)?;
        let cache = &self.json_cache().0;
        if let Some((cached, parsed)) = &cache.borrow()[slot(which)]
            && *cached == text
        {
            return Ok(Arc::clone(parsed));
        }
        let parsed = Arc::new(parse_object(which, &text)?);
        let mut slots = cache.borrow_mut();
        slots[slot(which)] = (text.len() <= CACHE_MAX_TEXT).then(|| (text, Arc::clone(&parsed)));
        Ok(parsed)
    }
}

fn parse_object(which: ColJson, text: &str) -> Result<JsonObject> {
    {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(CollectionError::corrupt(format!(
                "col.{} is not a JSON object",
                which.column()
            ))),
            Err(e) => Err(CollectionError::corrupt_because(
                format!("col.{} is not valid JSON", which.column()),
                e,
            )),
        }
    }
}

impl Collection {
    /// Replace one JSON column of `col` whole.
    pub fn write_json(&self, which: ColJson, value: &JsonObject) -> Result<()> {
        let text = serde_json::to_string(value)?;
        storage::col::write_json(self.conn(), which, &text)
    }

    /// `col.crt`: the collection's creation stamp (seconds, at the rollover hour).
    pub fn crt(&self) -> Result<i64> {
        storage::col::crt(self.conn())
    }

    /// Anki's "today": days since `crt` at the collection's rollover hour, in the student's
    /// time zone (see [`crate::day`]).
    pub fn timing(&self) -> Result<javumbo_scheduler::Timing> {
        let conf = self.read_json_shared(ColJson::Conf)?;
        self.timing_at(&conf, self.clock().now_secs())
    }

    /// Timing at an instant the caller already read, so one operation sees one "now".
    pub(crate) fn timing_at(
        &self,
        conf: &JsonObject,
        now_secs: i64,
    ) -> Result<javumbo_scheduler::Timing> {
        Ok(crate::day::timing_for(self.crt()?, conf, now_secs))
    }
}

/// An integer JSON value, accepting the floats older clients sometimes wrote (`4.0`).
pub(crate) fn json_i64(obj: &JsonObject, key: &str) -> Option<i64> {
    let v = obj.get(key)?;
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CreateOptions, ManualClock};

    #[test]
    fn parsed_columns_are_reused_until_their_text_changes_by_any_path() {
        let (col, _) = crate::testutil::empty();
        let a = col.read_json_shared(ColJson::Conf).unwrap();
        let b = col.read_json_shared(ColJson::Conf).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "unchanged text: parsed once");
        // Behind the collection's back, as a replayed changeset or a rollback would.
        col.conn()
            .execute("UPDATE col SET conf = '{\"x\": 1}'", [])
            .unwrap();
        let c = col.read_json(ColJson::Conf).unwrap();
        assert_eq!(c.get("x"), Some(&Value::from(1)));
        assert!(!Arc::ptr_eq(
            &a,
            &col.read_json_shared(ColJson::Conf).unwrap()
        ));
        // Columns are cached apart.
        assert!(col.read_json_shared(ColJson::Models).unwrap().len() > 1);
        assert_eq!(col.read_json_shared(ColJson::Conf).unwrap().len(), 1);
    }

    #[test]
    fn timing_uses_the_stored_offset_and_rollover() {
        // 2024-01-01 12:00 UTC in UTC-3 (09:00 local): the day began at 04:00 local = 07:00 UTC.
        let clock = ManualClock::new(1_704_110_400_000);
        let opts = CreateOptions {
            utc_offset_minutes: -180,
            rollover_hour: 4,
            starter_deck: false,
        };
        let col = Collection::create_in_memory(clock.clone(), &opts).unwrap();
        let t = col.timing().unwrap();
        assert_eq!(col.crt().unwrap(), 1_704_092_400);
        assert_eq!((t.days_elapsed, t.next_day_at), (0, 1_704_092_400 + 86_400));
        clock.set_secs(1_704_092_400 + 86_400);
        assert_eq!(col.timing().unwrap().days_elapsed, 1);
    }

    #[test]
    fn malformed_json_is_reported_as_corruption() {
        let col =
            Collection::create_in_memory(ManualClock::new(0), &CreateOptions::default()).unwrap();
        col.conn()
            .execute("UPDATE col SET decks = '[1]'", [])
            .unwrap();
        assert!(matches!(
            col.read_json(ColJson::Decks),
            Err(CollectionError::Corrupt(_))
        ));
        col.conn()
            .execute("UPDATE col SET decks = '{'", [])
            .unwrap();
        assert!(matches!(col.decks(), Err(CollectionError::Corrupt(_))));
    }
}
