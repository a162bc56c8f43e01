//! Flush coordination: everything between the request path and the flush handler
//! ([`crate::flush`]).
//!
//! - **compaction**: once a commit leaves `compact_after` entries past the snapshot, ask for a
//!   flush over the bus and mark the session `flush_requested`;
//! - **waiting for `flushed`**: a session being flushed takes no commits (they need `Active`),
//!   so a request polls until the flush releases it, re-asks once the flush is late, and gives
//!   the caller the go-ahead to take over after the takeover timeout;
//! - **explicit flush** (`POST /api/session/flush`): any container whose copy is current
//!   uploads it; otherwise the flush handler folds from the store;
//! - **status** (`GET /api/session/status`).

use std::time::Duration;

use serde::{Serialize, Serializer};
use tokio::time::Instant;

use crate::cache::CacheEntry;
use crate::error::{Attempt, SessionError};
use crate::flush::{self, FlushOutcome};
use crate::manager::SessionManager;
use crate::metrics::Metrics;
use crate::ports::{FlushRequest, SessionExpect, SessionItem, SessionStatus, StoreError};
use crate::snapshot;
use crate::username::Username;

/// What `GET /api/session/status` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionView {
    pub has_session: bool,
    pub session_id: Option<String>,
    /// The live session's status; `None` (serialised `"none"`) when there is no live session.
    #[serde(serialize_with = "status_or_none")]
    pub status: Option<SessionStatus>,
}

fn status_or_none<S: Serializer>(status: &Option<SessionStatus>, s: S) -> Result<S::Ok, S::Error> {
    match status {
        Some(st) => st.serialize(s),
        None => s.serialize_str("none"),
    }
}

/// One request's wait for a flush: which flush (session id and epoch) it waits for and since
/// when, whether it has re-asked for it, and the poll backoff.
pub(crate) struct FlushWait {
    holder: Option<(String, u64, Instant)>,
    asked: Option<(String, u64)>,
    backoff: Duration,
}

/// What to do after one step of waiting for a flush.
pub(crate) enum Waited {
    /// Read the session item again.
    Reread,
    /// The takeover timeout is up: claim the session over its holder.
    TimedOut,
}

impl FlushWait {
    pub(crate) fn new(poll_initial: Duration) -> Self {
        Self {
            holder: None,
            asked: None,
            backoff: poll_initial,
        }
    }

    /// Whether this request has waited for a flush at all.
    pub(crate) fn has_waited(&self) -> bool {
        self.holder.is_some()
    }

    /// Since when this request waits for `it`'s flush; a different session (or epoch)
    /// restarts the clock and the backoff.
    fn since(&mut self, it: &SessionItem, poll_initial: Duration) -> Instant {
        match &self.holder {
            Some((sid, epoch, t)) if *sid == it.session_id && *epoch == it.epoch => *t,
            _ => {
                let t = Instant::now();
                self.holder = Some((it.session_id.clone(), it.epoch, t));
                self.backoff = poll_initial;
                t
            }
        }
    }
}

impl SessionManager {
    /// One step of waiting for the flush of `it` (a session being flushed: a compaction or an
    /// explicit flush asked for it), with the takeover timeout as the budget.
    pub(crate) async fn wait_for_flush(
        &self,
        wait: &mut FlushWait,
        it: &SessionItem,
    ) -> Result<Waited, Attempt> {
        let since = wait.since(it, self.cfg.poll_initial);
        // Whoever moved the session out of `Active` asked for the flush already; ask again
        // only once it is late (a lost message), not on every waiter's first look.
        let key = (it.session_id.clone(), it.epoch);
        if wait.asked.as_ref() != Some(&key) && since.elapsed() >= self.cfg.takeover_timeout / 4 {
            self.request_flush(it).await?;
            wait.asked = Some(key);
            return Ok(Waited::Reread);
        }
        if since.elapsed() >= self.cfg.takeover_timeout {
            return Ok(Waited::TimedOut);
        }
        tokio::time::sleep(wait.backoff).await;
        wait.backoff = (wait.backoff * 2).min(self.cfg.poll_max);
        Ok(Waited::Reread)
    }

