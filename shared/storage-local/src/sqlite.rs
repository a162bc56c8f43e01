//! `users`, `sessions` and `journal` in one SQLite file.
//!
//! Writers queue on an exclusive `flock` of `<db>.writer-lock` before `BEGIN IMMEDIATE`, so
//! threads and processes wait in the kernel's queue and wake the moment the lock is free,
//! instead of in SQLite's busy handler, which sleeps up to 100 ms between retries and turned
//! write contention into multi-second tails. Journal commits are **group-committed**: commits
//! that arrive while one batch is being written go into the next batch, one transaction and
//! one WAL fsync for all of them, each commit's fence checked and applied in its own
//! savepoint, so one refused commit never affects the others.
//!
//! WAL lets readers proceed while a writer commits; `BEGIN IMMEDIATE` takes the write lock
//! before the condition is read, so check-and-apply is atomic across connections and
//! processes. `synchronous=FULL` because a commit acknowledged to the session manager is the
//! only copy of a user's answer (`docs/ARCHITECTURE.md#output-gate`): in WAL mode `NORMAL` may lose
//! the last commits on power loss, `FULL` syncs the WAL on every commit.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use javumbo_session::{
    DeviceKey, DeviceKeyStore, Fence, JournalEntry, JournalPayload, Metrics, SessionExpect,
    SessionItem, SessionStatus, SessionStore, StoreResult, TokenRevocation, UserRecord, UserStore,
    Username,
};
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use crate::error::{LocalStoreError, Result};

/// Writers queue on the database lock; 10 s rides out a checkpoint or a burst from other
/// processes before the caller sees `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle connections kept per store handle.
const MAX_IDLE: usize = 4;
/// How long a commit's request id stays recognised for retries (DynamoDB keeps a
/// `ClientRequestToken` for 10 minutes).
const TOKEN_TTL_MS: i64 = 10 * 60 * 1000;
/// 2: `user_names`, the folded-name uniqueness record of registrations.
/// 3: token revocation (`users.tokens_not_before`, `revoked_tokens`), `user_names.claimed_by`.
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    username      TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    name          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    -- Epoch seconds: tokens issued before are void (password change).
    tokens_not_before INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
