//! Applying a journal changeset with the connection's cached statements.
//!
//! `sqlite3changeset_apply` prepares its INSERT, DELETE, SELECT and UPDATE statements (and runs
//! `PRAGMA table_xinfo`) again for every table of every changeset it applies. A container whose
//! requests follow another container's writes replays an entry or two per request, so that
//! parsing was ~22% of its CPU under load (`perf`, 8 process containers). This applies the same
//! changes with statements prepared once per connection (`prepare_cached`) and the same rule
//! the journal always used: **any conflict aborts the whole changeset** (fencing makes the
//! history linear, so a conflict means the copy and the journal disagree and must be loud).
//!
//! What a conflict is, as for `sqlite3changeset_apply` under `SQLITE_CHANGESET_ABORT`:
//! - INSERT: a row with the same primary key exists (or any constraint fails);
//! - DELETE: no row has the primary key and every old value;
//! - UPDATE: no row has the primary key and the old value of every changed column.
//!
//! Stricter than SQLite's where SQLite would skip silently: a table missing, or whose column
//! count differs from the changeset's, is an error (the schema fingerprint checked
//! before replay already rules it out). Left to SQLite's own apply, for the whole changeset:
//! `sqlite_stat1` (whose rows SQLite encodes specially), a constraint failure (SQLite retries
//! those after the other changes) and an UPDATE that changes no column (which the session
//! extension never records).

use std::fmt::Write as _;

use rusqlite::fallible_streaming_iterator::FallibleStreamingIterator;
use rusqlite::hooks::Action;
use rusqlite::session::{ChangesetItem, ChangesetIter, ConflictAction, ConflictType};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ffi};

/// A table as the changeset sees it: column names in order and which are its primary key.
struct Table {
    name: String,
    quoted: String,
    columns: Vec<String>,
    pk: Vec<bool>,
}

/// Apply one raw changeset inside a savepoint: all of it, or (on any conflict or error)
/// nothing, with the error.
pub fn apply_changeset(conn: &Connection, changeset: &[u8]) -> rusqlite::Result<()> {
    conn.prepare_cached("SAVEPOINT javumbo_apply")?
        .execute([])?;
    let applied = match apply_rows(conn, changeset) {
        Ok(Applied::All) => Ok(()),
        Ok(Applied::LeftToSqlite) => conn
            .prepare_cached("ROLLBACK TO javumbo_apply")
            .and_then(|mut undo| undo.execute([]))
            .and_then(|_| sqlite_apply(conn, changeset)),
        Err(e) => Err(e),
    };
    match applied {
        Ok(()) => {
            conn.prepare_cached("RELEASE javumbo_apply")?.execute([])?;
            Ok(())
        }
        Err(e) => {
            // Undo what was applied before the conflict; the caller's transaction stays.
            let _ = conn.execute_batch("ROLLBACK TO javumbo_apply; RELEASE javumbo_apply");
            Err(e)
        }
    }
}

/// SQLite's own apply, aborting on any conflict (the reference this module must agree with).
pub fn sqlite_apply(conn: &Connection, changeset: &[u8]) -> rusqlite::Result<()> {
    let mut input: &[u8] = changeset;
    conn.apply_strm(
        &mut input,
        None::<fn(&str) -> bool>,
        |kind: ConflictType, _item| {
            tracing::error!(?kind, "journal replay conflict");
            ConflictAction::SQLITE_CHANGESET_ABORT
        },
    )
}

enum Applied {
    All,
    LeftToSqlite,
}

enum Step {
    Done,
    LeftToSqlite,
}

fn apply_rows(conn: &Connection, changeset: &[u8]) -> rusqlite::Result<Applied> {
    let mut input: &[u8] = changeset;
    let reader: &mut dyn std::io::Read = &mut input;
    let mut rows = ChangesetIter::start_strm(&reader)?;
    let mut table: Option<Table> = None;
    let mut sql = String::new();
    while let Some(item) = rows.next()? {
        let op = item.op()?;
        if table.as_ref().is_none_or(|t| t.name != op.table_name()) {
            if op.table_name() == "sqlite_stat1" {
                return Ok(Applied::LeftToSqlite);
            }
            table = Some(describe(
                conn,
                op.table_name(),
                op.number_of_columns(),
                item.pk()?,
            )?);
        }
        let Some(t) = table.as_ref() else {
            return Err(malformed("a changeset row without its table".into()));
        };
        sql.clear();
        let step = match op.code() {
            Action::SQLITE_INSERT => insert(conn, t, item, &mut sql)?,
            Action::SQLITE_DELETE => delete(conn, t, item, &mut sql)?,
            Action::SQLITE_UPDATE => update(conn, t, item, &mut sql)?,
            other => return Err(malformed(format!("operation {other:?} in a changeset"))),
        };
        if let Step::LeftToSqlite = step {
            return Ok(Applied::LeftToSqlite);
        }
    }
    Ok(Applied::All)
}

