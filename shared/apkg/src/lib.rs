//! `.apkg` export and import for javumbo collections.
//!
//! Export writes what Anki desktop's importer reads as a "legacy 1" package: a zip holding a
//! standalone schema-11 copy of the collection as `collection.anki2` and an empty `media` map.
//!
//! Import treats the upload as hostile: the zip is size- and entry-bounded and decompressed
//! under a streaming budget ([`package`]), the embedded SQLite file is opened read-only in
//! defensive mode and its schema vetted before any query reads it ([`source`]), and the merge
//! into the user's collection ([`merge`]) follows Anki's own importer rules inside one
//! all-or-nothing [`Collection::atomic`](javumbo_collection::Collection::atomic).

mod error;
mod export;
mod import_media;
pub mod media;
mod merge;
mod package;
mod refs;
mod replace;
mod source;

use javumbo_collection::Collection;
use serde::Serialize;

pub use error::ApkgError;
pub use export::{ExportFormat, export_apkg, export_package};
pub use import_media::{IncomingMedia, MediaImport};
pub use javumbo_modern::package::PackageVersion;
pub use media::PackageMedia;

/// Bounds applied to an uploaded package before and while it is unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    /// Size of the uploaded zip itself.
    pub max_package_bytes: u64,
    /// Members in the zip (the collection, `meta`, the media list and one per media file).
    pub max_entries: usize,
    /// Decompressed bytes read from all members together.
    pub max_uncompressed_bytes: u64,
    /// Decompressed size of the embedded collection file.
    pub max_collection_bytes: u64,
}

impl Default for ImportLimits {
    fn default() -> Self {
        Self {
            max_package_bytes: 10 * 1024 * 1024,
            max_entries: 100_000,
            max_uncompressed_bytes: 200 * 1024 * 1024,
            max_collection_bytes: 128 * 1024 * 1024,
        }
    }
}

/// What an import really did to the collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportSummary {
    /// Names (in the target collection) of the decks that received cards or were created.
    pub decks: Vec<String>,
    /// Decks the import created (parents included).
    pub decks_added: usize,
    /// Notes added.
    pub notes: usize,
    /// Notes the collection had (same guid and note type) that the package held newer: their
    /// fields and tags were replaced, as Anki's "update notes if newer" does.
    pub notes_updated: usize,
    /// Notes the collection already had as new as the package's, or under another note type.
    pub notes_skipped: usize,
    /// Cards added.
    pub cards: usize,
    /// Cards not added: their note was skipped, or it already had that card.
    pub cards_skipped: usize,
    /// Review log entries added.
    pub revlog: usize,
    /// Review log entries the collection already had.
    pub revlog_skipped: usize,
    /// Media files added to the user's media: new names, and new content under a name the user
    /// had, stored renamed (`name-<sha1>.ext`) with the imported notes' references following.
    pub media: usize,
    /// Media files not added: the user had them with the same content, a static file (`_…`,
    /// `latex-…`) the user has under that name, or a renamed copy no imported note refers to.
    pub media_skipped: usize,
}

/// An uploaded package, unpacked and read under the limits, before it touches any collection:
/// the parsing (zip, zstd, the schema-18 → 11 conversion, every row) happens here, outside the
/// user's collection lock.
pub struct Package {
    version: PackageVersion,
    data: source::SourceData,
    media: Vec<PackageMedia>,
    /// The schema-11 collection file (kept for a whole-collection replace).
    collection: tempfile::NamedTempFile,
}

impl Package {
    pub fn open(bytes: &[u8], limits: &ImportLimits) -> Result<Self, ApkgError> {
        let extracted = package::extract(bytes, limits)?;
        let data = source::read_package_collection(extracted.collection.path())?;
        Ok(Self {
            version: extracted.version,
            data,
            media: extracted.media,
            collection: extracted.collection,
        })
    }

    /// Legacy (schema 11) or modern (`collection.anki21b`, schema 18).
    pub fn version(&self) -> PackageVersion {
        self.version
    }

    /// The media files the package brings (names normalised by Anki's rules).
    pub fn media(&self) -> &[PackageMedia] {
        &self.media
    }

    /// Give up the media (to store them) keeping the rest.
    pub fn take_media(&mut self) -> Vec<PackageMedia> {
        std::mem::take(&mut self.media)
    }

