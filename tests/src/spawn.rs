//! Start the API for HTTP tests: in-process on port 0 ([`spawn_app`]), or the real
//! `javumbo-local` binary as a child process ([`spawn_local_process`]). Each gets a fresh
//! temporary data directory; nothing listens on a fixed port.
//!
//! Or use a deployed API: with `JAVUMBO_E2E_URL` set (e.g. the emulator stack of
//! `make emulator-up`), [`target`] hands out that base URL instead of spawning, and tests that
//! need the in-process internals skip themselves with [`skip_on_remote`].

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use javumbo_api::{ApiConfig, AppState, CorsOrigins};
use javumbo_collection::SharedClock;
use javumbo_runtime::{Profile, Runtime, Settings};
use tempfile::TempDir;

/// The secret tests sign their own (forged, expired...) tokens with.
pub const TEST_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

pub struct TestApp {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    pub state: AppState,
    pub data: TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The whole API (all four groups) on `127.0.0.1:0`, one container, embedded stores in a fresh
/// temp dir. Call from inside a multi-threaded tokio runtime.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], adjusting the config first (throttle limits, body limits...).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut ApiConfig)) -> TestApp {
    spawn_app_at(adjust, None).await
}

/// Like [`spawn_app_with`], every "now" of the API (tokens, study days, answers, journal
/// stamps) read from `clock`: a referee moves it to the instants it replays.
pub async fn spawn_app_with_clock(
    adjust: impl FnOnce(&mut ApiConfig),
    clock: SharedClock,
) -> TestApp {
    spawn_app_at(adjust, Some(clock)).await
}

async fn spawn_app_at(adjust: impl FnOnce(&mut ApiConfig), clock: Option<SharedClock>) -> TestApp {
    let data = tempfile::tempdir().expect("temp dir");
    let mut config =
        ApiConfig::new(TEST_SECRET.as_bytes().to_vec(), CorsOrigins::Any).expect("config");
    adjust(&mut config);
    // One `javumbo-local` container, as the binary builds it (the session settings still come
    // from the environment, like the binary's).
    let settings = Settings::from_args(
        Profile::Local,
        [
            "javumbo-local".into(),
            "--data".into(),
            data.path().as_os_str().to_owned(),
        ],
    )
    .expect("settings");
    let mut runtime = Runtime::new(settings, Profile::Local, "test")
        .await
        .expect("embedded backend");
    if let Some(clock) = clock {
        runtime = runtime.with_clock(clock);
    }
    let container = runtime
        .container_with_id("test-container")
        .expect("embedded state");
    let state = javumbo_app::state(&container, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = javumbo_api::app(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum_serve(listener, app, rx).await;
    });
    TestApp {
        addr,
        base: format!("http://{addr}"),
        state,
        data,
        shutdown: Some(tx),
    }
}

async fn axum_serve(
    listener: tokio::net::TcpListener,
    app: javumbo_api::axum::Router,
    rx: tokio::sync::oneshot::Receiver<()>,
) -> std::io::Result<()> {
    javumbo_api::axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = rx.await;
    })
    .await
}

/// A running `javumbo-local`; killed (and its containers with it) on drop.
pub struct LocalProcess {
    pub child: Child,
    pub base: String,
    pub data: TempDir,
}

impl Drop for LocalProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The variable naming a deployed API's base URL (no trailing slash needed).
pub const E2E_URL_ENV: &str = "JAVUMBO_E2E_URL";

/// The deployed API's base URL, when `JAVUMBO_E2E_URL` is set and not empty.
pub fn remote_base() -> Option<String> {
    std::env::var(E2E_URL_ENV)
        .ok()
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty())
}

/// Where an HTTP test sends its requests: a fresh in-process app ([`spawn_app`]) by default,
/// the deployed API of `JAVUMBO_E2E_URL` when set.
pub struct Target {
    /// `http://127.0.0.1:<port>` or the deployed API's base URL.
    pub base: String,
    /// The in-process app; `None` on a remote target.
    pub app: Option<TestApp>,
}

/// `javumbo-local` when the remote target of `JAVUMBO_E2E_URL` is `javumbo-local --stores aws`
/// rather than API Gateway (tests/emulator/test.sh runs the suites against both).
pub const E2E_GATEWAY_ENV: &str = "JAVUMBO_E2E_GATEWAY";

impl Target {
    pub fn is_remote(&self) -> bool {
        self.app.is_none()
    }

    /// A deployed API behind API Gateway, which answers some requests itself (`{"message"}`
    /// for a path without a route or an oversized body) before any function runs.
    pub fn behind_api_gateway(&self) -> bool {
        self.is_remote()
            && std::env::var(E2E_GATEWAY_ENV).map_or(true, |g| g.trim() != "javumbo-local")
    }