/// The table's columns, from a statement prepared once per connection and table (its column
/// names need no step; `pragma_table_info` re-parsed its pragma at every call, a third of the
/// apply's cost). The primary key is the changeset's own: the schema fingerprint checked before
/// replay guarantees the table it was captured from had the same, and the column count is
/// checked here.
fn describe(conn: &Connection, name: &str, n: i32, pk: &[u8]) -> rusqlite::Result<Table> {
    let quoted = quote(name);
    let stmt = conn.prepare_cached(&format!("SELECT * FROM {quoted} LIMIT 0"))?;
    let columns: Vec<String> = stmt.column_names().map(quote).collect();
    let flags: Vec<bool> = pk.iter().map(|&b| b != 0).collect();
    if usize::try_from(n).ok() != Some(columns.len()) || flags.len() != columns.len() {
        return Err(malformed(format!(
            "changeset for table {name} does not match its schema"
        )));
    }
    Ok(Table {
        name: name.to_owned(),
        quoted,
        columns,
        pk: flags,
    })
}

fn insert(
    conn: &Connection,
    t: &Table,
    item: &ChangesetItem,
    sql: &mut String,
) -> rusqlite::Result<Step> {
    let _ = write!(sql, "INSERT INTO {} (", t.quoted);
    for (i, c) in t.columns.iter().enumerate() {
        let _ = write!(sql, "{}{c}", if i == 0 { "" } else { "," });
    }
    sql.push_str(") VALUES (");
    for i in 1..=t.columns.len() {
        let _ = write!(sql, "{}?{i}", if i == 1 { "" } else { "," });
    }
    sql.push(')');
    let mut stmt = conn.prepare_cached(sql)?;
    for i in 0..t.columns.len() {
        stmt.raw_bind_parameter(i + 1, ToSqlOutput::Borrowed(item.new_value(i)?))?;
    }
    match stmt.raw_execute() {
        Ok(_) => Ok(Step::Done),
        Err(e) if is_constraint(&e) => Ok(Step::LeftToSqlite),
        Err(e) => Err(e),
    }
}

fn delete(
    conn: &Connection,
    t: &Table,
    item: &ChangesetItem,
    sql: &mut String,
) -> rusqlite::Result<Step> {
    let _ = write!(sql, "DELETE FROM {} WHERE ", t.quoted);
    for (i, c) in t.columns.iter().enumerate() {
        let _ = write!(
            sql,
            "{}{c} IS ?{}",
            if i == 0 { "" } else { " AND " },
            i + 1
        );
    }
    let mut stmt = conn.prepare_cached(sql)?;
    for i in 0..t.columns.len() {
        stmt.raw_bind_parameter(i + 1, ToSqlOutput::Borrowed(item.old_value(i)?))?;
    }
    match stmt.raw_execute()? {
        1 => Ok(Step::Done),
        _ => Err(conflict(t, "DELETE", ConflictType::SQLITE_CHANGESET_DATA)),
    }
}

