//! Per-container counters (`docs/ARCHITECTURE.md#metrics`). Adapters count their store calls
//! here; the session manager counts cache hits, takeovers and journal bytes. `javumbo-local`
//! sums them over containers for `GET /_local/metrics`; on Lambda they are emitted as EMF.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// Monotonic counters, one per kind of event.
        #[derive(Debug, Default)]
        pub struct Metrics { $(pub $name: AtomicU64,)* }

        impl Metrics {
            /// Every counter by name.
            pub fn snapshot(&self) -> BTreeMap<&'static str, u64> {
                let mut m = BTreeMap::new();
                $(m.insert(stringify!($name), self.$name.load(Ordering::Relaxed));)*
                m
            }
        }
    };
}

counters!(
    blob_get,
    blob_put,
    blob_delete,
    table_read,
    table_write,
    // Estimated DynamoDB write units of the session store's writes (the cost model's line).
    table_write_units,
    journal_commit,
    journal_read,
    journal_bytes,
    journal_spill,
    bus_publish,
    cache_hit,
    cache_miss,
    catch_up,
    compaction,
    takeover,
    takeover_timeout,
    takeover_wait_ms,
    fence_retry,
    flush,
    requests,
    errors_5xx,
);

impl Metrics {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
    pub fn incr(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sum several containers' snapshots.
pub fn sum<'a>(snaps: impl IntoIterator<Item = BTreeMap<&'a str, u64>>) -> BTreeMap<&'a str, u64> {
    let mut total = BTreeMap::new();
    for s in snaps {
        for (k, v) in s {
            *total.entry(k).or_insert(0) += v;
        }
    }
    total
}
