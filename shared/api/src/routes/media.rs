//! The user's media (`docs/ARCHITECTURE.md#media`): upload, list, serve, delete. Bytes go to
//! the blob store first, then the name → hash index into the collection.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use javumbo_apkg::media::{MAX_MEDIA_FILE_BYTES, normalize_filename};
use javumbo_collection::media::MEDIA_QUOTA_BYTES;
use javumbo_collection::{CollectionError, MediaError, MediaFile};
use javumbo_session::media::{get_media, put_media};
use serde::{Deserialize, Serialize};

use super::{Reply, on_collection, session_json, write, write_operation};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery, AuthUser};

/// Multipart framing on top of the largest file.
const MULTIPART_SLACK: usize = 64 * 1024;
/// The largest upload request body.
pub(crate) const MAX_UPLOAD_BYTES: usize = MAX_MEDIA_FILE_BYTES as usize + MULTIPART_SLACK;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/media",
            get(list)
                .post(upload)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/api/media/{filename}", get(serve).delete(remove))
}

#[derive(Debug, Default, Deserialize)]
struct UploadQuery {
    name: Option<String>,
}

#[derive(Debug, Serialize)]
struct Stored {
    filename: String,
    size: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Listing {
    files: Vec<Stored>,
    total_bytes: u64,
    quota_bytes: u64,
}

/// `name` as Anki would store it, or 400.
fn normalized(name: &str) -> Result<String, ApiError> {
    if name.len() > 1024 {
        return Err(ApiError::BadRequest("media file name too long".into()));
    }
    normalize_filename(name).ok_or_else(|| {
        ApiError::BadRequest("invalid media file name: nothing usable is left of it".into())
    })
}

async fn upload(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(q): ApiQuery<UploadQuery>,
    req: Request,
) -> Reply {
    let (bytes, field_name) = read_upload(req).await?;
    let Some(raw_name) = q.name.or(field_name) else {
        return Err(ApiError::BadRequest("Missing media file name: send ?name=".into()).into());
    };
    let name = normalized(&raw_name)?;
    if bytes.len() as u64 > MAX_MEDIA_FILE_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "media file too large: at most {MAX_MEDIA_FILE_BYTES} bytes"
        ))
        .into());
    }
    let size = bytes.len() as u64;
    // Refuse early what cannot fit, so a full quota does not leave blobs behind; the index
    // write checks again inside the transaction.
    let (used, _) = on_collection(&s, &user, |c| c.media_total_bytes()).await?;
    if used.saturating_add(size) > MEDIA_QUOTA_BYTES {
        let existing = {
            let n = name.clone();
            on_collection(&s, &user, move |c| c.media_file(&n)).await?.0
        };
        let freed = existing.map_or(0, |f| f.size);
        if used.saturating_sub(freed).saturating_add(size) > MEDIA_QUOTA_BYTES {
            return Err(ApiError::PayloadTooLarge(format!(
                "media quota exceeded: {used} of {MEDIA_QUOTA_BYTES} bytes used"
            ))
            .into());
        }
    }
    let sha256 = put_media(&*s.sessions.ports().blobs, &user, bytes)
        .await
        .map_err(ApiError::from)?;
    let file = MediaFile {
        name: name.clone(),
        sha256,
        size,
    };
    let (body, sid) = write_operation(&s, &user, move |c| {
        c.put_media_files(std::slice::from_ref(&file), MEDIA_QUOTA_BYTES)?;
        Ok::<_, MediaError>(Stored {
            filename: file.name.clone(),
            size,
        })
    })
    .await?;
    Ok(session_json(StatusCode::CREATED, &sid, body))
}

async fn list(State(s): State<AppState>, AuthUser(user): AuthUser) -> Reply {
    let (files, sid) = on_collection(&s, &user, |c| c.media_files()).await?;
    let total_bytes = files.iter().map(|f| f.size).sum();
    let files = files
        .into_iter()
        .map(|f| Stored {
            filename: f.name,
            size: f.size,
        })
        .collect();
    Ok(session_json(
        StatusCode::OK,
        &sid,
        Listing {
            files,
            total_bytes,
            quota_bytes: MEDIA_QUOTA_BYTES,
        },
    ))
}

