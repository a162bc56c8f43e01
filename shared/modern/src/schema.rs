//! The SQL of the schema-11 ↔ 18 steps (Anki's `storage/upgrades/*.sql`), the `unicase`
//! collation, and the checks a file must pass before any conversion touches it.

use std::cmp::Ordering;

use rusqlite::Connection;
use unicase::UniCase;

use crate::error::{ModernError, Result};

/// Schema versions this crate converts between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaVersion {
    /// Anki's legacy schema: everything but the content in JSON columns of `col`.
    V11,
    /// Anki 2.1.50+: note types, decks, presets, config and tags in their own tables.
    V18,
}

/// Schema 14: presets, config and tags get their own tables.
pub(crate) const SCHEMA14_UPGRADE: &str = "
CREATE TABLE deck_config (
  id integer PRIMARY KEY NOT NULL,
  name text NOT NULL COLLATE unicase,
  mtime_secs integer NOT NULL,
  usn integer NOT NULL,
  config blob NOT NULL
);
CREATE TABLE config (
  KEY text NOT NULL PRIMARY KEY,
  usn integer NOT NULL,
  mtime_secs integer NOT NULL,
  val blob NOT NULL
) without rowid;
CREATE TABLE tags (
  tag text NOT NULL PRIMARY KEY COLLATE unicase,
  usn integer NOT NULL
) without rowid;
UPDATE col
SET ver = 14;";

/// Schema 15: note types, their fields and templates, and decks.
pub(crate) const SCHEMA15_UPGRADE: &str = "
CREATE TABLE fields (
  ntid integer NOT NULL,
  ord integer NOT NULL,
  name text NOT NULL COLLATE unicase,
  config blob NOT NULL,
  PRIMARY KEY (ntid, ord)
) without rowid;
CREATE UNIQUE INDEX idx_fields_name_ntid ON fields (name, ntid);
CREATE TABLE templates (
  ntid integer NOT NULL,
  ord integer NOT NULL,
  name text NOT NULL COLLATE unicase,
  mtime_secs integer NOT NULL,
  usn integer NOT NULL,
  config blob NOT NULL,
  PRIMARY KEY (ntid, ord)
) without rowid;
CREATE UNIQUE INDEX idx_templates_name_ntid ON templates (name, ntid);
CREATE INDEX idx_templates_usn ON templates (usn);
CREATE TABLE notetypes (
  id integer NOT NULL PRIMARY KEY,
  name text NOT NULL COLLATE unicase,
  mtime_secs integer NOT NULL,
  usn integer NOT NULL,
  config blob NOT NULL
);
CREATE UNIQUE INDEX idx_notetypes_name ON notetypes (name);
CREATE INDEX idx_notetypes_usn ON notetypes (usn);
CREATE TABLE decks (
  id integer PRIMARY KEY NOT NULL,
  name text NOT NULL COLLATE unicase,
  mtime_secs integer NOT NULL,
  usn integer NOT NULL,
  common blob NOT NULL,
  kind blob NOT NULL
);
CREATE UNIQUE INDEX idx_decks_name ON decks (name);
CREATE INDEX idx_notes_mid ON notes (mid);
CREATE INDEX idx_cards_odid ON cards (odid)
WHERE odid != 0;
UPDATE col
SET ver = 15;
ANALYZE;";

/// Schema 17: tags remember whether they are collapsed in the browser.
pub(crate) const SCHEMA17_TAGS: &str = "
DROP TABLE tags;
CREATE TABLE tags (
  tag text NOT NULL PRIMARY KEY COLLATE unicase,
  usn integer NOT NULL,
  collapsed boolean NOT NULL,
  config blob NULL
) without rowid;";

/// Schema 18: graves get a primary key (duplicates are dropped).
pub(crate) const SCHEMA18_UPGRADE: &str = "
ALTER TABLE graves
  RENAME TO graves_old;
CREATE TABLE graves (
  oid integer NOT NULL,
  type integer NOT NULL,
  usn integer NOT NULL,
  PRIMARY KEY (oid, type)
) WITHOUT ROWID;
INSERT
  OR IGNORE INTO graves (oid, type, usn)
SELECT oid,
  type,
  usn
FROM graves_old;
DROP TABLE graves_old;
CREATE INDEX idx_graves_pending ON graves (usn);
UPDATE col
SET ver = 18;";

/// First step down: graves lose their primary key.
pub(crate) const SCHEMA18_DOWNGRADE: &str = "
ALTER TABLE graves
  RENAME TO graves_old;
CREATE TABLE graves (
  usn integer NOT NULL,
  oid integer NOT NULL,
  type integer NOT NULL
);
INSERT INTO graves (usn, oid, type)
SELECT usn,
  oid,
  type
FROM graves_old;
DROP TABLE graves_old;
UPDATE col
SET ver = 17;";

