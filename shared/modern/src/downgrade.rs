//! Schema 18 → schema 11, as Anki's `close(downgrade=True)` does it.

use std::collections::{BTreeMap, HashMap};

use prost::Message;
use rusqlite::Connection;
use rusqlite::types::ValueRef;
use serde_json::Value;

use crate::deck::{DeckJson, DeckRow};
use crate::deckconfig::{DeckConfJson, DeckConfigRow, ensure_values_valid};
use crate::error::{ModernError, Result};
use crate::limits::Limits;
use crate::notetype::{FieldRow, NotetypeJson, NotetypeRows, TemplateRow};
use crate::proto::{
    DeckCommon, DeckConfigConfig, DeckKindContainer, NoteFieldConfig, NotetypeConfig,
    TemplateConfig,
};
use crate::schema::{self, SchemaVersion};

/// What a downgrade wrote, and what schema 11 has no place for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DowngradeReport {
    pub notetypes: usize,
    pub decks: usize,
    pub deck_configs: usize,
    pub config_entries: usize,
    pub tags: usize,
    /// Tags that were expanded in the browser's sidebar: schema 11 cannot say so, and Anki's
    /// own downgrade forgets it too (every tag comes back collapsed, Anki's default).
    pub expanded_tags: Vec<String>,
}

/// Convert the schema-18 collection open on `conn` to schema 11 in place, in one transaction:
/// the note types, decks, presets, config and tags go into the `col` JSON columns exactly as
/// Anki's downgrade writes them, the schema-18 tables are dropped, `col.ver` becomes 11 and the
/// journal mode `delete`. On any error nothing is changed.
///
/// The file may come from anyone: it is checked first ([`schema::inspect`]), every blob is
/// decoded as the message its column holds (a blob that does not decode is an error, as in
/// Anki), and the work is bounded by `limits`.
pub fn downgrade_to_schema11(conn: &Connection, limits: &Limits) -> Result<DowngradeReport> {
    schema::register_unicase_collation(conn)?;
    match schema::inspect(conn)? {
        SchemaVersion::V18 => {}
        SchemaVersion::V11 => {
            return Err(ModernError::Unsupported(
                "the collection is already schema 11".into(),
            ));
        }
    }
    let tx = conn.unchecked_transaction()?;
    let report = downgrade_tables(&tx, limits)?;
    tx.commit()?;
    let _mode: String = conn.query_row("PRAGMA journal_mode = delete", [], |r| r.get(0))?;
    Ok(report)
}

fn downgrade_tables(conn: &Connection, limits: &Limits) -> Result<DowngradeReport> {
    conn.execute_batch(schema::SCHEMA18_DOWNGRADE)?;

    let configs = read_deck_configs(conn, limits)?;
    let dconf: BTreeMap<i64, DeckConfJson> = configs
        .iter()
        .map(|c| (c.id, DeckConfJson::from(c)))
        .collect();
    set_col_json(conn, "dconf", &dconf)?;

    let decks = read_decks(conn, limits)?;
    let decks_json: BTreeMap<i64, DeckJson> =
        decks.iter().map(|d| (d.id, DeckJson::from(d))).collect();
    set_col_json(conn, "decks", &decks_json)?;

    let notetypes = read_notetypes(conn, limits)?;
    let models: BTreeMap<i64, NotetypeJson> = notetypes
        .iter()
        .map(|n| (n.id, NotetypeJson::from(n)))
        .collect();
    set_col_json(conn, "models", &models)?;

    let config = read_config(conn, limits)?;
    set_col_json(conn, "conf", &config)?;

    let (tags, expanded_tags) = read_tags(conn, limits)?;
    set_col_json(conn, "tags", &tags)?;

    conn.execute_batch(schema::SCHEMA11_DOWNGRADE)?;
    Ok(DowngradeReport {
        notetypes: models.len(),
        decks: decks_json.len(),
        deck_configs: dconf.len(),
        config_entries: config.len(),
        tags: tags.len(),
        expanded_tags,
    })
}

fn set_col_json<T: serde::Serialize>(conn: &Connection, column: &str, value: &T) -> Result<()> {
    let json = serde_json::to_string(value).map_err(|e| ModernError::json(column, e))?;
    conn.execute(&format!("UPDATE col SET {column} = ?1"), [json])?;
    Ok(())
}

fn check_count(conn: &Connection, sql: &str, limit: usize, what: &str) -> Result<()> {
    let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
    if usize::try_from(n).map_or(true, |n| n > limit) {
        return Err(ModernError::TooLarge(format!(
            "{what}: {n} (limit {limit})"
        )));
    }
    Ok(())
}

fn blob<'a>(v: ValueRef<'a>, what: &str) -> Result<&'a [u8]> {
    match v {
        ValueRef::Blob(b) => Ok(b),
        other => Err(ModernError::Invalid(format!(
            "{what} is a {:?}, not a blob",
            other.data_type()
        ))),
    }
}

fn decode<M: Message + Default>(bytes: &[u8], what: impl FnOnce() -> String) -> Result<M> {
    M::decode(bytes).map_err(|e| ModernError::protobuf(what(), e))
}

pub(crate) fn read_deck_configs(conn: &Connection, limits: &Limits) -> Result<Vec<DeckConfigRow>> {
    check_count(
        conn,
        "SELECT count(*) FROM deck_config",
        limits.max_deck_configs,
        "deck option presets",
    )?;
    let mut stmt = conn.prepare("SELECT id, name, mtime_secs, usn, config FROM deck_config")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let mut config: DeckConfigConfig =
            decode(blob(row.get_ref(4)?, "deck_config.config")?, || {
                format!("deck option preset {id}")
            })?;
        // Anki reads presets through this check, its downgrade included.
        ensure_values_valid(&mut config);
        out.push(DeckConfigRow {
            id,
            name: row.get(1)?,
            mtime_secs: row.get(2)?,
            usn: row.get(3)?,
            config,
        });
    }
    Ok(out)
}

