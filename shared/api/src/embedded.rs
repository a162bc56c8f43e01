//! Wiring of the embedded adapters (`javumbo-storage-local`) into an [`AppState`]: what
//! `javumbo-local` runs on, and what the Lambda functions run on until the AWS adapters land.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use javumbo_collection::{SharedClock, SystemClock};
use javumbo_session::manager::{Ports, SessionConfig, SessionManager};
use javumbo_session::{Metrics, handle_flush_request};
use javumbo_storage_local::{
    BusFaults, DirBlobStore, FaultyStore, FlushHandler, LocalBus, SqliteStore, StoreFaults,
};

use crate::{ApiConfig, AppState};

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("cannot open the embedded stores under {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error(transparent)]
    Config(#[from] crate::ConfigError),
    #[error("session settings: {0}")]
    Session(String),
}

/// Fault injection for load tests (local mode only); all zero = transparent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    pub bus: BusFaults,
    pub store: StoreFaults,
}

/// One container's handles on the embedded stores of a data directory: blobs under `blobs/`,
/// users, sessions and the journal in `javumbo.sqlite3`, and an in-process bus whose deliveries
/// run the flush handler. Both stores are safe to share between threads and processes, so every
/// container opens its own handles (and counts its own store calls in `metrics`).
pub fn open_ports(
    data: &Path,
    metrics: &Arc<Metrics>,
    clock: &SharedClock,
    faults: &Faults,
) -> Result<Ports, EmbeddedError> {
    let err = |reason: String| EmbeddedError::Open {
        path: data.to_owned(),
        reason,
    };
    std::fs::create_dir_all(data).map_err(|e| err(e.to_string()))?;
    let blobs =
        DirBlobStore::open(data.join("blobs"), metrics.clone()).map_err(|e| err(e.to_string()))?;
    let store = SqliteStore::open(data.join("javumbo.sqlite3"), metrics.clone())
        .map_err(|e| err(e.to_string()))?;
    let blobs = Arc::new(FaultyStore::new(blobs, faults.store.clone()));
    let store = Arc::new(FaultyStore::new(store, faults.store.clone()));

    // The handler needs the ports, which hold the bus: tie the knot once both exist.
    let ports_cell: Arc<OnceLock<Ports>> = Arc::new(OnceLock::new());
    let work_dir = data.join("flush-work");
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
                    // timeout covers a failed flush (DESIGN §5.5).
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

/// One container: a session manager with its own id, cache directory and stores.
pub fn container_state(
    data: &Path,
    container_id: &str,
    clock: SharedClock,
    config: ApiConfig,
    faults: &Faults,
) -> Result<AppState, EmbeddedError> {
    let metrics = Arc::new(Metrics::default());
    let ports = open_ports(data, &metrics, &clock, faults)?;
    let cfg = SessionConfig::new(container_id, data.join("containers").join(container_id))
        .with_env_overrides()
        .map_err(EmbeddedError::Session)?;
    let users = ports.users.clone();
    let sessions = SessionManager::new(cfg, ports, clock.clone(), metrics);
    Ok(AppState::new(sessions, users, config, clock))
}

/// What a Lambda function builds once per container: config from the environment, embedded
/// stores under `JAVUMBO_DATA` (default `/tmp/javumbo`, the only writable path on Lambda).
pub fn state_from_env() -> Result<AppState, EmbeddedError> {
    let config = ApiConfig::from_env(false)?;
    let data = data_dir_from_env();
    let clock: SharedClock = Arc::new(SystemClock);
    let id = uuid::Uuid::new_v4().to_string();
    container_state(&data, &id, clock, config, &Faults::default())
}

/// `JAVUMBO_DATA`, default `/tmp/javumbo`.
pub fn data_dir_from_env() -> PathBuf {
    std::env::var_os("JAVUMBO_DATA").map_or_else(|| PathBuf::from("/tmp/javumbo"), PathBuf::from)
}
