//! The request path, `SessionManager::with_collection`, in the steps the protocol runs
//! (`docs/ARCHITECTURE.md#request-path`):
//!
//! 1. **acquire** a copy of the collection at the session's `seq` ([`crate::acquire`]);
//! 2. **capture**: run the operation in a transaction left open, recording its writes as a
//!    changeset;
//! 3. **commit**: append the changeset to the journal as entry `seq + 1`, fenced on the
//!    session as the copy observed it (`docs/ARCHITECTURE.md#fenced-commit`);
//! 4. **settle** the copy by the commit's outcome: COMMIT it locally and keep it, or roll it
//!    back and retry from step 1 (fence lost), or drop it (ambiguous); then ask for a
//!    compaction when the journal has grown long.
//!
//! A request is answered `Ok` only once its writes are in the journal (the output gate,
//! `docs/ARCHITECTURE.md#output-gate`). A read-only request has an empty changeset: it ends its
//! transaction and answers without touching a store.

use std::sync::Arc;

use javumbo_collection::{Collection, OperationError};

use crate::cache::{CacheEntry, EntryMeta};
use crate::error::{Attempt, SessionError};
use crate::journal;
use crate::manager::SessionManager;
use crate::metrics::Metrics;
use crate::outcome::{Failed, RequestError, Served};
use crate::ports::{Fence, JournalEntry, JournalPayload, StoreError, StoreResult};
use crate::username::Username;

/// Retries of one fenced commit after an ambiguous (`Unavailable`) failure. Safe because the
/// store is idempotent on the entry's request id.
const AMBIGUOUS_COMMIT_RETRIES: u32 = 2;

/// A copy the operation ran on, its transaction still open.
struct Captured<T> {
    copy: CacheEntry,
    value: T,
    /// The raw changeset of the operation's writes; empty when it wrote nothing.
    changeset: Vec<u8>,
}

/// How the journal commit of one captured changeset went.
struct Commit {
    /// The entry's seq: the copy's seq + 1.
    seq: u64,
    /// Compressed size of the changeset.
    len: u64,
    /// Blob key of the payload when it spilled to the blob store.
    spilled: Option<String>,
    result: StoreResult<()>,
}

impl SessionManager {
    /// The request middleware. `op` may run more than once (fence retries) but its effects
    /// are applied exactly once; `Ok` only after its changes are in the journal.
    ///
    /// `op` fails with its own error type: a client error (`E::is_client_error`) leaves the
    /// cached copy in place, anything else drops it. Either comes back as
    /// [`RequestError::Op`]; failures of the protocol around it as [`RequestError::Session`].
    pub async fn with_collection<T, E, F>(
        &self,
        user: &Username,
        op: F,
    ) -> Result<Served<T>, Failed<RequestError<E>>>
    where
        F: Fn(&Collection) -> Result<T, E> + Send + Sync + 'static,
        T: Send + 'static,
        E: OperationError,
    {
        // `requests` and `errors_5xx` are counted once, by the HTTP layer that answers.
        let lock = self.user_lock(user);
        let _serialised = lock.lock().await;
        let op = Arc::new(op);
        let mut session_id = None;
        let mut retries = 0;
        loop {
            let error = match self.attempt(user, &op, &mut session_id).await {
                Ok(Ok(value)) => {
                    return Ok(Served {
                        value,
                        session_id: session_id.unwrap_or_default(),
                    });
                }
                Ok(Err(refused)) => RequestError::Op(refused),
                Err(Attempt::Retry) => {
                    Metrics::incr(&self.metrics.fence_retry);
                    retries += 1;
                    if retries <= self.cfg.max_fence_retries {
                        continue;
                    }
                    RequestError::Session(SessionError::Busy {
                        retry_after_secs: 1,
                    })
                }
                Err(Attempt::Fail(error)) => RequestError::Session(error),
            };
            return Err(Failed { error, session_id });
        }
    }

    /// One pass of the protocol: acquire → capture → commit → settle. The inner `Err` is the
    /// operation's own error (nothing was committed); the outer one the protocol's.
    async fn attempt<T, E, F>(
        &self,
        user: &Username,
        op: &Arc<F>,
        session_id: &mut Option<String>,
    ) -> Result<Result<T, E>, Attempt>
    where
        F: Fn(&Collection) -> Result<T, E> + Send + Sync + 'static,
        T: Send + 'static,
        E: OperationError,
    {
        let copy = self.acquire(user).await?;
        *session_id = Some(copy.meta.session_id.clone());
        let Captured {
            copy,
            value,
            changeset,
        } = match self.capture(user, copy, op).await? {
            Ok(captured) => captured,
            Err(refused) => return Ok(Err(refused)),
        };
        if changeset.is_empty() {
            // Nothing to journal, and `capture` already ended the transaction.
            self.keep(user, copy);
            return Ok(Ok(value));
        }
        // From here on, any failure drops the copy: dropping it rolls back the open transaction
        // and deletes the file, so a copy that may diverge from the journal is never used again.
        let commit = self.commit(user, &copy.meta, &changeset).await?;
        self.settle(user, copy, commit).await?;
        Ok(Ok(value))
    }

