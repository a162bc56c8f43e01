//! The snapshot blob (`user_dbs/<user>.anki2`): reading it with the journal tail after it,
//! materializing that state as a collection file, and uploading a new snapshot.
//!
//! A user's collection is always snapshot(`s`) + journal entries `s+1 ..= seq`, applied in
//! order; the snapshot's own `seq` metadata (not the session item) says which entries it
//! already holds (`docs/ARCHITECTURE.md#durable-state`). The request path loads copies from
//! here, and the flush handler folds the journal into a new snapshot with the same functions.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use javumbo_collection::{Collection, CollectionError, SharedClock};

use crate::error::{InternalError, SessionError};
use crate::journal;
use crate::ports::{
    Blob, JournalEntry, Ports, PutCondition, SNAPSHOT_SEQ_META, StoreError, snapshot_key,
};
use crate::username::Username;

/// How many times a read of snapshot + journal is retried when a concurrent flush trimmed the
/// journal between the two reads.
const READ_ATTEMPTS: usize = 4;

/// Snapshot plus the journal tail after it, as read from the stores.
pub(crate) struct StateRead {
    pub blob: Blob,
    pub snapshot_seq: u64,
    pub entries: Vec<(JournalEntry, Vec<u8>)>,
}

/// The last journal seq folded into a snapshot (0 for one that never had any).
pub(crate) fn snapshot_seq_of(blob: &Blob) -> Result<u64, SessionError> {
    match blob.metadata.get(SNAPSHOT_SEQ_META) {
        None => Ok(0),
        Some(s) => s.parse().map_err(|source| {
            InternalError::SnapshotSeq {
                value: s.clone(),
                source,
            }
            .into()
        }),
    }
}

/// The metadata of a snapshot folded up to `seq`.
pub(crate) fn snapshot_metadata(seq: u64) -> BTreeMap<String, String> {
    [(SNAPSHOT_SEQ_META.to_owned(), seq.to_string())].into()
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
    // This copy is disposable: durability lives in the journal and the snapshot (a write is
    // acknowledged only once its journal entry is committed), so skip fsyncs and the on-disk
    // rollback journal. A crash mid-write loses only the copy, which nothing ever reopens
    // (cache entries are per process, and a flush re-reads).
    // A 512 KiB page cache per copy (SQLite's default is 2 MiB): the file itself sits in the
    // OS page cache, and a container keeps hundreds of copies open.
    // Exclusive locking: this connection is the only one that ever opens the copy, so it keeps
    // its lock and its page cache between transactions instead of taking and dropping POSIX
    // locks and re-checking the file for other writers on every request (fcntl, stat and page
    // re-reads were ~4% of a container's CPU under load).
    col.conn()
        .execute_batch(
            "PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY; PRAGMA cache_size = -512;
             PRAGMA locking_mode = EXCLUSIVE;",
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

/// The whole file of an open collection, as of its last commit (`VACUUM INTO` a scratch file
/// at `path`, which the caller deletes).
pub(crate) fn vacuum_into(col: &Collection, path: &Path) -> Result<Vec<u8>, SessionError> {
    let target = path
        .to_str()
        .ok_or_else(|| InternalError::NonUtf8Path(path.to_owned()))?;
    col.conn()
        .execute("VACUUM INTO ?1", [target])
        .map_err(CollectionError::from)?;
    Ok(std::fs::read(path).map_err(CollectionError::from)?)
}

/// Upload a snapshot folded up to `seq`, conditional on the etag it was built from. A lost
/// race is fine if the winner's snapshot already holds `seq` (a concurrent flush of the same
/// state): then `None`, else the new etag.
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
