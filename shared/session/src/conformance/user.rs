//! `UserStore` checks (conditional create, compare-and-swap of the password hash).

use std::sync::Arc;

use super::support::{RACERS, race, unique_username};
use crate::ports::*;
use crate::username::Username;

fn user(username: &Username, hash: &str) -> UserRecord {
    UserRecord {
        username: username.clone(),
        password_hash: hash.to_owned(),
        name: "Conformance".into(),
        created_at: 1_700_000_000_000,
    }
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
