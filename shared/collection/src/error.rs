use thiserror::Error;

/// Everything the engine can refuse or fail at. Client mistakes (`NotFound`, `InvalidInput`,
/// `Conflict`, `InvalidPackage`, `TooLarge`) are distinct from store failures so the HTTP layer
/// can map them to 4xx without string matching.
#[derive(Debug, Error)]
pub enum CollectionError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    Conflict(String),
    /// An uploaded file that is not a usable Anki package (not a zip, wrong schema, hostile...).
    #[error("invalid Anki package: {0}")]
    InvalidPackage(String),
    #[error("{0}")]
    TooLarge(String),
    /// The collection file itself is damaged or not what we wrote (not a client mistake).
    #[error("corrupt collection: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl CollectionError {
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Self::NotFound(_)
                | Self::InvalidInput(_)
                | Self::Conflict(_)
                | Self::InvalidPackage(_)
                | Self::TooLarge(_)
        )
    }
}

pub type Result<T, E = CollectionError> = std::result::Result<T, E>;
