use std::error::Error as StdError;

use javumbo_collection::CollectionError;
use thiserror::Error;

/// Why an export or import failed. `InvalidPackage` and `TooLarge` are the uploader's fault (HTTP
/// 400/413); `Collection` is a failure of our own store.
#[derive(Debug, Error)]
pub enum ApkgError {
    /// `reason` says what is wrong with the upload; `source` is the error that revealed it (a
    /// zip, SQLite or JSON error reading the package), when there is one.
    #[error("invalid Anki package: {reason}")]
    InvalidPackage {
        reason: String,
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
    #[error("package too large: {0}")]
    TooLarge(String),
    #[error(transparent)]
    Collection(CollectionError),
}

impl ApkgError {
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidPackage {
            reason: reason.into(),
            source: None,
        }
    }

    pub(crate) fn invalid_because(
        reason: impl Into<String>,
        source: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self::InvalidPackage {
            reason: reason.into(),
            source: Some(Box::new(source)),
        }
    }

    /// The reason an upload was refused with its cause appended, `reason (cause)`: the message
    /// the uploader gets.
    pub fn detail(&self) -> String {
        match self {
            Self::InvalidPackage {
                reason,
                source: Some(source),
            } => format!("{reason} ({source})"),
            Self::InvalidPackage { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }
}

impl From<CollectionError> for ApkgError {
    /// Round-trips through [`Collection::atomic`](javumbo_collection::Collection::atomic), whose
    /// closure must return `CollectionError`: a package error raised inside it comes back as the
    /// same package error, not as an opaque collection failure.
    fn from(e: CollectionError) -> Self {
        match e {
            CollectionError::InvalidPackage(m) => Self::invalid(m),
            CollectionError::TooLarge(m) => Self::TooLarge(m),
            other => Self::Collection(other),
        }
    }
}

impl From<rusqlite::Error> for ApkgError {
    /// Errors on our *own* collection. Reads of the uploaded file map their SQLite errors to
    /// `InvalidPackage` explicitly (see `source.rs`), so they never land here.
    fn from(e: rusqlite::Error) -> Self {
        Self::Collection(CollectionError::Sqlite(e))
    }
}

impl From<std::io::Error> for ApkgError {
    fn from(e: std::io::Error) -> Self {
        Self::Collection(CollectionError::Io(e))
    }
}

impl From<ApkgError> for CollectionError {
    /// The package error tunnels through `CollectionError` as text (the session layer's
    /// operations return `CollectionError`); the text keeps the cause, as the uploader sees it.
    fn from(e: ApkgError) -> Self {
        match e {
            e @ ApkgError::InvalidPackage { .. } => CollectionError::InvalidPackage(e.detail()),
            ApkgError::TooLarge(m) => CollectionError::TooLarge(m),
            ApkgError::Collection(c) => c,
        }
    }
}
