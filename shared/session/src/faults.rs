//! The one fault injector: seeded faults around any port, used by the protocol simulations
//! (memory and AWS adapters), the adapter tests and `javumbo-local --fault-*` (the load
//! harness).
//!
//! Store calls fail `Unavailable` before reaching the store, after a wait (a client-side
//! timeout), or AFTER performing their write (the ambiguous case every writer must handle); the
//! bus drops, duplicates, holds back and delays flush requests. `ConditionFailed` is never
//! injected: it is a definite answer the protocol relies on.
//!
//! Every decision is drawn from one seeded source ([`Faults`]) in a fixed order, and a
//! probability of 0 draws nothing, so a seed replays identically for a single-threaded caller
//! (the simulations) and a plan that leaves a fault off does not shift the others' draws. Every
//! call can also yield to the scheduler first, so a single-threaded simulation can interleave
//! containers at every store call.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

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

/// Probabilities (0..=1) of each fault per call, each drawn independently in this order.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultPlan {
    /// Fail without doing anything.
    pub fail_before: f64,
    /// Wait [`FaultPlan::timeout_wait`], then fail without doing anything (a client timeout).
    pub timeout: f64,
    pub timeout_wait: Duration,
    /// Do the call, then report `Unavailable` anyway: writes only, unless `fail_after_reads`.
    pub fail_after: f64,
    /// Apply `fail_after` to reads too (they then fail like `fail_before` would, having read).
    pub fail_after_reads: bool,
    pub bus_drop: f64,
    pub bus_duplicate: f64,
    /// A flush request is held back and delivered behind a later one.
    pub bus_delay: f64,
    /// Each delivery first waits a uniformly random `0..bus_jitter` on a tokio task, so
    /// deliveries also arrive out of order (zero: delivered inline).
    pub bus_jitter: Duration,
    /// Yield to the scheduler before every call.
    pub yield_every_call: bool,
}

impl FaultPlan {
    /// Store faults given as shares of ALL calls, as `javumbo-local --fault-store-fail F
    /// --fault-store-ambiguous A` means them: `F` of the calls fail before reaching the store,
    /// another `A` fail after it (reads included), the two never both. Since the draws are
    /// independent, the second is conditional on the first not firing: `A / (1 - F)`.
    pub fn store_shares(fail: f64, ambiguous: f64) -> Self {
        let fail = fail.clamp(0.0, 1.0);
        let fail_after = if ambiguous <= 0.0 || fail >= 1.0 {
            0.0
        } else {
            (ambiguous / (1.0 - fail)).min(1.0)
        };
        Self {
            fail_before: fail,
            fail_after,
            fail_after_reads: true,
            ..Self::default()
        }
    }

    /// Delivery faults of `javumbo-local --fault-bus-drop --fault-bus-dup
    /// --fault-bus-delay-ms`: a request is lost, or delivered twice, each delivery after a
    /// random wait below `jitter`.
    pub fn bus(drop: f64, duplicate: f64, jitter: Duration) -> Self {
        Self {
            bus_drop: drop,
            bus_duplicate: duplicate,
            bus_jitter: jitter,
            ..Self::default()
        }
    }

