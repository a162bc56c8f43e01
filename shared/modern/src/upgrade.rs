//! Schema 11 → schema 18, as Anki upgrades a legacy file when it opens it.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;
use rusqlite::{Connection, params};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::deck::{DeckJson, DeckRow};
use crate::deckconfig::{DeckConfJson, DeckConfigRow};
use crate::error::{ModernError, Result};
use crate::limits::Limits;
use crate::names::{UniqueNames, native_deck_name, nfc};
use crate::notetype::{NotetypeJson, NotetypeRows};
use crate::proto::{DeckKind, DeckKindContainer};
use crate::schema::{self, SchemaVersion};

/// How the upgrade marks what it had to change (Anki: the current time and usn -1, "not yet
/// synced"; a sync server passes its own usn).
#[derive(Debug, Clone, Copy)]
pub struct UpgradeOptions {
    /// Modification time (seconds) given to decks whose name had to be normalised or made unique.
    pub now_secs: i64,
    /// usn given to those decks and to cards whose ease is reset.
    pub usn: i32,
}

impl UpgradeOptions {
    /// Anki desktop's choices: now, usn -1.
    pub fn at(now_secs: i64) -> Self {
        Self { now_secs, usn: -1 }
    }
}

/// What an upgrade wrote, and what it had to change on the way (each as Anki changes it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpgradeReport {
    pub notetypes: usize,
    pub decks: usize,
    pub deck_configs: usize,
    pub config_entries: usize,
    pub tags: usize,
    /// Decks whose name was normalised or made unique: (id, schema-11 name, new name with `::`).
    pub renamed_decks: Vec<(i64, String, String)>,
    /// Note types whose name was normalised (NFC) or made unique: (id, old name, new name).
    pub renamed_notetypes: Vec<(i64, String, String)>,
    /// Presets whose starting ease was 1.3 or less and became 2.5.
    pub reset_ease_presets: Vec<i64>,
    /// Cards whose ease was reset to 2.5 because their preset's was.
    pub reset_ease_cards: usize,
}

/// Convert the schema-11 collection open on `conn` to schema 18 in place, in one transaction,
/// so that Anki opens it as one of its own: the `col` JSON columns become the schema-18 tables
/// (protobuf blobs), exactly as Anki's upgrade writes them, and `col.ver` becomes 18. On any
/// error nothing is changed. The journal mode is left as it is.
///
/// Like Anki, the upgrade normalises names (NFC; deck name components) and makes them unique,
/// resets starting eases of 1.3 or less, and drops duplicate tags and graves. Unlike Anki, it
/// refuses a note type whose id is 0 or differs from its key in `col.models` and a deck whose
/// id is 0 (Anki would invent an id or leave a note type without fields), and it visits
/// duplicates in id order so the result does not depend on hashing.
pub fn upgrade_to_schema18(
    conn: &Connection,
    opts: &UpgradeOptions,
    limits: &Limits,
) -> Result<UpgradeReport> {
    schema::register_unicase_collation(conn)?;
    match schema::inspect(conn)? {
        SchemaVersion::V11 => {}
        SchemaVersion::V18 => {
            return Err(ModernError::Unsupported(
                "the collection is already schema 18".into(),
            ));
        }
    }
    let tx = conn.unchecked_transaction()?;
    let report = upgrade_tables(&tx, opts, limits)?;
    tx.commit()?;
    Ok(report)
}

