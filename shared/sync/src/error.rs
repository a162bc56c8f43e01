//! The failures of a sync request, as the official client understands them. The status codes
//! are Anki's: the client turns 403 into "authentication failed", 409 into "another sync is in
//! progress", 400 into "check database", 501 into "client too old" and 5xx into a server error;
//! anything else becomes a generic network error. The text is the body (Anki's server answers
//! plain text).

/// One enum for every sync failure; `status` is the HTTP status the client expects.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Unknown, revoked or malformed host key, or wrong username/password.
    #[error("{0}")]
    AuthFailed(String),
    /// Malformed request: header, body, JSON. Anki's server answers these with 400.
    #[error("{0}")]
    BadRequest(String),
    /// The `v` of the meta request is outside 8–11 (Anki's server: 501 "unsupported version").
    #[error("unsupported version")]
    ClientTooOld,
    /// Another sync holds the collection (Anki's server: 409).
    #[error("{0}")]
    Conflict(String),
    /// A body over the configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// Ours: never a client mistake. The detail is logged by the HTTP layer, never sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// The store is busy or unavailable; the client may retry.
    #[error("server busy, please try again")]
    Unavailable,
}

impl SyncError {
    /// The HTTP status the official client expects for this failure.
    pub fn status(&self) -> u16 {
        match self {
            Self::AuthFailed(_) => 403,
            Self::BadRequest(_) => 400,
            Self::ClientTooOld => 501,
            Self::Conflict(_) => 409,
            // The client shows 413 as a network error; the body still says why, and there is no
            // status it would render better (an upload over the limit never reaches us on
            // Lambda, where the platform answers first).
            Self::TooLarge(_) => 413,
            Self::Internal(_) => 500,
            Self::Unavailable => 503,
        }
    }

    /// The body sent to the client: the message, except for internal errors.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "internal server error".to_owned(),
            other => other.to_string(),
        }
    }
}

impl From<rusqlite::Error> for SyncError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Internal(format!("sqlite: {e}"))
    }
}

impl From<std::io::Error> for SyncError {
    fn from(e: std::io::Error) -> Self {
        Self::Internal(format!("io: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_the_ones_the_client_knows() {
        assert_eq!(SyncError::AuthFailed("x".into()).status(), 403);
        assert_eq!(SyncError::ClientTooOld.status(), 501);
        assert_eq!(SyncError::Conflict("x".into()).status(), 409);
        assert_eq!(SyncError::BadRequest("x".into()).status(), 400);
        assert_eq!(
            SyncError::Internal("secret".into()).public_message(),
            "internal server error"
        );
    }
}
