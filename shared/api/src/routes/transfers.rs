//! Large exports and imports (`docs/ARCHITECTURE.md#large-transfers`). On AWS a function's
//! request and answer are bounded (Lambda: 6 MB synchronous payload, ~4.4 MB of binary once
//! base64-encoded), so packages above [`TransferLimits::inline_max_bytes`] travel through the
//! blob store with short-lived URLs:
//!
//! - **export**: `GET /api/export` stores the package under `transfers/<user>/` and answers
//!   `303 See Other` to a presigned download URL (the JSON body carries the same link), which a
//!   browser's `fetch` follows by itself;
//! - **import**: `POST /api/import/uploads` answers an upload URL (presigned PUT on S3), the
//!   client PUTs the package there, then `POST /api/import/uploads/{id}/process` imports it
//!   exactly as `POST /api/import` would, and deletes it.
//!
//! The embedded store has no presigned URLs: an export is answered inline at any size, and the
//! upload URL is javumbo's own `PUT /api/import/uploads/{id}?token=…`, streamed to the blob
//! store; the token (HS256 under a key derived from the JWT secret, so it is never an API
//! token, nor an API token one) names the user and the upload and expires with the URL.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use javumbo_session::{PutCondition, Username};
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Reply;
use crate::error::{ApiError, set_session_header};
use crate::extract::{ApiPath, ApiQuery, AuthUser};
use crate::{ApiConfig, AppState};

/// Sizes and lifetimes of large transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferLimits {
    /// Exports larger than this go through a download URL when the store has them.
    pub inline_max_bytes: usize,
    /// Largest package accepted through an upload URL.
    pub max_upload_bytes: usize,
    /// How long a download or upload URL stays valid.
    pub url_ttl: Duration,
}

impl Default for TransferLimits {
    fn default() -> Self {
        Self {
            // Below Lambda's 6 MB payload once base64-encoded, with room for headers.
            inline_max_bytes: 4 * 1024 * 1024,
            max_upload_bytes: 256 * 1024 * 1024,
            url_ttl: Duration::from_secs(15 * 60),
        }
    }
}

pub fn routes(config: &ApiConfig) -> Router<AppState> {
    Router::new()
        .route("/api/import/uploads", post(new_upload))
        .route(
            "/api/import/uploads/{id}",
            put(local_upload).layer(DefaultBodyLimit::max(config.transfers.max_upload_bytes)),
        )
        .route("/api/import/uploads/{id}/process", post(process))
}

fn transfer_key(user: &Username, name: &str) -> String {
    format!("transfers/{}/{name}", user.storage_key())
}

fn upload_key(user: &Username, id: &str) -> String {
    transfer_key(user, &format!("import-{id}"))
}

/// Upload ids are 128-bit random hex.
fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

// ---------------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DownloadLink {
    download_url: String,
    expires_in_seconds: u64,
    size: usize,
    filename: String,
}

/// A large export as a download link: `Some(303)` when the store has presigned URLs, `None`
/// when the caller should answer the bytes itself.
pub(super) async fn download_link(
    s: &AppState,
    user: &Username,
    bytes: Bytes,
    filename: &str,
    session_id: &str,
) -> Result<Option<Response>, ApiError> {
    let blobs = &s.sessions.ports().blobs;
    let ttl = s.config.transfers.url_ttl;
    let key = transfer_key(
        user,
        &format!("export-{}.apkg", uuid::Uuid::new_v4().simple()),
    );
    // Presigning is local computation: ask first, so a store without URLs writes nothing.
    let Some(url) = blobs.presigned_get(&key, ttl, filename).await? else {
        return Ok(None);
    };
    let size = bytes.len();
    blobs
        .put(&key, bytes, Default::default(), PutCondition::Any)
        .await?;
    tracing::info!(user = %user, size, "large export offered as a download link");
    let body = DownloadLink {
        download_url: url.clone(),
        expires_in_seconds: ttl.as_secs(),
        size,
        filename: filename.to_owned(),
    };
    let mut resp = (StatusCode::SEE_OTHER, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&url) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    set_session_header(&mut resp, session_id);
    Ok(Some(resp))
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UploadOffer {
    upload_id: String,
    upload_url: String,
    method: &'static str,
    expires_in_seconds: u64,
    max_bytes: usize,
}

#[derive(Serialize, Deserialize)]
struct UploadClaims {
    sub: String,
    upl: String,
    exp: i64,
}

/// The upload token key: derived from the JWT secret, so an upload token is never an API token
/// (and the other way round).
fn upload_key_material(config: &ApiConfig) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"javumbo upload token\0");
    h.update(&config.jwt_secret);
    h.finalize().to_vec()
}

