//! Anki's sync protocol for official clients (function `sync`): `POST /sync/*` and `/msync/*`,
//! `GET /health`, and the device keys API (`GET /api/sync/keys`, `DELETE /api/sync/keys/{id}`).
//!
//! Thin: the protocol (header, bodies, messages, the collection operations) is `javumbo-sync`;
//! every collection write goes through the session manager like any other request. Failures are
//! [`SyncFailure`]s: Anki's status codes with a plain-text body, which the client understands.
//!
//! Normal (incremental) sync is `javumbo_sync::normal`: each step is one collection operation
//! through the session manager, so a sync spanning many requests and containers is journaled
//! like any write, and the client's changes are applied in one operation at `finish`.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use javumbo_session::{DeviceKey, Failed, RequestError, StoreError, Username};
use javumbo_sync::codec::ORIGINAL_SIZE_HEADER;
use javumbo_sync::messages::{
    ApplyChangesRequest, ApplyChunkRequest, ApplyGravesRequest, EmptyInput, HostKeyRequest,
    HostKeyResponse, MetaRequest, SanityCheckRequest, SanityCheckStatus, StartRequest, UPLOAD_OK,
};
use javumbo_sync::{HostKey, NewDeviceKey, SYNC_HEADER, SyncError, SyncHeader};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::auth::{blocking, check_credentials};
use super::bodies::{DeviceKeyInfo, DeviceKeyList, Success};
use crate::error::{ApiError, SyncFailure};
use crate::extract::{ApiPath, AuthUser, SourceAddr};
use crate::{ApiConfig, AppState};

/// Attempts at a fresh device key id (a collision of 64 random bits is refused by the store).
const KEY_ID_ATTEMPTS: usize = 3;

pub fn routes(config: &ApiConfig) -> Router<AppState> {
    let sync = Router::new()
        .route("/sync/hostKey", post(host_key))
        .route("/sync/meta", post(meta))
        .route("/sync/upload", post(upload))
        .route("/sync/download", post(download))
        .route("/sync/start", post(start))
        .route("/sync/applyGraves", post(apply_graves))
        .route("/sync/applyChanges", post(apply_changes))
        .route("/sync/chunk", post(chunk))
        .route("/sync/applyChunk", post(apply_chunk))
        .route("/sync/sanityCheck2", post(sanity_check))
        .route("/sync/finish", post(finish))
        .route("/sync/abort", post(abort))
        .route("/msync/{method}", post(super::msync::media))
        // Route-level, so it overrides the API's 1 MiB default for these routes only.
        .layer(DefaultBodyLimit::max(config.sync.max_request_bytes));
    sync.route("/health", get(health))
        .route("/api/sync/keys", get(list_keys))
        .route("/api/sync/keys/{id}", delete(revoke_key))
}

// ---------------------------------------------------------------------------------------------
// Request and response plumbing
// ---------------------------------------------------------------------------------------------

/// A sync request: the checked header, the device it authenticated as (every method but
/// `hostKey`), and the decompressed body.
pub(super) struct SyncRequest {
    pub(super) header: SyncHeader,
    device: Option<(Username, DeviceKey)>,
    pub(super) data: Vec<u8>,
}

impl SyncRequest {
    /// The user and device key the request authenticated as (403 for `hostKey`, which has none).
    pub(super) fn device(&self) -> Result<(Username, DeviceKey), SyncFailure> {
        self.device
            .clone()
            .ok_or_else(|| SyncError::AuthFailed("invalid hkey".into()).into())
    }

    pub(super) fn json<T: DeserializeOwned>(&self) -> Result<T, SyncError> {
        serde_json::from_slice(&self.data).map_err(|_| SyncError::BadRequest("invalid json".into()))
    }
}

impl FromRequest<AppState> for SyncRequest {
    type Rejection = SyncFailure;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, SyncFailure> {
        let header = parse_header(req.headers())?;
        // The host key is checked before the body is read or decompressed: an unauthenticated
        // caller costs one store read, never a decompression (up to the 300 MiB bound).
        let device = if req.uri().path().ends_with("/hostKey") {
            None
        } else {
            Some(authenticate(state, &header).await?)
        };
        if !header.is_zstd() {
            // Versions 8–10 post multipart + gzip; no client of the last three years does.
            return Err(SyncError::BadRequest(
                "this server needs sync protocol 11 (Anki 2.1.57 or later)".into(),
            )
            .into());
        }
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                SyncError::TooLarge("request body too large for this server".into())
            } else {
                SyncError::BadRequest(format!("reading body: {e}"))
            }
        })?;
        let limit = state.config.sync.max_decompressed_bytes;
        let data = blocking(move || javumbo_sync::decode_body(&body, limit))
            .await
            .map_err(api_to_sync)??;
        Ok(Self {
            header,
            device,
            data,
        })
    }
}

