//! The Lambda side of the HTTP functions' fixture tests: an API Gateway HTTP API (payload 2.0)
//! event goes through the same `lambda_http` adapter `lambda_http::run` wraps around the
//! function's router, and the test gets back the JSON the runtime would post to API Gateway.
//!
//! A dev-dependency of every HTTP function's fixture tests.

use std::future::poll_fn;

use javumbo_api::axum::Router;
use javumbo_app::RouteGroup;
use javumbo_runtime::{Profile, Runtime, Settings};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Service};
use serde_json::Value;
use tempfile::TempDir;

/// The header naming the session a response was served in.
pub use javumbo_api::SESSION_HEADER;

/// Lambda functions on the embedded stores of one temp dir, configured as a Lambda reads its
/// environment (settings given as flags here, so the tests never touch the process env).
pub struct Deployment {
    runtime: Runtime,
    _data: TempDir,
}

impl Deployment {
    pub async fn new() -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let settings = Settings::from_args(
            Profile::Lambda,
            [
                "bootstrap".into(),
                "--backend=local".into(),
                "--data".into(),
                data.path().as_os_str().to_owned(),
                "--jwt-secret=fixture-tests-secret-0123456789abcdef".into(),
                "--cors-origins=*".into(),
            ],
        )
        .expect("fixture settings");
        let runtime = Runtime::new(settings, Profile::Lambda, "fixture")
            .await
            .expect("embedded backend");
        Self {
            runtime,
            _data: data,
        }
    }

    /// A new container of the function serving `group`: the router its binary serves, built by
    /// the function its binary calls.
    pub async fn function(&self, group: RouteGroup) -> Router {
        javumbo_app::build(group, &self.runtime)
            .await
            .expect("function container")
    }
}

// The `auth` function's own fixtures, so its test and every sign-up replay the same events.
const AUTH_REGISTER: &str = include_str!("../../../functions/auth/tests/fixtures/register.json");
const AUTH_LOGIN: &str = include_str!("../../../functions/auth/tests/fixtures/login.json");

/// `fixture!(name, vars)`: the fixture `tests/fixtures/<name>` of the crate under test (the
/// macro expands there, so `CARGO_MANIFEST_DIR` is that crate's), with each `{{key}}` replaced
/// by its value.
#[macro_export]
macro_rules! fixture {
    ($name:expr, $vars:expr $(,)?) => {
        $crate::fixture_in(env!("CARGO_MANIFEST_DIR"), $name, $vars)
    };
}

/// [`fixture!`] for the crate at `manifest_dir`.
pub fn fixture_in(manifest_dir: &str, name: &str, vars: &[(&str, &str)]) -> String {
    let path = format!("{manifest_dir}/tests/fixtures/{name}");
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

/// One invocation: `event` (API Gateway JSON) → a function's router → the serialized API
/// Gateway v2 response (`statusCode`, `headers`, `body`, `isBase64Encoded`).
pub async fn invoke(router: Router, event: &str) -> Value {
    let request: LambdaRequest = serde_json::from_str(event).expect("an API Gateway event");
    // The response shape follows the event's origin: a fixture that parsed as REST API (v1)
    // would test the wrong contract.
    assert!(
        matches!(request, LambdaRequest::ApiGatewayV2(_)),
        "not an HTTP API (payload 2.0) event: {request:?}"
    );
    let mut adapter = Adapter::from(router);
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

/// Register and log in `alice` by replaying the `auth` function's fixtures on a container of
/// the `auth` function of `deployment`; the access token.
pub async fn sign_up(deployment: &Deployment) -> String {
    let auth = deployment.function(RouteGroup::Auth).await;
    let register = fill(AUTH_REGISTER, &[]);
    let resp = invoke(auth.clone(), &register).await;
    assert_eq!(status(&resp), 200, "{resp}");
    let login = fill(AUTH_LOGIN, &[]);
    let resp = invoke(auth, &login).await;
    assert_eq!(status(&resp), 200, "{resp}");
    json_body(&resp)["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}
