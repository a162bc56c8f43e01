//! The one error type of the HTTP layer and its single mapping to `{"error": ...}` + status.

use std::error::Error as StdError;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use javumbo_apkg::ApkgError;
use javumbo_collection::CollectionError;
use javumbo_session::{Failed, RequestError, SessionError, StoreError};

use crate::routes::bodies::ErrorBody;

/// Header every collection route answers with, errors included: the session the request ran in
/// (`docs/openapi.yaml`).
pub const SESSION_HEADER: &str = "x-session-id";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Well-formed but refused as a whole: an `Idempotency-Key` reused for another request.
    #[error("{0}")]
    Unprocessable(String),
    #[error("too many attempts, retry later")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("service busy, retry later")]
    Unavailable { retry_after_secs: u64 },
    /// Our fault. The cause is logged, never sent: it may name files or SQL.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn unauthorized() -> Self {
        Self::Unauthorized("Missing or invalid token".into())
    }

    /// Our fault, caused by `cause` (kept as the source, logged, never sent).
    pub fn internal(cause: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Internal(cause.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            Self::Internal(cause) => {
                tracing::error!(error = %cause, chain = %Chain(cause.as_ref()), "internal error");
                "Internal server error".to_owned()
            }
            other => other.to_string(),
        };
        let retry_after = match self {
            Self::TooManyRequests { retry_after_secs } | Self::Unavailable { retry_after_secs } => {
                Some(retry_after_secs.max(1))
            }
            _ => None,
        };
        let body = ErrorBody { error: message };
        let mut resp = (status, axum::Json(body)).into_response();
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

impl From<CollectionError> for ApiError {
    fn from(e: CollectionError) -> Self {
        match e {
            CollectionError::NotFound(m) => Self::NotFound(m),
            CollectionError::InvalidInput(m) => Self::BadRequest(m),
            e @ CollectionError::InvalidEase(_) => Self::BadRequest(e.to_string()),
            CollectionError::Conflict(m) => Self::Conflict(m),
            e @ CollectionError::Fsrs(_) => Self::BadRequest(e.to_string()),
            e @ (CollectionError::Corrupt(_)
            | CollectionError::Sqlite(_)
            | CollectionError::Json(_)
            | CollectionError::Io(_)) => Self::internal(e),
        }
    }
}

impl From<javumbo_collection::MediaError> for ApiError {
    fn from(e: javumbo_collection::MediaError) -> Self {
        match e {
            e @ javumbo_collection::MediaError::QuotaExceeded { .. } => {
                Self::PayloadTooLarge(e.to_string())
            }
            javumbo_collection::MediaError::Collection(c) => c.into(),
        }
    }
}

impl From<ApkgError> for ApiError {
    fn from(e: ApkgError) -> Self {
        match e {
            // The uploader sees the reason and what revealed it (`ApkgError::detail`).
            e @ ApkgError::InvalidPackage { .. } => {
                Self::BadRequest(format!("invalid Anki package: {}", e.detail()))
            }
            ApkgError::TooLarge(m) => Self::PayloadTooLarge(m),
            ApkgError::Collection(c) => c.into(),
        }
    }
}

impl From<crate::routes::study::OptimizeError> for ApiError {
    fn from(e: crate::routes::study::OptimizeError) -> Self {
        use crate::routes::study::OptimizeError;
        match e {
            // Not a malformed request: a history too large to train on within one request.
            e @ OptimizeError::TooManyReviews { .. } => Self::PayloadTooLarge(e.to_string()),
            OptimizeError::Collection(c) => c.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // Ambiguous or contended: the client may simply retry.
            StoreError::Unavailable(m) => {
                tracing::warn!(error = %m, "store unavailable");
                Self::Unavailable {
                    retry_after_secs: 1,
                }
            }
            StoreError::ConditionFailed => Self::Unavailable {
                retry_after_secs: 1,
            },
            e @ StoreError::Other(_) => Self::internal(e),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Collection(c) => c.into(),
            SessionError::Busy { retry_after_secs } => Self::Unavailable { retry_after_secs },
            SessionError::SessionNotFound => Self::NotFound("Session not found".into()),
            SessionError::Store(s) => s.into(),
            // Registration writes the collection before the account, so a token whose user has
            // no collection names no account (deleted, or a token forged with the real key).
            SessionError::NoCollection => Self::unauthorized(),
            e @ SessionError::Internal(_) => Self::internal(e),
        }
    }
}

/// The one mapping of a collection request's failure: the operation's own error as its type
/// says, the session machinery's as [`SessionError`] says.
impl<E: Into<ApiError>> From<RequestError<E>> for ApiError {
    fn from(e: RequestError<E>) -> Self {
        match e {
            RequestError::Op(e) => e.into(),
            RequestError::Session(e) => e.into(),
        }
    }
}

/// The response to a failed collection request: the error's, plus `X-Session-ID` when a session
/// was acquired. (`Failed` is the session crate's type, so it cannot implement `IntoResponse`
/// here; handlers return `axum::response::Result` and call this once, in `on_collection`.)
pub fn failure_response(failed: Failed<ApiError>) -> Response {
    let mut resp = failed.error.into_response();
    if let Some(sid) = failed.session_id {
        set_session_header(&mut resp, &sid);
    }
    resp
}

/// An error's `source()` chain, `a: b: c`, for the log line of an internal error.
struct Chain<'a>(&'a (dyn StdError + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

pub(crate) fn set_session_header(resp: &mut Response, session_id: &str) {
    if let Ok(v) = HeaderValue::from_str(session_id) {
        resp.headers_mut().insert(SESSION_HEADER, v);
    }
}

/// A failed sync request (`/sync/*`): Anki's status for the failure and its text as a plain
/// body, as Anki's server answers (the official client shows it, or its own message for 403,
/// 409, 400, 501 and 5xx). The JSON `{"error"}` shape is for the web API only.
#[derive(Debug)]
pub struct SyncFailure(pub javumbo_sync::SyncError);

impl From<javumbo_sync::SyncError> for SyncFailure {
    fn from(e: javumbo_sync::SyncError) -> Self {
        Self(e)
    }
}

impl IntoResponse for SyncFailure {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match &self.0 {
            javumbo_sync::SyncError::Internal(detail) => {
                tracing::error!(error = %detail, "sync internal error");
            }
            other => {
                tracing::info!(status = status.as_u16(), error = %other, "sync request refused")
            }
        }
        let mut resp = (status, self.0.public_message()).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1u64));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_retry_after() {
        let r = ApiError::TooManyRequests {
            retry_after_secs: 0,
        }
        .into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let r = ApiError::from(CollectionError::Conflict("dup".into())).into_response();
        assert_eq!(r.status(), StatusCode::CONFLICT);
        let r = ApiError::from(CollectionError::Corrupt("secret path".into()));
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn failure_carries_session_header() {
        let f = Failed {
            error: ApiError::NotFound("x".into()),
            session_id: Some("s1".into()),
        };
        let r = failure_response(f);
        assert_eq!(r.headers()[SESSION_HEADER], "s1");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn package_errors_map_without_tunnelling() {
        let e = ApiError::from(RequestError::Op(ApkgError::TooLarge("too big".into())));
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(e.to_string(), "too big");
        let e = ApiError::from(ApkgError::Collection(CollectionError::Conflict(
            "dup".into(),
        )));
        assert_eq!(e.status(), StatusCode::CONFLICT);
        let e = ApiError::from(RequestError::<ApkgError>::Session(SessionError::Busy {
            retry_after_secs: 2,
        }));
        assert!(matches!(
            e,
            ApiError::Unavailable {
                retry_after_secs: 2
            }
        ));
    }

    #[test]
    fn a_history_too_large_to_optimize_is_413() {
        use crate::routes::study::OptimizeError;
        let e = ApiError::from(RequestError::Op(OptimizeError::TooManyReviews {
            reviews: 20_001,
            cap: 20_000,
        }));
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(e.to_string().contains("20001"), "{e}");
        let e = ApiError::from(OptimizeError::Collection(CollectionError::NotFound(
            "preset 4".into(),
        )));
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn internal_errors_keep_their_cause_and_never_send_it() {
        let io = std::io::Error::other("/secret/path");
        let e = ApiError::from(CollectionError::Io(io));
        let cause = e.source().expect("the collection error");
        assert!(cause.downcast_ref::<CollectionError>().is_some());
        assert_eq!(
            Chain(&e).to_string(),
            "internal error: i/o error: /secret/path: i/o error: /secret/path: /secret/path"
        );
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