/// Last step down, once the tables' content is in the `col` JSON columns.
pub(crate) const SCHEMA11_DOWNGRADE: &str = "
DROP TABLE config;
DROP TABLE deck_config;
DROP TABLE tags;
DROP TABLE fields;
DROP TABLE templates;
DROP TABLE notetypes;
DROP TABLE decks;
DROP INDEX idx_cards_odid;
DROP INDEX idx_notes_mid;
UPDATE col
SET ver = 11;";

/// Register Anki's `unicase` collation (Unicode case-insensitive comparison) on `conn`. The
/// schema-18 name columns are declared with it: SQLite needs it to insert into their indexes
/// or compare their values. The conversions register it themselves; callers that query a
/// schema-18 file on their own connection call this first.
pub fn register_unicase_collation(conn: &Connection) -> Result<()> {
    conn.create_collation("unicase", |a: &str, b: &str| -> Ordering {
        UniCase::new(a).cmp(&UniCase::new(b))
    })?;
    Ok(())
}

/// The tables and columns each schema needs before we read it.
const COMMON_TABLES: &[(&str, &[&str])] = &[
    (
        "col",
        &[
            "id", "crt", "mod", "scm", "ver", "dty", "usn", "ls", "conf", "models", "decks",
            "dconf", "tags",
        ],
    ),
    (
        "notes",
        &[
            "id", "guid", "mid", "mod", "usn", "tags", "flds", "sfld", "csum", "flags", "data",
        ],
    ),
    (
        "cards",
        &[
            "id", "nid", "did", "ord", "mod", "usn", "type", "queue", "due", "ivl", "factor",
            "reps", "lapses", "left", "odue", "odid", "flags", "data",
        ],
    ),
    (
        "revlog",
        &[
            "id", "cid", "usn", "ease", "ivl", "lastIvl", "factor", "time", "type",
        ],
    ),
    ("graves", &["usn", "oid", "type"]),
];

const SCHEMA18_TABLES: &[(&str, &[&str])] = &[
    ("notetypes", &["id", "name", "mtime_secs", "usn", "config"]),
    ("fields", &["ntid", "ord", "name", "config"]),
    (
        "templates",
        &["ntid", "ord", "name", "mtime_secs", "usn", "config"],
    ),
    (
        "decks",
        &["id", "name", "mtime_secs", "usn", "common", "kind"],
    ),
    (
        "deck_config",
        &["id", "name", "mtime_secs", "usn", "config"],
    ),
    ("config", &["KEY", "usn", "mtime_secs", "val"]),
    ("tags", &["tag", "usn", "collapsed", "config"]),
];

/// Everything a schema-18 file made by Anki has, besides the tables above.
const SCHEMA18_INDEXES: &[&str] = &["idx_cards_odid", "idx_notes_mid"];

/// Check that `conn` holds a collection of a version we convert, with every table and column
/// the conversion reads, and nothing that could run code of the file's author while we write
/// to it (triggers, views). Returns the version.
pub fn inspect(conn: &Connection) -> Result<SchemaVersion> {
    let mut stmt = conn.prepare("SELECT type, name FROM sqlite_master")?;
    let objects = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    if let Some((kind, name)) = objects
        .iter()
        .find(|(kind, _)| kind == "trigger" || kind == "view")
    {
        return Err(ModernError::Invalid(format!(
            "a collection must not contain a {kind} ({name})"
        )));
    }
    let has = |kind: &str, name: &str| objects.iter().any(|(k, n)| k == kind && n == name);
    check_columns(conn, COMMON_TABLES, &has)?;
    let rows: i64 = conn.query_row("SELECT count(*) FROM col", [], |r| r.get(0))?;
    if rows != 1 {
        return Err(ModernError::Invalid(format!(
            "the col table has {rows} rows instead of 1"
        )));
    }
    let ver: i64 = conn.query_row("SELECT ver FROM col", [], |r| r.get(0))?;
    match ver {
        11 => Ok(SchemaVersion::V11),
        18 => {
            check_columns(conn, SCHEMA18_TABLES, &has)?;
            if let Some(missing) = SCHEMA18_INDEXES.iter().find(|i| !has("index", i)) {
                return Err(ModernError::Invalid(format!(
                    "schema-18 collection without index {missing}"
                )));
            }
            Ok(SchemaVersion::V18)
        }
        v => Err(ModernError::Unsupported(format!(
            "collection schema version {v} (only 11 and 18 are converted)"
        ))),
    }
}

fn check_columns(
    conn: &Connection,
    tables: &[(&str, &[&str])],
    has: &dyn Fn(&str, &str) -> bool,
) -> Result<()> {
    for (table, columns) in tables {
        if !has("table", table) {
            return Err(ModernError::Invalid(format!("missing table {table}")));
        }
        let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
        let present = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if let Some(c) = columns
            .iter()
            .find(|c| !present.iter().any(|p| p.eq_ignore_ascii_case(c)))
        {
            return Err(ModernError::Invalid(format!(
                "table {table} has no column {c}"
            )));
        }
    }
    Ok(())
}
