//! The `sync` function's two deployments, run as Lambda runs them: the built bootstraps
//! (`javumbo-auth`, `javumbo-sync-fn`) against the minimal local Lambda Runtime API, on the
//! embedded stores of one data directory. With `JAVUMBO_RESPONSE_STREAMING` (the function URL
//! in RESPONSE_STREAM mode) the answer is streamed — prelude, eight NUL bytes, the raw bytes —
//! and a full download reaches the client byte for byte; without it the answer is the buffered
//! proxy JSON API Gateway expects, and a download too large for it is refused with a message
//! naming the streaming address. (ministack cannot referee streaming: its runtime API decodes
//! a streamed answer as UTF-8 text, which mangles a binary one.)

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use javumbo_load::coldstart::{EventKind, Launch};
use javumbo_load::runtime_api::{Call, Invocation, RuntimeApi};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const USER: &str = "streamer";
const PASSWORD: &str = "correct horse battery staple";

/// One function: its Runtime API and its bootstrap process.
struct Function {
    api: RuntimeApi,
    child: Child,
    next_id: u32,
}

impl Function {
    async fn start(bin: &str, data: &Path, env: &[(&str, &str)]) -> Self {
        let api = RuntimeApi::start(&format!(
            "arn:aws:lambda:eu-west-1:123456789012:function:{bin}"
        ))
        .await
        .expect("runtime API");
        let launch = Launch {
            name: bin.to_owned(),
            exe: javumbo_tests::spawn::workspace_binary(bin),
            event: EventKind::for_function(bin),
            memory_mb: 2048,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            timeout: Duration::from_secs(30),
            warm: false,
        };
        let child = Command::new(&launch.exe)
            .env_clear()
            .envs(launch.environment(&api.endpoint(), data))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn bootstrap");
        Self {
            api,
            child,
            next_id: 0,
        }
    }

    /// One invocation: the answer's body as posted to the Runtime API, and whether it streamed.
    async fn invoke(&mut self, event: Value) -> (Vec<u8>, bool) {
        self.next_id += 1;
        let id = format!("00000000-0000-4000-8000-{:012x}", self.next_id);
        self.api.push(Invocation {
            request_id: id.clone(),
            body: event.to_string().into_bytes(),
            timeout: Duration::from_secs(30),
        });
        loop {
            let call = self
                .api
                .next_call(Duration::from_secs(60))
                .await
                .expect("the bootstrap answered within 60 s");
            match call {
                Call::Response {
                    request_id,
                    body,
                    streamed,
                    ..
                } if request_id == id => return (body, streamed),
                Call::Error { body, .. } | Call::InitError { body, .. } => {
                    panic!("function error: {}", String::from_utf8_lossy(&body))
                }
                _ => {}
            }
        }
    }
}

/// A Lambda HTTP event (payload 2.0: API Gateway's and a function URL's are the same shape).
fn http_event(path: &str, headers: Value, body: &[u8], binary: bool) -> Value {
    let body = if binary {
        B64.encode(body)
    } else {
        String::from_utf8(body.to_vec()).unwrap()
    };
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "stream",
            "domainName": "stream.lambda-url.eu-west-1.on.aws",
            "domainPrefix": "stream",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "lambda-streaming-test"
            },
            "requestId": "r",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2025:00:00:00 +0000",
            "timeEpoch": 0
        },
        "body": body,
        "isBase64Encoded": binary
    })
}

/// A sync request as Anki's client sends it: the `anki-sync` header and a zstd body.
fn sync_event(method: &str, host_key: &str, body: &Value) -> Value {
    let header = json!({"v": 11, "k": host_key, "c": "26.09.3,test,linux", "s": "stream"});
    let zbody = zstd::encode_all(body.to_string().as_bytes(), 0).unwrap();
    http_event(
        &format!("/sync/{method}"),
        json!({"anki-sync": header.to_string(), "content-type": "application/octet-stream"}),
        &zbody,
        true,
    )
}

/// An HTTP answer, from either mode: status, headers, raw body.
struct Answer {
    status: u64,
    headers: Value,
    body: Vec<u8>,
}

impl Answer {
    /// Streaming mode: `<prelude JSON><8 × NUL><body>`.
    fn streamed(raw: &[u8]) -> Self {
        let sep = raw
            .windows(8)
            .position(|w| w == [0u8; 8])
            .expect("a streamed answer has a prelude");
        let prelude: Value = serde_json::from_slice(&raw[..sep]).expect("prelude JSON");
        Self {
            status: prelude["statusCode"].as_u64().unwrap(),
            headers: prelude["headers"].clone(),
            body: raw[sep + 8..].to_vec(),
        }
    }