fn parse_header(headers: &HeaderMap) -> Result<SyncHeader, SyncError> {
    let raw = headers
        .get(SYNC_HEADER)
        .ok_or_else(|| SyncError::BadRequest("bad sync header".into()))?;
    SyncHeader::parse(raw.as_bytes())
}

/// A successful answer: zstd with the original size, as the client requires.
pub(super) struct SyncBody(pub(super) Vec<u8>);

impl SyncBody {
    pub(super) fn json(v: &impl Serialize) -> Result<Self, SyncError> {
        serde_json::to_vec(v)
            .map(Self)
            .map_err(|e| SyncError::Internal(format!("json: {e}")))
    }
}

impl IntoResponse for SyncBody {
    fn into_response(self) -> Response {
        let compressed = match javumbo_sync::encode_body(&self.0) {
            Ok(c) => c,
            Err(e) => return SyncFailure::from(e).into_response(),
        };
        let mut resp = (StatusCode::OK, compressed).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        h.insert(ORIGINAL_SIZE_HEADER, HeaderValue::from(self.0.len()));
        resp
    }
}

pub(super) fn api_to_sync(e: ApiError) -> SyncError {
    match e {
        ApiError::Unauthorized(_) => SyncError::AuthFailed("invalid user/pass".into()),
        ApiError::TooManyRequests { .. } | ApiError::Unavailable { .. } => SyncError::Unavailable,
        ApiError::BadRequest(m) => SyncError::BadRequest(m),
        ApiError::PayloadTooLarge(m) => SyncError::TooLarge(m),
        ApiError::Conflict(m) => SyncError::Conflict(m),
        other => SyncError::Internal(other.to_string()),
    }
}

impl From<ApiError> for SyncFailure {
    fn from(e: ApiError) -> Self {
        api_to_sync(e).into()
    }
}

impl<E: Into<ApiError>> From<Failed<RequestError<E>>> for SyncFailure {
    fn from(f: Failed<RequestError<E>>) -> Self {
        ApiError::from(f.error).into()
    }
}

