use std::error::Error as StdError;

use javumbo_collection::{CollectionError, OperationError};
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

impl OperationError for ApkgError {
    /// An unusable or oversized upload is the uploader's mistake (and `import_apkg` rolled back
    /// everything it wrote); a failure of our own collection is what the collection says.
    fn is_client_error(&self) -> bool {
        match self {
            Self::InvalidPackage { .. } | Self::TooLarge(_) => true,
            Self::Collection(e) => e.is_client_error(),
        }
    }
}

impl From<CollectionError> for ApkgError {
    fn from(e: CollectionError) -> Self {
        Self::Collection(e)
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
