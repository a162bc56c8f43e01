//! `.apkg` export and import (function `export`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use std::sync::Arc;

use javumbo_apkg::{ApkgError, ExportFormat, ImportLimits, IncomingMedia, Package, export_package};
use javumbo_collection::media::MEDIA_QUOTA_BYTES;
use javumbo_collection::{Collection, MediaError, MediaFile};
use javumbo_session::Username;
use javumbo_session::media::{get_media, put_media};
use serde::Deserialize;

use super::{Reply, run_operation, session_json, write_operation};
use crate::error::{ApiError, set_session_header};
use crate::extract::{ApiQuery, AuthUser};
use crate::{ApiConfig, AppState};

/// `GET /api/export?format=…`: `legacy` (default, `collection.anki2`, every Anki imports it)
/// or `anki21b` (Anki 2.1.50+'s modern package).
#[derive(Debug, Default, Deserialize)]
struct ExportQuery {
    format: Option<String>,
}

/// `POST /api/import?kind=…&confirmReplace=…`: `kind=colpkg` (or a multipart file named
/// `*.colpkg`) replaces the whole collection and needs `confirmReplace=true`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ImportQuery {
    kind: Option<String>,
    #[serde(rename = "confirmReplace")]
    confirm_replace: Option<bool>,
}

pub fn routes(config: &ApiConfig) -> Router<AppState> {
    Router::new()
        .merge(super::transfers::routes(config))
        .route("/api/export", get(export))
        // Route-level, so it overrides the 1 MiB default for this route only.
        .route(
            "/api/import",
            post(import).layer(DefaultBodyLimit::max(config.max_import_bytes)),
        )
}

async fn export(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Reply {
    let format = match q.format.as_deref() {
        None | Some("legacy" | "apkg" | "anki2") => ExportFormat::Legacy,
        Some("anki21b" | "modern") => ExportFormat::Modern,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "unknown export format {:?}: use legacy (the default) or anki21b",
                other.chars().take(40).collect::<String>()
            ))
            .into());
        }
    };
    // Every file of the user's media, as Anki's "include media" of a whole collection; held in
    // memory with the package, so the export is bounded by the media quota.
    let (files, _) = super::on_collection(&s, &user, |c| c.media_files()).await?;
    let mut media = Vec::with_capacity(files.len());
    for f in files {
        // A name whose blob is missing cannot happen (blob first); skip rather than fail.
        if let Some(bytes) = get_media(&*s.sessions.ports().blobs, &user, &f.sha256)
            .await
            .map_err(ApiError::from)?
        {
            media.push((f.name, bytes.to_vec()));
        }
    }
    let media = Arc::new(media);
    let (bytes, sid) =
        run_operation(&s, &user, move |col| export_package(col, format, &media)).await?;
    let filename = format!("{}_export_{}.apkg", user, timestamp(s.clock.now_secs()));
    let bytes = Bytes::from(bytes);
    if bytes.len() > s.config.transfers.inline_max_bytes
        && let Some(link) =
            super::transfers::download_link(&s, &user, bytes.clone(), &filename, &sid).await?
    {
        return Ok(link);
    }
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    // The username is `[A-Za-z0-9_.-]` and the stamp digits, so the value needs no escaping.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    set_session_header(&mut resp, &sid);
    Ok(resp)
}

async fn import(
    State(s): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(q): ApiQuery<ImportQuery>,
    req: Request,
) -> Reply {
    let upload = read_package(req).await?;
    let max = s.config.max_import_bytes;
    import_upload(&s, &user, q, upload, max).await
}

