//! The container's [`Metrics`] as CloudWatch Embedded Metric Format (EMF) log lines.
//!
//! Lambda ships stdout to CloudWatch Logs, which turns any JSON line carrying an `_aws`
//! block into metrics: no `PutMetricData` calls, no extra latency on the request path. The
//! counters are monotonic per container, so each line carries the increments since the
//! previous one (one line per invocation); summing the datapoints gives the totals.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use javumbo_session::Metrics;
use serde_json::{Map, Value, json};

/// CloudWatch namespace of every javumbo metric (the CDK stack's alarms read it).
pub const NAMESPACE: &str = "Javumbo";

/// The counters published as CloudWatch metrics: what the CDK stack's alarms and dashboard read
/// (`infra-cdk/lib/monitoring.ts`, `APP_METRICS`) plus the session protocol's own health. Every
/// other counter stays in the same EMF line as a plain property, queryable in Logs Insights,
/// because each published metric costs $0.30 a month whether or not anyone looks at it: all 23
/// counters were $6.90, most of a small deployment's bill.
pub const PUBLISHED: [&str; 9] = [
    "takeover_timeout",
    "takeover",
    "takeover_wait_ms",
    "cache_hit",
    "cache_miss",
    "catch_up",
    "compaction",
    "journal_bytes",
    "errors_5xx",
];

/// CloudWatch metric name of a counter: `takeover_timeout` → `TakeoverTimeout`, the names the
/// CDK stack's alarms and dashboard use.
pub fn metric_name(counter: &str) -> String {
    counter
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map_or_else(String::new, |f| {
                f.to_ascii_uppercase().to_string() + c.as_str()
            })
        })
        .collect()
}

fn unit(name: &str) -> &'static str {
    if name.ends_with("_ms") {
        "Milliseconds"
    } else if name.ends_with("_bytes") {
        "Bytes"
    } else {
        "Count"
    }
}

/// Remembers what was last reported so each line holds only the increments.
#[derive(Debug)]
pub struct EmfEmitter {
    function: String,
    last: Mutex<BTreeMap<&'static str, u64>>,
}

impl EmfEmitter {
    /// `function` (e.g. "review") is recorded as a property of every line.
    pub fn new(function: impl Into<String>) -> Self {
        Self {
            function: function.into(),
            last: Mutex::new(BTreeMap::new()),
        }
    }

    /// The EMF document for the increments since the previous call.
    pub fn document(&self, metrics: &Metrics) -> Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.document_at(metrics, now)
    }

    fn document_at(&self, metrics: &Metrics, timestamp_ms: u64) -> Value {
        let snap = metrics.snapshot();
        // A poisoned lock only means another thread panicked mid-update; the map is still a
        // valid (if slightly stale) baseline.
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let mut doc = Map::new();
        let mut defs = Vec::with_capacity(snap.len());
        for (name, value) in &snap {
            let delta = value.saturating_sub(last.get(name).copied().unwrap_or(0));
            let metric = metric_name(name);
            if PUBLISHED.contains(name) {
                defs.push(json!({ "Name": metric, "Unit": unit(name) }));
            }
            doc.insert(metric, json!(delta));
        }
        *last = snap;
        doc.insert("function".into(), json!(self.function));
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    // One account-wide series per counter (what the alarms read); the function
                    // name stays a plain property, queryable in Logs Insights, at no metric cost.
                    "Dimensions": [[]],
                    "Metrics": defs,
                }],
            }),
        );
        Value::Object(doc)
    }

    /// Prints the document as one stdout line, where Lambda's log agent picks it up. Kept off
    /// `tracing` on purpose: EMF must be a top-level JSON object, not a field of a log event.
    pub fn emit(&self, metrics: &Metrics) {
        println!("{}", self.document(metrics));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_increments_with_units_and_dimension() {
        let m = Metrics::default();
        let emf = EmfEmitter::new("review");
        Metrics::add(&m.cache_hit, 3);
        Metrics::add(&m.takeover_wait_ms, 40);
        let d = emf.document_at(&m, 1_700_000_000_000);
        assert_eq!(d["CacheHit"], 3);
        assert_eq!(d["TakeoverWaitMs"], 40);
        assert_eq!(d["function"], "review");
        assert_eq!(d["_aws"]["Timestamp"], 1_700_000_000_000u64);
        let cw = &d["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], NAMESPACE);
        assert_eq!(cw["Dimensions"], json!([[]]));
        let defs = cw["Metrics"].as_array().unwrap();
        let def = |n: &str| defs.iter().find(|d| d["Name"] == n).unwrap()["Unit"].clone();
        assert_eq!(def("TakeoverWaitMs"), "Milliseconds");
        assert_eq!(def("JournalBytes"), "Bytes");
        assert_eq!(def("CatchUp"), "Count");
        // Store calls are in the line (the emulator test and Logs Insights read them) but are
        // not metrics: they would cost money and nothing alarms on them.
        assert_eq!(d["BlobGet"], 0);
        assert!(defs.iter().all(|x| x["Name"] != "BlobGet"));
        assert_eq!(defs.len(), PUBLISHED.len());
        for alarmed in [
            "TakeoverTimeout",
            "Takeover",
            "CacheHit",
            "CacheMiss",
            "JournalBytes",
        ] {
            assert!(
                d.get(alarmed).is_some() && defs.iter().any(|x| x["Name"] == alarmed),
                "{alarmed}: a metric the CDK alarms read must be published"
            );
        }
        // Every metric a definition names is present as a top-level member (EMF requirement).
        for d2 in defs {
            assert!(d.get(d2["Name"].as_str().unwrap()).is_some());
        }

        Metrics::incr(&m.cache_hit);
        let d = emf.document_at(&m, 1_700_000_000_001);
        assert_eq!(d["CacheHit"], 1, "second line carries only the increment");
        assert_eq!(d["TakeoverWaitMs"], 0);
    }
}
