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
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A shared failure (one group commit's transaction) reported to each of its callers.
    #[error("{message}")]
    Shared { message: String, transient: bool },
}

impl From<LocalStoreError> for StoreError {
    fn from(e: LocalStoreError) -> Self {
        match &e {
            LocalStoreError::ConditionFailed => StoreError::ConditionFailed,
            LocalStoreError::Io(_) => StoreError::Unavailable(e.to_string()),
            LocalStoreError::Sqlite(err) if is_transient(err) => {
                StoreError::Unavailable(e.to_string())
            }
            // A cancelled blocking task may or may not have run its write.
            LocalStoreError::Task(j) if j.is_cancelled() => StoreError::Unavailable(e.to_string()),
            LocalStoreError::Shared {
                transient: true, ..
            } => StoreError::Unavailable(e.to_string()),
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
