//! `BlobStore` checks (S3 semantics: conditional puts, etags, metadata, idempotent deletes).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use super::support::{RACERS, meta, race, single_winner, unique_key};
use crate::ports::*;

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
    assert_eq!(Ok(&blob.etag), outcomes[w].as_ref());
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

pub async fn blob_purge(store: Arc<dyn BlobStore>) {
    let root = unique_key("purge");
    let put = |key: String, bytes: &'static [u8]| {
        let store = Arc::clone(&store);
        async move {
            store
                .put(
                    &key,
                    Bytes::from_static(bytes),
                    BTreeMap::new(),
                    PutCondition::Any,
                )
                .await
                .expect("put");
        }
    };
    // A snapshot key and a neighbour whose key starts with it; a prefix with nested objects
    // (one overwritten, so a versioned store holds two versions) and a sibling prefix.
    let (snapshot, neighbour) = (format!("{root}/u.anki2"), format!("{root}/u.anki2x"));
    put(snapshot.clone(), b"s1").await;
    put(snapshot.clone(), b"s2").await;
    put(neighbour.clone(), b"n").await;
    let (dir, sibling) = (format!("{root}/media/u/"), format!("{root}/media/u2/a"));
    for leaf in ["a", "b", "deep/c"] {
        put(format!("{dir}{leaf}"), b"m").await;
    }
    put(format!("{dir}a"), b"m2").await;
    put(sibling.clone(), b"x").await;

    assert!(store.purge(&snapshot).await.expect("purge one key") >= 1);
    assert_eq!(store.get(&snapshot).await.expect("get"), None);
    assert!(
        store.get(&neighbour).await.expect("get").is_some(),
        "only that key"
    );

    assert!(store.purge(&dir).await.expect("purge a prefix") >= 3);
    for leaf in ["a", "b", "deep/c"] {
        assert_eq!(store.get(&format!("{dir}{leaf}")).await.expect("get"), None);
    }
    assert!(
        store.get(&sibling).await.expect("get").is_some(),
        "only under the prefix"
    );
    assert_eq!(store.purge(&dir).await.expect("purge again"), 0);
    assert_eq!(store.purge(&snapshot).await.expect("purge again"), 0);
    // The key can be written afresh, as if never used.
    store
        .put(
            &snapshot,
            Bytes::from_static(b"new"),
            BTreeMap::new(),
            PutCondition::IfAbsent,
        )
        .await
        .expect("a purged key is absent");
}
