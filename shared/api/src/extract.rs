//! Extractors whose rejections are [`ApiError`]s, so every malformed request gets the JSON error
//! shape instead of axum's plain-text defaults.

use std::net::SocketAddr;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use javumbo_session::{UserRecord, Username};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::error::ApiError;
use crate::jwt;

fn from_rejection(status: StatusCode, text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge("Request body too large".into()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(text),
        // axum answers 422 for well-formed JSON of the wrong shape; the contract says 400.
        _ => ApiError::BadRequest(text),
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        from_rejection(r.status(), r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        from_rejection(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        from_rejection(r.status(), r.body_text())
    }
}

/// A JSON body (requires `Content-Type: application/json`).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(v))
    }
}

#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(v) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(v))
    }
}

#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(v) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(v))
    }
}

/// The user of a valid bearer token; anything else is 401.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Username);

/// A valid bearer token with its claims and the user record it was checked against (logout
/// needs the token's id and expiry, and the record's revocations).
#[derive(Debug, Clone)]
pub struct AuthToken(pub jwt::Verified, pub UserRecord);

/// The bearer token of the request, checked: signature and expiry, then against its user's
/// record, so that a token of a deleted user, or one voided by a logout or a password change,
/// is refused on every container from the moment the record says so (one consistent read).
pub(crate) async fn token_user(
    parts: &Parts,
    state: &AppState,
) -> Result<(jwt::Verified, UserRecord), ApiError> {
    let token = parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(jwt::bearer)
        .ok_or_else(ApiError::unauthorized)?;
    let verified = jwt::verify(&state.config, token, state.clock.now_secs())?;
    let record = state
        .users
        .get(&verified.user)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if record.created_at != verified.claims.acct
        || record
            .revocation
            .voids(&verified.claims.jti, verified.claims.iat)
    {
        return Err(ApiError::unauthorized());
    }
    Ok((verified, record))
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        token_user(parts, state).await.map(|(v, _)| Self(v.user))
    }
}

impl FromRequestParts<AppState> for AuthToken {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        token_user(parts, state)
            .await
            .map(|(token, record)| Self(token, record))
    }
}

/// The client's address as established by the platform: on Lambda the binary inserts it from
/// the API Gateway request context; locally it is the peer address (or, behind our own gateway
/// only, the last `X-Forwarded-For` hop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub std::net::IpAddr);

/// Source address as a throttling key (`"unknown"` when the platform gives none).
#[derive(Debug, Clone)]
pub struct SourceAddr(pub String);

impl FromRequestParts<AppState> for SourceAddr {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(ClientIp(ip)) = parts.extensions.get::<ClientIp>() {
            return Ok(Self(ip.to_string()));
        }
        let proven = || {
            parts
                .headers
                .get(crate::config::GATEWAY_PROOF_HEADER)
                .is_some_and(|v| v.as_bytes() == state.config.gateway_proof().as_bytes())
        };
        if state.config.trust_forwarded_for && proven() {
            // Our gateway appends the peer it saw, so the last hop is the one we can trust.
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|s| s.trim().parse::<std::net::IpAddr>().ok())
                .next_back();
            if let Some(ip) = forwarded {
                return Ok(Self(ip.to_string()));
            }
        }
        if let Some(ConnectInfo(addr)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            return Ok(Self(addr.ip().to_string()));
        }
        Ok(Self("unknown".into()))
    }
}
