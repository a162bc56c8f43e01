//! `SessionStore` checks of the journal: the fenced commit (atomic, single winner, idempotent
//! on the request id), range reads, trims and payloads.

use std::sync::Arc;

use bytes::Bytes;

use super::support::{
    RACERS, all_entries, fence, journal_entry, race, session_item, single_winner, unique_key,
    unique_username,
};
use crate::ports::*;

pub async fn session_commit_appends(store: Arc<dyn SessionStore>) {
    let u = unique_username();
    let item = session_item(&u, "c-a", 7);
    store
        .put(&item, SessionExpect::Absent)
        .await
        .expect("create");
    for seq in 1..=3u64 {
        let e = journal_entry(seq, &format!("req-{}", uuid::Uuid::new_v4()));
        store
            .commit(
                &u,
                &fence("c-a", 7, seq - 1),
                &e,
                2_000 + seq as i64,
                3_000 + seq as i64,
            )
            .await
            .expect("commit");
        let now = store.get(&u).await.expect("get").expect("present");
        let expected = SessionItem {
            seq,
            last_access: 2_000 + seq as i64,
            expires_at: 3_000 + seq as i64,
            ..item.clone()
        };
        assert_eq!(
            now, expected,
            "commit bumps seq, last_access and expires_at and nothing else"
        );
        assert_eq!(all_entries(&store, &u).await.last(), Some(&e));
    }
    assert_eq!(all_entries(&store, &u).await.len(), 3);
}

pub async fn session_commit_fenced(store: Arc<dyn SessionStore>) {
    let u = unique_username();
    let missing = store
        .commit(
            &u,
            &fence("c-a", 1, 0),
            &journal_entry(1, "r-missing"),
            1,
            1,
        )
        .await;
    assert_eq!(
        missing,
        Err(StoreError::ConditionFailed),
        "commit without a session item"
    );

    let item = session_item(&u, "c-a", 3);
    store
        .put(&item, SessionExpect::Absent)
        .await
        .expect("create");
    store
        .commit(
            &u,
            &fence("c-a", 3, 0),
            &journal_entry(1, &unique_key("r")),
            10,
            20,
        )
        .await
        .expect("commit 1");
    let before = store.get(&u).await.expect("get").expect("present");
    let journal_before = all_entries(&store, &u).await;

    let bad = [
        ("owner", fence("c-b", 3, 1)),
        ("older epoch", fence("c-a", 2, 1)),
        ("newer epoch", fence("c-a", 4, 1)),
        ("stale seq", fence("c-a", 3, 0)),
        ("future seq", fence("c-a", 3, 2)),
    ];
    for (what, f) in bad {
        let e = journal_entry(f.seq + 1, &unique_key("r"));
        assert_eq!(
            store.commit(&u, &f, &e, 99, 99).await,
            Err(StoreError::ConditionFailed),
            "{what}"
        );
        assert_eq!(
            store.get(&u).await.expect("get").as_ref(),
            Some(&before),
            "{what}: item changed"
        );
        assert_eq!(
            all_entries(&store, &u).await,
            journal_before,
            "{what}: journal changed"
        );
    }

    for status in [
        SessionStatus::FlushRequested,
        SessionStatus::Flushing,
        SessionStatus::Flushed,
    ] {
        let current = store.get(&u).await.expect("get").expect("present");
        let changed = SessionItem {
            status,
            ..current.clone()
        };
        store
            .put(&changed, SessionExpect::matching(&current))
            .await
            .expect("status change");
        let e = journal_entry(2, &unique_key("r"));
        assert_eq!(
            store.commit(&u, &fence("c-a", 3, 1), &e, 99, 99).await,
            Err(StoreError::ConditionFailed),
            "status {status:?}"
        );
        assert_eq!(
            store.get(&u).await.expect("get"),
            Some(changed),
            "{status:?}: item changed"
        );
        assert_eq!(
            all_entries(&store, &u).await,
            journal_before,
            "{status:?}: journal changed"
        );
    }
}

pub async fn session_concurrent_commits_single_winner(store: Arc<dyn SessionStore>) {
    let u = unique_username();
    store
        .put(&session_item(&u, "c-a", 1), SessionExpect::Absent)
        .await
        .expect("create");
    let outcomes = race(RACERS, |i| {
        let (store, u) = (Arc::clone(&store), u.clone());
        async move {
            store
                .commit(
                    &u,
                    &fence("c-a", 1, 0),
                    &journal_entry(1, &format!("race-{u}-{i}")),
                    5,
                    6,
                )
                .await
        }
    })
    .await;
    let w = single_winner("concurrent commits", &outcomes);
    let entries = all_entries(&store, &u).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].request_id, format!("race-{u}-{w}"));
    assert_eq!(store.get(&u).await.expect("get").expect("present").seq, 1);
}

