//! The shared port conformance suite on the embedded adapters, each on a fresh directory.

use std::sync::Arc;

use javumbo_session::conformance as suite;
use javumbo_session::{BlobStore, FlushBus, FlushRequest, Metrics, SessionStore, UserStore};
use javumbo_storage_local::{DirBlobStore, FlushHandler, LocalBus, SqliteStore};

fn blob_store() -> (tempfile::TempDir, Arc<dyn BlobStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = DirBlobStore::open(dir.path().join("blobs"), Arc::new(Metrics::default())).unwrap();
    (dir, Arc::new(store))
}

fn sqlite_store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        dir.path().join("store.sqlite3"),
        Arc::new(Metrics::default()),
    )
    .unwrap();
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dir_blob_store_conforms() {
    let (_dir, store) = blob_store();
    suite::run_all_blob(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_user_store_conforms() {
    let (_dir, store) = sqlite_store();
    suite::run_all_user(Arc::new(store) as Arc<dyn UserStore>).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_session_store_conforms() {
    let (_dir, store) = sqlite_store();
    suite::run_all_session(Arc::new(store) as Arc<dyn SessionStore>).await;
}

/// Two handles on one file behave as one store (what separate processes see).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_races_across_handles() {
    let (dir, a) = sqlite_store();
    let b = SqliteStore::open(
        dir.path().join("store.sqlite3"),
        Arc::new(Metrics::default()),
    )
    .unwrap();
    let handles: Vec<Arc<dyn SessionStore>> = vec![Arc::new(a), Arc::new(b)];
    let u = suite::unique_username();
    handles[0]
        .put(
            &suite::session_item(&u, "c-a", 1),
            javumbo_session::SessionExpect::Absent,
        )
        .await
        .unwrap();
    let outcomes = suite::race(suite::RACERS, |i| {
        let (store, u) = (Arc::clone(&handles[i % 2]), u.clone());
        async move {
            let fence = javumbo_session::Fence {
                owner: "c-a".into(),
                epoch: 1,
                seq: 0,
            };
            store
                .commit(&u, &fence, &suite::journal_entry(1, &format!("h{i}")), 1, 1)
                .await
        }
    })
    .await;
    assert_eq!(
        outcomes.iter().filter(|r| r.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(handles[1].journal(&u, 0, u64::MAX).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dir_blob_races_across_handles() {
    let dir = tempfile::tempdir().unwrap();
    let handles: Vec<Arc<dyn BlobStore>> = (0..2)
        .map(|_| {
            Arc::new(DirBlobStore::open(dir.path().to_owned(), Arc::default()).unwrap())
                as Arc<dyn BlobStore>
        })
        .collect();
    let key = suite::unique_key("x");
    let outcomes = suite::race(suite::RACERS, |i| {
        let (store, key) = (Arc::clone(&handles[i % 2]), key.clone());
        async move {
            store
                .put(
                    &key,
                    bytes::Bytes::from(vec![i as u8]),
                    Default::default(),
                    javumbo_session::PutCondition::IfAbsent,
                )
                .await
        }
    })
    .await;
    assert_eq!(
        outcomes.iter().filter(|r| r.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn local_bus_publish_conforms() {
    let handler: FlushHandler = Arc::new(|_: FlushRequest| Box::pin(async {}));
    let bus = LocalBus::new(handler, Arc::new(Metrics::default()));
    suite::bus_publish_succeeds(Arc::new(bus) as Arc<dyn FlushBus>).await;
}