    /// Run `op` on the copy under a changeset recorder, its transaction left open. When `op`
    /// fails, everything it did is rolled back already.
    async fn capture<T, E, F>(
        &self,
        user: &Username,
        copy: CacheEntry,
        op: &Arc<F>,
    ) -> Result<Result<Captured<T>, E>, Attempt>
    where
        F: Fn(&Collection) -> Result<T, E> + Send + Sync + 'static,
        T: Send + 'static,
        E: OperationError,
    {
        let op = op.clone();
        let (copy, ran) = self
            .blocking(move || {
                let mut ran = journal::capture(copy.col(), |c| op(c));
                // A read (nothing recorded) is over: end its transaction in this same trip to
                // the blocking pool rather than in another one after it. A failed end is an
                // engine failure, and the copy is dropped.
                if let Ok(Ok((_, changeset))) = &ran
                    && changeset.is_empty()
                    && let Err(e) = journal::end_transaction(copy.col(), true)
                {
                    ran = Err(e.into());
                }
                (copy, ran)
            })
            .await?;
        match ran {
            Ok(Ok((value, changeset))) => Ok(Ok(Captured {
                copy,
                value,
                changeset,
            })),
            Ok(Err(refused)) => {
                // The op's writes and our transaction are rolled back, so the copy is still
                // exactly at its seq — unless the engine itself failed, then trust nothing.
                if refused.is_client_error() {
                    self.keep(user, copy);
                }
                Ok(Err(refused))
            }
            // The recorder itself failed: an engine failure, and the copy is dropped.
            Err(e) => Err(Attempt::Fail(e.into())),
        }
    }

    /// Append the changeset to the journal as entry `seq + 1` of the session the copy (at
    /// version `copy`) serves.
    async fn commit(
        &self,
        user: &Username,
        copy: &EntryMeta,
        changeset: &[u8],
    ) -> Result<Commit, Attempt> {
        let seq = copy.seq + 1;
        let request_id = uuid::Uuid::new_v4().simple().to_string();
        let (payload, len) = journal::make_payload(
            &self.ports,
            user,
            seq,
            &request_id,
            changeset,
            self.cfg.spill_threshold,
        )
        .await
        .map_err(Attempt::Fail)?;
        let spilled = match &payload {
            JournalPayload::Spilled { blob_key, .. } => {
                Metrics::incr(&self.metrics.journal_spill);
                Some(blob_key.clone())
            }
            JournalPayload::Inline(_) => None,
        };
        let now_ms = self.clock.now_ms();
        let entry = JournalEntry {
            seq,
            payload,
            request_id,
            at_ms: now_ms,
            schema_fingerprint: copy.schema_fingerprint.clone(),
        };
        // Fenced on the session as this copy observed it, not on being its owner: any container
        // whose copy is at the item's seq may append (`docs/ARCHITECTURE.md#shared-sessions`).
        let fence = Fence {
            owner: copy.owner.clone(),
            epoch: copy.epoch,
            seq: copy.seq,
        };
        let result = self.commit_fenced(user, &fence, &entry, now_ms).await;
        Ok(Commit {
            seq,
            len,
            spilled,
            result,
        })
    }

    /// The fenced commit, retried with the same request id while its outcome is ambiguous.
    async fn commit_fenced(
        &self,
        user: &Username,
        fence: &Fence,
        entry: &JournalEntry,
        now_ms: i64,
    ) -> StoreResult<()> {
        let expires_at = self.expires_at(now_ms);
        let mut tries = 0;
        loop {
            match self
                .ports
                .sessions
                .commit(user, fence, entry, now_ms, expires_at)
                .await
            {
                Err(StoreError::Unavailable(msg)) if tries < AMBIGUOUS_COMMIT_RETRIES => {
                    let seq = entry.seq;
                    tracing::warn!(%user, seq, %msg, "ambiguous journal commit, retrying");
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    /// Bring the copy in line with the journal: committed → COMMIT locally and keep it; fence
    /// lost → roll back and retry; ambiguous → drop it and fail.
    async fn settle(
        &self,
        user: &Username,
        mut copy: CacheEntry,
        commit: Commit,
    ) -> Result<(), Attempt> {
        match commit.result {
            Ok(()) => {
                Metrics::add(&self.metrics.journal_bytes, commit.len);
                copy.meta.seq = commit.seq;
                let fold_due =
                    commit.seq.saturating_sub(copy.meta.folded_seq) >= self.cfg.compact_after;
                // The write is durable in the journal: answer Ok even if the local COMMIT
                // fails (the copy is then dropped and the next request replays the entry).
                if let Some(copy) = self.finish_local(copy, true).await? {
                    self.keep(user, copy);
                }
                if fold_due {
                    self.request_compaction(user).await;
                }
                Ok(())
            }
            Err(StoreError::ConditionFailed) => {
                let seq = commit.seq;
                tracing::debug!(%user, seq, "fenced commit refused: copy behind the journal, retrying");
                if let Some(key) = commit.spilled {
                    let _ = self.ports.blobs.delete(&key).await;
                }
                // Rolled back, the copy is exactly at its old seq again (content at a seq is
                // unique), so the retry only has to catch up from the journal.
                if let Some(copy) = self.finish_local(copy, false).await? {
                    self.keep(user, copy);
                }
                Err(Attempt::Retry)
            }
            Err(e) => {
                // Ambiguous: the entry may or may not be in the journal. Never answer Ok; the
                // next request reloads from the store and sees whichever it is.
                drop(copy);
                Err(Attempt::Fail(e.into()))
            }
        }
    }

    /// COMMIT or ROLLBACK the transaction `capture` left open. `None` if that failed (the
    /// copy is dropped).
    async fn finish_local(
        &self,
        copy: CacheEntry,
        commit: bool,
    ) -> Result<Option<CacheEntry>, Attempt> {
        let copy = self
            .blocking(move || match journal::end_transaction(copy.col(), commit) {
                Ok(()) => Some(copy),
                Err(e) => {
                    tracing::error!(error = %e, "local transaction end failed; dropping copy");
                    None
                }
            })
            .await?;
        Ok(copy)
    }
}

#[cfg(test)]
mod tests;