    /// Whether any fault can fire (an all-zero plan is transparent).
    pub fn is_active(&self) -> bool {
        [
            self.fail_before,
            self.timeout,
            self.fail_after,
            self.bus_drop,
            self.bus_duplicate,
            self.bus_delay,
        ]
        .iter()
        .any(|p| *p > 0.0)
            || !self.bus_jitter.is_zero()
            || self.yield_every_call
    }
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

    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// Turn injection off (e.g. to read the final state) or back on.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::SeqCst);
    }

    fn roll(&self, p: f64) -> bool {
        self.enabled.load(Ordering::SeqCst) && p > 0.0 && self.rng.lock().random_bool(p.min(1.0))
    }

    /// A uniformly random wait below `max` (zero draws nothing).
    fn jitter(&self, max: Duration) -> Duration {
        if max.is_zero() || !self.enabled.load(Ordering::SeqCst) {
            return Duration::ZERO;
        }
        self.rng.lock().random_range(Duration::ZERO..max)
    }

    async fn before(&self, what: &str) -> StoreResult<()> {
        if self.plan.yield_every_call {
            YieldNow(false).await;
        }
        if self.roll(self.plan.fail_before) {
            return Err(StoreError::Unavailable(format!("injected before {what}")));
        }
        if self.roll(self.plan.timeout) {
            tokio::time::sleep(self.plan.timeout_wait).await;
            return Err(StoreError::Unavailable(format!(
                "injected timeout of {what}"
            )));
        }
        Ok(())
    }

    fn after<T>(&self, what: &str, r: StoreResult<T>) -> StoreResult<T> {
        if r.is_ok() && self.roll(self.plan.fail_after) {
            return Err(StoreError::Unavailable(format!("injected after {what}")));
        }
        r
    }

    /// `after` for a read: only when the plan says reads fail after too.
    fn after_read<T>(&self, what: &str, r: StoreResult<T>) -> StoreResult<T> {
        if self.plan.fail_after_reads {
            self.after(what, r)
        } else {
            r
        }
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

/// Wrap every port of `inner` with faults drawn from the one source `faults`.
pub fn wrap(inner: Ports, faults: Arc<Faults>) -> Ports {
    Ports {
        blobs: Arc::new(Faulty::new(inner.blobs, faults.clone())),
        sessions: Arc::new(Faulty::new(inner.sessions, faults.clone())),
        users: Arc::new(Faulty::new(inner.users, faults.clone())),
        bus: Arc::new(Faulty::new(inner.bus, faults)),
    }
}

/// Any port (or adapter implementing several) with faults drawn from `faults`; implements
/// whichever ports the wrapped one does.
pub struct Faulty<S: ?Sized> {
    inner: Arc<S>,
    faults: Arc<Faults>,
    /// Flush requests held back by `bus_delay`.
    delayed: Mutex<Vec<FlushRequest>>,
}

impl<S: ?Sized> Faulty<S> {
    pub fn new(inner: Arc<S>, faults: Arc<Faults>) -> Self {
        Self {
            inner,
            faults,
            delayed: Mutex::new(Vec::new()),
        }
    }

    /// The wrapped adapter, without faults.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

#[async_trait]
impl<S: BlobStore + ?Sized> BlobStore for Faulty<S> {
    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        self.faults.before("blob get").await?;
        let r = self.inner.get(key).await;
        self.faults.after_read("blob get", r)
    }
    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        metadata: BTreeMap<String, String>,
        condition: PutCondition,
    ) -> StoreResult<String> {
        self.faults.before("blob put").await?;
        let r = self.inner.put(key, bytes, metadata, condition).await;
        self.faults.after("blob put", r)
    }
    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.faults.before("blob delete").await?;
        let r = self.inner.delete(key).await;
        self.faults.after("blob delete", r)
    }
    async fn purge(&self, key: &str) -> StoreResult<u64> {
        self.faults.before("blob purge").await?;
        let r = self.inner.purge(key).await;
        self.faults.after("blob purge", r)
    }
}

#[async_trait]
impl<S: UserStore + ?Sized> DeviceKeyStore for Faulty<S> {
    async fn put_device_key(&self, username: &Username, key: &DeviceKey) -> StoreResult<()> {
        self.faults.before("device key put").await?;
        let r = self.inner.put_device_key(username, key).await;
        self.faults.after("device key put", r)
    }
    async fn device_keys(&self, username: &Username) -> StoreResult<Vec<DeviceKey>> {
        self.faults.before("device keys").await?;
        let r = self.inner.device_keys(username).await;
        self.faults.after_read("device keys", r)
    }
    async fn delete_device_key(&self, username: &Username, id: &str) -> StoreResult<bool> {
        self.faults.before("device key delete").await?;
        let r = self.inner.delete_device_key(username, id).await;
        self.faults.after("device key delete", r)
    }
    async fn touch_device_key(&self, username: &Username, id: &str, at_ms: i64) -> StoreResult<()> {
        self.faults.before("device key touch").await?;
        let r = self.inner.touch_device_key(username, id, at_ms).await;
        self.faults.after("device key touch", r)
    }
}

#[async_trait]
impl<S: UserStore + ?Sized> UserStore for Faulty<S> {
    async fn create_if_absent(&self, user: &UserRecord) -> StoreResult<bool> {
        self.faults.before("user create").await?;
        let r = self.inner.create_if_absent(user).await;
        self.faults.after("user create", r)
    }
    async fn create_migrated(&self, user: &UserRecord) -> StoreResult<bool> {
        self.faults.before("user create").await?;
        let r = self.inner.create_migrated(user).await;
        self.faults.after("user create", r)
    }
    async fn name_taken(&self, username: &Username) -> StoreResult<bool> {
        self.faults.before("user get").await?;
        let r = self.inner.name_taken(username).await;
        self.faults.after_read("user get", r)
    }
    async fn get(&self, username: &Username) -> StoreResult<Option<UserRecord>> {
        self.faults.before("user get").await?;
        let r = self.inner.get(username).await;
        self.faults.after_read("user get", r)
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
            .update_password_hash(username, expected, new_hash)
            .await;
        self.faults.after("user update", r)
    }
    async fn revoke_token(
        &self,
        username: &Username,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        self.faults.before("user update").await?;
        let r = self
            .inner
            .revoke_token(username, jti, expires_at, now)
            .await;
        self.faults.after("user update", r)
    }
    async fn revoke_all_tokens(
        &self,
        username: &Username,
        not_before: i64,
        password: Option<(&str, &str)>,
    ) -> StoreResult<()> {
        self.faults.before("user update").await?;
        let r = self
            .inner
            .revoke_all_tokens(username, not_before, password)
            .await;
        self.faults.after("user update", r)
    }
    async fn delete_user(&self, username: &Username) -> StoreResult<()> {
        self.faults.before("user delete").await?;
        let r = self.inner.delete_user(username).await;
        self.faults.after("user delete", r)
    }
}