impl From<StoreError> for SyncFailure {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

/// The user and key behind the request's host key; 403 for anything but a live key of ours.
async fn authenticate(
    state: &AppState,
    header: &SyncHeader,
) -> Result<(Username, DeviceKey), SyncFailure> {
    let invalid = || SyncFailure::from(SyncError::AuthFailed("invalid hkey".into()));
    let key = HostKey::parse(&header.host_key).ok_or_else(invalid)?;
    let user = Username::parse(key.username).map_err(|_| invalid())?;
    let stored = state
        .users
        .device_keys(&user)
        .await?
        .into_iter()
        .find(|k| k.id == key.id && key.matches(&k.key_hash))
        .ok_or_else(invalid)?;
    Ok((user, stored))
}

// ---------------------------------------------------------------------------------------------
// Login and meta
// ---------------------------------------------------------------------------------------------

async fn host_key(
    State(state): State<AppState>,
    SourceAddr(ip): SourceAddr,
    req: SyncRequest,
) -> Result<SyncBody, SyncFailure> {
    let body: HostKeyRequest = req.json()?;
    let record = check_credentials(&state, &body.username, body.password, &ip).await?;
    let now = state.clock.now_ms();
    for _ in 0..KEY_ID_ATTEMPTS {
        let new = NewDeviceKey::generate(record.username.as_str());
        let key = DeviceKey {
            id: new.id.clone(),
            key_hash: new.key_hash.clone(),
            label: javumbo_sync::keys::label(&req.header.client_version),
            created_at: now,
            last_used_at: now,
        };
        match state.users.put_device_key(&record.username, &key).await {
            Ok(()) => {
                tracing::info!(user = %record.username, key = %key.id, "sync device key issued");
                return Ok(SyncBody::json(&HostKeyResponse { key: new.host_key })?);
            }
            Err(StoreError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(SyncError::Unavailable.into())
}

async fn meta(State(state): State<AppState>, req: SyncRequest) -> Result<SyncBody, SyncFailure> {
    let (user, key) = req.device()?;
    let body: MetaRequest = req.json()?;
    if !(javumbo_sync::SYNC_VERSION_MIN..=javumbo_sync::SYNC_VERSION_MAX)
        .contains(&body.sync_version)
    {
        return Err(SyncError::ClientTooOld.into());
    }
    // The media log's usn, with what the web app changed since the last media sync logged.
    let media_usn = super::msync::log_pending(&state, &user).await?;
    let now_ms = state.clock.now_ms();
    let served = state
        .sessions
        .with_collection(&user, move |col| javumbo_sync::meta(col, now_ms, media_usn))
        .await?;
    // Best effort: a lost "last used" time must not fail the sync.
    if let Err(e) = state
        .users
        .touch_device_key(&user, &key.id, state.clock.now_ms())
        .await
    {
        tracing::warn!(error = %e, "device key touch failed");
    }
    Ok(SyncBody::json(&served.value)?)
}

// ---------------------------------------------------------------------------------------------
// Full sync
// ---------------------------------------------------------------------------------------------

async fn upload(State(state): State<AppState>, req: SyncRequest) -> Result<Response, SyncFailure> {
    let (user, _) = req.device()?;
    let data = req.data;
    let prepared = blocking(move || -> Result<_, SyncError> {
        let dir = tempfile::tempdir()?;
        let limits = javumbo_modern::Limits::default();
        let checked = javumbo_sync::prepare_upload(&data, dir.path(), &limits)?;
        Ok((dir, checked))
    })
    .await
    .map_err(api_to_sync)??;
    let (dir, checked) = prepared;
    let upload = match checked {
        Ok(upload) => upload,
        // Anki answers a refused upload with 200 and the message, which the client shows.
        Err(rejected) => return Ok(SyncBody(rejected.0.into_bytes()).into_response()),
    };
    let path: Arc<PathBuf> = Arc::new(upload.path.clone());
    state
        .sessions
        .with_collection(&user, move |col| javumbo_sync::apply_upload(col, &path))
        .await?;
    drop(dir);
    tracing::info!(
        user = %user,
        notes = upload.notes,
        cards = upload.cards,
        revlog = upload.revlog,
        "full upload applied"
    );
    Ok(SyncBody(UPLOAD_OK.as_bytes().to_vec()).into_response())
}

async fn download(
    State(state): State<AppState>,
    req: SyncRequest,
) -> Result<Response, SyncFailure> {
    let (user, _) = req.device()?;
    let _: EmptyInput = req.json()?;
    let served = state
        .sessions
        .with_collection(&user, javumbo_sync::download)
        .await?;
    let file = served.value;
    let max = state.config.sync.max_response_bytes;
    let compressed = blocking(move || javumbo_sync::encode_body(&file).map(|z| (z, file.len())))
        .await
        .map_err(api_to_sync)??;
    let (compressed, plain_len) = compressed;
    if compressed.len() > max {
        let size = compressed.len() as f64 / 1e6;
        let limit = max as f64 / 1e6;
        let message = match &state.config.sync.larger_downloads_at {
            Some(url) => format!(
                "Your collection is {size:.1} MB compressed, more than this address can send \
                 ({limit:.1} MB). Set the self-hosted sync server to {url} (javumbo's Sync page \
                 shows it) and sync again."
            ),
            None => format!(
                "Your collection is {size:.1} MB compressed, more than this server can send \
                 ({limit:.1} MB). Sync it with javumbo-local, or make it smaller."
            ),
        };
        return Err(SyncError::TooLarge(message).into());
    }
    let mut resp = (StatusCode::OK, compressed).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(ORIGINAL_SIZE_HEADER, HeaderValue::from(plain_len));
    Ok(resp)
}

// ---------------------------------------------------------------------------------------------
// Normal sync (`javumbo_sync::normal`): every step a journaled collection operation, the
// client's changes staged and applied at `finish`
// ---------------------------------------------------------------------------------------------

/// Run one step of the sync whose session key the request carries.
async fn step<T, F>(state: &AppState, req: &SyncRequest, op: F) -> Result<T, SyncFailure>
where
    T: Send + 'static,
    F: Fn(&javumbo_collection::Collection, &str) -> Result<T, javumbo_collection::CollectionError>
        + Send
        + Sync
        + 'static,
{
    let (user, _) = req.device()?;
    let skey = req.header.session_key.clone();
    let served = state
        .sessions
        .with_collection(&user, move |col| op(col, &skey))
        .await?;
    Ok(served.value)
}

async fn start(State(state): State<AppState>, req: SyncRequest) -> Result<SyncBody, SyncFailure> {
    let body: StartRequest = req.json()?;
    let graves = step(&state, &req, move |col, skey| {
        javumbo_sync::normal::start(col, skey, &body)
    })
    .await?;
    Ok(SyncBody::json(&graves)?)
}

async fn apply_graves(
    State(state): State<AppState>,
    req: SyncRequest,
) -> Result<SyncBody, SyncFailure> {
    let body: ApplyGravesRequest = req.json()?;
    step(&state, &req, move |col, skey| {
        javumbo_sync::normal::apply_graves(col, skey, &body.chunk)
    })
    .await?;
    Ok(SyncBody::json(&())?)
}

async fn apply_changes(
    State(state): State<AppState>,
    req: SyncRequest,
) -> Result<SyncBody, SyncFailure> {
    let body: ApplyChangesRequest = req.json()?;
    let ours = step(&state, &req, move |col, skey| {
        javumbo_sync::normal::apply_changes(col, skey, &body.changes)
    })
    .await?;
    Ok(SyncBody::json(&ours)?)
}

async fn chunk(State(state): State<AppState>, req: SyncRequest) -> Result<SyncBody, SyncFailure> {
    let chunk = step(&state, &req, javumbo_sync::normal::chunk).await?;
    Ok(SyncBody::json(&chunk)?)
}

async fn apply_chunk(
    State(state): State<AppState>,
    req: SyncRequest,
) -> Result<SyncBody, SyncFailure> {
    let body: ApplyChunkRequest = req.json()?;
    step(&state, &req, move |col, skey| {
        javumbo_sync::normal::apply_chunk(col, skey, &body.chunk)
    })
    .await?;
    Ok(SyncBody::json(&())?)
}

async fn sanity_check(
    State(state): State<AppState>,
    req: SyncRequest,
) -> Result<SyncBody, SyncFailure> {
    let body: SanityCheckRequest = req.json()?;
    let answer = step(&state, &req, move |col, skey| {
        javumbo_sync::normal::sanity_check(col, skey, &body.client)
    })
    .await?;
    if answer.status == SanityCheckStatus::Bad {
        tracing::info!(client = ?answer.client, server = ?answer.server,
            "sanity check bad: the client will ask for a full sync");
    }
    Ok(SyncBody::json(&answer)?)
}

async fn finish(State(state): State<AppState>, req: SyncRequest) -> Result<SyncBody, SyncFailure> {
    let now = state.clock.now_ms();
    let new_mod = step(&state, &req, move |col, skey| {
        javumbo_sync::normal::finish(col, skey, now)
    })
    .await?;
    Ok(SyncBody::json(&new_mod)?)
}

/// `abort`: the session and what it staged are discarded, whatever its key (Anki's server
/// drops its state too).
async fn abort(State(state): State<AppState>, req: SyncRequest) -> Result<SyncBody, SyncFailure> {
    step(&state, &req, |col, _| javumbo_sync::normal::abort(col)).await?;
    Ok(SyncBody::json(&())?)
}

async fn health() -> &'static str {
    "ok"
}

// ---------------------------------------------------------------------------------------------
// Device keys through the API
// ---------------------------------------------------------------------------------------------

async fn list_keys(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<Response, ApiError> {
    let keys = state
        .users
        .device_keys(&user)
        .await?
        .into_iter()
        .map(|k| DeviceKeyInfo {
            id: k.id,
            label: k.label,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
        })
        .collect();
    Ok(axum::Json(DeviceKeyList { keys }).into_response())
}

async fn revoke_key(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    if id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::NotFound("Device key not found".into()));
    }
    if !state.users.delete_device_key(&user, &id).await? {
        return Err(ApiError::NotFound("Device key not found".into()));
    }
    tracing::info!(user = %user, key = %id, "sync device key revoked");
    Ok(axum::Json(Success::new()).into_response())
}

/// Revoke every sync device key of `user`: every official client must log in again. Called
/// when the password changes (the security work wires it in).
pub async fn revoke_all_device_keys(
    users: &dyn javumbo_session::UserStore,
    user: &Username,
) -> Result<usize, StoreError> {
    let mut revoked = 0;
    for key in users.device_keys(user).await? {
        if users.delete_device_key(user, &key.id).await? {
            revoked += 1;
        }
    }
    Ok(revoked)
}
