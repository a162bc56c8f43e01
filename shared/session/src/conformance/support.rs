//! What every conformance check shares: fresh names and keys, racing tasks, the single-winner
//! assertion, and small fixtures.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::Barrier;

use crate::ports::*;
use crate::username::Username;

/// Writers in each race: enough to make a lost update likely if the adapter's check-and-set
/// is not atomic.
pub const RACERS: usize = 16;

/// A fresh valid username (`c` + 16 hex digits: within the 20-character limit).
pub fn unique_username() -> Username {
    let id = uuid::Uuid::new_v4().simple().to_string();
    Username::parse(&format!("c{}", &id[..16])).expect("generated username is valid")
}

/// A fresh nested blob key, shaped like the product's keys.
pub fn unique_key(leaf: &str) -> String {
    format!("conformance/{}/{leaf}", uuid::Uuid::new_v4().simple())
}

/// Run `f(i)` for `i in 0..n` as separate tasks released together; results in `i` order.
pub async fn race<T, F, Fut>(n: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            let fut = f(i);
            tokio::spawn(async move {
                barrier.wait().await;
                fut.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await.expect("racing task panicked"));
    }
    out
}

/// Exactly one `Ok`, every other outcome `ConditionFailed`; returns the winner's index.
pub(crate) fn single_winner<T: Debug>(what: &str, outcomes: &[StoreResult<T>]) -> usize {
    let winners: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{what}: expected exactly one winner, got {outcomes:?}"
    );
    for r in outcomes.iter().filter(|r| r.is_err()) {
        assert!(
            matches!(r, Err(StoreError::ConditionFailed)),
            "{what}: loser must see ConditionFailed, got {r:?}"
        );
    }
    winners[0]
}

pub(crate) fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// An active session held by `owner` at `epoch`, with no journal yet.
pub fn session_item(username: &Username, owner: &str, epoch: u64) -> SessionItem {
    SessionItem {
        username: username.clone(),
        session_id: uuid::Uuid::new_v4().to_string(),
        owner: Some(owner.to_owned()),
        epoch,
        status: SessionStatus::Active,
        seq: 0,
        snapshot_seq: 0,
        requested_by: None,
        last_access: 1_700_000_000_000,
        expires_at: 1_700_000_900,
    }
}

/// A small inline entry at `seq`.
pub fn journal_entry(seq: u64, request_id: &str) -> JournalEntry {
    JournalEntry {
        seq,
        payload: JournalPayload::Inline(Bytes::from(format!("changeset {seq}"))),
        request_id: request_id.to_owned(),
        at_ms: 1_700_000_000_000 + seq as i64,
        schema_fingerprint: "fp-11".into(),
    }
}

pub(crate) fn fence(owner: &str, epoch: u64, seq: u64) -> Fence {
    Fence {
        owner: owner.to_owned(),
        epoch,
        seq,
    }
}

pub(crate) async fn all_entries(store: &Arc<dyn SessionStore>, u: &Username) -> Vec<JournalEntry> {
    store.journal(u, 0, u64::MAX).await.expect("journal read")
}
