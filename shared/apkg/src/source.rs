//! The uploaded collection file: opened read-only and defensively, vetted, then read whole into
//! plain structs so the merge never runs a query against untrusted SQL.

use std::path::Path;

use javumbo_collection::schema::{REQUIRED_COLUMNS, SCHEMA_VERSION};
use javumbo_collection::storage::cards::Card;
use javumbo_collection::storage::revlog::{RevlogEntry, ease_from_stored};
use javumbo_collection::{CardQueue, CardType, RevlogKind};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, Row};
use serde_json::{Map, Value};

use crate::ApkgError;

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// A note type of the package, reduced to what decides whether it is "the same" as one of ours.
#[derive(Debug, Clone)]
pub(crate) struct SrcNotetype {
    pub id: i64,
    pub name: String,
    pub fields: Vec<String>,
    /// `(qfmt, afmt)` per template: cards are tied to templates by ordinal.
    pub templates: Vec<(String, String)>,
    pub is_cloze: bool,
    pub sort_field: usize,
    pub json: Value,
}

#[derive(Debug, Clone)]
pub(crate) struct SrcDeck {
    pub name: String,
    pub filtered: bool,
    pub desc: String,
    /// The deck's preset (`conf`), 1 when missing.
    pub conf_id: i64,
    /// The deck's own limits (`reviewLimit`, `newLimit`). "Today only" limits are dropped: they
    /// count days of the package's calendar, not ours.
    pub limits: Map<String, Value>,
    /// The deck as the package stores it (a kept filtered deck is copied from it).
    pub json: Value,
}

#[derive(Debug, Clone)]
pub(crate) struct SrcNote {
    pub id: i64,
    pub guid: String,
    pub mid: i64,
    pub mod_secs: i64,
    pub tags: String,
    pub flds: String,
    pub flags: i64,
    pub data: String,
}

/// Everything the merge needs from the package, already validated.
#[derive(Debug, Clone)]
pub(crate) struct SourceData {
    pub crt: i64,
    pub notetypes: std::collections::HashMap<i64, SrcNotetype>,
    pub decks: std::collections::HashMap<i64, SrcDeck>,
    /// The package's presets (`col.dconf`) by id, each a JSON object.
    pub presets: std::collections::BTreeMap<i64, Value>,
    pub notes: Vec<SrcNote>,
    /// As the package stores them (`usn` included; the merge decides what it writes).
    pub cards: Vec<Card>,
    pub revlog: Vec<RevlogEntry>,
}

/// SQLite errors while reading the upload are the upload's fault.
fn bad_db(e: rusqlite::Error) -> ApkgError {
    ApkgError::invalid_because("the collection database is unreadable", e)
}

pub(crate) fn read_package_collection(path: &Path) -> Result<SourceData, ApkgError> {
    let conn = open_untrusted(path)?;
    check_schema(&conn)?;
    read_all(&conn)
}

pub(crate) fn open_untrusted(path: &Path) -> Result<Connection, ApkgError> {
    let mut magic = [0u8; 16];
    let header_ok = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok();
    if !header_ok || &magic != SQLITE_MAGIC {
        return Err(ApkgError::invalid(
            "the collection is not an SQLite database",
        ));
    }
    // `immutable=1`: we own the file and nobody writes it, so SQLite skips locking and never
    // looks for (attacker-named) journal or WAL side files.
    let uri = format!(
        "file:{}?immutable=1",
        uri_escape(path.as_os_str().as_encoded_bytes())
    );
    let conn = Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(bad_db)?;
    harden(&conn)?;
    Ok(conn)
}

/// Open an uploaded database as data only: no triggers, views, untrusted schema functions,
/// memory maps; pages checked as they are read.
pub(crate) fn harden(conn: &Connection) -> Result<(), ApkgError> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
        .map_err(bad_db)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)
        .map_err(bad_db)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER, false)
        .map_err(bad_db)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_VIEW, false)
        .map_err(bad_db)?;
    conn.execute_batch(
        "PRAGMA trusted_schema = OFF; PRAGMA cell_size_check = ON; PRAGMA mmap_size = 0;",
    )
    .map_err(bad_db)?;
    Ok(())
}

