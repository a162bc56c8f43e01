//! Seeded fault injection around any ports: store calls that fail `Unavailable` before or
//! AFTER applying their write (the ambiguous case), and a bus that drops, duplicates and delays.
//! `ConditionFailed` is never injected: it is a definite answer the protocol relies on.
//!
//! Every call can also yield to the scheduler first, so a single-threaded simulation can
//! interleave containers at every store call.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::ports::Ports;
use crate::ports::{
    Blob, BlobStore, DeviceKey, DeviceKeyStore, Fence, FlushBus, FlushRequest, JournalEntry,
    PutCondition, SessionExpect, SessionItem, SessionStore, StoreError, StoreResult, UserRecord,
    UserStore,
};
use crate::username::Username;

/// Probabilities (0..=1) of each fault per call.
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultPlan {
    /// Fail without doing anything.
    pub fail_before: f64,
    /// Do the call, then report `Unavailable` anyway (only for writes).
    pub fail_after: f64,
    pub bus_drop: f64,
    pub bus_duplicate: f64,
    pub bus_delay: f64,
    /// Yield to the scheduler before every call.
    pub yield_every_call: bool,
}

/// The shared, seeded source of faults.
pub struct Faults {
    rng: Mutex<StdRng>,
    plan: FaultPlan,
    enabled: AtomicBool,
}

impl Faults {
    pub fn new(seed: u64, plan: FaultPlan) -> Arc<Self> {
        Arc::new(Self {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            plan,
            enabled: AtomicBool::new(true),
        })
    }

    /// Turn injection off (e.g. to read the final state) or back on.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::SeqCst);
    }

    fn roll(&self, p: f64) -> bool {
        self.enabled.load(Ordering::SeqCst) && p > 0.0 && self.rng.lock().random_bool(p.min(1.0))
    }

    async fn before(&self, what: &str) -> StoreResult<()> {
        if self.plan.yield_every_call {
            YieldNow(false).await;
        }
        if self.roll(self.plan.fail_before) {
            return Err(StoreError::Unavailable(format!("injected before {what}")));
        }
        Ok(())
    }

    fn after<T>(&self, what: &str, r: StoreResult<T>) -> StoreResult<T> {
        if r.is_ok() && self.roll(self.plan.fail_after) {
            return Err(StoreError::Unavailable(format!("injected after {what}")));
        }
        r
    }
}

/// Yield once to whoever polls us (tokio's `yield_now` without needing a tokio runtime).
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Wrap every port of `inner` with faults drawn from `faults`.
pub fn wrap(inner: Ports, faults: Arc<Faults>) -> Ports {
    let w = Arc::new(Faulty {
        inner: inner.clone(),
        faults,
        delayed: Mutex::new(Vec::new()),
    });
    Ports {
        blobs: w.clone(),
        sessions: w.clone(),
        users: w.clone(),
        bus: w,
    }
}

struct Faulty {
    inner: Ports,
    faults: Arc<Faults>,
    delayed: Mutex<Vec<FlushRequest>>,
}

#[async_trait]
impl BlobStore for Faulty {
    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        self.faults.before("blob get").await?;
        self.inner.blobs.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        metadata: BTreeMap<String, String>,
        condition: PutCondition,
    ) -> StoreResult<String> {
        self.faults.before("blob put").await?;
        let r = self.inner.blobs.put(key, bytes, metadata, condition).await;
        self.faults.after("blob put", r)
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.faults.before("blob delete").await?;
        let r = self.inner.blobs.delete(key).await;
        self.faults.after("blob delete", r)
    }
}

#[async_trait]
impl DeviceKeyStore for Faulty {
    async fn put_device_key(&self, username: &Username, key: &DeviceKey) -> StoreResult<()> {
        self.faults.before("device key put").await?;
        let r = self.inner.users.put_device_key(username, key).await;
        self.faults.after("device key put", r)
    }
    async fn device_keys(&self, username: &Username) -> StoreResult<Vec<DeviceKey>> {
        self.faults.before("device keys").await?;
        self.inner.users.device_keys(username).await
    }
    async fn delete_device_key(&self, username: &Username, id: &str) -> StoreResult<bool> {
        self.faults.before("device key delete").await?;
        let r = self.inner.users.delete_device_key(username, id).await;
        self.faults.after("device key delete", r)
    }
    async fn touch_device_key(&self, username: &Username, id: &str, at_ms: i64) -> StoreResult<()> {
        self.faults.before("device key touch").await?;
        let r = self.inner.users.touch_device_key(username, id, at_ms).await;
        self.faults.after("device key touch", r)
    }
}

