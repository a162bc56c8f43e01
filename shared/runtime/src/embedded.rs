//! The embedded adapters (`javumbo-storage-local`) wired into [`Ports`]: what `javumbo-local`
//! runs on, and what a Lambda function runs on when no AWS backend is configured.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use javumbo_collection::SharedClock;
use javumbo_session::{Metrics, Ports, handle_flush_request};
use javumbo_storage_local::{
    BusFaults, DirBlobStore, FaultyStore, FlushHandler, LocalBus, LocalStoreError, SqliteStore,
    StoreFaults,
};

use crate::settings::FaultSettings;

#[derive(Debug, thiserror::Error)]
#[error("cannot open the embedded stores under {path}")]
pub struct OpenError {
    pub path: PathBuf,
    #[source]
    pub source: OpenCause,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenCause {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] LocalStoreError),
}

/// Fault injection for the load harness (`javumbo-local --fault-*`); all zero = transparent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    pub bus: BusFaults,
    pub store: StoreFaults,
}

impl From<&FaultSettings> for Faults {
    fn from(s: &FaultSettings) -> Self {
        Self {
            bus: BusFaults {
                drop_rate: s.fault_bus_drop,
                duplicate_rate: s.fault_bus_dup,
                delay: Duration::from_millis(s.fault_bus_delay_ms),
                seed: s.fault_seed,
            },
            store: StoreFaults {
                fail_rate: s.fault_store_fail,
                ambiguous_rate: s.fault_store_ambiguous,
                seed: s.fault_seed,
                ..StoreFaults::default()
            },
        }
    }
}

/// One container's handles on the embedded stores of a data directory: blobs under `blobs/`,
/// users, sessions and the journal in `javumbo.sqlite3`, and an in-process bus whose deliveries
/// run the flush handler (assembling snapshots under `flush-work/`). Both stores are safe to
/// share between threads and processes, so every container opens its own handles (and counts
/// its own store calls in `metrics`).
pub fn open_ports(
    data: &Path,
    metrics: &Arc<Metrics>,
    clock: &SharedClock,
    faults: &Faults,
) -> Result<Ports, OpenError> {
    let err = |source: OpenCause| OpenError {
        path: data.to_owned(),
        source,
    };
    std::fs::create_dir_all(data).map_err(|e| err(e.into()))?;
    let blobs =
        DirBlobStore::open(data.join("blobs"), metrics.clone()).map_err(|e| err(e.into()))?;
    let store = SqliteStore::open(data.join("javumbo.sqlite3"), metrics.clone())
        .map_err(|e| err(e.into()))?;
    let blobs = Arc::new(FaultyStore::new(blobs, faults.store.clone()));
    let store = Arc::new(FaultyStore::new(store, faults.store.clone()));

    // The handler needs the ports, which hold the bus: tie the knot once both exist.
    let ports_cell: Arc<OnceLock<Ports>> = Arc::new(OnceLock::new());
    let work_dir = flush_work_dir(data);
    let handler: FlushHandler = {
        let (cell, clock, metrics) = (ports_cell.clone(), clock.clone(), metrics.clone());
        Arc::new(move |req| {
            let (cell, clock, metrics, work_dir) = (
                cell.clone(),
                clock.clone(),
                metrics.clone(),
                work_dir.clone(),
            );
            Box::pin(async move {
                let Some(ports) = cell.get() else { return };
                if let Err(e) = handle_flush_request(ports, &req, &clock, &metrics, &work_dir).await
                {
                    // At-least-once delivery has no retry here; the requester's takeover
                    // timeout covers a flush that never happens.
                    tracing::warn!(username = %req.username, error = %e, "flush handler failed");
                }
            })
        })
    };
    let bus = LocalBus::new(handler, metrics.clone());
    bus.set_faults(faults.bus.clone());
    let ports = Ports {
        blobs,
        sessions: store.clone(),
        users: store,
        bus: Arc::new(bus),
    };
    let _ = ports_cell.set(ports.clone());
    Ok(ports)
}

/// Where the flush handler assembles snapshots (on every backend: under the data directory).
pub fn flush_work_dir(data: &Path) -> PathBuf {
    data.join("flush-work")
}
