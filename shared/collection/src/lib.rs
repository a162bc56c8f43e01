//! javumbo's collection engine: one user's Anki collection (a legacy schema-11 SQLite file).
//!
//! Map of the crate:
//! - [`schema`]: the exact DDL and `col` JSON Anki writes; collection creation.
//! - [`decks`], [`cards`], [`stats`], [`review`]: the operations the API exposes; [`review`]
//!   wires the pure scheduler crate (`javumbo-scheduler`) to the tables.
//! - [`notetypes`], [`notes`], [`render`]: note types, notes of any type with Anki's card
//!   generation, and cards rendered as Anki renders them (through `javumbo-templates`).
//! - [`storage`]: every SQL statement, one module per table, over typed rows.
//! - [`starter`]: the "Verbal Tenses" starter deck.
//!
//! `.apkg` export/import live in the `javumbo-apkg` crate.
//!
//! The engine knows nothing of HTTP, sessions or storage: it works on a `rusqlite::Connection`
//! and takes time from an injected [`Clock`]. Every mutating operation runs inside a savepoint,
//! so it is all-or-nothing on its own and nests inside the session layer's outer transaction.

pub mod bury;
pub mod cards;
pub mod clock;
mod coljson;
pub mod custom_study;
pub mod day;
pub mod decks;
pub mod error;
mod filtered;
pub mod fsrs;
pub mod idempotency;
pub mod ids;
pub mod limits;
pub mod media;
pub mod media_sync;
pub mod notes;
pub mod notetypes;
pub mod presets;
mod queue;
pub mod render;
pub mod repair;
pub mod review;
pub mod schema;
pub mod starter;
pub mod stats;
pub mod storage;
pub mod sync_state;
#[cfg(test)]
mod testutil;

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

pub use bury::CardAction;
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use coljson::{ColJson, JsonObject};
pub use day::{DaySettings, TimeZone};
pub use error::{CollectionError, Corruption, OperationError, Result};
pub use idempotency::IdempotencyRecord;
pub use javumbo_scheduler::{CardQueue, CardType, Ease, InvalidEase, OutOfRange, RevlogKind};
pub use media::{MediaError, MediaFile};
pub use presets::{DeckLimits, Preset, TodayLimit};
pub use repair::Repairs;
pub use schema::CreateOptions;

/// An open collection: a connection plus the clock its operations read.
pub struct Collection {
    conn: Connection,
    clock: SharedClock,
    json: coljson::JsonCache,
    /// The study queue as last gathered (`queue/cache.rs`).
    queue_cache: std::cell::RefCell<queue::cache::QueueCache>,
    rollbacks: queue::cache::RollbackCounter,
    /// The study session's lists as last read or stored (`queue/session.rs`).
    session_lists: queue::session::ListsCopy,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("path", &self.conn.path())
            .finish()
    }
}

