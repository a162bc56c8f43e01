//! The gateway in front of the containers, and the container side of `--isolate processes`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use javumbo_api::{ApiError, AppState};
use javumbo_runtime::Secret;
use javumbo_session::Metrics;
use serde_json::{Value, json};
use slot::SlotAddr;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tower::ServiceExt;

use crate::LocalError;

/// Largest request the gateway buffers: a full sync upload at Anki's own server's limit
/// (100 MiB compressed; every other route's limit is far below, and enforced by the container).
const MAX_PROXY_BODY: usize = 101 * 1024 * 1024;

/// A client must send a request's whole header within this time, from the moment the
/// connection is ready for it (a new connection, or an idle kept-alive one): slow-header
/// (slowloris) and idle connections are closed instead of holding a descriptor for ever.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest pause between two pieces of a request body (a slow-body attack; a real upload,
/// even a 100 MiB sync over a slow link, sends something every few milliseconds).
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once. Beyond it the accept loop waits (the kernel's backlog queues
/// newcomers) until one ends, so a flood of connections cannot take the process's last file
/// descriptors (the stores and the cache need some): with the header timeout, a slot held by
/// an idle client comes back within seconds.
const MAX_CONNECTIONS: usize = 4096;
/// How long shutdown waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Bind, announce (first stdout line: the address, for harnesses), serve until SIGINT/SIGTERM.
async fn serve(
    addr: SocketAddr,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), LocalError> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    // Not `println!`: a reader that went away must not take the server down with a panic.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "javumbo-local listening on http://{local}");
        let _ = writeln!(out, "try: curl -s http://{local}/api/health");
        let _ = out.flush();
    }
    let router = router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        BODY_IDLE_TIMEOUT,
    ));
    accept_loop(listener, router, shutdown).await;
    Ok(())
}

