//! Notes and note types, as Anki's importer does them. A note whose guid the collection lacks
//! is added under the target note type that matches its own (added when the collection has
//! none). A note whose guid the collection has is updated (fields and tags, marked modified now)
//! when the package's copy is newer and of the same note type; otherwise the collection's copy
//! stays ("duplicate", or "conflicting" when the note types differ). Cards missing from an
//! existing note are still added, as in Anki.

use std::borrow::Cow;
use std::collections::HashMap;

use javumbo_collection::notes::{note_checksum, strip_html_preserving_media_filenames};
use javumbo_collection::storage;
use javumbo_collection::storage::notes::Note;
use serde_json::{Value, json};

use super::{Context, ID_STEP, IdAllocator, max_key};
use crate::ApkgError;
use crate::source::{SourceData, SrcNote, SrcNotetype};

/// A note the merge added: its id in the collection and what its cards may refer to.
#[derive(Debug, Clone, Copy)]
pub(super) struct ImportedNote {
    pub id: i64,
    /// Templates of its note type: a card's ordinal must be below this (unless cloze).
    pub templates: usize,
    pub cloze: bool,
}

/// What the note step did: the collection's note of each package note whose cards may be
/// imported (added, updated and duplicate notes, as in Anki), and the counts.
pub(super) struct ImportedNotes {
    map: HashMap<i64, ImportedNote>,
    pub added: usize,
    pub updated: usize,
    /// Duplicates (not newer) and conflicts (same guid, another note type).
    pub skipped: usize,
}

impl ImportedNotes {
    pub fn get(&self, package_note_id: i64) -> Option<&ImportedNote> {
        self.map.get(&package_note_id)
    }
}

/// A note of the collection as the guid lookup needs it.
struct Existing {
    id: i64,
    mtime: i64,
    mid: i64,
}

impl Context<'_> {
    /// Add the package's new notes (in id order) and the note types they need; update the
    /// existing ones the package holds newer.
    pub(super) fn import_notes_and_notetypes(&mut self) -> Result<ImportedNotes, ApkgError> {
        let (col, src) = (self.col, self.src);
        let conn = col.conn();
        let mut by_guid: HashMap<String, Existing> = HashMap::new();
        {
            let mut stmt = conn.prepare("SELECT guid, id, mod, mid FROM notes")?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                by_guid.insert(
                    r.get(0)?,
                    Existing {
                        id: r.get(1)?,
                        mtime: r.get(2)?,
                        mid: r.get(3)?,
                    },
                );
            }
        }
        let mut note_ids = IdAllocator::new(storage::notes::all_ids(conn)?, ID_STEP);
        let mut notetypes = NotetypeIds::new(self);
        let mut out = ImportedNotes {
            map: HashMap::new(),
            added: 0,
            updated: 0,
            skipped: 0,
        };
        for note in &src.notes {
            let nt = checked_notetype(src, note)?;
            let (mid, remapped) = notetypes.target_of(self, nt);
            let imported = ImportedNote {
                id: 0,
                templates: nt.templates.len(),
                cloze: nt.is_cloze,
            };
            if let Some(existing) = by_guid.get(&note.guid) {
                if remapped || existing.mid != mid {
                    // Anki: "conflicting" — the same note under another note type stays as is.
                    out.skipped += 1;
                } else if existing.mtime < note.mod_secs {
                    let flds = self.media_refs(note)?;
                    let fields: Vec<&str> = flds.split('\x1f').collect();
                    let sort_field = sort_field_of(&fields, nt.sort_field);
                    conn.execute(
                        "UPDATE notes SET flds = ?2, tags = ?3, sfld = ?4, csum = ?5, mod = ?6, \
                         usn = -1 WHERE id = ?1",
                        rusqlite::params![
                            existing.id,
                            flds,
                            note.tags,
                            sort_field,
                            note_checksum(fields[0]),
                            self.now_secs()
                        ],
                    )?;
                    self.register_tags(&note.tags);
                    out.updated += 1;
                    out.map.insert(
                        note.id,
                        ImportedNote {
                            id: existing.id,
                            ..imported
                        },
                    );
                } else {
                    out.skipped += 1;
                    out.map.insert(
                        note.id,
                        ImportedNote {
                            id: existing.id,
                            ..imported
                        },
                    );
                }
                continue;
            }
            let id = note_ids.take(note.id)?;
            let flds = self.media_refs(note)?;
            let fields: Vec<&str> = flds.split('\x1f').collect();
            let sort_field = sort_field_of(&fields, nt.sort_field);
            storage::notes::insert(
                conn,
                &Note {
                    id,
                    guid: note.guid.clone(),
                    mid,
                    mtime: note.mod_secs,
                    usn: -1,
                    tags: note.tags.clone(),
                    flds: flds.clone().into_owned(),
                    sfld: sort_field,
                    csum: note_checksum(fields[0]),
                    flags: note.flags,
                    data: note.data.clone(),
                },
            )?;
            // A second copy of this guid later in the package is then a duplicate of this one.
            by_guid.insert(
                note.guid.clone(),
                Existing {
                    id,
                    mtime: note.mod_secs,
                    mid,
                },
            );
            out.added += 1;
            out.map.insert(note.id, ImportedNote { id, ..imported });
            self.register_tags(&note.tags);
        }
        Ok(out)
    }

    /// The note's fields with their media references rewritten as Anki's importer does for
    /// added and updated notes; a renamed file's longer name must still fit the field limits.
    fn media_refs<'n>(&mut self, note: &'n SrcNote) -> Result<Cow<'n, str>, ApkgError> {
        let flds = self.media.rewrite_fields(&note.flds);
        if let Cow::Owned(f) = &flds {
            crate::source::check_note_size(note.id, f)?;
        }
        Ok(flds)
    }

    /// Add the note's tags to the collection's tag registry (`{"tag": usn}`).
    fn register_tags(&mut self, tags: &str) {
        for tag in tags.split_whitespace() {
            if !self.tags.value.contains_key(tag) {
                self.tags.value.insert(tag.to_owned(), json!(-1));
                self.tags.changed = true;
            }
        }
    }
}

