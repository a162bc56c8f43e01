//! The route groups. Handlers validate input, run one collection operation through the session
//! manager and shape the answer; they hold no logic of their own.

pub mod auth;
pub mod bodies;
pub mod crud;
pub mod export;
pub mod media;
mod msync;
pub mod notes;
pub mod review;
pub mod study;
pub mod sync;
pub mod transfers;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use javumbo_collection::{Collection, CollectionError, OperationError};
use javumbo_session::Username;
use serde::Serialize;

use crate::AppState;
use crate::error::{ApiError, failure_response, set_session_header};
use crate::idempotency::{self, Written};

/// What a handler answers: its response, or an error response (a failure already rendered,
/// `X-Session-ID` included, or an [`ApiError`] via `?`).
pub(crate) type Reply = axum::response::Result<Response>;

/// Run the engine operation `op` on the user's collection; the value and the session id it ran
/// under.
pub(crate) async fn on_collection<T, F>(
    state: &AppState,
    user: &Username,
    op: F,
) -> axum::response::Result<(T, String)>
where
    F: Fn(&Collection) -> Result<T, CollectionError> + Send + Sync + 'static,
    T: Send + 'static,
{
    run_operation(state, user, op).await
}

/// Run `op`, failing with its own error type `E`, on the user's collection: the one place a
/// request's failure becomes a response.
pub(crate) async fn run_operation<T, E, F>(
    state: &AppState,
    user: &Username,
    op: F,
) -> axum::response::Result<(T, String)>
where
    F: Fn(&Collection) -> Result<T, E> + Send + Sync + 'static,
    T: Send + 'static,
    E: OperationError + Into<ApiError>,
{
    match state.sessions.with_collection(user, op).await {
        Ok(served) => Ok((served.value, served.session_id)),
        Err(failed) => Err(failure_response(failed.map(ApiError::from)).into()),
    }
}

/// Run the write `op` on the user's collection; `op` returns the answer's body. With an
/// `Idempotency-Key` on the request, a repeat of it is not applied again: the first body comes
/// back (`crate::idempotency`). Every handler that writes the collection goes through here (or
/// [`write_operation`]), never through [`on_collection`].
pub(crate) async fn write<B, F>(
    state: &AppState,
    user: &Username,
    op: F,
) -> axum::response::Result<(Written<B>, String)>
where
    F: Fn(&Collection) -> Result<B, CollectionError> + Send + Sync + 'static,
    B: Serialize + Send + 'static,
{
    write_operation(state, user, op).await
}

/// [`write`] for an operation failing with its own error type `E`.
pub(crate) async fn write_operation<B, E, F>(
    state: &AppState,
    user: &Username,
    op: F,
) -> axum::response::Result<(Written<B>, String)>
where
    F: Fn(&Collection) -> Result<B, E> + Send + Sync + 'static,
    B: Serialize + Send + 'static,
    E: OperationError + Into<ApiError>,
{
    match idempotency::claim() {
        None => {
            let (body, sid) = run_operation(state, user, op).await?;
            Ok((Written::Fresh(body), sid))
        }
        Some(claim) => {
            let (written, sid) = run_operation(state, user, claim.wrap(op)).await?;
            claim.replayed(&written);
            Ok((written, sid))
        }
    }
}

/// A JSON answer carrying `X-Session-ID`.
pub(crate) fn session_json(status: StatusCode, session_id: &str, body: impl Serialize) -> Response {
    let mut resp = (status, Json(body)).into_response();
    set_session_header(&mut resp, session_id);
    resp
}

/// Like [`session_json`], with `"session_id"` also in the body (the crud routes' contract).
pub(crate) fn session_json_with_id<T: Serialize>(
    status: StatusCode,
    session_id: &str,
    body: T,
) -> Response {
    let body = bodies::WithSessionId {
        body,
        session_id: session_id.to_owned(),
    };
    session_json(status, session_id, body)
}

/// A required field of a request body: 400 naming it when absent.
pub(crate) fn required<T>(v: Option<T>, field: &str) -> Result<T, crate::ApiError> {
    v.ok_or_else(|| crate::ApiError::BadRequest(format!("Missing field: {field}")))
}
