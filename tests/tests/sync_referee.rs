//! Anki's sync protocol, refereed by the official `anki` 26.9.3 package as the client: several
//! "devices" (collection files) in one Python process (`tests/oracle/sync_driver.py`) sync with
//! `javumbo-local --containers 4 --isolate processes` through a counting proxy, while the web
//! API works on the same collection.
//!
//! What the client does in each scenario is asserted exactly (its outcome, or its error kind),
//! and the proxy's log asserts which protocol calls it took.

use std::net::SocketAddr;
use std::sync::Arc;

use javumbo_api::axum::Router;
use javumbo_api::axum::body::{Body, Bytes};
use javumbo_api::axum::extract::{Request, State};
use javumbo_api::axum::http::StatusCode;
use javumbo_api::axum::response::{IntoResponse, Response};
use javumbo_tests::devices::Devices;
use javumbo_tests::http::{ApiClient, post_ok, register_login};
use javumbo_tests::spawn::{kill9, spawn_local_process};
use parking_lot::Mutex;
use serde_json::{Value, json};

const PASSWORD: &str = "password123";

/// A proxy in front of javumbo-local that logs every sync call: `"<path> <status>"`.
#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    log: Arc<Mutex<Vec<String>>>,
    /// When set, every container process is SIGKILLed right after this call is answered.
    kill_after: Arc<Mutex<Option<String>>>,
}

