//! Lambda wiring on the AWS backend (feature `lambda`): what the four HTTP functions and the
//! flush handler build once per container. Behind a feature so the adapters themselves never
//! depend on the HTTP layer.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use javumbo_api::{ApiConfig, AppState, CorsOrigins};
use javumbo_collection::{SharedClock, SystemClock};
use javumbo_session::manager::{SessionConfig, SessionManager};

use crate::error::AwsStoreError;
use crate::{AwsContainer, emf::EmfEmitter};

/// Lambda's only writable directory; the container's collection cache lives under it.
const LAMBDA_TMP: &str = "/tmp/javumbo";

/// The JWT key: `JAVUMBO_JWT_SECRET` when set (local runs of a bootstrap), else the Secrets
/// Manager secret named by `JAVUMBO_JWT_SECRET_ARN`, read once per container.
async fn jwt_secret(container: &AwsContainer) -> Result<Vec<u8>, AwsStoreError> {
    match std::env::var("JAVUMBO_JWT_SECRET") {
        Ok(s) if !s.is_empty() => Ok(s.into_bytes()),
        _ => container.jwt_secret().await,
    }
}

/// An HTTP function's state on S3 / DynamoDB / SNS, plus its EMF emitter.
pub async fn app_state(function: &str) -> Result<(AppState, Arc<EmfEmitter>), AwsStoreError> {
    let container = AwsContainer::from_env(function).await?;
    let secret = jwt_secret(&container).await?;
    // Outside local mode an open CORS policy must be asked for explicitly ("*").
    let cors = std::env::var("JAVUMBO_CORS_ORIGINS")
        .map_err(|_| AwsStoreError::Config("JAVUMBO_CORS_ORIGINS is not set".into()))?;
    let config = ApiConfig::new(secret, CorsOrigins::parse(&cors))
        .map_err(|e| AwsStoreError::Config(e.to_string()))?;
    let clock: SharedClock = Arc::new(SystemClock);
    let id = uuid::Uuid::new_v4().to_string();
    let cache_dir = PathBuf::from(LAMBDA_TMP).join("containers").join(&id);
    let users = container.ports.users.clone();
    let session_cfg = SessionConfig::new(id, cache_dir)
        .with_env_overrides()
        .map_err(AwsStoreError::Config)?;
    let sessions = SessionManager::new(
        session_cfg,
        container.ports,
        clock.clone(),
        container.metrics,
    );
    Ok((
        AppState::new(sessions, users, config, clock),
        Arc::new(container.emf),
    ))
}

/// `router` with one EMF line written after every request (the container's counter
/// increments during it).
pub fn with_emf(router: Router, state: &AppState, emf: Arc<EmfEmitter>) -> Router {
    let metrics = state.metrics().clone();
    router.layer(middleware::from_fn(move |req: Request, next: Next| {
        let (emf, metrics) = (emf.clone(), metrics.clone());
        async move {
            let res = next.run(req).await;
            emf.emit(&metrics);
            res
        }
    }))
}

/// The flush handler's container: ports, metrics and EMF emitter on AWS.
pub async fn flush_container() -> Result<AwsContainer, AwsStoreError> {
    AwsContainer::from_env("flush-handler").await
}

/// Where the flush handler assembles snapshots.
pub fn flush_work_dir() -> PathBuf {
    PathBuf::from(LAMBDA_TMP).join("flush-work")
}
