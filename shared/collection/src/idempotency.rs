//! Idempotency records: the answer a write gave, kept under the client's `Idempotency-Key`
//! (`docs/ARCHITECTURE.md#idempotent-writes`). A javumbo-private table inside the collection
//! file, so a record is written in the same transaction — and so the same journal entry — as
//! the write it answers: a write is either applied with its record or not at all, on every
//! container that replays the journal. Anki never sees the table (exports and full-sync
//! downloads copy only Anki's tables).

use rusqlite::{OptionalExtension, params};

use crate::{Collection, Result};

/// Name of the private table.
pub const IDEMPOTENCY_TABLE: &str = "javumbo_idempotency";

/// How long a record answers for its key; older ones are deleted by the next write that
/// records one.
pub const RETENTION_MS: i64 = 24 * 3600 * 1000;

/// Created at every open (like the media index), never inside a recorded transaction: the
/// session extension records rows, not DDL, so every copy must have the table before a journal
/// entry that writes it is replayed.
pub(crate) const IDEMPOTENCY_DDL: &str = "CREATE TABLE IF NOT EXISTS javumbo_idempotency (\
     key TEXT PRIMARY KEY NOT NULL, fingerprint TEXT NOT NULL, body BLOB NOT NULL, \
     created INTEGER NOT NULL);\
     CREATE INDEX IF NOT EXISTS javumbo_idempotency_created ON javumbo_idempotency (created);";

/// What the first request with a key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Identifies the request (method, path, body) the key was first used with.
    pub fingerprint: String,
    /// The answer's body as it was sent.
    pub body: Vec<u8>,
}

impl Collection {
    /// The live record of `key`, if a write recorded one less than [`RETENTION_MS`] ago.
    pub fn idempotency_record(&self, key: &str) -> Result<Option<IdempotencyRecord>> {
        let oldest = self.clock().now_ms() - RETENTION_MS;
        Ok(self
            .conn()
            .prepare_cached(
                "SELECT fingerprint, body FROM javumbo_idempotency WHERE key = ?1 AND created >= ?2",
            )?
            .query_row(params![key, oldest], |r| {
                Ok(IdempotencyRecord {
                    fingerprint: r.get(0)?,
                    body: r.get(1)?,
                })
            })
            .optional()?)
    }

    /// Record the answer to `key` (replacing an expired record of it), and drop expired ones.
    /// Call inside the write's own transaction.
    pub fn record_idempotency(&self, key: &str, record: &IdempotencyRecord) -> Result<()> {
        let now = self.clock().now_ms();
        self.conn()
            .prepare_cached("DELETE FROM javumbo_idempotency WHERE created < ?1")?
            .execute([now - RETENTION_MS])?;
        self.conn()
            .prepare_cached(
                "INSERT OR REPLACE INTO javumbo_idempotency (key, fingerprint, body, created) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![key, record.fingerprint, record.body, now])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CreateOptions, ManualClock};

    fn record(fp: &str, body: &str) -> IdempotencyRecord {
        IdempotencyRecord {
            fingerprint: fp.into(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_record_answers_for_a_day_then_expires() {
        let clock = ManualClock::new(1_700_000_000_000);
        let col = Collection::create_in_memory(clock.clone(), &CreateOptions::default()).unwrap();
        assert_eq!(col.idempotency_record("k").unwrap(), None);
        col.record_idempotency("k", &record("fp", "{}")).unwrap();
        assert_eq!(
            col.idempotency_record("k").unwrap(),
            Some(record("fp", "{}"))
        );
        clock.advance_ms(RETENTION_MS);
        assert!(col.idempotency_record("k").unwrap().is_some());
        clock.advance_ms(1);
        assert_eq!(col.idempotency_record("k").unwrap(), None);
        // The next record purges the expired one and may reuse its key.
        col.record_idempotency("other", &record("fp2", "[]"))
            .unwrap();
        let left: i64 = col
            .conn()
            .query_row("SELECT count(*) FROM javumbo_idempotency", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1);
        col.record_idempotency("k", &record("fp3", "1")).unwrap();
        assert_eq!(
            col.idempotency_record("k").unwrap(),
            Some(record("fp3", "1"))
        );
    }
}
