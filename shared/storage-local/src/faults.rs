//! Injected store failures for the load harness (local mode only).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use javumbo_session::{
    Blob, BlobStore, DeviceKey, DeviceKeyStore, Fence, JournalEntry, PutCondition, SessionExpect,
    SessionItem, SessionStore, StoreError, StoreResult, UserRecord, UserStore, Username,
};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Per-call failure probabilities (each in `0..=1`, drawn independently per call in this
/// order; their sum should stay `<= 1`). Every injected failure is `StoreError::Unavailable`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreFaults {
    /// Fail before the call reaches the store: nothing happens.
    pub fail_rate: f64,
    /// Perform the call, then report failure: the caller cannot tell it succeeded (the
    /// "ambiguous" outcome every writer must handle).
    pub ambiguous_rate: f64,
    /// Wait `timeout`, then fail without performing the call (a client-side timeout).
    pub timeout_rate: f64,
    pub timeout: Duration,
    pub seed: u64,
}

impl Default for StoreFaults {
    fn default() -> Self {
        Self {
            fail_rate: 0.0,
            ambiguous_rate: 0.0,
            timeout_rate: 0.0,
            timeout: Duration::from_secs(1),
            seed: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Before,
    After,
    Timeout,
}

/// Wraps any adapter and injects [`StoreFaults`]; transparent while all rates are zero.
/// Implements whichever ports the wrapped store implements.
#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: S,
    state: Mutex<(StoreFaults, StdRng)>,
}

impl<S> FaultyStore<S> {
    pub fn new(inner: S, faults: StoreFaults) -> Self {
        let rng = StdRng::seed_from_u64(faults.seed);
        Self {
            inner,
            state: Mutex::new((faults, rng)),
        }
    }

    /// Replace the fault settings at runtime (reseeding the random source).
    pub fn set_faults(&self, faults: StoreFaults) {
        let rng = StdRng::seed_from_u64(faults.seed);
        *self.state.lock() = (faults, rng);
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn draw(&self) -> (Fault, Duration) {
        let mut guard = self.state.lock();
        let (faults, rng) = &mut *guard;
        let x: f64 = rng.random();
        let fault = if x < faults.fail_rate {
            Fault::Before
        } else if x < faults.fail_rate + faults.ambiguous_rate {
            Fault::After
        } else if x < faults.fail_rate + faults.ambiguous_rate + faults.timeout_rate {
            Fault::Timeout
        } else {
            Fault::None
        };
        (fault, faults.timeout)
    }

    async fn run<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        match self.draw() {
            (Fault::None, _) => call.await,
            (Fault::Before, _) => Err(StoreError::Unavailable(
                "injected fault: failed before the call".into(),
            )),
            (Fault::After, _) => {
                let outcome = call.await;
                tracing::debug!(
                    applied = outcome.is_ok(),
                    "injected fault: ambiguous failure after the call"
                );
                Err(StoreError::Unavailable(
                    "injected fault: failed after the call".into(),
                ))
            }
            (Fault::Timeout, timeout) => {
                tokio::time::sleep(timeout).await;
                Err(StoreError::Unavailable("injected fault: timed out".into()))
            }
        }
    }
}

#[async_trait]
impl<S: BlobStore> BlobStore for FaultyStore<S> {
    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        self.run(self.inner.get(key)).await
    }

    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        metadata: BTreeMap<String, String>,
        condition: PutCondition,
    ) -> StoreResult<String> {
        self.run(self.inner.put(key, bytes, metadata, condition))
            .await
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        self.run(self.inner.delete(key)).await
    }
}

#[async_trait]
impl<S: UserStore> DeviceKeyStore for FaultyStore<S> {
    async fn put_device_key(&self, username: &Username, key: &DeviceKey) -> StoreResult<()> {
        self.run(self.inner.put_device_key(username, key)).await
    }

    async fn device_keys(&self, username: &Username) -> StoreResult<Vec<DeviceKey>> {
        self.run(self.inner.device_keys(username)).await
    }

    async fn delete_device_key(&self, username: &Username, id: &str) -> StoreResult<bool> {
        self.run(self.inner.delete_device_key(username, id)).await
    }

