//! The HTTP composition: turns `javumbo-runtime`'s containers into the API's [`AppState`] and
//! routers, and serves one [`RouteGroup`] as a Lambda function.
//!
//! Kept apart from `javumbo-runtime` so the flush handler, which needs the runtime but no HTTP,
//! links no axum, argon2 or jsonwebtoken (cargo unifies features across a build, so a feature
//! could not keep them out).

mod lambda;

use javumbo_api::axum::Router;
use javumbo_api::{ApiConfig, AppState, ConfigError, CorsOrigins};
use javumbo_runtime::{Container, Runtime, RuntimeError};

/// What a Lambda function's `main` returns.
pub type Error = lambda_http::Error;

/// The routes one Lambda function serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteGroup {
    /// `POST /api/register`, `/api/login` (+ legacy `/register`, `/login`), `GET /api/health`.
    Auth,
    /// `GET`/`POST /api/review`.
    Review,
    /// Decks, cards, notes, stats, study settings (`/api/settings`, `/api/presets/*`, deck
    /// presets and limits, card actions) and `/api/session/*`.
    Crud,
    /// `GET /api/export`, `POST /api/import`.
    Export,
    /// Anki's sync protocol (`/sync/*`, `/msync/*`, `GET /health`) and `/api/sync/keys`.
    Sync,
}

impl RouteGroup {
    pub const ALL: [Self; 5] = [
        Self::Auth,
        Self::Review,
        Self::Crud,
        Self::Export,
        Self::Sync,
    ];

    /// The function's name: its EMF lines' `function` property.
    pub fn function(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Review => "review",
            Self::Crud => "crud",
            Self::Export => "export",
            Self::Sync => "sync",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// What builds a group's routes over a state.
pub type Routes = fn(AppState) -> Router;

/// Each group's [`Routes`]. A Lambda's `main` names its own constant, so its binary links only
/// its group's handlers: with the other groups reachable through a `match` on the group, all
/// five binaries carried all the routes (each zip 9.1 MB instead of ~7).
pub mod routes {
    use super::Routes;

    pub const AUTH: Routes = javumbo_api::auth_router;
    pub const REVIEW: Routes = javumbo_api::review_router;
    pub const CRUD: Routes = javumbo_api::crud_router;
    pub const EXPORT: Routes = javumbo_api::export_router;
    pub const SYNC: Routes = javumbo_api::sync_router;
}

impl RouteGroup {
    /// The group's routes (what `javumbo-local` and the fixtures serve; a Lambda names its own
    /// constant of [`routes`] instead).
    pub fn routes(self) -> Routes {
        match self {
            Self::Auth => routes::AUTH,
            Self::Review => routes::REVIEW,
            Self::Crud => routes::CRUD,
            Self::Export => routes::EXPORT,
            Self::Sync => routes::SYNC,
        }
    }
}

/// The group's routes over `state` (complete on their own: fallbacks, CORS, body limits).
pub fn router(group: RouteGroup, state: AppState) -> Router {
    group.routes()(state)
}

/// The HTTP settings of every container of `rt`: JWT key and CORS origins from its settings.
/// `trust_forwarded_for` only behind our own proxy (the `javumbo-local` gateway).
pub async fn api_config(rt: &Runtime, trust_forwarded_for: bool) -> Result<ApiConfig, AppError> {
    let cors = CorsOrigins::parse(rt.cors_origins()?);
    let mut config = ApiConfig::new(rt.jwt_secret().await?.into_bytes(), cors)?;
    config.trust_forwarded_for = trust_forwarded_for;
    Ok(config)
}

/// The API's state over one container.
pub fn state(container: &Container, config: ApiConfig) -> AppState {
    AppState::new(
        container.sessions.clone(),
        container.users.clone(),
        config,
        container.clock.clone(),
    )
}

/// One Lambda container serving `group`: a new container of `rt`, its state, and the router
/// exactly as [`run`] hands it to the Lambda runtime (also what the fixture tests drive).
pub async fn build(group: RouteGroup, rt: &Runtime) -> Result<Router, AppError> {
    build_with(group.routes(), rt).await
}

async fn build_with(routes: Routes, rt: &Runtime) -> Result<Router, AppError> {
    let mut config = api_config(rt, false).await?;
    config.sync = lambda_sync_limits(rt);
    let container = rt.container()?;
    let routes = routes(state(&container, config));
    Ok(lambda::serve_router(routes, container.reporter))
}

/// A Lambda's sync limits: its payload bounds answers unless it answers by streaming, and a
/// refused download names the streaming address when there is one.
fn lambda_sync_limits(rt: &Runtime) -> javumbo_api::SyncLimits {
    let aws = &rt.settings().aws;
    let mut limits = if aws.response_streaming {
        javumbo_api::SyncLimits::lambda_streaming()
    } else {
        javumbo_api::SyncLimits::lambda()
    };
    limits.larger_downloads_at = aws.sync_stream_url();
    if let Some(max) = aws.sync_max_download_bytes {
        limits.max_response_bytes = max;
    }
    limits
}

/// A Lambda function serving `group` with its `routes` (its constant of [`routes`]): build the
/// container once, then serve invocations until it is frozen for good. With
/// JAVUMBO_RESPONSE_STREAMING (a function URL in RESPONSE_STREAM mode) the answers are
/// streamed, past the 6 MB buffered payload.
pub async fn run(group: RouteGroup, routes: Routes) -> Result<(), Error> {
    let rt = Runtime::lambda(group.function()).await?;
    let streaming = rt.settings().aws.response_streaming;
    let router = build_with(routes, &rt).await?;
    if streaming {
        lambda_http::run_with_streaming_response(router).await
    } else {
        lambda_http::run(router).await
    }
}
