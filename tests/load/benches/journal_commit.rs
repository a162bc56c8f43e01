//! Micro-benchmark: one fenced journal commit on the embedded session store (the durable step
//! behind every acknowledged write, `docs/ARCHITECTURE.md#fenced-commit`), with a payload the size
//! of a card answer.

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use javumbo_session::{
    Fence, JournalEntry, JournalPayload, Metrics, SessionExpect, SessionItem, SessionStatus,
    SessionStore, Username,
};
use javumbo_storage_local::SqliteStore;

fn journal_commit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(
        dir.path().join("state.sqlite"),
        Arc::new(Metrics::default()),
    )
    .expect("open store");
    let user = Username::parse("bench").expect("username");
    let item = SessionItem {
        username: user.clone(),
        session_id: "bench-session".into(),
        owner: Some("c0".into()),
        epoch: 1,
        status: SessionStatus::Active,
        seq: 0,
        snapshot_seq: 0,
        requested_by: None,
        last_access: 0,
        expires_at: i64::MAX / 2,
    };
    rt.block_on(store.put(&item, SessionExpect::Absent))
        .expect("claim session");
    // ~200 bytes: a zstd-compressed changeset of one card answer
    // (`docs/ARCHITECTURE.md#changesets`).
    let payload = Bytes::from(
        (0..200u32)
            .map(|i| (i * 37 % 251) as u8)
            .collect::<Vec<_>>(),
    );
    let mut seq = 0u64;
    c.bench_function("journal_commit/answer_sized", |b| {
        b.iter(|| {
            let fence = Fence {
                owner: "c0".into(),
                epoch: 1,
                seq,
            };
            seq += 1;
            let entry = JournalEntry {
                seq,
                payload: JournalPayload::Inline(payload.clone()),
                request_id: format!("req-{seq}"),
                at_ms: 0,
                schema_fingerprint: "bench".into(),
            };
            rt.block_on(store.commit(&user, &fence, &entry, 0, i64::MAX / 2))
                .expect("commit");
            black_box(seq)
        })
    });
}

criterion_group!(benches, journal_commit);
criterion_main!(benches);