/// Percent-encode a path for a `file:` URI (byte-wise, so any OS path survives).
fn uri_escape(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Refuse anything that could run code or hide data behind a name we query, before the first
/// query touches a table.
fn check_schema(conn: &Connection) -> Result<(), ApkgError> {
    let mut stmt = conn
        .prepare("SELECT type, name, sql FROM sqlite_master")
        .map_err(bad_db)?;
    let objects = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .map_err(bad_db)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad_db)?;
    for (kind, name, sql) in &objects {
        let shown: String = name.chars().take(60).collect();
        match kind.as_str() {
            "trigger" => {
                return Err(ApkgError::invalid(format!(
                    "the collection contains a trigger ({shown:?})"
                )));
            }
            "view" => {
                return Err(ApkgError::invalid(format!(
                    "the collection contains a view ({shown:?})"
                )));
            }
            "table" | "index" => {}
            other => {
                return Err(ApkgError::invalid(format!(
                    "unexpected schema object type {other:?}"
                )));
            }
        }
        let sql = sql
            .as_deref()
            .unwrap_or("")
            .trim_start()
            .to_ascii_uppercase();
        if kind == "table" && sql.starts_with("CREATE VIRTUAL") {
            return Err(ApkgError::invalid(format!(
                "the collection contains a virtual table ({shown:?})"
            )));
        }
    }
    for (table, columns) in REQUIRED_COLUMNS {
        if !objects.iter().any(|(k, n, _)| k == "table" && n == table) {
            return Err(ApkgError::invalid(format!(
                "the collection has no {table} table"
            )));
        }
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info(?1)")
            .map_err(bad_db)?;
        let have = stmt
            .query_map([table], |r| r.get::<_, String>(0))
            .map_err(bad_db)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad_db)?;
        if let Some(missing) = columns.iter().find(|c| !have.iter().any(|h| h == *c)) {
            return Err(ApkgError::invalid(format!(
                "the {table} table has no {missing} column"
            )));
        }
    }
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(bad_db)?;
    if check != "ok" {
        let shown: String = check.chars().take(200).collect();
        return Err(ApkgError::invalid(format!(
            "the collection database is damaged ({shown})"
        )));
    }
    Ok(())
}

fn read_all(conn: &Connection) -> Result<SourceData, ApkgError> {
    let (ver, crt, conf, models, decks, dconf): (i64, i64, String, String, String, String) = conn
        .query_row(
            "SELECT ver, crt, conf, models, decks, dconf FROM col LIMIT 1",
            [],
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
        .map_err(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => ApkgError::invalid("the col table is empty"),
            e => bad_db(e),
        })?;
    check_version(ver)?;
    let conf = parse_object(&conf, "col.conf")?;
    let notetypes = parse_notetypes(parse_object(&models, "col.models")?)?;
    let decks = parse_decks(parse_object(&decks, "col.decks")?)?;
    let presets = parse_presets(parse_object(&dconf, "col.dconf")?);

    let notes = query(
        conn,
        "SELECT id, guid, mid, mod, tags, flds, flags, data FROM notes ORDER BY id",
        |r| {
            Ok(SrcNote {
                id: r.get(0)?,
                guid: r.get(1)?,
                mid: r.get(2)?,
                mod_secs: r.get(3)?,
                tags: r.get(4)?,
                flds: r.get(5)?,
                flags: r.get(6)?,
                data: r.get(7)?,
            })
        },
    )?;
    let cards = query(
        conn,
        "SELECT id, nid, did, ord, mod, usn, type, queue, due, ivl, factor, reps, lapses, left, \
         odue, odid, flags, data FROM cards ORDER BY id",
        package_card,
    )?;
    let revlog = query(
        conn,
        "SELECT id, cid, usn, ease, ivl, lastIvl, factor, time, type FROM revlog ORDER BY id",
        package_revlog_entry,
    )?;
    let cards = cards.into_iter().collect::<Result<Vec<_>, _>>()?;
    let revlog = revlog.into_iter().collect::<Result<Vec<_>, _>>()?;
    check_contents(&notes, &cards, &revlog)?;
    // A collection still on Anki's v1 scheduler keeps learning cards and revlog eases in a
    // different encoding; Anki converts them on import. We do not, so refuse rather than
    // silently mis-schedule. (All-new packages, e.g. genanki's, are the same in both.)
    let sched_ver = conf.get("schedVer").and_then(Value::as_i64).unwrap_or(1);
    if sched_ver < 2 && cards.iter().any(|c| c.queue != CardQueue::New) {
        return Err(ApkgError::invalid(
            "this collection uses Anki's old v1 scheduler; open it in a current Anki version \
             (which upgrades it) and export it again",
        ));
    }
    Ok(SourceData {
        crt,
        notetypes,
        decks,
        presets,
        notes,
        cards,
        revlog,
    })
}

/// Presets are optional: an entry that is not an object with a positive id is skipped (its decks
/// then fall back to preset 1, as Anki's lookup does).
fn parse_presets(dconf: Map<String, Value>) -> std::collections::BTreeMap<i64, Value> {
    dconf
        .into_iter()
        .filter_map(|(key, v)| {
            let id = key.parse::<i64>().ok().filter(|id| *id > 0)?;
            v.is_object().then_some((id, v))
        })
        .collect()
}