fn upgrade_tables(
    conn: &Connection,
    opts: &UpgradeOptions,
    limits: &Limits,
) -> Result<UpgradeReport> {
    let mut report = UpgradeReport::default();
    let col_json = |column: &str| -> Result<String> {
        let text: String =
            conn.query_row(&format!("SELECT {column} FROM col"), [], |r| r.get(0))?;
        if text.len() > limits.max_json_bytes {
            return Err(ModernError::TooLarge(format!(
                "col.{column}: {} bytes (limit {})",
                text.len(),
                limits.max_json_bytes
            )));
        }
        Ok(text)
    };

    // Schema 14: presets (converted below, once decks exist), tags, config.
    conn.execute_batch(schema::SCHEMA14_UPGRADE)?;
    let dconf: BTreeMap<i64, DeckConfJson> = parse_lenient(&col_json("dconf")?, "deck config")?;
    check_len(dconf.len(), limits.max_deck_configs, "deck option presets")?;
    let tags: BTreeMap<String, i32> = parse(&col_json("tags")?, "tags")?;
    check_len(tags.len(), limits.max_tags, "tags")?;
    {
        let mut insert = conn.prepare("INSERT OR IGNORE INTO tags (tag, usn) VALUES (?1, ?2)")?;
        for (tag, usn) in &tags {
            insert.execute(params![tag, usn])?;
        }
    }
    let config: BTreeMap<String, Value> = parse(&col_json("conf")?, "config")?;
    check_len(config.len(), limits.max_config_entries, "config entries")?;
    {
        let mut insert = conn.prepare(
            "INSERT OR REPLACE INTO config (KEY, usn, mtime_secs, val) VALUES (?1, 0, 0, ?2)",
        )?;
        for (key, value) in &config {
            let bytes = serde_json::to_vec(value).map_err(|e| ModernError::json("config", e))?;
            insert.execute(params![key, bytes])?;
        }
    }
    conn.execute_batch("UPDATE col SET dconf = '', tags = '', conf = ''")?;
    report.config_entries = config.len();

    // Schema 15: note types and decks get their tables.
    conn.execute_batch(schema::SCHEMA15_UPGRADE)?;
    upgrade_notetypes(conn, &col_json("models")?, limits, &mut report)?;
    upgrade_decks(conn, &col_json("decks")?, opts, limits, &mut report)?;
    conn.execute_batch("UPDATE col SET models = '', decks = ''")?;

    // Schemas 15 and 16: presets become protobuf; low starting eases are reset.
    {
        let mut insert = conn.prepare(
            "INSERT INTO deck_config (id, name, mtime_secs, usn, config) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (id, conf) in dconf {
            let mut conf = conf;
            // A client bug once left the inner id out of step with the key; the key wins.
            conf.id = id;
            let (row, reset): (DeckConfigRow, bool) = conf.into_row();
            insert.execute(params![
                row.id,
                row.name,
                row.mtime_secs,
                row.usn,
                row.config.encode_to_vec()
            ])?;
            if reset {
                report.reset_ease_presets.push(row.id);
            }
        }
        report.deck_configs = conn.query_row("SELECT count(*) FROM deck_config", [], |r| {
            r.get::<_, i64>(0)
        })? as usize;
    }
    report.reset_ease_cards = reset_low_card_eases(conn, &report.reset_ease_presets, opts.usn)?;
    conn.execute_batch("UPDATE col SET ver = 16; UPDATE col SET ver = 17")?;

    // Schema 17: tags remember whether they are expanded in the browser (they start collapsed).
    let kept_tags: Vec<(String, i32)> = {
        let mut stmt = conn.prepare("SELECT tag, usn FROM tags")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    conn.execute_batch(schema::SCHEMA17_TAGS)?;
    {
        let mut insert = conn
            .prepare("INSERT OR REPLACE INTO tags (tag, usn, collapsed) VALUES (?1, ?2, true)")?;
        for (tag, usn) in &kept_tags {
            insert.execute(params![tag, usn])?;
        }
    }
    report.tags = kept_tags.len();

    // Schema 18: graves get a primary key.
    conn.execute_batch(schema::SCHEMA18_UPGRADE)?;
    Ok(report)
}

fn check_len(n: usize, limit: usize, what: &str) -> Result<()> {
    if n > limit {
        return Err(ModernError::TooLarge(format!(
            "{what}: {n} (limit {limit})"
        )));
    }
    Ok(())
}

fn parse<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| ModernError::json(format!("decoding {what}"), e))
}

/// Anki retries through a `Value` when the direct parse fails, which forgives duplicate keys.
fn parse_lenient<T: DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).or_else(|_| {
        let v: Value = parse(text, what)?;
        serde_json::from_value(v).map_err(|e| ModernError::json(format!("decoding {what}"), e))
    })
}

