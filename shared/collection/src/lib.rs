//! javumbo's collection engine: one user's Anki collection (a legacy schema-11 SQLite file).
//!
//! Map of the crate:
//! - [`schema`]: the exact DDL and `col` JSON Anki writes; collection creation.
//! - [`decks`], [`cards`], [`stats`], [`review`]: the operations the API exposes; [`review`]
//!   wires the pure scheduler crate (`javumbo-scheduler`) to the tables.
//!
//! `.apkg` export/import live in the `javumbo-apkg` crate.
//! - [`starter`]: the "Verbal Tenses" starter deck.
//!
//! The engine knows nothing of HTTP, sessions or storage: it works on a `rusqlite::Connection`
//! and takes time from an injected [`Clock`]. Every mutating operation runs inside a savepoint,
//! so it is all-or-nothing on its own and nests inside the session layer's outer transaction.

pub mod cards;
pub mod clock;
mod coljson;
pub mod decks;
pub mod error;
pub mod ids;
pub mod review;
pub mod schema;
pub mod starter;
pub mod stats;
#[cfg(test)]
mod testutil;

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use error::{CollectionError, Result};
pub use schema::CreateOptions;

/// An open collection: a connection plus the clock its operations read.
pub struct Collection {
    conn: Connection,
    clock: SharedClock,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("path", &self.conn.path())
            .finish()
    }
}

impl Collection {
    /// Create a new collection file at `path` (which must not exist yet).
    pub fn create(path: &Path, clock: SharedClock, opts: &CreateOptions) -> Result<Self> {
        if path.exists() {
            return Err(CollectionError::Conflict(format!(
                "collection file {} already exists",
                path.display()
            )));
        }
        let conn = Connection::open(path)?;
        configure(&conn)?;
        let col = Self { conn, clock };
        col.atomic(|c| {
            let now = c.clock.now_ms();
            schema::init_empty(&c.conn, now, opts)?;
            if opts.starter_deck {
                starter::add_starter_deck(c)?;
            }
            Ok(())
        })?;
        Ok(col)
    }

    /// Open an existing collection file that this engine (or Anki's legacy exporter) wrote.
    pub fn open(path: &Path, clock: SharedClock) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        let ver: i64 = conn
            .query_row("SELECT ver FROM col WHERE id = 1", [], |r| r.get(0))
            .map_err(|e| CollectionError::Corrupt(format!("no col row: {e}")))?;
        if ver != schema::SCHEMA_VERSION {
            return Err(CollectionError::Corrupt(format!(
                "unsupported schema version {ver}"
            )));
        }
        Ok(Self { conn, clock })
    }

    /// Create a collection in memory (tests, and building files before they are written).
    pub fn create_in_memory(clock: SharedClock, opts: &CreateOptions) -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        let col = Self { conn, clock };
        col.atomic(|c| {
            schema::init_empty(&c.conn, c.clock.now_ms(), opts)?;
            if opts.starter_deck {
                starter::add_starter_deck(c)?;
            }
            Ok(())
        })?;
        Ok(col)
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    pub fn into_connection(self) -> Connection {
        self.conn
    }

    /// Run `f` all-or-nothing. Uses a savepoint so it nests inside an outer transaction (the
    /// session layer records a changeset around exactly that outer transaction).
    pub fn atomic<T>(&self, f: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("SAVEPOINT javumbo_op")?;
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch("RELEASE javumbo_op")?;
                Ok(v)
            }
            Err(e) => {
                // Best effort: if even the rollback fails the connection is unusable and the
                // caller drops it (the session layer discards the cached copy on any error).
                let _ = self
                    .conn
                    .execute_batch("ROLLBACK TO javumbo_op; RELEASE javumbo_op");
                Err(e)
            }
        }
    }

    /// Mark the collection modified (Anki's `col.mod`, milliseconds).
    pub(crate) fn touch(&self) -> Result<()> {
        self.conn.execute(
            "UPDATE col SET mod = ?1 WHERE id = 1",
            [self.clock.now_ms()],
        )?;
        Ok(())
    }
}

/// Pragmas for every connection the engine opens. `journal_mode=DELETE` keeps a single file that
/// can be uploaded as a snapshot as-is (Anki also accepts WAL, but a snapshot must be one file).
fn configure(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "PRAGMA journal_mode = DELETE;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = OFF;
         PRAGMA trusted_schema = OFF;",
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}
