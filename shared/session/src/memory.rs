//! In-memory implementations of the four ports, with the semantics of the real adapters
//! (conditional writes, fenced atomic commit, request-id idempotency, at-least-once bus).
//!
//! One [`MemoryBackend`] is the shared "cloud"; every container gets its own port handles from
//! [`MemoryBackend::ports`] so each counts into its own [`Metrics`], as on Lambda. Used by the
//! unit tests and the deterministic simulation; never blocks (plain mutexes, no awaits).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::metrics::Metrics;
use crate::ports::Ports;
use crate::ports::{
    Blob, BlobStore, DeviceKey, DeviceKeyStore, Fence, FlushBus, FlushRequest, JournalEntry,
    PutCondition, SessionExpect, SessionItem, SessionStatus, SessionStore, StoreError, StoreResult,
    UserRecord, UserStore,
};
use crate::username::Username;

#[derive(Default)]
struct State {
    blobs: BTreeMap<String, Blob>,
    users: BTreeMap<Username, UserRecord>,
    /// Folded names claimed by users ([`Username::folded`]): the registration uniqueness record.
    folded_names: std::collections::BTreeSet<String>,
    device_keys: BTreeMap<Username, BTreeMap<String, DeviceKey>>,
    sessions: BTreeMap<Username, SessionItem>,
    journal: BTreeMap<Username, BTreeMap<u64, JournalEntry>>,
    /// request_id → seq of every commit that succeeded: DynamoDB's `ClientRequestToken` makes a
    /// retried `TransactWriteItems` succeed without applying it again.
    commit_tokens: HashMap<(Username, String), u64>,
}

/// The shared state behind every container's port handles.
#[derive(Default)]
pub struct MemoryBackend {
    state: Mutex<State>,
    bus: Mutex<VecDeque<FlushRequest>>,
    bus_notify: Notify,
}

impl MemoryBackend {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Port handles for one container, counting into `metrics`.
    pub fn ports(self: &Arc<Self>, metrics: Arc<Metrics>) -> Ports {
        let h = Arc::new(MemoryPorts {
            backend: self.clone(),
            metrics,
        });
        Ports {
            blobs: h.clone(),
            sessions: h.clone(),
            users: h.clone(),
            bus: h,
        }
    }

    /// Take every published flush request (the simulation delivers them itself).
    pub fn take_flush_requests(&self) -> Vec<FlushRequest> {
        self.bus.lock().drain(..).collect()
    }

    /// Wait for the next published flush request (a local flush worker's loop).
    pub async fn next_flush_request(&self) -> FlushRequest {
        loop {
            let notified = self.bus_notify.notified();
            if let Some(r) = self.bus.lock().pop_front() {
                return r;
            }
            notified.await;
        }
    }

    /// Direct read of the session item, bypassing metrics (test assertions).
    pub fn session_item(&self, user: &Username) -> Option<SessionItem> {
        self.state.lock().sessions.get(user).cloned()
    }

    /// Overwrite the session item unconditionally (tests simulating another container).
    pub fn force_session(&self, item: SessionItem) {
        self.state
            .lock()
            .sessions
            .insert(item.username.clone(), item);
    }

    /// Direct read of a blob, bypassing metrics (test assertions).
    pub fn blob(&self, key: &str) -> Option<Blob> {
        self.state.lock().blobs.get(key).cloned()
    }

    /// Seqs of the journal entries currently stored for `user`.
    pub fn journal_seqs(&self, user: &Username) -> Vec<u64> {
        self.state
            .lock()
            .journal
            .get(user)
            .map(|j| j.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Number of blobs stored (spill clean-up assertions).
    pub fn blob_keys(&self) -> Vec<String> {
        self.state.lock().blobs.keys().cloned().collect()
    }
}

/// One container's view of the backend.
pub struct MemoryPorts {
    backend: Arc<MemoryBackend>,
    metrics: Arc<Metrics>,
}

fn etag_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn expect_holds(current: Option<&SessionItem>, expect: &SessionExpect) -> bool {
    match (current, expect) {
        (None, SessionExpect::Absent) => true,
        (
            Some(cur),
            SessionExpect::Version {
                epoch,
                seq,
                status,
                owner,
            },
        ) => cur.epoch == *epoch && cur.seq == *seq && cur.status == *status && cur.owner == *owner,
        _ => false,
    }
}

#[async_trait]
impl BlobStore for MemoryPorts {
    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        Metrics::incr(&self.metrics.blob_get);
        Ok(self.backend.state.lock().blobs.get(key).cloned())
    }

    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        metadata: BTreeMap<String, String>,
        condition: PutCondition,
    ) -> StoreResult<String> {
        Metrics::incr(&self.metrics.blob_put);
        let mut st = self.backend.state.lock();
        let current = st.blobs.get(key);
        let ok = match &condition {
            PutCondition::Any => true,
            PutCondition::IfAbsent => current.is_none(),
            PutCondition::IfMatch(etag) => current.is_some_and(|b| &b.etag == etag),
        };
        if !ok {
            return Err(StoreError::ConditionFailed);
        }
        let etag = etag_of(&bytes);
        st.blobs.insert(
            key.to_owned(),
            Blob {
                bytes,
                etag: etag.clone(),
                metadata,
            },
        );
        Ok(etag)
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        Metrics::incr(&self.metrics.blob_delete);
        self.backend.state.lock().blobs.remove(key);
        Ok(())
    }

