//! The port conformance suite: one set of checks every adapter of [`crate::ports`] must pass
//! (embedded and AWS alike). Each check is a plain async function over `Arc<dyn Port>` that
//! panics on a violation, so an adapter crate's test calls `run_all_*` (or single checks) from
//! a multi-threaded tokio test.
//!
//! Every check uses fresh usernames and keys, so the suite can share one table / bucket with
//! other runs (the AWS emulator is not reset between tests).

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
fn single_winner<T: Debug>(what: &str, outcomes: &[StoreResult<T>]) -> usize {
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

fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// BlobStore
// ---------------------------------------------------------------------------------------------

pub async fn run_all_blob(store: Arc<dyn BlobStore>) {
    blob_get_missing(Arc::clone(&store)).await;
    blob_round_trip_with_metadata(Arc::clone(&store)).await;
    blob_etag_changes_with_content(Arc::clone(&store)).await;
    blob_if_absent_on_existing_fails(Arc::clone(&store)).await;
    blob_if_match(Arc::clone(&store)).await;
    blob_concurrent_if_absent_single_winner(Arc::clone(&store)).await;
    blob_concurrent_if_match_single_winner(Arc::clone(&store)).await;
    blob_delete_idempotent(store).await;
}

pub async fn blob_get_missing(store: Arc<dyn BlobStore>) {
    assert_eq!(store.get(&unique_key("missing")).await.expect("get"), None);
}

pub async fn blob_round_trip_with_metadata(store: Arc<dyn BlobStore>) {
    // Metadata keys are lowercase: S3 lowercases user metadata names.
    let cases = [
        (
            Bytes::from_static(b"hello"),
            meta(&[(SNAPSHOT_SEQ_META, "42"), ("kind", "snapshot")]),
        ),
        (Bytes::new(), BTreeMap::new()),
        // Binary, with NULs and newlines, large enough to need more than one read.
        (
            Bytes::from(
                (0..1_000_000u32)
                    .map(|i| (i % 251) as u8)
                    .collect::<Vec<u8>>(),
            ),
            meta(&[("seq", "0")]),
        ),
    ];
    for (bytes, metadata) in cases {
        let key = unique_key("user_dbs/x.anki2");
        let etag = store
            .put(&key, bytes.clone(), metadata.clone(), PutCondition::Any)
            .await
            .expect("put");
        let blob = store
            .get(&key)
            .await
            .expect("get")
            .expect("blob present right after put");
        assert_eq!(blob.bytes, bytes);
        assert_eq!(blob.metadata, metadata);
        assert_eq!(blob.etag, etag, "get returns the etag put returned");
    }
}

pub async fn blob_etag_changes_with_content(store: Arc<dyn BlobStore>) {
    let key = unique_key("etag");
    let m = meta(&[("seq", "1")]);
    let e1 = store
        .put(
            &key,
            Bytes::from_static(b"one"),
            m.clone(),
            PutCondition::Any,
        )
        .await
        .expect("put");
    let e2 = store
        .put(
            &key,
            Bytes::from_static(b"two"),
            m.clone(),
            PutCondition::Any,
        )
        .await
        .expect("put");
    assert_ne!(e1, e2);
    let blob = store.get(&key).await.expect("get").expect("present");
    assert_eq!((blob.bytes, blob.etag), (Bytes::from_static(b"two"), e2));
}

pub async fn blob_if_absent_on_existing_fails(store: Arc<dyn BlobStore>) {
    let key = unique_key("absent");
    let etag = store
        .put(
            &key,
            Bytes::from_static(b"first"),
            meta(&[("seq", "1")]),
            PutCondition::IfAbsent,
        )
        .await
        .expect("IfAbsent on a missing key succeeds");
    let again = store
        .put(
            &key,
            Bytes::from_static(b"second"),
            meta(&[("seq", "2")]),
            PutCondition::IfAbsent,
        )
        .await;
    assert_eq!(again, Err(StoreError::ConditionFailed));
    let blob = store.get(&key).await.expect("get").expect("present");
    assert_eq!(
        blob.bytes,
        Bytes::from_static(b"first"),
        "a failed IfAbsent must not write"
    );
    assert_eq!(blob.metadata, meta(&[("seq", "1")]));
    assert_eq!(blob.etag, etag);
}

pub async fn blob_if_match(store: Arc<dyn BlobStore>) {
    let key = unique_key("match");
    let missing = store
        .put(
            &key,
            Bytes::from_static(b"x"),
            BTreeMap::new(),
            PutCondition::IfMatch("nope".into()),
        )
        .await;
    assert_eq!(
        missing,
        Err(StoreError::ConditionFailed),
        "IfMatch on a missing key"
    );
    assert_eq!(store.get(&key).await.expect("get"), None);

    let e1 = store
        .put(
            &key,
            Bytes::from_static(b"v1"),
            BTreeMap::new(),
            PutCondition::Any,
        )
        .await
        .expect("put");
    let e2 = store
        .put(
            &key,
            Bytes::from_static(b"v2"),
            meta(&[("seq", "2")]),
            PutCondition::IfMatch(e1.clone()),
        )
        .await
        .expect("IfMatch with the current etag succeeds");
    let stale = store
        .put(
            &key,
            Bytes::from_static(b"v3"),
            BTreeMap::new(),
            PutCondition::IfMatch(e1),
        )
        .await;
    assert_eq!(
        stale,
        Err(StoreError::ConditionFailed),
        "IfMatch with a stale etag"
    );
    let blob = store.get(&key).await.expect("get").expect("present");
    assert_eq!(
        (blob.bytes, blob.etag, blob.metadata),
        (Bytes::from_static(b"v2"), e2, meta(&[("seq", "2")]))
    );
}

pub async fn blob_concurrent_if_absent_single_winner(store: Arc<dyn BlobStore>) {
    let key = unique_key("race-absent");
    let outcomes = race(RACERS, |i| {
        let (store, key) = (Arc::clone(&store), key.clone());
        async move {
            store
                .put(
                    &key,
                    Bytes::from(format!("writer {i}")),
                    BTreeMap::new(),
                    PutCondition::IfAbsent,
                )
                .await
        }
    })
    .await;
    let w = single_winner("concurrent IfAbsent", &outcomes);
    let blob = store.get(&key).await.expect("get").expect("present");
    assert_eq!(
        blob.bytes,
        Bytes::from(format!("writer {w}")),
        "the stored object is the winner's"
    );
}

pub async fn blob_concurrent_if_match_single_winner(store: Arc<dyn BlobStore>) {
    let key = unique_key("race-match");
    let base = store
        .put(
            &key,
            Bytes::from_static(b"base"),
            BTreeMap::new(),
            PutCondition::Any,
        )
        .await
        .expect("put");
    let outcomes = race(RACERS, |i| {
        let (store, key, base) = (Arc::clone(&store), key.clone(), base.clone());
        async move {
            store
                .put(
                    &key,
                    Bytes::from(format!("writer {i}")),
                    BTreeMap::new(),
                    PutCondition::IfMatch(base),
                )
                .await
        }
    })
    .await;
    let w = single_winner("concurrent IfMatch", &outcomes);
    let blob = store.get(&key).await.expect("get").expect("present");
    assert_eq!(blob.bytes, Bytes::from(format!("writer {w}")));
    assert_eq!(Ok(blob.etag), outcomes[w].clone());
}

pub async fn blob_delete_idempotent(store: Arc<dyn BlobStore>) {
    let key = unique_key("delete");
    store
        .delete(&key)
        .await
        .expect("deleting a missing key is not an error");
    store
        .put(
            &key,
            Bytes::from_static(b"x"),
            BTreeMap::new(),
            PutCondition::Any,
        )
        .await
        .expect("put");
    store.delete(&key).await.expect("delete");
    assert_eq!(store.get(&key).await.expect("get"), None);
    store.delete(&key).await.expect("second delete");
    store
        .put(
            &key,
            Bytes::from_static(b"y"),
            BTreeMap::new(),
            PutCondition::IfAbsent,
        )
        .await
        .expect("IfAbsent after delete succeeds");
}

// ---------------------------------------------------------------------------------------------
// UserStore
// ---------------------------------------------------------------------------------------------

fn user(username: &Username, hash: &str) -> UserRecord {
    UserRecord {
        username: username.clone(),
        password_hash: hash.to_owned(),
        name: "Conformance".into(),
        created_at: 1_700_000_000_000,
    }
}

pub async fn run_all_user(store: Arc<dyn UserStore>) {
    user_get_missing(Arc::clone(&store)).await;
    user_create_if_absent_twice(Arc::clone(&store)).await;
    user_concurrent_create_single_winner(Arc::clone(&store)).await;
    user_update_password_hash_cas(store).await;
}

pub async fn user_get_missing(store: Arc<dyn UserStore>) {
    assert_eq!(store.get(&unique_username()).await.expect("get"), None);
}

pub async fn user_create_if_absent_twice(store: Arc<dyn UserStore>) {
    let name = unique_username();
    let first = user(&name, "$argon2id$first");
    assert!(store.create_if_absent(&first).await.expect("create"));
    assert!(
        !store
            .create_if_absent(&user(&name, "$argon2id$second"))
            .await
            .expect("create again")
    );
    assert_eq!(
        store.get(&name).await.expect("get"),
        Some(first),
        "the second create must not overwrite"
    );
}

pub async fn user_concurrent_create_single_winner(store: Arc<dyn UserStore>) {
    let name = unique_username();
    let outcomes = race(RACERS, |i| {
        let (store, record) = (Arc::clone(&store), user(&name, &format!("hash-{i}")));
        async move { store.create_if_absent(&record).await }
    })
    .await;
    let winners: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.as_ref()
                .expect("create_if_absent must not fail")
                .then_some(i)
        })
        .collect();
    assert_eq!(winners.len(), 1, "exactly one create wins: {outcomes:?}");
    let stored = store.get(&name).await.expect("get").expect("present");
    assert_eq!(stored.password_hash, format!("hash-{}", winners[0]));
}