-- One row per folded username (NFC, lowercased): what makes registrations unique
-- case-insensitively. Written in the same transaction as the user row; `claimed_by` is the
-- user whose creation claimed it (NULL for claims older than schema 3 of non-ASCII names).
CREATE TABLE IF NOT EXISTS user_names (
    folded     TEXT PRIMARY KEY NOT NULL,
    claimed_by TEXT
) WITHOUT ROWID;
-- Tokens voided by a logout, until their own expiry (epoch seconds).
CREATE TABLE IF NOT EXISTS revoked_tokens (
    username   TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (username, jti)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
    username     TEXT PRIMARY KEY NOT NULL,
    session_id   TEXT NOT NULL,
    owner        TEXT,
    epoch        INTEGER NOT NULL,
    status       TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    snapshot_seq INTEGER NOT NULL,
    requested_by TEXT,
    last_access  INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
-- payload holds an inline changeset; a spilled one has payload NULL and a blob pointer.
CREATE TABLE IF NOT EXISTS journal (
    username   TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    payload    BLOB,
    spill_key  TEXT,
    spill_len  INTEGER,
    request_id TEXT NOT NULL,
    at_ms      INTEGER NOT NULL,
    schema_fp  TEXT NOT NULL,
    PRIMARY KEY (username, seq),
    CHECK ((payload IS NULL) = (spill_key IS NOT NULL))
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS commit_tokens (
    request_id TEXT PRIMARY KEY NOT NULL,
    username   TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS commit_tokens_created ON commit_tokens (created_ms);
-- Sync device keys (Anki host keys), only their hashes.
CREATE TABLE IF NOT EXISTS device_keys (
    username     TEXT NOT NULL,
    id           TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    label        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    PRIMARY KEY (username, id)
) WITHOUT ROWID;
";

/// [`UserStore`] and [`SessionStore`] over one SQLite file; several handles and processes may
/// open the same file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    /// `<db>.writer-lock`: see the module docs.
    writer_lock: PathBuf,
    idle: Mutex<Vec<Connection>>,
    metrics: Arc<Metrics>,
    /// Commits waiting for the next group commit.
    pending: Mutex<Vec<PendingCommit>>,
    /// One batch at a time per handle (other handles and processes queue on the flock).
    batch_turn: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct PendingCommit {
    username: Username,
    fence: Fence,
    entry: JournalEntry,
    last_access: i64,
    expires_at: i64,
    done: tokio::sync::oneshot::Sender<Result<()>>,
}

impl SqliteStore {
    /// Open (creating if needed) the database at `path`.
    pub fn open(path: PathBuf, metrics: Arc<Metrics>) -> Result<Self, LocalStoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        private_file(&path)?;
        let mut conn = connect(&path)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(LocalStoreError::corrupt(format!(
                "{} has schema version {version}, newer than this build's {SCHEMA_VERSION}",
                path.display()
            )));
        }
        if (1..3).contains(&version) {
            // Columns of schema 3 on tables an older schema created (CREATE TABLE IF NOT
            // EXISTS leaves those as they are).
            tx.execute_batch(
                "ALTER TABLE users ADD COLUMN tokens_not_before INTEGER NOT NULL DEFAULT 0;",
            )?;
            if version == 2 {
                tx.execute_batch("ALTER TABLE user_names ADD COLUMN claimed_by TEXT;")?;
            }
        }
        tx.execute_batch(SCHEMA)?;
        if version < 2 {
            // Users of schema 1 had ASCII names only, for which SQLite's ASCII `lower` is
            // exactly `Username::folded`.
            tx.execute(
                "INSERT OR IGNORE INTO user_names (folded) SELECT lower(username) FROM users",
                [],
            )?;
        }
        if version < 3 {
            // The same holds for the claims of ASCII names; others stay unattributed (and so
            // reserved for good).
            tx.execute(
                "UPDATE user_names SET claimed_by = (SELECT min(username) FROM users
                     WHERE lower(users.username) = user_names.folded)
                 WHERE claimed_by IS NULL",
                [],
            )?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tx.commit()?;
        let mut writer_lock = path.clone().into_os_string();
        writer_lock.push(".writer-lock");
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writer_lock: writer_lock.into(),
                idle: Mutex::new(vec![conn]),
                metrics,
                pending: Mutex::new(Vec::new()),
                batch_turn: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Like [`Self::with_conn`], holding the writer lock for the duration of `f`.
    async fn with_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let lock = self.inner.writer_lock.clone();
        self.with_conn(move |c| {
            let _held = lock_writer(&lock)?;
            f(c)
        })
        .await
    }

    /// Queue a commit and make sure a batch will run it. The batch runs in its own task, so a
    /// caller that goes away (a cancelled request) never strands queued commits.
    async fn group_commit(
        &self,
        job: PendingCommit,
        rx: tokio::sync::oneshot::Receiver<Result<()>>,
    ) -> StoreResult<()> {
        self.inner.pending.lock().push(job);
        let this = self.clone();
        tokio::spawn(async move {
            let _turn = this.inner.batch_turn.lock().await;
            let batch = std::mem::take(&mut *this.inner.pending.lock());
            if batch.is_empty() {
                return; // an earlier batch took ours
            }
            let lock = this.inner.writer_lock.clone();
            let ran = this
                .with_conn(move |c| {
                    run_batch(c, &lock, batch);
                    Ok(())
                })
                .await;
            if let Err(e) = ran {
                tracing::error!(error = %e, "group commit task failed");
            }
        });
        match rx.await {
            Ok(result) => Ok(result?),
            // The batch died before answering (a panic): the commit may or may not have landed.
            Err(_) => Err(javumbo_session::StoreError::Unavailable(
                "group commit ended without a result".into(),
            )),
        }
    }

    /// Run `f` on a pooled connection on the blocking pool.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        let inner = Arc::clone(&self.inner);
        let out = tokio::task::spawn_blocking(move || {
            let pooled = inner.idle.lock().pop();
            let mut conn = match pooled {
                Some(c) => c,
                None => connect(&inner.path)?,
            };
            let out = f(&mut conn);
            // A connection that hit an unexpected error may be mid-transaction or broken:
            // drop it rather than hand it to the next caller.
            if matches!(out, Ok(_) | Err(LocalStoreError::ConditionFailed)) {
                let mut idle = inner.idle.lock();
                if idle.len() < MAX_IDLE {
                    idle.push(conn);
                }
            }
            out
        })
        .await
        .map_err(LocalStoreError::from)?;
        Ok(out?)
    }
}

/// Users' password hashes live here: the file is the owner's only (0600), like the blobs and the
/// JWT secret. SQLite gives its -wal and -shm files the database file's mode, so creating (or
/// tightening) the main file first covers all three.
fn private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(LocalStoreError::corrupt(format!(
            "{} refused WAL mode (got {mode})",
            path.display()
        )));
    }
    conn.execute_batch("PRAGMA synchronous=FULL;")?;
    Ok(conn)
}

