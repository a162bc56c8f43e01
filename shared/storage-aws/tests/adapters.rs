//! What the conformance suite cannot see: the wire layout the CDK stack and other tools rely
//! on, paging and batching limits of the real APIs, and how many store calls each operation
//! costs (what the Lambda bill and latency are made of).

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use bytes::Bytes;
use javumbo_session::conformance::{journal_entry, session_item, unique_key, unique_username};
use javumbo_session::{Fence, JournalEntry, JournalPayload, Metrics, PutCondition, SessionExpect};
use javumbo_storage_aws::create_tables_and_bucket;

fn fence(owner: &str, epoch: u64, seq: u64) -> Fence {
    Fence {
        owner: owner.into(),
        epoch,
        seq,
    }
}

fn calls(m: &Metrics) -> BTreeMap<&'static str, u64> {
    m.snapshot().into_iter().filter(|(_, v)| *v > 0).collect()
}

fn reset(m: &Metrics) {
    for c in [
        &m.blob_get,
        &m.blob_put,
        &m.blob_delete,
        &m.table_read,
        &m.table_write,
        &m.table_write_units,
        &m.journal_commit,
        &m.journal_read,
        &m.bus_publish,
    ] {
        c.store(0, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_is_idempotent() {
    let env = support::env().await;
    create_tables_and_bucket(&env.clients, &env.cfg)
        .await
        .expect("second run keeps what exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_item_layout_matches_the_table_design() {
    let env = support::env().await;
    let u = unique_username();
    let item = session_item(&u, "c-a", 1);
    env.ports
        .sessions
        .put(&item, SessionExpect::Absent)
        .await
        .unwrap();
    env.ports
        .sessions
        .commit(
            &u,
            &fence("c-a", 1, 0),
            &journal_entry(1, "r1"),
            5,
            1_900_000_000,
        )
        .await
        .unwrap();

    let (envr, ur) = (&env, &u);
    let raw_session = move || async move {
        envr.clients
            .dynamodb
            .get_item()
            .table_name(&envr.cfg.sessions_table)
            .key("username", AttributeValue::S(ur.to_string()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    };
    let raw_entry = move |seq: u64| async move {
        envr.clients
            .dynamodb
            .get_item()
            .table_name(&envr.cfg.journal_table)
            .key("username", AttributeValue::S(ur.to_string()))
            .key("seq", AttributeValue::N(seq.to_string()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    };
    // A small entry rides in the session item (its tail) until the next commit moves it to
    // the journal table; meanwhile the item has no TTL attribute, so DynamoDB cannot expire
    // the only copy of an acknowledged write.
    let raw = raw_session().await;
    assert_eq!(raw.get("seq"), Some(&AttributeValue::N("1".into())));
    assert_eq!(raw.get("status"), Some(&AttributeValue::S("active".into())));
    assert_eq!(raw.get("tail_seq"), Some(&AttributeValue::N("1".into())));
    assert!(matches!(
        raw.get("tail_payload"),
        Some(AttributeValue::B(_))
    ));
    assert_eq!(
        raw.get("expires_at"),
        None,
        "no TTL while the item holds a tail"
    );
    assert_eq!(
        raw.get("lease_until"),
        Some(&AttributeValue::N("1900000000".into()))
    );
    assert!(raw_entry(1).await.is_none());

    env.ports
        .sessions
        .commit(
            &u,
            &fence("c-a", 1, 1),
            &journal_entry(2, "r2"),
            6,
            1_900_000_001,
        )
        .await
        .unwrap();
    let j = raw_entry(1)
        .await
        .expect("entry 1 moved to the journal table");
    assert!(
        matches!(j.get("payload"), Some(AttributeValue::B(_))),
        "payload is binary: {j:?}"
    );
    assert_eq!(
        raw_session().await.get("tail_seq"),
        Some(&AttributeValue::N("2".into()))
    );

    // Replacing the item (a flush, a claim) moves the tail out first and brings the TTL back.
    let mut flushed = session_item(&u, "c-a", 1);
    flushed.seq = 2;
    flushed.expires_at = 1_900_000_002;
    let current = env.ports.sessions.get(&u).await.unwrap().unwrap();
    env.ports
        .sessions
        .put(&flushed, SessionExpect::matching(&current))
        .await
        .unwrap();
    assert!(raw_entry(2).await.is_some());
    let raw = raw_session().await;
    // DynamoDB TTL only honours a Number attribute holding epoch seconds.
    assert_eq!(
        raw.get("expires_at"),
        Some(&AttributeValue::N("1900000002".into()))
    );
    assert_eq!(raw.get("tail_seq"), None);
    assert_eq!(raw.get("lease_until"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_query_pages_past_one_megabyte_and_trim_batches_past_25() {
    let env = support::env().await;
    let s = &env.ports.sessions;
    let u = unique_username();
    s.put(&session_item(&u, "c-a", 1), SessionExpect::Absent)
        .await
        .unwrap();
    // Four ~300 KB entries: more than one 1 MB Query page.
    let mut expected = Vec::new();
    for seq in 1..=4u64 {
        let e = JournalEntry {
            payload: JournalPayload::Inline(Bytes::from(vec![seq as u8; 300_000])),
            ..journal_entry(seq, &unique_key("big"))
        };
        s.commit(&u, &fence("c-a", 1, seq - 1), &e, 1, 1)
            .await
            .unwrap();
        expected.push(e);
    }
    reset(&env.metrics);
    assert_eq!(s.journal(&u, 0, u64::MAX).await.unwrap(), expected);
    assert!(
        env.metrics.table_read.load(Ordering::Relaxed) >= 2,
        "paged: {:?}",
        calls(&env.metrics)
    );

    for seq in 5..=30u64 {
        s.commit(
            &u,
            &fence("c-a", 1, seq - 1),
            &journal_entry(seq, &unique_key("small")),
            1,
            1,
        )
        .await
        .unwrap();
    }
    s.trim_journal(&u, 29).await.unwrap();
    let left = s.journal(&u, 0, u64::MAX).await.unwrap();
    assert_eq!(left.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![30]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_write_id_stays_internal() {
    let env = support::env().await;
    let key = unique_key("meta");
    let meta = BTreeMap::from([("seq".to_owned(), "7".to_owned())]);
    env.ports
        .blobs
        .put(
            &key,
            Bytes::from_static(b"x"),
            meta.clone(),
            PutCondition::IfAbsent,
        )
        .await
        .unwrap();
    let got = env.ports.blobs.get(&key).await.unwrap().unwrap();
    assert_eq!(got.metadata, meta);
    let reserved = BTreeMap::from([("javumbo-write-id".to_owned(), "forged".to_owned())]);
    assert!(
        env.ports
            .blobs
            .put(&key, Bytes::new(), reserved, PutCondition::Any)
            .await
            .is_err()
    );
}

/// One call per port operation on the happy path, and the latency of each on the emulator
/// (printed: run with `--nocapture` to read them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_operation_costs_one_store_call() {
    let env = support::env().await;
    let m = &env.metrics;
    let u = unique_username();
    let mut timings: BTreeMap<&str, Vec<u128>> = BTreeMap::new();
    let mut time = |name: &'static str, t: Instant| {
        timings
            .entry(name)
            .or_default()
            .push(t.elapsed().as_micros())
    };

    reset(m);
    let t = Instant::now();
    env.ports
        .sessions
        .put(&session_item(&u, "c-a", 1), SessionExpect::Absent)
        .await
        .unwrap();
    time("session put", t);
    assert_eq!(
        calls(m),
        BTreeMap::from([("table_write", 1), ("table_write_units", 1)])
    );

    let key = unique_key("snap");
    let mut etag = String::new();
    for seq in 1..=20u64 {
        reset(m);
        let t = Instant::now();
        env.ports.sessions.get(&u).await.unwrap();
        time("session get", t);
        let t = Instant::now();
        env.ports
            .sessions
            .commit(
                &u,
                &fence("c-a", 1, seq - 1),
                &journal_entry(seq, &unique_key("r")),
                1,
                1,
            )
            .await
            .unwrap();
        time("commit", t);
        // The previous entry moves from the session item to the journal table (one put),
        // then one conditional update carries this one: 2 write units, where a transaction
        // of both would cost 4.
        let writes = if seq == 1 { 1 } else { 2 };
        assert_eq!(
            calls(m),
            BTreeMap::from([
                ("journal_commit", 1),
                ("table_read", 1),
                ("table_write", writes),
                ("table_write_units", writes),
            ])
        );

        reset(m);
        let body = Bytes::from(vec![seq as u8; 64 * 1024]);
        let cond = if seq == 1 {
            PutCondition::IfAbsent
        } else {
            PutCondition::IfMatch(etag.clone())
        };
        let t = Instant::now();
        etag = env
            .ports
            .blobs
            .put(&key, body, BTreeMap::new(), cond)
            .await
            .unwrap();
        time("blob put 64 KiB", t);
        let t = Instant::now();
        env.ports.blobs.get(&key).await.unwrap().unwrap();
        time("blob get 64 KiB", t);
        assert_eq!(calls(m), BTreeMap::from([("blob_get", 1), ("blob_put", 1)]));
    }
    reset(m);
    let t = Instant::now();
    env.ports.sessions.journal(&u, 0, 20).await.unwrap();
    time("journal read 20", t);
    assert_eq!(
        calls(m),
        BTreeMap::from([("journal_read", 1), ("table_read", 1)])
    );

    for (name, mut v) in timings {
        v.sort_unstable();
        println!(
            "ministack latency {name}: median {} us, max {} us (n={})",
            v[v.len() / 2],
            v[v.len() - 1],
            v.len()
        );
    }
}