pub async fn user_update_password_hash_cas(store: Arc<dyn UserStore>) {
    let name = unique_username();
    assert!(
        store
            .create_if_absent(&user(&name, "old"))
            .await
            .expect("create")
    );
    store
        .update_password_hash(&name, "old", "new")
        .await
        .expect("CAS with the current hash");
    assert_eq!(
        store.update_password_hash(&name, "old", "newer").await,
        Err(StoreError::ConditionFailed)
    );
    assert_eq!(
        store
            .get(&name)
            .await
            .expect("get")
            .expect("present")
            .password_hash,
        "new"
    );
    assert_eq!(
        store
            .update_password_hash(&unique_username(), "old", "new")
            .await,
        Err(StoreError::ConditionFailed),
        "updating a missing user"
    );
}

// ---------------------------------------------------------------------------------------------
// SessionStore
// ---------------------------------------------------------------------------------------------

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

fn fence(owner: &str, epoch: u64, seq: u64) -> Fence {
    Fence {
        owner: owner.to_owned(),
        epoch,
        seq,
    }
}

async fn all_entries(store: &Arc<dyn SessionStore>, u: &Username) -> Vec<JournalEntry> {
    store.journal(u, 0, u64::MAX).await.expect("journal read")
}

pub async fn run_all_session(store: Arc<dyn SessionStore>) {
    session_get_missing(Arc::clone(&store)).await;
    session_put_absent_twice(Arc::clone(&store)).await;
    session_version_cas(Arc::clone(&store)).await;
    session_commit_appends(Arc::clone(&store)).await;
    session_commit_fenced(Arc::clone(&store)).await;
    session_concurrent_commits_single_winner(Arc::clone(&store)).await;
    session_commit_retry_idempotent(Arc::clone(&store)).await;
    session_journal_range(Arc::clone(&store)).await;
    session_trim_idempotent(Arc::clone(&store)).await;
    session_payload_round_trip(Arc::clone(&store)).await;
    session_read_after_write(store).await;
}

