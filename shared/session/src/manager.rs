//! The session manager: the request middleware of DESIGN §5 and the container's cache.
//!
//! One `SessionManager` per container. Requests of one user on one container are serialised by
//! a per-user async mutex; across containers, the fenced journal commit linearises them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use javumbo_collection::{Collection, CollectionError, CreateOptions, SharedClock};
use tokio::time::Instant;

use crate::cache::{CacheEntry, EntryMeta, LruCache};
use crate::flush::{self, FlushOutcome};
use crate::journal;
use crate::metrics::Metrics;
use crate::ports::{
    BlobStore, Fence, FlushBus, FlushRequest, JournalEntry, SessionExpect, SessionItem,
    SessionStatus, SessionStore, StoreError, UserStore, snapshot_key,
};
use crate::username::Username;

/// Retries of one fenced commit after an ambiguous (`Unavailable`) failure. Safe because the
/// store is idempotent on the entry's request id.
const AMBIGUOUS_COMMIT_RETRIES: u32 = 2;

#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Unique per container (uuid).
    pub container_id: String,
    /// Where this container keeps open collection files.
    pub cache_dir: PathBuf,
    pub cache_max_entries: usize,
    pub cache_max_bytes: u64,
    /// Poll budget before a takeover without the holder's flush.
    pub takeover_timeout: Duration,
    pub poll_initial: Duration,
    pub poll_max: Duration,
    /// Fence failures tolerated per request before answering `Busy`.
    pub max_fence_retries: u32,
    /// `expires_at = now + ttl` on every commit and claim.
    pub session_ttl: Duration,
    /// Compressed changesets above this many bytes spill to the blob store.
    pub spill_threshold: usize,
    /// Once the journal holds this many entries past the snapshot, the committing container
    /// asks for a flush (over the bus), which folds them into the snapshot and trims them.
    pub compact_after: u64,
    /// Run SQLite work on the calling task instead of `spawn_blocking`. Only for the
    /// deterministic simulation, whose single-threaded scheduler must see every step.
    pub run_inline: bool,
}

impl SessionConfig {
    pub fn new(container_id: impl Into<String>, cache_dir: PathBuf) -> Self {
        Self {
            container_id: container_id.into(),
            cache_dir,
            cache_max_entries: 256,
            cache_max_bytes: 512 * 1024 * 1024,
            takeover_timeout: Duration::from_secs(5),
            poll_initial: Duration::from_millis(10),
            poll_max: Duration::from_millis(200),
            max_fence_retries: 3,
            session_ttl: Duration::from_secs(3600),
            spill_threshold: 350 * 1024,
            compact_after: 64,
            run_inline: false,
        }
    }
}

#[derive(Clone)]
pub struct Ports {
    pub blobs: Arc<dyn BlobStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub users: Arc<dyn UserStore>,
    pub bus: Arc<dyn FlushBus>,
}