fn to_i64(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v)
        .map_err(|_| LocalStoreError::InvalidArgument(format!("{what} {v} exceeds i64")))
}

fn to_u64(v: i64, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| LocalStoreError::corrupt(format!("negative {what} {v}")))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Insert the user row and claim its folded name in one transaction. A registration
/// (`migrated` false) is refused when either exists; a migrated user only when the exact name
/// does (the original app was case-sensitive), its folded name claimed if still free.
fn insert_user(c: &mut Connection, user: &UserRecord, migrated: bool) -> Result<bool> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let claimed = tx.execute(
        "INSERT INTO user_names (folded, claimed_by) VALUES (?1, ?2) ON CONFLICT (folded) DO NOTHING",
        params![user.username.folded(), user.username.as_str()],
    )? == 1;
    if !claimed && !migrated {
        return Ok(false); // dropping `tx` rolls back
    }
    let inserted = tx.execute(
        "INSERT INTO users (username, password_hash, name, created_at, tokens_not_before)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (username) DO NOTHING",
        params![
            user.username.as_str(),
            user.password_hash,
            user.name,
            user.created_at,
            user.revocation.not_before
        ],
    )? == 1;
    if inserted {
        tx.commit()?;
    }
    Ok(inserted)
}

fn parse_username(s: &str) -> Result<Username> {
    Username::parse(s)
        .map_err(|_| LocalStoreError::corrupt(format!("stored username {s:?} is invalid")))
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_if_absent(&self, user: &UserRecord) -> StoreResult<bool> {
        Metrics::incr(&self.inner.metrics.table_write);
        let user = user.clone();
        self.with_writer(move |c| insert_user(c, &user, false))
            .await
    }

    async fn create_migrated(&self, user: &UserRecord) -> StoreResult<bool> {
        Metrics::incr(&self.inner.metrics.table_write);
        let user = user.clone();
        self.with_writer(move |c| insert_user(c, &user, true)).await
    }

    async fn name_taken(&self, username: &Username) -> StoreResult<bool> {
        Metrics::incr(&self.inner.metrics.table_read);
        let username = username.clone();
        self.with_conn(move |c| {
            Ok(c.query_row(
                "SELECT EXISTS (SELECT 1 FROM users WHERE username = ?1)
                     OR EXISTS (SELECT 1 FROM user_names WHERE folded = ?2)",
                params![username.as_str(), username.folded()],
                |r| r.get::<_, bool>(0),
            )?)
        })
        .await
    }

    async fn get(&self, username: &Username) -> StoreResult<Option<UserRecord>> {
        Metrics::incr(&self.inner.metrics.table_read);
        let username = username.clone();
        self.with_conn(move |c| {
            let row = c
                .prepare_cached(
                    "SELECT password_hash, name, created_at, tokens_not_before FROM users
                     WHERE username = ?1",
                )?
                .query_row([username.as_str()], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .optional()?;
            let Some((password_hash, name, created_at, not_before)) = row else {
                return Ok(None);
            };
            let revoked = c
                .prepare_cached("SELECT jti, expires_at FROM revoked_tokens WHERE username = ?1")?
                .query_map([username.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Some(UserRecord {
                username,
                password_hash,
                name,
                created_at,
                revocation: TokenRevocation {
                    not_before,
                    revoked,
                },
            }))
        })
        .await
    }

    async fn update_password_hash(
        &self,
        username: &Username,
        expected: &str,
        new_hash: &str,
    ) -> StoreResult<()> {
        Metrics::incr(&self.inner.metrics.table_write);
        let (username, expected, new_hash) =
            (username.clone(), expected.to_owned(), new_hash.to_owned());
        self.with_writer(move |c| {
            // One statement is one atomic compare-and-swap; no explicit transaction needed.
            let n = c.execute(
                "UPDATE users SET password_hash = ?1 WHERE username = ?2 AND password_hash = ?3",
                params![new_hash, username.as_str(), expected],
            )?;
            if n == 1 {
                Ok(())
            } else {
                Err(LocalStoreError::ConditionFailed)
            }
        })
        .await
    }

    async fn revoke_token(
        &self,
        username: &Username,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        Metrics::incr(&self.inner.metrics.table_write);
        let (username, jti) = (username.clone(), jti.to_owned());
        self.with_writer(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "INSERT INTO revoked_tokens (username, jti, expires_at)
                 SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM users WHERE username = ?1)
                 ON CONFLICT (username, jti) DO UPDATE SET expires_at = excluded.expires_at",
                params![username.as_str(), jti, expires_at],
            )?;
            if n != 1 {
                return Err(LocalStoreError::ConditionFailed);
            }
            tx.execute(
                "DELETE FROM revoked_tokens WHERE username = ?1 AND expires_at < ?2",
                params![username.as_str(), now],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn revoke_all_tokens(
        &self,
        username: &Username,
        not_before: i64,
        password: Option<(&str, &str)>,
    ) -> StoreResult<()> {
        Metrics::incr(&self.inner.metrics.table_write);
        let username = username.clone();
        let password = password.map(|(a, b)| (a.to_owned(), b.to_owned()));
        self.with_writer(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = match &password {
                Some((expected, new_hash)) => tx.execute(
                    "UPDATE users SET password_hash = ?3,
                         tokens_not_before = max(tokens_not_before, ?2)
                     WHERE username = ?1 AND password_hash = ?4",
                    params![username.as_str(), not_before, new_hash, expected],
                )?,
                None => tx.execute(
                    "UPDATE users SET tokens_not_before = max(tokens_not_before, ?2)
                     WHERE username = ?1",
                    params![username.as_str(), not_before],
                )?,
            };
            if n != 1 {
                return Err(LocalStoreError::ConditionFailed);
            }
            tx.execute(
                "DELETE FROM revoked_tokens WHERE username = ?1",
                [username.as_str()],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn delete_user(&self, username: &Username) -> StoreResult<()> {
        Metrics::incr(&self.inner.metrics.table_write);
        let username = username.clone();
        self.with_writer(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for sql in [
                "DELETE FROM users WHERE username = ?1",
                "DELETE FROM device_keys WHERE username = ?1",
                "DELETE FROM revoked_tokens WHERE username = ?1",
                "DELETE FROM user_names WHERE claimed_by = ?1",
            ] {
                tx.execute(sql, [username.as_str()])?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl DeviceKeyStore for SqliteStore {
    async fn put_device_key(&self, username: &Username, key: &DeviceKey) -> StoreResult<()> {
        Metrics::incr(&self.inner.metrics.table_write);
        let (username, key) = (username.clone(), key.clone());
        self.with_writer(move |c| {
            // Conditional on the user existing and the id being new, in one statement.
            let n = c.execute(
                "INSERT INTO device_keys (username, id, key_hash, label, created_at, last_used_at)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM users WHERE username = ?1)
                 ON CONFLICT (username, id) DO NOTHING",
                params![
                    username.as_str(),
                    key.id,
                    key.key_hash,
                    key.label,
                    key.created_at,
                    key.last_used_at
                ],
            )?;
            if n == 1 {
                Ok(())
            } else {
                Err(LocalStoreError::ConditionFailed)
            }
        })
        .await
    }

    async fn device_keys(&self, username: &Username) -> StoreResult<Vec<DeviceKey>> {
        Metrics::incr(&self.inner.metrics.table_read);
        let username = username.clone();
        self.with_conn(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, key_hash, label, created_at, last_used_at FROM device_keys
                 WHERE username = ?1 ORDER BY created_at, id",
            )?;
            let rows = stmt.query_map([username.as_str()], |r| {
                Ok(DeviceKey {
                    id: r.get(0)?,
                    key_hash: r.get(1)?,
                    label: r.get(2)?,
                    created_at: r.get(3)?,
                    last_used_at: r.get(4)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn delete_device_key(&self, username: &Username, id: &str) -> StoreResult<bool> {
        Metrics::incr(&self.inner.metrics.table_write);
        let (username, id) = (username.clone(), id.to_owned());
        self.with_writer(move |c| {
            let n = c.execute(
                "DELETE FROM device_keys WHERE username = ?1 AND id = ?2",
                params![username.as_str(), id],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn touch_device_key(&self, username: &Username, id: &str, at_ms: i64) -> StoreResult<()> {
        Metrics::incr(&self.inner.metrics.table_write);
        let (username, id) = (username.clone(), id.to_owned());
        self.with_writer(move |c| {
            c.execute(
                "UPDATE device_keys SET last_used_at = max(last_used_at, ?3)
                 WHERE username = ?1 AND id = ?2",
                params![username.as_str(), id, at_ms],
            )?;
            Ok(())
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions and journal
// ---------------------------------------------------------------------------------------------

/// The fields a condition looks at.
struct Version {
    owner: Option<String>,
    epoch: u64,
    seq: u64,
    status: SessionStatus,
}

fn read_version(c: &Connection, username: &Username) -> Result<Option<Version>> {
    let row = c
        .query_row(
            "SELECT owner, epoch, seq, status FROM sessions WHERE username = ?1",
            [username.as_str()],
            |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )
        .optional()?;
    row.map(|(owner, epoch, seq, status)| {
        Ok(Version {
            owner,
            epoch: to_u64(epoch, "epoch")?,
            seq: to_u64(seq, "seq")?,
            status: SessionStatus::parse(&status).ok_or_else(|| {
                LocalStoreError::corrupt(format!("unknown session status {status:?}"))
            })?,
        })
    })
    .transpose()
}

fn session_from_row(r: &Row<'_>) -> Result<SessionItem> {
    let status: String = r.get("status")?;
    Ok(SessionItem {
        username: parse_username(&r.get::<_, String>("username")?)?,
        session_id: r.get("session_id")?,
        owner: r.get("owner")?,
        epoch: to_u64(r.get("epoch")?, "epoch")?,
        status: SessionStatus::parse(&status).ok_or_else(|| {
            LocalStoreError::corrupt(format!("unknown session status {status:?}"))
        })?,
        seq: to_u64(r.get("seq")?, "seq")?,
        snapshot_seq: to_u64(r.get("snapshot_seq")?, "snapshot_seq")?,
        requested_by: r.get("requested_by")?,
        last_access: r.get("last_access")?,
        expires_at: r.get("expires_at")?,
    })
}

fn entry_from_row(r: &Row<'_>) -> Result<JournalEntry> {
    let payload = match (
        r.get::<_, Option<Vec<u8>>>("payload")?,
        r.get::<_, Option<String>>("spill_key")?,
    ) {
        (Some(bytes), None) => JournalPayload::Inline(Bytes::from(bytes)),
        (None, Some(blob_key)) => {
            let len: Option<i64> = r.get("spill_len")?;
            let len = len
                .ok_or_else(|| LocalStoreError::corrupt("spilled journal entry without length"))?;
            JournalPayload::Spilled {
                blob_key,
                len: to_u64(len, "spill_len")?,
            }
        }
        _ => {
            return Err(LocalStoreError::corrupt(
                "journal entry with both or neither payload",
            ));
        }
    };
    Ok(JournalEntry {
        seq: to_u64(r.get("seq")?, "seq")?,
        payload,
        request_id: r.get("request_id")?,
        at_ms: r.get("at_ms")?,
        schema_fingerprint: r.get("schema_fp")?,
    })
}

fn put_session(c: &mut Connection, item: &SessionItem, expect: &SessionExpect) -> Result<()> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current = read_version(&tx, &item.username)?;
    let holds = match (expect, &current) {
        (SessionExpect::Absent, None) => true,
        (
            SessionExpect::Version {
                epoch,
                seq,
                status,
                owner,
            },
            Some(cur),
        ) => cur.epoch == *epoch && cur.seq == *seq && cur.status == *status && cur.owner == *owner,
        _ => false,
    };
    if !holds {
        return Err(LocalStoreError::ConditionFailed);
    }
    tx.execute(
        "INSERT OR REPLACE INTO sessions
             (username, session_id, owner, epoch, status, seq, snapshot_seq, requested_by, last_access, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            item.username.as_str(),
            item.session_id,
            item.owner,
            to_i64(item.epoch, "epoch")?,
            item.status.as_str(),
            to_i64(item.seq, "seq")?,
            to_i64(item.snapshot_seq, "snapshot_seq")?,
            item.requested_by,
            item.last_access,
            item.expires_at,
        ],
    )?;
    tx.commit()?;
    Ok(())
}

/// Write one batch of commits: one transaction (one fsync), a savepoint per commit. Every
/// commit gets its own answer; if the transaction itself fails, all get that failure.
fn run_batch(c: &mut Connection, writer_lock: &Path, batch: Vec<PendingCommit>) {
    let outcome = (|| -> Result<Vec<Result<()>>> {
        let _held = lock_writer(writer_lock)?;
        let mut tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut each = Vec::with_capacity(batch.len());
        for job in &batch {
            let sp = tx.savepoint()?;
            let r = commit_entry(
                &sp,
                &job.username,
                &job.fence,
                &job.entry,
                job.last_access,
                job.expires_at,
            );
            if r.is_ok() {
                sp.commit()?;
            } // else dropping the savepoint rolls this commit back, and only this one
            each.push(r);
        }
        tx.commit()?;
        Ok(each)
    })();
    match outcome {
        Ok(each) => {
            for (job, r) in batch.into_iter().zip(each) {
                let _ = job.done.send(r);
            }
        }
        Err(e) => {
            // Nothing of the batch is committed (SQLite rolls back a failed COMMIT), but the
            // error keeps its kind so callers see `Unavailable` for a busy or I/O failure.
            let shared = std::sync::Arc::new(e);
            for job in batch {
                let err = LocalStoreError::Shared(shared.clone());
                let _ = job.done.send(Err(err));
            }
        }
    }
}

/// Exclusive writer lock, released when the returned file is dropped. Each call opens its own
/// file description, so it excludes other threads of this process as well as other processes.
fn lock_writer(path: &Path) -> Result<File> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    f.lock()?;
    Ok(f)
}

fn commit_entry(
    tx: &Connection,
    username: &Username,
    fence: &Fence,
    entry: &JournalEntry,
    last_access: i64,
    expires_at: i64,
) -> Result<()> {
    if fence.seq.checked_add(1) != Some(entry.seq) {
        return Err(LocalStoreError::InvalidArgument(format!(
            "journal entry seq {} does not follow fence seq {}",
            entry.seq, fence.seq
        )));
    }
    let seq = to_i64(entry.seq, "seq")?;

    // A retry of a commit that already landed: report success without applying it again.
    let token = tx
        .query_row(
            "SELECT username, seq FROM commit_tokens WHERE request_id = ?1",
            [&entry.request_id],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
        )
        .optional()?;
    if let Some((user, token_seq)) = token {
        return if user == username.as_str() && token_seq == seq {
            Ok(())
        } else {
            Err(LocalStoreError::InvalidArgument(format!(
                "request id {:?} was already used for {user} seq {token_seq}",
                entry.request_id
            )))
        };
    }

    let fenced = read_version(tx, username)?.is_some_and(|v| {
        v.owner.as_deref() == Some(fence.owner.as_str())
            && v.epoch == fence.epoch
            && v.seq == fence.seq
            && v.status == SessionStatus::Active
    });
    if !fenced {
        return Err(LocalStoreError::ConditionFailed);
    }

    let (payload, spill_key, spill_len) = match &entry.payload {
        JournalPayload::Inline(b) => (Some(b.to_vec()), None, None),
        JournalPayload::Spilled { blob_key, len } => (
            None,
            Some(blob_key.as_str()),
            Some(to_i64(*len, "spill_len")?),
        ),
    };
    tx.execute(
        "INSERT INTO journal (username, seq, payload, spill_key, spill_len, request_id, at_ms, schema_fp)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            username.as_str(),
            seq,
            payload,
            spill_key,
            spill_len,
            entry.request_id,
            entry.at_ms,
            entry.schema_fingerprint
        ],
    )?;
    tx.execute(
        "UPDATE sessions SET seq = ?1, last_access = ?2, expires_at = ?3 WHERE username = ?4",
        params![seq, last_access, expires_at, username.as_str()],
    )?;
    tx.execute(
        "INSERT INTO commit_tokens (request_id, username, seq, created_ms) VALUES (?1, ?2, ?3, ?4)",
        params![entry.request_id, username.as_str(), seq, now_ms()],
    )?;
    Ok(())
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn get(&self, username: &Username) -> StoreResult<Option<SessionItem>> {
        Metrics::incr(&self.inner.metrics.table_read);
        let username = username.clone();
        self.with_conn(move |c| {
            let mut stmt = c.prepare_cached("SELECT * FROM sessions WHERE username = ?1")?;
            let mut rows = stmt.query([username.as_str()])?;
            rows.next()?.map(session_from_row).transpose()
        })
        .await
    }

    async fn put(&self, item: &SessionItem, expect: SessionExpect) -> StoreResult<()> {
        Metrics::incr(&self.inner.metrics.table_write);
        let item = item.clone();
        self.with_writer(move |c| put_session(c, &item, &expect))
            .await
    }

    async fn commit(
        &self,
        username: &Username,
        fence: &Fence,
        entry: &JournalEntry,
        last_access: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        Metrics::incr(&self.inner.metrics.journal_commit);
        let (done, rx) = tokio::sync::oneshot::channel();
        let job = PendingCommit {
            username: username.clone(),
            fence: fence.clone(),
            entry: entry.clone(),
            last_access,
            expires_at,
            done,
        };
        self.group_commit(job, rx).await
    }

    async fn journal(
        &self,
        username: &Username,
        after: u64,
        upto: u64,
    ) -> StoreResult<Vec<JournalEntry>> {
        Metrics::incr(&self.inner.metrics.journal_read);
        let username = username.clone();
        self.with_conn(move |c| {
            // Bounds past i64::MAX cannot match a stored seq; clamping keeps `upto = u64::MAX`
            // ("everything") usable.
            let (after, upto) = (
                after.min(i64::MAX as u64) as i64,
                upto.min(i64::MAX as u64) as i64,
            );
            let mut stmt = c.prepare_cached(
                "SELECT * FROM journal WHERE username = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
            )?;
            let mut rows = stmt.query(params![username.as_str(), after, upto])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(entry_from_row(r)?);
            }
            Ok(out)
        })
        .await
    }

    async fn trim_journal(&self, username: &Username, upto: u64) -> StoreResult<()> {
        Metrics::incr(&self.inner.metrics.table_write);
        let username = username.clone();
        self.with_writer(move |c| {
            let upto = upto.min(i64::MAX as u64) as i64;
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "DELETE FROM journal WHERE username = ?1 AND seq <= ?2",
                params![username.as_str(), upto],
            )?;
            // Flushes are rare next to commits, so expired retry tokens are swept here.
            tx.execute(
                "DELETE FROM commit_tokens WHERE created_ms < ?1",
                [now_ms() - TOKEN_TTL_MS],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn delete_session(&self, username: &Username) -> StoreResult<()> {
        Metrics::incr(&self.inner.metrics.table_write);
        let username = username.clone();
        self.with_writer(move |c| {
            c.execute(
                "DELETE FROM sessions WHERE username = ?1",
                [username.as_str()],
            )?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use javumbo_session::StoreError;

    fn store() -> (tempfile::TempDir, SqliteStore, Arc<Metrics>) {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Arc::new(Metrics::default());
        let store =
            SqliteStore::open(dir.path().join("db/store.sqlite3"), Arc::clone(&metrics)).unwrap();
        (dir, store, metrics)
    }

    /// The database and its -wal/-shm hold password hashes: no one but the owner reads them.
    #[tokio::test]
    async fn the_database_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, store, _) = store();
        let record = UserRecord {
            username: Username::parse("ana").unwrap(),
            password_hash: "h".into(),
            name: "Ana".into(),
            created_at: 1,
            revocation: TokenRevocation::default(),
        };
        assert!(store.create_if_absent(&record).await.unwrap());
        for name in ["store.sqlite3", "store.sqlite3-wal", "store.sqlite3-shm"] {
            let meta = std::fs::metadata(dir.path().join("db").join(name)).unwrap();
            assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{name}");
        }
    }

    /// A schema-1 database (users, no folded-name records) gains the records of its users on
    /// open, so a registration cannot take another case of an existing name.
    #[tokio::test]
    async fn schema_1_users_claim_their_folded_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite3");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE users (username TEXT PRIMARY KEY NOT NULL, password_hash TEXT NOT NULL,
                     name TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
                 INSERT INTO users VALUES ('Ana_01', 'h', 'Ana', 1);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let store = SqliteStore::open(path, Arc::new(Metrics::default())).unwrap();
        let variant = Username::parse("aNA_01").unwrap();
        assert!(store.name_taken(&variant).await.unwrap());
        let record = UserRecord {
            username: variant.clone(),
            password_hash: "x".into(),
            name: "n".into(),
            created_at: 2,
            revocation: TokenRevocation::default(),
        };
        assert!(!store.create_if_absent(&record).await.unwrap());
        // Schema 3's columns were added: the old user reads, revokes and deletes.
        let ana = Username::parse("Ana_01").unwrap();
        store.revoke_token(&ana, "t1", 10, 5).await.unwrap();
        let read = UserStore::get(&store, &ana).await.unwrap().unwrap();
        assert!(read.revocation.voids("t1", 0));
        store.delete_user(&ana).await.unwrap();
        assert!(
            !store.name_taken(&variant).await.unwrap(),
            "its claim went with it"
        );
    }

    fn item(user: &Username) -> SessionItem {
        SessionItem {
            username: user.clone(),
            session_id: "s1".into(),
            owner: Some("c1".into()),
            epoch: 1,
            status: SessionStatus::Active,
            seq: 0,
            snapshot_seq: 0,
            requested_by: None,
            last_access: 1,
            expires_at: 2,
        }
    }

    fn entry(seq: u64, request_id: &str) -> JournalEntry {
        JournalEntry {
            seq,
            payload: JournalPayload::Inline(Bytes::from_static(b"cs")),
            request_id: request_id.into(),
            at_ms: 5,
            schema_fingerprint: "fp".into(),
        }
    }

    #[tokio::test]
    async fn wal_and_full_sync_are_in_effect() {
        let (dir, store, _) = store();
        let c = connect(&dir.path().join("db/store.sqlite3")).unwrap();
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let sync: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!((mode.as_str(), sync), ("wal", 2));
        // Reopening an existing file is a no-op migration.
        drop(store);
        SqliteStore::open(dir.path().join("db/store.sqlite3"), Arc::default()).unwrap();
    }

    /// Many concurrent commits share batches; a refused one (stale fence, reused request id)
    /// fails alone and every other commit of its batch lands exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn group_commit_isolates_each_commit_in_its_batch() {
        let (_dir, store, _) = store();
        let users: Vec<Username> = (0..40)
            .map(|i| Username::parse(&format!("g{i}")).unwrap())
            .collect();
        for u in &users {
            store.put(&item(u), SessionExpect::Absent).await.unwrap();
        }
        let mut tasks = Vec::new();
        for (i, u) in users.iter().cloned().enumerate() {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                // Every fifth commit carries a stale fence.
                let fence = Fence {
                    owner: "c1".into(),
                    epoch: 1,
                    seq: if i % 5 == 0 { 7 } else { 0 },
                };
                let e = entry(fence.seq + 1, &format!("req-{i}"));
                (i, store.commit(&u, &fence, &e, 1, 2).await)
            }));
        }
        for t in tasks {
            let (i, r) = t.await.unwrap();
            let u = &users[i];
            let got = SessionStore::get(&store, u).await.unwrap().unwrap().seq;
            if i % 5 == 0 {
                assert!(matches!(r, Err(StoreError::ConditionFailed)), "{i}: {r:?}");
                assert_eq!(got, 0);
                assert!(store.journal(u, 0, u64::MAX).await.unwrap().is_empty());
            } else {
                r.unwrap();
                assert_eq!(got, 1);
                assert_eq!(store.journal(u, 0, u64::MAX).await.unwrap().len(), 1);
            }
        }
    }

    #[tokio::test]
    async fn commit_rejects_a_non_consecutive_entry() {
        let (_dir, store, _) = store();
        let u = Username::parse("nonconsec").unwrap();
        store.put(&item(&u), SessionExpect::Absent).await.unwrap();
        let fence = Fence {
            owner: "c1".into(),
            epoch: 1,
            seq: 0,
        };
        let err = store.commit(&u, &fence, &entry(2, "r"), 1, 2).await;
        assert!(matches!(err, Err(StoreError::Other(_))), "{err:?}");
        assert!(store.journal(&u, 0, u64::MAX).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn reused_request_id_for_another_entry_is_refused() {
        let (_dir, store, _) = store();
        let u = Username::parse("reuse").unwrap();
        store.put(&item(&u), SessionExpect::Absent).await.unwrap();
        store
            .commit(
                &u,
                &Fence {
                    owner: "c1".into(),
                    epoch: 1,
                    seq: 0,
                },
                &entry(1, "r"),
                1,
                2,
            )
            .await
            .unwrap();
        let err = store
            .commit(
                &u,
                &Fence {
                    owner: "c1".into(),
                    epoch: 1,
                    seq: 1,
                },
                &entry(2, "r"),
                1,
                2,
            )
            .await;
        assert!(matches!(err, Err(StoreError::Other(_))), "{err:?}");
        assert_eq!(SessionStore::get(&store, &u).await.unwrap().unwrap().seq, 1);
    }

    #[tokio::test]
    async fn calls_are_counted() {
        let (_dir, store, metrics) = store();
        let u = Username::parse("counted").unwrap();
        store.put(&item(&u), SessionExpect::Absent).await.unwrap();
        SessionStore::get(&store, &u).await.unwrap();
        store
            .commit(
                &u,
                &Fence {
                    owner: "c1".into(),
                    epoch: 1,
                    seq: 0,
                },
                &entry(1, "x"),
                1,
                2,
            )
            .await
            .unwrap();
        store.journal(&u, 0, 1).await.unwrap();
        let s = metrics.snapshot();
        assert_eq!(
            (
                s["table_write"],
                s["table_read"],
                s["journal_commit"],
                s["journal_read"]
            ),
            (1, 1, 1, 1)
        );
    }
}