/// Anki's sort field (`prepare_for_update`): the field with its tags stripped, media file
/// names kept (so the renamed name when the import renamed a file).
fn sort_field_of(fields: &[&str], idx: usize) -> String {
    strip_html_preserving_media_filenames(fields.get(idx).copied().unwrap_or(""))
}

/// The note's type in the package, which must exist and have as many fields as the note.
fn checked_notetype<'s>(src: &'s SourceData, note: &SrcNote) -> Result<&'s SrcNotetype, ApkgError> {
    let nt = src.notetypes.get(&note.mid).ok_or_else(|| {
        ApkgError::invalid(format!(
            "note {} uses a note type the package does not contain",
            note.id
        ))
    })?;
    let fields = note.flds.split('\x1f').count();
    if fields != nt.fields.len() {
        return Err(ApkgError::invalid(format!(
            "note {} has {} fields; its note type {:?} has {}",
            note.id,
            fields,
            nt.name,
            nt.fields.len()
        )));
    }
    Ok(nt)
}

/// The target note type of each package note type the merge has used so far.
struct NotetypeIds {
    resolved: HashMap<i64, i64>,
    /// The id for the next note type added under a taken id: a millisecond stamp above all.
    next_id: i64,
}

impl NotetypeIds {
    fn new(ctx: &Context<'_>) -> Self {
        Self {
            resolved: HashMap::new(),
            next_id: ctx.now_ms.max(max_key(&ctx.models.value).saturating_add(1)),
        }
    }

    /// The collection's note type for `nt`: the one with its id if identical, else any
    /// identical one, else a copy added now; and whether that is another id than the
    /// package's (Anki's "remapped" note type, whose notes never update existing ones).
    fn target_of(&mut self, ctx: &mut Context<'_>, nt: &SrcNotetype) -> (i64, bool) {
        if let Some(&id) = self.resolved.get(&nt.id) {
            return (id, id != nt.id);
        }
        let wanted = Signature::of_package(nt);
        let models = &ctx.models.value;
        // Anki keeps the package's id when the collection's note type under it has the same
        // schema (field and template names), whatever its templates' text.
        let same_id = models
            .get(&nt.id.to_string())
            .and_then(schema_names)
            .is_some_and(|a| Some(a) == schema_names(&nt.json));
        let id = if same_id {
            nt.id
        } else if let Some(id) = models
            .values()
            .find(|m| Signature::of_json(m).is_some_and(|s| s == wanted))
            .and_then(|m| m.get("id").and_then(Value::as_i64))
        {
            id
        } else {
            self.add(ctx, nt)
        };
        self.resolved.insert(nt.id, id);
        (id, id != nt.id)
    }

