//! `Idempotency-Key` on collection writes (`docs/ARCHITECTURE.md#idempotent-writes`).
//!
//! A client that lost the answer to a write sends it again with the same key; the write is not
//! applied again and the first answer comes back (`Idempotent-Replayed: true`), on any container,
//! for [`RETENTION_MS`]. The answer's body is recorded in the user's collection in the same
//! transaction as the write itself ([`javumbo_collection::idempotency`]), so the record and the
//! write are one journal entry: never one without the other, whatever dies when.
//!
//! The middleware validates the key, fingerprints the request (method, path and query, body)
//! and opens a task-local [`Scope`]; the first collection write of the handler
//! ([`crate::routes::write`]) takes the key from it. A write then looks its key up inside its
//! own operation: found with the same fingerprint → the recorded body, nothing written; found
//! with another → 422; not found → the operation runs and records its body. Routes that write
//! no collection (auth, session flush, sync) take no key and ignore one.
//!
//! [`RETENTION_MS`]: javumbo_collection::idempotency::RETENTION_MS

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use javumbo_collection::{Collection, CollectionError, IdempotencyRecord, OperationError};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// The request header (IETF draft `httpapi-idempotency-key-header`).
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on an answer replayed from the key's record.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// Longest key accepted (a UUID is 36).
pub const MAX_KEY_LEN: usize = 255;

tokio::task_local! {
    static SCOPE: Arc<Scope>;
}

/// The key of the request being served, until its first collection write takes it.
pub(crate) struct Scope {
    key: String,
    fingerprint: String,
    taken: AtomicBool,
    replayed: AtomicBool,
}

/// What a write needs of its request's key.
#[derive(Clone)]
pub(crate) struct Claim {
    key: String,
    fingerprint: String,
    scope: Arc<Scope>,
}

/// The key of the current request, the first time a write asks for it.
pub(crate) fn claim() -> Option<Claim> {
    SCOPE
        .try_with(|scope| {
            (!scope.taken.swap(true, Ordering::SeqCst)).then(|| Claim {
                key: scope.key.clone(),
                fingerprint: scope.fingerprint.clone(),
                scope: scope.clone(),
            })
        })
        .ok()
        .flatten()
}

/// A write's answer body: computed by this request, or the first request's, replayed.
#[derive(Debug)]
pub(crate) enum Written<B> {
    Fresh(B),
    Replayed(serde_json::Value),
}

impl<B: Serialize> Serialize for Written<B> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Fresh(b) => b.serialize(s),
            Self::Replayed(v) => v.serialize(s),
        }
    }
}

/// Why a keyed write failed: its own error, or the key's.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyedError<E> {
    #[error(transparent)]
    Op(E),
    #[error("this Idempotency-Key was already used for a different request")]
    Reused,
    #[error(transparent)]
    Record(CollectionError),
}

impl<E: OperationError> OperationError for KeyedError<E> {
    fn is_client_error(&self) -> bool {
        match self {
            Self::Op(e) => e.is_client_error(),
            Self::Reused => true,
            Self::Record(e) => e.is_client_error(),
        }
    }
}

impl<E: Into<ApiError> + std::fmt::Debug> From<KeyedError<E>> for ApiError {
    fn from(e: KeyedError<E>) -> Self {
        match e {
            KeyedError::Op(e) => e.into(),
            KeyedError::Reused => ApiError::Unprocessable(
                "this Idempotency-Key was already used for a different request".into(),
            ),
            KeyedError::Record(e) => e.into(),
        }
    }
}

