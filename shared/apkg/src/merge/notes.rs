//! Notes and note types. A note whose guid the collection already has is skipped (Anki keeps
//! the existing note); the others are added under the target note type that matches theirs,
//! which is added when the collection has none.

use std::collections::{HashMap, HashSet};

use javumbo_collection::ids::{field_checksum, strip_html};
use javumbo_collection::storage;
use javumbo_collection::storage::notes::Note;
use serde_json::{Value, json};

use super::{Context, ID_STEP, max_key, uniquify};
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

/// The notes the merge added, by their id in the package.
pub(super) struct ImportedNotes(HashMap<i64, ImportedNote>);

impl ImportedNotes {
    pub fn get(&self, package_note_id: i64) -> Option<&ImportedNote> {
        self.0.get(&package_note_id)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl Context<'_> {
    /// Add the package's new notes (in id order) and the note types they need.
    pub(super) fn import_notes_and_notetypes(&mut self) -> Result<ImportedNotes, ApkgError> {
        let (col, src) = (self.col, self.src);
        let conn = col.conn();
        let mut guids: HashSet<String> = storage::notes::all_guids(conn)?.into_iter().collect();
        let mut note_ids: HashSet<i64> = storage::notes::all_ids(conn)?.into_iter().collect();
        let mut notetypes = NotetypeIds::new(self);
        let mut imported = HashMap::new();
        for note in &src.notes {
            let nt = checked_notetype(src, note)?;
            if !guids.insert(note.guid.clone()) {
                // Already in the collection (or twice in the package): Anki keeps the existing note.
                continue;
            }
            let mid = notetypes.target_of(self, nt);
            let id = uniquify(note.id, &mut note_ids, ID_STEP)?;
            let fields: Vec<&str> = note.flds.split('\x1f').collect();
            let sort_field = fields.get(nt.sort_field).copied().unwrap_or("");
            storage::notes::insert(
                conn,
                &Note {
                    id,
                    guid: note.guid.clone(),
                    mid,
                    mtime: note.mod_secs,
                    usn: -1,
                    tags: note.tags.clone(),
                    flds: note.flds.clone(),
                    sfld: strip_html(sort_field),
                    csum: field_checksum(fields[0]),
                    flags: note.flags,
                    data: note.data.clone(),
                },
            )?;
            imported.insert(
                note.id,
                ImportedNote {
                    id,
                    templates: nt.templates.len(),
                    cloze: nt.is_cloze,
                },
            );
            self.register_tags(&note.tags);
        }
        Ok(ImportedNotes(imported))
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
    /// identical one, else a copy added now.
    fn target_of(&mut self, ctx: &mut Context<'_>, nt: &SrcNotetype) -> i64 {
        if let Some(&id) = self.resolved.get(&nt.id) {
            return id;
        }
        let wanted = Signature::of_package(nt);
        let models = &ctx.models.value;
        let same_id = models
            .get(&nt.id.to_string())
            .and_then(Signature::of_json)
            .is_some_and(|s| s == wanted);
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
        id
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