pub(crate) fn read_decks(conn: &Connection, limits: &Limits) -> Result<Vec<DeckRow>> {
    check_count(
        conn,
        "SELECT count(*) FROM decks",
        limits.max_decks,
        "decks",
    )?;
    let mut stmt = conn.prepare("SELECT id, name, mtime_secs, usn, common, kind FROM decks")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let common: DeckCommon = decode(blob(row.get_ref(4)?, "decks.common")?, || {
            format!("deck {id} (common)")
        })?;
        let kind: DeckKindContainer = decode(blob(row.get_ref(5)?, "decks.kind")?, || {
            format!("deck {id} (kind)")
        })?;
        let kind = kind
            .kind
            .ok_or_else(|| ModernError::Invalid(format!("invalid deck kind: {id}")))?;
        out.push(DeckRow {
            id,
            name: row.get(1)?,
            mtime_secs: row.get(2)?,
            usn: row.get(3)?,
            common,
            kind,
        });
    }
    Ok(out)
}

pub(crate) fn read_notetypes(conn: &Connection, limits: &Limits) -> Result<Vec<NotetypeRows>> {
    check_count(
        conn,
        "SELECT count(*) FROM notetypes",
        limits.max_notetypes,
        "note types",
    )?;
    // Fields and templates of note types that do not exist are ignored, as Anki ignores them;
    // reading them grouped keeps a file without its primary keys linear.
    let mut fields: HashMap<i64, Vec<FieldRow>> = HashMap::new();
    {
        let mut stmt =
            conn.prepare("SELECT ntid, ord, name, config FROM fields ORDER BY ntid, ord")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let ntid: i64 = row.get(0)?;
            let ord: u32 = row.get(1)?;
            let list = fields.entry(ntid).or_default();
            if list.len() >= limits.max_fields_per_notetype {
                return Err(ModernError::TooLarge(format!(
                    "fields of note type {ntid}: more than {}",
                    limits.max_fields_per_notetype
                )));
            }
            let config: NoteFieldConfig = decode(blob(row.get_ref(3)?, "fields.config")?, || {
                format!("field {ord} of note type {ntid}")
            })?;
            list.push(FieldRow {
                ord,
                name: row.get(2)?,
                config,
            });
        }
    }
    let mut templates: HashMap<i64, Vec<TemplateRow>> = HashMap::new();
    {
        let mut stmt = conn.prepare(
            "SELECT ntid, ord, name, mtime_secs, usn, config FROM templates ORDER BY ntid, ord",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let ntid: i64 = row.get(0)?;
            let ord: u32 = row.get(1)?;
            let list = templates.entry(ntid).or_default();
            if list.len() >= limits.max_templates_per_notetype {
                return Err(ModernError::TooLarge(format!(
                    "templates of note type {ntid}: more than {}",
                    limits.max_templates_per_notetype
                )));
            }
            let config: TemplateConfig =
                decode(blob(row.get_ref(5)?, "templates.config")?, || {
                    format!("template {ord} of note type {ntid}")
                })?;
            list.push(TemplateRow {
                ord,
                name: row.get(2)?,
                mtime_secs: row.get(3)?,
                usn: row.get(4)?,
                config,
            });
        }
    }
    let mut stmt = conn.prepare("SELECT id, name, mtime_secs, usn, config FROM notetypes")?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let config: NotetypeConfig = decode(blob(row.get_ref(4)?, "notetypes.config")?, || {
            format!("note type {id}")
        })?;
        out.push(NotetypeRows {
            id,
            name: row.get(1)?,
            mtime_secs: row.get(2)?,
            usn: row.get(3)?,
            config,
            fields: fields.remove(&id).unwrap_or_default(),
            templates: templates.remove(&id).unwrap_or_default(),
        });
    }
    Ok(out)
}

pub(crate) fn read_config(conn: &Connection, limits: &Limits) -> Result<BTreeMap<String, Value>> {
    check_count(
        conn,
        "SELECT count(*) FROM config",
        limits.max_config_entries,
        "config entries",
    )?;
    let mut stmt = conn.prepare("SELECT KEY, val FROM config")?;
    let mut rows = stmt.query([])?;
    let mut out = BTreeMap::new();
    while let Some(row) = rows.next()? {
        let key: String = row.get(0)?;
        let bytes = match row.get_ref(1)? {
            ValueRef::Blob(b) | ValueRef::Text(b) => b,
            _ => {
                return Err(ModernError::Invalid(format!(
                    "config value {key:?} is not JSON bytes"
                )));
            }
        };
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| ModernError::json(format!("config value {key:?}"), e))?;
        out.insert(key, value);
    }
    Ok(out)
}

type Tags = (BTreeMap<String, i32>, Vec<String>);

pub(crate) fn read_tags(conn: &Connection, limits: &Limits) -> Result<Tags> {
    check_count(conn, "SELECT count(*) FROM tags", limits.max_tags, "tags")?;
    let mut stmt = conn.prepare("SELECT tag, usn, collapsed FROM tags")?;
    let mut rows = stmt.query([])?;
    let mut tags = BTreeMap::new();
    let mut expanded = Vec::new();
    while let Some(row) = rows.next()? {
        let tag: String = row.get(0)?;
        if !row.get::<_, bool>(2)? {
            expanded.push(tag.clone());
        }
        tags.insert(tag, row.get(1)?);
    }
    Ok((tags, expanded))
}
