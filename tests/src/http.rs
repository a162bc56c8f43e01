//! HTTP client helpers shared by the end-to-end tests (in-process, `javumbo-local`, or a
//! deployed API such as the emulator stack), and the new user's study flow they all run.
//!
//! Every request to the API goes through [`ApiClient`], which checks each response against the
//! contract, `docs/openapi.yaml` ([`contract`]): an undeclared status or a body that violates the
//! declared schema fails the test there, naming the method, path, status and what is wrong.

pub mod contract;

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Body, Client, Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde_json::{Value, json};

use crate::spawn::Target;

/// A client of the javumbo API that holds every response to the contract.
#[derive(Clone)]
pub struct ApiClient {
    http: Client,
    base: String,
    /// The path part of `base` (a deployed API's stage prefix), not part of the contract's paths.
    base_path: String,
    via_gateway: bool,
    /// `javumbo-local` (which also serves the web app) rather than the API alone.
    serves_web: bool,
}

/// Redirects are not followed: a 303 (a large export's download link) is an answer of the API,
/// held to the contract like any other.
fn client(timeout: Option<Duration>) -> Client {
    let mut b = Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    b.build().expect("http client")
}

impl ApiClient {
    /// The API itself, nothing in front of it (the in-process app).
    pub fn direct(base: &str) -> Self {
        Self::new(base, false)
    }

    /// The API behind a gateway (API Gateway, `javumbo-local`'s): the gateway's own answers
    /// (`x-gateway-responses` in the contract) are accepted too.
    pub fn behind_gateway(base: &str) -> Self {
        Self::new(base, true)
    }

    /// The client for a test's [`Target`]: a deployed API is behind API Gateway, or behind
    /// `javumbo-local`'s gateway, which also serves the web app.
    pub fn for_target(target: &Target) -> Self {
        let mut client = Self::new(&target.base, target.is_remote());
        client.serves_web = target.is_remote() && !target.behind_api_gateway();
        client
    }

    fn new(base: &str, via_gateway: bool) -> Self {
        let base = base.trim_end_matches('/').to_owned();
        let base_path = reqwest::Url::parse(&base)
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        Self {
            http: client(None),
            base,
            base_path,
            via_gateway,
            serves_web: false,
        }
    }

    /// The same API with a per-request timeout (for requests a dying container may strand).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.http = client(Some(timeout));
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn is_behind_gateway(&self) -> bool {
        self.via_gateway
    }

    /// `path` is relative to the base and may carry a query.
    pub fn request(&self, method: Method, path: &str) -> ApiRequest<'_> {
        ApiRequest {
            client: self,
            rb: self.http.request(method, format!("{}{path}", self.base)),
        }
    }

    pub fn get(&self, path: &str) -> ApiRequest<'_> {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> ApiRequest<'_> {
        self.request(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> ApiRequest<'_> {
        self.request(Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> ApiRequest<'_> {
        self.request(Method::DELETE, path)
    }
}

/// A request being built; [`ApiRequest::send`] checks the answer against the contract.
pub struct ApiRequest<'c> {
    client: &'c ApiClient,
    rb: RequestBuilder,
}

impl ApiRequest<'_> {
    pub fn bearer_auth(mut self, token: &str) -> Self {
        self.rb = self.rb.bearer_auth(token);
        self
    }

    /// A JSON body (and `Content-Type: application/json`).
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.rb = self.rb.json(body);
        self
    }

    /// A raw body, with whatever content type the test sets (or none).
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.rb = self.rb.body(body);
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.rb = self.rb.header(name, value);
        self
    }

    /// Send, read the whole answer and check it against the contract; a violation panics
    /// (fails the test) with the method, path, status and the validator's message. `Err` is a
    /// transport failure only (nothing or not all of the answer arrived).
    pub async fn send(self) -> reqwest::Result<ApiResponse> {
        let (http, request) = self.rb.build_split();
        let request = request?;
        let method = request.method().clone();
        let url_path = request.url().path().to_owned();
        let path = url_path
            .strip_prefix(self.client.base_path.as_str())
            .filter(|p| p.starts_with('/'))
            .unwrap_or(&url_path)
            .to_owned();
        let resp = http.execute(request).await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?.to_vec();
        let exchange = contract::Exchange {
            method: method.as_str(),
            path: &path,
            status: status.as_u16(),
            headers: &headers,
            body: &body,
            via_gateway: self.client.via_gateway,
            serves_web: self.client.serves_web,
        };
        if let Err(violation) = contract::contract().check(&exchange) {
            panic!("{violation}");
        }
        Ok(ApiResponse {
            status,
            headers,
            body,
        })
    }
}

