//! Adding a package's content to the user's collection, following Anki's own importer
//! (rslib `import_export/package/apkg/import`): a note whose guid exists is updated when the
//! package's copy is newer and of the same note type (Anki's "update notes if newer"), skipped
//! otherwise; ids are kept unless taken, decks are matched by name, filtered decks are kept
//! when the package holds every home deck, day-based due dates are moved to the target's
//! calendar, and the review history follows its cards.
//!
//! [`merge`] is the table of contents; each step lives in its own module:
//! - [`notes`]: note types (reused when an identical one exists) and notes;
//! - [`decks`]: the target deck of each imported card, created by name when missing;
//! - [`cards`]: cards (back home from filtered decks, new ones queued last) and their revlog.

mod cards;
mod decks;
mod notes;

use std::collections::HashMap;

use javumbo_collection::storage::{self, col::ColJson};
use javumbo_collection::{Collection, JsonObject};
use serde_json::Value;

use crate::import_media::MediaPlan;
use crate::source::SourceData;
use crate::{ApkgError, ImportSummary};

/// Anki's step when a kept id is taken (`uniquify_card_id`): stays near the original timestamp.
const ID_STEP: i64 = 999;

/// Add everything `src` holds that `col` lacks, and update the notes it holds newer; the
/// added and updated notes' media references follow `media`'s names (and `media` learns which
/// files they use). The caller runs it inside one [`Collection::atomic`]: any error leaves
/// `col` untouched.
pub(crate) fn merge(
    col: &Collection,
    src: &SourceData,
    media: &mut MediaPlan,
) -> Result<ImportSummary, ApkgError> {
    let mut ctx = Context::new(col, src, media)?;
    let notes = ctx.import_notes_and_notetypes()?;
    let keep_filtered = cards::package_holds_every_home_deck(src);
    let cards = cards::of_imported_notes(src, &notes, keep_filtered);
    ctx.import_presets();
    let decks = ctx.import_decks(&cards)?;
    let card_ids = ctx.import_cards(&cards, &notes, &decks)?;
    let revlog = ctx.import_revlog(&card_ids)?;
    ctx.save()?;
    check_totals(col)?;
    Ok(ImportSummary {
        decks: decks.names(),
        decks_added: decks.added(),
        notes: notes.added,
        notes_updated: notes.updated,
        notes_skipped: notes.skipped,
        cards: card_ids.len(),
        cards_skipped: src.cards.len() - card_ids.len(),
        revlog: revlog.added,
        revlog_skipped: revlog.skipped,
        media: 0,
        media_skipped: 0,
    })
}

