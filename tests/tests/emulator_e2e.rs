//! The whole stack on the local AWS emulator (ministack): the real CDK template, the five real
//! Lambda bootstraps, API Gateway, DynamoDB, S3 and SNS. `make test-emulator` (part of
//! `make test`) starts the emulator, deploys the stack and runs this file with
//! `JAVUMBO_E2E_URL` set to the API's base URL; without it every test says it needs the
//! emulator and returns.
//!
//! * the new user's study flow, export refereed by the official Anki importer;
//! * the CRUD lifecycle of a deck and its cards;
//! * cross-container sessions and the SNS flush: the review and crud route groups are different
//!   functions (different containers). An active session is shared: each container serves it
//!   from a copy caught up from the journal, same session id, no flush. Every `compactAfter`
//!   writes (the emulator deployment sets 4) the committing container publishes a flush request
//!   on SNS; the real `flush-handler` folds the journal into S3 and marks the session flushed,
//!   and the next request, on whichever container, waits for that and takes over a new session.
//!   The test reads the flush-handler's outcomes back from the emulator's CloudWatch Logs.
//! * official Anki clients syncing through API Gateway and the `sync` function: full upload,
//!   full download, then normal syncs carrying a web review and a device review.
//!
//! Requests are sequential (the make stage runs `--test-threads=1`), so the write counts that
//! trigger each flush are exact. Every API response is held to `docs/openapi.yaml` by
//! [`ApiClient`] (API Gateway's own answers included); the CloudWatch Logs calls are the
//! emulator's AWS API, not ours, and use a plain client.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use javumbo_tests::devices::Devices;
use javumbo_tests::http::{ApiClient, new_user_study_flow, register_login};
use javumbo_tests::spawn::{E2E_URL_ENV, remote_base, unique_username};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

/// The emulator's AWS endpoint; derived from the API URL when unset.
const AWS_ENDPOINT_ENV: &str = "JAVUMBO_E2E_AWS_ENDPOINT";
/// The password `register_login` gives every user.
const PASSWORD: &str = "password123";

/// The emulator's own endpoint (no trailing `/`): `JAVUMBO_E2E_AWS_ENDPOINT`, else the part of
/// the API's URL before ministack's `/_aws/execute-api/`.
fn emulator_endpoint(api_base: &str) -> Option<String> {
    let endpoint = std::env::var(AWS_ENDPOINT_ENV)
        .ok()
        .filter(|e| !e.is_empty())
        .or_else(|| Some(api_base.split_once("/_aws/execute-api/")?.0.to_owned()))?;
    Some(endpoint.trim_end_matches('/').to_owned())
}

/// The API base URL, or `None` after saying why the test does nothing.
fn emulator_api() -> Option<String> {
    let base = remote_base();
    if base.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "emulator_e2e needs the emulator: run `make test-emulator` \
             (or set {E2E_URL_ENV} to a deployed API's base URL)"
        );
    }
    base
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A freshly registered user (unique name) and its authenticated JSON calls.
struct User {
    api: ApiClient,
    token: String,
    name: String,
}

impl User {
    async fn new(base: &str, stem: &str) -> Self {
        let api = ApiClient::behind_gateway(base).with_timeout(Duration::from_secs(60));
        let name = unique_username(stem);
        let token = register_login(&api, &name).await;
        Self { api, token, name }
    }