#[async_trait]
impl UserStore for Faulty {
    async fn create_if_absent(&self, user: &UserRecord) -> StoreResult<bool> {
        self.faults.before("user create").await?;
        let r = self.inner.users.create_if_absent(user).await;
        self.faults.after("user create", r)
    }
    async fn get(&self, username: &Username) -> StoreResult<Option<UserRecord>> {
        self.faults.before("user get").await?;
        self.inner.users.get(username).await
    }
    async fn update_password_hash(
        &self,
        username: &Username,
        expected: &str,
        new_hash: &str,
    ) -> StoreResult<()> {
        self.faults.before("user update").await?;
        let r = self
            .inner
            .users
            .update_password_hash(username, expected, new_hash)
            .await;
        self.faults.after("user update", r)
    }
}

#[async_trait]
impl SessionStore for Faulty {
    async fn get(&self, username: &Username) -> StoreResult<Option<SessionItem>> {
        self.faults.before("session get").await?;
        self.inner.sessions.get(username).await
    }
    async fn put(&self, item: &SessionItem, expect: SessionExpect) -> StoreResult<()> {
        self.faults.before("session put").await?;
        let r = self.inner.sessions.put(item, expect).await;
        self.faults.after("session put", r)
    }
    async fn commit(
        &self,
        username: &Username,
        fence: &Fence,
        entry: &JournalEntry,
        last_access: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        self.faults.before("commit").await?;
        let r = self
            .inner
            .sessions
            .commit(username, fence, entry, last_access, expires_at)
            .await;
        self.faults.after("commit", r)
    }
    async fn journal(
        &self,
        username: &Username,
        after: u64,
        upto: u64,
    ) -> StoreResult<Vec<JournalEntry>> {
        self.faults.before("journal read").await?;
        self.inner.sessions.journal(username, after, upto).await
    }
    async fn trim_journal(&self, username: &Username, upto: u64) -> StoreResult<()> {
        self.faults.before("journal trim").await?;
        let r = self.inner.sessions.trim_journal(username, upto).await;
        self.faults.after("journal trim", r)
    }
}

#[async_trait]
impl FlushBus for Faulty {
    async fn publish(&self, request: &FlushRequest) -> StoreResult<()> {
        self.faults.before("publish").await?;
        let plan = self.faults.plan;
        // Late deliveries: anything held back goes out behind a later message.
        let released: Vec<FlushRequest> = if self.faults.roll(0.5) {
            std::mem::take(&mut *self.delayed.lock())
        } else {
            Vec::new()
        };
        if self.faults.roll(plan.bus_delay) {
            self.delayed.lock().push(request.clone());
        } else if !self.faults.roll(plan.bus_drop) {
            self.inner.bus.publish(request).await?;
            if self.faults.roll(plan.bus_duplicate) {
                self.inner.bus.publish(request).await?;
            }
        }
        for r in released {
            self.inner.bus.publish(&r).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryBackend;
    use crate::metrics::Metrics;

    #[tokio::test]
    async fn fail_after_applies_the_write_but_reports_unavailable() {
        let backend = MemoryBackend::new();
        let plan = FaultPlan {
            fail_after: 1.0,
            ..Default::default()
        };
        let ports = wrap(
            backend.ports(Arc::new(Metrics::default())),
            Faults::new(1, plan),
        );
        let r = ports
            .blobs
            .put(
                "k",
                Bytes::from_static(b"x"),
                BTreeMap::new(),
                PutCondition::Any,
            )
            .await;
        assert!(matches!(r, Err(StoreError::Unavailable(_))));
        assert!(backend.blob("k").is_some());
    }

    #[tokio::test]
    async fn same_seed_same_faults() {
        let plan = FaultPlan {
            fail_before: 0.5,
            ..Default::default()
        };
        let run = |seed| async move {
            let backend = MemoryBackend::new();
            let ports = wrap(
                backend.ports(Arc::new(Metrics::default())),
                Faults::new(seed, plan),
            );
            let mut out = Vec::new();
            for _ in 0..32 {
                out.push(ports.blobs.get("k").await.is_ok());
            }
            out
        };
        assert_eq!(run(7).await, run(7).await);
        assert_ne!(run(7).await, run(8).await);
    }
}
