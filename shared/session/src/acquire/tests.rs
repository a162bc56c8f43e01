//! Acquisition over the memory ports: sharing an active session across containers, catching
//! up from the journal, takeover after an unanswered flush, eviction and expiry.

use std::time::Duration;

use crate::ports::SessionStatus;
use crate::test_support::{World, add, count, fronts};
use crate::username::Username;

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
