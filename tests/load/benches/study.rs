//! Micro-benchmarks of the engine behind the study and browse routes, at 100, 10,000 and
//! 100,000 cards with a realistic spread (most cards in review, due from a month ago to a year
//! ahead, some learning and new): picking the next card (`GET /api/review`), answering it
//! (`POST /api/review`), adding a card, one page of the card browser and the stats. Files are set
//! up like a container's cached copy (`synchronous=OFF`, in-memory rollback journal).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use javumbo_collection::review::Study;
use javumbo_collection::{Collection, CreateOptions, ManualClock};

/// 2024-01-01 12:00 UTC: after the 04:00 rollover, so "today" is unambiguous.
const T0_MS: i64 = 1_704_110_400_000;

struct Fixture {
    _dir: tempfile::TempDir,
    col: Collection,
    clock: Arc<ManualClock>,
    deck: i64,
}

fn fixture(cards: usize) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(T0_MS);
    let col = Collection::create(
        &dir.path().join("collection.anki2"),
        clock.clone(),
        &CreateOptions {
            starter_deck: false,
            ..CreateOptions::default()
        },
    )
    .expect("create collection");
    col.conn()
        .execute_batch("PRAGMA synchronous = OFF; PRAGMA journal_mode = MEMORY;")
        .expect("cache pragmas");
    let deck = col.create_deck("Bench").expect("deck").id;
    col.set_current_deck(deck).expect("current deck");
    col.conn().execute_batch("BEGIN").expect("begin");
    for i in 0..cards {
        col.add_card(&format!("front {i}"), &format!("back {i}"), Some(deck))
            .expect("add");
    }
    col.conn().execute_batch("COMMIT").expect("commit");
    // 85 % review (due -30..+365 days around today), 5 % learning, 10 % new.
    let today: i64 = col.timing().expect("timing").days_elapsed as i64;
    col.conn()
        .execute(
            "UPDATE cards SET type = 2, queue = 2, ivl = 1 + abs(id % 200), factor = 2500,
               reps = 1 + id % 20, due = ?1 - 30 + abs((id * 7919) % 396)
             WHERE id % 20 BETWEEN 3 AND 19",
            [today],
        )
        .expect("reviews");
    col.conn()
        .execute(
            "UPDATE cards SET type = 1, queue = 1, left = 1001, reps = 1,
               due = ?1 + abs(id % 3600) WHERE id % 20 = 2",
            [T0_MS / 1000],
        )
        .expect("learning");
    Fixture {
        _dir: dir,
        col,
        clock,
        deck,
    }
}

fn study(c: &mut Criterion) {
    let mut g = c.benchmark_group("study");
    g.sample_size(20);
    for cards in [100usize, 10_000, 100_000] {
        let f = fixture(cards);
        // The queue for the day is built by the first call; what a student's every request
        // costs after that is the pick.
        let _ = f.col.next_card().expect("next card");
        g.bench_with_input(BenchmarkId::new("next_card", cards), &f, |b, f| {
            b.iter(|| black_box(f.col.next_card().expect("next card")))
        });
        g.bench_with_input(
            BenchmarkId::new("next_card_then_answer", cards),
            &f,
            |b, f| {
                b.iter(|| match f.col.next_card().expect("next card") {
                    Study::Card(c) => black_box(f.col.answer_card(c.card_id, 3, Some(4_000)).ok()),
                    Study::Nothing(_) => {
                        f.clock.advance_ms(86_400_000);
                        None
                    }
                })
            },
        );
        g.bench_with_input(BenchmarkId::new("list_cards", cards), &f, |b, f| {
            b.iter(|| black_box(f.col.deck_cards(f.deck, 1, 50).expect("page")))
        });
        g.bench_with_input(BenchmarkId::new("stats", cards), &f, |b, f| {
            b.iter(|| black_box(f.col.deck_stats(f.deck).expect("stats")))
        });
        // Last: every iteration adds a card, so the collection grows while it runs.
        g.bench_with_input(BenchmarkId::new("add_card", cards), &f, |b, f| {
            b.iter(|| black_box(f.col.add_card("q", "a", Some(f.deck)).expect("add")))
        });
    }
    g.finish();
}

criterion_group!(benches, study);
criterion_main!(benches);
