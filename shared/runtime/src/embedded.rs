//! The embedded adapters (`javumbo-storage-local`) wired into [`Ports`]: what `javumbo-local`
//! runs on, and what a Lambda function runs on when no AWS backend is configured.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use javumbo_collection::SharedClock;
use javumbo_session::{Metrics, Ports, handle_flush_request};
use javumbo_storage_local::{DirBlobStore, FlushHandler, LocalBus, LocalStoreError, SqliteStore};

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
    #[error(transparent)]
    Faults(#[from] FaultsUnavailable),
}

/// The `--fault-*` settings as the one fault injector (`javumbo_session::faults`, compiled in
/// with this crate's `faults` feature) around the stores and the bus; all zero: not wrapped.
/// The store plan draws from one seeded source, the bus plan from another.
#[cfg(feature = "faults")]
fn inject_faults(mut ports: Ports, s: &FaultSettings) -> Result<Ports, FaultsUnavailable> {
    use std::time::Duration;

    use javumbo_session::faults::{FaultPlan, Faults, Faulty};
    let store = FaultPlan::store_shares(s.fault_store_fail, s.fault_store_ambiguous);
    if store.is_active() {
        let faults = Faults::new(s.fault_seed, store);
        ports.blobs = Arc::new(Faulty::new(ports.blobs, faults.clone()));
        ports.sessions = Arc::new(Faulty::new(ports.sessions, faults.clone()));
        ports.users = Arc::new(Faulty::new(ports.users, faults));
    }
    let delay = Duration::from_millis(s.fault_bus_delay_ms);
    let bus = FaultPlan::bus(s.fault_bus_drop, s.fault_bus_dup, delay);
    if bus.is_active() {
        ports.bus = Arc::new(Faulty::new(ports.bus, Faults::new(s.fault_seed, bus)));
    }
    Ok(ports)
}

#[cfg(not(feature = "faults"))]
fn inject_faults(ports: Ports, s: &FaultSettings) -> Result<Ports, FaultsUnavailable> {
    let none = s.fault_store_fail <= 0.0
        && s.fault_store_ambiguous <= 0.0
        && s.fault_bus_drop <= 0.0
        && s.fault_bus_dup <= 0.0
        && s.fault_bus_delay_ms == 0;
    if none {
        Ok(ports)
    } else {
        Err(FaultsUnavailable)
    }
}

/// `--fault-*` settings given to a build without the injector.
#[derive(Debug, thiserror::Error)]
#[error(
    "fault injection (--fault-*) needs javumbo-runtime's `faults` feature (javumbo-local has it)"
)]
pub struct FaultsUnavailable;

/// One container's handles on the embedded stores of a data directory: blobs under `blobs/`,
/// users, sessions and the journal in `javumbo.sqlite3`, and an in-process bus whose deliveries
/// run the flush handler (assembling snapshots under `flush-work/`). Both stores are safe to
/// share between threads and processes, so every container opens its own handles (and counts
/// its own store calls in `metrics`).
pub fn open_ports(
    data: &Path,
    metrics: &Arc<Metrics>,
    clock: &SharedClock,
    faults: &FaultSettings,
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
    let store = Arc::new(store);
    let ports = Ports {
        blobs: Arc::new(blobs),
        sessions: store.clone(),
        users: store,
        // Replaced below: the bus needs the finished ports.
        bus: Arc::new(javumbo_storage_aws::NoTopicBus),
    };
    with_local_bus(ports, flush_work_dir(data), metrics, clock, faults).map_err(err)
}

/// `ports` with an in-process bus whose deliveries run the flush handler on those same ports
/// (assembling snapshots under `work_dir`), and the `--fault-*` injector around them: the
/// embedded stores, and `javumbo-local --stores aws` without an SNS topic.
pub(crate) fn with_local_bus(
    mut ports: Ports,
    work_dir: PathBuf,
    metrics: &Arc<Metrics>,
    clock: &SharedClock,
    faults: &FaultSettings,
) -> Result<Ports, OpenCause> {
    // The handler needs the ports, which hold the bus: tie the knot once both exist.
    let ports_cell: Arc<OnceLock<Ports>> = Arc::new(OnceLock::new());
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
    ports.bus = Arc::new(LocalBus::new(handler, metrics.clone()));
    let ports = inject_faults(ports, faults)?;
    let _ = ports_cell.set(ports.clone());
    Ok(ports)
}

/// Where the flush handler assembles snapshots (on every backend: under the data directory).
pub fn flush_work_dir(data: &Path) -> PathBuf {
    data.join("flush-work")
}