/// A package's card, or why it is refused: a type, queue or ordinal no Anki writes.
fn package_card(r: &Row<'_>) -> rusqlite::Result<Result<Card, ApkgError>> {
    let (id, ord, ctype, queue): (i64, i64, i64, i64) =
        (r.get(0)?, r.get(3)?, r.get(6)?, r.get(7)?);
    let (Ok(typed_ctype), Ok(typed_queue), true) = (
        CardType::try_from(ctype),
        CardQueue::try_from(queue),
        ord >= 0,
    ) else {
        return Ok(Err(ApkgError::invalid(format!(
            "card {id} has an invalid type/queue/ordinal ({ctype}/{queue}/{ord})"
        ))));
    };
    Ok(Ok(Card {
        id,
        note_id: r.get(1)?,
        deck_id: r.get(2)?,
        ord,
        mtime: r.get(4)?,
        usn: r.get(5)?,
        ctype: typed_ctype,
        queue: typed_queue,
        due: r.get(8)?,
        ivl: r.get(9)?,
        factor: r.get(10)?,
        reps: r.get(11)?,
        lapses: r.get(12)?,
        left: r.get(13)?,
        original_due: r.get(14)?,
        original_deck_id: r.get(15)?,
        flags: r.get(16)?,
        data: r.get(17)?,
    }))
}

/// A package's review log entry, or why it is refused: a button or type no Anki writes.
fn package_revlog_entry(r: &Row<'_>) -> rusqlite::Result<Result<RevlogEntry, ApkgError>> {
    let id: i64 = r.get(0)?;
    let (Ok(ease), Ok(kind)) = (
        ease_from_stored(r.get(3)?),
        RevlogKind::try_from(r.get::<_, i64>(8)?),
    ) else {
        return Ok(Err(ApkgError::invalid(format!(
            "review log entry {id} is invalid"
        ))));
    };
    Ok(Ok(RevlogEntry {
        id,
        card_id: r.get(1)?,
        usn: r.get(2)?,
        ease,
        ivl: r.get(4)?,
        last_ivl: r.get(5)?,
        factor: r.get(6)?,
        time_ms: r.get(7)?,
        kind,
    }))
}

/// The package's own contents within the limits every route keeps
/// (`javumbo_collection::limits`), and its ids unique: before any of it is merged, so a hostile
/// package costs one linear pass and changes nothing.
fn check_contents(
    notes: &[SrcNote],
    cards: &[Card],
    revlog: &[RevlogEntry],
) -> Result<(), ApkgError> {
    use javumbo_collection::limits::{MAX_CARDS, MAX_NOTES, MAX_REVLOG_ENTRIES};
    for (n, limit, what) in [
        (notes.len(), MAX_NOTES, "notes"),
        (cards.len(), MAX_CARDS, "cards"),
        (revlog.len(), MAX_REVLOG_ENTRIES, "review log entries"),
    ] {
        if n > limit {
            return Err(ApkgError::TooLarge(format!(
                "the package holds {n} {what}; the limit is {limit} {what}"
            )));
        }
    }
    for note in notes {
        check_note_size(note.id, &note.flds)?;
    }
    // Rows are read in id order, so a repeated id is a neighbour. Anki's tables make these
    // ids primary keys; a file without them was built to confuse an importer.
    fn repeated(mut ids: impl Iterator<Item = i64>) -> Option<i64> {
        let mut prev = None;
        ids.find(|&id| prev.replace(id) == Some(id))
    }
    if let Some(id) = repeated(notes.iter().map(|n| n.id)) {
        return Err(ApkgError::invalid(format!(
            "note id {id} appears more than once in the package"
        )));
    }
    if let Some(id) = repeated(cards.iter().map(|c| c.id)) {
        return Err(ApkgError::invalid(format!(
            "card id {id} appears more than once in the package"
        )));
    }
    Ok(())
}

fn check_version(ver: i64) -> Result<(), ApkgError> {
    match ver {
        SCHEMA_VERSION => Ok(()),
        v if v < SCHEMA_VERSION => Err(ApkgError::invalid(format!(
            "collection schema version {v} is too old (Anki 2.0 or earlier); open it in a current Anki and export it again"
        ))),
        v @ 12..=18 => Err(ApkgError::invalid(format!(
            "collection schema version {v} is not supported; export it from Anki with \"Support older Anki versions\" checked"
        ))),
        v => Err(ApkgError::invalid(format!(
            "unknown collection schema version {v}"
        ))),
    }
}