    /// A username for this test run: `stem` itself in-process (fresh storage per test), made
    /// unique on a remote target, whose stores outlive the run.
    pub fn user(&self, stem: &str) -> String {
        if self.is_remote() {
            unique_username(stem)
        } else {
            stem.to_owned()
        }
    }
}

/// [`spawn_app`], or the deployed API when `JAVUMBO_E2E_URL` is set.
pub async fn target() -> Target {
    match remote_base() {
        Some(base) => Target { base, app: None },
        None => {
            let app = spawn_app().await;
            Target {
                base: app.base.clone(),
                app: Some(app),
            }
        }
    }
}

/// Prints `skipped on remote target: <reason>` and returns true when `JAVUMBO_E2E_URL` is set:
/// for tests (or parts of tests) that need what only an in-process or local server gives
/// (its state, its secret, its config, its processes). Written straight to stderr, past the
/// test harness's output capture, so a skip is always visible.
pub fn skip_on_remote(reason: &str) -> bool {
    let remote = remote_base().is_some();
    if remote {
        let _ = writeln!(std::io::stderr(), "skipped on remote target: {reason}");
    }
    remote
}

/// `stem` plus a token unique to this test process (time and pid), within the 20 characters a
/// username may have: `<stem>-<token>`. Remote stores keep users across runs; this keeps runs
/// from colliding with each other.
pub fn unique_username(stem: &str) -> String {
    static TOKEN: OnceLock<String> = OnceLock::new();
    let token = TOKEN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut n = nanos ^ (u128::from(std::process::id()) << 64);
        let mut s = String::new();
        for _ in 0..8 {
            s.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
            n /= 36;
        }
        s
    });
    let keep = 20 - token.len() - 1;
    let stem = &stem[..stem.len().min(keep)];
    format!("{stem}-{token}")
}

/// Build `javumbo-local` once per test binary (with the same cargo and target dir as the
/// tests) and return its path.
pub fn local_binary() -> PathBuf {
    workspace_binary("javumbo-local")
}

/// A binary of the workspace from this test's own target directory, built by
/// `cargo build --workspace --all-targets` (what `make test-rust` runs before the tests) when it
/// is not there yet. Run that after changing the code when testing with `cargo test` directly:
/// an existing binary is used as it is. The tests do not rebuild it themselves because a cargo
/// run from inside a test (the test's environment, and with `-p` other resolved features)
/// rebuilt everything above tokio, the AWS SDK included: ~3.5 minutes for every test binary
/// that started a process, and twice more for the next outer build.
pub fn workspace_binary(name: &str) -> PathBuf {
    // Test binaries live in <target>/<profile>/deps/.
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target profile dir");
    let bin = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    static BUILT: OnceLock<()> = OnceLock::new();
    if !bin.exists() {
        BUILT.get_or_init(|| {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let mut cmd = Command::new(cargo);
            cmd.args(["build", "-q", "--workspace", "--all-targets", "--locked"])
                .current_dir(crate::workspace_root());
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("run cargo build");
            assert!(
                status.success(),
                "cargo build --workspace --all-targets failed"
            );
        });
    }
    assert!(bin.exists(), "{} not found", bin.display());
    bin
}

/// Run `javumbo-local --addr 127.0.0.1:0 --containers N --isolate <isolate>` on a fresh data
/// dir; wait for its first stdout line (the address).
pub fn spawn_local_process(containers: u16, isolate: &str) -> LocalProcess {
    spawn_local_process_with(containers, isolate, &[])
}

pub fn spawn_local_process_with(containers: u16, isolate: &str, extra: &[&str]) -> LocalProcess {
    let data = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(local_binary())
        .arg("--addr=127.0.0.1:0")
        .arg("--data")
        .arg(data.path())
        .arg(format!("--containers={containers}"))
        .arg(format!("--isolate={isolate}"))
        .args(extra)
        .env_remove("JAVUMBO_JWT_SECRET")
        .env_remove("JAVUMBO_ADDR")
        .env_remove("JAVUMBO_DATA")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start javumbo-local");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines
        .next()
        .expect("javumbo-local printed nothing")
        .expect("read stdout");
    let addr = first
        .rsplit("http://")
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    assert!(
        addr.parse::<SocketAddr>().is_ok(),
        "unexpected first line: {first}"
    );
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    LocalProcess {
        child,
        base: format!("http://{addr}"),
        data,
    }
}

/// SIGKILL a process (a `javumbo-local` container), as a crash would.
pub fn kill9(pid: u64) {
    let ok = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -9 {pid}");
}