/// `axum::serve` has no header read timeout and no connection limit, so the loop is ours:
/// hyper's HTTP/1 connection with its timer, the peer address as axum's `ConnectInfo`, and a
/// graceful drain at shutdown.
async fn accept_loop(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use axum::extract::connect_info::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};

    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning; the listener recovers
                    // when descriptors are released.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(req.map(Body::new))
            });
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                () = async { let _ = stop.wait_for(|s| *s).await; } => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every slot back means every connection has finished its request in flight.
    let all = u32::try_from(MAX_CONNECTIONS).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, slots.acquire_many(all)).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn sum_metrics(states: &[Arc<Metrics>]) -> BTreeMap<String, u64> {
    javumbo_session::metrics::sum(states.iter().map(|m| m.snapshot()))
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

fn json_error(e: ApiError) -> Response {
    e.into_response()
}

// ---------------------------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------------------------

struct Threads {
    routers: Vec<Router>,
    metrics: Vec<Arc<Metrics>>,
}

pub async fn serve_threads(addr: SocketAddr, mut states: Vec<AppState>) -> Result<(), LocalError> {
    // One process, one login throttle and one hashing pool: a guesser spread over the thread
    // containers meets one limit, and the hashing bound is the process's memory bound.
    if let Some(first) = states.first().cloned() {
        for s in &mut states {
            s.throttle = first.throttle.clone();
            s.hashing = first.hashing.clone();
        }
    }
    let metrics = states.iter().map(|s| s.metrics().clone()).collect();
    let routers = states.into_iter().map(javumbo_api::app).collect();
    let threads = Arc::new(Threads { routers, metrics });
    let gateway = Router::new()
        .route("/_local/metrics", get(threads_metrics))
        .route_layer(axum::middleware::from_fn(operator_only))
        // The study web app is static: the gateway serves it, as CloudFront would.
        .merge(javumbo_web::router())
        .fallback(route_to_random_container)
        .with_state(threads);
    serve(addr, gateway, shutdown_signal()).await
}

/// The operator endpoints (`/_local/*`: counters, child pids and ports) answer only on the
/// machine itself; from anywhere else they do not exist (a route layer on exactly those routes).
async fn operator_only(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    if peer.ip().is_loopback() {
        next.run(req).await
    } else {
        json_error(ApiError::NotFound("Not found".into()))
    }
}

async fn threads_metrics(State(t): State<Arc<Threads>>) -> Response {
    let mut m = sum_metrics(&t.metrics);
    m.insert("containers".into(), t.routers.len() as u64);
    axum::Json(m).into_response()
}

async fn route_to_random_container(State(t): State<Arc<Threads>>, req: Request) -> Response {
    let i = rand::random_range(0..t.routers.len());
    match t.routers[i].clone().oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// How to start a container process.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// The gateway's JWT secret (possibly generated), so every container signs alike.
    pub secret: Secret,
    /// The gateway's own command-line settings (the environment is inherited).
    pub args: Vec<OsString>,
}

mod slot {
    use std::net::SocketAddr;
    use std::sync::RwLock;

    /// Where a container process listens, and its pid; `None` while it is (re)starting.
    #[derive(Debug, Default)]
    pub struct SlotAddr(RwLock<Option<(SocketAddr, u32)>>);

    impl SlotAddr {
        pub fn get(&self) -> Option<(SocketAddr, u32)> {
            *self.0.read().unwrap_or_else(|p| p.into_inner())
        }
        pub fn set(&self, v: Option<(SocketAddr, u32)>) {
            *self.0.write().unwrap_or_else(|p| p.into_inner()) = v;
        }
    }
}

struct Processes {
    slots: Vec<Arc<SlotAddr>>,
    restarts: AtomicU64,
    client: reqwest::Client,
    /// Sent with every forwarded request: the containers trust `X-Forwarded-For` only with it.
    proof: axum::http::HeaderValue,
}

pub async fn serve_processes(
    addr: SocketAddr,
    n: usize,
    spec: ChildSpec,
) -> Result<(), LocalError> {
    let exe = std::env::current_exe()?;
    let procs = Arc::new(Processes {
        slots: (0..n).map(|_| Arc::new(SlotAddr::default())).collect(),
        restarts: AtomicU64::new(0),
        // A container's redirect (a large export's download link) is its answer to the client,
        // not something the gateway should fetch.
        client: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(LocalError::HttpClient)?,
        proof: axum::http::HeaderValue::from_str(&javumbo_api::gateway_proof(
            spec.secret.expose().as_bytes(),
        ))
        .map_err(|e| LocalError::Child(format!("gateway proof: {e}")))?,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut supervisors = Vec::new();
    for i in 0..n {
        // Start them all before serving, so the first request finds live containers.
        let child = spawn_child(&exe, &spec).await?;
        let (procs, exe, spec, stop) = (procs.clone(), exe.clone(), spec.clone(), stop_rx.clone());
        supervisors.push(tokio::spawn(supervise(i, child, procs, exe, spec, stop)));
    }
    let gateway = Router::new()
        .route("/_local/metrics", get(processes_metrics))
        .route("/_local/containers", get(processes_list))
        .route_layer(axum::middleware::from_fn(operator_only))
        .merge(javumbo_web::router())
        .fallback(proxy_to_random_container)
        .with_state(procs);
    let result = serve(addr, gateway, shutdown_signal()).await;
    let _ = stop_tx.send(true);
    for s in supervisors {
        let _ = s.await;
    }
    result
}

struct Running {
    child: Child,
    /// Held open for the child's lifetime (it exits on EOF). Kept out of `Child`, because
    /// `Child::wait` closes the child's stdin first.
    _stdin: tokio::process::ChildStdin,
    addr: SocketAddr,
    pid: u32,
}

async fn spawn_child(exe: &std::path::Path, spec: &ChildSpec) -> Result<Running, LocalError> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut child = Command::new(exe)
        .arg("--child")
        .arg(&id)
        .arg("--addr=127.0.0.1:0")
        .args(&spec.args)
        // Through the environment, not argv: `ps` shows argv to every local user.
        .env("JAVUMBO_JWT_SECRET", spec.secret.expose())
        // The child exits when this pipe closes, i.e. when the gateway dies for any reason.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| LocalError::Child("no child stdin".into()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| LocalError::Child("no child stdout".into()))?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .map_err(|_| LocalError::Child("container process did not start in 30 s".into()))??
        .ok_or_else(|| LocalError::Child("container process exited at start".into()))?;
    let addr = parse_listen_line(&first)
        .ok_or_else(|| LocalError::Child(format!("unexpected child output: {first}")))?;
    // Keep draining so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Running {
        child,
        _stdin: stdin,
        addr,
        pid,
    })
}

fn parse_listen_line(line: &str) -> Option<SocketAddr> {
    line.rsplit("http://").next()?.trim().parse().ok()
}