async fn serve(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(filename): ApiPath<String>,
) -> Reply {
    let name = normalized(&filename)?;
    let lookup = name.clone();
    let (file, _) = on_collection(&s, &user, move |c| c.media_file(&lookup)).await?;
    let not_found = || ApiError::NotFound("No such media file".into());
    let file = file.ok_or_else(not_found)?;
    let bytes = get_media(&*s.sessions.ports().blobs, &user, &file.sha256)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(not_found)?;
    let (mime, active) = content_type(&name);
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Media is data, never a page: nothing in it runs with the API's origin.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'; style-src 'unsafe-inline'"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    if active {
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    Ok(resp)
}

async fn remove(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(filename): ApiPath<String>,
) -> Reply {
    let name = normalized(&filename)?;
    let (body, sid) = write(&s, &user, move |c| {
        // Not found writes nothing, so there is nothing for a key to record either.
        c.delete_media_file(&name)?
            .ok_or_else(|| CollectionError::NotFound("No such media file".into()))?;
        Ok(super::bodies::Success {
            success: true,
            message: None,
        })
    })
    .await?;
    Ok(session_json(StatusCode::OK, &sid, body))
}

/// The content type of a media file by its extension, and whether a browser could run it
/// (HTML, SVG, XML: served as an attachment).
fn content_type(name: &str) -> (&'static str, bool) {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jpg" | "jpeg" => ("image/jpeg", false),
        "png" => ("image/png", false),
        "gif" => ("image/gif", false),
        "webp" => ("image/webp", false),
        "avif" => ("image/avif", false),
        "bmp" => ("image/bmp", false),
        "ico" => ("image/x-icon", false),
        "tif" | "tiff" => ("image/tiff", false),
        "mp3" => ("audio/mpeg", false),
        "ogg" | "oga" => ("audio/ogg", false),
        "opus" => ("audio/opus", false),
        "wav" => ("audio/wav", false),
        "flac" => ("audio/flac", false),
        "m4a" => ("audio/mp4", false),
        "aac" => ("audio/aac", false),
        "mp4" => ("video/mp4", false),
        "webm" => ("video/webm", false),
        "ogv" => ("video/ogg", false),
        "pdf" => ("application/pdf", false),
        "txt" => ("text/plain; charset=utf-8", false),
        "css" => ("text/css", false),
        "ttf" => ("font/ttf", false),
        "otf" => ("font/otf", false),
        "woff" => ("font/woff", false),
        "woff2" => ("font/woff2", false),
        "svg" => ("image/svg+xml", true),
        "htm" | "html" | "xhtml" | "xml" | "js" | "mjs" => ("application/octet-stream", true),
        _ => ("application/octet-stream", false),
    }
}

/// The file: multipart field `file` (its file name is the default name) or the raw body.
async fn read_upload(req: Request) -> Result<(Bytes, Option<String>), ApiError> {
    let too_large = || ApiError::PayloadTooLarge("media file too large".into());
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    if !is_multipart {
        let bytes = Bytes::from_request(req, &()).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                ApiError::BadRequest(r.body_text())
            }
        })?;
        return Ok((bytes, None));
    }
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let err = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::BadRequest(e.body_text())
        }
    };
    while let Some(field) = form.next_field().await.map_err(err)? {
        if field.name() == Some("file") {
            let name = field.file_name().map(str::to_owned);
            return Ok((field.bytes().await.map_err(err)?, name));
        }
    }
    Err(ApiError::BadRequest("Missing multipart field: file".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_content_is_never_served_inline() {
        assert_eq!(content_type("a.PNG"), ("image/png", false));
        assert!(content_type("x.svg").1);
        assert!(content_type("x.html").1);
        assert_eq!(content_type("noext").0, "application/octet-stream");
        assert!(normalized("../../etc/passwd").unwrap().starts_with(".."));
        assert!(!normalized("../../etc/passwd").unwrap().contains('/'));
        assert!(normalized("/").is_err());
        assert!(normalized(&"a".repeat(5000)).is_err());
    }
}
