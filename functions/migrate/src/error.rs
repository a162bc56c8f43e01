use javumbo_collection::CollectionError;
use javumbo_session::StoreError;

/// Why a run (or one user of it) failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("source: {0}")]
    Source(String),
    #[error("source database")]
    Sqlite(#[from] rusqlite::Error),
    #[error("collection")]
    Collection(#[from] CollectionError),
    #[error("store")]
    Store(#[from] StoreError),
    #[error("verification failed: {0}")]
    Verify(String),
    #[error("{0}")]
    Conflict(String),
    #[error("settings")]
    Runtime(#[from] javumbo_runtime::RuntimeError),
    #[error("i/o")]
    Io(#[from] std::io::Error),
    #[error("report")]
    Json(#[from] serde_json::Error),
}

impl MigrateError {
    /// The whole chain of causes on one line, for the report.
    pub fn chain(&self) -> String {
        let mut s = self.to_string();
        let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(self);
        while let Some(e) = cur {
            s.push_str(": ");
            s.push_str(&e.to_string());
            cur = e.source();
        }
        s
    }
}
