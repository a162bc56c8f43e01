//! Anki's sync protocol, refereed by the official `anki` 26.9.3 package as the client: several
//! "devices" (collection files) in one Python process (`tests/oracle/sync_driver.py`) sync with
//! `javumbo-local --containers 4 --isolate processes` through a counting proxy, while the web
//! API works on the same collection.
//!
//! What the client does in each scenario is asserted exactly (its outcome, or its error kind),
//! and the proxy's log asserts which protocol calls it took.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;

use javumbo_api::axum::Router;
use javumbo_api::axum::body::{Body, Bytes};
use javumbo_api::axum::extract::{Request, State};
use javumbo_api::axum::http::StatusCode;
use javumbo_api::axum::response::{IntoResponse, Response};
use javumbo_tests::http::{ApiClient, register_login};
use javumbo_tests::spawn::spawn_local_process;
use javumbo_tests::{anki_python, workspace_root};
use parking_lot::Mutex;
use serde_json::{Value, json};

const PASSWORD: &str = "password123";

/// The official client, one JSON command per line.
struct Devices {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Devices {
    fn start() -> Self {
        let mut child = Command::new(anki_python())
            .arg(workspace_root().join("tests/oracle/sync_driver.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the sync driver");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
        }
    }

    fn run(&mut self, cmd: Value) -> Value {
        writeln!(self.stdin, "{cmd}").expect("write command");
        self.stdin.flush().expect("flush");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read answer");
        assert!(!line.is_empty(), "the driver died on {cmd}");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    fn ok(&mut self, cmd: Value) -> Value {
        let out = self.run(cmd.clone());
        assert!(out.get("error").is_none(), "{cmd} failed: {out}");
        out
    }

    fn sync(&mut self, device: &str, full: Option<&str>) -> Value {
        self.run(json!({"op": "sync", "device": device, "full": full}))
    }

    fn dump(&mut self, device: &str) -> Value {
        let mut d = self.ok(json!({"op": "dump", "device": device}));
        // `col.mod` is the one stamp a client moves by itself after a full sync (it does against
        // Anki's own server too); crt and scm must match.
        d["col"][1] = Value::Null;
        d
    }
}

impl Drop for Devices {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, r#"{{"op":"quit"}}"#);
        let _ = self.child.wait();
    }
}

/// A proxy in front of javumbo-local that logs every sync call: `"<path> <status>"`.
#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    async fn start(upstream: &str) -> (String, Self) {
        let proxy = Self {
            upstream: upstream.to_owned(),
            http: reqwest::Client::new(),
            log: Arc::default(),
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
    let mut out = (status, Body::from(bytes)).into_response();
    for (k, v) in &headers {
        if k != "content-length" && k != "transfer-encoding" {
            out.headers_mut().insert(k, v.clone());
        }
    }
    out
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

    // A review in the web app. A's next sync must not lose it: the server changed outside a
    // sync, so the client is told a full sync is needed (never a silent normal sync).
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
    let out = dev.sync("A", None);
    assert_eq!(out["required"], "FULL_SYNC", "{out}");
    assert_eq!(calls(&proxy.take()), ["/sync/meta 200"]);
    let out = dev.sync("A", Some("download"));
    assert_eq!(out["did"], "download", "{out}");
    let a = dev.dump("A");
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
    let out = dev.sync("B", Some("download"));
    assert_eq!(
        (out["required"].clone(), out["did"].clone()),
        (json!("FULL_SYNC"), json!("download"))
    );
    assert_eq!(dev.dump("B"), a, "B has the web review too");

    // A reviews on the device: javumbo cannot merge that yet, so the sanity check fails, the
    // client rolls back and marks itself for a full sync; its next sync offers it, A uploads,
    // and nothing is lost.
    dev.ok(json!({"op": "review", "device": "A"}));
    let out = dev.sync("A", None);
    // The Python binding reports Anki's SanityCheckFailed as OTHER with the sanity message
    // (rslib/src/backend/error.rs); what proves the failed check is the next sync: full.
    assert_eq!(out["kind"], "SyncErrorKind.OTHER", "{out}");
    assert!(
        out["message"]
            .as_str()
            .is_some_and(|m| m.contains("Check Database")),
        "{out}"
    );
    let out = dev.sync("A", Some("upload"));
    assert_eq!(
        (out["required"].clone(), out["did"].clone()),
        (json!("FULL_SYNC"), json!("upload"))
    );
    let a = dev.dump("A");
    let out = dev.sync("B", Some("download"));
    assert_eq!(out["did"], "download", "{out}");
    assert_eq!(dev.dump("B"), a, "A's device review reached B");

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
