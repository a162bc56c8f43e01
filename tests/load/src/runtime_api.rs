//! A minimal AWS Lambda Runtime API on 127.0.0.1 (no emulator): the four endpoints a
//! `provided.al2023` bootstrap talks to, and every call time-stamped on arrival for
//! [`crate::coldstart`].
//!
//! - `GET /2018-06-01/runtime/invocation/next`: hands out the next queued event (long-polls
//!   while none is queued, as Lambda does), with the `Lambda-Runtime-*` headers.
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error`: 202.
//! - `POST /2018-06-01/runtime/init/error`: 202.
//!
//! HTTP/1.1 is spoken by hand (keep-alive, `Content-Length` and chunked bodies): the crate has
//! no server dependency and this is all the protocol a runtime client needs.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const PREFIX: &str = "/2018-06-01/runtime/";
/// Larger request bodies are refused (Lambda's own limit is 6 MB for a buffered response,
/// 20 MB for a streamed one).
const MAX_BODY: usize = 24 << 20;
const MAX_HEADER_LINES: usize = 100;

/// One event to hand out on `next`.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    pub body: Vec<u8>,
    /// The invocation's timeout: `Lambda-Runtime-Deadline-Ms` is the hand-out time plus this.
    pub timeout: Duration,
}

/// What the bootstrap did, stamped when the request line arrived (`HandedOut`: when the event
/// was taken off the queue for a waiting `next`).
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Next {
        at: Instant,
    },
    HandedOut {
        request_id: String,
        at: Instant,
    },
    Response {
        request_id: String,
        at: Instant,
        body: Vec<u8>,
        /// Sent in streaming mode (`Lambda-Runtime-Function-Response-Mode: streaming`): the
        /// body is then the HTTP prelude, eight NUL bytes and the answer's bytes.
        streamed: bool,
    },
    Error {
        request_id: String,
        at: Instant,
        error_type: Option<String>,
        body: Vec<u8>,
    },
    InitError {
        at: Instant,
        error_type: Option<String>,
        body: Vec<u8>,
    },
    /// A request this API does not serve (answered 404), or a response/error for a request id
    /// it never handed out (400).
    Rejected {
        at: Instant,
        method: String,
        path: String,
        status: u16,
    },
}

struct Shared {
    function_arn: String,
    /// Events waiting for a `next`; a `next` holds the lock while it waits (one consumer at a
    /// time, like one Lambda execution environment).
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    /// Request ids handed out and not yet answered.
    open: Mutex<HashMap<String, ()>>,
    calls: mpsc::UnboundedSender<Call>,
}

/// The running API. Dropping it stops the listener and closes every connection.
pub struct RuntimeApi {
    addr: SocketAddr,
    events: mpsc::UnboundedSender<Invocation>,
    calls: mpsc::UnboundedReceiver<Call>,
    server: JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    /// Listen on a free port of 127.0.0.1; events carry `function_arn` as the invoked ARN.
    pub async fn start(function_arn: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (events, queue) = mpsc::unbounded_channel();
        let (calls_tx, calls) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_arn: function_arn.to_owned(),
            queue: tokio::sync::Mutex::new(queue),
            open: Mutex::new(HashMap::new()),
            calls: calls_tx,
        });
        let server = tokio::spawn(accept_loop(listener, shared));
        Ok(Self {
            addr,
            events,
            calls,
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    pub fn push(&self, invocation: Invocation) {
        // The receiver lives in the server task, which only ends when `self` drops.
        let _ = self.events.send(invocation);
    }

    /// The next call the bootstrap made, waiting at most `timeout`.
    pub async fn next_call(&mut self, timeout: Duration) -> Option<Call> {
        tokio::time::timeout(timeout, self.calls.recv())
            .await
            .ok()
            .flatten()
    }

    /// The receiver of calls, for `select!` next to other futures.
    pub fn calls(&mut self) -> &mut mpsc::UnboundedReceiver<Call> {
        &mut self.calls
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Connection tasks live in the set: aborting this task drops it, which aborts them (a
    // `next` long-polling forever included).
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, shared.clone()));
                }
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// A parsed request: method, path, lower-cased headers, body, and its arrival.
#[derive(Debug)]
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

fn invalid(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

/// Reads one request; `None` at a clean end of the connection.
pub(crate) async fn read_request<R: AsyncBufRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    // Tolerate blank lines between requests (RFC 9112 §2.2).
    let at = loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break Instant::now();
        }
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(invalid(format!("bad request line {line:?}")));
    };
    let (method, path) = (method.to_owned(), target.to_owned());
    let mut headers = HashMap::new();
    for _ in 0..=MAX_HEADER_LINES {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Err(invalid("connection closed in the headers"));
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            let body = read_body(r, &headers).await?;
            return Ok(Some(Request {
                method,
                path,
                headers,
                body,
                at,
            }));
        }
        let Some((k, v)) = l.split_once(':') else {
            return Err(invalid(format!("bad header line {l:?}")));
        };
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
    }
    Err(invalid("too many header lines"))
}

async fn read_body<R: AsyncBufRead + Unpin>(
    r: &mut R,
    headers: &HashMap<String, String>,
) -> std::io::Result<Vec<u8>> {
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        let mut body = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).await?;
            let size = line.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
            if body.len() + size > MAX_BODY {
                return Err(invalid("body too large"));
            }
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    line.clear();
                    if r.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..]).await?;
            line.clear();
            r.read_line(&mut line).await?;
        }
    }
    let len = match headers.get("content-length") {
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| invalid(format!("bad content-length {v:?}")))?,
        None => 0,
    };
    if len > MAX_BODY {
        return Err(invalid("body too large"));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).await?;
    Ok(body)
}

/// An HTTP/1.1 response with a JSON (or given) body.
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn json(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let reason = match self.status {
            200 => "OK",
            202 => "Accepted",
            400 => "Bad Request",
            404 => "Not Found",
            _ => "",
        };
        let mut out = format!("HTTP/1.1 {} {reason}\r\n", self.status);
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut out = out.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    while let Ok(Some(req)) = read_request(&mut r).await {
        let res = shared.handle(req).await;
        if w.write_all(&res.bytes()).await.is_err() {
            return;
        }
    }
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// An X-Ray trace header as Lambda sends it (random ids; not sampled).
fn trace_id(request_id: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let hex: String = request_id
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .map(|b| b.to_ascii_lowercase() as char)
        .chain(std::iter::repeat('0'))
        .take(24)
        .collect();
    format!("Root=1-{secs:08x}-{hex};Parent={};Sampled=0", &hex[..16])
}

impl Shared {
    fn record(&self, call: Call) {
        let _ = self.calls.send(call);
    }

    async fn handle(&self, req: Request) -> Response {
        let Some(rest) = req.path.strip_prefix(PREFIX) else {
            return self.reject(&req, 404);
        };
        let segments: Vec<&str> = rest.split('/').collect();
        match (req.method.as_str(), segments.as_slice()) {
            ("GET", ["invocation", "next"]) => self.next(req.at).await,
            ("POST", ["invocation", id, kind @ ("response" | "error")]) => {
                let id = (*id).to_owned();
                if self.open.lock().unwrap().remove(&id).is_none() {
                    return self.reject(&req, 400);
                }
                let error_type = req
                    .headers
                    .get("lambda-runtime-function-error-type")
                    .cloned();
                let streamed = req
                    .headers
                    .get("lambda-runtime-function-response-mode")
                    .is_some_and(|m| m.eq_ignore_ascii_case("streaming"));
                self.record(if *kind == "response" {
                    Call::Response {
                        request_id: id,
                        at: req.at,
                        body: req.body,
                        streamed,
                    }
                } else {
                    Call::Error {
                        request_id: id,
                        at: req.at,
                        error_type,
                        body: req.body,
                    }
                });
                Response::json(202, r#"{"status":"OK"}"#)
            }
            ("POST", ["init", "error"]) => {
                self.record(Call::InitError {
                    at: req.at,
                    error_type: req
                        .headers
                        .get("lambda-runtime-function-error-type")
                        .cloned(),
                    body: req.body,
                });
                Response::json(202, r#"{"status":"OK"}"#)
            }
            _ => self.reject(&req, 404),
        }
    }

    fn reject(&self, req: &Request, status: u16) -> Response {
        self.record(Call::Rejected {
            at: req.at,
            method: req.method.clone(),
            path: req.path.clone(),
            status,
        });
        let msg = if status == 400 {
            r#"{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}"#
        } else {
            r#"{"errorMessage":"not found","errorType":"NotFound"}"#
        };
        Response::json(status, msg)
    }

    async fn next(&self, at: Instant) -> Response {
        self.record(Call::Next { at });
        let mut queue = self.queue.lock().await;
        let Some(inv) = queue.recv().await else {
            // The API is shutting down: never answer, as a frozen environment would not.
            return std::future::pending().await;
        };
        drop(queue);
        self.open.lock().unwrap().insert(inv.request_id.clone(), ());
        self.record(Call::HandedOut {
            request_id: inv.request_id.clone(),
            at: Instant::now(),
        });
        let deadline = epoch_ms() + inv.timeout.as_millis();
        Response {
            status: 200,
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                (
                    "Lambda-Runtime-Aws-Request-Id".into(),
                    inv.request_id.clone(),
                ),
                ("Lambda-Runtime-Deadline-Ms".into(), deadline.to_string()),
                (
                    "Lambda-Runtime-Invoked-Function-Arn".into(),
                    self.function_arn.clone(),
                ),
                ("Lambda-Runtime-Trace-Id".into(), trace_id(&inv.request_id)),
            ],
            body: inv.body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    fn invocation(id: &str, body: &str) -> Invocation {
        Invocation {
            request_id: id.into(),
            body: body.as_bytes().to_vec(),
            timeout: Duration::from_secs(30),
        }
    }

    async fn api() -> (RuntimeApi, String) {
        let api = RuntimeApi::start("arn:aws:lambda:eu-west-1:123456789012:function:f")
            .await
            .unwrap();
        let base = format!("http://{}{PREFIX}", api.endpoint());
        (api, base)
    }

    #[tokio::test]
    async fn next_hands_out_the_queued_event_with_the_runtime_headers() {
        let (mut api, base) = api().await;
        api.push(invocation("req-1", r#"{"hello":"world"}"#));
        let before = epoch_ms();
        let res = reqwest::get(format!("{base}invocation/next"))
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let h = res.headers().clone();
        assert_eq!(h["lambda-runtime-aws-request-id"], "req-1");
        assert_eq!(
            h["lambda-runtime-invoked-function-arn"],
            "arn:aws:lambda:eu-west-1:123456789012:function:f"
        );
        let deadline: u128 = h["lambda-runtime-deadline-ms"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(deadline >= before + 30_000 && deadline < before + 31_000);
        assert!(
            h["lambda-runtime-trace-id"]
                .to_str()
                .unwrap()
                .starts_with("Root=1-")
        );
        assert_eq!(res.text().await.unwrap(), r#"{"hello":"world"}"#);
        assert!(matches!(api.next_call(WAIT).await, Some(Call::Next { .. })));
        assert!(matches!(
            api.next_call(WAIT).await,
            Some(Call::HandedOut { request_id, .. }) if request_id == "req-1"
        ));
    }

    #[tokio::test]
    async fn response_error_and_init_error_are_recorded() {
        let (mut api, base) = api().await;
        api.push(invocation("a", "{}"));
        api.push(invocation("b", "{}"));
        let http = reqwest::Client::new();
        for _ in 0..2 {
            http.get(format!("{base}invocation/next"))
                .send()
                .await
                .unwrap();
        }
        let res = http
            .post(format!("{base}invocation/a/response"))
            .body(r#"{"statusCode":200}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        let res = http
            .post(format!("{base}invocation/b/error"))
            .header("Lambda-Runtime-Function-Error-Type", "Runtime.Boom")
            .body(r#"{"errorMessage":"boom"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        // A second answer to an answered request, and an id never handed out: 400.
        for id in ["a", "zzz"] {
            let res = http
                .post(format!("{base}invocation/{id}/response"))
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 400, "{id}");
        }
        let res = http
            .post(format!("{base}init/error"))
            .header("Lambda-Runtime-Function-Error-Type", "Runtime.InitFailed")
            .body(r#"{"errorMessage":"no config"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 202);
        let res = http
            .get(format!("http://{}/nope", api.endpoint()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);

        let mut calls = Vec::new();
        while let Some(c) = api.next_call(Duration::from_millis(200)).await {
            calls.push(c);
        }
        let responses: Vec<_> = calls
            .iter()
            .filter_map(|c| match c {
                Call::Response {
                    request_id, body, ..
                } => Some((request_id.as_str(), body.as_slice())),
                _ => None,
            })
            .collect();
        assert_eq!(responses, [("a", br#"{"statusCode":200}"#.as_slice())]);
        assert!(calls.iter().any(|c| matches!(c,
            Call::Error { request_id, error_type: Some(t), .. }
                if request_id == "b" && t == "Runtime.Boom")));
        assert!(calls.iter().any(|c| matches!(c,
            Call::InitError { error_type: Some(t), body, .. }
                if t == "Runtime.InitFailed" && body == br#"{"errorMessage":"no config"}"#)));
        let rejected: Vec<u16> = calls
            .iter()
            .filter_map(|c| match c {
                Call::Rejected { status, .. } => Some(*status),
                _ => None,
            })
            .collect();
        assert_eq!(rejected, [400, 400, 404]);
    }

    #[tokio::test]
    async fn next_waits_for_an_event() {
        let (api, base) = api().await;
        let waiting = tokio::spawn(async move {
            reqwest::get(format!("{base}invocation/next"))
                .await
                .unwrap()
                .headers()["lambda-runtime-aws-request-id"]
                .to_str()
                .unwrap()
                .to_owned()
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished());
        api.push(invocation("late", "{}"));
        let id = tokio::time::timeout(WAIT, waiting).await.unwrap().unwrap();
        assert_eq!(id, "late");
    }

    #[tokio::test]
    async fn parses_chunked_bodies_and_keep_alive() {
        let raw = b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                    5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n\
                    GET /y HTTP/1.1\r\ncontent-length: 2\r\n\r\nok";
        let mut r = BufReader::new(&raw[..]);
        let a = read_request(&mut r).await.unwrap().unwrap();
        assert_eq!((a.method.as_str(), a.path.as_str()), ("POST", "/x"));
        assert_eq!(a.body, b"hello world");
        let b = read_request(&mut r).await.unwrap().unwrap();
        assert_eq!((b.path.as_str(), b.body.as_slice()), ("/y", &b"ok"[..]));
        assert!(read_request(&mut r).await.unwrap().is_none());
        let mut bad = BufReader::new(&b"GET /z HTTP/1.1\r\ncontent-length: x\r\n\r\n"[..]);
        assert!(read_request(&mut bad).await.is_err());
    }
}