async fn new_upload(State(s): State<AppState>, AuthUser(user): AuthUser) -> Reply {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let ttl = s.config.transfers.url_ttl;
    let key = upload_key(&user, &id);
    let url = match s.sessions.ports().blobs.presigned_put(&key, ttl).await {
        Ok(Some(url)) => url,
        Ok(None) => {
            let claims = UploadClaims {
                sub: user.to_string(),
                upl: id.clone(),
                exp: s.clock.now_secs() + ttl.as_secs() as i64,
            };
            let token = crate::jwt_hs256::encode(&claims, &upload_key_material(&s.config))
                .map_err(ApiError::internal)?;
            format!("/api/import/uploads/{id}?token={token}")
        }
        Err(e) => return Err(ApiError::from(e).into()),
    };
    let offer = UploadOffer {
        upload_id: id,
        upload_url: url,
        method: "PUT",
        expires_in_seconds: ttl.as_secs(),
        max_bytes: s.config.transfers.max_upload_bytes,
    };
    Ok((StatusCode::CREATED, axum::Json(offer)).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// The embedded store's upload URL: the token is the credential (as a presigned URL's
/// signature is), so the request carries no `Authorization`.
async fn local_upload(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<TokenQuery>,
    body: Bytes,
) -> Reply {
    let refused = || ApiError::Unauthorized("invalid or expired upload URL".into());
    let token = q.token.ok_or_else(refused)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let claims = crate::jwt_hs256::decode::<UploadClaims>(
        &token,
        &upload_key_material(&s.config),
        &validation,
    )
    .map_err(|_| refused())?;
    if claims.upl != id || !valid_id(&id) || claims.exp <= s.clock.now_secs() {
        return Err(refused().into());
    }
    let user = Username::parse(&claims.sub).map_err(|_| refused())?;
    if body.is_empty() {
        return Err(
            ApiError::BadRequest("Empty upload: send an .apkg or .colpkg file".into()).into(),
        );
    }
    s.sessions
        .ports()
        .blobs
        .put(
            &upload_key(&user, &id),
            body,
            Default::default(),
            PutCondition::Any,
        )
        .await
        .map_err(ApiError::from)?;
    Ok(StatusCode::OK.into_response())
}

/// `POST /api/import/uploads/{id}/process`: the uploaded package imported as `POST
/// /api/import` imports a body (same query, same answer), then deleted. Processing an upload
/// twice finds nothing the second time (404).
async fn process(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<super::export::ImportQuery>,
) -> Reply {
    let missing = || ApiError::NotFound("Upload not found (expired, or already processed)".into());
    if !valid_id(&id) {
        return Err(missing().into());
    }
    let key = upload_key(&user, &id);
    let blobs = &s.sessions.ports().blobs;
    let Some(blob) = blobs.get(&key).await.map_err(ApiError::from)? else {
        // Gone: processed already, or never there. A retry of a processing whose answer was
        // lost carries the same Idempotency-Key, which replays the recorded answer; anything
        // else is the 404.
        let (written, sid) = super::write_operation(&s, &user, |_| {
            Err::<javumbo_apkg::ImportSummary, _>(javumbo_collection::CollectionError::NotFound(
                "Upload not found (expired, or already processed)".into(),
            ))
        })
        .await?;
        return Ok(super::session_json(StatusCode::OK, &sid, written));
    };
    let max = s.config.transfers.max_upload_bytes;
    if blob.bytes.len() > max {
        blobs.delete(&key).await.map_err(ApiError::from)?;
        return Err(ApiError::PayloadTooLarge(format!(
            "the package is {} bytes; an upload may be at most {max} bytes",
            blob.bytes.len()
        ))
        .into());
    }
    let upload = super::export::Upload {
        bytes: blob.bytes,
        filename_is_colpkg: false,
        confirm_replace: false,
    };
    let answer = super::export::import_upload(&s, &user, q, upload, max)
        .await
        .into_response();
    // Imported or refused, the upload is spent (a refused package would be refused again); a
    // server-side failure keeps it for a retry until it expires.
    let status = answer.status();
    if (status.is_success() || status.is_client_error())
        && let Err(e) = blobs.delete(&key).await
    {
        tracing::warn!(error = %e, "deleting a processed upload failed");
    }
    Ok(answer)
}
