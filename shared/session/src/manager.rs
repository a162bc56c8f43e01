//! The session manager: one per container, and the state every request on that container
//! shares (its configuration, ports, cache of open collections and per-user locks).
//!
//! Its methods live beside the protocol step they implement:
//! - here: construction, registration (`create_collection`) and the small helpers the steps
//!   share (the blocking-task runner, per-user locks, cache take/keep);
//! - `request`: `with_collection`, the request path (capture → commit → settle);
//! - `acquire`: getting a copy at the session's `seq` (hit, catch-up, load, claim,
//!   takeover);
//! - `coordination`: flushes (compaction requests, waiting for `flushed`, explicit
//!   flush) and `status`.
//!
//! Requests of one user on one container are serialised by a per-user async mutex; across
//! containers, the fenced journal commit linearises them (`docs/ARCHITECTURE.md#fenced-commit`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use javumbo_collection::{Collection, CollectionError, CreateOptions, SharedClock, TimeZone};

use crate::cache::{CacheEntry, LruCache};
use crate::error::InternalError;
use crate::metrics::Metrics;
use crate::ports::{PutCondition, StoreError, snapshot_key};
use crate::snapshot;
use crate::username::Username;

// The paths other crates have always used (`javumbo_session::manager::{...}`).
pub use crate::error::SessionError;
pub use crate::outcome::{Failed, RequestError, Served};
pub use crate::ports::Ports;

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

/// One container's session manager, shared by all its requests (`Arc`).
///
/// Locks: the `parking_lot` mutexes guard plain data for a few instructions and are never held
/// across an `.await` (a blocked thread waits for nanoseconds, not for a store call), so they
/// are cheaper than tokio's and cannot deadlock the runtime. The per-user mutexes are tokio's
/// because they are held across the whole request, store calls included.
pub struct SessionManager {
    pub(crate) cfg: SessionConfig,
    /// The adapters this container runs on.
    pub(crate) ports: Ports,
    pub(crate) clock: SharedClock,
    /// This container's counters (the adapters in `ports` count into the same ones).
    pub(crate) metrics: Arc<Metrics>,
    /// Open collections by user. An entry is taken out while a request works on it (its
    /// connection moves to a blocking thread) and kept again afterwards, so the lock is held
    /// only to take or put, never while SQLite runs; a busy entry is never evicted.
    cache: parking_lot::Mutex<LruCache>,
    /// One async mutex per user, held for a whole request: two requests of one user on this
    /// container never race for the cached copy. The map itself is only locked to look one up.
    locks: parking_lot::Mutex<HashMap<Username, Arc<tokio::sync::Mutex<()>>>>,
    /// Wait before every takeover this container made (ms), for p50/p99 reporting.
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
        self.create_collection_in(user, None).await
    }

    /// [`Self::create_collection`] in the student's time zone: the day starts at the rollover
    /// hour there (`crt` and `creationOffset` from the zone's offset now, as Anki creates a
    /// collection on a device in that zone) and the zone is kept, so DST moves the rollover.
    /// An existing collection (left by a crashed registration) is kept as it is.
    pub async fn create_collection_in(
        &self,
        user: &Username,
        timezone: Option<TimeZone>,
    ) -> Result<(), SessionError> {
        let dir = self.cfg.cache_dir.clone();
        let clock = self.clock.clone();
        let bytes = self
            .blocking(move || -> Result<Vec<u8>, SessionError> {
                std::fs::create_dir_all(&dir).map_err(CollectionError::from)?;
                let path = dir.join(format!("new-{}.anki2", uuid::Uuid::new_v4().simple()));
                let now = clock.now_secs();
                let opts = CreateOptions {
                    utc_offset_minutes: timezone.map_or(0, |tz| tz.offset_east_minutes_at(now)),
                    ..CreateOptions::default()
                };
                let made = Collection::create(&path, clock, &opts)
                    .and_then(|col| match timezone {
                        Some(tz) => col.set_timezone(tz.name()),
                        None => Ok(()),
                    })
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
                snapshot::snapshot_metadata(0),
                PutCondition::IfAbsent,
            )
            .await;
        match put {
            Ok(_) | Err(StoreError::ConditionFailed) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Remove `user`'s collection from the stores for good (account deletion), in an order
    /// that stays safe when interrupted and run again: the session item first (a commit fenced
    /// on it fails from then on, so no write lands behind the deletion), then the journal and
    /// its spilled entries, the snapshot with every stored version, and the media. This
    /// container's cached copy goes too; another container's is never used again, because a
    /// new session of the name only trusts a copy of the snapshot it finds
    /// ([`crate::acquire`]).
    pub async fn delete_collection(&self, user: &Username) -> Result<(), SessionError> {
        let lock = self.user_lock(user);
        let _serialised = lock.lock().await;
        self.cache.lock().remove(user);
        self.ports.sessions.delete_session(user).await?;
        self.ports.sessions.trim_journal(user, u64::MAX).await?;
        for key in [
            crate::ports::spill_prefix(user),
            snapshot_key(user),
            crate::media::media_prefix(user),
        ] {
            self.ports.blobs.purge(&key).await?;
        }
        // Again, now that no snapshot is left to start a session from: a request already past
        // its token check may have claimed a session item meanwhile (its writes then fail).
        self.ports.sessions.delete_session(user).await?;
        self.ports.sessions.trim_journal(user, u64::MAX).await?;
        Ok(())
    }

    /// The lock that serialises `user`'s requests on this container.
    pub(crate) fn user_lock(&self, user: &Username) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock();
        // Forget locks nobody holds or waits for, so the map stays as small as the live users.
        if locks.len() > 4 * self.cfg.cache_max_entries {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(user.clone()).or_default().clone()
    }

    /// Run SQLite work off the async runtime (or inline, for the deterministic simulation).
    pub(crate) async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, SessionError> {
        if self.cfg.run_inline {
            return Ok(f());
        }
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| InternalError::Task(e).into())
    }

    /// Take `user`'s cached copy out of the cache, for this request to work on.
    pub(crate) fn take_cached(&self, user: &Username) -> Option<CacheEntry> {
        self.cache.lock().take(user)
    }

    /// Put a copy (back) into the cache: it is exactly at the seq its metadata says.
    pub(crate) fn keep(&self, user: &Username, entry: CacheEntry) {
        self.cache.lock().put(user.clone(), entry);
    }

    /// `expires_at` (epoch seconds) of a session item written at `now_ms`.
    pub(crate) fn expires_at(&self, now_ms: i64) -> i64 {
        now_ms.div_euclid(1000) + self.cfg.session_ttl.as_secs() as i64
    }

    pub(crate) fn record_takeover(&self, waited: Duration) {
        let ms = waited.as_millis() as u64;
        Metrics::incr(&self.metrics.takeover);
        Metrics::add(&self.metrics.takeover_wait_ms, ms);
        self.takeover_waits_ms.lock().push(ms);
    }
}