    async fn purge(&self, key: &str) -> StoreResult<u64> {
        Metrics::incr(&self.metrics.blob_delete);
        let mut st = self.backend.state.lock();
        let before = st.blobs.len();
        if key.ends_with('/') {
            st.blobs.retain(|k, _| !k.starts_with(key));
        } else {
            st.blobs.remove(key);
        }
        Ok((before - st.blobs.len()) as u64)
    }
}

#[async_trait]
impl DeviceKeyStore for MemoryPorts {
    async fn put_device_key(&self, username: &Username, key: &DeviceKey) -> StoreResult<()> {
        Metrics::incr(&self.metrics.table_write);
        let mut st = self.backend.state.lock();
        if !st.users.contains_key(username) {
            return Err(StoreError::ConditionFailed);
        }
        let keys = st.device_keys.entry(username.clone()).or_default();
        if keys.contains_key(&key.id) {
            return Err(StoreError::ConditionFailed);
        }
        keys.insert(key.id.clone(), key.clone());
        Ok(())
    }

    async fn device_keys(&self, username: &Username) -> StoreResult<Vec<DeviceKey>> {
        Metrics::incr(&self.metrics.table_read);
        let st = self.backend.state.lock();
        Ok(st
            .device_keys
            .get(username)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn delete_device_key(&self, username: &Username, id: &str) -> StoreResult<bool> {
        Metrics::incr(&self.metrics.table_write);
        let mut st = self.backend.state.lock();
        Ok(st
            .device_keys
            .get_mut(username)
            .is_some_and(|m| m.remove(id).is_some()))
    }

    async fn touch_device_key(&self, username: &Username, id: &str, at_ms: i64) -> StoreResult<()> {
        Metrics::incr(&self.metrics.table_write);
        let mut st = self.backend.state.lock();
        if let Some(k) = st.device_keys.get_mut(username).and_then(|m| m.get_mut(id)) {
            k.last_used_at = k.last_used_at.max(at_ms);
        }
        Ok(())
    }
}

#[async_trait]
impl UserStore for MemoryPorts {
    async fn create_if_absent(&self, user: &UserRecord) -> StoreResult<bool> {
        Metrics::incr(&self.metrics.table_write);
        let mut st = self.backend.state.lock();
        let folded = user.username.folded();
        if st.users.contains_key(&user.username) || st.folded_names.contains(&folded) {
            return Ok(false);
        }
        st.users.insert(user.username.clone(), user.clone());
        st.folded_names.insert(folded);
        Ok(true)
    }

    async fn create_migrated(&self, user: &UserRecord) -> StoreResult<bool> {
        Metrics::incr(&self.metrics.table_write);
        let mut st = self.backend.state.lock();
        if st.users.contains_key(&user.username) {
            return Ok(false);
        }
        st.users.insert(user.username.clone(), user.clone());
        st.folded_names.insert(user.username.folded());
        Ok(true)
    }

    async fn name_taken(&self, username: &Username) -> StoreResult<bool> {
        Metrics::incr(&self.metrics.table_read);
        let st = self.backend.state.lock();
        Ok(st.users.contains_key(username) || st.folded_names.contains(&username.folded()))
    }

    async fn get(&self, username: &Username) -> StoreResult<Option<UserRecord>> {
        Metrics::incr(&self.metrics.table_read);
        Ok(self.backend.state.lock().users.get(username).cloned())
    }

    async fn update_password_hash(
        &self,
        username: &Username,
        expected: &str,
        new_hash: &str,
    ) -> StoreResult<()> {
        Metrics::incr(&self.metrics.table_write);
        let mut st = self.backend.state.lock();
        match st.users.get_mut(username) {
            Some(u) if u.password_hash == expected => {
                u.password_hash = new_hash.to_owned();
                Ok(())
            }
            _ => Err(StoreError::ConditionFailed),
        }
    }

    async fn revoke_token(
        &self,
        username: &Username,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<()> {
        Metrics::incr(&self.metrics.table_write);
        let mut st = self.backend.state.lock();
        let u = st
            .users
            .get_mut(username)
            .ok_or(StoreError::ConditionFailed)?;
        u.revocation.revoked.retain(|_, exp| *exp >= now);
        u.revocation.revoked.insert(jti.to_owned(), expires_at);
        Ok(())
    }

    async fn revoke_all_tokens(
        &self,
        username: &Username,
        not_before: i64,
        password: Option<(&str, &str)>,
    ) -> StoreResult<()> {
        Metrics::incr(&self.metrics.table_write);
        let mut st = self.backend.state.lock();
        let u = st
            .users
            .get_mut(username)
            .ok_or(StoreError::ConditionFailed)?;
        if let Some((expected, new_hash)) = password {
            if u.password_hash != expected {
                return Err(StoreError::ConditionFailed);
            }
            u.password_hash = new_hash.to_owned();
        }
        u.revocation.not_before = u.revocation.not_before.max(not_before);
        u.revocation.revoked.clear();
        Ok(())
    }

    async fn delete_user(&self, username: &Username) -> StoreResult<()> {
        Metrics::incr(&self.metrics.table_write);
        let mut st = self.backend.state.lock();
        if st.users.remove(username).is_some() {
            let folded = username.folded();
            if !st.users.keys().any(|u| u.folded() == folded) {
                st.folded_names.remove(&folded);
            }
        }
        st.device_keys.remove(username);
        Ok(())
    }
}

#[async_trait]
impl SessionStore for MemoryPorts {
    async fn get(&self, username: &Username) -> StoreResult<Option<SessionItem>> {
        Metrics::incr(&self.metrics.table_read);
        Ok(self.backend.state.lock().sessions.get(username).cloned())
    }

    async fn put(&self, item: &SessionItem, expect: SessionExpect) -> StoreResult<()> {
        Metrics::incr(&self.metrics.table_write);
        let mut st = self.backend.state.lock();
        if !expect_holds(st.sessions.get(&item.username), &expect) {
            return Err(StoreError::ConditionFailed);
        }
        st.sessions.insert(item.username.clone(), item.clone());
        Ok(())
    }

    async fn commit(
        &self,
        username: &Username,
        fence: &Fence,
        entry: &JournalEntry,
        last_access: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        Metrics::incr(&self.metrics.journal_commit);
        Metrics::incr(&self.metrics.table_write);
        let mut st = self.backend.state.lock();
        let token = (username.clone(), entry.request_id.clone());
        if st.commit_tokens.get(&token) == Some(&entry.seq) {
            return Ok(());
        }
        let fenced = st.sessions.get(username).is_some_and(|it| {
            it.owner.as_deref() == Some(fence.owner.as_str())
                && it.epoch == fence.epoch
                && it.seq == fence.seq
                && it.status == SessionStatus::Active
        });
        if !fenced || entry.seq != fence.seq + 1 {
            return Err(StoreError::ConditionFailed);
        }
        if let Some(it) = st.sessions.get_mut(username) {
            it.seq = entry.seq;
            it.last_access = last_access;
            it.expires_at = expires_at;
        }
        st.journal
            .entry(username.clone())
            .or_default()
            .insert(entry.seq, entry.clone());
        st.commit_tokens.insert(token, entry.seq);
        Ok(())
    }

    async fn journal(
        &self,
        username: &Username,
        after: u64,
        upto: u64,
    ) -> StoreResult<Vec<JournalEntry>> {
        Metrics::incr(&self.metrics.journal_read);
        Metrics::incr(&self.metrics.table_read);
        if after >= upto {
            return Ok(Vec::new());
        }
        let st = self.backend.state.lock();
        Ok(st
            .journal
            .get(username)
            .map(|j| j.range(after + 1..=upto).map(|(_, e)| e.clone()).collect())
            .unwrap_or_default())
    }

    async fn trim_journal(&self, username: &Username, upto: u64) -> StoreResult<()> {
        Metrics::incr(&self.metrics.table_write);
        let mut st = self.backend.state.lock();
        if let Some(j) = st.journal.get_mut(username) {
            j.retain(|seq, _| *seq > upto);
        }
        Ok(())
    }

    async fn delete_session(&self, username: &Username) -> StoreResult<()> {
        Metrics::incr(&self.metrics.table_write);
        self.backend.state.lock().sessions.remove(username);
        Ok(())
    }
}

#[async_trait]
impl FlushBus for MemoryPorts {
    async fn publish(&self, request: &FlushRequest) -> StoreResult<()> {
        Metrics::incr(&self.metrics.bus_publish);
        self.backend.bus.lock().push_back(request.clone());
        self.backend.bus_notify.notify_one();
        Ok(())
    }
}