    /// Buffered mode: the proxy JSON, its body base64 when binary.
    fn buffered(raw: &[u8]) -> Self {
        let v: Value = serde_json::from_slice(raw).expect("proxy JSON");
        let text = v["body"].as_str().unwrap_or_default();
        let body = if v["isBase64Encoded"].as_bool() == Some(true) {
            B64.decode(text).unwrap()
        } else {
            text.as_bytes().to_vec()
        };
        Self {
            status: v["statusCode"].as_u64().unwrap(),
            headers: v["headers"].clone(),
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers[name].as_str()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_url_deployment_streams_a_full_download_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // A student registers through the auth function.
    let mut auth = Function::start("javumbo-auth", &data, &[]).await;
    let creds = json!({"username": USER, "password": PASSWORD, "name": "Streamer"}).to_string();
    let (raw, streamed) = auth
        .invoke(http_event(
            "/api/register",
            json!({"content-type": "application/json"}),
            creds.as_bytes(),
            false,
        ))
        .await;
    assert!(!streamed);
    let registered = Answer::buffered(&raw);
    assert_eq!(
        registered.status,
        200,
        "{}",
        String::from_utf8_lossy(&registered.body)
    );

    // Their device logs in and downloads the collection through the streaming deployment.
    let mut stream = Function::start(
        "javumbo-sync-fn",
        &data,
        &[("JAVUMBO_RESPONSE_STREAMING", "true")],
    )
    .await;
    let (raw, streamed) = stream
        .invoke(sync_event(
            "hostKey",
            "",
            &json!({"u": USER, "p": PASSWORD}),
        ))
        .await;
    assert!(streamed, "the streaming deployment answers by streaming");
    let login = Answer::streamed(&raw);
    assert_eq!(login.status, 200);
    let key: Value = serde_json::from_slice(&zstd::decode_all(&login.body[..]).unwrap()).unwrap();
    let host_key = key["key"].as_str().expect("a host key").to_owned();

    let (raw, streamed) = stream
        .invoke(sync_event("download", &host_key, &json!({})))
        .await;
    assert!(streamed);
    let download = Answer::streamed(&raw);
    assert_eq!(download.status, 200);
    let file = zstd::decode_all(&download.body[..]).expect("a zstd body, intact");
    let original: usize = download
        .header("anki-original-size")
        .expect("anki-original-size")
        .parse()
        .unwrap();
    assert_eq!(file.len(), original);
    assert!(file.starts_with(b"SQLite format 3\0"));
    let path = dir.path().join("downloaded.anki2");
    std::fs::write(&path, &file).unwrap();
    let db = rusqlite::Connection::open(&path).unwrap();
    let cols: i64 = db
        .query_row("SELECT count(*) FROM col", [], |r| r.get(0))
        .unwrap();
    assert_eq!(cols, 1);

    // The API Gateway deployment of the same binary answers the same request buffered.
    let mut buffered = Function::start("javumbo-sync-fn", &data, &[]).await;
    let (raw, streamed) = buffered
        .invoke(sync_event("download", &host_key, &json!({})))
        .await;
    assert!(!streamed, "without the setting, answers are buffered");
    let again = Answer::buffered(&raw);
    assert_eq!(again.status, 200);
    assert_eq!(
        zstd::decode_all(&again.body[..]).unwrap().len(),
        original,
        "the same collection either way"
    );

    // Past what its answer can carry, the buffered deployment refuses with a message the
    // client shows, naming the streaming address (a tiny limit stands in for ~4.4 MB).
    let mut small = Function::start(
        "javumbo-sync-fn",
        &data,
        &[
            ("JAVUMBO_SYNC_STREAM_URL", "https://stream.example.on.aws/"),
            ("JAVUMBO_SYNC_MAX_DOWNLOAD_BYTES", "1000"),
        ],
    )
    .await;
    let (raw, _) = small
        .invoke(sync_event("download", &host_key, &json!({})))
        .await;
    let refused = Answer::buffered(&raw);
    let message = String::from_utf8_lossy(&refused.body);
    assert_eq!(refused.status, 413, "{message}");
    assert!(
        message.contains("https://stream.example.on.aws/"),
        "{message}"
    );

    for f in [&mut auth, &mut stream, &mut buffered, &mut small] {
        let _ = f.child.start_kill();
    }
}