pub async fn session_get_missing(store: Arc<dyn SessionStore>) {
    let u = unique_username();
    assert_eq!(store.get(&u).await.expect("get"), None);
    assert!(all_entries(&store, &u).await.is_empty());
}

pub async fn session_put_absent_twice(store: Arc<dyn SessionStore>) {
    let u = unique_username();
    let first = session_item(&u, "c-a", 1);
    store
        .put(&first, SessionExpect::Absent)
        .await
        .expect("first put");
    let second = session_item(&u, "c-b", 1);
    assert_eq!(
        store.put(&second, SessionExpect::Absent).await,
        Err(StoreError::ConditionFailed)
    );
    assert_eq!(store.get(&u).await.expect("get"), Some(first));
}

pub async fn session_version_cas(store: Arc<dyn SessionStore>) {
    let u = unique_username();
    let v1 = session_item(&u, "c-a", 1);
    assert_eq!(
        store.put(&v1, SessionExpect::matching(&v1)).await,
        Err(StoreError::ConditionFailed),
        "Version expectation on a missing item"
    );
    store.put(&v1, SessionExpect::Absent).await.expect("create");

    // A takeover: new owner, epoch + 1.
    let v2 = SessionItem {
        owner: Some("c-b".into()),
        epoch: 2,
        requested_by: Some("c-b".into()),
        ..v1.clone()
    };
    store
        .put(&v2, SessionExpect::matching(&v1))
        .await
        .expect("CAS from the current version");
    assert_eq!(store.get(&u).await.expect("get"), Some(v2.clone()));

    // Each version field on its own must be compared.
    let target = SessionItem {
        status: SessionStatus::Flushed,
        owner: None,
        ..v2.clone()
    };
    let wrong = [
        SessionExpect::matching(&v1),
        SessionExpect::Version {
            epoch: 3,
            seq: 0,
            status: SessionStatus::Active,
            owner: Some("c-b".into()),
        },
        SessionExpect::Version {
            epoch: 2,
            seq: 1,
            status: SessionStatus::Active,
            owner: Some("c-b".into()),
        },
        SessionExpect::Version {
            epoch: 2,
            seq: 0,
            status: SessionStatus::Flushing,
            owner: Some("c-b".into()),
        },
        SessionExpect::Version {
            epoch: 2,
            seq: 0,
            status: SessionStatus::Active,
            owner: Some("c-a".into()),
        },
        SessionExpect::Version {
            epoch: 2,
            seq: 0,
            status: SessionStatus::Active,
            owner: None,
        },
        SessionExpect::Absent,
    ];
    for expect in wrong {
        assert_eq!(
            store.put(&target, expect.clone()).await,
            Err(StoreError::ConditionFailed),
            "{expect:?}"
        );
        assert_eq!(
            store.get(&u).await.expect("get"),
            Some(v2.clone()),
            "failed CAS {expect:?} changed the item"
        );
    }

    // `owner: None` must match an item without owner.
    store
        .put(&target, SessionExpect::matching(&v2))
        .await
        .expect("to flushed");
    let reclaimed = SessionItem {
        owner: Some("c-c".into()),
        epoch: 3,
        status: SessionStatus::Active,
        ..target.clone()
    };
    store
        .put(&reclaimed, SessionExpect::matching(&target))
        .await
        .expect("claim a flushed item");
    assert_eq!(store.get(&u).await.expect("get"), Some(reclaimed));
}

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