fn update(
    conn: &Connection,
    t: &Table,
    item: &ChangesetItem,
    sql: &mut String,
) -> rusqlite::Result<Step> {
    // A changed column has a new value; an unchanged one has none (SQLite hands back no value,
    // which rusqlite reports as an invalid index).
    let mut changed: Vec<(usize, ValueRef<'_>)> = Vec::new();
    for i in 0..t.columns.len() {
        if let Ok(v) = item.new_value(i) {
            changed.push((i, v));
        }
    }
    if changed.is_empty() {
        // The session extension leaves no-op updates out; should one come, SQLite decides.
        return Ok(Step::LeftToSqlite);
    }
    let _ = write!(sql, "UPDATE {} SET ", t.quoted);
    for (k, (i, _)) in changed.iter().enumerate() {
        let _ = write!(
            sql,
            "{}{} = ?{}",
            if k == 0 { "" } else { "," },
            t.columns[*i],
            k + 1
        );
    }
    sql.push_str(" WHERE ");
    // The row is found by its primary key and must still hold the changed columns' old values.
    let mut n = changed.len();
    let mut first = true;
    let mut olds: Vec<ValueRef<'_>> = Vec::new();
    for i in 0..t.columns.len() {
        if t.pk[i] || changed.iter().any(|(c, _)| *c == i) {
            n += 1;
            let _ = write!(
                sql,
                "{}{} IS ?{n}",
                if first { "" } else { " AND " },
                t.columns[i]
            );
            first = false;
            olds.push(item.old_value(i)?);
        }
    }
    let mut stmt = conn.prepare_cached(sql)?;
    for (k, (_, v)) in changed.iter().enumerate() {
        stmt.raw_bind_parameter(k + 1, ToSqlOutput::Borrowed(*v))?;
    }
    for (k, v) in olds.iter().enumerate() {
        stmt.raw_bind_parameter(changed.len() + k + 1, ToSqlOutput::Borrowed(*v))?;
    }
    match stmt.raw_execute() {
        Ok(1) => Ok(Step::Done),
        Ok(_) => Err(conflict(t, "UPDATE", ConflictType::SQLITE_CHANGESET_DATA)),
        Err(e) if is_constraint(&e) => Ok(Step::LeftToSqlite),
        Err(e) => Err(e),
    }
}

/// A constraint failed (a row with the key exists, or a UNIQUE value is still held by a row
/// this changeset deletes or changes later): SQLite's apply retries such changes after the
/// others before calling it a conflict, so the whole changeset is left to it.
fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// A conflict aborts the changeset, as SQLite's apply does with `SQLITE_CHANGESET_ABORT`.
fn conflict(t: &Table, what: &str, kind: ConflictType) -> rusqlite::Error {
    tracing::error!(?kind, table = %t.name, "journal replay conflict");
    rusqlite::Error::SqliteFailure(
        ffi::Error::new(ffi::SQLITE_ABORT),
        Some(format!(
            "changeset conflict: {what} on {} ({kind:?})",
            t.name
        )),
    )
}

fn malformed(msg: String) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_CORRUPT), Some(msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::session::Session;

    const SCHEMA: &str = "
        CREATE TABLE cards (id INTEGER PRIMARY KEY, nid INTEGER NOT NULL, ivl INTEGER,
                            factor REAL, data TEXT, blob BLOB);
        CREATE INDEX ix_cards_nid ON cards (nid);
        CREATE TABLE \"odd \"\"name\" (a TEXT, b INTEGER, v, PRIMARY KEY (a, b)) WITHOUT ROWID;
        CREATE TABLE uniq (id INTEGER PRIMARY KEY, u TEXT UNIQUE);
        INSERT INTO cards VALUES (1, 10, 0, 2.5, 'a', NULL), (2, 10, 3, NULL, 'it''s', x'00ff');
        INSERT INTO \"odd \"\"name\" VALUES ('x', 1, 1.5), ('y', 2, NULL);
        INSERT INTO uniq VALUES (1, 'one');";

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(SCHEMA).unwrap();
        c
    }

    /// Every row of every table, in a comparable form.
    fn dump(c: &Connection) -> Vec<String> {
        let tables: Vec<String> = c
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut out = Vec::new();
        for t in tables {
            let mut stmt = c
                .prepare(&format!("SELECT * FROM {} ORDER BY 1, 2", quote(&t)))
                .unwrap();
            let n = stmt.column_count();
            let mut rows = stmt.query([]).unwrap();
            while let Some(r) = rows.next().unwrap() {
                let vals: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect();
                out.push(format!("{t}: {}", vals.join(" | ")));
            }
        }
        out
    }

    fn capture(c: &Connection, sql: &str) -> Vec<u8> {
        let mut s = Session::new(c).unwrap();
        s.attach::<&str>(None).unwrap();
        c.execute_batch(sql).unwrap();
        let mut out = Vec::new();
        s.changeset_strm(&mut out).unwrap();
        out
    }

    const STEPS: [&str; 9] = [
        // Inserts of every value type, a NULL and a quote.
        "INSERT INTO cards VALUES (3, 11, NULL, 1.25, 'q\"q', x'');
         INSERT INTO \"odd \"\"name\" VALUES ('z', 3, x'01');",
        // Updates of different column sets (one statement per set), to NULL and from NULL.
        "UPDATE cards SET ivl = 7, factor = 2.65 WHERE id = 1;
         UPDATE cards SET data = NULL WHERE id = 2;
         UPDATE cards SET factor = 3.0 WHERE id = 2;
         UPDATE \"odd \"\"name\" SET v = 'now text' WHERE a = 'y';",
        // Deletes.
        "DELETE FROM cards WHERE id = 3; DELETE FROM \"odd \"\"name\" WHERE a = 'x';",
        // A row deleted and inserted again with other values is an UPDATE in the changeset.
        "DELETE FROM cards WHERE id = 1; INSERT INTO cards VALUES (1, 12, 1, 2.5, 'b', NULL);",
        // A unique index moved from one row to another.
        "INSERT INTO uniq VALUES (2, 'two'); UPDATE uniq SET u = 'uno' WHERE id = 1;",
        "UPDATE uniq SET u = 'one' WHERE id = 2; DELETE FROM uniq WHERE id = 1;",
        // A UNIQUE value passed from a deleted row to another: applied in the changeset's
        // order, the update fails until the delete is done (SQLite retries it at the end).
        "INSERT INTO uniq VALUES (3, 'three');",
        "DELETE FROM uniq WHERE id = 3; UPDATE uniq SET u = 'three' WHERE id = 2;",
        "INSERT INTO uniq VALUES (4, 'one'); UPDATE uniq SET u = 'four' WHERE id = 4;",
    ];

    #[test]
    fn applies_what_sqlite_applies() {
        let (src, ours, theirs) = (db(), db(), db());
        for sql in STEPS {
            let cs = capture(&src, sql);
            assert!(!cs.is_empty(), "{sql}");
            apply_changeset(&ours, &cs).unwrap();
            sqlite_apply(&theirs, &cs).unwrap();
            assert_eq!(dump(&ours), dump(&src), "after {sql}");
            assert_eq!(dump(&theirs), dump(&src), "after {sql}");
        }
    }

    #[test]
    fn a_conflict_aborts_and_leaves_nothing_applied() {
        // Each changeset applied twice: the second time every kind of change conflicts (the
        // row exists / is gone / no longer holds the old values), as it does for SQLite.
        let (src, ours, theirs) = (db(), db(), db());
        for sql in STEPS {
            let cs = capture(&src, sql);
            apply_changeset(&ours, &cs).unwrap();
            sqlite_apply(&theirs, &cs).unwrap();
            let before = dump(&ours);
            assert!(apply_changeset(&ours, &cs).is_err(), "{sql}");
            assert!(sqlite_apply(&theirs, &cs).is_err(), "{sql}");
            assert_eq!(dump(&ours), before, "partly applied: {sql}");
            assert_eq!(dump(&theirs), before, "{sql}");
        }
        // A changed column whose value moved on since the entry was captured conflicts even
        // though the row is there.
        let cs = capture(&src, "UPDATE cards SET ivl = 99 WHERE id = 2");
        ours.execute("UPDATE cards SET ivl = 98 WHERE id = 2", [])
            .unwrap();
        assert!(apply_changeset(&ours, &cs).is_err());
        // An unchanged column that differs does not.
        let cs = capture(&src, "UPDATE cards SET factor = 1.5 WHERE id = 2");
        ours.execute("UPDATE cards SET data = 'other' WHERE id = 2", [])
            .unwrap();
        apply_changeset(&ours, &cs).unwrap();
    }

    #[test]
    fn a_table_that_differs_is_an_error_not_a_skip() {
        let src = db();
        let cs = capture(&src, "UPDATE cards SET ivl = 1 WHERE id = 1");
        let other = Connection::open_in_memory().unwrap();
        other
            .execute_batch("CREATE TABLE cards (id INTEGER PRIMARY KEY, nid INTEGER)")
            .unwrap();
        assert!(apply_changeset(&other, &cs).is_err());
    }
}
