//! HTTP client helpers shared by the end-to-end tests (in-process, `javumbo-local`, or a
//! deployed API such as the emulator stack), and the new user's study flow they all run.

use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// Register `user` (password `password123`) and log in; returns the access token.
pub async fn register_login(http: &Client, base: &str, user: &str) -> String {
    let r = http
        .post(format!("{base}/api/register"))
        .json(&json!({"username": user, "name": "Flow", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let r = http
        .post(format!("{base}/api/login"))
        .json(&json!({"username": user, "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "login {user}");
    let v: Value = r.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// The `X-Session-ID` of a response ("" when absent).
pub fn session_id(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-session-id")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// GET that expects 200; returns the JSON body and the `X-Session-ID`. A read is idempotent,
/// so a 502 (the container serving it died mid-request, which the SIGKILL test provokes on
/// purpose) or a 503 (takeover retries ran out) is retried, as any client would; anything else
/// fails the test at once.
pub async fn get(http: &Client, base: &str, token: &str, path: &str) -> (Value, String) {
    let mut attempt = 0;
    let r = loop {
        let r = http
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        if matches!(r.status().as_u16(), 502 | 503) && attempt < 20 {
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        break r;
    };
    let status = r.status();
    let sid = session_id(&r);
    let text = r.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
    (serde_json::from_str(&text).unwrap(), sid)
}

/// A new user's whole study flow: register, the starter deck "Verbal Tenses" is current, five
/// Good answers move five cards from New to Learning, the export passes the official Anki
/// importer with the five answers in its revlog, an explicit flush ends the session and the
/// next request opens a new one with everything still there.
///
/// On a deployed API the route groups are different functions (containers), so the session
/// moves between them along the way; the flush therefore names the session id of the latest
/// response, as a client would.
pub async fn new_user_study_flow(base: &str, user: &str) {
    let http = Client::new();
    let t = register_login(&http, base, user).await;

    let (decks, _) = get(&http, base, &t, "/api/decks").await;
    let vt = decks["decks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Verbal Tenses")
        .unwrap()
        .clone();
    assert_eq!(vt["current"], true, "the starter deck is current: {decks}");
    let vt_id = vt["id"].as_i64().unwrap();
    let (before, _) = get(&http, base, &t, &format!("/api/decks/{vt_id}/stats")).await;
    let new_before = before["counts"]["New"].as_i64().unwrap();

    for _ in 0..5 {
        let (card, _) = get(&http, base, &t, "/api/review").await;
        assert_eq!(
            card["deckId"], vt_id,
            "Verbal Tenses is the current deck: {card}"
        );
        let r = http
            .post(format!("{base}/api/review"))
            .bearer_auth(&t)
            .json(&json!({"cardId": card["cardId"], "ease": 3, "timeTaken": 3000}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    }
    let (stats, _) = get(&http, base, &t, &format!("/api/decks/{vt_id}/stats")).await;
    assert_eq!(stats["counts"]["New"], new_before - 5, "{stats}");
    assert_eq!(stats["counts"]["Learning"], 5, "{stats}");

    let r = http
        .get(format!("{base}/api/export"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let sid = session_id(&r);
    assert!(!sid.is_empty(), "the export names its session");
    let apkg = r.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{user}.apkg"));
    std::fs::write(&path, &apkg).unwrap();
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

    let r = http
        .post(format!("{base}/api/session/flush"))
        .bearer_auth(&t)
        .json(&json!({"session_id": sid}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let (after, new_sid) = get(&http, base, &t, &format!("/api/decks/{vt_id}/stats")).await;
    assert_ne!(new_sid, sid, "a flush ends the session");
    assert_eq!(
        after["counts"], stats["counts"],
        "everything is still there after the flush"
    );
}
