//! Unit tests of every transition of the request middleware, over the memory ports.

use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use javumbo_collection::ManualClock;

use super::*;
use crate::memory::MemoryBackend;
use crate::ports::{JournalPayload, StoreResult};

const T0: i64 = 1_700_000_000_000;

struct World {
    backend: Arc<MemoryBackend>,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
    user: Username,
}

impl World {
    async fn new() -> Self {
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

    fn container(&self, id: &str, tweak: impl FnOnce(&mut SessionConfig)) -> Arc<SessionManager> {
        self.container_with(id, tweak, |p| p)
    }

    fn container_with(
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
    fn spawn_flush_worker(&self) -> tokio::task::JoinHandle<()> {
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

fn add(front: &'static str) -> impl Fn(&Collection) -> Result<i64, CollectionError> + Send + Sync {
    move |c| Ok(c.add_card(front, "back", None)?.card_id)
}

fn fronts(c: &Collection) -> Result<Vec<String>, CollectionError> {
    let mut st = c.conn().prepare("SELECT flds FROM notes ORDER BY id")?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r?.split('\u{1f}').next().unwrap_or_default().to_owned());
    }
    Ok(out)
}

fn count(m: &Metrics, f: impl Fn(&Metrics) -> &std::sync::atomic::AtomicU64) -> u64 {
    f(m).load(Ordering::Relaxed)
}

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
        SessionError::Collection(CollectionError::NotFound(_))
    ));
    assert_eq!(err.session_id.as_deref(), Some(ok.session_id.as_str()));
    let read = a.with_collection(&w.user, fronts).await.unwrap();
    assert!(!read.value.contains(&"half-done".to_owned()));
    assert_eq!(w.backend.journal_seqs(&w.user), vec![1]);
}

