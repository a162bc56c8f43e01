//! javumbo's HTTP API: one axum router per Lambda function, all built from one [`AppState`].
//!
//! - [`routes`]: the five route groups (`auth`, `review`, `crud`, `export`, `sync`), thin translations
//!   from HTTP to collection operations run through the session manager.
//! - [`error`]: [`ApiError`], the single mapping of failures to `{"error"}` + status.
//! - [`extract`]: JSON/path/query/auth extractors that reject with [`ApiError`].
//! - [`jwt`], [`password`], [`throttle`]: access tokens, password hashing, login throttling.
//! - [`config`]: [`ApiConfig`], built once per container by the composition root
//!   (`javumbo-app`, from `javumbo-runtime`'s settings).
//!
//! Every group router is complete on its own (fallbacks, CORS, body limits), so a Lambda serves
//! exactly one group; [`app`] merges them all for `javumbo-local`.

pub mod config;
pub mod error;
pub mod extract;
pub mod idempotency;
pub mod in_flight;
pub mod jwt;
mod jwt_hs256;
pub mod password;
pub mod routes;
pub mod throttle;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use javumbo_collection::SharedClock;
use javumbo_session::manager::SessionManager;
use javumbo_session::{Metrics, UserStore};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

/// Re-exported so servers and tests use the exact axum this crate is built with.
pub use axum;
pub use config::{
    ApiConfig, ConfigError, CorsOrigins, GATEWAY_PROOF_HEADER, SyncLimits, ThrottleConfig,
    gateway_proof,
};
pub use error::{ApiError, SESSION_HEADER, SyncFailure, failure_response};
pub use extract::ClientIp;
pub use routes::sync::revoke_all_device_keys;
use throttle::LoginThrottle;

/// What every handler needs; cheap to clone (all shared).
#[derive(Clone)]
pub struct AppState {
    pub sessions: Arc<SessionManager>,
    pub users: Arc<dyn UserStore>,
    pub config: Arc<ApiConfig>,
    pub throttle: Arc<LoginThrottle>,
    /// Every password hash and verification runs here (bounded: `config.hashing`).
    pub hashing: Arc<password::HashPool>,
    /// The container's request slots (bounded: `config.in_flight`).
    pub in_flight: in_flight::InFlight,
    pub clock: SharedClock,
}

impl AppState {
    pub fn new(
        sessions: Arc<SessionManager>,
        users: Arc<dyn UserStore>,
        config: ApiConfig,
        clock: SharedClock,
    ) -> Self {
        let throttle = Arc::new(LoginThrottle::new(config.throttle));
        let hashing = Arc::new(password::HashPool::new(config.hashing));
        let in_flight = in_flight::InFlight::new(config.in_flight);
        Self {
            sessions,
            users,
            hashing,
            in_flight,
            config: Arc::new(config),
            throttle,
            clock,
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        self.sessions.metrics()
    }
}

/// `POST /api/register`, `/api/login` (+ legacy `/register`, `/login`), `GET /api/health`.
pub fn auth_router(state: AppState) -> Router {
    finish(routes::auth::routes(), state)
}

/// `GET`/`POST /api/review`.
pub fn review_router(state: AppState) -> Router {
    finish(routes::review::routes(), state)
}

/// Decks, cards, stats and `/api/session/*`.
pub fn crud_router(state: AppState) -> Router {
    finish(routes::crud::routes(), state)
}

/// `GET /api/export`, `POST /api/import`.
pub fn export_router(state: AppState) -> Router {
    finish(routes::export::routes(&state.config), state)
}

/// Anki's sync protocol (`/sync/*`, `/msync/*`, `GET /health`) and `/api/sync/keys`.
pub fn sync_router(state: AppState) -> Router {
    finish(routes::sync::routes(&state.config), state)
}

/// All groups behind one listener (`javumbo-local`).
pub fn app(state: AppState) -> Router {
    let routes = routes::auth::routes()
        .merge(routes::review::routes())
        .merge(routes::crud::routes())
        .merge(routes::export::routes(&state.config))
        .merge(routes::sync::routes(&state.config));
    finish(routes, state)
}

/// The parts every group shares. Fallbacks are added here, once, because axum refuses to merge
/// two routers that both have one.
fn finish(routes: Router<AppState>, state: AppState) -> Router {
    let cors = cors_layer(&state.config.cors_origins);
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            idempotency::scope,
        ))
        // Outside the layers that buffer a body: a request waiting for a slot holds nothing.
        .layer(middleware::from_fn_with_state(
            state.in_flight.clone(),
            in_flight::limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                ApiError::internal("handler panicked").into_response()
            },
        ))
        .layer(cors)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

fn cors_layer(origins: &CorsOrigins) -> CorsLayer {
    let allow = match origins {
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(list) => AllowOrigin::list(
            list.iter()
                .filter_map(|o| o.parse().ok())
                .collect::<Vec<_>>(),
        ),
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        // The original React client sends its session id back on every request.
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static(SESSION_HEADER),
            idempotency::IDEMPOTENCY_KEY,
        ])
        // Content-Disposition carries the export's file name to cross-origin clients.
        .expose_headers([
            HeaderName::from_static(SESSION_HEADER),
            axum::http::header::CONTENT_DISPOSITION,
            idempotency::REPLAYED,
        ])
}

/// Counts requests and 5xx answers in the container's metrics (`/_local/metrics`, EMF), and
/// reports the time spent inside the container as `Server-Timing: app;dur=<ms>`, so a load
/// harness can tell server time from network and gateway time.
async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let metrics = state.metrics();
    Metrics::incr(&metrics.requests);
    let started = std::time::Instant::now();
    let mut resp = next.run(req).await;
    if resp.status().is_server_error() {
        Metrics::incr(&metrics.errors_5xx);
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&format!("app;dur={ms:.3}")) {
        resp.headers_mut().append(SERVER_TIMING, v);
    }
    resp
}

const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

async fn not_found() -> ApiError {
    ApiError::NotFound("Not found".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod cors_tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    /// The original React client sends `X-Session-ID` on every request; a preflight that does
    /// not allow it makes the browser drop the request before it leaves.
    #[tokio::test]
    async fn the_preflight_allows_the_session_header() {
        let router: Router = Router::new()
            .route("/api/decks", axum::routing::get(|| async { "ok" }))
            .layer(cors_layer(&CorsOrigins::List(vec![
                "https://app.example.org".into(),
            ])));
        let req = Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/decks")
            .header("origin", "https://app.example.org")
            .header("access-control-request-method", "GET")
            .header(
                "access-control-request-headers",
                "authorization,x-session-id,idempotency-key",
            )
            .body(Body::empty())
            .expect("request");
        let resp = router.oneshot(req).await.expect("infallible");
        let allowed = resp
            .headers()
            .get("access-control-allow-headers")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(allowed.contains("x-session-id"), "{allowed:?}");
        assert!(allowed.contains("authorization"), "{allowed:?}");
        assert!(allowed.contains("idempotency-key"), "{allowed:?}");
    }
}
