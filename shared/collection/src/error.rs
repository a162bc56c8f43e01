use std::error::Error as StdError;

use thiserror::Error;

/// Everything the engine can refuse or fail at. Client mistakes (`NotFound`, `InvalidInput`,
/// `InvalidEase`, `Conflict`) are distinct from store failures so the HTTP layer can map them to
/// 4xx without string matching.
#[derive(Debug, Error)]
pub enum CollectionError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidInput(String),
    /// An answer button outside 1..=4 (its message is worded for the client).
    #[error(transparent)]
    InvalidEase(#[from] javumbo_scheduler::InvalidEase),
    #[error("{0}")]
    Conflict(String),
    /// The `fsrs` crate refused a preset's parameters (or the memory state they produce).
    #[error(transparent)]
    Fsrs(#[from] javumbo_scheduler::fsrs::FsrsError),
    /// The collection file itself is damaged or not what we wrote (not a client mistake).
    #[error(transparent)]
    Corrupt(Corruption),
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
                | Self::InvalidEase(_)
                | Self::Conflict(_)
                | Self::Fsrs(_)
        )
    }

    /// Damage described by `what` alone.
    pub fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt(Corruption::new(what))
    }

    /// Damage described by `what`, revealed by `cause` (kept as the error's source).
    pub fn corrupt_because(
        what: impl Into<String>,
        cause: impl StdError + Send + Sync + 'static,
    ) -> Self {
        Self::Corrupt(Corruption::because(what, cause))
    }
}

/// The error of an operation run on a collection through the session layer
/// (`SessionManager::with_collection`), which must tell a client mistake from an engine failure:
/// after a client mistake the operation's writes are rolled back and the cached copy is still
/// exactly what the journal says, so it is kept; after an engine failure nothing about the copy
/// is trusted and it is dropped. Crates with their own error type (`javumbo-apkg`) implement it,
/// so their errors reach the HTTP layer as themselves rather than squeezed into this enum.
pub trait OperationError: StdError + Send + Sync + 'static {
    fn is_client_error(&self) -> bool;
}

impl OperationError for CollectionError {
    fn is_client_error(&self) -> bool {
        CollectionError::is_client_error(self)
    }
}

/// What is damaged in a collection file, and the error that revealed it when there is one (a
/// failed read, unparsable JSON, a stored number out of its column's range).
#[derive(Debug, Error)]
#[error("corrupt collection: {what}")]
pub struct Corruption {
    what: String,
    #[source]
    cause: Option<Box<dyn StdError + Send + Sync>>,
}

impl Corruption {
    pub fn new(what: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            cause: None,
        }
    }

    pub fn because(what: impl Into<String>, cause: impl StdError + Send + Sync + 'static) -> Self {
        Self {
            what: what.into(),
            cause: Some(Box::new(cause)),
        }
    }

    /// The damage, without the "corrupt collection" prefix or the cause.
    pub fn what(&self) -> &str {
        &self.what
    }
}

/// Lets `CollectionError::Corrupt("...".into())` keep working for damage without a cause.
impl From<&str> for Corruption {
    fn from(what: &str) -> Self {
        Self::new(what)
    }
}

impl From<String> for Corruption {
    fn from(what: String) -> Self {
        Self::new(what)
    }
}

pub type Result<T, E = CollectionError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corruption_keeps_its_cause() {
        let cause = javumbo_scheduler::CardQueue::try_from(9).unwrap_err();
        let e = CollectionError::corrupt_because("card 5 does not decode", cause);
        assert_eq!(e.to_string(), "corrupt collection: card 5 does not decode");
        let source = e.source().expect("the cause is the source");
        assert_eq!(
            source.to_string(),
            "cards.queue 9 is out of range (expected -3 to 4)"
        );
        assert!(!e.is_client_error());
        let plain = CollectionError::Corrupt("no col row".into());
        assert!(plain.source().is_none());
        assert_eq!(plain.to_string(), "corrupt collection: no col row");
    }

    #[test]
    fn invalid_ease_is_a_client_error_worded_for_the_client() {
        let e: CollectionError = javumbo_scheduler::Ease::try_from(7).unwrap_err().into();
        assert!(e.is_client_error());
        assert_eq!(
            e.to_string(),
            "invalid ease 7: expected 1 (again) to 4 (easy)"
        );
    }
}
