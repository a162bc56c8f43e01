//! A new user's whole study flow over HTTP, then the same user hammered through several
//! containers (threads, then processes with one SIGKILLed mid-flow): nothing acknowledged is lost.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use javumbo_tests::spawn::{spawn_app, spawn_local_process};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

async fn register_login(http: &Client, base: &str, user: &str) -> String {
    let r = http
        .post(format!("{base}/api/register"))
        .json(&json!({"username": user, "name": "Flow", "password": "password123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let v: Value = http
        .post(format!("{base}/api/login"))
        .json(&json!({"username": user, "password": "password123"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// GET that expects 200. A read is idempotent, so a 502 (the container serving it died
/// mid-request, which the SIGKILL test provokes on purpose) or a 503 (takeover retries ran
/// out) is retried, as any client would; anything else fails the test at once.
async fn get(http: &Client, base: &str, token: &str, path: &str) -> (Value, String) {
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
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    let sid = r
        .headers()
        .get("x-session-id")
        .map(|h| h.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.json().await.unwrap(), sid)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_user_study_flow_survives_flush() {
    let app = spawn_app().await;
    let (http, base) = (Client::new(), app.base.clone());
    let t = register_login(&http, &base, "learner").await;

    let (decks, sid) = get(&http, &base, &t, "/api/decks").await;
    let vt = decks["decks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Verbal Tenses")
        .unwrap()
        .clone();
    let vt_id = vt["id"].as_i64().unwrap();
    let (before, _) = get(&http, &base, &t, &format!("/api/decks/{vt_id}/stats")).await;
    let new_before = before["counts"]["New"].as_i64().unwrap();

    for _ in 0..5 {
        let (card, _) = get(&http, &base, &t, "/api/review").await;
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
        assert_eq!(r.status(), StatusCode::OK);
    }
    let (stats, _) = get(&http, &base, &t, &format!("/api/decks/{vt_id}/stats")).await;
    assert_eq!(stats["counts"]["New"], new_before - 5);
    assert_eq!(stats["counts"]["Learning"], 5);

    let r = http
        .get(format!("{base}/api/export"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let apkg = r.bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("learner.apkg");
    std::fs::write(&path, &apkg).unwrap();
    let checked: Value = serde_json::from_str(&javumbo_tests::run_oracle(
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
    assert_eq!(r.status(), StatusCode::OK);
    let (after, new_sid) = get(&http, &base, &t, &format!("/api/decks/{vt_id}/stats")).await;
    assert_ne!(new_sid, sid);
    assert_eq!(
        after["counts"], stats["counts"],
        "everything is still there after the flush"
    );
}

/// Add cards from several concurrent clients; return the ids of the acknowledged ones.
async fn add_cards_concurrently(
    base: &str,
    token: &str,
    clients: usize,
    per_client: usize,
    acks: Arc<AtomicUsize>,
) -> (BTreeSet<i64>, usize) {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (base, token, acks) = (base.to_owned(), token.to_owned(), acks.clone());
        tasks.push(tokio::spawn(async move {
            let http = Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap();
            let (mut acked, mut failed) = (Vec::new(), 0);
            for i in 0..per_client {
                let r = http
                    .post(format!("{base}/api/cards"))
                    .bearer_auth(&token)
                    .json(&json!({"front": format!("client {c} card {i}"), "back": "x"}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        let v: Value = r.json().await.unwrap();
                        acked.push(v["cardId"].as_i64().unwrap());
                        acks.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(r) => {
                        assert!(
                            matches!(r.status().as_u16(), 502 | 503),
                            "unexpected {}",
                            r.status()
                        );
                        failed += 1;
                    }
                    Err(_) => failed += 1,
                }
            }
            (acked, failed)
        }));
    }
    let mut all = BTreeSet::new();
    let mut failed = 0;
    for t in tasks {
        let (a, f) = t.await.unwrap();
        all.extend(a);
        failed += f;
    }
    (all, failed)
}

async fn current_deck_card_ids(http: &Client, base: &str, token: &str, deck: i64) -> BTreeSet<i64> {
    let mut ids = BTreeSet::new();
    for page in 1.. {
        let (v, _) = get(
            http,
            base,
            token,
            &format!("/api/decks/{deck}/cards?page={page}&perPage=100"),
        )
        .await;
        let cards = v["cards"].as_array().unwrap();
        ids.extend(cards.iter().map(|c| c["cardId"].as_i64().unwrap()));
        if page >= v["pagination"]["totalPages"].as_i64().unwrap() {
            break;
        }
    }
    ids
}

async fn starter_deck(http: &Client, base: &str, token: &str) -> i64 {
    let (decks, _) = get(http, base, token, "/api/decks").await;
    decks["decks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Verbal Tenses")
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_thread_containers_random_routing_lose_nothing() {
    let local = spawn_local_process(4, "threads");
    let http = Client::new();
    let t = register_login(&http, &local.base, "roamer").await;
    let deck = starter_deck(&http, &local.base, &t).await;
    let before = current_deck_card_ids(&http, &local.base, &t, deck).await;
    let (acked, _) =
        add_cards_concurrently(&local.base, &t, 4, 8, Arc::new(AtomicUsize::new(0))).await;
    assert!(!acked.is_empty());
    let after = current_deck_card_ids(&http, &local.base, &t, deck).await;
    assert!(
        acked.is_subset(&after),
        "lost acknowledged cards: {:?}",
        acked.difference(&after).collect::<Vec<_>>()
    );
    assert_eq!(after.len(), before.len() + acked.len());
    let m: Value = http
        .get(format!("{}/_local/metrics", local.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["containers"], 4);
    assert!(
        m["requests"].as_u64().unwrap() > 0 && m["journal_commit"].as_u64().unwrap() > 0,
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_container_process_loses_nothing_acknowledged() {
    let local = spawn_local_process(2, "processes");
    let http = Client::new();
    let t = register_login(&http, &local.base, "survivor").await;
    let deck = starter_deck(&http, &local.base, &t).await;
    let before = current_deck_card_ids(&http, &local.base, &t, deck).await;

    let base = local.base.clone();
    let acks = Arc::new(AtomicUsize::new(0));
    let seen = acks.clone();
    // Kill once writes are flowing (not after a fixed delay: on a slow machine the adds had
    // not started yet, on a fast one they were already over), so the kill lands mid-traffic.
    let killer = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while seen.load(Ordering::SeqCst) < 5 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let v: Value = Client::new()
            .get(format!("{base}/_local/containers"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let pid = v["containers"][0]["pid"].as_u64().expect("live container");
        let ok = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -9 {pid}");
    });
    let (acked, _failed) = add_cards_concurrently(&local.base, &t, 3, 10, acks).await;
    killer.await.unwrap();
    let after = current_deck_card_ids(&http, &local.base, &t, deck).await;
    assert!(
        acked.is_subset(&after),
        "lost acknowledged cards: {:?}",
        acked.difference(&after).collect::<Vec<_>>()
    );
    // Unacknowledged adds may or may not have landed; nothing else may appear.
    assert!(after.len() >= before.len() + acked.len());
    let m: Value = http
        .get(format!("{}/_local/metrics", local.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(m["container_restarts"].as_u64().unwrap() >= 1, "{m}");
}
