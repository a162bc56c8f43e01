//! The crate's one error type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("invalid option: {0}")]
    Config(String),
    #[error("could not start javumbo-local ({bin}): {source}")]
    Spawn {
        bin: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("target {0} did not become healthy in time")]
    NotHealthy(String),
    #[error("setting up user {user} failed: {reason}")]
    Setup { user: String, reason: String },
    #[error("reading the exported .apkg failed: {0}")]
    Apkg(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

pub type Result<T, E = LoadError> = std::result::Result<T, E>;