#[async_trait]
impl<S: SessionStore + ?Sized> SessionStore for Faulty<S> {
    async fn get(&self, username: &Username) -> StoreResult<Option<SessionItem>> {
        self.faults.before("session get").await?;
        let r = self.inner.get(username).await;
        self.faults.after_read("session get", r)
    }
    async fn put(&self, item: &SessionItem, expect: SessionExpect) -> StoreResult<()> {
        self.faults.before("session put").await?;
        let r = self.inner.put(item, expect).await;
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
        let r = self.inner.journal(username, after, upto).await;
        self.faults.after_read("journal read", r)
    }
    async fn trim_journal(&self, username: &Username, upto: u64) -> StoreResult<()> {
        self.faults.before("journal trim").await?;
        let r = self.inner.trim_journal(username, upto).await;
        self.faults.after("journal trim", r)
    }
    async fn delete_session(&self, username: &Username) -> StoreResult<()> {
        self.faults.before("session delete").await?;
        let r = self.inner.delete_session(username).await;
        self.faults.after("session delete", r)
    }
}

#[async_trait]
impl<S: FlushBus + ?Sized> FlushBus for Faulty<S> {
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
            self.deliver(request).await?;
            if self.faults.roll(plan.bus_duplicate) {
                self.deliver(request).await?;
            }
        }
        for r in released {
            self.deliver(&r).await?;
        }
        Ok(())
    }
}

impl<S: FlushBus + ?Sized> Faulty<S> {
    /// Publish to the wrapped bus, now or (with `bus_jitter`) from a task after a random wait.
    async fn deliver(&self, request: &FlushRequest) -> StoreResult<()> {
        let wait = self.faults.jitter(self.faults.plan.bus_jitter);
        if wait.is_zero() {
            return self.inner.publish(request).await;
        }
        let (inner, request) = (Arc::clone(&self.inner), request.clone());
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Err(e) = inner.publish(&request).await {
                tracing::warn!(username = %request.username, error = %e, "delayed flush request lost");
            }
        });
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

    #[tokio::test]
    async fn store_shares_are_shares_of_all_calls() {
        let backend = MemoryBackend::new();
        let ports = wrap(
            backend.ports(Arc::new(Metrics::default())),
            Faults::new(42, FaultPlan::store_shares(0.2, 0.1)),
        );
        let (mut before, mut after) = (0, 0);
        for i in 0..10_000 {
            let key = format!("k{i}");
            let r = ports
                .blobs
                .put(&key, Bytes::new(), BTreeMap::new(), PutCondition::Any)
                .await;
            match (r, backend.blob(&key).is_some()) {
                (Ok(_), true) => {}
                (Err(StoreError::Unavailable(_)), false) => before += 1,
                (Err(StoreError::Unavailable(_)), true) => after += 1,
                other => panic!("{other:?}"),
            }
        }
        assert!((1_800..2_200).contains(&before), "{before}");
        assert!((800..1_200).contains(&after), "{after}");
        // Reads fail after too: 30% of them in all.
        let failed = {
            let mut n = 0;
            for _ in 0..10_000 {
                n += usize::from(ports.blobs.get("k0").await.is_err());
            }
            n
        };
        assert!((2_700..3_300).contains(&failed), "{failed}");
    }

    #[tokio::test]
    async fn a_zero_plan_draws_nothing_and_is_transparent() {
        assert!(!FaultPlan::default().is_active());
        assert!(FaultPlan::bus(0.0, 0.0, Duration::from_millis(1)).is_active());
        let faults = Faults::new(3, FaultPlan::default());
        let backend = MemoryBackend::new();
        let ports = wrap(backend.ports(Arc::new(Metrics::default())), faults.clone());
        for _ in 0..100 {
            assert!(ports.blobs.get("k").await.is_ok());
        }
        // The source is exactly where a fresh one with the same seed starts.
        let fresh = Faults::new(3, FaultPlan::default());
        assert_eq!(
            faults.rng.lock().random::<u64>(),
            fresh.rng.lock().random::<u64>()
        );
    }
}
