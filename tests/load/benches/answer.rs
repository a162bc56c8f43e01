//! Micro-benchmark: answering a card on the embedded collection (the domain work behind
//! `POST /api/review`, without HTTP or the session protocol), on a file set up like a
//! container's cached copy (`synchronous=OFF`, in-memory rollback journal: durability is the
//! journal commit's job, benchmarked separately), so it measures the engine, not fsync.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use javumbo_collection::review::Study;
use javumbo_collection::{Collection, CreateOptions, ManualClock};

/// 2024-01-01 12:00 UTC: after the 04:00 rollover, so "today" is unambiguous.
const T0_MS: i64 = 1_704_110_400_000;

fn collection() -> (tempfile::TempDir, Collection, Arc<ManualClock>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(T0_MS);
    let col = Collection::create(
        &dir.path().join("collection.anki2"),
        clock.clone(),
        &CreateOptions::default(),
    )
    .expect("create collection");
    // As the session crate's `snapshot::materialize` opens every cached copy.
    col.conn()
        .execute_batch("PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY;")
        .expect("cache pragmas");
    (dir, col, clock)
}

fn answer(c: &mut Criterion) {
    let mut g = c.benchmark_group("answer");

    // The same card over and over, a minute apart: the answer path alone (card read, SM-2
    // step, card update, revlog insert, one transaction).
    let (_dir, col, clock) = collection();
    let card = match col.next_card().expect("next card") {
        Study::Card(c) => c.card_id,
        Study::Nothing(why) => panic!("starter deck has nothing to study: {why:?}"),
    };
    g.bench_function("answer_card", |b| {
        b.iter(|| {
            clock.advance_ms(60_000);
            black_box(col.answer_card(card, 3, Some(4_000)).expect("answer"))
        })
    });

    // What a study session does per card: pick the next card, then answer it. When the day's
    // cards run out the clock jumps a day, as a student coming back tomorrow.
    let (_dir2, col, clock) = collection();
    let mut eases = [3i64, 3, 1, 3, 2, 3, 4, 3, 3, 3].into_iter().cycle();
    g.bench_function("next_card_then_answer", |b| {
        b.iter(|| {
            loop {
                match col.next_card().expect("next card") {
                    Study::Card(c) => {
                        let ease = eases.next().unwrap_or(3);
                        break black_box(
                            col.answer_card(c.card_id, ease, Some(4_000))
                                .expect("answer"),
                        );
                    }
                    Study::Nothing(_) => clock.advance_ms(86_400_000),
                }
            }
        })
    });
    g.finish();
}

criterion_group!(benches, answer);
criterion_main!(benches);
