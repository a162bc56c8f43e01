//! Media sync for official clients (`POST /msync/{method}`, `docs/ARCHITECTURE.md#media-sync`):
//! the user's media store (blobs by SHA-256, the name index in the collection) served as Anki's
//! server serves its media folder. Every change goes through the session manager: a client's
//! upload is one collection write (index + log), after its bytes are in the blob store.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use javumbo_collection::media::MEDIA_QUOTA_BYTES;
use javumbo_collection::media_sync::{LoggedMedia, PendingMedia};
use javumbo_collection::{CollectionError, MediaError, MediaFile};
use javumbo_session::Username;
use javumbo_session::media::{get_media, put_media};
use javumbo_sync::SyncError;
use javumbo_sync::media::{
    BeginRequest, BeginResponse, CHANGES_PER_REQUEST, Change, ChangesRequest, DownloadRequest,
    JsonResult, MAX_FILES_IN_ZIP, SanityRequest, TARGET_ZIP_BYTES, UploadResponse, sha1_hex,
};

use super::auth::blocking;
use super::sync::{SyncBody, SyncRequest, api_to_sync};
use crate::AppState;
use crate::error::SyncFailure;

/// Files whose SHA-1 one pass of [`log_pending`] computes (each a blob read).
const LOG_BATCH: usize = 100;
/// Passes per request: a library added through the web app is logged over several syncs
/// rather than in one request that outlives the function's timeout.
const LOG_PASSES: usize = 5;

pub(super) async fn media(
    State(state): State<AppState>,
    Path(method): Path<String>,
    req: SyncRequest,
) -> Result<Response, SyncFailure> {
    let (user, _) = req.device()?;
    match method.as_str() {
        "begin" => begin(&state, &user, &req).await,
        "mediaChanges" => changes(&state, &user, &req).await,
        "uploadChanges" => upload(&state, &user, req).await,
        "downloadFiles" => download(&state, &user, &req).await,
        "mediaSanity" => sanity(&state, &user, &req).await,
        other => Err(SyncError::BadRequest(format!("unknown media sync method: {other}")).into()),
    }
}

fn json(v: &impl serde::Serialize) -> Result<Response, SyncFailure> {
    Ok(SyncBody::json(v)?.into_response())
}

async fn begin(
    state: &AppState,
    user: &Username,
    req: &SyncRequest,
) -> Result<Response, SyncFailure> {
    let body: BeginRequest = req.json()?;
    if body.client_version.is_empty() {
        return Err(SyncError::BadRequest("missing client version".into()).into());
    }
    let usn = log_pending(state, user).await?;
    json(&JsonResult::ok(BeginResponse {
        usn,
        sk: req.header.host_key.clone(),
    }))
}

async fn changes(
    state: &AppState,
    user: &Username,
    req: &SyncRequest,
) -> Result<Response, SyncFailure> {
    let body: ChangesRequest = req.json()?;
    let after = body.last_usn;
    let served = state
        .sessions
        .with_collection(user, move |c| {
            c.media_changes_since(after, CHANGES_PER_REQUEST)
        })
        .await?;
    let changes: Vec<Change> = served
        .value
        .into_iter()
        .map(|c| Change(c.name, c.usn, c.sha1))
        .collect();
    json(&JsonResult::ok(changes))
}

async fn upload(
    state: &AppState,
    user: &Username,
    req: SyncRequest,
) -> Result<Response, SyncFailure> {
    let max = state.config.sync.max_decompressed_bytes;
    let data = req.data;
    let uploads = blocking(move || javumbo_sync::media::read_upload(&data, max))
        .await
        .map_err(api_to_sync)??;
    // Bytes first, by content: a crash before the index write leaves an unused blob, never a
    // name without bytes.
    let mut changes = Vec::with_capacity(uploads.len());
    for u in uploads {
        changes.push(match u.data {
            Some(bytes) => {
                let size = bytes.len() as u64;
                let (bytes, sha1) = blocking(move || {
                    let sha1 = sha1_hex(&bytes);
                    (bytes, sha1)
                })
                .await
                .map_err(api_to_sync)?;
                let sha256 = put_media(&*state.sessions.ports().blobs, user, bytes.into()).await?;
                (
                    Some(MediaFile {
                        name: u.name.clone(),
                        sha256: sha256.clone(),
                        size,
                    }),
                    LoggedMedia {
                        name: u.name,
                        content: Some((sha256, sha1)),
                    },
                )
            }
            None => (
                None,
                LoggedMedia {
                    name: u.name,
                    content: None,
                },
            ),
        });
    }
    let processed = changes.len();
    let changes = Arc::new(changes);
    let served = state
        .sessions
        .with_collection(user, move |c| -> Result<i32, MediaError> {
            for (file, logged) in changes.iter() {
                match file {
                    Some(f) => c.put_media_files(std::slice::from_ref(f), MEDIA_QUOTA_BYTES)?,
                    None => {
                        c.delete_media_file(&logged.name)?;
                    }
                }
            }
            let logged: Vec<LoggedMedia> = changes.iter().map(|(_, l)| l.clone()).collect();
            Ok(c.log_media_changes(&logged)?)
        })
        .await?;
    json(&JsonResult::ok(UploadResponse(processed, served.value)))
}

