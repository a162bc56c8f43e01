//! Note types: the schema-18 rows (`notetypes`, `fields`, `templates`) and the schema-11
//! `col.models` JSON object, and the conversions between them that Anki's downgrade and upgrade
//! perform.

use serde::ser::SerializeTuple;
use serde::{Deserialize, Serialize, Serializer};

use crate::json::{Other, bool_from_anything, default_on_invalid, is_default, number_from_string};
use crate::json::{other_from_bytes, other_to_bytes};
use crate::proto::{CardRequirement, NoteFieldConfig, NotetypeConfig, TemplateConfig};

/// One note type as the schema-18 tables hold it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NotetypeRows {
    pub id: i64,
    pub name: String,
    pub mtime_secs: i64,
    pub usn: i32,
    pub config: NotetypeConfig,
    pub fields: Vec<FieldRow>,
    pub templates: Vec<TemplateRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldRow {
    pub ord: u32,
    pub name: String,
    pub config: NoteFieldConfig,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TemplateRow {
    pub ord: u32,
    pub name: String,
    pub mtime_secs: i64,
    pub usn: i32,
    pub config: TemplateConfig,
}

/// Keys the legacy objects write themselves: never copied from `other`.
const RESERVED_NOTETYPE_KEYS: &[&str] = &[
    "latexPost",
    "flds",
    "css",
    "originalStockKind",
    "originalId",
    "id",
    "usn",
    "mod",
    "req",
    "latexPre",
    "name",
    "did",
    "tmpls",
    "type",
    "sortf",
    "latexsvg",
];
const RESERVED_FIELD_KEYS: &[&str] = &[
    "name",
    "ord",
    "sticky",
    "rtl",
    "plainText",
    "font",
    "size",
    "collapsed",
    "description",
    "excludeFromSearch",
    "id",
    "tag",
    "preventDeletion",
];
const RESERVED_TEMPLATE_KEYS: &[&str] = &[
    "name", "ord", "did", "afmt", "bafmt", "qfmt", "bqfmt", "bfont", "bsize", "id",
];

/// A note type in `col.models`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NotetypeJson {
    #[serde(deserialize_with = "number_from_string")]
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: NotetypeKind,
    #[serde(rename = "mod")]
    pub mtime: i64,
    pub usn: i32,
    pub sortf: u16,
    #[serde(deserialize_with = "default_on_invalid")]
    pub did: Option<i64>,
    pub tmpls: Vec<TemplateJson>,
    pub flds: Vec<FieldJson>,
    #[serde(deserialize_with = "default_on_invalid")]
    pub css: String,
    #[serde(default)]
    pub latex_pre: String,
    #[serde(default)]
    pub latex_post: String,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub latexsvg: bool,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub req: Vec<RequirementJson>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub original_stock_kind: i32,
    #[serde(default, skip_serializing_if = "is_default")]
    pub original_id: Option<i64>,
    #[serde(flatten)]
    pub other: Other,
}

/// `type`: 0 standard, 1 cloze; any other number is refused, as Anki refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotetypeKind {
    Standard,
    Cloze,
}

impl Serialize for NotetypeKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(match self {
            Self::Standard => 0,
            Self::Cloze => 1,
        })
    }
}

impl<'de> Deserialize<'de> for NotetypeKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u8::deserialize(d)? {
            0 => Ok(Self::Standard),
            1 => Ok(Self::Cloze),
            n => Err(serde::de::Error::custom(format!(
                "invalid note type kind {n}"
            ))),
        }
    }
}

/// `req` entries: `[card_ord, "any"|"all"|"none", [field_ord, …]]`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RequirementJson {
    pub card_ord: u16,
    pub kind: RequirementKind,
    pub field_ords: Vec<u16>,
}

