//! The request path over the memory ports: claims and hits, rollback of failed operations,
//! fence races, ambiguous commits and spilled changesets.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use javumbo_collection::CollectionError;

use crate::error::SessionError;
use crate::flush;
use crate::outcome::RequestError;
use crate::ports::{
    Fence, JournalEntry, JournalPayload, Ports, SessionExpect, SessionItem, SessionStore,
    StoreError, StoreResult,
};
use crate::test_support::{World, add, count, fronts};
use crate::username::Username;

#[tokio::test]
async fn free_claim_then_hits_with_one_download() {
    let w = World::new().await;
    let a = w.container("a", |_| {});
    let first = a.with_collection(&w.user, add("one")).await.unwrap();
    let second = a.with_collection(&w.user, add("two")).await.unwrap();
    let read = a.with_collection(&w.user, fronts).await.unwrap();
    assert_eq!(first.session_id, second.session_id);
    assert_eq!(read.session_id, first.session_id);
    assert!(read.value.ends_with(&["one".to_owned(), "two".to_owned()]));
    let item = w.backend.session_item(&w.user).unwrap();
    assert_eq!(
        (item.owner.as_deref(), item.epoch, item.seq),
        (Some("a"), 1, 2)
    );
    let m = a.metrics();
    assert_eq!(count(m, |m| &m.blob_get), 1);
    assert_eq!(count(m, |m| &m.blob_put), 0);
    assert_eq!(count(m, |m| &m.cache_hit), 2);
    assert_eq!(
        count(m, |m| &m.journal_commit),
        2,
        "the read committed nothing"
    );
    assert_eq!(w.backend.journal_seqs(&w.user), vec![1, 2]);
}

#[tokio::test]
async fn client_error_rolls_back_and_keeps_the_session_id() {
    let w = World::new().await;
    let a = w.container("a", |_| {});
    let ok = a.with_collection(&w.user, add("x")).await.unwrap();
    let err = a
        .with_collection(&w.user, |c| -> Result<(), CollectionError> {
            c.add_card("half-done", "b", None)?;
            Err(CollectionError::NotFound("nope".into()))
        })
        .await
        .err()
        .unwrap();
    assert!(matches!(
        err.error,
        RequestError::Op(CollectionError::NotFound(_))
    ));
    assert_eq!(err.session_id.as_deref(), Some(ok.session_id.as_str()));
    let read = a.with_collection(&w.user, fronts).await.unwrap();
    assert!(!read.value.contains(&"half-done".to_owned()));
    assert_eq!(w.backend.journal_seqs(&w.user), vec![1]);
}

#[tokio::test]
async fn racing_writers_on_two_containers_both_land_once() {
    let w = World::new().await;
    let a = w.container("a", |_| {});
    let b = w.container("b", |_| {});
    // Both copies at seq 1.
    a.with_collection(&w.user, add("base")).await.unwrap();
    b.with_collection(&w.user, fronts).await.unwrap();
    a.with_collection(&w.user, add("a-wins")).await.unwrap();
    // B's copy is at seq 1, the item at 2: B catches up before running, so it never even
    // hits the fence. Force the race instead: B commits on a copy that A moves under it.
    let (backend, user) = (w.backend.clone(), w.user.clone());
    let a2 = a.clone();
    let raced = Arc::new(AtomicU32::new(0));
    let r = raced.clone();
    let served = b
        .with_collection(&w.user, move |c| {
            if r.fetch_add(1, Ordering::SeqCst) == 0 {
                // A commits seq 3 while B's op runs on seq 2.
                let (a2, user) = (a2.clone(), user.clone());
                std::thread::spawn(move || {
                    tokio::runtime::Runtime::new()
                        .unwrap()
                        .block_on(a2.with_collection(&user, add("a-during")))
                        .unwrap();
                })
                .join()
                .unwrap();
            }
            Ok::<_, CollectionError>(c.add_card("b-after", "b", None)?.card_id)
        })
        .await
        .unwrap();
    assert!(served.value > 0);
    assert_eq!(
        raced.load(Ordering::SeqCst),
        2,
        "B ran again after the fence"
    );
    assert_eq!(count(b.metrics(), |m| &m.fence_retry), 1);
    assert_eq!(
        count(b.metrics(), |m| &m.blob_get),
        1,
        "the retry caught up from the journal, no reload"
    );
    let read = a.with_collection(&w.user, fronts).await.unwrap();
    for f in ["base", "a-wins", "a-during", "b-after"] {
        assert_eq!(read.value.iter().filter(|x| *x == f).count(), 1, "{f}");
    }
    assert_eq!(backend.journal_seqs(&w.user), vec![1, 2, 3, 4]);
}