impl Drop for Collection {
    fn drop(&mut self) {
        // rusqlite frees a hook's closure with the connection's client data, which SQLite
        // releases at close *before* it rolls back a transaction left open (a copy dropped
        // mid-request) and calls the hook: a use after free. Unregister it first.
        let _ = self.conn.rollback_hook(None::<fn()>);
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
        let col = Self::with_connection(conn, clock);
        col.atomic(|c| -> Result<()> {
            let now = c.clock.now_ms();
            schema::init_empty(&c.conn, now, opts)?;
            create_private_tables(&c.conn)?;
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
        let ver = storage::col::schema_version(&conn)
            .map_err(|e| CollectionError::corrupt_because("no col row", e))?;
        if ver != schema::SCHEMA_VERSION {
            return Err(CollectionError::corrupt(format!(
                "unsupported schema version {ver}"
            )));
        }
        // Files written before a private table existed (and Anki's own) get it on first open,
        // so every copy of a collection has the same schema (docs/ARCHITECTURE.md#media).
        create_private_tables(&conn)?;
        Ok(Self::with_connection(conn, clock))
    }

    /// Create a collection in memory (tests, and building files before they are written).
    pub fn create_in_memory(clock: SharedClock, opts: &CreateOptions) -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        let col = Self::with_connection(conn, clock);
        col.atomic(|c| -> Result<()> {
            schema::init_empty(&c.conn, c.clock.now_ms(), opts)?;
            create_private_tables(&c.conn)?;
            if opts.starter_deck {
                starter::add_starter_deck(c)?;
            }
            Ok(())
        })?;
        Ok(col)
    }

    fn with_connection(mut conn: Connection, clock: SharedClock) -> Self {
        // Room for every statement in `storage`, so the busiest ones are never evicted.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        let rollbacks = queue::cache::RollbackCounter::default();
        // Registering a hook cannot fail on an open connection (rusqlite only borrows it).
        let hooked = conn.rollback_hook(Some(rollbacks.hook())).is_ok();
        let queue_cache = queue::cache::QueueCache {
            disabled: !hooked,
            ..Default::default()
        };
        Self {
            conn,
            clock,
            json: coljson::JsonCache::default(),
            queue_cache: std::cell::RefCell::new(queue_cache),
            rollbacks,
            session_lists: Default::default(),
        }
    }

    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    pub(crate) fn json_cache(&self) -> &coljson::JsonCache {
        &self.json
    }

    /// Run `f` all-or-nothing. Uses a savepoint so it nests inside an outer transaction (the
    /// session layer records a changeset around exactly that outer transaction). `f` may fail
    /// with its own error type (the `.apkg` importer's, say), as long as ours converts into it.
    pub fn atomic<T, E>(&self, f: impl FnOnce(&Self) -> Result<T, E>) -> Result<T, E>
    where
        E: From<CollectionError>,
    {
        self.run("SAVEPOINT javumbo_op")?;
        match f(self) {
            Ok(v) => {
                self.run("RELEASE javumbo_op")?;
                Ok(v)
            }
            Err(e) => {
                // What this operation stored of the study session is undone (a savepoint's
                // rollback does not reach the rollback hook). The copy's key would no longer
                // match the restored header anyway; dropping it does not rely on that.
                self.session_lists.forget();
                // Best effort: if even the rollback fails the connection is unusable and the
                // caller drops it (the session layer discards the cached copy on any error).
                let _ = self
                    .run("ROLLBACK TO javumbo_op")
                    .and_then(|()| self.run("RELEASE javumbo_op"));
                Err(e)
            }
        }
    }

    /// One parameterless statement, from the statement cache.
    fn run(&self, sql: &str) -> Result<()> {
        self.conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    /// Mark the collection modified (Anki's `col.mod`, milliseconds).
    pub(crate) fn touch(&self) -> Result<()> {
        storage::col::set_modified(&self.conn, self.clock.now_ms())
    }
}

/// Distinct statements the engine prepares (about 40 today), plus the session crate's
/// changeset apply (an INSERT, a DELETE and an UPDATE per changed-column set, for each table a
/// journal entry touches), with room to spare.
const STATEMENT_CACHE_CAPACITY: usize = 160;

/// Pragmas for every connection the engine opens. `journal_mode=DELETE` keeps a single file that
/// can be uploaded as a snapshot as-is (Anki also accepts WAL, but a snapshot must be one file).
/// javumbo's private tables (`javumbo_*`), created identically at every open and creation so
/// every copy of a collection has the same schema (docs/ARCHITECTURE.md#media).
fn create_private_tables(conn: &Connection) -> Result<()> {
    for ddl in [
        media::MEDIA_DDL,
        idempotency::IDEMPOTENCY_DDL,
        media_sync::MEDIA_SYNC_DDL,
        sync_state::SYNC_STATE_DDL,
        queue::DECK_COUNTERS_DDL,
        queue::SESSION_LISTS_DDL,
        filtered::ANSWER_DECKS_DDL,
    ] {
        conn.execute_batch(ddl)?;
    }
    Ok(())
}

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
