//! The `sync` function driven by API Gateway HTTP API (payload 2.0) events.

use javumbo_test_support::{Deployment, fixture, invoke, status};

#[tokio::test]
async fn health_and_unauthenticated_sync_over_api_gateway_events() {
    let d = Deployment::new().await;
    let function = d.function(javumbo_sync_fn::GROUP).await;

    let resp = invoke(function.clone(), &fixture!("health.json", &[])).await;
    assert_eq!(status(&resp), 200, "{resp}");

    // `meta` without a valid host key: Anki's 403, which the client shows as AuthFailed.
    let event = fixture!("health.json", &[])
        .replace("\"GET /health\"", "\"POST /sync/meta\"")
        .replace("\"/health\"", "\"/sync/meta\"")
        .replace("\"GET\"", "\"POST\"")
        .replace(
            "\"accept\":",
            "\"anki-sync\": \"{\\\"v\\\":11,\\\"k\\\":\\\"nobody\\\",\\\"c\\\":\\\"x\\\",\\\"s\\\":\\\"s\\\"}\", \"accept\":",
        );
    let resp = invoke(function, &event).await;
    assert_eq!(status(&resp), 403, "{resp}");
}