    /// Publish a flush request for `it` and, if it is still `Active`, mark it
    /// `flush_requested` so no commit lands until the flush releases it.
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
    pub(crate) async fn request_compaction(&self, user: &Username) {
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

    /// `GET /api/session/status`
    pub async fn status(&self, user: &Username) -> Result<SessionView, SessionError> {
        let item = self.ports.sessions.get(user).await?;
        let now_s = self.clock.now_ms().div_euclid(1000);
        Ok(match item {
            Some(it) if it.expires_at > now_s => SessionView {
                has_session: it.status != SessionStatus::Flushed,
                session_id: Some(it.session_id),
                status: Some(it.status),
            },
            _ => SessionView {
                has_session: false,
                session_id: None,
                status: None,
            },
        })
    }

    /// `POST /api/session/flush`: fold this user's current session into the snapshot and
    /// release it, when `session_id` is that session or one it superseded (compaction and
    /// takeovers move a user to a new session under the client: [`crate::lineage`]). Answers
    /// the current session's id. A container whose copy is current uploads it straight (no
    /// download).
    pub async fn flush(&self, user: &Username, session_id: &str) -> Result<String, SessionError> {
        let lock = self.user_lock(user);
        let _serialised = lock.lock().await;
        let Some(it) = self
            .ports
            .sessions
            .get(user)
            .await?
            .filter(|it| crate::lineage::leads_to(session_id, &it.session_id))
        else {
            return Err(SessionError::SessionNotFound);
        };
        let current = it.session_id.clone();
        self.flush_item(user, it).await.map(|()| current)
    }

    async fn flush_item(&self, user: &Username, it: SessionItem) -> Result<(), SessionError> {
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

    /// Flush from this container's cached copy: mark the session `Flushing`, upload the copy
    /// itself, release. `Ok(false)` when the cache cannot serve it (then the flush handler
    /// folds from the store, resuming our `Flushing`).
    async fn flush_from_cache(
        &self,
        user: &Username,
        it: &SessionItem,
    ) -> Result<bool, SessionError> {
        let Some(entry) = self.take_cached(user) else {
            return Ok(false);
        };
        if entry.meta.seq != it.seq || entry.meta.epoch != it.epoch {
            self.keep(user, entry);
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
            self.keep(user, entry);
            return Err(e.into());
        }
        let (entry, uploaded) = if entry.meta.snapshot_seq < it.seq {
            self.upload_copy(user, entry, it.seq).await?
        } else {
            (entry, Ok(()))
        };
        self.keep(user, entry);
        if let Err(e) = uploaded {
            tracing::info!(%user, error = %e, "cached upload refused");
            return Ok(false);
        }
        match flush::release(&self.ports, &flushing, &self.metrics).await? {
            FlushOutcome::Flushed { .. } | FlushOutcome::AlreadyFlushed => Ok(true),
            FlushOutcome::Stale => Ok(false),
        }
    }

    /// Upload the copy as the snapshot at `seq` (`If-Match` the etag it was loaded from), and
    /// record the new snapshot in its metadata. The copy comes back whatever the upload did.
    async fn upload_copy(
        &self,
        user: &Username,
        entry: CacheEntry,
        seq: u64,
    ) -> Result<(CacheEntry, Result<(), SessionError>), SessionError> {
        let tmp = self
            .cfg
            .cache_dir
            .join(format!("vacuum-{}.anki2", uuid::Uuid::new_v4().simple()));
        let (mut entry, bytes) = self
            .blocking(move || {
                let bytes = snapshot::vacuum_into(entry.col(), &tmp);
                let _ = std::fs::remove_file(&tmp);
                (entry, bytes)
            })
            .await?;
        let uploaded = match bytes {
            Ok(bytes) => {
                snapshot::upload_snapshot(
                    &self.ports,
                    user,
                    bytes,
                    seq,
                    entry.meta.snapshot_etag.as_deref(),
                )
                .await
            }
            Err(e) => Err(e),
        };
        let uploaded = uploaded.map(|etag| {
            if let Some(etag) = etag {
                entry.meta.snapshot_etag = Some(etag);
                entry.meta.snapshot_seq = seq;
            }
        });
        Ok((entry, uploaded))
    }
}

#[cfg(test)]
mod tests;