#[tokio::test]
async fn another_container_shares_the_active_session_and_catches_up() {
    let w = World::new().await;
    let a = w.container("a", |_| {});
    let b = w.container("b", |_| {});
    let sa = a.with_collection(&w.user, add("from-a")).await.unwrap();
    // B has no copy: one download, then it serves A's session as it is. No flush, no wait.
    let sb = b.with_collection(&w.user, fronts).await.unwrap();
    assert!(sb.value.contains(&"from-a".to_owned()));
    assert_eq!(sa.session_id, sb.session_id, "one session, shared");
    b.with_collection(&w.user, add("from-b")).await.unwrap();
    // A's copy is one entry behind: it replays that entry instead of downloading anything.
    let ra = a.with_collection(&w.user, fronts).await.unwrap();
    assert!(
        ra.value
            .ends_with(&["from-a".to_owned(), "from-b".to_owned()])
    );
    for m in [a.metrics(), b.metrics()] {
        assert_eq!(count(m, |m| &m.takeover), 0);
        assert_eq!(count(m, |m| &m.bus_publish), 0);
        assert_eq!(count(m, |m| &m.blob_get), 1, "one download per container");
    }
    assert_eq!(count(a.metrics(), |m| &m.catch_up), 1);
    let item = w.backend.session_item(&w.user).unwrap();
    assert_eq!(
        (item.owner.as_deref(), item.epoch, item.seq),
        (Some("a"), 1, 2),
        "the claimant stays owner; seq counts both containers' commits"
    );
    assert_eq!(w.backend.journal_seqs(&w.user), vec![1, 2]);
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
            Ok(c.add_card("b-after", "b", None)?.card_id)
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
async fn long_journal_is_compacted_through_the_bus() {
    let w = World::new().await;
    let _worker = w.spawn_flush_worker();
    let a = w.container("a", |c| c.compact_after = 3);
    let first = a.with_collection(&w.user, add("c1")).await.unwrap();
    a.with_collection(&w.user, add("c2")).await.unwrap();
    a.with_collection(&w.user, add("c3")).await.unwrap();
    assert_eq!(count(a.metrics(), |m| &m.compaction), 1);
    assert_eq!(count(a.metrics(), |m| &m.bus_publish), 1);
    // The next request waits for the flush, then claims a new session on the same copy.
    let read = a.with_collection(&w.user, fronts).await.unwrap();
    assert!(
        read.value
            .ends_with(&["c1".to_owned(), "c2".to_owned(), "c3".to_owned()])
    );
    assert_ne!(read.session_id, first.session_id);
    let snap = w.backend.blob(&snapshot_key(&w.user)).unwrap();
    assert_eq!(snap.metadata.get("seq").map(String::as_str), Some("3"));
    // Folded, but kept for catch-ups (flush::JOURNAL_KEEP).
    assert_eq!(w.backend.journal_seqs(&w.user), vec![1, 2, 3]);
    assert_eq!(count(a.metrics(), |m| &m.blob_get), 1, "still one download");
}

#[tokio::test]
async fn a_copy_behind_a_flush_catches_up_from_the_kept_journal() {
    let w = World::new().await;
    let a = w.container("a", |_| {});
    let b = w.container("b", |_| {});
    let s = a.with_collection(&w.user, add("one")).await.unwrap();
    b.with_collection(&w.user, fronts).await.unwrap(); // b's copy at seq 1
    a.with_collection(&w.user, add("two")).await.unwrap();
    a.with_collection(&w.user, add("three")).await.unwrap();
    a.flush(&w.user, &s.session_id).await.unwrap(); // snapshot at seq 3
    let read = b.with_collection(&w.user, fronts).await.unwrap();
    assert!(
        read.value
            .ends_with(&["one".to_owned(), "two".to_owned(), "three".to_owned()])
    );
    assert_eq!(count(b.metrics(), |m| &m.catch_up), 1);
    assert_eq!(
        count(b.metrics(), |m| &m.blob_get),
        1,
        "no download of the new snapshot"
    );
}

#[tokio::test]
async fn flush_trims_the_journal_beyond_what_it_keeps() {
    let w = World::new().await;
    let a = w.container("a", |c| c.compact_after = 1_000);
    let n = flush::JOURNAL_KEEP + 6;
    let mut sid = String::new();
    for i in 0..n {
        sid = a
            .with_collection(&w.user, move |c| {
                Ok(c.add_card(&format!("k{i}"), "b", None)?.card_id)
            })
            .await
            .unwrap()
            .session_id;
    }
    a.flush(&w.user, &sid).await.unwrap();
    let kept = w.backend.journal_seqs(&w.user);
    assert_eq!(kept, (7..=n).collect::<Vec<_>>(), "entries 1..=6 trimmed");
}

#[tokio::test]
async fn unflushed_compaction_is_taken_over_after_the_timeout() {
    let w = World::new().await;
    // No flush handler runs: the compaction request is never answered.
    let a = w.container("a", |c| c.compact_after = 1);
    let b = w.container("b", |c| c.takeover_timeout = Duration::from_millis(50));
    a.with_collection(&w.user, add("from-a")).await.unwrap();
    assert_eq!(
        w.backend.session_item(&w.user).unwrap().status,
        SessionStatus::FlushRequested
    );
    let sb = b.with_collection(&w.user, add("from-b")).await.unwrap();
    assert_eq!(count(b.metrics(), |m| &m.takeover_timeout), 1);
    assert_eq!(count(b.metrics(), |m| &m.takeover), 1);
    let item = w.backend.session_item(&w.user).unwrap();
    assert_eq!(
        (item.owner.as_deref(), item.epoch, item.seq),
        (Some("b"), 2, 2)
    );
    // A's copy is from epoch 1; it is reused at the new epoch only through the fence.
    let a2 = w.container("a", |c| c.takeover_timeout = Duration::from_millis(50));
    let read = a2.with_collection(&w.user, fronts).await.unwrap();
    assert!(
        read.value
            .ends_with(&["from-a".to_owned(), "from-b".to_owned()])
    );
    assert_eq!(read.session_id, sb.session_id);
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
            Ok(c.add_card("second", "b", None)?.card_id)
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
        SessionError::Store(StoreError::Unavailable(_))
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
                Ok(col.add_card(&format!("x{i}"), "b", None)?.card_id)
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

#[tokio::test]
async fn owner_flush_uploads_from_cache_and_releases() {
    let w = World::new().await;
    let a = w.container("a", |_| {});
    let s = a.with_collection(&w.user, add("r1")).await.unwrap();
    a.with_collection(&w.user, add("r2")).await.unwrap();
    let m = a.metrics();
    assert_eq!(
        (count(m, |m| &m.blob_get), count(m, |m| &m.blob_put)),
        (1, 0)
    );
    assert!(matches!(
        a.flush(&w.user, "not-it").await,
        Err(SessionError::SessionNotFound)
    ));
    a.flush(&w.user, &s.session_id).await.unwrap();
    assert_eq!(
        (count(m, |m| &m.blob_get), count(m, |m| &m.blob_put)),
        (1, 1)
    );
    let view = a.status(&w.user).await.unwrap();
    assert!(!view.has_session);
    assert_eq!(view.status, "flushed");
    assert_eq!(
        w.backend.journal_seqs(&w.user),
        vec![1, 2],
        "kept for catch-ups"
    );
    // Flushing again is a no-op; the next request gets a new session without a download.
    a.flush(&w.user, &s.session_id).await.unwrap();
    let next = a.with_collection(&w.user, fronts).await.unwrap();
    assert_ne!(next.session_id, s.session_id);
    assert_eq!(count(m, |m| &m.blob_get), 1);
    // A fresh container sees both writes from the snapshot alone.
    let b = w.container("b", |_| {});
    a.flush(&w.user, &next.session_id).await.unwrap();
    let read = b.with_collection(&w.user, fronts).await.unwrap();
    assert!(read.value.ends_with(&["r1".to_owned(), "r2".to_owned()]));
}

#[tokio::test]
async fn lru_eviction_deletes_files_and_reloads() {
    let w = World::new().await;
    let bob = Username::parse("bob").unwrap();
    w.container("setup2", |_| {})
        .create_collection(&bob)
        .await
        .unwrap();
    let a = w.container("a", |c| c.cache_max_entries = 1);
    a.with_collection(&w.user, add("a1")).await.unwrap();
    a.with_collection(&bob, add("b1")).await.unwrap();
    let files = std::fs::read_dir(w.dir.path().join("a")).unwrap().count();
    assert_eq!(files, 1, "the evicted collection's file is deleted");
    let read = a.with_collection(&w.user, fronts).await.unwrap();
    assert!(read.value.contains(&"a1".to_owned()));
    assert_eq!(count(a.metrics(), |m| &m.cache_miss), 3);
}

#[tokio::test]
async fn expired_session_counts_as_free() {
    let w = World::new().await;
    let a = w.container("a", |_| {});
    let b = w.container("b", |_| {});
    let sa = a.with_collection(&w.user, add("x")).await.unwrap();
    w.clock.advance_ms(2 * 3600 * 1000);
    let sb = b.with_collection(&w.user, fronts).await.unwrap();
    assert!(sb.value.contains(&"x".to_owned()));
    assert_ne!(sa.session_id, sb.session_id);
    assert_eq!(count(b.metrics(), |m| &m.bus_publish), 0);
    assert_eq!(
        a.status(&w.user).await.unwrap().session_id,
        Some(sb.session_id)
    );
}
