//! The world the session manager's unit tests run in: containers (`SessionManager`s with their
//! own cache directories and metrics) over one in-memory backend, and a manual clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use javumbo_collection::{Collection, CollectionError, ManualClock, SharedClock};

use crate::flush;
use crate::manager::{SessionConfig, SessionManager};
use crate::memory::MemoryBackend;
use crate::metrics::Metrics;
use crate::ports::Ports;
use crate::username::Username;

pub const T0: i64 = 1_700_000_000_000;

pub struct World {
    pub backend: Arc<MemoryBackend>,
    pub clock: Arc<ManualClock>,
    pub dir: tempfile::TempDir,
    pub user: Username,
}

impl World {
    pub async fn new() -> Self {
        let w = Self {
            backend: MemoryBackend::new(),
            clock: ManualClock::new(T0),
            dir: tempfile::tempdir().unwrap(),
            user: Username::parse("alice").unwrap(),
        };
        w.container("setup", |_| {})
            .create_collection(&w.user)
            .await
            .unwrap();
        w
    }

    pub fn container(
        &self,
        id: &str,
        tweak: impl FnOnce(&mut SessionConfig),
    ) -> Arc<SessionManager> {
        self.container_with(id, tweak, |p| p)
    }

    pub fn container_with(
        &self,
        id: &str,
        tweak: impl FnOnce(&mut SessionConfig),
        wrap: impl FnOnce(Ports) -> Ports,
    ) -> Arc<SessionManager> {
        let mut cfg = SessionConfig::new(id, self.dir.path().join(id));
        cfg.takeover_timeout = Duration::from_millis(300);
        tweak(&mut cfg);
        let metrics = Arc::new(Metrics::default());
        let ports = wrap(self.backend.ports(metrics.clone()));
        SessionManager::new(cfg, ports, self.clock.clone(), metrics)
    }

    /// A flush worker, as the local bus runs it.
    pub fn spawn_flush_worker(&self) -> tokio::task::JoinHandle<()> {
        let backend = self.backend.clone();
        let clock: SharedClock = self.clock.clone();
        let work = self.dir.path().join("flusher");
        tokio::spawn(async move {
            let metrics = Metrics::default();
            let ports = backend.ports(Arc::new(Metrics::default()));
            loop {
                let req = backend.next_flush_request().await;
                let _ = flush::handle_flush_request(&ports, &req, &clock, &metrics, &work).await;
            }
        })
    }
}

/// An operation adding one card with this front.
pub fn add(
    front: &'static str,
) -> impl Fn(&Collection) -> Result<i64, CollectionError> + Send + Sync {
    move |c| Ok(c.add_card(front, "back", None)?.card_id)
}

/// A read-only operation: the fronts of every note, oldest first.
pub fn fronts(c: &Collection) -> Result<Vec<String>, CollectionError> {
    let mut st = c.conn().prepare("SELECT flds FROM notes ORDER BY id")?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r?.split('\u{1f}').next().unwrap_or_default().to_owned());
    }
    Ok(out)
}

pub fn count(m: &Metrics, f: impl Fn(&Metrics) -> &AtomicU64) -> u64 {
    f(m).load(Ordering::Relaxed)
}
