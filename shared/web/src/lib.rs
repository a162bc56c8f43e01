//! The javumbo study web app: static files embedded at compile time and an axum router serving them.
//!
//! The app has no build step (plain ES modules), so the files under `static/` are exactly what
//! the browser gets, both here and when the CDK stack uploads `static/` to S3 + CloudFront.
//! It uses hash routing (`#/decks`, `#/study`), so the server never needs an SPA fallback and this
//! router can be merged next to the API routers without claiming any path outside `/` and
//! `/assets/*`.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// One embedded file.
struct Asset {
    /// Path below `static/assets/`.
    path: &'static str,
    bytes: &'static [u8],
    content_type: &'static str,
    /// Computed at compile time so revalidation costs nothing at request time.
    etag_hash: u64,
}

/// FNV-1a: not cryptographic, only needs to change when the file changes, and is `const`.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

macro_rules! asset {
    ($path:literal, $ty:expr) => {
        Asset {
            path: $path,
            bytes: include_bytes!(concat!("../static/assets/", $path)),
            content_type: $ty,
            etag_hash: fnv1a(include_bytes!(concat!("../static/assets/", $path))),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

const INDEX_HTML: &[u8] = include_bytes!("../static/index.html");
const INDEX_ETAG: u64 = fnv1a(INDEX_HTML);

const ASSETS: &[Asset] = &[
    asset!("config.js", JS),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("i18n.js", JS),
    asset!("dom.js", JS),
    asset!("card.js", JS),
    asset!("media.js", JS),
    asset!("views/auth.js", JS),
    asset!("views/decks.js", JS),
    asset!("views/study.js", JS),
    asset!("views/cards.js", JS),
    asset!("views/stats.js", JS),
    asset!("views/transfer.js", JS),
    asset!("views/sync.js", JS),
    asset!("views/settings.js", JS),
    asset!("views/options.js", JS),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
];

/// The page may only talk to its own origin: the local server hosts API and app together.
/// (The S3 + CloudFront deployment sets its own headers and points `config.js` at the API.)
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                   frame-ancestors 'none'";

/// Routes `/`, `/index.html` and `/assets/{*path}`; merge it into the API router.
///
/// Generic over the state so it merges into a `Router<AppState>` before `with_state`. It sets no
/// fallback, because axum refuses to merge two routers that both have one and the API owns the
/// JSON 404.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/assets/{*path}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    let mut response = serve(INDEX_HTML, "text/html; charset=utf-8", INDEX_ETAG, &headers);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.path == path) {
        Some(a) => serve(a.bytes, a.content_type, a.etag_hash, &headers),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"Not found"}"#,
        )
            .into_response(),
    }
}

/// File names carry no content hash (there is no build step to add one), so browsers must
/// revalidate every time: `no-cache` + a strong ETag makes that a cheap 304 and guarantees a
/// deploy is picked up on the next load, never a mix of old and new modules.
fn serve(body: &'static [u8], content_type: &'static str, hash: u64, req: &HeaderMap) -> Response {
    let etag = format!("\"{hash:016x}\"");
    let not_modified = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let status = if not_modified {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let mut response = if not_modified {
        status.into_response()
    } else {
        (status, body).into_response()
    };
    let h = response.headers_mut();
    if !not_modified {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(uri: &str, if_none_match: Option<&str>) -> Response {
        let mut req = Request::get(uri);
        if let Some(tag) = if_none_match {
            req = req.header(header::IF_NONE_MATCH, tag);
        }
        router::<()>()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    fn header_of(r: &Response, name: header::HeaderName) -> &str {
        r.headers().get(name).unwrap().to_str().unwrap()
    }

    #[tokio::test]
    async fn index_is_html_with_a_strict_csp() {
        let r = get("/", None).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            header_of(&r, header::CONTENT_TYPE),
            "text/html; charset=utf-8"
        );
        assert_eq!(header_of(&r, header::CACHE_CONTROL), "no-cache");
        assert!(header_of(&r, header::CONTENT_SECURITY_POLICY).contains("script-src 'self'"));
        let body = to_bytes(r.into_body(), usize::MAX).await.unwrap();
        let html = std::str::from_utf8(&body).unwrap();
        assert!(html.contains("assets/app.js"));
        assert!(html.contains("assets/config.js"));
    }

    #[tokio::test]
    async fn every_asset_is_served_with_its_content_type() {
        for a in ASSETS {
            let r = get(&format!("/assets/{}", a.path), None).await;
            assert_eq!(r.status(), StatusCode::OK, "{}", a.path);
            assert_eq!(header_of(&r, header::CONTENT_TYPE), a.content_type);
            assert_eq!(header_of(&r, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
            let body = to_bytes(r.into_body(), usize::MAX).await.unwrap();
            assert_eq!(&body[..], a.bytes);
        }
    }

    #[tokio::test]
    async fn matching_etag_gives_304_without_body() {
        let first = get("/assets/app.js", None).await;
        let etag = header_of(&first, header::ETAG).to_owned();
        let again = get("/assets/app.js", Some(&etag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header_of(&again, header::ETAG), etag);
        let body = to_bytes(again.into_body(), usize::MAX).await.unwrap();
        assert!(body.is_empty());
        let stale = get("/assets/app.js", Some("\"0000000000000000\"")).await;
        assert_eq!(stale.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn unknown_assets_and_traversal_are_json_404() {
        for uri in [
            "/assets/nope.js",
            "/assets/../src/lib.rs",
            "/assets/views/../app.js",
        ] {
            let r = get(uri, None).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(header_of(&r, header::CONTENT_TYPE), "application/json");
        }
    }

    #[tokio::test]
    async fn merges_into_an_api_router_that_owns_the_fallback() {
        // The shape javumbo-local uses: `javumbo_api::app(state).merge(javumbo_web::router())`.
        let api = Router::new()
            .route("/api/health", axum::routing::get(|| async { "ok" }))
            .fallback(|| async { (StatusCode::NOT_FOUND, "api 404") });
        let app = api.merge(router());
        let status = |uri: &'static str| {
            let app = app.clone();
            async move {
                let req = Request::get(uri).body(Body::empty()).unwrap();
                app.oneshot(req).await.unwrap().status()
            }
        };
        assert_eq!(status("/").await, StatusCode::OK);
        assert_eq!(status("/assets/app.css").await, StatusCode::OK);
        assert_eq!(status("/api/health").await, StatusCode::OK);
        let r = app
            .clone()
            .oneshot(Request::get("/nope").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let body = to_bytes(r.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], b"api 404");
    }

    #[test]
    fn every_static_file_is_embedded() {
        // A file added to static/assets but not to ASSETS would 404 in production only.
        fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, base, out);
                } else {
                    let rel = p
                        .strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/");
                    out.push(rel);
                }
            }
        }
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static/assets");
        let mut files = Vec::new();
        walk(&base, &base, &mut files);
        for f in files {
            assert!(
                ASSETS.iter().any(|a| a.path == f),
                "static/assets/{f} is not embedded"
            );
        }
    }
}