    async fn touch_device_key(&self, username: &Username, id: &str, at_ms: i64) -> StoreResult<()> {
        self.run(self.inner.touch_device_key(username, id, at_ms))
            .await
    }
}

#[async_trait]
impl<S: UserStore> UserStore for FaultyStore<S> {
    async fn create_if_absent(&self, user: &UserRecord) -> StoreResult<bool> {
        self.run(self.inner.create_if_absent(user)).await
    }

    async fn get(&self, username: &Username) -> StoreResult<Option<UserRecord>> {
        self.run(UserStore::get(&self.inner, username)).await
    }

    async fn update_password_hash(
        &self,
        username: &Username,
        expected: &str,
        new_hash: &str,
    ) -> StoreResult<()> {
        self.run(
            self.inner
                .update_password_hash(username, expected, new_hash),
        )
        .await
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for FaultyStore<S> {
    async fn get(&self, username: &Username) -> StoreResult<Option<SessionItem>> {
        self.run(SessionStore::get(&self.inner, username)).await
    }

    async fn put(&self, item: &SessionItem, expect: SessionExpect) -> StoreResult<()> {
        self.run(SessionStore::put(&self.inner, item, expect)).await
    }

    async fn commit(
        &self,
        username: &Username,
        fence: &Fence,
        entry: &JournalEntry,
        last_access: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        self.run(
            self.inner
                .commit(username, fence, entry, last_access, expires_at),
        )
        .await
    }

    async fn journal(
        &self,
        username: &Username,
        after: u64,
        upto: u64,
    ) -> StoreResult<Vec<JournalEntry>> {
        self.run(self.inner.journal(username, after, upto)).await
    }

    async fn trim_journal(&self, username: &Username, upto: u64) -> StoreResult<()> {
        self.run(self.inner.trim_journal(username, upto)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DirBlobStore;
    use std::sync::Arc;

    #[tokio::test]
    async fn ambiguous_failure_still_writes_and_before_failure_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = DirBlobStore::open(dir.path().to_owned(), Arc::default()).unwrap();
        let store = FaultyStore::new(
            blobs,
            StoreFaults {
                ambiguous_rate: 1.0,
                ..StoreFaults::default()
            },
        );
        let r = store
            .put(
                "a",
                Bytes::from_static(b"1"),
                BTreeMap::new(),
                PutCondition::IfAbsent,
            )
            .await;
        assert!(matches!(r, Err(StoreError::Unavailable(_))));
        assert!(
            store.inner().get("a").await.unwrap().is_some(),
            "ambiguous write must be applied"
        );

        store.set_faults(StoreFaults {
            fail_rate: 1.0,
            ..StoreFaults::default()
        });
        let r = store
            .put(
                "b",
                Bytes::from_static(b"1"),
                BTreeMap::new(),
                PutCondition::IfAbsent,
            )
            .await;
        assert!(matches!(r, Err(StoreError::Unavailable(_))));
        assert!(
            store.inner().get("b").await.unwrap().is_none(),
            "a failure before the call writes nothing"
        );

        store.set_faults(StoreFaults {
            timeout_rate: 1.0,
            timeout: Duration::from_millis(30),
            ..Default::default()
        });
        let t = std::time::Instant::now();
        assert!(matches!(
            store.get("a").await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(t.elapsed() >= Duration::from_millis(30));

        store.set_faults(StoreFaults::default());
        assert!(store.get("a").await.unwrap().is_some());
    }

    #[test]
    fn rates_are_roughly_honoured() {
        let store = FaultyStore::new(
            (),
            StoreFaults {
                fail_rate: 0.2,
                ambiguous_rate: 0.1,
                seed: 42,
                ..Default::default()
            },
        );
        let draws: Vec<Fault> = (0..10_000).map(|_| store.draw().0).collect();
        let before = draws.iter().filter(|f| **f == Fault::Before).count();
        let after = draws.iter().filter(|f| **f == Fault::After).count();
        assert!((1_800..2_200).contains(&before), "{before}");
        assert!((800..1_200).contains(&after), "{after}");
        assert!(!draws.contains(&Fault::Timeout));
    }
}
