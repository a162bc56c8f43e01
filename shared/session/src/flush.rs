//! The flush handler (DESIGN §6): fold a session's journal into the snapshot and release it.
//! A library function so the Lambda, the local bus and `SessionManager::flush` share it.
//!
//! Every step is a conditional write, and the snapshot's own `seq` metadata (not the session
//! item) says what it contains, so a crash after any step is repaired by the next delivery or
//! takeover, and duplicate or late deliveries are no-ops (invariant 4).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use javumbo_collection::{Collection, CollectionError, SharedClock};

use crate::journal;
use crate::manager::{Ports, SessionError};
use crate::metrics::Metrics;
use crate::ports::{
    Blob, FlushRequest, JournalEntry, JournalPayload, PutCondition, SNAPSHOT_SEQ_META,
    SessionExpect, SessionItem, SessionStatus, StoreError, snapshot_key,
};
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

/// How many times a read of snapshot + journal is retried when a concurrent flush trimmed the
/// journal between the two reads.
const READ_ATTEMPTS: usize = 4;

/// Snapshot plus the journal tail after it, as read from the stores.
pub(crate) struct StateRead {
    pub blob: Blob,
    pub snapshot_seq: u64,
    pub entries: Vec<(JournalEntry, Vec<u8>)>,
}

pub(crate) fn snapshot_seq_of(blob: &Blob) -> Result<u64, SessionError> {
    match blob.metadata.get(SNAPSHOT_SEQ_META) {
        None => Ok(0),
        Some(s) => s
            .parse()
            .map_err(|_| SessionError::Internal(format!("bad snapshot seq metadata {s:?}"))),
    }
}

/// Read the snapshot and the entries `snapshot_seq+1 ..= upto`. `Store(ConditionFailed)` means
/// the state moved under us (the snapshot is already past `upto`, or trims kept racing): the
/// caller starts over from the session item.
pub(crate) async fn read_state(
    ports: &Ports,
    user: &Username,
    upto: u64,
    mut prefetched: Option<Blob>,
) -> Result<StateRead, SessionError> {
    for _ in 0..READ_ATTEMPTS {
        let blob = match prefetched.take() {
            Some(b) => b,
            None => ports
                .blobs
                .get(&snapshot_key(user))
                .await?
                .ok_or(SessionError::NoCollection)?,
        };
        let s = snapshot_seq_of(&blob)?;
        if s > upto {
            return Err(StoreError::ConditionFailed.into());
        }
        if s == upto {
            return Ok(StateRead {
                blob,
                snapshot_seq: s,
                entries: Vec::new(),
            });
        }
        // A gap means a concurrent flush trimmed the range: the next snapshot read covers it.
        if let Some(entries) = journal::fetch_range(ports, user, s, upto).await? {
            return Ok(StateRead {
                blob,
                snapshot_seq: s,
                entries,
            });
        }
    }
    Err(StoreError::ConditionFailed.into())
}

/// Write the snapshot to `path` (which must not exist), open it and replay the entries.
pub(crate) fn materialize(
    path: &Path,
    state: &StateRead,
    clock: SharedClock,
) -> Result<Collection, SessionError> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(CollectionError::from)?;
    f.write_all(&state.blob.bytes)
        .map_err(CollectionError::from)?;
    drop(f);
    let col = Collection::open(path, clock)?;
    // This copy is disposable: durability lives in the journal and the snapshot (invariant 1),
    // so skip fsyncs and the on-disk rollback journal. A crash mid-write loses only the copy,
    // which nothing ever reopens (cache entries are per process, and a flush re-reads).
    // A 512 KiB page cache per copy (SQLite's default is 2 MiB): the file itself sits in the
    // OS page cache, and a container keeps hundreds of copies open.
    col.conn()
        .execute_batch(
            "PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY; PRAGMA cache_size = -512;",
        )
        .map_err(CollectionError::from)?;
    let tx = col
        .conn()
        .unchecked_transaction()
        .map_err(CollectionError::from)?;
    journal::replay(&tx, &state.entries)?;
    tx.commit().map_err(CollectionError::from)?;
    Ok(col)
}

pub(crate) fn snapshot_metadata(seq: u64) -> std::collections::BTreeMap<String, String> {
    [(SNAPSHOT_SEQ_META.to_owned(), seq.to_string())].into()
}

/// Upload a snapshot folded up to `seq`, conditional on the etag it was built from. A lost
/// race is fine if the winner's snapshot already holds `seq` (a concurrent flush of the same
/// state).
pub(crate) async fn upload_snapshot(
    ports: &Ports,
    user: &Username,
    bytes: Vec<u8>,
    seq: u64,
    based_on: Option<&str>,
) -> Result<Option<String>, SessionError> {
    let cond = match based_on {
        Some(etag) => PutCondition::IfMatch(etag.to_owned()),
        None => PutCondition::IfAbsent,
    };
    let key = snapshot_key(user);
    match ports
        .blobs
        .put(&key, Bytes::from(bytes), snapshot_metadata(seq), cond)
        .await
    {
        Ok(etag) => Ok(Some(etag)),
        Err(StoreError::ConditionFailed) => match ports.blobs.get(&key).await? {
            Some(b) if snapshot_seq_of(&b)? >= seq => Ok(None),
            _ => Err(StoreError::ConditionFailed.into()),
        },
        Err(e) => Err(e.into()),
    }
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
                    if n.session_id == item.session_id && n.status == SessionStatus::Flushed =>
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

/// Move the session to `Flushing` unless it already is; `None` if the request is stale.
async fn begin_flushing(
    ports: &Ports,
    req: &FlushRequest,
) -> Result<Result<SessionItem, FlushOutcome>, SessionError> {
    for _ in 0..READ_ATTEMPTS {
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
    let state = read_state(ports, user, item.seq, None).await?;
    if state.snapshot_seq < item.seq {
        std::fs::create_dir_all(work_dir).map_err(CollectionError::from)?;
        let path: PathBuf = work_dir.join(format!("flush-{}.anki2", uuid::Uuid::new_v4().simple()));
        let bytes = build_snapshot(&path, &state, clock.clone());
        let _ = std::fs::remove_file(&path);
        let bytes = bytes?;
        upload_snapshot(ports, user, bytes, item.seq, Some(&state.blob.etag)).await?;
    }
    release(ports, &item, metrics).await
}

fn build_snapshot(
    path: &Path,
    state: &StateRead,
    clock: SharedClock,
) -> Result<Vec<u8>, SessionError> {
    let col = materialize(path, state, clock)?;
    // Closing first: with journal_mode=DELETE the file is complete once the connection is gone.
    drop(col);
    Ok(std::fs::read(path).map_err(CollectionError::from)?)
}