/// A whole answer, already held to the contract.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl ApiResponse {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `X-Session-ID` ("" when absent).
    pub fn session_id(&self) -> String {
        self.headers
            .get("x-session-id")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, or as a JSON string of its text when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(self.text()))
    }
}

/// Register `user` (password `password123`) and log in; returns the access token.
pub async fn register_login(api: &ApiClient, user: &str) -> String {
    let r = api
        .post("/api/register")
        .json(&json!({"username": user, "name": "Flow", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    let r = api
        .post("/api/login")
        .json(&json!({"username": user, "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "login {user}");
    r.json()["access_token"].as_str().unwrap().to_owned()
}

/// GET that expects 200; returns the JSON body and the `X-Session-ID`. A read is idempotent,
/// so a 502 (the container serving it died mid-request, which the SIGKILL test provokes on
/// purpose) or a 503 (takeover retries ran out) is retried, as any client would; anything else
/// fails the test at once.
pub async fn get(api: &ApiClient, token: &str, path: &str) -> (Value, String) {
    let mut attempt = 0;
    let r = loop {
        let r = api.get(path).bearer_auth(token).send().await.unwrap();
        if matches!(r.status().as_u16(), 502 | 503) && attempt < 20 {
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        break r;
    };
    assert_eq!(r.status(), StatusCode::OK, "GET {path}: {}", r.text());
    (serde_json::from_slice(r.bytes()).unwrap(), r.session_id())
}

/// POST that expects 200 (a write: not retried); returns the JSON body.
pub async fn post_ok(api: &ApiClient, token: &str, path: &str, body: &Value) -> Value {
    let r = api
        .post(path)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "POST {path}: {}", r.text());
    serde_json::from_slice(r.bytes()).unwrap()
}

/// A new user's whole study flow: register, the starter deck "Verbal Tenses" is current, five
/// Good answers move five cards from New to Learning, the export passes the official Anki
/// importer with the five answers in its revlog, an explicit flush ends the session and the
/// next request opens a new one with everything still there.
///
/// On a deployed API the route groups are different functions (containers), so the session
/// moves between them along the way; the flush therefore names the session id of the latest
/// response, as a client would.
pub async fn new_user_study_flow(api: &ApiClient, user: &str) {
    let t = register_login(api, user).await;

    let (decks, _) = get(api, &t, "/api/decks").await;
    let vt = decks["decks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Verbal Tenses")
        .unwrap()
        .clone();
    assert_eq!(vt["current"], true, "the starter deck is current: {decks}");
    let vt_id = vt["id"].as_i64().unwrap();
    let (before, _) = get(api, &t, &format!("/api/decks/{vt_id}/stats")).await;
    let new_before = before["counts"]["New"].as_i64().unwrap();

    for _ in 0..5 {
        let (card, _) = get(api, &t, "/api/review").await;
        assert_eq!(
            card["deckId"], vt_id,
            "Verbal Tenses is the current deck: {card}"
        );
        let answer = json!({"cardId": card["cardId"], "ease": 3, "timeTaken": 3000});
        post_ok(api, &t, "/api/review", &answer).await;
    }
    let (stats, _) = get(api, &t, &format!("/api/decks/{vt_id}/stats")).await;
    assert_eq!(stats["counts"]["New"], new_before - 5, "{stats}");
    assert_eq!(stats["counts"]["Learning"], 5, "{stats}");

    let r = api.get("/api/export").bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let sid = r.session_id();
    assert!(!sid.is_empty(), "the export names its session");
    let apkg = r.bytes();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{user}.apkg"));
    std::fs::write(&path, apkg).unwrap();
    let checked: Value = serde_json::from_str(&crate::run_oracle(
        "apkg_check.py",
        &[path.to_str().unwrap()],
        "",
    ))
    .unwrap();
    assert!(
        checked["decks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "Verbal Tenses"),
        "{checked}"
    );
    assert_eq!(
        checked["revlog_count"], 5,
        "the five answers are in the export"
    );

    let r = api
        .post("/api/session/flush")
        .bearer_auth(&t)
        .json(&json!({"session_id": sid}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    let (after, new_sid) = get(api, &t, &format!("/api/decks/{vt_id}/stats")).await;
    assert_ne!(new_sid, sid, "a flush ends the session");
    assert_eq!(
        after["counts"], stats["counts"],
        "everything is still there after the flush"
    );
}