    /// Merge into `col` as Anki's package import does, all-or-nothing, without media (the
    /// notes' media references are still normalised as Anki does).
    pub fn import_into(&self, col: &Collection) -> Result<ImportSummary, ApkgError> {
        Ok(self.import_with_media(col, &[])?.summary)
    }

    /// Merge into `col` as Anki's package import does, all-or-nothing, with the package's
    /// media whose bytes the caller has stored: decides each file's final name from `col`'s
    /// media index (a name the user has with other content becomes `name-<sha1>.ext`, and the
    /// imported notes' references follow) and returns the index entries to write in the same
    /// transaction (`docs/ARCHITECTURE.md#media`).
    pub fn import_with_media(
        &self,
        col: &Collection,
        media: &[IncomingMedia],
    ) -> Result<MediaImport, ApkgError> {
        let imported = col.atomic(|c| {
            let mut plan = import_media::MediaPlan::for_import(c, media)?;
            let mut summary = merge::merge(c, &self.data, &mut plan)?;
            let (index, added, skipped) = plan.finish();
            summary.media = added;
            summary.media_skipped = skipped;
            Ok::<_, ApkgError>(MediaImport { summary, index })
        })?;
        let summary = &imported.summary;
        tracing::info!(
            notes = summary.notes,
            notes_updated = summary.notes_updated,
            notes_skipped = summary.notes_skipped,
            cards = summary.cards,
            revlog = summary.revlog,
            media = summary.media,
            media_skipped = summary.media_skipped,
            "imported package"
        );
        Ok(imported)
    }

    /// Replace everything in `col` with the package's collection (a `.colpkg` restore),
    /// all-or-nothing; the package was held to the same limits as any import.
    pub fn replace_collection(&self, col: &Collection) -> Result<ImportSummary, ApkgError> {
        Ok(self.replace_with_media(col, &[])?.summary)
    }

    /// [`Self::replace_collection`] with the package's stored media: as Anki's restore, a
    /// package file replaces the user's file of that name unless the content is the same.
    /// Returns the index entries to write in the same transaction.
    pub fn replace_with_media(
        &self,
        col: &Collection,
        media: &[IncomingMedia],
    ) -> Result<MediaImport, ApkgError> {
        let imported = col.atomic(|c| {
            let mut summary = replace::replace(c, self.collection.path())?;
            let (index, added, skipped) = import_media::restore_media(c, media)?;
            summary.media = added;
            summary.media_skipped = skipped;
            Ok::<_, ApkgError>(MediaImport { summary, index })
        })?;
        tracing::info!(
            notes = imported.summary.notes,
            cards = imported.summary.cards,
            media = imported.summary.media,
            "replaced collection"
        );
        Ok(imported)
    }
}