impl Serialize for RequirementJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(3)?;
        t.serialize_element(&self.card_ord)?;
        t.serialize_element(&self.kind)?;
        t.serialize_element(&self.field_ords)?;
        t.end()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RequirementKind {
    Any,
    All,
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FieldJson {
    pub name: String,
    pub ord: Option<u16>,
    #[serde(deserialize_with = "bool_from_anything")]
    pub sticky: bool,
    #[serde(deserialize_with = "bool_from_anything")]
    pub rtl: bool,
    pub font: String,
    pub size: u16,
    // Not in schema 11, but kept there so the setting survives a downgrade.
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub description: String,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub plain_text: bool,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub collapsed: bool,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub exclude_from_search: bool,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub id: Option<i64>,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub tag: Option<u32>,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub prevent_deletion: bool,
    #[serde(flatten)]
    pub other: Other,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TemplateJson {
    pub name: String,
    pub ord: Option<u16>,
    pub qfmt: String,
    #[serde(default)]
    pub afmt: String,
    #[serde(default)]
    pub bqfmt: String,
    #[serde(default)]
    pub bafmt: String,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub did: Option<i64>,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub bfont: String,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub bsize: u8,
    #[serde(default, deserialize_with = "default_on_invalid")]
    pub id: Option<i64>,
    #[serde(flatten)]
    pub other: Other,
}

// The narrowing casts below (`as u16`, `as u8`) are the ones Anki's downgrade performs; a value
// that does not fit is truncated the same way.
impl From<&NotetypeRows> for NotetypeJson {
    fn from(nt: &NotetypeRows) -> Self {
        let c = &nt.config;
        NotetypeJson {
            id: nt.id,
            name: nt.name.clone(),
            kind: if c.kind == 1 {
                NotetypeKind::Cloze
            } else {
                NotetypeKind::Standard
            },
            mtime: nt.mtime_secs,
            usn: nt.usn,
            sortf: c.sort_field_idx as u16,
            did: (c.target_deck_id_unused != 0).then_some(c.target_deck_id_unused),
            tmpls: nt.templates.iter().map(TemplateJson::from).collect(),
            flds: nt.fields.iter().map(FieldJson::from).collect(),
            css: c.css.clone(),
            latex_pre: c.latex_pre.clone(),
            latex_post: c.latex_post.clone(),
            latexsvg: c.latex_svg,
            req: c.reqs.iter().map(RequirementJson::from).collect(),
            original_stock_kind: c.original_stock_kind,
            original_id: c.original_id,
            other: other_from_bytes(&c.other, RESERVED_NOTETYPE_KEYS),
        }
    }
}

impl From<&CardRequirement> for RequirementJson {
    fn from(r: &CardRequirement) -> Self {
        RequirementJson {
            card_ord: r.card_ord as u16,
            kind: match r.kind {
                1 => RequirementKind::Any,
                2 => RequirementKind::All,
                _ => RequirementKind::None,
            },
            field_ords: r.field_ords.iter().map(|&o| o as u16).collect(),
        }
    }
}

impl From<&FieldRow> for FieldJson {
    fn from(f: &FieldRow) -> Self {
        let c = &f.config;
        FieldJson {
            name: f.name.clone(),
            ord: Some(f.ord as u16),
            sticky: c.sticky,
            rtl: c.rtl,
            font: c.font_name.clone(),
            size: c.font_size as u16,
            description: c.description.clone(),
            plain_text: c.plain_text,
            collapsed: c.collapsed,
            exclude_from_search: c.exclude_from_search,
            id: c.id,
            tag: c.tag,
            prevent_deletion: c.prevent_deletion,
            other: other_from_bytes(&c.other, RESERVED_FIELD_KEYS),
        }
    }
}

impl From<&TemplateRow> for TemplateJson {
    fn from(t: &TemplateRow) -> Self {
        let c = &t.config;
        TemplateJson {
            name: t.name.clone(),
            ord: Some(t.ord as u16),
            qfmt: c.q_format.clone(),
            afmt: c.a_format.clone(),
            bqfmt: c.q_format_browser.clone(),
            bafmt: c.a_format_browser.clone(),
            did: (c.target_deck_id > 0).then_some(c.target_deck_id),
            bfont: c.browser_font_name.clone(),
            bsize: c.browser_font_size as u8,
            id: c.id,
            other: other_from_bytes(&c.other, RESERVED_TEMPLATE_KEYS),
        }
    }
}

impl From<NotetypeJson> for NotetypeRows {
    /// Field and template ordinals are their positions (Anki rewrites them on upgrade);
    /// templates get `mtime_secs` and `usn` 0, which schema 11 does not keep.
    fn from(nt: NotetypeJson) -> Self {
        NotetypeRows {
            id: nt.id,
            name: nt.name,
            mtime_secs: nt.mtime,
            usn: nt.usn,
            config: NotetypeConfig {
                kind: match nt.kind {
                    NotetypeKind::Standard => 0,
                    NotetypeKind::Cloze => 1,
                },
                sort_field_idx: u32::from(nt.sortf),
                css: nt.css,
                target_deck_id_unused: nt.did.unwrap_or(0),
                latex_pre: nt.latex_pre,
                latex_post: nt.latex_post,
                latex_svg: nt.latexsvg,
                reqs: nt
                    .req
                    .into_iter()
                    .map(|r| CardRequirement {
                        card_ord: u32::from(r.card_ord),
                        kind: match r.kind {
                            RequirementKind::None => 0,
                            RequirementKind::Any => 1,
                            RequirementKind::All => 2,
                        },
                        field_ords: r.field_ords.into_iter().map(u32::from).collect(),
                    })
                    .collect(),
                original_stock_kind: nt.original_stock_kind,
                original_id: nt.original_id,
                other: other_to_bytes(&nt.other),
            },
            fields: nt
                .flds
                .into_iter()
                .zip(0u32..)
                .map(|(f, ord)| FieldRow {
                    ord,
                    name: f.name,
                    config: NoteFieldConfig {
                        sticky: f.sticky,
                        rtl: f.rtl,
                        font_name: f.font,
                        font_size: u32::from(f.size),
                        description: f.description,
                        plain_text: f.plain_text,
                        collapsed: f.collapsed,
                        exclude_from_search: f.exclude_from_search,
                        id: f.id,
                        tag: f.tag,
                        prevent_deletion: f.prevent_deletion,
                        other: other_to_bytes(&f.other),
                    },
                })
                .collect(),
            templates: nt
                .tmpls
                .into_iter()
                .zip(0u32..)
                .map(|(t, ord)| TemplateRow {
                    ord,
                    name: t.name,
                    mtime_secs: 0,
                    usn: 0,
                    config: TemplateConfig {
                        q_format: t.qfmt,
                        a_format: t.afmt,
                        q_format_browser: t.bqfmt,
                        a_format_browser: t.bafmt,
                        target_deck_id: t.did.unwrap_or(0),
                        browser_font_name: t.bfont,
                        browser_font_size: u32::from(t.bsize),
                        id: t.id,
                        other: other_to_bytes(&t.other),
                    },
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reserved_keys_in_other_never_shadow_named_values() {
        let mut rows = NotetypeRows {
            id: 5,
            name: "N".into(),
            mtime_secs: 1,
            usn: -1,
            config: NotetypeConfig::default(),
            fields: vec![],
            templates: vec![],
        };
        rows.config.other = serde_json::to_vec(&json!({"name": "evil", "id": 9, "addon": [1]}))
            .expect("serialises");
        let j = serde_json::to_value(NotetypeJson::from(&rows)).expect("serialises");
        assert_eq!(j["name"], "N");
        assert_eq!(j["id"], 5);
        assert_eq!(j["addon"], json!([1]));
    }

    #[test]
    fn lenient_reads_match_anki() {
        let f: FieldJson = serde_json::from_value(json!({
            "name": "F", "ord": null, "sticky": "1", "rtl": 0, "font": "Arial", "size": 20,
            "plainText": "not a bool", "tag": -3, "x": 1
        }))
        .expect("decodes");
        assert!(f.sticky);
        assert!(!f.rtl);
        assert!(!f.plain_text, "invalid values fall back to the default");
        assert_eq!(f.tag, None);
        assert_eq!(f.other.get("x"), Some(&json!(1)));
        // A requirement list with one bad entry is dropped whole, as Anki does.
        let nt: NotetypeJson = serde_json::from_value(json!({
            "id": "7", "name": "N", "type": 0, "mod": 0, "usn": 0, "sortf": 0, "did": "x",
            "tmpls": [], "flds": [], "css": 5, "req": [[0, "any", [0]], [1, "sometimes", []]]
        }))
        .expect("decodes");
        assert_eq!(nt.id, 7);
        assert_eq!(nt.did, None);
        assert_eq!(nt.css, "");
        assert!(nt.req.is_empty());
        assert!(
            serde_json::from_value::<NotetypeJson>(json!({
                "id": 7, "name": "N", "type": 2, "mod": 0, "usn": 0, "sortf": 0, "did": null,
                "tmpls": [], "flds": [], "css": ""
            }))
            .is_err()
        );
    }
}