/// The collection after the merge must stay within the limits every route keeps
/// (`javumbo_collection::limits`); the caller's transaction rolls the merge back otherwise.
pub(crate) fn check_totals(col: &Collection) -> Result<(), ApkgError> {
    use javumbo_collection::limits::{
        MAX_CARDS, MAX_COLLECTION_BYTES, MAX_NOTES, MAX_REVLOG_ENTRIES,
    };
    let conn = col.conn();
    for (table, limit, what) in [
        ("notes", MAX_NOTES, "notes"),
        ("cards", MAX_CARDS, "cards"),
        ("revlog", MAX_REVLOG_ENTRIES, "review log entries"),
    ] {
        let n: i64 = conn.query_row(&format!("SELECT count() FROM {table}"), [], |r| r.get(0))?;
        if n as usize > limit {
            return Err(ApkgError::TooLarge(format!(
                "the collection would hold {n} {what}; the limit is {limit} {what}"
            )));
        }
    }
    let bytes: i64 = conn.query_row(
        "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        [],
        |r| r.get(0),
    )?;
    if bytes as u64 > MAX_COLLECTION_BYTES {
        return Err(ApkgError::TooLarge(format!(
            "the collection would be {bytes} bytes; the collection size limit is \
             {MAX_COLLECTION_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The merge's state: the package, the target collection, and the target's `col` JSON columns,
/// edited in memory and written back once by [`Context::save`].
struct Context<'a> {
    col: &'a Collection,
    src: &'a SourceData,
    /// The package's media names, for the imported notes' references.
    media: &'a mut MediaPlan,
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
    fn new(
        col: &'a Collection,
        src: &'a SourceData,
        media: &'a mut MediaPlan,
    ) -> Result<Self, ApkgError> {
        Ok(Self {
            col,
            src,
            media,
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

/// Ids of one table, handed out as Anki's importer does (`id`, else `id + step`, `id + 2·step`,
/// … until free) but in amortised constant time per id whatever the input: each taken id points
/// to the next candidate after it, and a lookup compresses the path it walked (a disjoint-set
/// "next free" structure). Anki's own loop is quadratic on runs of equal or adjacent ids: 40,000
/// copies of one revlog id took it ~800 million probes.
pub(crate) struct IdAllocator {
    step: i64,
    /// A taken id → the next candidate to try after it.
    next: HashMap<i64, i64>,
    /// Pointer hops taken by all lookups (the work a hostile package can cause; tests bound it).
    pub(crate) hops: u64,
}

impl IdAllocator {
    pub(crate) fn new(taken: impl IntoIterator<Item = i64>, step: i64) -> Self {
        let mut next = HashMap::new();
        for id in taken {
            next.insert(id, id.saturating_add(step));
        }
        Self {
            step,
            next,
            hops: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn is_taken(&self, id: i64) -> bool {
        self.next.contains_key(&id)
    }

    /// `id` if free, else the first free of `id + step`, `id + 2·step`, …; then it is taken.
    pub(crate) fn take(&mut self, id: i64) -> Result<i64, ApkgError> {
        let mut free = id;
        let mut path = Vec::new();
        while let Some(&n) = self.next.get(&free) {
            if n == free {
                // Only i64::MAX (saturated) points to itself: nothing is free above it.
                return Err(ApkgError::invalid("an id in the package is out of range"));
            }
            path.push(free);
            free = n;
            self.hops += 1;
        }
        // `free` is taken now: everything on the path (and `free` itself) points past it.
        let after = free.saturating_add(self.step);
        for p in path {
            self.next.insert(p, after);
        }
        self.next.insert(free, after);
        Ok(free)
    }
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
    fn allocator_steps_past_taken_ids() {
        let mut ids = IdAllocator::new([5, 1004], 999);
        assert_eq!(ids.take(5).unwrap(), 2003);
        assert_eq!(ids.take(7).unwrap(), 7);
        assert!(ids.is_taken(2003) && ids.is_taken(7));
        assert_eq!(ids.take(5).unwrap(), 3002);
        let mut full = IdAllocator::new([i64::MAX], 1);
        assert!(matches!(
            full.take(i64::MAX),
            Err(ApkgError::InvalidPackage { .. })
        ));
    }

    /// The quadratic inputs of a naive "step until free" loop: many copies of one id, and a
    /// dense block of ids each followed by a copy of every id in it.
    #[test]
    fn allocator_work_is_linear_on_hostile_id_patterns() {
        let n = 40_000i64;
        let mut ids = IdAllocator::new([], 1);
        let got: Vec<i64> = (0..n).map(|_| ids.take(7).unwrap()).collect();
        assert_eq!(got.last(), Some(&(7 + n - 1)));
        assert!(ids.hops <= 4 * n as u64, "{} hops", ids.hops);

        let mut ids = IdAllocator::new(0..n, 1);
        let mut seen = std::collections::HashSet::new();
        for id in 0..n {
            assert!(seen.insert(ids.take(id).unwrap()));
        }
        assert!(seen.iter().all(|&id| id >= n));
        // Path compression keeps the total linear (a naive loop makes n²/2 = 8e8 probes).
        assert!(ids.hops <= 3 * n as u64, "{} hops", ids.hops);
    }
}