pub struct Served<T> {
    pub value: T,
    pub session_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Client errors map to 4xx (`CollectionError::is_client_error`).
    #[error(transparent)]
    Collection(#[from] CollectionError),
    /// 503 + Retry-After.
    #[error("session busy, retry")]
    Busy { retry_after_secs: u64 },
    /// Flush with a foreign or unknown id → 404.
    #[error("session not found")]
    SessionNotFound,
    #[error("no collection for this user")]
    NoCollection,
    /// 503 when `Unavailable` (ambiguous), else 500.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

/// An error plus the session id, if one was acquired (API.md: `X-Session-ID` on errors too).
#[derive(Debug)]
pub struct Failed {
    pub error: SessionError,
    pub session_id: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionView {
    pub has_session: bool,
    pub session_id: Option<String>,
    /// "active" | "flush_requested" | "flushing" | "flushed" | "none"
    pub status: String,
}

/// Why one attempt of a request did not produce an answer.
enum Attempt {
    /// The state moved under us (fence or claim lost): start over from the session item.
    Retry,
    Fail(SessionError),
}

impl From<SessionError> for Attempt {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Store(StoreError::ConditionFailed) => Self::Retry,
            e => Self::Fail(e),
        }
    }
}

impl From<StoreError> for Attempt {
    fn from(e: StoreError) -> Self {
        SessionError::from(e).into()
    }
}

pub struct SessionManager {
    cfg: SessionConfig,
    ports: Ports,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    cache: parking_lot::Mutex<LruCache>,
    locks: parking_lot::Mutex<HashMap<Username, Arc<tokio::sync::Mutex<()>>>>,
    takeover_waits_ms: parking_lot::Mutex<Vec<u64>>,
}

impl SessionManager {
    pub fn new(
        cfg: SessionConfig,
        ports: Ports,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let cache = LruCache::new(cfg.cache_max_entries, cfg.cache_max_bytes);
        Arc::new(Self {
            cfg,
            ports,
            clock,
            metrics,
            cache: parking_lot::Mutex::new(cache),
            locks: parking_lot::Mutex::new(HashMap::new()),
            takeover_waits_ms: parking_lot::Mutex::new(Vec::new()),
        })
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn container_id(&self) -> &str {
        &self.cfg.container_id
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// Wait before every takeover this container made, in milliseconds (p50/p99 reporting).
    pub fn takeover_waits_ms(&self) -> Vec<u64> {
        self.takeover_waits_ms.lock().clone()
    }

    /// Registration: upload an empty collection (with the starter deck) as the user's snapshot
    /// at seq 0. Ok if one already exists.
    pub async fn create_collection(&self, user: &Username) -> Result<(), SessionError> {
        let dir = self.cfg.cache_dir.clone();
        let clock = self.clock.clone();
        let bytes = self
            .blocking(move || -> Result<Vec<u8>, SessionError> {
                std::fs::create_dir_all(&dir).map_err(CollectionError::from)?;
                let path = dir.join(format!("new-{}.anki2", uuid::Uuid::new_v4().simple()));
                let made = Collection::create(&path, clock, &CreateOptions::default())
                    .map(drop)
                    .and_then(|()| Ok(std::fs::read(&path)?));
                let _ = std::fs::remove_file(&path);
                Ok(made?)
            })
            .await??;
        let put = self
            .ports
            .blobs
            .put(
                &snapshot_key(user),
                bytes.into(),
                flush::snapshot_metadata(0),
                crate::ports::PutCondition::IfAbsent,
            )
            .await;
        match put {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The request middleware (DESIGN §5). `op` may run more than once (fence retries) but its
    /// effects are applied exactly once; `Ok` only after its changes are in the journal.
    pub async fn with_collection<T, F>(&self, user: &Username, op: F) -> Result<Served<T>, Failed>
    where
        F: Fn(&Collection) -> Result<T, CollectionError> + Send + Sync + 'static,
        T: Send + 'static,
    {
        // `requests` and `errors_5xx` are counted once, by the HTTP layer that answers.
        let lock = self.user_lock(user);
        let _serialised = lock.lock().await;
        let op = Arc::new(op);
        let mut session_id = None;
        let mut retries = 0;
        loop {
            match self.attempt(user, &op, &mut session_id).await {
                Ok(value) => {
                    return Ok(Served {
                        value,
                        session_id: session_id.unwrap_or_default(),
                    });
                }
                Err(Attempt::Retry) => {
                    Metrics::incr(&self.metrics.fence_retry);
                    retries += 1;
                    if retries > self.cfg.max_fence_retries {
                        let error = SessionError::Busy {
                            retry_after_secs: 1,
                        };
                        return Err(Failed { error, session_id });
                    }
                }
                Err(Attempt::Fail(error)) => {
                    return Err(Failed { error, session_id });
                }
            }
        }
    }

    async fn attempt<T, F>(
        &self,
        user: &Username,
        op: &Arc<F>,
        session_id: &mut Option<String>,
    ) -> Result<T, Attempt>
    where
        F: Fn(&Collection) -> Result<T, CollectionError> + Send + Sync + 'static,
        T: Send + 'static,
    {
        let entry = self.acquire(user).await?;
        *session_id = Some(entry.meta.session_id.clone());
        let op = op.clone();
        let (mut entry, ran) = self
            .blocking(move || {
                let ran = journal::capture(entry.col(), |c| op(c));
                (entry, ran)
            })
            .await?;
        let (value, raw) = match ran {
            Ok(v) => v,
            Err(e) => {
                // The op's savepoint and our transaction are rolled back, so the copy is still
                // exactly at its seq — unless the engine itself failed, then trust nothing.
                if e.is_client_error() {
                    self.cache.lock().put(user.clone(), entry);
                }
                return Err(Attempt::Fail(e.into()));
            }
        };
        if raw.is_empty() {
            let entry = self.finish_local(entry, true).await?;
            if let Some(entry) = entry {
                self.cache.lock().put(user.clone(), entry);
            }
            return Ok(value);
        }

        // From here on, any failure drops `entry`: dropping the connection rolls back the open
        // transaction and deletes the file, so a copy that may diverge from the journal is
        // never used again.
        let seq = entry.meta.seq + 1;
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        let (payload, len) = journal::make_payload(
            &self.ports,
            user,
            seq,
            &request_id,
            &raw,
            self.cfg.spill_threshold,
        )
        .await
        .map_err(Attempt::Fail)?;
        let spilled = match &payload {
            crate::ports::JournalPayload::Spilled { blob_key, .. } => {
                Metrics::incr(&self.metrics.journal_spill);
                Some(blob_key.clone())
            }
            crate::ports::JournalPayload::Inline(_) => None,
        };
        let now_ms = self.clock.now_ms();
        let jentry = JournalEntry {
            seq,
            payload,
            request_id,
            at_ms: now_ms,
            schema_fingerprint: entry.meta.schema_fingerprint.clone(),
        };
        // Fenced on the session as this copy observed it, not on being its owner: any container
        // whose copy is at the item's seq may append (DESIGN deviation, docs/ARCHITECTURE.md).
        let fence = Fence {
            owner: entry.meta.owner.clone(),
            epoch: entry.meta.epoch,
            seq: entry.meta.seq,
        };
        let expires_at = self.expires_at(now_ms);
        let mut tries = 0;
        let committed = loop {
            match self
                .ports
                .sessions
                .commit(user, &fence, &jentry, now_ms, expires_at)
                .await
            {
                Err(StoreError::Unavailable(msg)) if tries < AMBIGUOUS_COMMIT_RETRIES => {
                    tracing::warn!(%user, seq, %msg, "ambiguous journal commit, retrying");
                    tries += 1;
                }
                other => break other,
            }
        };
        match committed {
            Ok(()) => {
                Metrics::add(&self.metrics.journal_bytes, len);
                entry.meta.seq = seq;
                let fold_due = seq.saturating_sub(entry.meta.folded_seq) >= self.cfg.compact_after;
                // The write is durable in the journal: answer Ok even if the local COMMIT
                // fails (the copy is then dropped and the next request replays the entry).
                if let Some(entry) = self.finish_local(entry, true).await? {
                    self.cache.lock().put(user.clone(), entry);
                }
                if fold_due {
                    self.request_compaction(user).await;
                }
                Ok(value)
            }
            Err(StoreError::ConditionFailed) => {
                tracing::debug!(%user, seq, "fenced commit refused: copy behind the journal, retrying");
                if let Some(key) = spilled {
                    let _ = self.ports.blobs.delete(&key).await;
                }
                // Rolled back, the copy is exactly at its old seq again (content at a seq is
                // unique), so the retry only has to catch up from the journal.
                if let Some(entry) = self.finish_local(entry, false).await? {
                    self.cache.lock().put(user.clone(), entry);
                }
                Err(Attempt::Retry)
            }
            Err(e) => {
                // Ambiguous: the entry may or may not be in the journal. Never answer Ok; the
                // next request reloads from the store and sees whichever it is.
                drop(entry);
                Err(Attempt::Fail(e.into()))
            }
        }
    }

    /// COMMIT or ROLLBACK the transaction `capture` left open. `None` if that failed (the
    /// entry is dropped).
    async fn finish_local(
        &self,
        entry: CacheEntry,
        commit: bool,
    ) -> Result<Option<CacheEntry>, Attempt> {
        let entry = self
            .blocking(
                move || match journal::end_transaction(entry.col(), commit) {
                    Ok(()) => Some(entry),
                    Err(e) => {
                        tracing::error!(error = %e, "local transaction end failed; dropping copy");
                        None
                    }
                },
            )
            .await?;
        Ok(entry)
    }

    fn expires_at(&self, now_ms: i64) -> i64 {
        now_ms.div_euclid(1000) + self.cfg.session_ttl.as_secs() as i64
    }

    fn user_lock(&self, user: &Username) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock();
        // Forget locks nobody holds or waits for, so the map stays as small as the live users.
        if locks.len() > 4 * self.cfg.cache_max_entries {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(user.clone()).or_default().clone()
    }

    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, SessionError> {
        if self.cfg.run_inline {
            return Ok(f());
        }
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| SessionError::Internal(format!("blocking task failed: {e}")))
    }

    /// Get this container a copy of the user's collection at the session's current version:
    /// an active session is shared (hit, or catch up from the journal); a free one is claimed;
    /// one being flushed is waited for (re-asking the flush), then claimed, or taken over after
    /// the timeout.
    async fn acquire(&self, user: &Username) -> Result<CacheEntry, Attempt> {
        let started = Instant::now();
        // Budget for the whole acquisition: holders changing under us restart the takeover
        // clock, but a request must still end.
        let give_up = self.cfg.takeover_timeout * 4;
        let mut holder: Option<(String, u64, Instant)> = None;
        let mut asked: Option<(String, u64)> = None;
        let mut backoff = self.cfg.poll_initial;
        loop {
            if started.elapsed() > give_up {
                return Err(Attempt::Fail(SessionError::Busy {
                    retry_after_secs: 1,
                }));
            }
            let item = self.ports.sessions.get(user).await?;
            let now_s = self.clock.now_ms().div_euclid(1000);
            let live = item
                .as_ref()
                .filter(|it| it.expires_at > now_s && it.status != SessionStatus::Flushed);
            let Some(it) = live else {
                let waited = holder.is_some().then(|| started.elapsed());
                let entry = self.claim(user, item.as_ref()).await?;
                if let Some(w) = waited {
                    self.record_takeover(w);
                }
                return Ok(entry);
            };
            if it.status == SessionStatus::Active && it.owner.is_some() {
                // An active session is shared: whoever holds it, this container serves the
                // request from a copy at the item's seq (catching up from the journal) and its
                // commit is fenced on that seq. No flush, no wait.
                return self.load(user, it, None).await;
            }

            // Being flushed (a compaction or an explicit flush asked for it): commits need
            // `Active`, so nobody can add to the journal until the flush releases it.
            let since = match &holder {
                Some((sid, epoch, t)) if *sid == it.session_id && *epoch == it.epoch => *t,
                _ => {
                    let t = Instant::now();
                    holder = Some((it.session_id.clone(), it.epoch, t));
                    backoff = self.cfg.poll_initial;
                    t
                }
            };
            // Whoever moved the session out of `Active` asked for the flush already; ask again
            // only once it is late (a lost message), not on every waiter's first look.
            let key = (it.session_id.clone(), it.epoch);
            if asked.as_ref() != Some(&key) && since.elapsed() >= self.cfg.takeover_timeout / 4 {
                self.request_flush(it).await?;
                asked = Some(key);
                continue;
            }
            if since.elapsed() >= self.cfg.takeover_timeout {
                // By invariant 1 the journal holds every acknowledged write of the holder, so
                // claiming without its flush loses nothing; its next commit fails the fence.
                tracing::warn!(%user, holder = ?it.owner, "flush did not come in time: taking over");
                let entry = self.claim(user, Some(it)).await?;
                Metrics::incr(&self.metrics.takeover_timeout);
                self.record_takeover(started.elapsed());
                return Ok(entry);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.cfg.poll_max);
        }
    }

    async fn request_flush(&self, it: &SessionItem) -> Result<(), Attempt> {
        let me = self.cfg.container_id.clone();
        let req = FlushRequest {
            username: it.username.clone(),
            session_id: it.session_id.clone(),
            epoch: it.epoch,
            requested_by: me.clone(),
        };
        // A lost publish only delays us until the takeover timeout; not an error.
        if let Err(e) = self.ports.bus.publish(&req).await {
            tracing::warn!(error = %e, "flush request publish failed");
        }
        if it.status == SessionStatus::Active {
            let mut next = it.clone();
            next.status = SessionStatus::FlushRequested;
            next.requested_by = Some(me);
            match self
                .ports
                .sessions
                .put(&next, SessionExpect::matching(it))
                .await
            {
                // Lost a race (a commit or a flush moved the item): the next read decides.
                Ok(()) | Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The journal grew past `compact_after` entries since the snapshot: ask for a flush over
    /// the bus. Best effort — a lost request only leaves the journal longer.
    async fn request_compaction(&self, user: &Username) {
        let item = match self.ports.sessions.get(user).await {
            Ok(Some(it)) => it,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(%user, error = %e, "compaction: cannot read the session");
                return;
            }
        };
        if item.status != SessionStatus::Active
            || item.seq.saturating_sub(item.snapshot_seq) < self.cfg.compact_after
        {
            return;
        }
        Metrics::incr(&self.metrics.compaction);
        if let Err(Attempt::Fail(e)) = self.request_flush(&item).await {
            tracing::warn!(%user, error = %e, "compaction request failed");
        }
    }

    fn record_takeover(&self, waited: Duration) {
        let ms = waited.as_millis() as u64;
        Metrics::incr(&self.metrics.takeover);
        Metrics::add(&self.metrics.takeover_wait_ms, ms);
        self.takeover_waits_ms.lock().push(ms);
    }

    /// Claim a free (or timed-out) session: `epoch + 1`, a new session id, same `seq`.
    async fn claim(
        &self,
        user: &Username,
        old: Option<&SessionItem>,
    ) -> Result<CacheEntry, Attempt> {
        let now_ms = self.clock.now_ms();
        let (base_seq, prefetched) = match old {
            Some(it) => (it.seq, None),
            None => {
                // No item: a new user, or one whose item the TTL deleted. The journal may still
                // hold entries past the snapshot, so the new session must start after them.
                let blob = self
                    .ports
                    .blobs
                    .get(&snapshot_key(user))
                    .await?
                    .ok_or(Attempt::Fail(SessionError::NoCollection))?;
                let s = flush::snapshot_seq_of(&blob)?;
                let tail = self.ports.sessions.journal(user, s, u64::MAX).await?;
                (tail.last().map_or(s, |e| e.seq.max(s)), Some(blob))
            }
        };
        let item = SessionItem {
            username: user.clone(),
            session_id: uuid::Uuid::new_v4().simple().to_string(),
            owner: Some(self.cfg.container_id.clone()),
            epoch: old.map_or(1, |it| it.epoch + 1),
            status: SessionStatus::Active,
            seq: base_seq,
            snapshot_seq: old.map_or(0, |it| it.snapshot_seq),
            requested_by: None,
            last_access: now_ms,
            expires_at: self.expires_at(now_ms),
        };
        let expect = old.map_or(SessionExpect::Absent, SessionExpect::matching);
        self.ports.sessions.put(&item, expect).await?;
        self.load(user, &item, prefetched).await
    }

    /// A copy at exactly `item.seq`, tagged with `item`'s session. The cached copy is reused
    /// whenever its seq matches: seq only grows with journal commits, so equal seq means equal
    /// content, whoever held the session in between.
    async fn load(
        &self,
        user: &Username,
        item: &SessionItem,
        prefetched: Option<crate::ports::Blob>,
    ) -> Result<CacheEntry, Attempt> {
        let cached = self.cache.lock().take(user);
        if let Some(mut entry) = cached {
            if entry.meta.seq == item.seq {
                Metrics::incr(&self.metrics.cache_hit);
                adopt(&mut entry.meta, item);
                return Ok(entry);
            }
            if entry.meta.seq < item.seq
                && let Some(entry) = self.catch_up(user, entry, item).await?
            {
                Metrics::incr(&self.metrics.catch_up);
                return Ok(entry);
            }
        }
        Metrics::incr(&self.metrics.cache_miss);
        let state = flush::read_state(&self.ports, user, item.seq, prefetched).await?;
        let path = self
            .cfg
            .cache_dir
            .join(format!("{user}-{}.anki2", uuid::Uuid::new_v4().simple()));
        let dir = self.cfg.cache_dir.clone();
        let clock = self.clock.clone();
        let mut meta = EntryMeta {
            session_id: item.session_id.clone(),
            owner: item.owner.clone().unwrap_or_default(),
            folded_seq: item.snapshot_seq.max(state.snapshot_seq),
            epoch: item.epoch,
            seq: item.seq,
            snapshot_etag: Some(state.blob.etag.clone()),
            snapshot_seq: state.snapshot_seq,
            schema_fingerprint: String::new(),
        };
        let entry = self
            .blocking(move || -> Result<CacheEntry, SessionError> {
                std::fs::create_dir_all(&dir).map_err(CollectionError::from)?;
                let made = flush::materialize(&path, &state, clock).and_then(|col| {
                    meta.schema_fingerprint =
                        journal::schema_fingerprint(col.conn()).map_err(CollectionError::from)?;
                    Ok(col)
                });
                match made {
                    Ok(col) => Ok(CacheEntry::new(col, path, meta)),
                    Err(e) => {
                        let _ = std::fs::remove_file(&path);
                        Err(e)
                    }
                }
            })
            .await??;
        Ok(entry)
    }

    /// Bring a cached copy from its seq to `item.seq` by replaying the journal entries in
    /// between. `None` when that is not possible (a flush trimmed them, or the replay failed):
    /// the caller then loads from the snapshot.
    async fn catch_up(
        &self,
        user: &Username,
        entry: CacheEntry,
        item: &SessionItem,
    ) -> Result<Option<CacheEntry>, Attempt> {
        let fetched = journal::fetch_range(&self.ports, user, entry.meta.seq, item.seq).await;
        let Some(entries) = fetched.map_err(Attempt::Fail)? else {
            return Ok(None);
        };
        let (mut entry, replayed) = self
            .blocking(move || {
                let replayed = (|| -> Result<(), SessionError> {
                    let tx = entry
                        .col()
                        .conn()
                        .unchecked_transaction()
                        .map_err(CollectionError::from)?;
                    journal::replay(&tx, &entries)?;
                    tx.commit().map_err(CollectionError::from)?;
                    Ok(())
                })();
                (entry, replayed)
            })
            .await?;
        if let Err(e) = replayed {
            // Dropping the entry deletes the copy; the snapshot path rebuilds it.
            tracing::warn!(%user, error = %e, "journal catch-up failed; reloading");
            return Ok(None);
        }
        entry.meta.seq = item.seq;
        adopt(&mut entry.meta, item);
        Ok(Some(entry))
    }

    /// `GET /api/session/status`
    pub async fn status(&self, user: &Username) -> Result<SessionView, SessionError> {
        let item = self.ports.sessions.get(user).await?;
        let now_s = self.clock.now_ms().div_euclid(1000);
        Ok(match item {
            Some(it) if it.expires_at > now_s => SessionView {
                has_session: it.status != SessionStatus::Flushed,
                session_id: Some(it.session_id),
                status: it.status.as_str().to_owned(),
            },
            _ => SessionView {
                has_session: false,
                session_id: None,
                status: "none".to_owned(),
            },
        })
    }

    /// `POST /api/session/flush`: fold this user's session `session_id` into the snapshot and
    /// release it. The holder uploads straight from its cached copy (no download).
    pub async fn flush(&self, user: &Username, session_id: &str) -> Result<(), SessionError> {
        let lock = self.user_lock(user);
        let _serialised = lock.lock().await;
        let Some(it) = self
            .ports
            .sessions
            .get(user)
            .await?
            .filter(|it| it.session_id == session_id)
        else {
            return Err(SessionError::SessionNotFound);
        };
        if it.status == SessionStatus::Flushed {
            return Ok(());
        }
        // Any container whose copy is current can upload it (no download); the others fold
        // from the store.
        if it.status == SessionStatus::Active {
            match self.flush_from_cache(user, &it).await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(%user, error = %e, "flush from cache failed; folding from the store")
                }
            }
        }
        let req = FlushRequest {
            username: user.clone(),
            session_id: it.session_id.clone(),
            epoch: it.epoch,
            requested_by: self.cfg.container_id.clone(),
        };
        let outcome = flush::handle_flush_request(
            &self.ports,
            &req,
            &self.clock,
            &self.metrics,
            &self.cfg.cache_dir,
        )
        .await?;
        match outcome {
            FlushOutcome::Flushed { .. } | FlushOutcome::AlreadyFlushed => Ok(()),
            FlushOutcome::Stale => Err(SessionError::Busy {
                retry_after_secs: 1,
            }),
        }
    }

    /// The holder's flush: upload the cached copy itself. `Ok(false)` when the cache cannot
    /// serve it (then the library handler folds from the store, resuming our `Flushing`).
    async fn flush_from_cache(
        &self,
        user: &Username,
        it: &SessionItem,
    ) -> Result<bool, SessionError> {
        let Some(entry) = self.cache.lock().take(user) else {
            return Ok(false);
        };
        if entry.meta.seq != it.seq || entry.meta.epoch != it.epoch {
            self.cache.lock().put(user.clone(), entry);
            return Ok(false);
        }
        let mut flushing = it.clone();
        flushing.status = SessionStatus::Flushing;
        if let Err(e) = self
            .ports
            .sessions
            .put(&flushing, SessionExpect::matching(it))
            .await
        {
            self.cache.lock().put(user.clone(), entry);
            return Err(e.into());
        }
        let mut entry = entry;
        if entry.meta.snapshot_seq < it.seq {
            let tmp = self
                .cfg
                .cache_dir
                .join(format!("vacuum-{}.anki2", uuid::Uuid::new_v4().simple()));
            let (back, bytes) = self
                .blocking(move || {
                    let bytes = vacuum_into(entry.col(), &tmp);
                    let _ = std::fs::remove_file(&tmp);
                    (entry, bytes)
                })
                .await?;
            entry = back;
            let uploaded = match bytes {
                Ok(bytes) => {
                    flush::upload_snapshot(
                        &self.ports,
                        user,
                        bytes,
                        it.seq,
                        entry.meta.snapshot_etag.as_deref(),
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            match uploaded {
                Ok(etag) => {
                    if let Some(etag) = etag {
                        entry.meta.snapshot_etag = Some(etag);
                        entry.meta.snapshot_seq = it.seq;
                    }
                }
                Err(e) => {
                    self.cache.lock().put(user.clone(), entry);
                    tracing::info!(%user, error = %e, "cached upload refused");
                    return Ok(false);
                }
            }
        }
        self.cache.lock().put(user.clone(), entry);
        match flush::release(&self.ports, &flushing, &self.metrics).await? {
            FlushOutcome::Flushed { .. } | FlushOutcome::AlreadyFlushed => Ok(true),
            FlushOutcome::Stale => Ok(false),
        }
    }
}

/// Tag a copy with the session it now serves.
fn adopt(meta: &mut EntryMeta, item: &SessionItem) {
    meta.session_id = item.session_id.clone();
    meta.epoch = item.epoch;
    meta.owner = item.owner.clone().unwrap_or_default();
    meta.folded_seq = meta.folded_seq.max(item.snapshot_seq);
}

fn vacuum_into(col: &Collection, path: &std::path::Path) -> Result<Vec<u8>, SessionError> {
    let target = path
        .to_str()
        .ok_or_else(|| SessionError::Internal("non-UTF-8 cache path".into()))?;
    col.conn()
        .execute("VACUUM INTO ?1", [target])
        .map_err(CollectionError::from)?;
    Ok(std::fs::read(path).map_err(CollectionError::from)?)
}

#[cfg(test)]
#[path = "manager_tests.rs"]
mod tests;
