//! Client-side measurements: per-route latency histograms (HdrHistogram), outcomes, errors by
//! kind and a per-second timeline. One mutex: at a few thousand requests per second the
//! critical section (two histogram increments) is far cheaper than the request itself.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Microsecond histogram covering 1 µs .. 10 min at 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that satisfy hdrhistogram's preconditions (low >= 1,
    // high >= 2 * low, sigfig <= 5), so construction cannot fail.
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap_or_else(|_| unreachable!())
}

#[derive(Debug)]
pub struct RouteStats {
    pub latency_us: Histogram<u64>,
    /// Server-reported handler time (`Server-Timing: app;dur=<ms>`), when the server sends it.
    pub server_us: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
}

impl RouteStats {
    fn new() -> Self {
        Self {
            latency_us: new_histogram(),
            server_us: new_histogram(),
            ok: 0,
            errors: 0,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct Second {
    pub ok: u64,
    pub errors: u64,
}

#[derive(Debug)]
struct Inner {
    routes: BTreeMap<&'static str, RouteStats>,
    all: Histogram<u64>,
    errors: BTreeMap<String, u64>,
    timeline: Vec<Second>,
    requests: u64,
    error_count: u64,
}

/// What happened to one request, as far as the client can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx, or a status the scenario expected.
    Ok,
    /// An unexpected status.
    Status(u16),
    /// Timed out or the connection failed.
    Transport,
}

#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    inner: Mutex<Inner>,
}

/// A consistent copy for the progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Live {
    pub requests: u64,
    pub errors: u64,
    pub p99_ms: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            inner: Mutex::new(Inner {
                routes: BTreeMap::new(),
                all: new_histogram(),
                errors: BTreeMap::new(),
                timeline: Vec::new(),
                requests: 0,
                error_count: 0,
            }),
        }
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves counters that are still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record(
        &self,
        route: &'static str,
        latency: Duration,
        server: Option<Duration>,
        outcome: Outcome,
    ) {
        let us = (latency.as_micros() as u64).max(1);
        let second = self.started.elapsed().as_secs() as usize;
        let mut guard = self.lock();
        let g = &mut *guard;
        g.requests += 1;
        g.all.saturating_record(us);
        if g.timeline.len() <= second {
            g.timeline.resize(second + 1, Second::default());
        }
        let stats = g.routes.entry(route).or_insert_with(RouteStats::new);
        stats.latency_us.saturating_record(us);
        if let Some(s) = server {
            stats
                .server_us
                .saturating_record((s.as_micros() as u64).max(1));
        }
        if outcome == Outcome::Ok {
            stats.ok += 1;
            g.timeline[second].ok += 1;
            return;
        }
        stats.errors += 1;
        g.timeline[second].errors += 1;
        g.error_count += 1;
        let key = match outcome {
            Outcome::Status(code) => format!("{route} → {code}"),
            _ => format!("{route} → timeout/connection"),
        };
        *g.errors.entry(key).or_default() += 1;
    }

    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    pub fn live(&self) -> Live {
        let g = self.lock();
        Live {
            requests: g.requests,
            errors: g.error_count,
            p99_ms: if g.all.is_empty() {
                0.0
            } else {
                g.all.value_at_quantile(0.99) as f64 / 1000.0
            },
        }
    }

    /// Run `f` over the current state (for reports).
    pub fn with<T>(&self, f: impl FnOnce(&Snapshot<'_>) -> T) -> T {
        let g = self.lock();
        f(&Snapshot {
            routes: &g.routes,
            all: &g.all,
            errors: &g.errors,
            timeline: &g.timeline,
            requests: g.requests,
            error_count: g.error_count,
        })
    }
}

pub struct Snapshot<'a> {
    pub routes: &'a BTreeMap<&'static str, RouteStats>,
    pub all: &'a Histogram<u64>,
    pub errors: &'a BTreeMap<String, u64>,
    pub timeline: &'a [Second],
    pub requests: u64,
    pub error_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_routes_errors_and_timeline() {
        let m = Metrics::new();
        for i in 1..=100u64 {
            m.record(
                "GET /api/review",
                Duration::from_micros(i * 10),
                None,
                Outcome::Ok,
            );
        }
        m.record(
            "POST /api/review",
            Duration::from_millis(2),
            Some(Duration::from_micros(300)),
            Outcome::Status(503),
        );
        m.record(
            "POST /api/review",
            Duration::from_millis(2),
            None,
            Outcome::Transport,
        );
        let live = m.live();
        assert_eq!(live.requests, 102);
        assert_eq!(live.errors, 2);
        m.with(|s| {
            let r = &s.routes["GET /api/review"];
            assert_eq!(r.ok, 100);
            // 3 significant digits: p50 of 10..1000 µs is 500 µs within 0.1 %.
            let p50 = r.latency_us.value_at_quantile(0.5);
            assert!((499..=501).contains(&p50), "{p50}");
            assert_eq!(s.routes["POST /api/review"].server_us.len(), 1);
            assert_eq!(s.errors["POST /api/review → 503"], 1);
            assert_eq!(s.errors["POST /api/review → timeout/connection"], 1);
            assert_eq!(s.timeline.iter().map(|x| x.ok + x.errors).sum::<u64>(), 102);
        });
    }
}
