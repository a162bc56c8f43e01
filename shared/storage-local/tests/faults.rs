//! The one fault injector (`javumbo_session::faults`) around the embedded adapters, as
//! `javumbo-local --fault-store-*` wires it: an ambiguous failure still writes, a failure before
//! the call writes nothing, a timeout waits first.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use javumbo_session::faults::{FaultPlan, Faults, Faulty};
use javumbo_session::{BlobStore, Metrics, PutCondition, StoreError};
use javumbo_storage_local::DirBlobStore;

fn faulty(blobs: &Arc<DirBlobStore>, plan: FaultPlan) -> Faulty<DirBlobStore> {
    Faulty::new(Arc::clone(blobs), Faults::new(0, plan))
}

async fn put(store: &impl BlobStore, key: &str) -> Result<String, StoreError> {
    store
        .put(
            key,
            Bytes::from_static(b"1"),
            BTreeMap::new(),
            PutCondition::IfAbsent,
        )
        .await
}

#[tokio::test]
async fn ambiguous_failure_still_writes_and_before_failure_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let blobs =
        Arc::new(DirBlobStore::open(dir.path().to_owned(), Arc::new(Metrics::default())).unwrap());

    let ambiguous = faulty(&blobs, FaultPlan::store_shares(0.0, 1.0));
    assert!(matches!(
        put(&ambiguous, "a").await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(
        ambiguous.inner().get("a").await.unwrap().is_some(),
        "ambiguous write must be applied"
    );

    let failing = faulty(&blobs, FaultPlan::store_shares(1.0, 0.0));
    assert!(matches!(
        put(&failing, "b").await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(
        blobs.get("b").await.unwrap().is_none(),
        "a failure before the call writes nothing"
    );

    let slow = faulty(
        &blobs,
        FaultPlan {
            timeout: 1.0,
            timeout_wait: Duration::from_millis(30),
            ..FaultPlan::default()
        },
    );
    let t = Instant::now();
    assert!(matches!(
        slow.get("a").await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(t.elapsed() >= Duration::from_millis(30));

    let transparent = faulty(&blobs, FaultPlan::default());
    assert!(transparent.get("a").await.unwrap().is_some());
}
