//! Adding a package's content to the user's collection, following Anki's own importer
//! (rslib `import_export/package/apkg/import`): notes whose guid exists are skipped, ids are kept
//! unless taken, decks are matched by name, day-based due dates are moved to the target's
//! calendar, and the review history follows its cards.
//!
//! [`merge`] is the table of contents; each step lives in its own module:
//! - [`notes`]: note types (reused when an identical one exists) and notes;
//! - [`decks`]: the target deck of each imported card, created by name when missing;
//! - [`cards`]: cards (back home from filtered decks, new ones queued last) and their revlog.

mod cards;
mod decks;
mod notes;

use std::collections::HashSet;

use javumbo_collection::storage::{self, col::ColJson};
use javumbo_collection::{Collection, JsonObject};
use serde_json::Value;

use crate::source::SourceData;
use crate::{ApkgError, ImportSummary};

/// Anki's step when a kept id is taken (`uniquify_card_id`): stays near the original timestamp.
const ID_STEP: i64 = 999;

/// Add everything `src` holds that `col` lacks. The caller runs it inside one
/// [`Collection::atomic`]: any error leaves `col` untouched.
pub(crate) fn merge(col: &Collection, src: &SourceData) -> Result<ImportSummary, ApkgError> {
    let mut ctx = Context::new(col, src)?;
    let notes = ctx.import_notes_and_notetypes()?;
    let cards = cards::of_imported_notes(src, &notes);
    ctx.import_presets();
    let decks = ctx.import_decks(&cards);
    let card_ids = ctx.import_cards(&cards, &notes, &decks)?;
    let revlog = ctx.import_revlog(&card_ids)?;
    ctx.save()?;
    Ok(ImportSummary {
        decks: decks.names(),
        notes: notes.len(),
        cards: card_ids.len(),
        revlog,
    })
}

/// The merge's state: the package, the target collection, and the target's `col` JSON columns,
/// edited in memory and written back once by [`Context::save`].
struct Context<'a> {
    col: &'a Collection,
    src: &'a SourceData,
    /// One clock read for every stamp the merge writes.
    now_ms: i64,
    /// The target's `crt`: its day numbers count from here.
    crt: i64,
    conf: JsonObject,
    models: Changed<JsonObject>,
    decks: Changed<JsonObject>,
    dconf: Changed<JsonObject>,
    tags: Changed<JsonObject>,
}

/// A `col` JSON column and whether the merge changed it (unchanged ones are not rewritten).
struct Changed<T> {
    value: T,
    changed: bool,
}

impl<T> Changed<T> {
    fn new(value: T) -> Self {
        Self {
            value,
            changed: false,
        }
    }
}

impl<'a> Context<'a> {
    fn new(col: &'a Collection, src: &'a SourceData) -> Result<Self, ApkgError> {
        Ok(Self {
            col,
            src,
            now_ms: col.clock().now_ms(),
            crt: col.crt()?,
            conf: col.read_json(ColJson::Conf)?,
            models: Changed::new(col.read_json(ColJson::Models)?),
            decks: Changed::new(col.read_json(ColJson::Decks)?),
            dconf: Changed::new(col.read_json(ColJson::Dconf)?),
            tags: Changed::new(col.read_json(ColJson::Tags)?),
        })
    }

    fn now_secs(&self) -> i64 {
        self.now_ms.div_euclid(1000)
    }

    /// Write back `conf` and the other JSON columns the merge changed, and mark the collection
    /// modified.
    fn save(self) -> Result<(), ApkgError> {
        let col = self.col;
        col.write_json(ColJson::Conf, &self.conf)?;
        storage::col::set_modified(col.conn(), self.now_ms)?;
        for (which, column) in [
            (ColJson::Decks, &self.decks),
            (ColJson::Dconf, &self.dconf),
            (ColJson::Tags, &self.tags),
            (ColJson::Models, &self.models),
        ] {
            if column.changed {
                col.write_json(which, &column.value)?;
            }
        }
        Ok(())
    }
}

/// `id`, or the first of `id + step`, `id + 2·step`, … not in `taken`; then it is taken.
fn uniquify(mut id: i64, taken: &mut HashSet<i64>, step: i64) -> Result<i64, ApkgError> {
    while taken.contains(&id) {
        id = id
            .checked_add(step)
            .ok_or_else(|| ApkgError::invalid("an id in the package is out of range"))?;
    }
    taken.insert(id);
    Ok(id)
}

/// The highest numeric key of a `col` JSON map (ids are its keys), 0 when there is none.
fn max_key(map: &JsonObject) -> i64 {
    map.keys()
        .filter_map(|k| k.parse::<i64>().ok())
        .max()
        .unwrap_or(0)
}

/// An integer JSON value of `map`.
fn int(map: &JsonObject, key: &str) -> Option<i64> {
    map.get(key).and_then(Value::as_i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniquify_steps_past_taken_ids() {
        let mut taken = HashSet::from([5, 1004]);
        assert_eq!(uniquify(5, &mut taken, 999).unwrap(), 2003);
        assert_eq!(uniquify(7, &mut taken, 999).unwrap(), 7);
        assert!(taken.contains(&2003) && taken.contains(&7));
        let mut full = HashSet::from([i64::MAX]);
        assert!(matches!(
            uniquify(i64::MAX, &mut full, 1),
            Err(ApkgError::InvalidPackage { .. })
        ));
    }
}