#[tokio::test]
async fn lost_fence_rolls_back_and_retries_once() {
    let w = World::new().await;
    let a = w.container("a", |c| c.takeover_timeout = Duration::from_millis(30));
    a.with_collection(&w.user, add("first")).await.unwrap();
    let runs = Arc::new(AtomicU32::new(0));
    let (backend, user, r) = (w.backend.clone(), w.user.clone(), runs.clone());
    let served = a
        .with_collection(&w.user, move |c| {
            if r.fetch_add(1, Ordering::SeqCst) == 0 {
                // Another container takes the session over while this op runs.
                let mut it = backend.session_item(&user).unwrap();
                it.owner = Some("intruder".into());
                it.epoch += 1;
                backend.force_session(it);
            }
            Ok::<_, CollectionError>(c.add_card("second", "b", None)?.card_id)
        })
        .await
        .unwrap();
    assert!(served.value > 0);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(count(a.metrics(), |m| &m.fence_retry), 1);
    let read = a.with_collection(&w.user, fronts).await.unwrap();
    assert_eq!(read.value.iter().filter(|f| *f == "second").count(), 1);
    assert_eq!(w.backend.journal_seqs(&w.user), vec![1, 2]);
}

/// A session store whose first `n` commits apply and then report `Unavailable`.
struct AmbiguousCommits {
    inner: Arc<dyn SessionStore>,
    left: AtomicU32,
    applies: bool,
}

#[async_trait]
impl SessionStore for AmbiguousCommits {
    async fn get(&self, u: &Username) -> StoreResult<Option<SessionItem>> {
        self.inner.get(u).await
    }
    async fn put(&self, item: &SessionItem, e: SessionExpect) -> StoreResult<()> {
        self.inner.put(item, e).await
    }
    async fn commit(
        &self,
        u: &Username,
        f: &Fence,
        e: &JournalEntry,
        la: i64,
        ex: i64,
    ) -> StoreResult<()> {
        if self.left.load(Ordering::SeqCst) == 0 {
            return self.inner.commit(u, f, e, la, ex).await;
        }
        self.left.fetch_sub(1, Ordering::SeqCst);
        if self.applies {
            self.inner.commit(u, f, e, la, ex).await?;
        }
        Err(StoreError::Unavailable("timeout".into()))
    }
    async fn journal(&self, u: &Username, a: u64, b: u64) -> StoreResult<Vec<JournalEntry>> {
        self.inner.journal(u, a, b).await
    }
    async fn trim_journal(&self, u: &Username, upto: u64) -> StoreResult<()> {
        self.inner.trim_journal(u, upto).await
    }
}

fn ambiguous(n: u32, applies: bool) -> impl FnOnce(Ports) -> Ports {
    move |mut p| {
        p.sessions = Arc::new(AmbiguousCommits {
            inner: p.sessions.clone(),
            left: AtomicU32::new(n),
            applies,
        });
        p
    }
}

#[tokio::test]
async fn ambiguous_commit_that_landed_is_retried_idempotently() {
    let w = World::new().await;
    let a = w.container_with("a", |_| {}, ambiguous(1, true));
    a.with_collection(&w.user, add("once")).await.unwrap();
    assert_eq!(w.backend.journal_seqs(&w.user), vec![1]);
    let read = a.with_collection(&w.user, fronts).await.unwrap();
    assert_eq!(read.value.iter().filter(|f| *f == "once").count(), 1);
}