fn query<T>(
    conn: &Connection,
    sql: &str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, ApkgError> {
    let mut stmt = conn.prepare(sql).map_err(bad_db)?;
    stmt.query_map([], f)
        .map_err(bad_db)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad_db)
}

fn parse_object(text: &str, what: &str) -> Result<Map<String, Value>, ApkgError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApkgError::invalid(format!("{what} is not a JSON object"))),
        Err(e) => Err(ApkgError::invalid_because(
            format!("{what} is not valid JSON"),
            e,
        )),
    }
}

/// An integer stored either as a JSON number or as a numeric string: genanki writes note type
/// ids as strings, and Anki's own reader accepts both.
fn json_int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn parse_notetypes(
    models: Map<String, Value>,
) -> Result<std::collections::HashMap<i64, SrcNotetype>, ApkgError> {
    let mut out = std::collections::HashMap::new();
    for (key, m) in models {
        let bad = |what: &str| ApkgError::invalid(format!("note type {key:?}: {what}"));
        let id = json_int(m.get("id")).ok_or_else(|| bad("missing id"))?;
        let name = m
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("missing name"))?;
        let names_of = |list: &str| -> Result<Vec<&Map<String, Value>>, ApkgError> {
            m.get(list)
                .and_then(Value::as_array)
                .ok_or_else(|| bad(&format!("missing {list}")))?
                .iter()
                .map(|v| {
                    v.as_object()
                        .ok_or_else(|| bad(&format!("bad {list} entry")))
                })
                .collect()
        };
        let fields = names_of("flds")?
            .into_iter()
            .map(|f| {
                f.get("name")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| bad("field without name"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let templates = names_of("tmpls")?
            .into_iter()
            .map(|t| {
                let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                (s("qfmt"), s("afmt"))
            })
            .collect::<Vec<_>>();
        if fields.is_empty() || templates.is_empty() {
            return Err(bad("no fields or no templates"));
        }
        let sort_field = json_int(m.get("sortf")).unwrap_or(0).max(0) as usize;
        let is_cloze = json_int(m.get("type")) == Some(1);
        out.insert(
            id,
            SrcNotetype {
                id,
                name: name.to_owned(),
                sort_field: sort_field.min(fields.len() - 1),
                fields,
                templates,
                is_cloze,
                json: m,
            },
        );
    }
    Ok(out)
}

fn parse_decks(
    decks: Map<String, Value>,
) -> Result<std::collections::HashMap<i64, SrcDeck>, ApkgError> {
    let mut out = std::collections::HashMap::new();
    for (key, d) in decks {
        let bad = |what: &str| ApkgError::invalid(format!("deck {key:?}: {what}"));
        let id = json_int(d.get("id")).ok_or_else(|| bad("missing id"))?;
        let name = d
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("missing name"))?;
        let filtered = json_int(d.get("dyn")).unwrap_or(0) != 0
            || d.get("dyn").and_then(Value::as_bool) == Some(true);
        let desc = d
            .get("desc")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let conf_id = json_int(d.get("conf")).filter(|c| *c > 0).unwrap_or(1);
        let limits = ["reviewLimit", "newLimit"]
            .into_iter()
            .filter_map(|k| Some((k.to_owned(), d.get(k).filter(|v| !v.is_null())?.clone())))
            .collect();
        out.insert(
            id,
            SrcDeck {
                name: name.to_owned(),
                filtered,
                desc,
                conf_id,
                limits,
                json: d.clone(),
            },
        );
    }
    Ok(out)
}

/// A note's fields (joined by `\x1f`) within the note and field size limits
/// (`javumbo_collection::limits`), checked on the package's notes and again on the fields
/// whose media references the import rewrote.
pub(crate) fn check_note_size(note_id: i64, flds: &str) -> Result<(), ApkgError> {
    use javumbo_collection::limits::{MAX_FIELD_BYTES, MAX_NOTE_BYTES};
    if flds.len() > MAX_NOTE_BYTES {
        return Err(ApkgError::TooLarge(format!(
            "note {note_id} has {} bytes of fields; the note size limit is {MAX_NOTE_BYTES} bytes",
            flds.len()
        )));
    }
    if let Some((i, f)) = flds
        .split('\x1f')
        .enumerate()
        .find(|(_, f)| f.len() > MAX_FIELD_BYTES)
    {
        return Err(ApkgError::TooLarge(format!(
            "field {} of note {note_id} has {} bytes; the field size limit is {MAX_FIELD_BYTES} bytes",
            i + 1,
            f.len()
        )));
    }
    Ok(())
}
