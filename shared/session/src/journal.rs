//! Journal entries: capturing one request's writes as a SQLite session-extension changeset,
//! encoding it for the store, and replaying entries onto a snapshot. A card answer's entry is a
//! few hundred bytes once compressed; the session extension's pitfalls (tables without a primary
//! key, schemas that differ) are in `docs/ARCHITECTURE.md#changesets`.

use bytes::Bytes;
use javumbo_collection::{Collection, CollectionError};
use rusqlite::Connection;
use rusqlite::session::Session;
use sha2::{Digest, Sha256};

use crate::error::{InternalError, SessionError};
use crate::ports::{JournalEntry, JournalPayload, Ports, PutCondition, StoreError, spill_key};
use crate::username::Username;

const ZSTD_LEVEL: i32 = 3;

/// Fingerprint of the schema a changeset is captured on. The session extension silently skips
/// tables whose schema differs (`apply` returns Ok and drops those changes), so replay compares
/// this first.
pub fn schema_fingerprint(conn: &Connection) -> rusqlite::Result<String> {
    let mut stmt =
        // javumbo's private tables (`javumbo_*`) are created identically at every open, so they
        // are left out: entries captured before a private table existed still replay.
        conn.prepare(
            "SELECT type, name, tbl_name, sql FROM sqlite_master \
             WHERE tbl_name NOT LIKE 'javumbo\\_%' ESCAPE '\\' ORDER BY name",
        )?;
    let mut rows = stmt.query([])?;
    let mut h = Sha256::new();
    while let Some(r) = rows.next()? {
        for i in 0..4 {
            let v: Option<String> = r.get(i)?;
            // Length-prefix every field so ("ab","c") and ("a","bc") cannot collide.
            let v = v.unwrap_or_default();
            h.update((v.len() as u64).to_le_bytes());
            h.update(v.as_bytes());
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// Open an immediate transaction, run `op` under a session recorder and return its value with
/// the raw changeset. On success the transaction is LEFT OPEN: the caller commits it only
/// after the journal entry is durable, or rolls it back ([`end_transaction`]). On error it is
/// already rolled back.
///
/// The outer error is the recorder's own (an engine failure); the inner one is `op`'s, whatever
/// its type, so an operation's error reaches the caller as itself.
///
/// Raw `BEGIN` instead of a `rusqlite::Transaction` because the transaction has to outlive this
/// call (it spans the async journal commit) while the connection moves between threads.
pub fn capture<T, E>(
    col: &Collection,
    op: impl FnOnce(&Collection) -> Result<T, E>,
) -> Result<Result<(T, Vec<u8>), E>, CollectionError> {
    let conn = col.conn();
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let recorded = (|| {
        // A fresh session per request: a session accumulates everything since it was attached.
        let mut session = Session::new(conn)?;
        session.attach::<&str>(None)?;
        let value = match op(col) {
            Ok(value) => value,
            Err(e) => return Ok(Err(e)),
        };
        let mut bytes = Vec::new();
        session.changeset_strm(&mut bytes)?;
        Ok(Ok((value, bytes)))
    })();
    if !matches!(recorded, Ok(Ok(_))) {
        let _ = conn.execute_batch("ROLLBACK");
    }
    recorded
}

/// Finish the transaction [`capture`] left open.
pub fn end_transaction(col: &Collection, commit: bool) -> rusqlite::Result<()> {
    col.conn()
        .execute_batch(if commit { "COMMIT" } else { "ROLLBACK" })
}

/// Apply one raw changeset. Any conflict aborts the whole apply: with fencing the history is
/// linear, so a conflict means the journal and the snapshot disagree — that must be loud.
/// (With cached statements: [`crate::apply`].)
pub fn apply_changeset(conn: &Connection, changeset: &[u8]) -> rusqlite::Result<()> {
    crate::apply::apply_changeset(conn, changeset)
}

thread_local! {
    /// One compression context per thread, reused by every commit: building one per changeset
    /// (what `zstd::bulk::compress` does) allocated and initialised its tables each time. The
    /// threads are the process's bounded blocking pool, so these are few.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

pub fn compress(raw: &[u8]) -> Result<Vec<u8>, SessionError> {
    COMPRESSOR
        .with(|cell| {
            let mut slot = cell.borrow_mut();
            let compressor = match slot.as_mut() {
                Some(c) => c,
                None => slot.insert(zstd::bulk::Compressor::new(ZSTD_LEVEL)?),
            };
            compressor.compress(raw)
        })
        .map_err(|e| InternalError::Zstd(e).into())
}

thread_local! {
    /// One decompression context per thread, as for compression: a catch-up decompresses every
    /// entry it replays, and building a context per entry was ~3% of a container's CPU when
    /// its requests alternate with other containers'.
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// Largest content size taken from a frame's header to size the output at once; a larger (or
/// undeclared) size is decoded by the stream decoder, which grows its buffer as data comes.
const BULK_DECOMPRESS_LIMIT: u64 = 64 * 1024 * 1024;

pub fn decompress(data: &[u8]) -> Result<Vec<u8>, SessionError> {
    let declared = zstd::zstd_safe::get_frame_content_size(data)
        .ok()
        .flatten()
        .filter(|&n| n <= BULK_DECOMPRESS_LIMIT);
    if let Some(size) = declared {
        let bulk = DECOMPRESSOR.with(|cell| {
            let mut slot = cell.borrow_mut();
            let d = match slot.as_mut() {
                Some(d) => d,
                None => slot.insert(zstd::bulk::Decompressor::new()?),
            };
            // usize: the limit above fits every platform javumbo runs on.
            d.decompress(data, size as usize)
        });
        // Several frames, or a header that lies: the stream decoder decides.
        if let Ok(raw) = bulk {
            return Ok(raw);
        }
    }
    zstd::stream::decode_all(data).map_err(|e| InternalError::Zstd(e).into())
}

/// Blob key of a spilled entry. Suffixed with the request id: a stale writer whose commit is
/// going to fail may upload its spill for the same `seq` as the legitimate writer, and must not
/// overwrite the blob the committed entry points to.
pub fn spill_blob_key(user: &Username, seq: u64, request_id: &str) -> String {
    format!("{}-{request_id}", spill_key(user, seq))
}

/// Build the store payload of a changeset, spilling it to the blob store above `threshold`
/// compressed bytes (DynamoDB items stop at 400 KB).
pub async fn make_payload(
    ports: &Ports,
    user: &Username,
    seq: u64,
    request_id: &str,
    raw: &[u8],
    threshold: usize,
) -> Result<(JournalPayload, u64), SessionError> {
    let z = compress(raw)?;
    let len = z.len() as u64;
    if z.len() <= threshold {
        return Ok((JournalPayload::Inline(Bytes::from(z)), len));
    }
    let key = spill_blob_key(user, seq, request_id);
    ports
        .blobs
        .put(&key, Bytes::from(z), Default::default(), PutCondition::Any)
        .await?;
    Ok((JournalPayload::Spilled { blob_key: key, len }, len))
}

/// The raw changeset of an entry, fetching a spilled payload. A missing spill blob means a
/// concurrent flush folded and trimmed this entry: the caller re-reads the snapshot.
pub async fn fetch_changeset(ports: &Ports, entry: &JournalEntry) -> Result<Vec<u8>, SessionError> {
    match &entry.payload {
        JournalPayload::Inline(z) => decompress(z),
        JournalPayload::Spilled { blob_key, .. } => match ports.blobs.get(blob_key).await? {
            Some(b) => decompress(&b.bytes),
            None => Err(SessionError::Store(StoreError::ConditionFailed)),
        },
    }
}

/// The entries `after+1 ..= upto` with their changesets, or `None` when the range cannot be
/// read whole: a concurrent flush trimmed part of it, or deleted a spilled payload it folded.
pub async fn fetch_range(
    ports: &Ports,
    user: &Username,
    after: u64,
    upto: u64,
) -> Result<Option<Vec<(JournalEntry, Vec<u8>)>>, SessionError> {
    let listed = ports.sessions.journal(user, after, upto).await?;
    if !is_contiguous(&listed, after, upto) {
        return Ok(None);
    }
    let mut entries = Vec::with_capacity(listed.len());
    for e in listed {
        match fetch_changeset(ports, &e).await {
            Ok(raw) => entries.push((e, raw)),
            Err(SessionError::Store(StoreError::ConditionFailed)) => return Ok(None),
            Err(err) => return Err(err),
        }
    }
    Ok(Some(entries))
}

/// Entries must be exactly `after+1 ..= upto`; anything else means a concurrent trim (or a
/// broken store) and the state cannot be rebuilt from this read.
pub fn is_contiguous(entries: &[JournalEntry], after: u64, upto: u64) -> bool {
    entries.len() as u64 == upto.saturating_sub(after)
        && entries
            .iter()
            .zip(after + 1..)
            .all(|(e, want)| e.seq == want)
}

/// Apply already-fetched changesets in order, each checked against the schema fingerprint.
pub fn replay(conn: &Connection, entries: &[(JournalEntry, Vec<u8>)]) -> Result<(), SessionError> {
    if entries.is_empty() {
        return Ok(());
    }
    let fp = schema_fingerprint(conn).map_err(CollectionError::from)?;
    replay_on(conn, &fp, entries)
}

/// [`replay`] on a copy whose schema fingerprint is known (a cached copy keeps the one it was
/// loaded with, which is also what its own captures are stamped with): a catch-up no longer
/// reads and hashes `sqlite_master` for every request that follows another container's write.
pub fn replay_on(
    conn: &Connection,
    fp: &str,
    entries: &[(JournalEntry, Vec<u8>)],
) -> Result<(), SessionError> {
    for (entry, raw) in entries {
        if entry.schema_fingerprint != fp {
            return Err(InternalError::SchemaMismatch { seq: entry.seq }.into());
        }
        apply_changeset(conn, raw).map_err(|source| InternalError::Replay {
            seq: entry.seq,
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use javumbo_collection::{CreateOptions, ManualClock, SharedClock};

    fn col() -> Collection {
        let clock: SharedClock = ManualClock::new(1_700_000_000_000);
        Collection::create_in_memory(clock, &CreateOptions::default()).unwrap()
    }

    #[test]
    fn capture_then_replay_reproduces_the_write() {
        let a = col();
        let b = col();
        // Same starting content: copy a's rows into b via the fingerprint-equal schema.
        let fp = schema_fingerprint(a.conn()).unwrap();
        assert_eq!(fp, schema_fingerprint(b.conn()).unwrap());
        let (_, raw) = capture(&a, |c| -> Result<(), CollectionError> {
            c.conn()
                .execute("UPDATE col SET mod = 42 WHERE id = 1", [])?;
            Ok(())
        })
        .unwrap()
        .unwrap();
        end_transaction(&a, true).unwrap();
        assert!(!raw.is_empty());
        let entry = JournalEntry {
            seq: 1,
            payload: JournalPayload::Inline(Bytes::from(compress(&raw).unwrap())),
            request_id: "r".into(),
            at_ms: 0,
            schema_fingerprint: fp,
        };
        // Both collections were created at the same instant, so the `col` row's old values
        // match and the change applies; applying it again must conflict (linear history only).
        replay(b.conn(), &[(entry.clone(), raw.clone())]).unwrap();
        let b_mod: i64 = b
            .conn()
            .query_row("SELECT mod FROM col", [], |r| r.get(0))
            .unwrap();
        assert_eq!(b_mod, 42);
        assert!(replay(b.conn(), &[(entry, raw)]).is_err());
    }

    #[test]
    fn read_only_op_records_nothing_and_errors_roll_back() {
        let a = col();
        let (n, raw) = capture(&a, |c| -> Result<i64, CollectionError> {
            Ok(c.conn()
                .query_row("SELECT count(*) FROM cards", [], |r| r.get::<_, i64>(0))?)
        })
        .unwrap()
        .unwrap();
        end_transaction(&a, true).unwrap();
        assert!(n >= 0);
        assert!(raw.is_empty());
        let err = capture(&a, |c| -> Result<(), CollectionError> {
            c.conn()
                .execute("UPDATE col SET mod = 7 WHERE id = 1", [])?;
            Err(CollectionError::InvalidInput("no".into()))
        });
        assert!(matches!(err, Ok(Err(CollectionError::InvalidInput(_)))));
        let m: i64 = a
            .conn()
            .query_row("SELECT mod FROM col", [], |r| r.get(0))
            .unwrap();
        assert_ne!(m, 7);
        assert!(a.conn().is_autocommit());
    }

    #[test]
    fn fingerprint_mismatch_is_refused() {
        let a = col();
        let (_, raw) = capture(&a, |c| -> Result<(), CollectionError> {
            c.conn()
                .execute("UPDATE col SET mod = 5 WHERE id = 1", [])?;
            Ok(())
        })
        .unwrap()
        .unwrap();
        end_transaction(&a, true).unwrap();
        let entry = JournalEntry {
            seq: 1,
            payload: JournalPayload::Inline(Bytes::new()),
            request_id: "r".into(),
            at_ms: 0,
            schema_fingerprint: "other".into(),
        };
        assert!(matches!(
            replay(a.conn(), &[(entry, raw)]),
            Err(SessionError::Internal(InternalError::SchemaMismatch {
                seq: 1
            }))
        ));
    }

    #[test]
    fn contiguity() {
        let e = |seq| JournalEntry {
            seq,
            payload: JournalPayload::Inline(Bytes::new()),
            request_id: String::new(),
            at_ms: 0,
            schema_fingerprint: String::new(),
        };
        assert!(is_contiguous(&[e(3), e(4)], 2, 4));
        assert!(is_contiguous(&[], 4, 4));
        assert!(!is_contiguous(&[e(4)], 2, 4));
        assert!(!is_contiguous(&[e(3), e(5)], 2, 4));
    }
}
