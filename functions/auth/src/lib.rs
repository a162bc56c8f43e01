//! Lambda function `auth`: javumbo's auth routes behind API Gateway (HTTP API, payload v2).
//!
//! The wiring lives here rather than in `main.rs` so the fixture tests drive exactly the
//! router the binary serves.

use javumbo_api::axum::Router;
use javumbo_api::{AppState, embedded, lambda};

/// This function's routes; [`lambda::serve`] adds the API Gateway glue around them.
pub fn router(state: AppState) -> Router {
    javumbo_api::auth_router(state)
}

/// Build the container's state once (the session cache is what makes warm requests cheap),
/// then serve invocations until the container is frozen for good.
pub async fn run() -> Result<(), lambda_http::Error> {
    lambda::init_tracing();
    if javumbo_storage_aws::AwsConfig::selected_by_env() {
        let (state, emf) = javumbo_storage_aws::lambda::app_state("auth").await?;
        let router = router(state.clone());
        return lambda::serve(javumbo_storage_aws::lambda::with_emf(router, &state, emf)).await;
    }
    let state = embedded::state_from_env()?;
    lambda::serve(router(state)).await
}
