//! The route groups. Handlers validate input, run one collection operation through the session
//! manager and shape the answer; they hold no logic of their own.

pub mod auth;
pub mod bodies;
pub mod crud;
pub mod export;
pub mod review;
pub mod sync;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use javumbo_collection::{Collection, CollectionError};
use javumbo_session::Username;
use serde::Serialize;

use crate::AppState;
use crate::error::{ApiFailure, set_session_header};

/// Run `op` on the user's collection; the value and the session id it ran under.
pub(crate) async fn on_collection<T, F>(
    state: &AppState,
    user: &Username,
    op: F,
) -> Result<(T, String), ApiFailure>
where
    F: Fn(&Collection) -> Result<T, CollectionError> + Send + Sync + 'static,
    T: Send + 'static,
{
    let served = state.sessions.with_collection(user, op).await?;
    Ok((served.value, served.session_id))
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
