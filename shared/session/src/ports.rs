//! The narrow storage traits the session protocol runs on (`docs/ARCHITECTURE.md#ports`). Each
//! has an embedded adapter (`javumbo-storage-local`, the default) and an AWS adapter (S3 /
//! DynamoDB / SNS); the semantics below are exactly what those services guarantee, so one
//! conformance suite (`crate::conformance`) holds both to them.
//!
//! Every adapter counts its calls in the container's [`Metrics`](crate::metrics::Metrics):
//! `blob_get`/`blob_put`/`blob_delete` per blob call, `table_read`/`table_write` per item call,
//! `journal_commit` per fenced commit, `journal_read` per journal query, `bus_publish` per publish.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::username::Username;

/// Failures of a store call. `ConditionFailed` is a definite "no" (nothing was written);
/// `Unavailable` is ambiguous (the write may or may not have happened) and callers must treat
/// it that way.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("condition failed")]
    ConditionFailed,
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A definite failure that is not a precondition: the adapter's own error, kept whole.
    #[error("store error: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// `Other`, caused by an adapter's error.
    pub fn other(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Other(Box::new(cause))
    }
}

/// Causes are not comparable, so two `Other`s are equal when they say the same thing; the
/// protocol itself only ever compares against `ConditionFailed`.
impl PartialEq for StoreError {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::ConditionFailed, Self::ConditionFailed) => true,
            (Self::Unavailable(a), Self::Unavailable(b)) => a == b,
            (Self::Other(a), Self::Other(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
}

impl Eq for StoreError {}

pub type StoreResult<T> = Result<T, StoreError>;

// ---------------------------------------------------------------------------------------------
// Blobs (S3)
// ---------------------------------------------------------------------------------------------

/// An object with its entity tag and user metadata (S3 `x-amz-meta-*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub bytes: Bytes,
    /// Opaque; changes whenever the content changes (embedded: a content hash; S3: its ETag).
    pub etag: String,
    pub metadata: BTreeMap<String, String>,
}

/// Precondition of a blob write (S3 `If-None-Match: *` / `If-Match`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutCondition {
    /// Unconditional overwrite.
    Any,
    /// Only if no object exists under the key.
    IfAbsent,
    /// Only if the current object's etag equals this one.
    IfMatch(String),
}

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Read-after-write consistent read (S3 has been strongly consistent since 2020).
    async fn get(&self, key: &str) -> StoreResult<Option<Blob>>;
    /// Write the whole object atomically (readers see the old or the new object, never a mix).
    /// Returns the new etag. A failed precondition is `ConditionFailed` and writes nothing.
    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        metadata: BTreeMap<String, String>,
        condition: PutCondition,
    ) -> StoreResult<String>;
    /// Delete; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> StoreResult<()>;
    /// Delete for good (account deletion): the object `key`, or, when `key` ends in `/`, every
    /// object under that prefix — each with every older version the store keeps (S3
    /// versioning). Missing keys are not an error; returns how many objects and versions went.
    async fn purge(&self, key: &str) -> StoreResult<u64> {
        let _ = key;
        Err(StoreError::Other("this store cannot purge".into()))
    }
    /// A URL that lets whoever holds it read `key` with a plain GET (no other credential) for
    /// `ttl`, saved as `download_name`: how a large export leaves a function whose answers are
    /// bounded (Lambda's 6 MB). `None` when the store has no such URLs (the embedded store: the
    /// API serves the bytes itself).
    async fn presigned_get(
        &self,
        key: &str,
        ttl: std::time::Duration,
        download_name: &str,
    ) -> StoreResult<Option<String>> {
        let _ = (key, ttl, download_name);
        Ok(None)
    }
    /// A URL that lets whoever holds it write `key` with a plain PUT for `ttl`: how a large
    /// import reaches the store without passing through a bounded function. `None` when the
    /// store has no such URLs.
    async fn presigned_put(
        &self,
        key: &str,
        ttl: std::time::Duration,
    ) -> StoreResult<Option<String>> {
        let _ = (key, ttl);
        Ok(None)
    }
}

