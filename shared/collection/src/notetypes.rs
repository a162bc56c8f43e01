//! Note types (schema 11 keeps them as JSON in `col.models`): typed reads of their fields,
//! templates and CSS, for listing, validating notes and rendering cards.
//!
//! Only what javumbo reads is typed; every other key of a note type is left as stored.

use javumbo_templates as tmpl;
use serde::Serialize;
use serde_json::Value;

use crate::coljson::{ColJson, JsonObject};
use crate::{Collection, CollectionError, Result};

/// Normal (one card per template) or cloze (one card per cloze number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteTypeKind {
    Normal,
    Cloze,
}

/// One card type of a note type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateInfo {
    pub name: String,
    pub ord: u16,
    pub qfmt: String,
    pub afmt: String,
    pub bqfmt: String,
    pub bafmt: String,
    /// Anki's "deck override": new cards of this template go to this deck.
    pub deck_override: Option<i64>,
}

/// A note type as javumbo uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoteType {
    pub id: i64,
    pub name: String,
    pub kind: NoteTypeKind,
    /// Field names in `ord` order.
    pub fields: Vec<String>,
    /// Card types in `ord` order (a cloze note type uses only the first).
    pub templates: Vec<TemplateInfo>,
    pub css: String,
    /// Index of the sort field (`sortf`), within `fields`.
    pub sort_field: usize,
    pub latex_svg: bool,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Array entries of `key` sorted by their `ord` (array position when absent).
fn by_ord<'a>(m: &'a Value, key: &str) -> Vec<(u16, &'a Value)> {
    let mut parts: Vec<(u16, &Value)> = m
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .enumerate()
                .map(|(i, v)| {
                    let ord = v
                        .get("ord")
                        .and_then(Value::as_u64)
                        .and_then(|o| u16::try_from(o).ok())
                        .unwrap_or(i as u16);
                    (ord, v)
                })
                .collect()
        })
        .unwrap_or_default();
    parts.sort_by_key(|(ord, _)| *ord);
    parts
}

impl NoteType {
    /// Read one note type from its `col.models` JSON; `None` if it is not an object with an id.
    pub fn from_json(m: &Value) -> Option<Self> {
        let id = m.get("id").and_then(Value::as_i64)?;
        let fields: Vec<String> = by_ord(m, "flds")
            .into_iter()
            .map(|(_, f)| text(f, "name"))
            .collect();
        let templates = by_ord(m, "tmpls")
            .into_iter()
            .map(|(ord, t)| TemplateInfo {
                name: text(t, "name"),
                ord,
                qfmt: text(t, "qfmt"),
                afmt: text(t, "afmt"),
                bqfmt: text(t, "bqfmt"),
                bafmt: text(t, "bafmt"),
                deck_override: t.get("did").and_then(Value::as_i64).filter(|d| *d > 0),
            })
            .collect();
        let sort_field = m
            .get("sortf")
            .and_then(Value::as_u64)
            .and_then(|s| usize::try_from(s).ok())
            .filter(|s| *s < fields.len())
            .unwrap_or(0);
        Some(Self {
            id,
            name: text(m, "name"),
            kind: if m.get("type").and_then(Value::as_i64) == Some(1) {
                NoteTypeKind::Cloze
            } else {
                NoteTypeKind::Normal
            },
            fields,
            templates,
            css: text(m, "css"),
            sort_field,
            latex_svg: m.get("latexsvg").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    /// What the template renderer needs of this note type.
    pub fn for_rendering(&self) -> tmpl::Notetype {
        tmpl::Notetype {
            name: self.name.clone(),
            kind: match self.kind {
                NoteTypeKind::Normal => tmpl::NotetypeKind::Normal,
                NoteTypeKind::Cloze => tmpl::NotetypeKind::Cloze,
            },
            fields: self.fields.clone(),
            templates: self
                .templates
                .iter()
                .map(|t| tmpl::CardTemplate {
                    name: t.name.clone(),
                    qfmt: t.qfmt.clone(),
                    afmt: t.afmt.clone(),
                    bqfmt: t.bqfmt.clone(),
                    bafmt: t.bafmt.clone(),
                })
                .collect(),
            css: self.css.clone(),
            latex_svg: self.latex_svg,
        }
    }

    /// The deck override of the template that makes card `ord` (none for cloze note types:
    /// Anki ignores overrides there).
    pub fn deck_override(&self, ord: u16) -> Option<i64> {
        match self.kind {
            NoteTypeKind::Cloze => None,
            NoteTypeKind::Normal => self
                .templates
                .get(usize::from(ord))
                .and_then(|t| t.deck_override),
        }
    }
}

/// Every note type of `col.models`, by id; entries that are not note types are skipped.
pub(crate) fn parse_all(models: &JsonObject) -> Vec<NoteType> {
    models.values().filter_map(NoteType::from_json).collect()
}

impl Collection {
    /// The collection's note types, by name (then id).
    pub fn note_types(&self) -> Result<Vec<NoteType>> {
        let mut all = parse_all(&*self.read_json_shared(ColJson::Models)?);
        all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    /// One note type; `NotFound` when the collection has no note type `id`.
    pub fn note_type(&self, id: i64) -> Result<NoteType> {
        self.read_json_shared(ColJson::Models)?
            .get(&id.to_string())
            .and_then(NoteType::from_json)
            .ok_or_else(|| CollectionError::NotFound(format!("note type {id} not found")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::empty;

    #[test]
    fn a_new_collection_has_ankis_stock_note_types() {
        let (col, _) = empty();
        let nts = col.note_types().unwrap();
        let names: Vec<&str> = nts.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Basic",
                "Basic (and reversed card)",
                "Basic (optional reversed card)",
                "Basic (type in the answer)",
                "Cloze",
                "Image Occlusion"
            ]
        );
        let cloze = nts.iter().find(|n| n.name == "Cloze").unwrap();
        assert_eq!(cloze.kind, NoteTypeKind::Cloze);
        assert_eq!(cloze.fields, ["Text", "Back Extra"]);
        assert_eq!(cloze.templates[0].qfmt, "{{cloze:Text}}");
        let optional = nts
            .iter()
            .find(|n| n.name == "Basic (optional reversed card)")
            .unwrap();
        assert_eq!(optional.fields, ["Front", "Back", "Add Reverse"]);
        assert_eq!(
            optional.templates[1].qfmt,
            "{{#Add Reverse}}{{Back}}{{/Add Reverse}}"
        );
        // Anki numbers the stock types from the creation instant, Basic first and current.
        let ids: Vec<i64> = {
            let mut v: Vec<i64> = nts.iter().map(|n| n.id).collect();
            v.sort();
            v
        };
        assert_eq!(ids, (ids[0]..ids[0] + 6).collect::<Vec<_>>());
        let basic = nts.iter().find(|n| n.name == "Basic").unwrap();
        assert_eq!(basic.id, ids[0]);
        assert!(matches!(
            col.note_type(5),
            Err(CollectionError::NotFound(_))
        ));
    }
}
