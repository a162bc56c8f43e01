//! The crate's error type, and what one attempt of a request can end in.
//!
//! Every variant keeps its cause as a `source()`. Each level's message also repeats its cause's
//! message, because the log sites (here, in the HTTP layer and in the flush handler) print an
//! error with `Display` only: the message stays what an operator needs, and the chain stays
//! there for code that inspects it.

use javumbo_collection::CollectionError;

use crate::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Client errors map to 4xx (`CollectionError::is_client_error`).
    #[error(transparent)]
    Collection(#[from] CollectionError),
    /// 503 + Retry-After.
    #[error("session busy, retry")]
    Busy { retry_after_secs: u64 },
    /// Flush with a foreign or unknown id → 404.
    #[error("session not found")]
    SessionNotFound,
    #[error("no collection for this user")]
    NoCollection,
    /// 503 when `Unavailable` (ambiguous), else 500.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Our fault, never the client's: 500.
    #[error("internal: {0}")]
    Internal(#[source] InternalError),
}

/// What went wrong inside the protocol machinery itself.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    /// A snapshot's `seq` metadata (written only by us) is not a number.
    #[error("bad snapshot seq metadata {value:?}")]
    SnapshotSeq {
        value: String,
        #[source]
        source: std::num::ParseIntError,
    },
    /// Compressing or decompressing a changeset failed.
    #[error("zstd: {0}")]
    Zstd(#[source] std::io::Error),
    /// The session extension would skip a changeset's tables silently on another schema, so a
    /// mismatch is refused before applying.
    #[error("journal entry {seq} was captured on another schema; refusing to replay")]
    SchemaMismatch { seq: u64 },
    /// Applying a journal entry conflicted or failed: the journal and the copy disagree.
    #[error("replaying journal entry {seq}: {source}")]
    Replay {
        seq: u64,
        #[source]
        source: rusqlite::Error,
    },
    /// A blocking task (SQLite work off the async runtime) panicked or was cancelled.
    #[error("blocking task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
    /// `VACUUM INTO` takes its target as SQL text.
    #[error("non-UTF-8 cache path {0:?}")]
    NonUtf8Path(std::path::PathBuf),
}

impl From<InternalError> for SessionError {
    fn from(e: InternalError) -> Self {
        Self::Internal(e)
    }
}

/// Why one attempt of a request did not produce an answer.
pub(crate) enum Attempt {
    /// The state moved under us (fence or claim lost): start over from the session item.
    Retry,
    Fail(SessionError),
}

impl From<SessionError> for Attempt {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Store(StoreError::ConditionFailed) => Self::Retry,
            e => Self::Fail(e),
        }
    }
}

impl From<StoreError> for Attempt {
    fn from(e: StoreError) -> Self {
        SessionError::from(e).into()
    }
}

impl From<InternalError> for Attempt {
    fn from(e: InternalError) -> Self {
        Self::Fail(e.into())
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn internal_errors_keep_their_cause() {
        let parse = "x".parse::<u64>().unwrap_err();
        let e = SessionError::from(InternalError::SnapshotSeq {
            value: "x".into(),
            source: parse.clone(),
        });
        assert_eq!(e.to_string(), "internal: bad snapshot seq metadata \"x\"");
        let inner = e.source().expect("the internal error");
        let cause = inner.source().expect("the parse error");
        assert_eq!(cause.to_string(), parse.to_string());
    }

    #[test]
    fn store_errors_keep_the_adapters_cause() {
        let io = std::io::Error::other("disk on fire");
        let e = StoreError::other(io);
        assert_eq!(e.to_string(), "store error: disk on fire");
        let cause = e.source().expect("the adapter's error");
        assert!(cause.downcast_ref::<std::io::Error>().is_some());
        assert_eq!(e, StoreError::other(std::io::Error::other("disk on fire")));
        assert_ne!(e, StoreError::ConditionFailed);
    }
}