// ---------------------------------------------------------------------------------------------
// Users (DynamoDB `users`)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub username: Username,
    /// PHC string: argon2id, or a bcrypt `$2b$` hash migrated from the Python app.
    pub password_hash: String,
    pub name: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Which of the user's access tokens are void.
    pub revocation: TokenRevocation,
}

/// Access tokens (API bearer tokens) a user has voided, kept on the user's record so that the
/// check costs no read beyond the record itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRevocation {
    /// Epoch seconds: every token issued before this instant is void (a password change).
    pub not_before: i64,
    /// Single tokens voided by a logout: token id (`jti`) → the token's own expiry (epoch
    /// seconds). An entry is useless once that passes, and stores drop it on a later write.
    pub revoked: BTreeMap<String, i64>,
}

impl TokenRevocation {
    /// Whether a token with this id, issued at `issued_at` (epoch seconds), is void.
    pub fn voids(&self, jti: &str, issued_at: i64) -> bool {
        issued_at < self.not_before || self.revoked.contains_key(jti)
    }
}

#[async_trait]
pub trait UserStore: DeviceKeyStore + Send + Sync + 'static {
    /// Register a new user: insert unless a user has this name **or a name that folds to the
    /// same** ([`Username::folded`]), atomically with a uniqueness record of the folded name
    /// (`Ok(false)` when refused). New registrations are unique case-insensitively.
    async fn create_if_absent(&self, user: &UserRecord) -> StoreResult<bool>;
    /// Bring in a user of the original app, where uniqueness was exact: insert unless a user has
    /// exactly this name (`Ok(false)`). A case variant may already exist (`Aghnes` / `aghnes`);
    /// both keep working. The folded name is claimed in the same atomic write either way, so no
    /// later registration can take a third variant.
    async fn create_migrated(&self, user: &UserRecord) -> StoreResult<bool>;
    /// Whether [`create_if_absent`](UserStore::create_if_absent) would refuse this name now
    /// (a cheap early answer for registration; the create still decides a race).
    async fn name_taken(&self, username: &Username) -> StoreResult<bool>;
    /// Strongly consistent read.
    async fn get(&self, username: &Username) -> StoreResult<Option<UserRecord>>;
    /// Replace the password hash only if it still equals `expected` (rehash on login without
    /// clobbering a concurrent password change). `ConditionFailed` otherwise.
    async fn update_password_hash(
        &self,
        username: &Username,
        expected: &str,
        new_hash: &str,
    ) -> StoreResult<()>;
    /// Void one token until `expires_at` (epoch seconds), dropping entries that expired before
    /// `now` (logout). `ConditionFailed` when the user does not exist.
    async fn revoke_token(
        &self,
        username: &Username,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()>;
    /// Void every token issued before `not_before` (epoch seconds; never moves back) and
    /// forget single revocations, which it covers. With `password` `(expected, new)`, replace
    /// the hash in the same atomic write, only if it still equals `expected`
    /// (`ConditionFailed` otherwise, and nothing changes).
    async fn revoke_all_tokens(
        &self,
        username: &Username,
        not_before: i64,
        password: Option<(&str, &str)>,
    ) -> StoreResult<()>;
    /// Delete the user record with its device keys and revocations, and its folded-name claim
    /// when this user made it (a case variant migrated beside it keeps the name reserved).
    /// Deleting a missing user is not an error.
    async fn delete_user(&self, username: &Username) -> StoreResult<()>;
}

/// A sync device key (Anki's "host key"): a random secret handed to one official client by
/// `/sync/hostKey`. Only its SHA-256 is stored; `id` names it in listings and revocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceKey {
    /// Public identifier (lowercase hex), unique per user.
    pub id: String,
    /// Lowercase hex SHA-256 of the secret.
    pub key_hash: String,
    /// What the client called itself when the key was made (its version string).
    pub label: String,
    /// Epoch milliseconds.
    pub created_at: i64,
    /// Epoch milliseconds; the last sync that started with this key.
    pub last_used_at: i64,
}

