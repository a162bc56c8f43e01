//! `SessionStore` checks of the session item: absent puts, the version compare-and-swap, and
//! strongly consistent reads.

use std::sync::Arc;

use super::support::{
    all_entries, fence, journal_entry, session_item, unique_key, unique_username,
};
use crate::ports::*;

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

pub async fn session_delete(store: Arc<dyn SessionStore>) {
    let u = unique_username();
    store
        .delete_session(&u)
        .await
        .expect("deleting a missing item");
    let item = session_item(&u, "c-a", 1);
    store
        .put(&item, SessionExpect::Absent)
        .await
        .expect("create");
    store.delete_session(&u).await.expect("delete");
    assert_eq!(store.get(&u).await.expect("get"), None);
    assert_eq!(
        store
            .commit(
                &u,
                &fence("c-a", 1, 0),
                &journal_entry(1, &unique_key("r")),
                1,
                1
            )
            .await,
        Err(StoreError::ConditionFailed),
        "a commit fenced on the deleted item fails"
    );
    store
        .put(&item, SessionExpect::Absent)
        .await
        .expect("the user's next session starts afresh");
}