impl Claim {
    /// `op` made idempotent under this key: runs inside the write's transaction (and may run
    /// more than once, like any operation).
    pub(crate) fn wrap<B, E, F>(
        &self,
        op: F,
    ) -> impl Fn(&Collection) -> Result<Written<B>, KeyedError<E>> + Send + Sync + 'static
    where
        F: Fn(&Collection) -> Result<B, E> + Send + Sync + 'static,
        B: Serialize,
    {
        let key = self.key.clone();
        let fingerprint = self.fingerprint.clone();
        move |col| {
            if let Some(first) = col.idempotency_record(&key).map_err(KeyedError::Record)? {
                if first.fingerprint != fingerprint {
                    return Err(KeyedError::Reused);
                }
                let body = serde_json::from_slice(&first.body)
                    .map_err(|e| KeyedError::Record(CollectionError::Json(e)))?;
                return Ok(Written::Replayed(body));
            }
            let body = op(col).map_err(KeyedError::Op)?;
            let record = IdempotencyRecord {
                fingerprint: fingerprint.clone(),
                body: serde_json::to_vec(&body)
                    .map_err(|e| KeyedError::Record(CollectionError::Json(e)))?,
            };
            col.record_idempotency(&key, &record)
                .map_err(KeyedError::Record)?;
            Ok(Written::Fresh(body))
        }
    }

    /// Note that the answer is a replay (the middleware marks the response).
    pub(crate) fn replayed<B>(&self, written: &Written<B>) {
        if matches!(written, Written::Replayed(_)) {
            self.scope.replayed.store(true, Ordering::SeqCst);
        }
    }
}

/// The middleware: every write request carrying a key runs inside a [`Scope`].
pub(crate) async fn scope(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let Some(raw) = req.headers().get(IDEMPOTENCY_KEY) else {
        return next.run(req).await;
    };
    let key = match valid_key(raw) {
        Ok(key) => key,
        Err(e) => return e.into_response(),
    };
    let (parts, body) = req.into_parts();
    // The largest body any route accepts; the route's own limit still applies after this.
    let cap = state
        .config
        .max_body_bytes
        .max(state.config.max_import_bytes)
        .max(crate::routes::media::MAX_UPLOAD_BYTES);
    let bytes = match axum::body::to_bytes(body, cap).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::PayloadTooLarge("request body too large".into()).into_response();
        }
    };
    let fingerprint = fingerprint(&parts.method, &parts.uri, &bytes);
    let scope = Arc::new(Scope {
        key,
        fingerprint,
        taken: AtomicBool::new(false),
        replayed: AtomicBool::new(false),
    });
    let req = Request::from_parts(parts, Body::from(bytes));
    let mut resp = SCOPE.scope(scope.clone(), next.run(req)).await;
    if scope.replayed.load(Ordering::SeqCst) {
        resp.headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    resp
}

/// 1 to [`MAX_KEY_LEN`] visible ASCII characters.
fn valid_key(raw: &HeaderValue) -> Result<String, ApiError> {
    let bytes = raw.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN || !bytes.iter().all(u8::is_ascii_graphic) {
        return Err(ApiError::BadRequest(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
        )));
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// SHA-256 over the method, the path with its query and the body, each length-prefixed.
fn fingerprint(method: &Method, uri: &axum::http::Uri, body: &[u8]) -> String {
    let target = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let mut h = Sha256::new();
    for part in [method.as_str().as_bytes(), target.as_bytes(), body] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        let ok = |s: &str| valid_key(&HeaderValue::from_str(s).unwrap()).is_ok();
        assert!(ok("3f0c2a4e-8d9b-4b7e-9c1a-2f6d5e4b3a21"));
        assert!(ok(&"k".repeat(MAX_KEY_LEN)));
        assert!(!ok(""));
        assert!(!ok(&"k".repeat(MAX_KEY_LEN + 1)));
        assert!(!ok("two words"));
    }

    #[test]
    fn the_fingerprint_tells_requests_apart() {
        let uri = |s: &str| s.parse::<axum::http::Uri>().unwrap();
        let a = fingerprint(&Method::POST, &uri("/api/review"), b"{\"ease\":3}");
        assert_eq!(
            a,
            fingerprint(&Method::POST, &uri("/api/review"), b"{\"ease\":3}")
        );
        assert_ne!(
            a,
            fingerprint(&Method::POST, &uri("/api/review"), b"{\"ease\":1}")
        );
        assert_ne!(
            a,
            fingerprint(&Method::PUT, &uri("/api/review"), b"{\"ease\":3}")
        );
        assert_ne!(
            a,
            fingerprint(&Method::POST, &uri("/api/review?x=1"), b"{\"ease\":3}")
        );
    }
}