fn upgrade_notetypes(
    conn: &Connection,
    models: &str,
    limits: &Limits,
    report: &mut UpgradeReport,
) -> Result<()> {
    let value: Value = parse(models, "models")?;
    let notetypes: BTreeMap<i64, NotetypeJson> =
        serde_json::from_value(value).map_err(|e| ModernError::json("decoding models", e))?;
    check_len(notetypes.len(), limits.max_notetypes, "note types")?;
    let mut names = UniqueNames::default();
    let mut insert_nt = conn.prepare(
        "INSERT OR REPLACE INTO notetypes (id, name, mtime_secs, usn, config) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut insert_field =
        conn.prepare("INSERT INTO fields (ntid, ord, name, config) VALUES (?1, ?2, ?3, ?4)")?;
    let mut insert_template = conn.prepare(
        "INSERT INTO templates (ntid, ord, name, mtime_secs, usn, config) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (key, nt) in notetypes {
        if nt.id == 0 || nt.id != key {
            return Err(ModernError::Invalid(format!(
                "note type keyed {key} has id {}",
                nt.id
            )));
        }
        check_len(
            nt.flds.len(),
            limits.max_fields_per_notetype,
            &format!("fields of note type {key}"),
        )?;
        check_len(
            nt.tmpls.len(),
            limits.max_templates_per_notetype,
            &format!("templates of note type {key}"),
        )?;
        let mut rows = NotetypeRows::from(nt);
        let old_name = rows.name.clone();
        // NFC names; field and template names unique within the note type ('+'), note type
        // names unique within the collection ('_').
        rows.name = nfc(&rows.name).into_owned();
        let mut field_names = UniqueNames::default();
        let mut template_names = UniqueNames::default();
        for t in &mut rows.templates {
            t.name = template_names.claim(nfc(&t.name).into_owned(), '+');
        }
        for f in &mut rows.fields {
            f.name = field_names.claim(nfc(&f.name).into_owned(), '+');
        }
        rows.name = names.claim(rows.name, '_');
        if rows.name != old_name {
            report
                .renamed_notetypes
                .push((rows.id, old_name, rows.name.clone()));
        }
        insert_nt.execute(params![
            rows.id,
            rows.name,
            rows.mtime_secs,
            rows.usn,
            rows.config.encode_to_vec()
        ])?;
        for f in &rows.fields {
            insert_field.execute(params![rows.id, f.ord, f.name, f.config.encode_to_vec()])?;
        }
        for t in &rows.templates {
            insert_template.execute(params![
                rows.id,
                t.ord,
                t.name,
                t.mtime_secs,
                t.usn,
                t.config.encode_to_vec()
            ])?;
        }
        report.notetypes += 1;
    }
    Ok(())
}

fn upgrade_decks(
    conn: &Connection,
    decks: &str,
    opts: &UpgradeOptions,
    limits: &Limits,
    report: &mut UpgradeReport,
) -> Result<()> {
    // The map's keys are not trusted: Anki uses each deck's own id.
    let decks: BTreeMap<String, DeckJson> = parse(decks, "decks")?;
    check_len(decks.len(), limits.max_decks, "decks")?;
    let mut decks: Vec<DeckJson> = decks.into_values().collect();
    decks.sort_by_key(|d| d.common().id);
    let mut names = UniqueNames::default();
    let mut insert = conn.prepare(
        "INSERT OR REPLACE INTO decks (id, name, mtime_secs, usn, common, kind) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for deck in decks {
        let old_name = deck.common().name.clone();
        let mut row = DeckRow::from(&deck);
        if row.id == 0 {
            return Err(ModernError::Invalid(format!("deck {old_name:?} has id 0")));
        }
        let native = native_deck_name(&old_name);
        let unique = names.claim(native, '_');
        let new_human = unique.replace('\x1f', "::");
        if new_human != old_name {
            row.mtime_secs = opts.now_secs;
            row.usn = opts.usn;
            report.renamed_decks.push((row.id, old_name, new_human));
        }
        row.name = unique;
        let kind = DeckKindContainer {
            kind: Some(row.kind.clone()),
        };
        insert.execute(params![
            row.id,
            row.name,
            row.mtime_secs,
            row.usn,
            row.common.encode_to_vec(),
            kind.encode_to_vec()
        ])?;
    }
    report.decks =
        conn.query_row("SELECT count(*) FROM decks", [], |r| r.get::<_, i64>(0))? as usize;
    Ok(())
}

/// Anki's schema-16 fix: cards of the decks (home or current) of a preset whose starting ease
/// was reset get ease 2.5 when theirs is 200% or less.
fn reset_low_card_eases(conn: &Connection, presets: &[i64], usn: i32) -> Result<usize> {
    if presets.is_empty() {
        return Ok(0);
    }
    let presets: BTreeSet<i64> = presets.iter().copied().collect();
    let mut deck_ids = Vec::new();
    {
        let mut stmt = conn.prepare("SELECT id, kind FROM decks")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let bytes: Vec<u8> = row.get(1)?;
            let kind = DeckKindContainer::decode(bytes.as_slice())
                .map_err(|e| ModernError::protobuf(format!("deck {id} (kind)"), e))?;
            if let Some(DeckKind::Normal(n)) = kind.kind
                && presets.contains(&n.config_id)
            {
                deck_ids.push(id);
            }
        }
    }
    if deck_ids.is_empty() {
        return Ok(0);
    }
    let ids = deck_ids
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let changed = conn.execute(
        &format!(
            "UPDATE cards SET factor = 2500, usn = ?1
             WHERE factor != 0 AND factor <= 2000 AND (did IN ({ids}) OR odid IN ({ids}))"
        ),
        [usn],
    )?;
    Ok(changed)
}
