//! A ministack emulator for the integration tests: started once per test binary, reached by
//! every test through its own SDK clients (clients are bound to the runtime they were built on,
//! and each `#[tokio::test]` has its own).
//!
//! `JAVUMBO_TEST_AWS_ENDPOINT=http://127.0.0.1:<port>` reuses an emulator that is already up
//! (`make emulator-up`); otherwise `.cache/venv-ministack/bin/ministack` is spawned on a free
//! loopback port. It is wrapped in a shell that kills it when our end of its stdin closes, so
//! the emulator dies with the test binary even when a test aborts the process.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_config::Region;
use aws_sdk_s3::config::Credentials;
use javumbo_session::{Metrics, Ports};
use javumbo_storage_aws::{AwsClients, AwsConfig, create_tables_and_bucket, create_topic};

struct Emulator {
    endpoint: String,
    // Held for their Drop-free lifetime: closing the pipe is what stops the emulator.
    _child: Option<Mutex<(Child, ChildStdin)>>,
}

static EMULATOR: OnceLock<Result<Emulator, String>> = OnceLock::new();

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One `GET` over a fresh connection; true on a 200.
fn healthy(port: u16) -> bool {
    let Ok(mut s) =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
    else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!(
        "GET /_ministack/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(n) if n >= 12 && &buf[9..12] == b"200")
}

fn start() -> Result<Emulator, String> {
    if let Ok(endpoint) = std::env::var("JAVUMBO_TEST_AWS_ENDPOINT") {
        return Ok(Emulator {
            endpoint,
            _child: None,
        });
    }
    let bin = std::env::var_os("JAVUMBO_MINISTACK")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".cache/venv-ministack/bin/ministack"));
    if !bin.exists() {
        return Err(format!(
            "the AWS emulator is not installed ({} is missing): run `make deps-aws` in {}",
            bin.display(),
            workspace_root().display()
        ));
    }
    let port = free_port();
    let log = std::env::temp_dir().join(format!("javumbo-ministack-{port}.log"));
    let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = Command::new("sh")
        .arg("-c")
        // `cat` returns when the test binary's end of the pipe closes (exit, abort or kill).
        .arg(r#""$0" & pid=$!; cat >/dev/null; kill "$pid" 2>/dev/null; sleep 2; kill -9 "$pid" 2>/dev/null"#)
        .arg(&bin)
        .env("BIND_HOST", "127.0.0.1")
        .env("GATEWAY_PORT", port.to_string())
        .env("LOG_LEVEL", "WARNING")
        .stdin(Stdio::piped())
        .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("spawning {}: {e}", bin.display()))?;
    let stdin = child.stdin.take().ok_or("no stdin pipe")?;
    // Generous: the machine may be busy compiling; ministack alone starts in ~0.5 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !healthy(port) {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "ministack exited with {status}; see {}",
                log.display()
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "ministack not healthy after 60 s; see {}",
                log.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Emulator {
        endpoint: format!("http://127.0.0.1:{port}"),
        _child: Some(Mutex::new((child, stdin))),
    })
}

/// The emulator's endpoint; panics (failing the test) with the fix when it cannot be had.
pub fn endpoint() -> String {
    match EMULATOR.get_or_init(start) {
        Ok(e) => e.endpoint.clone(),
        Err(msg) => panic!("{msg}"),
    }
}

/// Names shared by every test: the conformance checks use fresh keys, so they can share.
pub fn config() -> AwsConfig {
    let mut cfg = AwsConfig::new(
        "javumbo-test",
        "javumbo-test-users",
        "javumbo-test-sessions",
        "javumbo-test-journal",
    );
    cfg.force_path_style = true;
    // The test machine may be compiling on every core: be patient, but still bounded.
    cfg.operation_timeout = Duration::from_secs(30);
    cfg.attempt_timeout = Duration::from_secs(10);
    cfg
}

pub struct Env {
    pub cfg: AwsConfig,
    pub clients: AwsClients,
    pub metrics: Arc<Metrics>,
    pub ports: Ports,
}

/// Clients for this test's runtime, with the resources created (idempotently).
pub async fn env() -> Env {
    let endpoint = endpoint();
    let mut cfg = config();
    let sdk = javumbo_storage_aws::sdk_loader()
        .endpoint_url(&endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "javumbo-tests",
        ))
        .timeout_config(cfg.timeout_config())
        .retry_config(cfg.retry_config())
        .load()
        .await;
    let clients = AwsClients::from_sdk_config(&sdk, &cfg);
    create_tables_and_bucket(&clients, &cfg)
        .await
        .expect("create tables and bucket");
    cfg.flush_topic_arn = Some(
        create_topic(&clients, "javumbo-test-flush")
            .await
            .expect("create topic"),
    );
    let metrics = Arc::new(Metrics::default());
    let ports = clients.ports(&cfg, metrics.clone());
    Env {
        cfg,
        clients,
        metrics,
        ports,
    }
}
