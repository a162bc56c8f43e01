//! The `auth` function driven by API Gateway HTTP API (payload 2.0) events.

use javumbo_test_support::{Deployment, fixture, header, invoke, json_body, status};

#[tokio::test]
async fn register_login_health_over_api_gateway_events() {
    let d = Deployment::new().await;
    let function = d.function(javumbo_auth::GROUP).await;
    let router = || function.clone();

    let resp = invoke(router(), &fixture!("register.json", &[])).await;
    assert_eq!(status(&resp), 200, "{resp}");
    assert_eq!(
        json_body(&resp),
        serde_json::json!({ "message": "User registered successfully" })
    );
    // The fixture carries the browser's `Origin`; the CORS layer answers it inside the function.
    assert_eq!(header(&resp, "access-control-allow-origin"), Some("*"));

    let again = invoke(router(), &fixture!("register.json", &[])).await;
    assert_eq!(status(&again), 400, "{again}");
    assert_eq!(json_body(&again)["error"], "Username already exists");

    // Login needs the client address, which only the event's `requestContext.http.sourceIp`
    // supplies on Lambda.
    let resp = invoke(router(), &fixture!("login.json", &[])).await;
    assert_eq!(status(&resp), 200, "{resp}");
    let body = json_body(&resp);
    assert_eq!(body["username"], "alice");
    assert_eq!(body["name"], "Alice Liddell");
    let token = body["access_token"].as_str().expect("access_token");

    let resp = invoke(router(), &fixture!("health.json", &[("token", token)])).await;
    assert_eq!(status(&resp), 200, "{resp}");
    assert_eq!(
        json_body(&resp),
        serde_json::json!({ "status": "ok", "username": "alice" })
    );

    // A bad token does not fail the health check; it just identifies nobody.
    let resp = invoke(
        router(),
        &fixture!("health.json", &[("token", "not-a-jwt")]),
    )
    .await;
    assert_eq!(status(&resp), 200, "{resp}");
    assert_eq!(json_body(&resp), serde_json::json!({ "status": "ok" }));
}

#[tokio::test]
async fn wrong_password_is_a_json_401() {
    let d = Deployment::new().await;
    let event = fixture!("login.json", &[]).replace("correct horse battery", "wrong password!");
    let resp = invoke(d.function(javumbo_auth::GROUP).await, &event).await;
    assert_eq!(status(&resp), 401, "{resp}");
    assert_eq!(json_body(&resp)["error"], "Invalid credentials");
}