pub async fn session_commit_retry_idempotent(store: Arc<dyn SessionStore>) {
    let u = unique_username();
    store
        .put(&session_item(&u, "c-a", 1), SessionExpect::Absent)
        .await
        .expect("create");
    let e1 = journal_entry(1, &unique_key("retry"));
    store
        .commit(&u, &fence("c-a", 1, 0), &e1, 5, 6)
        .await
        .expect("commit");
    // The retry after an ambiguous failure, verbatim.
    store
        .commit(&u, &fence("c-a", 1, 0), &e1, 5, 6)
        .await
        .expect("retry of a committed request succeeds");
    assert_eq!(all_entries(&store, &u).await, vec![e1.clone()]);
    assert_eq!(store.get(&u).await.expect("get").expect("present").seq, 1);

    // Still recognised after the session has moved on.
    let e2 = journal_entry(2, &unique_key("retry"));
    store
        .commit(&u, &fence("c-a", 1, 1), &e2, 7, 8)
        .await
        .expect("commit 2");
    store
        .commit(&u, &fence("c-a", 1, 0), &e1, 5, 6)
        .await
        .expect("late retry");
    assert_eq!(all_entries(&store, &u).await, vec![e1, e2]);
    let item = store.get(&u).await.expect("get").expect("present");
    assert_eq!(
        (item.seq, item.last_access, item.expires_at),
        (2, 7, 8),
        "a retry must not touch the item"
    );
}

pub async fn session_journal_range(store: Arc<dyn SessionStore>) {
    let u = unique_username();
    store
        .put(&session_item(&u, "c-a", 1), SessionExpect::Absent)
        .await
        .expect("create");
    let mut entries = Vec::new();
    for seq in 1..=5u64 {
        let e = journal_entry(seq, &unique_key("range"));
        store
            .commit(&u, &fence("c-a", 1, seq - 1), &e, 1, 1)
            .await
            .expect("commit");
        entries.push(e);
    }
    let seqs = |v: Vec<JournalEntry>| v.into_iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(
        all_entries(&store, &u).await,
        entries,
        "full read, ascending, fields intact"
    );
    assert_eq!(
        seqs(store.journal(&u, 0, 5).await.expect("read")),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(
        seqs(store.journal(&u, 1, 3).await.expect("read")),
        vec![2, 3],
        "(after, upto]"
    );
    assert_eq!(seqs(store.journal(&u, 4, 5).await.expect("read")), vec![5]);
    assert!(store.journal(&u, 3, 3).await.expect("read").is_empty());
    assert!(
        store.journal(&u, 4, 2).await.expect("read").is_empty(),
        "inverted range"
    );
    assert!(store.journal(&u, 5, 100).await.expect("read").is_empty());
    // Another user's journal is separate.
    assert!(all_entries(&store, &unique_username()).await.is_empty());
}

pub async fn session_trim_idempotent(store: Arc<dyn SessionStore>) {
    let u = unique_username();
    store
        .put(&session_item(&u, "c-a", 1), SessionExpect::Absent)
        .await
        .expect("create");
    for seq in 1..=5u64 {
        store
            .commit(
                &u,
                &fence("c-a", 1, seq - 1),
                &journal_entry(seq, &unique_key("trim")),
                1,
                1,
            )
            .await
            .expect("commit");
    }
    let item = store.get(&u).await.expect("get");
    let seqs = |v: Vec<JournalEntry>| v.into_iter().map(|e| e.seq).collect::<Vec<_>>();
    store.trim_journal(&u, 0).await.expect("trim nothing");
    assert_eq!(seqs(all_entries(&store, &u).await), vec![1, 2, 3, 4, 5]);
    store.trim_journal(&u, 2).await.expect("trim");
    assert_eq!(seqs(all_entries(&store, &u).await), vec![3, 4, 5]);
    store.trim_journal(&u, 2).await.expect("trim again");
    assert_eq!(seqs(all_entries(&store, &u).await), vec![3, 4, 5]);
    store
        .trim_journal(&u, 100)
        .await
        .expect("trim past the end");
    assert!(all_entries(&store, &u).await.is_empty());
    assert_eq!(
        store.get(&u).await.expect("get"),
        item,
        "trim does not touch the item"
    );
    store
        .trim_journal(&unique_username(), 5)
        .await
        .expect("trim a user without journal");
}

pub async fn session_payload_round_trip(store: Arc<dyn SessionStore>) {
    let u = unique_username();
    store
        .put(&session_item(&u, "c-a", 1), SessionExpect::Absent)
        .await
        .expect("create");
    let spilled = JournalEntry {
        payload: JournalPayload::Spilled {
            blob_key: spill_key(&u, 1),
            len: 7_654_321,
        },
        ..journal_entry(1, &unique_key("spill"))
    };
    // Just under the spill threshold: binary with NULs, the largest inline entry the
    // manager writes.
    let big = JournalEntry {
        payload: JournalPayload::Inline(Bytes::from(
            (0..300_000u32)
                .map(|i| (i * 7 % 256) as u8)
                .collect::<Vec<u8>>(),
        )),
        ..journal_entry(2, &unique_key("inline"))
    };
    let empty = JournalEntry {
        payload: JournalPayload::Inline(Bytes::new()),
        ..journal_entry(3, &unique_key("empty"))
    };
    store
        .commit(&u, &fence("c-a", 1, 0), &spilled, 1, 1)
        .await
        .expect("commit spilled");
    store
        .commit(&u, &fence("c-a", 1, 1), &big, 1, 1)
        .await
        .expect("commit big inline");
    store
        .commit(&u, &fence("c-a", 1, 2), &empty, 1, 1)
        .await
        .expect("commit empty inline");
    assert_eq!(all_entries(&store, &u).await, vec![spilled, big, empty]);
}