    fn add(&mut self, ctx: &mut Context<'_>, nt: &SrcNotetype) -> i64 {
        let now_secs = ctx.now_secs();
        let models = &mut ctx.models;
        let id = if models.value.contains_key(&nt.id.to_string()) {
            let id = self.next_id;
            self.next_id += 1;
            id
        } else {
            nt.id
        };
        // Anki's rule for a different note type under a taken name.
        let mut name = nt.name.clone();
        while models
            .value
            .values()
            .any(|m| m.get("name").and_then(Value::as_str) == Some(name.as_str()))
        {
            name.push('+');
        }
        let mut json = nt.json.clone();
        json["id"] = json!(id);
        json["name"] = json!(name);
        json["usn"] = json!(-1);
        json["mod"] = json!(now_secs);
        // The source's "last used deck" id means nothing here.
        json["did"] = Value::Null;
        complete_notetype(&mut json);
        models.value.insert(id.to_string(), json);
        models.changed = true;
        id
    }
}

/// Anki's note type "schema": its field names and template names, in order.
fn schema_names(m: &Value) -> Option<(Vec<&str>, Vec<&str>)> {
    let names = |list: &str| -> Option<Vec<&str>> {
        m.get(list)?
            .as_array()?
            .iter()
            .map(|v| v.get("name")?.as_str())
            .collect()
    };
    Some((names("flds")?, names("tmpls")?))
}

/// What makes two note types interchangeable: the same name, fields and templates.
#[derive(PartialEq, Eq)]
struct Signature {
    name: String,
    fields: Vec<String>,
    templates: Vec<(String, String)>,
    cloze: bool,
}

impl Signature {
    fn of_json(m: &Value) -> Option<Self> {
        let strs = |list: &str, key: &str| -> Option<Vec<String>> {
            m.get(list)?
                .as_array()?
                .iter()
                .map(|v| Some(v.get(key)?.as_str()?.to_owned()))
                .collect()
        };
        let templates = m
            .get("tmpls")?
            .as_array()?
            .iter()
            .map(|t| {
                let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                (s("qfmt"), s("afmt"))
            })
            .collect();
        Some(Self {
            name: m.get("name")?.as_str()?.to_owned(),
            fields: strs("flds", "name")?,
            templates,
            cloze: m.get("type").and_then(Value::as_i64) == Some(1),
        })
    }

    fn of_package(nt: &SrcNotetype) -> Self {
        Self {
            name: nt.name.clone(),
            fields: nt.fields.clone(),
            templates: nt.templates.clone(),
            cloze: nt.is_cloze,
        }
    }
}

/// Fill in the keys Anki's legacy reader requires of a note type (`type`, `sortf`, `css`,
/// `tags`; per field `ord`, `sticky`, `rtl`, `font`, `size`; per template `name`, `ord`, `qfmt`,
/// `afmt`) with Anki's defaults, so a lenient package (e.g. numeric strings, missing `css`)
/// cannot leave us with a collection that Anki then refuses to import from our export.
fn complete_notetype(nt: &mut Value) {
    fn fill(obj: &mut Value, defaults: Value) {
        if let (Some(obj), Value::Object(defaults)) = (obj.as_object_mut(), defaults) {
            for (k, v) in defaults {
                obj.entry(k).or_insert(v);
            }
        }
    }
    fill(nt, json!({"type": 0, "sortf": 0, "css": "", "tags": []}));
    for key in ["type", "sortf"] {
        if let Some(Value::String(s)) = nt.get(key) {
            nt[key] = json!(s.trim().parse::<i64>().unwrap_or(0));
        }
    }
    if let Some(fields) = nt.get_mut("flds").and_then(Value::as_array_mut) {
        for (ord, f) in fields.iter_mut().enumerate() {
            fill(
                f,
                json!({"ord": ord, "sticky": false, "rtl": false, "font": "Arial", "size": 20}),
            );
        }
    }
    if let Some(templates) = nt.get_mut("tmpls").and_then(Value::as_array_mut) {
        for (ord, t) in templates.iter_mut().enumerate() {
            fill(
                t,
                json!({"name": format!("Card {}", ord + 1), "ord": ord, "qfmt": "", "afmt": ""}),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_note_type_is_completed_for_anki() {
        let mut nt = json!({"id": "5", "name": "X", "sortf": "1", "flds": [{"name": "A"}, {"name": "B"}],
                            "tmpls": [{"qfmt": "{{A}}"}]});
        complete_notetype(&mut nt);
        assert_eq!(nt["sortf"], 1);
        assert_eq!(nt["type"], 0);
        assert_eq!(nt["css"], "");
        assert_eq!(nt["flds"][1]["ord"], 1);
        assert_eq!(nt["flds"][1]["font"], "Arial");
        assert_eq!(nt["tmpls"][0]["name"], "Card 1");
        assert_eq!(nt["tmpls"][0]["qfmt"], "{{A}}");
    }
}
