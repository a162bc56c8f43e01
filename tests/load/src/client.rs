//! One HTTP client of one virtual student. Every call is timed into [`Metrics`] under a route
//! label (the path template, so `/api/cards/17` and `/api/cards/18` share a histogram).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;

use crate::metrics::{Metrics, Outcome};

/// A response as the scenarios need it. `status == None` means no response at all (timeout,
/// connection refused or reset): the request may or may not have been applied.
#[derive(Debug, Clone, Default)]
pub struct Resp {
    pub status: Option<u16>,
    pub json: Value,
    pub body: Vec<u8>,
    pub session_id: Option<String>,
}

impl Resp {
    pub fn ok(&self) -> bool {
        matches!(self.status, Some(s) if (200..300).contains(&s))
    }

    pub fn i64(&self, key: &str) -> Option<i64> {
        self.json.get(key).and_then(Value::as_i64)
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(Value::as_str)
    }
}

/// A global request-rate limit shared by every user: each request takes the next free slot,
/// `1/rate` apart. Slots never accumulate while the harness is idle, so there is no burst
/// after a slow phase.
#[derive(Debug)]
pub struct RateLimiter {
    start: Instant,
    interval_ns: u64,
    next_ns: AtomicU64,
}

impl RateLimiter {
    pub fn new(per_second: f64) -> Self {
        Self {
            start: Instant::now(),
            interval_ns: (1e9 / per_second.max(0.001)) as u64,
            next_ns: AtomicU64::new(0),
        }
    }

    /// The delay before the caller may send, reserving its slot.
    pub fn reserve(&self) -> Duration {
        let now = self.start.elapsed().as_nanos() as u64;
        let mut cur = self.next_ns.load(Ordering::Relaxed);
        loop {
            let slot = cur.max(now);
            match self.next_ns.compare_exchange_weak(
                cur,
                slot + self.interval_ns,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Duration::from_nanos(slot - now),
                Err(actual) => cur = actual,
            }
        }
    }
}

/// Parse `Server-Timing: app;dur=0.42` (milliseconds) if the server sends it.
pub fn server_timing(value: &str) -> Option<Duration> {
    value.split(',').find_map(|metric| {
        metric.split(';').find_map(|p| {
            p.trim()
                .strip_prefix("dur=")
                .and_then(|d| d.parse::<f64>().ok())
                .filter(|d| d.is_finite() && *d >= 0.0)
                .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        })
    })
}

#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: Arc<str>,
    token: Option<Arc<str>>,
    metrics: Arc<Metrics>,
    limiter: Option<Arc<RateLimiter>>,
}

impl Api {
    pub fn new(
        http: reqwest::Client,
        base: &str,
        metrics: Arc<Metrics>,
        limiter: Option<Arc<RateLimiter>>,
    ) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').into(),
            token: None,
            metrics,
            limiter,
        }
    }

    pub fn build_http(timeout: Duration) -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()
    }

    /// The same client reporting into other metrics (setup vs. the measured phase).
    pub fn with_metrics(
        mut self,
        metrics: Arc<Metrics>,
        limiter: Option<Arc<RateLimiter>>,
    ) -> Self {
        self.metrics = metrics;
        self.limiter = limiter;
        self
    }

    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The same user on a separate connection pool (the adversarial scenario's "other device").
    pub fn on_new_client(&self, timeout: Duration) -> reqwest::Result<Self> {
        Ok(Self {
            http: Self::build_http(timeout)?,
            ..self.clone()
        })
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Send one request. `expected` lists non-2xx statuses the scenario treats as normal (they
    /// are not counted as errors), e.g. a flush that lost a race with a takeover.
    pub async fn call(
        &self,
        route: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        expected: &[u16],
    ) -> Resp {
        if let Some(l) = &self.limiter {
            let wait = l.reserve();
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let started = Instant::now();
        let sent = req.send().await;
        let (resp, server) = match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                let header = |name: &str| {
                    r.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let session_id = header("x-session-id");
                let server = header("server-timing").as_deref().and_then(server_timing);
                match r.bytes().await {
                    Ok(bytes) => {
                        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                        (
                            Resp {
                                status: Some(status),
                                json,
                                body: bytes.to_vec(),
                                session_id,
                            },
                            server,
                        )
                    }
                    // The status arrived but the body did not: the server did answer, so the
                    // write's fate is known from the status.
                    Err(_) => (
                        Resp {
                            status: Some(status),
                            session_id,
                            ..Resp::default()
                        },
                        server,
                    ),
                }
            }
            Err(_) => (Resp::default(), None),
        };
        let outcome = match resp.status {
            Some(s) if (200..300).contains(&s) || expected.contains(&s) => Outcome::Ok,
            Some(s) => Outcome::Status(s),
            None => Outcome::Transport,
        };
        self.metrics
            .record(route, started.elapsed(), server, outcome);
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS targets are `https://…execute-api…`: the client must speak TLS. A TLS-less reqwest
    /// refuses the URL before connecting ("scheme is not http"); with rustls it starts a
    /// handshake, which this plain-TCP listener breaks.
    #[tokio::test]
    async fn https_targets_get_a_tls_handshake() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                drop(sock);
            }
        });
        let http = Api::build_http(Duration::from_secs(5)).unwrap();
        let err = http
            .get(format!("https://{addr}/api/health"))
            .send()
            .await
            .unwrap_err();
        // hyper's refusal has no error kind of its own, only this message.
        let chain = format!("{err:?}");
        assert!(
            !chain.contains("scheme is not http"),
            "https is not supported: {chain}"
        );
    }

    #[test]
    fn server_timing_is_read_in_milliseconds() {
        assert_eq!(
            server_timing("app;dur=0.5"),
            Some(Duration::from_micros(500))
        );
        assert_eq!(
            server_timing("db;desc=\"x\", app;dur=2"),
            Some(Duration::from_millis(2))
        );
        assert_eq!(server_timing("app"), None);
        assert_eq!(server_timing("app;dur=-1"), None);
    }

    #[test]
    fn rate_limiter_spaces_slots_without_banking_idle_time() {
        let l = RateLimiter::new(1000.0);
        let first = l.reserve();
        assert!(first < Duration::from_millis(1));
        let waits: Vec<_> = (0..10).map(|_| l.reserve()).collect();
        // Ten more slots at 1 ms spacing: the last is ~10 ms out.
        assert!(waits[9] >= Duration::from_millis(9), "{waits:?}");
        std::thread::sleep(Duration::from_millis(50));
        // After idling, the next slot is now, not a burst of banked ones.
        assert!(l.reserve() < Duration::from_millis(1));
        assert!(l.reserve() >= Duration::from_micros(900));
    }
}
