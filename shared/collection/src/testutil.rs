//! Shared fixtures for the unit tests.

use std::sync::Arc;

use crate::{Collection, CreateOptions, ManualClock};

/// 2024-01-01 12:00:00 UTC, eight hours after the day's 04:00 rollover.
pub const T0_MS: i64 = 1_704_110_400_000;

/// An in-memory collection without the starter deck, and the clock that drives it.
pub fn empty() -> (Collection, Arc<ManualClock>) {
    let clock = ManualClock::new(T0_MS);
    let opts = CreateOptions {
        starter_deck: false,
        ..CreateOptions::default()
    };
    let col = Collection::create_in_memory(clock.clone(), &opts).expect("create collection");
    (col, clock)
}

pub fn count(col: &Collection, sql: &str) -> i64 {
    col.conn()
        .query_row(sql, [], |r| r.get(0))
        .expect("count query")
}
