//! What a request through `SessionManager::with_collection` answers. Both sides carry the
//! session id, because every collection response names it (the `X-Session-ID` header), errors
//! included.

use crate::error::SessionError;

/// The operation's value, once its writes are in the journal.
#[derive(Debug)]
pub struct Served<T> {
    pub value: T,
    pub session_id: String,
}

/// An error plus the session id, if one was acquired. The one "failed, in this session" type:
/// the session layer answers `Failed<RequestError<E>>`, and the HTTP layer renders
/// `Failed<ApiError>` after mapping the error once ([`Failed::map`]).
#[derive(Debug)]
pub struct Failed<E> {
    pub error: E,
    pub session_id: Option<String>,
}

impl<E> Failed<E> {
    /// The same failure with its error converted (the session id stays).
    pub fn map<F>(self, f: impl FnOnce(E) -> F) -> Failed<F> {
        Failed {
            error: f(self.error),
            session_id: self.session_id,
        }
    }
}

/// Why a request failed: the operation's own error (`E`, e.g. `CollectionError` or
/// `ApkgError`), or the session machinery around it.
#[derive(Debug, thiserror::Error)]
pub enum RequestError<E> {
    /// The operation refused (a client mistake, its writes rolled back) or failed.
    #[error(transparent)]
    Op(E),
    #[error(transparent)]
    Session(#[from] SessionError),
}