/// Import `upload` (a body, or a package uploaded through `crate::routes::transfers`) as the
/// query says, the package held to `max_package_bytes`.
pub(super) async fn import_upload(
    s: &AppState,
    user: &Username,
    q: ImportQuery,
    upload: Upload,
    max_package_bytes: usize,
) -> Reply {
    let colpkg = match q.kind.as_deref() {
        Some("colpkg") => true,
        Some("apkg") => false,
        None => upload.filename_is_colpkg,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "unknown import kind {:?}: use apkg (the default) or colpkg",
                other.chars().take(40).collect::<String>()
            ))
            .into());
        }
    };
    let confirmed = q.confirm_replace.unwrap_or(false) || upload.confirm_replace;
    if colpkg && !confirmed {
        return Err(ApiError::BadRequest(
            "importing a .colpkg replaces your whole collection (every note, card and review): \
             send confirmReplace=true to confirm"
                .into(),
        )
        .into());
    }
    let bytes = upload.bytes;
    if bytes.is_empty() {
        return Err(ApiError::BadRequest("Empty upload: send an .apkg file".into()).into());
    }
    let limits = ImportLimits {
        max_package_bytes: max_package_bytes as u64,
        ..ImportLimits::default()
    };
    // Unpacking, decompressing and reading the package is the expensive part: done once,
    // before the collection is taken (and outside the async executor).
    let package = tokio::task::spawn_blocking(move || Package::open(&bytes, &limits))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)?;
    let mut package = package;
    // Bytes first (content-addressed, deduplicated), then in one transaction the notes and the
    // index under the names the importer decides (docs/ARCHITECTURE.md#media).
    let mut media = Vec::new();
    for m in package.take_media() {
        let size = m.data.len() as u64;
        let sha256 = put_media(&*s.sessions.ports().blobs, user, Bytes::from(m.data))
            .await
            .map_err(ApiError::from)?;
        media.push(IncomingMedia {
            name: m.name,
            sha1: m.sha1,
            sha256,
            size,
        });
    }
    let package = Arc::new(package);
    let media = Arc::new(media);
    let (summary, sid) = write_operation(s, user, move |col| {
        col.atomic(|c| {
            let imported = if colpkg {
                package.replace_with_media(c, &media)
            } else {
                package.import_with_media(c, &media)
            }?;
            index_media(c, &imported.index)?;
            Ok::<_, ApkgError>(imported.summary)
        })
    })
    .await?;
    Ok(session_json(StatusCode::OK, &sid, summary))
}

/// Index the media files an import decided on, under their final names: the package importer
/// chose them from this same index in this same transaction (a name the user had with other
/// content arrives renamed `name-<sha1>.ext`, the imported notes' references already pointing
/// at it; the same content under the same name does not arrive at all). Refused whole past the
/// quota.
fn index_media(col: &Collection, files: &[MediaFile]) -> Result<(), ApkgError> {
    col.put_media_files(files, MEDIA_QUOTA_BYTES)
        .map_err(|e| match e {
            e @ MediaError::QuotaExceeded { .. } => ApkgError::TooLarge(e.to_string()),
            MediaError::Collection(c) => ApkgError::Collection(c),
        })
}

/// The upload and what the multipart form said about it.
pub(super) struct Upload {
    pub(super) bytes: Bytes,
    pub(super) filename_is_colpkg: bool,
    pub(super) confirm_replace: bool,
}

/// The upload: multipart field `file` (the React client's form; a `confirmReplace` field may
/// accompany it) or the raw body.
async fn read_package(req: Request) -> Result<Upload, ApiError> {
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
                ApiError::PayloadTooLarge("Upload too large".into())
            } else {
                ApiError::BadRequest(r.body_text())
            }
        })?;
        return Ok(Upload {
            bytes,
            filename_is_colpkg: false,
            confirm_replace: false,
        });
    }
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let mut file = None;
    let mut confirm_replace = false;
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        match field.name() {
            Some("file") if file.is_none() => {
                let colpkg = field
                    .file_name()
                    .is_some_and(|n| n.to_ascii_lowercase().ends_with(".colpkg"));
                file = Some((field.bytes().await.map_err(multipart_error)?, colpkg));
            }
            Some("confirmReplace") => {
                let v = field.text().await.map_err(multipart_error)?;
                confirm_replace = matches!(v.trim(), "true" | "1" | "yes" | "on");
            }
            _ => {}
        }
    }
    let Some((bytes, filename_is_colpkg)) = file else {
        return Err(ApiError::BadRequest("Missing multipart field: file".into()));
    };
    Ok(Upload {
        bytes,
        filename_is_colpkg,
        confirm_replace,
    })
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge("Upload too large".into())
    } else {
        ApiError::BadRequest(e.body_text())
    }
}

/// `YYYYmmdd_HHMMSS` in UTC.
fn timestamp(epoch_secs: i64) -> String {
    let days = epoch_secs.div_euclid(86_400);
    let secs = epoch_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}_{:02}{:02}{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian), to avoid a date crate for
/// one filename.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "19700101_000000");
        assert_eq!(timestamp(951_782_400), "20000229_000000");
        assert_eq!(timestamp(1_764_102_245), "20251125_202405");
    }
}
