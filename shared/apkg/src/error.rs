use javumbo_collection::CollectionError;
use thiserror::Error;

/// Why an export or import failed. `InvalidPackage` and `TooLarge` are the uploader's fault (HTTP
/// 400/413); `Collection` is a failure of our own store.
#[derive(Debug, Error)]
pub enum ApkgError {
    #[error("invalid Anki package: {0}")]
    InvalidPackage(String),
    #[error("package too large: {0}")]
    TooLarge(String),
    #[error(transparent)]
    Collection(CollectionError),
}

impl ApkgError {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidPackage(msg.into())
    }
}

impl From<CollectionError> for ApkgError {
    /// Round-trips through [`Collection::atomic`](javumbo_collection::Collection::atomic), whose
    /// closure must return `CollectionError`: a package error raised inside it comes back as the
    /// same package error, not as an opaque collection failure.
    fn from(e: CollectionError) -> Self {
        match e {
            CollectionError::InvalidPackage(m) => Self::InvalidPackage(m),
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
    fn from(e: ApkgError) -> Self {
        match e {
            ApkgError::InvalidPackage(m) => CollectionError::InvalidPackage(m),
            ApkgError::TooLarge(m) => CollectionError::TooLarge(m),
            ApkgError::Collection(c) => c,
        }
    }
}
