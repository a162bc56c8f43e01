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
        revocation: TokenRevocation::default(),
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

fn fresh_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// A name with non-ASCII letters, a space and a dot: `Ünï <id>.` lowercased (`upper` false),
/// uppercased (`upper` true), or as written (`None`): three case variants of one folded name.
fn variant(id: &str, upper: Option<bool>) -> Username {
    let name = format!("Ünï {id}.");
    let name = match upper {
        Some(true) => name.to_uppercase(),
        Some(false) => name.to_lowercase(),
        None => name,
    };
    Username::parse(&name).expect("valid")
}

/// Names of any script are stored and read back exactly, under their own keys.
pub async fn user_unicode_round_trip(store: Arc<dyn UserStore>) {
    let spaced = Username::parse(&format!("日本 {}/..", &fresh_id()[..6])).expect("valid");
    for name in [variant(&fresh_id(), Some(false)), spaced] {
        let record = user(&name, "$2b$12$unicode");
        assert!(store.create_if_absent(&record).await.expect("create"));
        assert_eq!(store.get(&name).await.expect("get"), Some(record));
    }
}

/// A new registration is refused when another case of the name exists, and `name_taken` says
/// so beforehand.
pub async fn user_register_unique_case_insensitively(store: Arc<dyn UserStore>) {
    let id = fresh_id();
    let (lower, upper) = (variant(&id, Some(false)), variant(&id, Some(true)));
    assert_eq!(lower.folded(), upper.folded(), "{lower} / {upper}");
    assert!(!store.name_taken(&upper).await.expect("taken?"));
    assert!(
        store
            .create_if_absent(&user(&lower, "$argon2id$lower"))
            .await
            .expect("create")
    );
    assert!(store.name_taken(&lower).await.expect("taken?"));
    assert!(store.name_taken(&upper).await.expect("taken?"));
    assert!(
        !store
            .create_if_absent(&user(&upper, "$argon2id$upper"))
            .await
            .expect("create the other case"),
        "a case variant of a registered name must be refused"
    );
    assert_eq!(store.get(&upper).await.expect("get"), None);
}

/// Racing registrations of case variants: exactly one wins.
pub async fn user_concurrent_case_variants_single_winner(store: Arc<dyn UserStore>) {
    let base = format!("é{}", fresh_id());
    let outcomes = race(RACERS, |i| {
        // Each racer capitalises a different subset of the first four letters.
        let name: String = base
            .chars()
            .enumerate()
            .map(|(j, c)| {
                if j < 4 && (i >> j) & 1 == 1 {
                    c.to_uppercase().next().unwrap_or(c)
                } else {
                    c
                }
            })
            .collect();
        let record = user(
            &Username::parse(&name).expect("valid"),
            &format!("hash-{i}"),
        );
        let store = Arc::clone(&store);
        async move { store.create_if_absent(&record).await }
    })
    .await;
    let winners = outcomes
        .iter()
        .filter(|r| *r.as_ref().expect("create_if_absent must not fail"))
        .count();
    assert_eq!(winners, 1, "exactly one case variant wins: {outcomes:?}");
}

/// Migrated users keep the original app's exact uniqueness: a case pair both exist, each with
/// its own record; an exact duplicate is refused; and the pair's folded name stays claimed.
pub async fn user_migrated_case_pair(store: Arc<dyn UserStore>) {
    let id = fresh_id();
    let (lower, upper) = (variant(&id, Some(false)), variant(&id, Some(true)));
    let (a, b) = (user(&upper, "$2b$12$upper"), user(&lower, "$2b$12$lower"));
    assert!(store.create_migrated(&a).await.expect("migrate upper"));
    assert!(store.create_migrated(&b).await.expect("migrate lower"));
    assert!(
        !store
            .create_migrated(&user(&lower, "$2b$12$again"))
            .await
            .expect("migrate again"),
        "an exact duplicate must be refused"
    );
    assert_eq!(store.get(&upper).await.expect("get"), Some(a));
    assert_eq!(store.get(&lower).await.expect("get"), Some(b));
    let third = variant(&id, None);
    assert!(store.name_taken(&third).await.expect("taken?"));
    assert!(
        !store
            .create_if_absent(&user(&third, "$argon2id$third"))
            .await
            .expect("register a third variant")
    );
    // A migrated user whose name is already registered in another case is still brought in.
    let id = fresh_id();
    let (registered, migrated) = (variant(&id, None), variant(&id, Some(true)));
    assert!(
        store
            .create_if_absent(&user(&registered, "$argon2id$r"))
            .await
            .expect("register")
    );
    assert!(
        store
            .create_migrated(&user(&migrated, "$2b$12$m"))
            .await
            .expect("migrate the other case")
    );
}

fn device_key(id: &str, hash: &str) -> DeviceKey {
    DeviceKey {
        id: id.to_owned(),
        key_hash: hash.to_owned(),
        label: "26.09.3,29bb700b,linux".into(),
        created_at: 1_700_000_000_000,
        last_used_at: 1_700_000_000_000,
    }
}