impl Proxy {
    async fn start(upstream: &str) -> (String, Self) {
        let proxy = Self {
            upstream: upstream.to_owned(),
            http: reqwest::Client::new(),
            log: Arc::default(),
            kill_after: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let app = Router::new().fallback(forward).with_state(proxy.clone());
        tokio::spawn(async move {
            let _ = javumbo_api::axum::serve(listener, app).await;
        });
        (format!("http://{addr}/"), proxy)
    }

    /// SIGKILL every container process of javumbo-local and wait until the gateway has
    /// started new ones: whatever they held in memory is gone.
    async fn kill_containers(&self) {
        let list = |http: reqwest::Client, url: String| async move {
            let v: Value = http.get(url).send().await.unwrap().json().await.unwrap();
            v["containers"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c["pid"].as_u64())
                .collect::<Vec<_>>()
        };
        let url = format!("{}/_local/containers", self.upstream);
        let killed = list(self.http.clone(), url.clone()).await;
        assert!(!killed.is_empty());
        for &pid in &killed {
            kill9(pid);
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let now = list(self.http.clone(), url.clone()).await;
            if now.len() == killed.len() && now.iter().all(|p| !killed.contains(p)) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "containers not restarted"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The calls since the last `take`.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock())
    }
}

async fn forward(State(p): State<Proxy>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body: Bytes = javumbo_api::axum::body::to_bytes(body, 512 << 20)
        .await
        .expect("body");
    let path = parts.uri.path().to_owned();
    let mut rb = p
        .http
        .request(parts.method.clone(), format!("{}{path}", p.upstream));
    for (k, v) in &parts.headers {
        if k != "host" && k != "content-length" && k != "transfer-encoding" {
            rb = rb.header(k, v);
        }
    }
    let resp = rb.body(body).send().await.expect("upstream");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("upstream body");
    p.log.lock().push(format!("{path} {}", status.as_u16()));
    let kill = {
        let mut k = p.kill_after.lock();
        if k.as_deref() == Some(path.as_str()) {
            k.take()
        } else {
            None
        }
    };
    if kill.is_some() {
        p.kill_containers().await;
    }
    let mut out = (status, Body::from(bytes)).into_response();
    for (k, v) in &headers {
        if k != "content-length" && k != "transfer-encoding" {
            out.headers_mut().insert(k, v.clone());
        }
    }
    out
}

/// A sync that must be a normal one: it completes without error and with every call a 200,
/// and the device is then in step (its next sync is one `meta`, NO_CHANGES: the sanity check
/// passed and no full sync was forced). Returns the device's collection.
fn normal_sync(dev: &mut Devices, proxy: &Proxy, device: &str) -> Value {
    proxy.take();
    let out = dev.sync(device, None);
    assert!(out.get("error").is_none(), "{device}: {out}");
    // The client reports a completed normal sync as NO_CHANGES (nothing more required); the
    // calls show it was one.
    assert_eq!(out["required"], "NO_CHANGES", "{device}: {out}");
    let log = proxy.take();
    assert!(log.iter().all(|l| l.ends_with(" 200")), "{device}: {log:?}");
    assert!(
        log.iter().any(|l| l == "/sync/finish 200"),
        "{device}: {log:?}"
    );
    let out = dev.sync(device, None);
    assert_eq!(out["required"], "NO_CHANGES", "{device} in step: {out}");
    assert_eq!(calls(&proxy.take()), ["/sync/meta 200"]);
    dev.dump(device)
}

fn calls(log: &[String]) -> Vec<&str> {
    log.iter().map(|l| l.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn official_clients_sync_with_javumbo() {
    let local = spawn_local_process(4, "processes");
    let api = ApiClient::behind_gateway(&local.base);
    let token = register_login(&api, "ana").await;
    let (endpoint, proxy) = Proxy::start(&local.base).await;
    let mut dev = Devices::start();
    let login = |device: &str, password: &str| {
        json!({"op": "login", "device": device, "user": "ana", "password": password,
               "endpoint": endpoint})
    };

    // Wrong password: the client's AuthFailed.
    dev.ok(json!({"op": "create", "device": "A", "populated": true}));
    let out = dev.run(login("A", "wrong password"));
    assert_eq!(out["kind"], "SyncErrorKind.AUTH", "{out}");
    dev.ok(login("A", PASSWORD));

    // A (notes, reviews, decks, a preset) against the new account, which holds javumbo's
    // starter deck: both sides have cards, so the client asks the user; A uploads.
    let out = dev.sync("A", Some("upload"));
    assert_eq!(out["required"], "FULL_SYNC", "{out}");
    assert_eq!(out["did"], "upload", "{out}");
    proxy.take();

    // A again, nothing changed: exactly one `meta` call, NO_CHANGES.
    let out = dev.sync("A", None);
    assert_eq!(out["required"], "NO_CHANGES", "{out}");
    assert_eq!(calls(&proxy.take()), ["/sync/meta 200"]);

    // B (empty) downloads; A and B are the same collection.
    dev.ok(json!({"op": "create", "device": "B"}));
    dev.ok(login("B", PASSWORD));
    let out = dev.sync("B", Some("auto"));
    assert_eq!(out["required"], "FULL_DOWNLOAD", "{out}");
    assert_eq!(out["did"], "download", "{out}");
    let a = dev.dump("A");
    assert_eq!(dev.dump("B"), a, "A and B after upload + download");
    assert!(!a["revlog"].as_array().unwrap().is_empty());

    // B's first sync after its download: the client changed only its own config, which a
    // normal sync carries and javumbo applies. Then B is in step: one `meta`.
    proxy.take();
    let out = dev.sync("B", None);
    assert!(out.get("error").is_none(), "{out}");
    let log = proxy.take();
    assert!(
        log.iter().all(|l| l.ends_with(" 200")),
        "a config-only normal sync completes: {log:?}"
    );
    let out = dev.sync("B", None);
    assert_eq!(out["required"], "NO_CHANGES", "{out}");
    assert_eq!(calls(&proxy.take()), ["/sync/meta 200"]);

    // The web API sees A's cards.
    let (decks, _) = javumbo_tests::http::get(&api, &token, "/api/decks").await;
    let verbs = decks["decks"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["name"] == "Spanish::Verbs"))
        .unwrap_or_else(|| panic!("A's deck is served: {decks}"))
        .clone();
    let id = verbs["id"].as_i64().expect("deck id");
    let (cards, _) =
        javumbo_tests::http::get(&api, &token, &format!("/api/decks/{id}/cards?perPage=100")).await;
    assert_eq!(
        cards["pagination"]["total"].as_u64(),
        Some(a["cards"].as_array().unwrap().len() as u64),
        "{cards}"
    );

    // A review in the web app reaches A and B by normal syncs: the card row and the revlog
    // row the devices get are the server's. Then each device is in step: one `meta`.
    let r = api
        .put("/api/decks/current")
        .bearer_auth(&token)
        .json(&json!({"deckId": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    let (card, _) = javumbo_tests::http::get(&api, &token, "/api/review").await;
    let card_id = card["cardId"].as_i64().unwrap_or_else(|| panic!("{card}"));
    let r = api
        .post("/api/review")
        .bearer_auth(&token)
        .json(&json!({"cardId": card_id, "ease": 3, "timeTaken": 4000}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    let revlog_before = a["revlog"].as_array().unwrap().len();
    let a = normal_sync(&mut dev, &proxy, "A");
    assert_eq!(
        a["revlog"].as_array().unwrap().len(),
        revlog_before + 1,
        "the web review reached A"
    );
    assert!(
        a["revlog"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r[1] == card_id),
        "the web review's revlog row is A's"
    );
    let b = normal_sync(&mut dev, &proxy, "B");
    assert_eq!(b, a, "B has the web review too");

    // A's day on the device: a review, a new note in a new deck, an edit, a tag, a deletion
    // and a preset change, all by one normal sync; B gets them by another; the web API sees
    // them.
    dev.ok(json!({"op": "review", "device": "A"}));
    dev.ok(json!({"op": "add_deck", "device": "A", "name": "Spanish::Phrases"}));
    let added = dev.ok(
        json!({"op": "add_note", "device": "A", "deck": "Spanish::Phrases",
        "front": "¿qué tal?", "back": "how are you?", "tags": ["phrases"]}),
    )["note"]
        .as_i64()
        .unwrap();
    let notes: Vec<i64> = a["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n[0].as_i64().unwrap())
        .collect();
    let (edited, doomed) = (notes[0], notes[1]);
    dev.ok(json!({"op": "edit_note", "device": "A", "note": edited, "front": "hablar (edited)"}));
    dev.ok(json!({"op": "tag_note", "device": "A", "note": edited, "tag": "irregular"}));
    dev.ok(json!({"op": "delete_note", "device": "A", "note": doomed}));
    dev.ok(json!({"op": "set_new_per_day", "device": "A", "preset": "Sync preset", "value": 44}));
    let a = normal_sync(&mut dev, &proxy, "A");
    let b = normal_sync(&mut dev, &proxy, "B");
    assert_eq!(b, a, "A's changes reached B");
    assert!(a["notes"].as_array().unwrap().iter().any(|n| n[0] == added));
    assert!(
        !a["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n[0] == doomed)
    );
    assert!(a["tags"].as_array().unwrap().contains(&json!("irregular")));
    let (note, _) = javumbo_tests::http::get(&api, &token, &format!("/api/notes/{added}")).await;
    assert_eq!(note["fields"][0]["value"], "¿qué tal?", "{note}");
    let (note, _) = javumbo_tests::http::get(&api, &token, &format!("/api/notes/{edited}")).await;
    assert_eq!(note["fields"][0]["value"], "hablar (edited)", "{note}");
    assert!(
        note["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("irregular"))
    );
    let r = api
        .get(&format!("/api/notes/{doomed}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::NOT_FOUND,
        "A's deletion reached the web"
    );
    let (decks, _) = javumbo_tests::http::get(&api, &token, "/api/decks").await;
    assert!(decks.to_string().contains("Spanish::Phrases"), "{decks}");

    // Edits on both sides: the later one wins, as on Anki's server. A edits a note, then the
    // web edits it a second later (note `mod` is in seconds): after both devices sync, all
    // three hold the web's text. And a note the web deletes goes from both devices.
    dev.ok(json!({"op": "edit_note", "device": "A", "note": edited, "front": "from A"}));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = api
        .put(&format!("/api/notes/{edited}"))
        .bearer_auth(&token)
        .json(&json!({"fields": ["from the web", "to speak 0"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    let r = api
        .delete(&format!("/api/notes/{added}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    let a = normal_sync(&mut dev, &proxy, "A");
    let b = normal_sync(&mut dev, &proxy, "B");
    assert_eq!(b, a);
    let text = a["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n[0] == edited)
        .map(|n| n[5].as_str().unwrap().to_owned())
        .unwrap();
    assert!(text.starts_with("from the web"), "{text}");
    assert!(!a["notes"].as_array().unwrap().iter().any(|n| n[0] == added));
    let (note, _) = javumbo_tests::http::get(&api, &token, &format!("/api/notes/{edited}")).await;
    assert_eq!(note["fields"][0]["value"], "from the web", "{note}");

    // Every container SIGKILLed between the device's chunks and `finish`: the sync's state
    // and the staged chunks were journaled, so the next call, on a new container, goes on;
    // nothing is lost or applied twice.
    dev.ok(json!({"op": "review", "device": "B"}));
    let late = dev.ok(
        json!({"op": "add_note", "device": "B", "deck": "Spanish::Nouns",
        "front": "la casa", "back": "the house"}),
    )["note"]
        .as_i64()
        .unwrap();
    *proxy.kill_after.lock() = Some("/sync/applyChunk".into());
    let b = normal_sync(&mut dev, &proxy, "B");
    assert!(proxy.kill_after.lock().is_none(), "the kill happened");
    let a = normal_sync(&mut dev, &proxy, "A");
    assert_eq!(a, b, "B's changes made across the kill reached A");
    assert_eq!(
        a["notes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n[0] == late)
            .count(),
        1
    );
    let metrics: Value = reqwest::get(format!("{}/_local/metrics", local.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        metrics["container_restarts"].as_u64().unwrap() >= 1,
        "{metrics}"
    );

    // A schema change on a device (a field added) needs a full sync, as with Anki's server:
    // A uploads, B downloads, nothing lost.
    dev.ok(json!({"op": "add_field", "device": "A", "notetype": "Basic", "field": "Notes"}));
    let out = dev.sync("A", Some("upload"));
    assert_eq!(
        (out["required"].clone(), out["did"].clone()),
        (json!("FULL_SYNC"), json!("upload")),
        "{out}"
    );
    let a = dev.dump("A");
    let out = dev.sync("B", Some("download"));
    assert_eq!(out["did"], "download", "{out}");
    assert_eq!(dev.dump("B"), a, "A's schema change reached B");
    proxy.take();

    // Media sync: files added on A reach the web app and B; a file uploaded through the web
    // app reaches both devices; a deletion on B reaches A and the web app.
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let sun: Vec<u8> = b"\x89PNG\r\n\x1a\nsun"
        .iter()
        .copied()
        .cycle()
        .take(300_000)
        .collect();
    let voice = b"ID3 voice of the verb".to_vec();
    let out =
        dev.ok(json!({"op": "add_media", "device": "A", "name": "sol.png", "hex": hex(&sun)}));
    assert_eq!(out["name"], "sol.png");
    dev.ok(json!({"op": "add_media", "device": "A", "name": "voz ñ.mp3", "hex": hex(&voice)}));
    dev.ok(json!({"op": "media_sync", "device": "A"}));
    let log = proxy.take();
    assert!(
        log.iter().any(|l| l == "/msync/uploadChanges 200")
            && log.iter().all(|l| l.ends_with(" 200")),
        "{log:?}"
    );
    let served = api
        .get("/api/media/sol.png")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.bytes(), &sun[..], "A's file through the web API");
    dev.ok(json!({"op": "media_sync", "device": "B"}));
    let a_media = dev.ok(json!({"op": "media", "device": "A"}));
    assert_eq!(a_media.as_object().map(|m| m.len()), Some(2), "{a_media}");
    assert_eq!(dev.ok(json!({"op": "media", "device": "B"})), a_media);

    let web = b"\xff\xd8\xff web picture".to_vec();
    let r = api
        .post("/api/media?name=web.jpg")
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        .body(web.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text());
    dev.ok(json!({"op": "media_sync", "device": "A"}));
    dev.ok(json!({"op": "media_sync", "device": "B"}));
    let sha1 = |b: &[u8]| {
        use sha1::Digest;
        hex(&sha1::Sha1::digest(b))
    };
    for d in ["A", "B"] {
        let m = dev.ok(json!({"op": "media", "device": d}));
        assert_eq!(m["web.jpg"], json!(sha1(&web)), "{d}: {m}");
        assert_eq!(m["sol.png"], json!(sha1(&sun)), "{d}: {m}");
    }

    dev.ok(json!({"op": "remove_media", "device": "B", "name": "sol.png"}));
    dev.ok(json!({"op": "media_sync", "device": "B"}));
    dev.ok(json!({"op": "media_sync", "device": "A"}));
    let a_media = dev.ok(json!({"op": "media", "device": "A"}));
    assert!(
        a_media.get("sol.png").is_none(),
        "B's deletion reached A: {a_media}"
    );
    assert_eq!(dev.ok(json!({"op": "media", "device": "B"})), a_media);
    let gone = api
        .get("/api/media/sol.png")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    // In step: a media sync now only asks (begin, no changes, no upload).
    proxy.take();
    dev.ok(json!({"op": "media_sync", "device": "A"}));
    let log = proxy.take();
    assert!(
        !log.iter()
            .any(|l| l.contains("uploadChanges") || l.contains("downloadFiles")),
        "{log:?}"
    );

    // Device keys through the API: listed without secrets; revoked → AuthFailed.
    let r = api
        .get("/api/sync/keys")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let keys = r.json()["keys"].as_array().cloned().unwrap_or_default();
    assert_eq!(keys.len(), 2, "one per device that logged in: {keys:?}");
    assert!(!r.text().contains("hash"));
    for k in &keys {
        let id = k["id"].as_str().unwrap();
        let r = api
            .delete(&format!("/api/sync/keys/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    }
    let out = dev.sync("A", None);
    assert_eq!(out["kind"], "SyncErrorKind.AUTH", "{out}");
    assert_eq!(calls(&proxy.take()).last(), Some(&"/sync/meta 403"));

    // Protocol versions, spoken directly: the header's outside 8–11 → 400 before anything
    // else (Anki's server: "unsupported sync version"); meta's body outside → 501.
    let http = reqwest::Client::new();
    let post = |method: &str, header: Value, body: Value| {
        let body = zstd::bulk::compress(body.to_string().as_bytes(), 3).unwrap();
        http.post(format!("{endpoint}sync/{method}"))
            .header("anki-sync", header.to_string())
            .body(body)
            .send()
    };
    for v in [7, 12] {
        let r = post(
            "meta",
            json!({"v": v, "k": "", "c": "test", "s": "s"}),
            json!({"v": 11, "cv": "x"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "v={v}");
        assert_eq!(
            r.text().await.unwrap(),
            format!("unsupported sync version: {v}")
        );
    }
    let r = post(
        "hostKey",
        json!({"v": 11, "k": "", "c": "test", "s": "s"}),
        json!({"u": "ana", "p": PASSWORD}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("anki-original-size"));
    let key: Value =
        serde_json::from_slice(&zstd::decode_all(&r.bytes().await.unwrap()[..]).unwrap()).unwrap();
    let key = key["key"].as_str().unwrap().to_owned();
    for (v, status) in [(7, 501), (12, 501), (11, 200)] {
        let r = post(
            "meta",
            json!({"v": 11, "k": key, "c": "test", "s": "s"}),
            json!({"v": v, "cv": "x"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status().as_u16(), status, "meta body v={v}");
    }
}

/// The day's limits survive a sync both ways: new cards studied on the device and then in the
/// web app count on the device after a normal sync and on a device that downloads the
/// collection — the official client's deck list equals javumbo's. Anki reads each deck's
/// `newToday`, which javumbo does not rewrite at each answer; without the counters sent with
/// the sync, the device offered the new card studied on the web again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_day_s_limits_survive_a_sync() {
    let local = spawn_local_process(1, "processes");
    let api = ApiClient::behind_gateway(&local.base);
    let token = register_login(&api, "ana").await;
    let (endpoint, proxy) = Proxy::start(&local.base).await;
    let mut dev = Devices::start();
    let login = |device: &str| {
        json!({"op": "login", "device": device, "user": "ana", "password": PASSWORD,
               "endpoint": endpoint})
    };
    // A studies 5 new cards of Spanish::Verbs (populated), whose preset now allows 6 a day.
    dev.ok(json!({"op": "create", "device": "A", "populated": true}));
    dev.ok(json!({"op": "set_new_per_day", "device": "A", "preset": "Sync preset", "value": 6}));
    dev.ok(login("A"));
    let out = dev.sync("A", Some("upload"));
    assert_eq!(out["did"], "upload", "{out}");

    let deck_counts = |decks: &Value, name: &str| -> (i64, Value) {
        let d = decks["decks"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["name"] == name))
            .unwrap_or_else(|| panic!("{name} is served: {decks}"));
        (
            d["id"].as_i64().unwrap(),
            json!([d["newCount"], d["learnCount"], d["reviewCount"]]),
        )
    };
    let (decks, _) = javumbo_tests::http::get(&api, &token, "/api/decks").await;
    let (verbs, before) = deck_counts(&decks, "Spanish::Verbs");
    assert_eq!(before[0], 1, "6 a day, 5 studied on A: {decks}");
    assert_eq!(
        dev.ok(json!({"op": "due_counts", "device": "A"}))[verbs.to_string()][0],
        1
    );

    // The last new card of the day, studied in the web app.
    let r = api
        .put("/api/decks/current")
        .bearer_auth(&token)
        .json(&json!({"deckId": verbs}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
    study_new_card_in_web(&api, &token, "the new card comes first").await;
    let ours = deck_list(&api, &token).await;
    assert_eq!(ours[&verbs.to_string()][0], 0, "{ours:?}");

    // A by a normal sync, B by a full download: each deck list is javumbo's.
    normal_sync(&mut dev, &proxy, "A");
    dev.ok(json!({"op": "create", "device": "B"}));
    dev.ok(login("B"));
    let out = dev.sync("B", Some("auto"));
    assert_eq!(out["did"], "download", "{out}");
    assert_device_lists(&mut dev, &["A", "B"], &ours);

    // Custom study on A (Anki's own request): Spanish::Verbs gets 3 more new cards today, and
    // Extra, a deck javumbo has not seen (25 new cards, 20 a day), 4 more. After a sync
    // javumbo serves them too.
    let extra = dev.ok(json!({"op": "add_deck", "device": "A", "name": "Extra"}))["deck"]
        .as_i64()
        .unwrap();
    for i in 0..25 {
        dev.ok(json!({"op": "add_note", "device": "A", "deck": "Extra",
                      "front": format!("extra {i}"), "back": "b"}));
    }
    dev.ok(json!({"op": "extend", "device": "A", "deck": verbs, "new": 3}));
    dev.ok(json!({"op": "extend", "device": "A", "deck": extra, "new": 4}));
    normal_sync(&mut dev, &proxy, "A");
    let ours = deck_list(&api, &token).await;
    assert!(
        ours[&verbs.to_string()][0].as_i64() > Some(0),
        "A's extension holds here: {ours:?}"
    );
    assert_eq!(ours[&extra.to_string()][0], 24, "20 a day + 4: {ours:?}");
    assert_device_lists(&mut dev, &["A"], &ours);

    // Custom study in javumbo (+2 more), one of them studied here: both devices, one by a
    // normal sync each, list what javumbo lists.
    let custom = format!("/api/decks/{verbs}/custom-study");
    post_ok(&api, &token, &custom, &json!({"newLimitDelta": 2})).await;
    study_new_card_in_web(&api, &token, "a new card, by the extension").await;
    let ours = deck_list(&api, &token).await;
    normal_sync(&mut dev, &proxy, "A");
    normal_sync(&mut dev, &proxy, "B");
    assert_device_lists(&mut dev, &["A", "B"], &ours);
    assert_eq!(
        deck_list(&api, &token).await,
        ours,
        "the syncs changed nothing here"
    );

    // A custom study session built here (Anki's "Custom Study Session": Spanish::Verbs' new
    // cards) syncs as Anki built it: the devices borrow the same cards and list what javumbo
    // lists, and a device rebuilds it with its stored search.
    let built = post_ok(
        &api,
        &token,
        &custom,
        &json!({"cram": {"kind": "new", "cardLimit": 3}}),
    )
    .await;
    let session = built["session"]["deckId"].as_i64().unwrap();
    study_new_card_in_web(&api, &token, "the session's first card").await;
    let ours = deck_list(&api, &token).await;
    assert!(ours.contains_key(&session.to_string()), "{ours:?}");
    normal_sync(&mut dev, &proxy, "A");
    normal_sync(&mut dev, &proxy, "B");
    assert_device_lists(&mut dev, &["A", "B"], &ours);
    let lent = dev.ok(json!({"op": "borrowed", "device": "A"}));
    assert_eq!(lent, dev.ok(json!({"op": "borrowed", "device": "B"})));
    // Three borrowed; the one studied is learning (type 1) and stays until it graduates.
    let lent = lent.as_array().unwrap().clone();
    let types: Vec<i64> = lent.iter().map(|c| c[5].as_i64().unwrap()).collect();
    assert_eq!(types, [1, 0, 0], "{lent:?}");
    let rebuilt = dev.ok(json!({"op": "rebuild_filtered", "device": "A",
                                 "name": "Custom Study Session"}));
    assert_eq!(rebuilt["deck"], session, "{rebuilt}");
    // The learning card goes home; the search ("is:new ..." up to 3) takes the two new cards
    // again, and the deck's next new card.
    assert_eq!(rebuilt["cards"], 3, "{rebuilt}");
    let again = dev.ok(json!({"op": "borrowed", "device": "A"}));
    let again = again.as_array().unwrap();
    assert!(
        lent[1..].iter().all(|c| again.contains(c)),
        "{again:?} vs {lent:?}"
    );
    assert!(!again.iter().any(|c| c[0] == lent[0][0]), "{again:?}");
}

/// The web app's next card is a new one (`why`, in the failure message); answered Good.
async fn study_new_card_in_web(api: &ApiClient, token: &str, why: &str) {
    let (card, _) = javumbo_tests::http::get(api, token, "/api/review").await;
    assert_eq!(card["queue"], 0, "{why}: {card}");
    let answer = json!({"cardId": card["cardId"], "ease": 3, "timeTaken": 3000});
    post_ok(api, token, "/api/review", &answer).await;
}

/// Each device's deck list equals javumbo's (`ours`, from [`deck_list`]).
fn assert_device_lists(dev: &mut Devices, devices: &[&str], ours: &serde_json::Map<String, Value>) {
    for device in devices {
        let theirs = dev.ok(json!({"op": "due_counts", "device": device}));
        for (id, counts) in ours {
            assert_eq!(
                &theirs[id], counts,
                "{device}, deck {id}: {theirs} vs {ours:?}"
            );
        }
    }
}

/// javumbo's deck list: {deck id: [new, learn, review]}, as the driver's `due_counts`.
async fn deck_list(api: &ApiClient, token: &str) -> serde_json::Map<String, Value> {
    let (decks, _) = javumbo_tests::http::get(api, token, "/api/decks").await;
    decks["decks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["id"].as_i64().unwrap().to_string(),
                json!([d["newCount"], d["learnCount"], d["reviewCount"]]),
            )
        })
        .collect()
}