/// Device keys live beside the user record (DynamoDB: attributes of the user's item; embedded:
/// a table keyed by user and id), so deleting a user deletes them. Additive to [`UserStore`]:
/// the defaults describe a store that keeps no keys (every sync login then fails cleanly).
#[async_trait]
pub trait DeviceKeyStore: Send + Sync + 'static {
    /// Store a new key for an existing user. `ConditionFailed` when the user does not exist or
    /// already has a key with this id.
    async fn put_device_key(&self, username: &Username, key: &DeviceKey) -> StoreResult<()> {
        let _ = (username, key);
        Err(StoreError::Other("this store keeps no device keys".into()))
    }
    /// Every key of the user (strongly consistent), in no particular order.
    async fn device_keys(&self, username: &Username) -> StoreResult<Vec<DeviceKey>> {
        let _ = username;
        Ok(Vec::new())
    }
    /// Revoke one key; `Ok(false)` when there was none with this id (idempotent).
    async fn delete_device_key(&self, username: &Username, id: &str) -> StoreResult<bool> {
        let _ = (username, id);
        Ok(false)
    }
    /// Set `last_used_at` of an existing key; a missing key is not an error (it was revoked
    /// meanwhile, and the next request will be refused).
    async fn touch_device_key(&self, username: &Username, id: &str, at_ms: i64) -> StoreResult<()> {
        let _ = (username, id, at_ms);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions + journal (DynamoDB `sessions` and `journal`)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Active,
    FlushRequested,
    Flushing,
    Flushed,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::FlushRequested => "flush_requested",
            Self::Flushing => "flushing",
            Self::Flushed => "flushed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => Self::Active,
            "flush_requested" => Self::FlushRequested,
            "flushing" => Self::Flushing,
            "flushed" => Self::Flushed,
            _ => return None,
        })
    }
}

/// The `sessions` item of one user (`docs/ARCHITECTURE.md#durable-state`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionItem {
    pub username: Username,
    pub session_id: String,
    /// Container id of the holder; `None` once flushed.
    pub owner: Option<String>,
    /// Increments on every change of owner.
    pub epoch: u64,
    pub status: SessionStatus,
    /// Last committed journal entry (0 = none ever).
    pub seq: u64,
    /// The last entry known to be folded into the snapshot (advisory: the snapshot's own
    /// metadata is authoritative: it alone says which entries the snapshot contains).
    pub snapshot_seq: u64,
    pub requested_by: Option<String>,
    /// Epoch milliseconds.
    pub last_access: i64,
    /// Epoch seconds (DynamoDB TTL attribute); past it the session counts as free.
    pub expires_at: i64,
}

/// What a conditional session write expects to find. Maps to a DynamoDB condition expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionExpect {
    /// No item for this user (`attribute_not_exists(username)`).
    Absent,
    /// The item exists with exactly these version fields (a compare-and-swap on the version).
    Version {
        epoch: u64,
        seq: u64,
        status: SessionStatus,
        owner: Option<String>,
    },
}

impl SessionExpect {
    /// Expect exactly the version fields of `item`.
    pub fn matching(item: &SessionItem) -> Self {
        Self::Version {
            epoch: item.epoch,
            seq: item.seq,
            status: item.status,
            owner: item.owner.clone(),
        }
    }
}

/// Where a journal entry's changeset lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JournalPayload {
    /// zstd-compressed SQLite changeset, stored in the item.
    Inline(Bytes),
    /// Too large for an item (> ~350 KB compressed): stored in the blob store under this key.
    Spilled { blob_key: String, len: u64 },
}

/// One request's writes: one item of the `journal` table, keyed by user and `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub seq: u64,
    pub payload: JournalPayload,
    /// Id of the request that produced it (idempotency / tracing).
    pub request_id: String,
    /// Epoch milliseconds.
    pub at_ms: i64,
    /// Fingerprint of the collection schema the changeset was captured on; replay refuses a
    /// mismatch (the session extension silently skips tables whose schema differs).
    pub schema_fingerprint: String,
}