pub async fn session_read_after_write(store: Arc<dyn SessionStore>) {
    let u = unique_username();
    let item = session_item(&u, "c-a", 1);
    store
        .put(&item, SessionExpect::Absent)
        .await
        .expect("create");
    assert_eq!(store.get(&u).await.expect("get"), Some(item.clone()));
    for seq in 1..=20u64 {
        let e = journal_entry(seq, &unique_key("raw"));
        store
            .commit(&u, &fence("c-a", 1, seq - 1), &e, 1, 1)
            .await
            .expect("commit");
        assert_eq!(store.get(&u).await.expect("get").map(|i| i.seq), Some(seq));
        assert_eq!(
            store.journal(&u, seq - 1, seq).await.expect("read"),
            vec![e]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// FlushBus
// ---------------------------------------------------------------------------------------------

/// Publishing succeeds (whether or not anything is subscribed) and may be repeated.
pub async fn bus_publish_succeeds(bus: Arc<dyn FlushBus>) {
    let request = FlushRequest {
        username: unique_username(),
        session_id: uuid::Uuid::new_v4().to_string(),
        epoch: 1,
        requested_by: "c-conformance".into(),
    };
    bus.publish(&request).await.expect("publish");
    bus.publish(&request).await.expect("duplicate publish");
}
