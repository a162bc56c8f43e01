//! The Lambda side of the HTTP functions' fixture tests: an API Gateway HTTP API (payload 2.0)
//! event goes through the same `lambda_http` adapter `lambda_http::run` wraps around the
//! function's router, and the test gets back the JSON the runtime would post to API Gateway.
//!
//! Lives in `auth` (whose fixtures `sign_up` replays) and is included by the other HTTP
//! functions' tests with `#[path]`: test targets of different packages cannot share a module.

use std::future::poll_fn;
use std::sync::Arc;

use javumbo_api::axum::Router;
use javumbo_api::embedded::{self, Faults};
use javumbo_api::{ApiConfig, AppState, CorsOrigins};
use javumbo_collection::{SharedClock, SystemClock};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::Value;
use tempfile::TempDir;

/// A container on the embedded stores, as `embedded::state_from_env` builds it, in a temp dir.
pub struct Container {
    pub state: AppState,
    _data: TempDir,
}

impl Container {
    pub fn new() -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let config = ApiConfig::new(
            b"fixture-tests-secret-0123456789abcdef".to_vec(),
            CorsOrigins::Any,
        )
        .expect("valid config");
        let clock: SharedClock = Arc::new(SystemClock);
        let state = embedded::container_state(
            data.path(),
            "fixture-container",
            clock,
            config,
            &Faults::default(),
        )
        .expect("embedded stores open");
        Self { state, _data: data }
    }
}

/// A fixture of the crate under test, with each `{{key}}` replaced by its value.
pub fn fixture(name: &str, vars: &[(&str, &str)]) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    fill(&text, vars)
}

fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let text = vars.iter().fold(template.to_owned(), |t, (k, v)| {
        t.replace(&format!("{{{{{k}}}}}"), v)
    });
    assert!(!text.contains("{{"), "unfilled placeholder in {text}");
    text
}

/// One invocation: `event` (API Gateway JSON) → `router` behind the Lambda glue → the
/// serialized API Gateway v2 response (`statusCode`, `headers`, `body`, `isBase64Encoded`).
pub async fn invoke(router: Router, event: &str) -> Value {
    let request: LambdaRequest = serde_json::from_str(event).expect("an API Gateway event");
    // The response shape follows the event's origin: a fixture that parsed as REST API (v1)
    // would test the wrong contract.
    assert!(
        matches!(request, LambdaRequest::ApiGatewayV2(_)),
        "not an HTTP API (payload 2.0) event: {request:?}"
    );
    let mut adapter = Adapter::from(javumbo_api::lambda::lambda_router(router));
    poll_fn(|cx| adapter.poll_ready(cx))
        .await
        .expect("router ready");
    let response = adapter
        .call(LambdaEvent::new(request, Context::default()))
        .await
        .expect("router is infallible");
    serde_json::to_value(response).expect("response serializes")
}

/// `statusCode`.
pub fn status(resp: &Value) -> u64 {
    resp["statusCode"].as_u64().expect("statusCode")
}

/// A response header (API Gateway v2 responses carry single-valued `headers`).
pub fn header<'a>(resp: &'a Value, name: &str) -> Option<&'a str> {
    resp["headers"][name].as_str()
}

/// The JSON body of a text response.
pub fn json_body(resp: &Value) -> Value {
    assert_eq!(resp["isBase64Encoded"], false, "{resp}");
    assert_eq!(header(resp, "content-type"), Some("application/json"));
    let body = resp["body"].as_str().expect("a text body");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Register and log in `alice` by replaying the `auth` function's fixtures against the same
/// stores; the access token.
pub async fn sign_up(state: &AppState) -> String {
    let auth = || javumbo_api::auth_router(state.clone());
    let register = fill(include_str!("../fixtures/register.json"), &[]);
    let resp = invoke(auth(), &register).await;
    assert_eq!(status(&resp), 200, "{resp}");
    let login = fill(include_str!("../fixtures/login.json"), &[]);
    let resp = invoke(auth(), &login).await;
    assert_eq!(status(&resp), 200, "{resp}");
    json_body(&resp)["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}
