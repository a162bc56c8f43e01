use std::error::Error as StdError;
use std::sync::Arc;

use javumbo_session::StoreError;

/// Failures inside the embedded adapters. At the port boundary they become [`StoreError`]:
/// anything that may have left a write half-done or could succeed on retry (I/O, a busy
/// database) is `Unavailable`, which callers treat as ambiguous; misuse and corrupt data are
/// `Other`.
#[derive(Debug, thiserror::Error)]
pub enum LocalStoreError {
    /// A precondition did not hold; nothing was written.
    #[error("condition failed")]
    ConditionFailed,
    #[error("invalid blob key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Data we wrote earlier does not read back: `what` says which, `source` what revealed it
    /// when there is such an error (a header that does not parse).
    #[error("corrupt stored data: {what}")]
    Corrupt {
        what: String,
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("encoding a blob header: {0}")]
    Header(#[source] serde_json::Error),
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// One group commit's failure, reported to each of its callers (hence shared, not owned).
    #[error("{0}")]
    Shared(#[source] Arc<LocalStoreError>),
}

impl LocalStoreError {
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt {
            what: what.into(),
            source: None,
        }
    }

    pub(crate) fn corrupt_because(
        what: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self::Corrupt {
            what: what.into(),
            source: Some(Box::new(source)),
        }
    }

    /// Whether a retry may succeed and a write may or may not have happened: the port's
    /// `Unavailable`.
    fn is_transient(&self) -> bool {
        match self {
            Self::Io(_) => true,
            Self::Sqlite(err) => is_transient(err),
            // A cancelled blocking task may or may not have run its write.
            Self::Task(j) => j.is_cancelled(),
            Self::Shared(inner) => inner.is_transient(),
            _ => false,
        }
    }
}

impl From<LocalStoreError> for StoreError {
    fn from(e: LocalStoreError) -> Self {
        match &e {
            LocalStoreError::ConditionFailed => StoreError::ConditionFailed,
            e if e.is_transient() => StoreError::Unavailable(e.to_string()),
            _ => StoreError::other(e),
        }
    }
}

/// SQLite failures that say nothing about the request itself: the caller may retry, and a
/// failed COMMIT may or may not have reached the disk.
fn is_transient(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e.sqlite_error_code(),
        Some(
            DatabaseBusy
                | DatabaseLocked
                | SystemIoFailure
                | DiskFull
                | CannotOpen
                | OutOfMemory
                | FileLockingProtocolFailed
                | OperationInterrupted,
        )
    )
}

pub(crate) type Result<T, E = LocalStoreError> = std::result::Result<T, E>;