/// The fencing token of a journal commit (`docs/ARCHITECTURE.md#fenced-commit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub owner: String,
    pub epoch: u64,
    /// The session's `seq` the writer's cached copy is at; the entry gets `seq + 1`.
    pub seq: u64,
}

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Strongly consistent read of the session item.
    async fn get(&self, username: &Username) -> StoreResult<Option<SessionItem>>;

    /// Write `item` (the whole item) if `expect` holds; `ConditionFailed` otherwise.
    async fn put(&self, item: &SessionItem, expect: SessionExpect) -> StoreResult<()>;

    /// The fenced commit, atomically (one SQLite transaction / one `TransactWriteItems`):
    /// if the item has `owner == fence.owner`, `epoch == fence.epoch`, `seq == fence.seq` and
    /// `status == Active`, put `entry` (whose `seq` must be `fence.seq + 1`) into the journal and
    /// set the item's `seq` to `entry.seq`, `last_access`, `expires_at`. Otherwise
    /// `ConditionFailed` and nothing is written. Retrying with the same `entry.request_id` after
    /// an ambiguous failure must not apply it twice (DynamoDB `ClientRequestToken`).
    async fn commit(
        &self,
        username: &Username,
        fence: &Fence,
        entry: &JournalEntry,
        last_access: i64,
        expires_at: i64,
    ) -> StoreResult<()>;

    /// Journal entries with `after < seq <= upto`, in ascending `seq` order (consistent read).
    async fn journal(
        &self,
        username: &Username,
        after: u64,
        upto: u64,
    ) -> StoreResult<Vec<JournalEntry>>;

    /// Delete journal entries with `seq <= upto` (idempotent).
    async fn trim_journal(&self, username: &Username, upto: u64) -> StoreResult<()>;

    /// Delete the session item unconditionally (account deletion): a commit fenced on it fails
    /// from then on. Deleting a missing item is not an error.
    async fn delete_session(&self, username: &Username) -> StoreResult<()> {
        let _ = username;
        Err(StoreError::Other(
            "this store cannot delete sessions".into(),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Flush bus (SNS)
// ---------------------------------------------------------------------------------------------

/// Asks the flush handler to fold a session's journal into the snapshot: published for a
/// compaction, or by a request that finds the session's flush late.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlushRequest {
    pub username: Username,
    pub session_id: String,
    pub epoch: u64,
    pub requested_by: String,
}

/// At-least-once, unordered delivery to the flush handler. Publishing succeeds even when no
/// handler is up (SNS semantics); duplicates and late deliveries are normal.
#[async_trait]
pub trait FlushBus: Send + Sync + 'static {
    async fn publish(&self, request: &FlushRequest) -> StoreResult<()>;
}

// ---------------------------------------------------------------------------------------------
// The bundle a container runs on
// ---------------------------------------------------------------------------------------------

/// One adapter per port: what the session manager and the flush handler are built from.
#[derive(Clone)]
pub struct Ports {
    pub blobs: Arc<dyn BlobStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub users: Arc<dyn UserStore>,
    pub bus: Arc<dyn FlushBus>,
}

/// Blob key of a user's collection snapshot.
pub fn snapshot_key(username: &Username) -> String {
    format!("user_dbs/{}.anki2", username.storage_key())
}

/// Blob key of a spilled journal entry.
pub fn spill_key(username: &Username, seq: u64) -> String {
    format!("{}{seq}", spill_prefix(username))
}

/// Every spilled journal entry of `username` starts with this (account deletion purges it).
pub fn spill_prefix(username: &Username) -> String {
    format!("journal/{}/", username.storage_key())
}

/// Snapshot metadata key holding the last journal seq folded into it.
pub const SNAPSHOT_SEQ_META: &str = "seq";
