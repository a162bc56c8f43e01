//! Acquisition: getting this container a copy of the user's collection at exactly the session's
//! `seq`, tagged with the session it serves (`docs/ARCHITECTURE.md#shared-sessions`).
//!
//! - **hit**: the cached copy is at the item's `seq` (equal seq means equal content, whoever
//!   held the session in between);
//! - **catch-up**: the cached copy is behind; replay the journal entries it has not seen;
//! - **load**: no usable copy; materialize snapshot + journal tail from the stores;
//! - **claim**: the session is free (no item, flushed, or expired): start a new one at
//!   `epoch + 1`, then hit, catch up or load;
//! - **takeover**: a flush did not come in time: claim over the holder.
//!
//! An `Active` session is shared: whoever holds it, this container serves the request from a
//! copy at its `seq` and its commit is fenced on that seq. Only a session being flushed is
//! waited for ([`crate::coordination`]).

use javumbo_collection::CollectionError;
use tokio::time::Instant;

use crate::cache::{CacheEntry, EntryMeta};
use crate::coordination::{FlushWait, Waited};
use crate::error::{Attempt, SessionError};
use crate::journal;
use crate::manager::SessionManager;
use crate::metrics::Metrics;
use crate::ports::{Blob, SessionExpect, SessionItem, SessionStatus, snapshot_key};
use crate::snapshot;
use crate::username::Username;

impl SessionManager {
    /// A copy at the session's current version: an active session is shared (hit, or catch up
    /// from the journal); a free one is claimed; one being flushed is waited for (re-asking the
    /// flush), then claimed, or taken over after the timeout.
    pub(crate) async fn acquire(&self, user: &Username) -> Result<CacheEntry, Attempt> {
        let started = Instant::now();
        // Budget for the whole acquisition: holders changing under us restart the takeover
        // clock, but a request must still end.
        let give_up = self.cfg.takeover_timeout * 4;
        let mut wait = FlushWait::new(self.cfg.poll_initial);
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
                let waited = wait.has_waited().then(|| started.elapsed());
                let entry = self.claim(user, item.as_ref()).await?;
                if let Some(w) = waited {
                    self.record_takeover(w);
                }
                return Ok(entry);
            };
            if it.status == SessionStatus::Active && it.owner.is_some() {
                return self.load(user, it, None).await;
            }
            if let Waited::TimedOut = self.wait_for_flush(&mut wait, it).await? {
                return self.take_over(user, it, started).await;
            }
        }
    }

    /// The flush of a session did not come in time: claim it over its holder. Nothing is
    /// lost: every write the holder acknowledged is in the journal, and its next commit fails
    /// the fence.
    async fn take_over(
        &self,
        user: &Username,
        it: &SessionItem,
        started: Instant,
    ) -> Result<CacheEntry, Attempt> {
        tracing::warn!(%user, holder = ?it.owner, "flush did not come in time: taking over");
        let entry = self.claim(user, Some(it)).await?;
        Metrics::incr(&self.metrics.takeover_timeout);
        self.record_takeover(started.elapsed());
        Ok(entry)
    }

    /// Claim a free (or timed-out) session: `epoch + 1`, the next session id, same `seq`.
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
                let s = snapshot::snapshot_seq_of(&blob)?;
                let tail = self.ports.sessions.journal(user, s, u64::MAX).await?;
                (tail.last().map_or(s, |e| e.seq.max(s)), Some(blob))
            }
        };
        let item = SessionItem {
            username: user.clone(),
            // The same user's next session continues the id chain, so the id a client holds
            // stays good for a flush ([`crate::lineage`]).
            session_id: old.map_or_else(crate::lineage::fresh, |it| {
                crate::lineage::next(&it.session_id)
            }),
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

    /// A copy at exactly `item.seq`, tagged with `item`'s session: the cached copy if its seq
    /// matches (hit) or it can catch up, else one loaded from the stores.
    async fn load(
        &self,
        user: &Username,
        item: &SessionItem,
        prefetched: Option<Blob>,
    ) -> Result<CacheEntry, Attempt> {
        // A claim that found no session item (prefetched the snapshot) only trusts a cached
        // copy of that very snapshot: the name may belong to a new account since (a deleted
        // one registered again), whose fresh collection is at the same seq 0.
        let cached = self.take_cached(user).filter(|entry| {
            prefetched
                .as_ref()
                .is_none_or(|blob| entry.meta.snapshot_etag.as_deref() == Some(blob.etag.as_str()))
        });
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
        self.load_from_store(user, item, prefetched).await
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
                    journal::replay_on(&tx, &entry.meta.schema_fingerprint, &entries)?;
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

    /// A new copy at `item.seq`: snapshot + journal tail, materialized in the cache directory.
    async fn load_from_store(
        &self,
        user: &Username,
        item: &SessionItem,
        prefetched: Option<Blob>,
    ) -> Result<CacheEntry, Attempt> {
        let state = snapshot::read_state(&self.ports, user, item.seq, prefetched).await?;
        let path = self.cfg.cache_dir.join(format!(
            "{}-{}.anki2",
            user.storage_key(),
            uuid::Uuid::new_v4().simple()
        ));
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
                let made = snapshot::materialize(&path, &state, clock).and_then(|col| {
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
}

/// Tag a copy with the session it now serves.
fn adopt(meta: &mut EntryMeta, item: &SessionItem) {
    meta.session_id = item.session_id.clone();
    meta.epoch = item.epoch;
    meta.owner = item.owner.clone().unwrap_or_default();
    meta.folded_seq = meta.folded_seq.max(item.snapshot_seq);
}

#[cfg(test)]
mod tests;