    /// `(status, body, X-Session-ID)`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value, String) {
        let mut rb = self.api.request(method, path).bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        (r.status(), r.json(), r.session_id())
    }

    /// A call that must answer `expected`; returns the body and the session id.
    async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        expected: StatusCode,
    ) -> (Value, String) {
        let what = format!("{method} {path}");
        let (s, v, sid) = self.call(method, path, body).await;
        assert_eq!(s, expected, "{what}: {v}");
        (v, sid)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn study_flow_on_the_emulator() {
    let Some(base) = emulator_api() else { return };
    new_user_study_flow(&ApiClient::behind_gateway(&base), &unique_username("study")).await;
}

/// Fourteen calls, all on the crud function: create a deck, list, add three cards to it, list
/// its cards, edit one, read it back, delete another, rename the deck, make it current, its
/// stats, delete it with its cards, list again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_lifecycle_on_the_emulator() {
    let Some(base) = emulator_api() else { return };
    let u = User::new(&base, "crud").await;
    use Method as M;
    use StatusCode as S;

    let (deck, _) = u
        .ok(
            M::POST,
            "/api/decks",
            Some(json!({"name": "Emu deck"})),
            S::CREATED,
        )
        .await;
    assert_eq!(deck["name"], "Emu deck");
    let deck_id = deck["id"].as_i64().unwrap();
    let (decks, _) = u.ok(M::GET, "/api/decks", None, S::OK).await;
    let listed = decks["decks"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|d| d["id"] == deck_id && d["name"] == "Emu deck"),
        "{decks}"
    );

    let mut cards = Vec::new();
    for i in 0..3 {
        let (front, back) = (format!("front {i} ✓"), format!("back {i}"));
        let body = json!({"front": front, "back": back, "deckId": deck_id});
        let (c, _) = u.ok(M::POST, "/api/cards", Some(body), S::CREATED).await;
        cards.push(c["cardId"].as_i64().unwrap());
    }
    let (page, _) = u
        .ok(
            M::GET,
            &format!("/api/decks/{deck_id}/cards?page=1&perPage=10"),
            None,
            S::OK,
        )
        .await;
    assert_eq!(page["deckName"], "Emu deck");
    assert_eq!(page["pagination"]["total"], 3, "{page}");
    let mut listed: Vec<i64> = page["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cardId"].as_i64().unwrap())
        .collect();
    listed.sort_unstable();
    let mut expected = cards.clone();
    expected.sort_unstable();
    assert_eq!(listed, expected);

    let (edited, _) = u
        .ok(
            M::PUT,
            &format!("/api/cards/{}", cards[0]),
            Some(json!({"front": "edited front", "back": "edited back"})),
            S::OK,
        )
        .await;
    assert_eq!(edited["success"], true);
    let (card, _) = u
        .ok(M::GET, &format!("/api/cards/{}", cards[0]), None, S::OK)
        .await;
    assert_eq!(
        (&card["front"], &card["back"], &card["deckId"]),
        (
            &json!("edited front"),
            &json!("edited back"),
            &json!(deck_id)
        )
    );
    let (deleted, _) = u
        .ok(M::DELETE, &format!("/api/cards/{}", cards[1]), None, S::OK)
        .await;
    assert_eq!(deleted["success"], true);

    let (renamed, _) = u
        .ok(
            M::PUT,
            &format!("/api/decks/{deck_id}/rename"),
            Some(json!({"name": "Emu renamed"})),
            S::OK,
        )
        .await;
    assert_eq!(
        (&renamed["id"], &renamed["name"]),
        (&json!(deck_id), &json!("Emu renamed"))
    );
    u.ok(
        M::PUT,
        "/api/decks/current",
        Some(json!({"deckId": deck_id})),
        S::OK,
    )
    .await;
    let (stats, _) = u
        .ok(M::GET, &format!("/api/decks/{deck_id}/stats"), None, S::OK)
        .await;
    assert_eq!(
        stats["counts"]["New"], 2,
        "one of three cards was deleted: {stats}"
    );
    assert_eq!(stats["total"], 2, "{stats}");

    let (gone, _) = u
        .ok(M::DELETE, &format!("/api/decks/{deck_id}"), None, S::OK)
        .await;
    assert_eq!(
        gone["message"],
        "Deck 'Emu renamed' and 2 cards deleted successfully"
    );
    let (decks, _) = u.ok(M::GET, "/api/decks", None, S::OK).await;
    let listed = decks["decks"].as_array().unwrap();
    assert!(listed.iter().all(|d| d["id"] != deck_id), "{decks}");
    assert!(
        listed.iter().any(|d| d["name"] == "Verbal Tenses"),
        "{decks}"
    );
}

/// CloudWatch Logs of the emulator, over its JSON protocol (the emulator checks no signature).
struct Logs {
    http: Client,
    endpoint: String,
}

impl Logs {
    fn new(api_base: &str) -> Self {
        let endpoint = emulator_endpoint(api_base).unwrap_or_else(|| {
            panic!("set {AWS_ENDPOINT_ENV}: no emulator endpoint in {api_base}")
        });
        Self {
            http: Client::new(),
            endpoint,
        }
    }