/// Keep container `i` alive: when its process dies (a test's SIGKILL), start a new one — cold,
/// with a new container id, as Lambda would.
async fn supervise(
    i: usize,
    mut running: Running,
    procs: Arc<Processes>,
    exe: PathBuf,
    spec: ChildSpec,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        procs.slots[i].set(Some((running.addr, running.pid)));
        tokio::select! {
            status = running.child.wait() => {
                procs.slots[i].set(None);
                tracing::warn!(container = i, ?status, "container process exited; restarting it cold");
            }
            _ = stop.changed() => {
                procs.slots[i].set(None);
                let _ = running.child.kill().await;
                return;
            }
        }
        loop {
            if *stop.borrow() {
                return;
            }
            match spawn_child(&exe, &spec).await {
                Ok(r) => {
                    procs.restarts.fetch_add(1, Ordering::Relaxed);
                    running = r;
                    break;
                }
                Err(e) => {
                    tracing::error!(container = i, error = %e, "cannot restart container; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
}

async fn processes_list(State(p): State<Arc<Processes>>) -> Response {
    let list: Vec<Value> = p
        .slots
        .iter()
        .enumerate()
        .map(|(i, s)| match s.get() {
            Some((addr, pid)) => json!({ "index": i, "pid": pid, "addr": addr.to_string() }),
            None => json!({ "index": i, "pid": null, "addr": null }),
        })
        .collect();
    axum::Json(json!({ "containers": list })).into_response()
}

async fn processes_metrics(State(p): State<Arc<Processes>>) -> Response {
    let mut total: BTreeMap<String, u64> = BTreeMap::new();
    for (addr, _) in p.slots.iter().filter_map(|s| s.get()) {
        let url = format!("http://{addr}/_local/metrics");
        let Ok(resp) = p.client.get(url).send().await else {
            continue;
        };
        let Ok(m) = resp.json::<BTreeMap<String, u64>>().await else {
            continue;
        };
        for (k, v) in m {
            *total.entry(k).or_insert(0) += v;
        }
    }
    total.insert("containers".into(), p.slots.len() as u64);
    total.insert(
        "container_restarts".into(),
        p.restarts.load(Ordering::Relaxed),
    );
    axum::Json(total).into_response()
}

/// Hop-by-hop headers a proxy must not forward (RFC 9110 §7.6.1), plus the ones reqwest and
/// hyper compute themselves.
fn hop_by_hop(name: &HeaderName) -> bool {
    [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::CONTENT_LENGTH,
        header::HOST,
        header::TE,
        header::UPGRADE,
    ]
    .contains(name)
        || name.as_str() == "keep-alive"
        || name.as_str() == "proxy-connection"
        || name.as_str() == "x-forwarded-for"
        || name.as_str() == javumbo_api::GATEWAY_PROOF_HEADER
}

async fn proxy_to_random_container(
    State(p): State<Arc<Processes>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PROXY_BODY).await else {
        return json_error(ApiError::PayloadTooLarge("Request body too large".into()));
    };
    let path = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    for _attempt in 0..50 {
        let live: Vec<SocketAddr> = p
            .slots
            .iter()
            .filter_map(|s| s.get())
            .map(|(a, _)| a)
            .collect();
        if live.is_empty() {
            // Every container is restarting: wait for one rather than fail the request.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let addr = live[rand::random_range(0..live.len())];
        let mut rb = p
            .client
            .request(parts.method.clone(), format!("http://{addr}{path}"));
        for (k, v) in &parts.headers {
            if !hop_by_hop(k) {
                rb = rb.header(k, v);
            }
        }
        // The container trusts this header only with the gateway's proof (a client's own
        // copies of both were dropped above).
        rb = rb
            .header("x-forwarded-for", peer.ip().to_string())
            .header(javumbo_api::GATEWAY_PROOF_HEADER, p.proof.clone());
        match rb.body(bytes.clone()).send().await {
            Ok(resp) => return into_response(resp).await,
            // Nothing reached the container (it just died): safe to send elsewhere.
            Err(e) if e.is_connect() => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(e) => {
                // The container may have applied the request before dying: never retry here
                // (the client decides; a 2xx was not given, so nothing acknowledged is lost).
                tracing::warn!(error = %e, "container failed mid-request");
                return (
                    StatusCode::BAD_GATEWAY,
                    axum::Json(json!({ "error": "container failed, retry" })),
                )
                    .into_response();
            }
        }
    }
    json_error(ApiError::Unavailable {
        retry_after_secs: 1,
    })
}

async fn into_response(resp: reqwest::Response) -> Response {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(_) => {
            return (
                StatusCode::BAD_GATEWAY,
                axum::Json(json!({ "error": "container failed, retry" })),
            )
                .into_response();
        }
    };
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = status;
    for (k, v) in &headers {
        if !hop_by_hop(k) {
            out.headers_mut().append(k, v.clone());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Child (one container process)
// ---------------------------------------------------------------------------------------------

pub async fn serve_child(addr: SocketAddr, state: AppState) -> Result<(), LocalError> {
    let metrics = state.metrics().clone();
    let router = Router::new()
        .route(
            "/_local/metrics",
            get(move || {
                let m = sum_metrics(std::slice::from_ref(&metrics));
                async move { axum::Json(m).into_response() }
            }),
        )
        .route_layer(axum::middleware::from_fn(operator_only))
        .merge(javumbo_api::app(state));
    let parent_gone = async {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while let Ok(n) = stdin.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    let shutdown = async move {
        tokio::select! {
            () = shutdown_signal() => {},
            () = parent_gone => {},
        }
    };
    serve(addr, router, shutdown).await
}
