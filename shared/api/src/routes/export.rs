//! `.apkg` export and import (function `export`).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use javumbo_apkg::{ImportLimits, export_apkg, import_apkg};

use super::bodies::Imported;
use super::{Reply, run_operation, session_json};
use crate::error::{ApiError, set_session_header};
use crate::extract::AuthUser;
use crate::{ApiConfig, AppState};

pub fn routes(config: &ApiConfig) -> Router<AppState> {
    Router::new()
        .route("/api/export", get(export))
        // Route-level, so it overrides the 1 MiB default for this route only.
        .route(
            "/api/import",
            post(import).layer(DefaultBodyLimit::max(config.max_import_bytes)),
        )
}

async fn export(State(s): State<AppState>, AuthUser(user): AuthUser) -> Reply {
    let (bytes, sid) = run_operation(&s, &user, export_apkg).await?;
    let filename = format!("{}_export_{}.apkg", user, timestamp(s.clock.now_secs()));
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

async fn import(State(s): State<AppState>, AuthUser(user): AuthUser, req: Request) -> Reply {
    let package = read_package(req).await?;
    if package.is_empty() {
        return Err(ApiError::BadRequest("Empty upload: send an .apkg file".into()).into());
    }
    let limits = ImportLimits {
        max_package_bytes: s.config.max_import_bytes as u64,
        ..ImportLimits::default()
    };
    let (summary, sid) =
        run_operation(&s, &user, move |col| import_apkg(col, &package, &limits)).await?;
    Ok(session_json(
        StatusCode::OK,
        &sid,
        Imported {
            decks: summary.decks,
            notes: summary.notes,
            cards: summary.cards,
            revlog: summary.revlog,
        },
    ))
}

/// The upload: multipart field `file` (the React client's form) or the raw body.
async fn read_package(req: Request) -> Result<Bytes, ApiError> {
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
        return Bytes::from_request(req, &()).await.map_err(|r| {
            if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge("Upload too large".into())
            } else {
                ApiError::BadRequest(r.body_text())
            }
        });
    }
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|r| ApiError::BadRequest(r.body_text()))?;
    loop {
        let field = form.next_field().await.map_err(multipart_error)?;
        let Some(field) = field else {
            return Err(ApiError::BadRequest("Missing multipart field: file".into()));
        };
        if field.name() == Some("file") {
            return field.bytes().await.map_err(multipart_error);
        }
    }
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