    async fn call(&self, action: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", format!("Logs_20140328.{action}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        assert!(status.is_success(), "logs {action}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// The log group of the stack's function `name` (the CDK construct `<Name>Logs`).
    async fn group(&self, name: &str) -> String {
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({});
            if let Some(t) = &token {
                body["nextToken"] = json!(t);
            }
            let v = self.call("DescribeLogGroups", body).await;
            let stem = format!("/{name}Logs");
            if let Some(g) = v["logGroups"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|g| g["logGroupName"].as_str())
                .find(|g| g.contains(&stem))
            {
                return g.to_owned();
            }
            match v["nextToken"].as_str() {
                Some(t) => token = Some(t.to_owned()),
                None => panic!("no log group for function {name}"),
            }
        }
    }

    /// Messages of `group` logged at or after `since_ms`.
    async fn messages(&self, group: &str, since_ms: i64) -> Vec<String> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"logGroupName": group, "startTime": since_ms});
            if let Some(t) = &token {
                body["nextToken"] = json!(t);
            }
            let v = self.call("FilterLogEvents", body).await;
            let events = v["events"].as_array().unwrap();
            for e in events {
                if e["timestamp"].as_i64().unwrap_or(0) >= since_ms {
                    out.push(e["message"].as_str().unwrap_or_default().to_owned());
                }
            }
            if events.is_empty() {
                return out;
            }
            match v["nextToken"].as_str() {
                Some(t) if Some(t) != token.as_deref() => token = Some(t.to_owned()),
                _ => return out,
            }
        }
    }
}

/// The EMF lines (one per invocation) among `messages`.
fn emf_lines(messages: &[String]) -> Vec<Value> {
    messages
        .iter()
        .filter(|m| m.starts_with('{') && m.contains("\"_aws\""))
        .filter_map(|m| serde_json::from_str(m).ok())
        .collect()
}

fn emf_sum(lines: &[Value], metric: &str) -> u64 {
    lines.iter().filter_map(|l| l[metric].as_u64()).sum()
}

