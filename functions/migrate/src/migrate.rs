//! One user: prepare (read, verify, normalise, verify again) and apply (write, idempotently).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use javumbo_collection::{Collection, SharedClock, SystemClock};
use javumbo_session::Ports;
use javumbo_session::{PutCondition, SNAPSHOT_SEQ_META, UserRecord, Username, snapshot_key};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::check::{self, Counts};
use crate::error::MigrateError;
use crate::source::SourceUser;

/// A user's collection, normalised and verified, ready to be written.
#[derive(Debug)]
pub struct Prepared {
    pub user: Username,
    pub record: UserRecord,
    pub snapshot: Vec<u8>,
    /// Over everything migrated of this user: name, password hash, collection bytes.
    pub checksum: String,
    pub before: Counts,
    pub after: Counts,
    pub cards_deleted: i64,
    pub normalised: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Migrated,
    /// The source changed since the last run and the user had not used javumbo yet.
    Remigrated,
    /// Already migrated from the same source: nothing written.
    Unchanged,
    WouldMigrate,
    WouldRemigrate,
    Failed,
}

/// What a run leaves per user, so a re-run can tell "done" from "changed" (blob
/// `migrations/<storage key>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    source_checksum: String,
    snapshot_etag: String,
    password_hash: String,
    origin: String,
    migrated_at_ms: i64,
}

fn marker_key(user: &Username) -> String {
    format!("migrations/{}.json", user.storage_key())
}

fn checksum(src: &SourceUser, bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    for part in [
        src.username.as_bytes(),
        src.name.as_bytes(),
        src.password_hash.as_bytes(),
        bytes,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// Verify and normalise `bytes` (the source collection) in `work`; never touches the source.
pub fn prepare(src: &SourceUser, bytes: &[u8], work: &Path) -> Result<Prepared, MigrateError> {
    let user = Username::parse(&src.username)
        .map_err(|e| MigrateError::Source(format!("username {:?}: {e}", src.username)))?;
    let checksum = checksum(src, bytes);
    let path = work.join("collection.anki2");
    std::fs::write(&path, bytes)?;

    let (before, digest_before) = {
        let conn = Connection::open(&path)?;
        check::integrity(&conn)?;
        (check::counts(&conn)?, check::revlog_digest(&conn)?)
    };
    let clock: SharedClock = Arc::new(SystemClock);
    let (repairs, crt) = {
        let col = Collection::open(&path, clock.clone())?;
        let repairs = col.repair()?;
        (repairs, col.crt()?)
    };
    let out = work.join("snapshot.anki2");
    let _ = std::fs::remove_file(&out);
    {
        let conn = Connection::open(&path)?;
        check::integrity(&conn)?;
        let after = check::counts(&conn)?;
        if after.notes != before.notes || after.revlog != before.revlog {
            return Err(MigrateError::Verify(format!(
                "counts changed: {before:?} → {after:?}"
            )));
        }
        if check::revlog_digest(&conn)? != digest_before {
            return Err(MigrateError::Verify("review history changed".into()));
        }
        // A clean single file for the snapshot (no WAL, no free pages).
        conn.execute("VACUUM INTO ?1", [out.to_string_lossy()])?;
    }
    // The file javumbo will serve must open in the engine and answer its first questions.
    let after = {
        let col = Collection::open(&out, clock)?;
        col.decks()?;
        col.timing()?;
        if !col.repair()?.is_empty() {
            return Err(MigrateError::Verify(
                "normalisation is not idempotent".into(),
            ));
        }
        let conn = col.conn();
        check::integrity(conn)?;
        let after = check::counts(conn)?;
        if check::revlog_digest(conn)? != digest_before {
            return Err(MigrateError::Verify("review history changed".into()));
        }
        after
    };
    let snapshot = std::fs::read(&out)?;
    let created_at = src.created_at.unwrap_or(crt.saturating_mul(1000));
    Ok(Prepared {
        record: UserRecord {
            username: user.clone(),
            password_hash: src.password_hash.clone(),
            name: src.name.trim().to_owned(),
            created_at,
            revocation: Default::default(),
        },
        user,
        snapshot,
        checksum,
        before,
        cards_deleted: before.cards - after.cards,
        after,
        normalised: repairs.lines(),
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Write `p` into the stores unless it is already there. Reads everything it decides on before
/// its first write, so a dry run takes the same decisions and writes nothing.
pub async fn apply(
    ports: &Ports,
    p: &Prepared,
    origin: &str,
    dry_run: bool,
) -> Result<Outcome, MigrateError> {
    let mkey = marker_key(&p.user);
    let skey = snapshot_key(&p.user);
    let marker: Option<Marker> = match ports.blobs.get(&mkey).await? {
        Some(b) => Some(serde_json::from_slice(&b.bytes)?),
        None => None,
    };
    let existing = ports.users.get(&p.user).await?;
    let snapshot = ports.blobs.get(&skey).await?;
    let session = ports.sessions.get(&p.user).await?;
    let meta: BTreeMap<String, String> = [(SNAPSHOT_SEQ_META.to_owned(), "0".to_owned())].into();

    let outcome = match &marker {
        Some(m) if m.source_checksum == p.checksum => return Ok(Outcome::Unchanged),
        Some(m) => {
            let untouched = session.is_none()
                && snapshot.as_ref().map(|b| &b.etag) == Some(&m.snapshot_etag)
                && existing.as_ref().map(|u| &u.password_hash) == Some(&m.password_hash);
            if !untouched {
                return Err(MigrateError::Conflict(
                    "the source changed after the user started using javumbo (logged in or \
                     studied): not overwritten; migrate this user by hand"
                        .into(),
                ));
            }
            if dry_run {
                return Ok(Outcome::WouldRemigrate);
            }
            Outcome::Remigrated
        }
        None => {
            if let Some(u) = &existing
                && u.password_hash != p.record.password_hash
            {
                return Err(MigrateError::Conflict(
                    "a different javumbo user already has this name".into(),
                ));
            }
            if snapshot.is_some() && session.is_some() {
                return Err(MigrateError::Conflict(
                    "the user already has an active javumbo session".into(),
                ));
            }
            if dry_run {
                return Ok(Outcome::WouldMigrate);
            }
            Outcome::Migrated
        }
    };

    // The collection first: a user record never exists without its collection.
    let condition = match &snapshot {
        None => PutCondition::IfAbsent,
        Some(b) => PutCondition::IfMatch(b.etag.clone()),
    };
    let etag = ports
        .blobs
        .put(&skey, p.snapshot.clone().into(), meta, condition)
        .await?;
    if existing.is_none() && !ports.users.create_migrated(&p.record).await? {
        return Err(MigrateError::Conflict(
            "a javumbo user with this name appeared during the migration".into(),
        ));
    }
    if let (Some(u), Some(m)) = (&existing, &marker)
        && u.password_hash != p.record.password_hash
    {
        ports
            .users
            .update_password_hash(&p.user, &m.password_hash, &p.record.password_hash)
            .await?;
    }
    let marker = Marker {
        source_checksum: p.checksum.clone(),
        snapshot_etag: etag,
        password_hash: p.record.password_hash.clone(),
        origin: origin.to_owned(),
        migrated_at_ms: now_ms(),
    };
    ports
        .blobs
        .put(
            &mkey,
            serde_json::to_vec(&marker)?.into(),
            BTreeMap::new(),
            PutCondition::Any,
        )
        .await?;
    Ok(outcome)
}