/// Import an Anki-made `.apkg` into `col`, all-or-nothing: on any error the collection is left
/// exactly as it was. Media in the package are read (and bounded) but not stored: callers
/// that keep media use [`Package`].
pub fn import_apkg(
    col: &Collection,
    bytes: &[u8],
    limits: &ImportLimits,
) -> Result<ImportSummary, ApkgError> {
    Package::open(bytes, limits)?.import_into(col)
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Fixture collections built with plain SQL (rows as Anki writes them).

    use javumbo_collection::schema::deck_json;
    use javumbo_collection::{Collection, CreateOptions, ManualClock};
    use rusqlite::params;
    use serde_json::Value;

    /// 2024-01-01 12:00 UTC.
    pub const T0: i64 = 1_704_110_400_000;

    pub fn empty_collection(now_ms: i64) -> Collection {
        let opts = CreateOptions {
            starter_deck: false,
            ..CreateOptions::default()
        };
        Collection::create_in_memory(ManualClock::new(now_ms), &opts).unwrap()
    }

    pub fn col_json(col: &Collection, column: &str) -> Value {
        let s: String = col
            .conn()
            .query_row(&format!("SELECT {column} FROM col"), [], |r| r.get(0))
            .unwrap();
        serde_json::from_str(&s).unwrap()
    }

    pub fn basic_id(col: &Collection) -> i64 {
        let models = col_json(col, "models");
        let m = models
            .as_object()
            .unwrap()
            .values()
            .find(|m| m["name"] == "Basic")
            .unwrap();
        m["id"].as_i64().unwrap()
    }

    pub fn add_deck(col: &Collection, id: i64, name: &str) {
        let mut decks = col_json(col, "decks");
        decks[id.to_string()] = deck_json(id, name, 0);
        col.conn()
            .execute("UPDATE col SET decks = ?1", [decks.to_string()])
            .unwrap();
    }

    /// `(type, queue, due, ivl, factor, reps, lapses, left)`
    pub type Sched = (i64, i64, i64, i64, i64, i64, i64, i64);

    pub fn add_note(
        col: &Collection,
        nid: i64,
        guid: &str,
        front: &str,
        cid: i64,
        did: i64,
        s: Sched,
    ) {
        let mid = basic_id(col);
        col.conn()
            .execute(
                "INSERT INTO notes VALUES (?1, ?2, ?3, 0, -1, '', ?4, ?5, 0, 0, '')",
                params![nid, guid, mid, format!("{front}\x1fback of {front}"), front],
            )
            .unwrap();
        col.conn()
            .execute(
                "INSERT INTO cards VALUES (?1, ?2, ?3, 0, 0, -1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, 0, 0, '{}')",
                params![cid, nid, did, s.0, s.1, s.2, s.3, s.4, s.5, s.6, s.7],
            )
            .unwrap();
    }

    pub fn add_revlog(col: &Collection, id: i64, cid: i64, ease: i64, kind: i64) {
        col.conn()
            .execute(
                "INSERT INTO revlog VALUES (?1, ?2, -1, ?3, 1, 0, 2500, 5000, ?4)",
                params![id, cid, ease, kind],
            )
            .unwrap();
    }

    /// Every row of every table, in primary-key order: "unchanged" means equal dumps.
    pub fn dump(col: &Collection) -> Vec<String> {
        let mut out = Vec::new();
        for t in ["col", "notes", "cards", "revlog", "graves"] {
            let mut stmt = col
                .conn()
                .prepare(&format!("SELECT * FROM {t} ORDER BY rowid"))
                .unwrap();
            let n = stmt.column_count();
            let rows = stmt
                .query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            r.get::<_, rusqlite::types::Value>(i)
                                .map(|v| format!("{v:?}"))
                        })
                        .collect::<Result<Vec<_>, _>>()
                })
                .unwrap();
            for r in rows {
                out.push(format!("{t}: {}", r.unwrap().join("|")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    /// A source collection with a review card, a learning card, a new card and history.
    fn source() -> Collection {
        let col = empty_collection(T0);
        add_deck(&col, 1_704_110_400_100, "Lang");
        add_deck(&col, 1_704_110_400_200, "Lang::Verbs");
        add_note(
            &col,
            100,
            "guidA",
            "alpha",
            1000,
            1_704_110_400_100,
            (2, 2, 5, 4, 2500, 3, 0, 0),
        );
        add_note(
            &col,
            101,
            "guidB",
            "beta",
            1001,
            1_704_110_400_200,
            (1, 1, 1_704_111_000, 0, 0, 1, 0, 1),
        );
        add_note(
            &col,
            102,
            "guidC",
            "gamma",
            1002,
            1,
            (0, 0, 7, 0, 0, 0, 0, 0),
        );
        add_revlog(&col, 5000, 1000, 3, 0);
        add_revlog(&col, 5001, 1000, 3, 1);
        add_revlog(&col, 5002, 1001, 1, 0);
        col.conn()
            .execute(
                "UPDATE notes SET tags = ' verbs irregular ' WHERE id = 100",
                [],
            )
            .unwrap();
        col
    }

    fn card(col: &Collection, id: i64) -> (i64, i64, i64, i64, i64, i64) {
        col.conn()
            .query_row(
                "SELECT did, type, queue, due, ivl, factor FROM cards WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .unwrap()
    }

    #[test]
    fn round_trip_keeps_scheduling_and_maps_decks_by_name() {
        let package = export_apkg(&source()).unwrap();
        let target = empty_collection(T0);
        add_deck(&target, 77, "lang"); // matched case-insensitively
        let summary = import_apkg(&target, &package, &ImportLimits::default()).unwrap();
        assert_eq!((summary.notes, summary.cards, summary.revlog), (3, 3, 3));
        assert_eq!(summary.decks, ["Default", "lang", "lang::Verbs"]);
        assert_eq!(card(&target, 1000), (77, 2, 2, 5, 4, 2500));
        let (verbs, ..) = card(&target, 1001);
        assert_eq!(card(&target, 1001), (verbs, 1, 1, 1_704_111_000, 0, 0));
        // New card appended at the target's next position.
        assert_eq!(card(&target, 1002).3, 1);
        assert_eq!(col_json(&target, "conf")["nextPos"], 2);
        let decks = col_json(&target, "decks");
        assert_eq!(decks[verbs.to_string()]["name"], "lang::Verbs");
        let tags = col_json(&target, "tags");
        assert_eq!(tags, serde_json::json!({"verbs": -1, "irregular": -1}));
        // Same note types (Anki's stock ones on both sides): no new model.
        assert_eq!(
            col_json(&target, "models").as_object().unwrap().len(),
            col_json(&empty_collection(T0), "models")
                .as_object()
                .unwrap()
                .len()
        );
        let mid: i64 = target
            .conn()
            .query_row("SELECT DISTINCT mid FROM notes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mid, basic_id(&target));
    }

    #[test]
    fn presets_come_along_with_their_decks() {
        let src = source();
        let hard = src.create_preset("Hard", None).unwrap();
        let mut p = hard.clone();
        p.new_per_day = 3;
        p.leech_action = 0;
        src.update_preset(&p).unwrap();
        let verbs = 1_704_110_400_200;
        src.set_deck_preset(verbs, hard.id).unwrap();
        let limits = javumbo_collection::DeckLimits {
            review_limit: Some(40),
            ..Default::default()
        };
        src.set_deck_limits(verbs, &limits).unwrap();
        let package = export_apkg(&src).unwrap();

        let target = empty_collection(T0);
        // A preset the target already has under that id is kept as it is.
        let mut own = target.preset(1).unwrap();
        own.new_per_day = 77;
        target.update_preset(&own).unwrap();
        import_apkg(&target, &package, &ImportLimits::default()).unwrap();
        let (did, ..) = card(&target, 1001);
        let got = target.deck_preset(did).unwrap();
        assert_eq!(
            (got.id, got.name.as_str(), got.new_per_day, got.leech_action),
            (hard.id, "Hard", 3, 0)
        );
        assert_eq!(target.deck_limits(did).unwrap().review_limit, Some(40));
        assert_eq!(target.preset(1).unwrap().new_per_day, 77);
        let (lang, ..) = card(&target, 1000);
        assert_eq!(target.deck_preset(lang).unwrap().id, 1);
    }

    #[test]
    fn reimport_skips_existing_notes() {
        let package = export_apkg(&source()).unwrap();
        let target = empty_collection(T0);
        import_apkg(&target, &package, &ImportLimits::default()).unwrap();
        let before = dump(&target);
        let again = import_apkg(&target, &package, &ImportLimits::default()).unwrap();
        assert_eq!((again.notes, again.cards, again.revlog), (0, 0, 0));
        let after = dump(&target);
        // Only col.mod may move.
        assert_eq!(before[1..], after[1..]);
    }

    fn fields_of(col: &Collection, guid: &str) -> String {
        col.conn()
            .query_row("SELECT flds FROM notes WHERE guid = ?1", [guid], |r| {
                r.get(0)
            })
            .unwrap()
    }

    #[test]
    fn reimport_updates_exactly_the_newer_notes() {
        let src = source();
        let target = empty_collection(T0);
        import_apkg(
            &target,
            &export_apkg(&src).unwrap(),
            &ImportLimits::default(),
        )
        .unwrap();
        // The shared deck's author fixes alpha (newer) and beta (but older than our copy).
        src.conn()
            .execute_batch(
                "UPDATE notes SET flds = 'alpha v2\x1fback', mod = mod + 100, tags = ' fixed ' \
                 WHERE id = 100;
                 UPDATE notes SET flds = 'beta v2\x1fback', mod = mod - 100 WHERE id = 101;",
            )
            .unwrap();
        let s = import_apkg(
            &target,
            &export_apkg(&src).unwrap(),
            &ImportLimits::default(),
        )
        .unwrap();
        assert_eq!(
            (
                s.notes,
                s.notes_updated,
                s.notes_skipped,
                s.cards,
                s.cards_skipped
            ),
            (0, 1, 2, 0, 3)
        );
        assert_eq!(fields_of(&target, "guidA"), "alpha v2\x1fback");
        assert_eq!(fields_of(&target, "guidB"), "beta\x1fback of beta");
        let tags: String = target
            .conn()
            .query_row("SELECT tags FROM notes WHERE guid = 'guidA'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(tags, " fixed ");
        assert!(col_json(&target, "tags").get("fixed").is_some());
        // The same package again: nothing is newer any more (updated notes are stamped now).
        let again = import_apkg(
            &target,
            &export_apkg(&src).unwrap(),
            &ImportLimits::default(),
        )
        .unwrap();
        assert_eq!((again.notes_updated, again.notes_skipped), (0, 3));
    }

    #[test]
    fn filtered_deck_is_kept_with_its_cards() {
        let src = source();
        let mut decks = col_json(&src, "decks");
        let filtered = 1_704_110_400_300i64;
        let mut fd = javumbo_collection::schema::deck_json(filtered, "Cram", 0);
        fd["dyn"] = 1.into();
        fd["terms"] = serde_json::json!([["deck:Lang", 100, 0]]);
        fd["resched"] = true.into();
        decks[filtered.to_string()] = fd;
        src.conn()
            .execute("UPDATE col SET decks = ?1", [decks.to_string()])
            .unwrap();
        src.conn()
            .execute(
                "UPDATE cards SET odid = did, did = ?1, odue = due, due = -100000 WHERE id = 1000",
                [filtered],
            )
            .unwrap();
        let target = empty_collection(T0);
        import_apkg(
            &target,
            &export_apkg(&src).unwrap(),
            &ImportLimits::default(),
        )
        .unwrap();
        let (did, odid, due, odue): (i64, i64, i64, i64) = target
            .conn()
            .query_row(
                "SELECT did, odid, due, odue FROM cards WHERE id = 1000",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        let decks = col_json(&target, "decks");
        assert_eq!(decks[did.to_string()]["name"], "Cram");
        assert_eq!(decks[did.to_string()]["dyn"], 1);
        assert_eq!(decks[did.to_string()]["terms"][0][0], "deck:Lang");
        assert_eq!(decks[odid.to_string()]["name"], "Lang");
        assert_eq!((due, odue), (-100_000, 5));
    }

    #[test]
    fn hostile_scheduling_values_are_normalised() {
        let src = source();
        src.conn()
            .execute_batch(
                "UPDATE cards SET ivl = -1, factor = 9223372036854775807, reps = -5, \
                 lapses = -9223372036854775808 WHERE id = 1000;
                 UPDATE cards SET due = 9223372036854775807 WHERE id = 1001;",
            )
            .unwrap();
        let target = empty_collection(T0);
        import_apkg(
            &target,
            &export_apkg(&src).unwrap(),
            &ImportLimits::default(),
        )
        .unwrap();
        let (ivl, factor, reps, lapses): (i64, i64, i64, i64) = target
            .conn()
            .query_row(
                "SELECT ivl, factor, reps, lapses FROM cards WHERE id = 1000",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!((ivl, factor, reps, lapses), (0, 65_535, 0, 0));
        assert_eq!(card(&target, 1001).3, i64::from(i32::MAX));
    }

    #[test]
    fn colliding_ids_get_new_ones_and_revlog_follows() {
        let package = export_apkg(&source()).unwrap();
        let target = empty_collection(T0);
        add_note(
            &target,
            100,
            "other",
            "mine",
            1000,
            1,
            (0, 0, 1, 0, 0, 0, 0, 0),
        );
        add_revlog(&target, 5000, 1000, 2, 1);
        let s = import_apkg(&target, &package, &ImportLimits::default()).unwrap();
        assert_eq!((s.notes, s.cards, s.revlog), (3, 3, 3));
        let moved: i64 = target
            .conn()
            .query_row(
                "SELECT id FROM cards WHERE nid != 100 AND ivl = 4",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(moved, 1000 + 999);
        let n: i64 = target
            .conn()
            .query_row("SELECT count() FROM revlog WHERE cid = ?1", [moved], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 2);
        let mine: i64 = target
            .conn()
            .query_row("SELECT count() FROM revlog WHERE cid = 1000", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(mine, 1);
    }

    #[test]
    fn history_kept_from_a_deleted_deck_is_not_duplicated() {
        let package = export_apkg(&source()).unwrap();
        let target = empty_collection(T0);
        import_apkg(&target, &package, &ImportLimits::default()).unwrap();
        // Deleting cards and notes keeps their review history, as in Anki.
        target
            .conn()
            .execute_batch("DELETE FROM cards; DELETE FROM notes;")
            .unwrap();
        let again = import_apkg(&target, &package, &ImportLimits::default()).unwrap();
        assert_eq!((again.notes, again.cards, again.revlog), (3, 3, 0));
        let n: i64 = target
            .conn()
            .query_row("SELECT count() FROM revlog", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn review_due_moves_to_target_calendar() {
        let package = export_apkg(&source()).unwrap();
        // Target created 10 days after the source: "due in N days" must stay N days away.
        let target = empty_collection(T0 + 10 * 86_400_000);
        import_apkg(&target, &package, &ImportLimits::default()).unwrap();
        assert_eq!(card(&target, 1000).3, 5 - 10);
    }

    #[test]
    fn different_note_type_with_same_name_is_added() {
        let src = source();
        let mut models = col_json(&src, "models");
        let id = basic_id(&src);
        models[id.to_string()]["flds"][1]["name"] = "Answer".into();
        src.conn()
            .execute("UPDATE col SET models = ?1", [models.to_string()])
            .unwrap();
        let package = export_apkg(&src).unwrap();
        let target = empty_collection(T0);
        import_apkg(&target, &package, &ImportLimits::default()).unwrap();
        let models = col_json(&target, "models");
        let names: BTreeSet<_> = models
            .as_object()
            .unwrap()
            .values()
            .map(|m| m["name"].as_str().unwrap().to_owned())
            .collect();
        let mut expected: BTreeSet<String> = col_json(&empty_collection(T0), "models")
            .as_object()
            .unwrap()
            .values()
            .map(|m| m["name"].as_str().unwrap().to_owned())
            .collect();
        expected.insert("Basic+".to_owned());
        assert_eq!(names, expected);
        // Both started at the same clock instant: the copy needed a fresh id.
        let ids: BTreeSet<i64> = models
            .as_object()
            .unwrap()
            .values()
            .map(|m| m["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids.len(), names.len());
    }

    #[test]
    fn bad_note_aborts_everything() {
        let src = source();
        src.conn()
            .execute(
                "UPDATE notes SET flds = 'only one field' WHERE id = 102",
                [],
            )
            .unwrap();
        let package = export_apkg(&src).unwrap();
        let target = empty_collection(T0);
        let before = dump(&target);
        let err = import_apkg(&target, &package, &ImportLimits::default()).unwrap_err();
        assert!(
            matches!(&err, ApkgError::InvalidPackage { reason, .. } if reason.contains("has 1 fields")),
            "{err}"
        );
        assert_eq!(before, dump(&target));
    }

    /// The package's media as the API hands them to the importer; the content's SHA-1 in hex
    /// stands in for its SHA-256 (the importer only compares it with the index).
    fn incoming(package: &Package) -> Vec<IncomingMedia> {
        package
            .media()
            .iter()
            .map(|m| IncomingMedia {
                name: m.name.clone(),
                sha1: m.sha1,
                sha256: hex::encode(m.sha1),
                size: m.data.len() as u64,
            })
            .collect()
    }

    fn index(col: &Collection, files: &[(&str, &[u8])]) {
        use sha1::{Digest, Sha1};
        for (name, data) in files {
            col.put_media_file(&javumbo_collection::MediaFile {
                name: (*name).into(),
                sha256: hex::encode(Sha1::digest(data)),
                size: data.len() as u64,
            })
            .unwrap();
        }
    }

    fn with_media(col: &Collection, media: &[(&str, &[u8])]) -> Vec<u8> {
        let media: Vec<(String, Vec<u8>)> = media
            .iter()
            .map(|(n, d)| ((*n).to_owned(), d.to_vec()))
            .collect();
        export_package(col, ExportFormat::Legacy, &media).unwrap()
    }

    #[test]
    fn media_clashes_follow_ankis_rules() {
        use sha1::{Digest, Sha1};
        let src = source();
        src.conn()
            .execute_batch(
                "UPDATE notes SET flds = '<img src=\"a.png\">' || char(31) || 'back' \
                 WHERE id = 100;",
            )
            .unwrap();
        let y: &[u8] = b"package a";
        let media: &[(&str, &[u8])] = &[
            ("a.png", y),
            ("u.png", b"package u, referenced by no note"),
            ("n.png", b"new to the user"),
            ("_t.css", b"package static"),
        ];
        let renamed = format!("a-{}.png", hex::encode(Sha1::digest(y)));
        let target = empty_collection(T0);
        index(
            &target,
            &[
                ("a.png", b"user a"),
                ("u.png", b"user u"),
                ("_t.css", b"user static"),
            ],
        );
        let package = Package::open(&with_media(&src, media), &ImportLimits::default()).unwrap();
        let imported = package
            .import_with_media(&target, &incoming(&package))
            .unwrap();
        // a.png renamed (used), n.png new; u.png's renamed copy is used by no note and the
        // user's static _t.css is kept, as in Anki.
        let names: Vec<&str> = imported.index.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, [renamed.as_str(), "n.png"]);
        assert_eq!(
            (imported.summary.media, imported.summary.media_skipped),
            (2, 2)
        );
        assert_eq!(
            fields_of(&target, "guidA"),
            format!("<img src=\"{renamed}\">\x1fback")
        );
        let sfld: String = target
            .conn()
            .query_row("SELECT sfld FROM notes WHERE guid = 'guidA'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(sfld.trim(), renamed);
        target.put_media_files(&imported.index, u64::MAX).unwrap();

        // The author updates beta to show a.png too: the updated note's reference is rewritten,
        // the duplicate alpha is left alone, and the renamed copy is already there.
        src.conn()
            .execute_batch(
                "UPDATE notes SET flds = 'beta [sound:a.png]' || char(31) || 'b', \
                 mod = mod + 100 WHERE id = 101;",
            )
            .unwrap();
        let package = Package::open(&with_media(&src, media), &ImportLimits::default()).unwrap();
        let imported = package
            .import_with_media(&target, &incoming(&package))
            .unwrap();
        assert_eq!(imported.summary.notes_updated, 1);
        assert!(imported.index.is_empty(), "{:?}", imported.index);
        assert_eq!(
            (imported.summary.media, imported.summary.media_skipped),
            (0, 4)
        );
        assert_eq!(
            fields_of(&target, "guidB"),
            format!("beta [sound:{renamed}]\x1fb")
        );
        assert_eq!(
            fields_of(&target, "guidA"),
            format!("<img src=\"{renamed}\">\x1fback")
        );

        // A .colpkg restore replaces the user's file of a name, as Anki's does.
        let restored = package
            .replace_with_media(&target, &incoming(&package))
            .unwrap();
        let names: Vec<&str> = restored.index.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.png", "u.png", "_t.css"]);
    }

    /// Renamed references make fields longer: past the field limit the import is refused and
    /// changes nothing.
    #[test]
    fn rewritten_fields_stay_within_the_limits() {
        let src = source();
        let field = "[sound:a.png]".repeat(7_000);
        src.conn()
            .execute(
                "UPDATE notes SET flds = ?1 || char(31) || 'back' WHERE id = 100",
                [&field],
            )
            .unwrap();
        let target = empty_collection(T0);
        index(&target, &[("a.png", b"user a")]);
        let before = dump(&target);
        let package = Package::open(
            &with_media(&src, &[("a.png", b"package a")]),
            &ImportLimits::default(),
        )
        .unwrap();
        let err = package
            .import_with_media(&target, &incoming(&package))
            .unwrap_err();
        assert!(
            matches!(&err, ApkgError::TooLarge(m) if m.contains("field size limit")),
            "{err}"
        );
        assert_eq!(before, dump(&target));
    }

    #[test]
    fn v1_scheduler_with_progress_is_refused() {
        let src = source();
        let mut conf = col_json(&src, "conf");
        conf.as_object_mut().unwrap().remove("schedVer");
        src.conn()
            .execute("UPDATE col SET conf = ?1", [conf.to_string()])
            .unwrap();
        let err = import_apkg(
            &empty_collection(T0),
            &export_apkg(&src).unwrap(),
            &ImportLimits::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ApkgError::InvalidPackage { reason, .. } if reason.contains("v1")));
    }

    #[test]
    fn errors_say_whose_fault_they_are_and_keep_their_cause() {
        use javumbo_collection::{CollectionError, OperationError};
        assert!(ApkgError::TooLarge("x".into()).is_client_error());
        assert!(ApkgError::invalid("y").is_client_error());
        assert!(ApkgError::from(CollectionError::NotFound("deck".into())).is_client_error());
        assert!(!ApkgError::from(CollectionError::corrupt("no col row")).is_client_error());
        // The uploader's message keeps the cause that revealed the problem.
        let json_error = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let e = ApkgError::invalid_because("col.decks is not valid JSON", json_error);
        assert!(std::error::Error::source(&e).is_some());
        let message = e.detail();
        assert!(
            message.starts_with("col.decks is not valid JSON (EOF while parsing"),
            "{message}"
        );
    }

    use std::collections::BTreeSet;
}
