//! The flush handler: fold a session's journal into the snapshot and release the session
//! (`docs/ARCHITECTURE.md#flush-handler`). A library function so the Lambda, the local bus and
//! `SessionManager::flush` share it.
//!
//! Every step is a conditional write, and the snapshot's own `seq` metadata (not the session
//! item) says what it contains, so a crash after any step is repaired by the next delivery or
//! takeover, and duplicate or late deliveries are no-ops: flushing twice, concurrently, late or
//! after a crash halfway leaves the same state (`docs/ARCHITECTURE.md#idempotent-flush`).

use std::path::{Path, PathBuf};

use javumbo_collection::{CollectionError, SharedClock};

use crate::error::SessionError;
use crate::metrics::Metrics;
use crate::ports::{
    FlushRequest, JournalPayload, Ports, SessionExpect, SessionItem, SessionStatus, StoreError,
};
use crate::snapshot::{self, StateRead};
use crate::username::Username;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushOutcome {
    /// The snapshot now holds everything up to `seq` and the session is released.
    Flushed { seq: u64 },
    /// Somebody flushed this session already.
    AlreadyFlushed,
    /// The request names a session id or epoch that is no longer current (late delivery).
    Stale,
}

/// Entries a flush leaves in the journal below the new snapshot's seq. They are already folded,
/// so nothing needs them for durability; they let another container whose copy is a little
/// behind catch up by replaying them instead of downloading the new snapshot.
pub const JOURNAL_KEEP: u64 = 64;

/// How many times moving the session to `Flushing` is retried while commits keep moving it.
const BEGIN_ATTEMPTS: usize = 4;

/// Handle one flush request. Idempotent: duplicates and late deliveries are no-ops.
pub async fn handle_flush_request(
    ports: &Ports,
    req: &FlushRequest,
    clock: &SharedClock,
    metrics: &Metrics,
    work_dir: &Path,
) -> Result<FlushOutcome, SessionError> {
    let item = match begin_flushing(ports, req).await? {
        Ok(item) => item,
        Err(outcome) => return Ok(outcome),
    };
    let user = &item.username;
    let state = snapshot::read_state(ports, user, item.seq, None).await?;
    if state.snapshot_seq < item.seq {
        std::fs::create_dir_all(work_dir).map_err(CollectionError::from)?;
        let path: PathBuf = work_dir.join(format!("flush-{}.anki2", uuid::Uuid::new_v4().simple()));
        let bytes = build_snapshot(&path, &state, clock.clone());
        let _ = std::fs::remove_file(&path);
        let bytes = bytes?;
        snapshot::upload_snapshot(ports, user, bytes, item.seq, Some(&state.blob.etag)).await?;
    }
    release(ports, &item, metrics).await
}

/// Move the session to `Flushing` unless it already is; `Err(outcome)` when there is nothing
/// to do (the request is stale, or the session is flushed already).
async fn begin_flushing(
    ports: &Ports,
    req: &FlushRequest,
) -> Result<Result<SessionItem, FlushOutcome>, SessionError> {
    for _ in 0..BEGIN_ATTEMPTS {
        let Some(item) = ports.sessions.get(&req.username).await? else {
            return Ok(Err(FlushOutcome::Stale));
        };
        if item.session_id != req.session_id || item.epoch != req.epoch {
            return Ok(Err(FlushOutcome::Stale));
        }
        match item.status {
            SessionStatus::Flushed => return Ok(Err(FlushOutcome::AlreadyFlushed)),
            // Resume a flush that crashed (or is running concurrently: every later step is
            // conditional, so two flushers of one session converge).
            SessionStatus::Flushing => return Ok(Ok(item)),
            SessionStatus::Active | SessionStatus::FlushRequested => {
                let mut f = item.clone();
                f.status = SessionStatus::Flushing;
                match ports.sessions.put(&f, SessionExpect::matching(&item)).await {
                    Ok(()) => return Ok(Ok(f)),
                    // The holder committed meanwhile (seq moved): read again.
                    Err(StoreError::ConditionFailed) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Err(SessionError::Busy {
        retry_after_secs: 1,
    })
}

/// The folded state as a complete collection file.
fn build_snapshot(
    path: &Path,
    state: &StateRead,
    clock: SharedClock,
) -> Result<Vec<u8>, SessionError> {
    let col = snapshot::materialize(path, state, clock)?;
    // Closing first: with journal_mode=DELETE the file is complete once the connection is gone.
    drop(col);
    Ok(std::fs::read(path).map_err(CollectionError::from)?)
}

/// Mark `item` (status `Flushing`) flushed at its seq, then trim the journal and delete the
/// spilled payloads it folded.
pub(crate) async fn release(
    ports: &Ports,
    item: &SessionItem,
    metrics: &Metrics,
) -> Result<FlushOutcome, SessionError> {
    let mut done = item.clone();
    done.status = SessionStatus::Flushed;
    done.owner = None;
    done.requested_by = None;
    done.snapshot_seq = item.seq;
    match ports
        .sessions
        .put(&done, SessionExpect::matching(item))
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed) => {
            // A concurrent flusher of the same session may have finished first.
            let now = ports.sessions.get(&item.username).await?;
            return match now {
                Some(n)
                    if n.session_id == item.session_id
                        && n.epoch == item.epoch
                        && n.status == SessionStatus::Flushed =>
                {
                    Ok(FlushOutcome::AlreadyFlushed)
                }
                _ => Ok(FlushOutcome::Stale),
            };
        }
        Err(e) => return Err(e.into()),
    }
    Metrics::incr(&metrics.flush);
    trim(ports, &item.username, item.seq.saturating_sub(JOURNAL_KEEP)).await?;
    Ok(FlushOutcome::Flushed { seq: item.seq })
}

/// Delete the journal up to `seq` (already folded into the snapshot). Spilled payloads go
/// first: an entry whose blob is gone is never read again, because the snapshot covers it.
async fn trim(ports: &Ports, user: &Username, seq: u64) -> Result<(), SessionError> {
    for e in ports.sessions.journal(user, 0, seq).await? {
        if let JournalPayload::Spilled { blob_key, .. } = &e.payload {
            ports.blobs.delete(blob_key).await?;
        }
    }
    ports.sessions.trim_journal(user, seq).await?;
    Ok(())
}
