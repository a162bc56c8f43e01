//! What a request through `SessionManager::with_collection` answers. Both sides carry the
//! session id, because every collection response names it (the `X-Session-ID` header), errors
//! included.

use crate::error::SessionError;

/// The operation's value, once its writes are in the journal.
pub struct Served<T> {
    pub value: T,
    pub session_id: String,
}

/// An error plus the session id, if one was acquired.
#[derive(Debug)]
pub struct Failed {
    pub error: SessionError,
    pub session_id: Option<String>,
}