#[tokio::test]
async fn ambiguous_commit_that_keeps_failing_is_never_acknowledged() {
    let w = World::new().await;
    // Three attempts (1 + 2 retries) all fail; the first one actually landed.
    let a = w.container_with("a", |_| {}, ambiguous(3, true));
    let err = a
        .with_collection(&w.user, add("maybe"))
        .await
        .err()
        .unwrap();
    assert!(matches!(
        err.error,
        RequestError::Session(SessionError::Store(StoreError::Unavailable(_)))
    ));
    // The cache was dropped: the next request rebuilds from the store and sees the entry that
    // did land, exactly once.
    let read = a.with_collection(&w.user, fronts).await.unwrap();
    assert_eq!(read.value.iter().filter(|f| *f == "maybe").count(), 1);

    let w = World::new().await;
    let a = w.container_with("a", |_| {}, ambiguous(3, false));
    assert!(a.with_collection(&w.user, add("lost")).await.is_err());
    let read = a.with_collection(&w.user, fronts).await.unwrap();
    assert!(!read.value.contains(&"lost".to_owned()));
}

#[tokio::test]
async fn large_changesets_spill_and_flush_cleans_them_up() {
    let w = World::new().await;
    let a = w.container("a", |c| c.spill_threshold = 0);
    let s = a.with_collection(&w.user, add("spilled")).await.unwrap();
    let listed = w.backend.blob_keys();
    let spill: Vec<_> = listed
        .iter()
        .filter(|k| k.starts_with("journal/alice/1-"))
        .collect();
    assert_eq!(spill.len(), 1, "{listed:?}");
    assert_eq!(count(a.metrics(), |m| &m.journal_spill), 1);
    let entries = a.ports().sessions.journal(&w.user, 0, 1).await.unwrap();
    assert!(matches!(entries[0].payload, JournalPayload::Spilled { .. }));
    // Another container replays the spilled entry, then flushes the shared session.
    let b = w.container("b", |_| {});
    let read = b.with_collection(&w.user, fronts).await.unwrap();
    assert!(read.value.contains(&"spilled".to_owned()));
    assert_eq!(read.session_id, s.session_id);
    b.flush(&w.user, &s.session_id).await.unwrap();
    // The folded entry is kept for catch-ups, and its spilled payload with it...
    assert_eq!(w.backend.journal_seqs(&w.user), vec![1]);
    assert!(
        w.backend
            .blob_keys()
            .iter()
            .any(|k| k.starts_with("journal/alice/1-"))
    );
    // ...until a later flush trims it: then the payload goes too.
    let c = w.container("c", |c| c.compact_after = 1_000);
    let mut sid = String::new();
    for i in 0..flush::JOURNAL_KEEP {
        sid = c
            .with_collection(&w.user, move |col| {
                Ok::<_, CollectionError>(col.add_card(&format!("x{i}"), "b", None)?.card_id)
            })
            .await
            .unwrap()
            .session_id;
    }
    c.flush(&w.user, &sid).await.unwrap();
    assert!(!w.backend.journal_seqs(&w.user).contains(&1));
    assert!(
        w.backend
            .blob_keys()
            .iter()
            .all(|k| !k.starts_with("journal/alice/1-")),
        "the trimmed entry's spill blob is deleted"
    );
}

/// Compile-time check: the futures of the public entry points are `Send`, as the HTTP layer
/// runs them on a multi-threaded runtime (holding a `&CacheEntry` across an await breaks it).
#[allow(dead_code)]
fn public_futures_are_send(m: &crate::SessionManager, u: &Username) {
    fn send<T: Send>(_: T) {}
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SessionError>();
    send_sync::<StoreError>();
    send(m.with_collection(u, |_| Ok::<(), CollectionError>(())));
    send(m.flush(u, ""));
    send(m.status(u));
    send(m.create_collection(u));
}