/// Put, list, touch and revoke, per user; a key for a missing user or a reused id is refused.
pub async fn device_keys_round_trip(store: Arc<dyn UserStore>) {
    let name = unique_username();
    let other = unique_username();
    for u in [&name, &other] {
        assert!(store.create_if_absent(&user(u, "h")).await.expect("create"));
    }
    assert_eq!(store.device_keys(&name).await.expect("list"), vec![]);
    let a = device_key("00112233aabbccdd", &"a".repeat(64));
    let b = device_key("0123456789abcdef", &"b".repeat(64));
    store.put_device_key(&name, &a).await.expect("put a");
    store.put_device_key(&name, &b).await.expect("put b");
    assert_eq!(
        store
            .put_device_key(&name, &device_key(&a.id, "other"))
            .await,
        Err(StoreError::ConditionFailed),
        "an id is never reused"
    );
    assert_eq!(
        store.put_device_key(&unique_username(), &a).await,
        Err(StoreError::ConditionFailed),
        "no keys for a missing user"
    );
    let mut listed = store.device_keys(&name).await.expect("list");
    listed.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(listed, vec![a.clone(), b.clone()]);
    assert_eq!(
        store.device_keys(&other).await.expect("list"),
        vec![],
        "per user"
    );

    store
        .touch_device_key(&name, &a.id, 1_700_000_005_000)
        .await
        .expect("touch");
    // Never backwards.
    store
        .touch_device_key(&name, &a.id, 1_700_000_001_000)
        .await
        .expect("touch");
    let got = store.device_keys(&name).await.expect("list");
    let touched = got.iter().find(|k| k.id == a.id).expect("a");
    assert_eq!(touched.last_used_at, 1_700_000_005_000);
    assert_eq!(touched.key_hash, a.key_hash);

    assert!(store.delete_device_key(&name, &a.id).await.expect("revoke"));
    assert!(!store.delete_device_key(&name, &a.id).await.expect("again"));
    assert!(
        !store
            .delete_device_key(&other, &b.id)
            .await
            .expect("not theirs")
    );
    store
        .touch_device_key(&name, &a.id, 1_700_000_009_000)
        .await
        .expect("touching a revoked key is not an error");
    assert_eq!(store.device_keys(&name).await.expect("list"), vec![b]);
    // The user record itself is untouched by all of this.
    assert_eq!(
        store
            .get(&name)
            .await
            .expect("get")
            .expect("present")
            .password_hash,
        "h"
    );
}

/// The record of a user the check created.
async fn stored(store: &Arc<dyn UserStore>, name: &Username) -> UserRecord {
    store.get(name).await.expect("get").expect("present")
}

pub async fn user_token_revocation(store: Arc<dyn UserStore>) {
    let name = unique_username();
    assert_eq!(
        store.revoke_token(&name, "t0", 100, 0).await,
        Err(StoreError::ConditionFailed),
        "no user, nothing to revoke"
    );
    assert!(
        store
            .create_if_absent(&user(&name, "old"))
            .await
            .expect("create")
    );
    let fresh = stored(&store, &name).await;
    assert_eq!(fresh.revocation, TokenRevocation::default());

    store
        .revoke_token(&name, "t1", 1_000, 500)
        .await
        .expect("revoke t1");
    store
        .revoke_token(&name, "t2", 2_000, 500)
        .await
        .expect("revoke t2");
    let read = stored(&store, &name).await;
    assert!(read.revocation.voids("t1", 600) && read.revocation.voids("t2", 600));
    assert!(!read.revocation.voids("t3", 600));
    // A later logout drops the entries whose tokens have expired by then.
    store
        .revoke_token(&name, "t3", 3_000, 1_500)
        .await
        .expect("revoke t3");
    let read = stored(&store, &name).await;
    assert_eq!(
        read.revocation.revoked.keys().collect::<Vec<_>>(),
        ["t2", "t3"],
        "t1 expired at 1000 < 1500"
    );

    // A password change: the hash swaps only from the expected one, atomically with the cut-off.
    assert_eq!(
        store
            .revoke_all_tokens(&name, 5_000, Some(("wrong", "new")))
            .await,
        Err(StoreError::ConditionFailed)
    );
    let read = stored(&store, &name).await;
    assert_eq!(
        (read.password_hash.as_str(), read.revocation.not_before),
        ("old", 0)
    );
    store
        .revoke_all_tokens(&name, 5_000, Some(("old", "new")))
        .await
        .expect("change");
    let read = stored(&store, &name).await;
    assert_eq!(read.password_hash, "new");
    assert_eq!(read.revocation.not_before, 5_000);
    assert!(read.revocation.revoked.is_empty(), "covered by the cut-off");
    assert!(read.revocation.voids("any", 4_999) && !read.revocation.voids("any", 5_000));
    store
        .revoke_all_tokens(&name, 6_000, None)
        .await
        .expect("revoke all without a password");
    assert_eq!(stored(&store, &name).await.revocation.not_before, 6_000);
    assert_eq!(
        store.revoke_all_tokens(&unique_username(), 1, None).await,
        Err(StoreError::ConditionFailed)
    );
}

pub async fn user_delete(store: Arc<dyn UserStore>) {
    let name = unique_username();
    assert!(
        store
            .create_if_absent(&user(&name, "h"))
            .await
            .expect("create")
    );
    store
        .put_device_key(&name, &device_key("ab01", "hash-1"))
        .await
        .expect("key");
    store
        .revoke_token(&name, "t1", 10, 0)
        .await
        .expect("revoke");
    store.delete_user(&name).await.expect("delete");
    assert_eq!(store.get(&name).await.expect("get"), None);
    assert!(store.device_keys(&name).await.expect("keys").is_empty());
    assert!(
        !store.name_taken(&name).await.expect("taken?"),
        "the name is free again"
    );
    store
        .delete_user(&name)
        .await
        .expect("deleting again is no error");
    // Registering the name again starts from nothing.
    assert!(
        store
            .create_if_absent(&user(&name, "h2"))
            .await
            .expect("re-create")
    );
    let again = stored(&store, &name).await;
    assert_eq!(again.revocation, TokenRevocation::default());
    assert!(store.device_keys(&name).await.expect("keys").is_empty());
}
