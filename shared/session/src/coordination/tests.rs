//! Flush coordination over the memory ports: compaction through the bus, explicit flushes
//! from the cache, trimming, and what `status` answers.

use javumbo_collection::CollectionError;

use crate::error::SessionError;
use crate::flush;
use crate::ports::{SessionStatus, snapshot_key};
use crate::test_support::{World, add, count, fronts};

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
async fn flush_trims_the_journal_beyond_what_it_keeps() {
    let w = World::new().await;
    let a = w.container("a", |c| c.compact_after = 1_000);
    let n = flush::JOURNAL_KEEP + 6;
    let mut sid = String::new();
    for i in 0..n {
        sid = a
            .with_collection(&w.user, move |c| {
                Ok::<_, CollectionError>(c.add_card(&format!("k{i}"), "b", None)?.card_id)
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
    assert_eq!(view.status, Some(SessionStatus::Flushed));
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
async fn status_json_names_the_status_or_none() {
    let w = World::new().await;
    let a = w.container("a", |_| {});
    let json = |v| serde_json::to_value(v).unwrap();
    assert_eq!(
        json(a.status(&w.user).await.unwrap()),
        serde_json::json!({"has_session": false, "session_id": null, "status": "none"})
    );
    let s = a.with_collection(&w.user, add("x")).await.unwrap();
    assert_eq!(
        json(a.status(&w.user).await.unwrap()),
        serde_json::json!({"has_session": true, "session_id": s.session_id, "status": "active"})
    );
    for (status, name) in [
        (SessionStatus::FlushRequested, "flush_requested"),
        (SessionStatus::Flushing, "flushing"),
        (SessionStatus::Flushed, "flushed"),
    ] {
        let mut it = w.backend.session_item(&w.user).unwrap();
        it.status = status;
        w.backend.force_session(it);
        let view = a.status(&w.user).await.unwrap();
        assert_eq!(view.status, Some(status));
        assert_eq!(json(view)["status"], name);
    }
}

#[tokio::test]
async fn a_superseded_id_flushes_the_current_session() {
    let w = World::new().await;
    let a = w.container("a", |_| {});
    let first = a.with_collection(&w.user, add("r1")).await.unwrap();
    a.flush(&w.user, &first.session_id).await.unwrap();
    // Compaction or a takeover would do the same: the user is on a new session, and the client
    // still holds the first id.
    let second = a.with_collection(&w.user, add("r2")).await.unwrap();
    assert_ne!(second.session_id, first.session_id);
    let current = a.flush(&w.user, &first.session_id).await.unwrap();
    assert_eq!(
        current, second.session_id,
        "the current session is the one flushed"
    );
    let view = a.status(&w.user).await.unwrap();
    assert_eq!(view.status, Some(SessionStatus::Flushed));
    // Another user's id, or one never issued, is still not found.
    let other = crate::lineage::fresh();
    assert!(matches!(
        a.flush(&w.user, &other).await,
        Err(SessionError::SessionNotFound)
    ));
}