/// The flush-handler's "flush request handled" outcomes for `user`, in log order.
fn flush_outcomes(messages: &[String], user: &str) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| serde_json::from_str::<Value>(m).ok())
        .filter(|v| {
            v["fields"]["message"] == "flush request handled" && v["fields"]["username"] == user
        })
        .map(|v| {
            v["fields"]["outcome"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// Writes per round below; with the emulator's `compactAfter` of 4 each round's last write
/// asks for a flush over SNS.
const WRITES_PER_ROUND: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_container_session_and_sns_flush() {
    let Some(base) = emulator_api() else { return };
    let compact_after: usize = std::env::var("JAVUMBO_COMPACT_AFTER")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    assert_eq!(
        compact_after, WRITES_PER_ROUND,
        "this test assumes the emulator deployment's compactAfter=4 (tests/emulator/deploy.sh)"
    );
    let logs = Logs::new(&base);
    let flush_group = logs.group("FlushHandler").await;
    let api_groups = [logs.group("Review").await, logs.group("Crud").await];
    // Log timestamps are the emulator's clock, which is this machine's: a second of slack.
    let since = now_ms() - 1000;

    let u = User::new(&base, "shared").await;
    use Method as M;
    use StatusCode as S;
    let rounds = 3;
    let mut api_calls = 0usize; // invocations of review + crud, each logs one EMF line

    // crud: the session starts (a free claim).
    let (_, mut crud_sid) = u.ok(M::GET, "/api/decks", None, S::OK).await;
    api_calls += 1;
    let mut decks = Vec::new();
    for i in 0..rounds {
        // crud writes 1-3: a deck, made current, with one card.
        let (d, sid) = u
            .ok(
                M::POST,
                "/api/decks",
                Some(json!({"name": format!("Shared {i}")})),
                S::CREATED,
            )
            .await;
        if i == 0 {
            assert_eq!(sid, crud_sid, "round 0: the session crud claimed");
        } else {
            // The previous round's last write asked for a flush: this request waited for the
            // flush-handler and took over a new session.
            assert_ne!(
                sid, crud_sid,
                "round {i}: a new session after the SNS flush"
            );
        }
        let deck = d["id"].as_i64().unwrap();
        u.ok(
            M::PUT,
            "/api/decks/current",
            Some(json!({"deckId": deck})),
            S::OK,
        )
        .await;
        let (c, sid2) = u
            .ok(
                M::POST,
                "/api/cards",
                Some(json!({"front": format!("shared {i}"), "back": "sns", "deckId": deck})),
                S::CREATED,
            )
            .await;
        assert_eq!(sid2, sid, "round {i}: same session within crud");
        let card = c["cardId"].as_i64().unwrap();
        api_calls += 3;

        // review, another container: the same session, caught up to crud's writes.
        let (next, review_sid) = u.ok(M::GET, "/api/review", None, S::OK).await;
        assert_eq!(
            review_sid, sid,
            "round {i}: review shares crud's active session (no flush, no takeover)"
        );
        assert_eq!(
            (&next["deckId"], &next["cardId"]),
            (&json!(deck), &json!(card)),
            "round {i}: review sees crud's writes: {next}"
        );
        // That first card of a new queue was write 4: Anki's study session starts (kept in the
        // collection, `collection/src/queue/session.rs`), which crosses compactAfter and
        // publishes the flush request.
        api_calls += 1;
        crud_sid = sid;
        decks.push((deck, card));
    }
    // The cards are answered after the rounds (an answer continues the session: no extra
    // write to count), each on whichever container gets it.
    for (deck, card) in &decks {
        let (answer, _) = u
            .ok(
                M::POST,
                "/api/review",
                Some(json!({"cardId": card, "ease": 3, "timeTaken": 2000})),
                S::OK,
            )
            .await;
        assert_eq!(answer["queue"], 1, "deck {deck}: {answer}");
        api_calls += 1;
    }
    // Everything written on either side, across three flushes, is still there (crud again).
    for (i, (deck, card)) in decks.iter().enumerate() {
        let (seen, _) = u
            .ok(M::GET, &format!("/api/cards/{card}"), None, S::OK)
            .await;
        assert_eq!(
            seen["queue"], 1,
            "round {i}: the answer is visible to crud: {seen}"
        );
        let (stats, _) = u
            .ok(M::GET, &format!("/api/decks/{deck}/stats"), None, S::OK)
            .await;
        assert_eq!(
            (&stats["counts"]["Learning"], &stats["total"]),
            (&json!(1), &json!(1)),
            "deck {i}: {stats}"
        );
        api_calls += 2;
    }

    // The proof that each flush request travelled through SNS: the flush-handler function
    // (subscribed to the topic, nothing else invokes it) logged a flush of this user per
    // round, and nobody took a session over on timeout. The emulator ships a function's output
    // to CloudWatch Logs around the end of the invocation: poll until every invocation is
    // there (not a timing assertion: the deadline only bounds a broken run).
    let deadline = Instant::now() + Duration::from_secs(60);
    let (outcomes, emf) = loop {
        let flush_msgs = logs.messages(&flush_group, since).await;
        let outcomes = flush_outcomes(&flush_msgs, &u.name);
        let mut emf = Vec::new();
        for g in &api_groups {
            emf.extend(emf_lines(&logs.messages(g, since).await));
        }
        let flushed = outcomes.iter().filter(|o| o.starts_with("Flushed")).count();
        if (flushed >= rounds && emf.len() >= api_calls) || Instant::now() > deadline {
            break (outcomes, emf);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let flushed = outcomes.iter().filter(|o| o.starts_with("Flushed")).count();
    let _ = writeln!(
        std::io::stderr(),
        "shared session: {rounds} rounds, flush-handler outcomes for {}: {outcomes:?}; \
         review+crud EMF: CatchUp={} Compaction={} BusPublish={} Takeover={} TakeoverTimeout={}",
        u.name,
        emf_sum(&emf, "CatchUp"),
        emf_sum(&emf, "Compaction"),
        emf_sum(&emf, "BusPublish"),
        emf_sum(&emf, "Takeover"),
        emf_sum(&emf, "TakeoverTimeout"),
    );
    assert!(
        flushed >= rounds,
        "the flush-handler flushed {} only {flushed} times for {rounds} compactions: {outcomes:?}",
        u.name
    );
    assert!(
        emf.len() >= api_calls,
        "{} EMF lines from review+crud for {api_calls} invocations",
        emf.len()
    );
    assert!(
        emf_sum(&emf, "Compaction") >= rounds as u64,
        "one compaction per round expected"
    );
    assert!(
        emf_sum(&emf, "BusPublish") >= rounds as u64,
        "one SNS publish per compaction expected"
    );
    assert!(
        emf_sum(&emf, "CatchUp") >= 1,
        "the other container caught up from the journal at least once"
    );
    assert_eq!(
        emf_sum(&emf, "TakeoverTimeout"),
        0,
        "a flush request was not answered"
    );
    assert_eq!(emf_sum(&emf, "Errors5xx"), 0);
}

/// Official Anki 26.9.3 clients sync through API Gateway and the `sync` function: a full
/// upload from one device, a full download on a second, then a review in the web app and one
/// on a device reach the others by normal syncs. Each step of a sync may reach another
/// container; the sync's state and the device's changes live in the journaled collection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_clients_sync_on_the_emulator() {
    let Some(base) = emulator_api() else { return };
    let u = User::new(&base, "sync").await;
    let endpoint = format!("{base}/");
    let user = u.name.clone();
    let blocking = |f: Box<dyn FnOnce(&mut Devices) + Send>, mut dev: Devices| {
        tokio::task::spawn_blocking(move || {
            f(&mut dev);
            dev
        })
    };
    let dev = blocking(
        Box::new(move |dev: &mut Devices| {
            for d in ["A", "B"] {
                dev.ok(json!({"op": "create", "device": d, "populated": d == "A"}));
                dev.ok(
                    json!({"op": "login", "device": d, "user": user, "password": PASSWORD,
                    "endpoint": endpoint}),
                );
            }
            let out = dev.sync("A", Some("upload"));
            assert_eq!(out["did"], "upload", "{out}");
            let out = dev.sync("B", Some("auto"));
            assert_eq!(out["did"], "download", "{out}");
            assert_eq!(dev.dump("A"), dev.dump("B"));
        }),
        Devices::start(),
    )
    .await
    .unwrap();

    // A review in the web app.
    use Method as M;
    let (decks, _) = u.ok(M::GET, "/api/decks", None, StatusCode::OK).await;
    let verbs = decks["decks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Spanish::Verbs")
        .unwrap_or_else(|| panic!("A's deck: {decks}"))["id"]
        .clone();
    u.ok(
        M::PUT,
        "/api/decks/current",
        Some(json!({"deckId": verbs})),
        StatusCode::OK,
    )
    .await;
    let (card, _) = u.ok(M::GET, "/api/review", None, StatusCode::OK).await;
    let card_id = card["cardId"].clone();
    u.ok(
        M::POST,
        "/api/review",
        Some(json!({"cardId": card_id, "ease": 3, "timeTaken": 3000})),
        StatusCode::OK,
    )
    .await;

    let dev = blocking(
        Box::new(move |dev: &mut Devices| {
            let before = dev.dump("A")["revlog"].as_array().unwrap().len();
            let out = dev.sync("A", None);
            assert!(out.get("error").is_none(), "{out}");
            let a = dev.dump("A");
            assert_eq!(
                a["revlog"].as_array().unwrap().len(),
                before + 1,
                "web review on A"
            );
            assert!(
                a["revlog"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r[1] == card_id)
            );
            dev.ok(json!({"op": "review", "device": "A"}));
            for d in ["A", "B"] {
                let out = dev.sync(d, None);
                assert!(out.get("error").is_none(), "{d}: {out}");
                assert_eq!(out["required"], "NO_CHANGES", "{d}: {out}");
            }
            assert_eq!(dev.dump("A"), dev.dump("B"), "A's review reached B");
            let out = dev.sync("A", None);
            assert_eq!(out["required"], "NO_CHANGES", "in step: {out}");
        }),
        dev,
    )
    .await
    .unwrap();
    drop(dev);
}

/// The stack's streaming sync address (output `SyncUrl`), as the emulator serves it.
const SYNC_URL_ENV: &str = "JAVUMBO_E2E_SYNC_URL";

/// The `syncStream` function's URL on the emulator: ministack serves
/// `https://<id>.lambda-url.<region>.on.aws/` path-based, at `<endpoint>/_aws/lambda-url/<id>`.
fn emulator_sync_url(api_base: &str) -> Option<String> {
    let url = std::env::var(SYNC_URL_ENV).ok().filter(|u| !u.is_empty())?;
    let id = url.strip_prefix("https://")?.split('.').next()?.to_owned();
    Some(format!(
        "{}/_aws/lambda-url/{id}",
        emulator_endpoint(api_base)?
    ))
}

/// The second deployment of the sync code answers through its function URL in streaming mode
/// (the deployment, the URL and the streaming runtime loop are what is checked here): the
/// health check, and a device login refused with Anki's 403 and its message. A streamed
/// *binary* answer cannot be checked on ministack (its runtime API parses the streamed body as
/// UTF-8 and fails); `tests/load/tests/lambda_streaming.rs` checks those byte for byte against
/// a local Runtime API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_streaming_sync_address_answers_on_the_emulator() {
    let Some(base) = emulator_api() else { return };
    let Some(sync) = emulator_sync_url(&base) else {
        let _ = writeln!(
            std::io::stderr(),
            "set {SYNC_URL_ENV} to the stack's SyncUrl output to check the function URL"
        );
        return;
    };
    let http = Client::new();
    let health = http.get(format!("{sync}/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(health.text().await.unwrap(), "ok");

    let body = zstd::encode_all(&br#"{"u":"nobody-here","p":"wrong"}"#[..], 0).unwrap();
    let refused = http
        .post(format!("{sync}/sync/hostKey"))
        .header(
            "anki-sync",
            r#"{"v":11,"k":"","c":"26.09.3,e2e,linux","s":"e2e"}"#,
        )
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.unwrap().contains("invalid user/pass"));
}