async fn download(
    state: &AppState,
    user: &Username,
    req: &SyncRequest,
) -> Result<Response, SyncFailure> {
    let body: DownloadRequest = req.json()?;
    if body.files.len() > MAX_FILES_IN_ZIP {
        return Err(SyncError::BadRequest("too many files requested".into()).into());
    }
    let names = Arc::new(body.files);
    let wanted = names.clone();
    let served = state
        .sessions
        .with_collection(user, move |c| {
            wanted
                .iter()
                .map(|n| c.media_file(n))
                .collect::<Result<Vec<_>, CollectionError>>()
        })
        .await?;
    let mut files = Vec::new();
    let mut total = 0u64;
    for (name, entry) in names.iter().zip(served.value) {
        // Anki's server: a file the client may not ask for is a conflict (the protocol has no
        // way to skip one).
        let missing = || SyncError::Conflict(format!("missing/empty file entry: {name}"));
        let entry = entry.ok_or_else(missing)?;
        let bytes = get_media(&*state.sessions.ports().blobs, user, &entry.sha256)
            .await?
            .ok_or_else(missing)?;
        total += bytes.len() as u64;
        files.push((name.clone(), bytes.to_vec()));
        if total > TARGET_ZIP_BYTES {
            break;
        }
    }
    let zip = blocking(move || javumbo_sync::media::download_zip(&files))
        .await
        .map_err(api_to_sync)??;
    Ok(SyncBody(zip).into_response())
}

async fn sanity(
    state: &AppState,
    user: &Username,
    req: &SyncRequest,
) -> Result<Response, SyncFailure> {
    let body: SanityRequest = req.json()?;
    log_pending(state, user).await?;
    let served = state
        .sessions
        .with_collection(user, |c| c.media_logged_count())
        .await?;
    json(&JsonResult::ok(javumbo_sync::media::sanity_answer(
        served.value,
        body.local,
    )))
}

/// Log what changed in the user's media outside media sync (web uploads and deletions,
/// package imports), in bounded passes; the log's usn after them.
pub(super) async fn log_pending(state: &AppState, user: &Username) -> Result<i32, SyncFailure> {
    for _ in 0..LOG_PASSES {
        let pending = state
            .sessions
            .with_collection(user, |c| c.media_sync_pending(LOG_BATCH))
            .await?
            .value;
        if pending.is_empty() {
            break;
        }
        let mut logged = Vec::with_capacity(pending.len());
        for p in pending {
            match p {
                PendingMedia::Changed { name, sha256 } => {
                    // A name without bytes (an interrupted write) is not offered to clients.
                    let Some(bytes) =
                        get_media(&*state.sessions.ports().blobs, user, &sha256).await?
                    else {
                        tracing::warn!(user = %user, file = %name, "media index names a missing blob");
                        continue;
                    };
                    let sha1 = blocking(move || sha1_hex(&bytes))
                        .await
                        .map_err(api_to_sync)?;
                    logged.push(LoggedMedia {
                        name,
                        content: Some((sha256, sha1)),
                    });
                }
                PendingMedia::Removed { name } => logged.push(LoggedMedia {
                    name,
                    content: None,
                }),
            }
        }
        if logged.is_empty() {
            break;
        }
        let logged = Arc::new(logged);
        state
            .sessions
            .with_collection(user, move |c| c.log_media_changes(&logged))
            .await?;
    }
    Ok(state
        .sessions
        .with_collection(user, |c| c.media_last_usn())
        .await?
        .value)
}
