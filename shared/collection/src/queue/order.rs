//! The orders of the v3 queue (Anki's `storage/card/mod.rs` `review_order_sql`/`NewCardSorting`
//! and `scheduler/queue/builder/sorting.rs`), applied in Rust to the rows the gathering reads.
//!
//! Where Anki orders "at random" it sorts by an FNV-1a hash of the card or note id salted with
//! the day (new cards) or the card's modification time (reviews), so the same card comes first
//! on every device and every rebuild; we compute the same hash. Anki's SQL function returns
//! the hash as a signed integer while the in-memory sorts compare it unsigned, and the two
//! orders differ, so each use below keeps its own.

use std::cmp::Ordering;

use super::gather::{DueCard, NewCard};

/// FNV-1a 64 of the little-endian bytes of `values` (Rust's `FnvHasher` fed `write_i64`s).
pub(crate) fn fnv(values: &[i64]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in v.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Anki's SQL `fnvhash(...)`: the same hash read back as a signed integer.
pub(crate) fn sql_fnv(values: &[i64]) -> i64 {
    fnv(values) as i64
}

/// The salt Anki mixes into the new-card gather hash: the day number times Knuth's constant.
pub(crate) fn knuth_salt(day: i64) -> i64 {
    i64::from((day as u32).wrapping_mul(2_654_435_761))
}

/// New-card gather orders (`newGatherPriority`), by Anki's enum number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gather {
    Deck,
    DeckThenRandomNotes,
    LowestPosition,
    HighestPosition,
    RandomNotes,
    RandomCards,
}

impl Gather {
    pub(crate) fn from_preset(n: i32) -> Self {
        match n {
            5 => Self::DeckThenRandomNotes,
            1 => Self::LowestPosition,
            2 => Self::HighestPosition,
            3 => Self::RandomNotes,
            4 => Self::RandomCards,
            _ => Self::Deck,
        }
    }
}

/// How new cards of one gathering step are ordered (Anki's `NewCardSorting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NewSorting {
    LowestPosition,
    HighestPosition,
    RandomNotes(i64),
    RandomCards(i64),
}

/// Sort gathered new cards as the SQL `ORDER BY` of `sorting` would. Ties SQLite leaves open
/// (two notes at one position) go to the older card.
pub(crate) fn sort_for_gathering(cards: &mut [NewCard], sorting: NewSorting) {
    match sorting {
        NewSorting::LowestPosition => cards.sort_by_key(|c| (c.position, c.template, c.id)),
        NewSorting::HighestPosition => {
            cards.sort_by_key(|c| (std::cmp::Reverse(c.position), c.template, c.id));
        }
        NewSorting::RandomNotes(salt) => {
            cards.sort_by_cached_key(|c| (sql_fnv(&[c.note_id, salt]), c.template, c.id));
        }
        NewSorting::RandomCards(salt) => cards.sort_by_cached_key(|c| sql_fnv(&[c.id, salt])),
    }
}

/// The final order of the gathered new cards (`newSortOrder`, Anki's `sort_new`), salted
/// with the day.
pub(crate) fn sort_new(cards: &mut [NewCard], order: i32, day: i64) {
    let by_card = |c: &NewCard| fnv(&[c.id, day]);
    let by_note = |c: &NewCard| fnv(&[c.note_id, day]);
    match order {
        // No sort: the gathered order.
        1 => {}
        // Template then random.
        2 => cards.sort_by_cached_key(|c| (c.template, by_card(c))),
        // Random note then template.
        3 => cards.sort_by_cached_key(|c| (by_note(c), c.template)),
        // Random card.
        4 => cards.sort_by_cached_key(by_card),
        // Template (stable: keeps the gathered order within a template).
        _ => cards.sort_by_key(|c| c.template),
    }
}

/// What the review orders compare, read once per card.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReviewKeys {
    /// An SQL value that may be NULL (a missing FSRS state, a zero interval), as a float.
    pub primary: Option<f64>,
    /// Anki's `fnvhash(id, mod)`, the tie-break of every order.
    pub random: i64,
}

/// Review orders (`reviewOrder`), by Anki's enum number, given whether FSRS is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReviewOrder {
    Day,
    DayThenDeck,
    DeckThenDay,
    IntervalsAscending,
    IntervalsDescending,
    EaseAscending,
    EaseDescending,
    RetrievabilityAscending,
    RetrievabilityDescending,
    RelativeOverdueness,
    Random,
    Added,
    ReverseAdded,
}

impl ReviewOrder {
    /// Whether sorting reads the current second (FSRS retrievability at now).
    pub(crate) fn reads_now(self, fsrs: bool) -> bool {
        match self {
            Self::RetrievabilityAscending | Self::RetrievabilityDescending => true,
            Self::RelativeOverdueness => fsrs,
            _ => false,
        }
    }

    pub(crate) fn from_preset(n: i32) -> Self {
        match n {
            1 => Self::DayThenDeck,
            2 => Self::DeckThenDay,
            3 => Self::IntervalsAscending,
            4 => Self::IntervalsDescending,
            5 => Self::EaseAscending,
            6 => Self::EaseDescending,
            7 => Self::RetrievabilityAscending,
            11 => Self::RetrievabilityDescending,
            12 => Self::RelativeOverdueness,
            8 => Self::Random,
            9 => Self::Added,
            10 => Self::ReverseAdded,
            _ => Self::Day,
        }
    }
}

/// SQLite's order of two nullable values: NULL first ascending, last descending.
fn nullable(a: Option<f64>, b: Option<f64>, descending: bool) -> Ordering {
    let asc = match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.total_cmp(&y),
    };
    if descending { asc.reverse() } else { asc }
}

/// Sort gathered review or interday-learning cards in `order` (then by Anki's hash), each
/// with its [`ReviewKeys`].
pub(crate) fn sort_reviews(cards: &mut [(DueCard, ReviewKeys)], order: ReviewOrder, fsrs: bool) {
    use ReviewOrder as O;
    // The ease orders flip with FSRS: "ease ascending" is difficulty descending.
    let descending = match order {
        O::RetrievabilityDescending => true,
        O::EaseAscending => fsrs,
        O::EaseDescending => !fsrs,
        _ => false,
    };
    let cmp = |(a, ka): &(DueCard, ReviewKeys), (b, kb): &(DueCard, ReviewKeys)| {
        let first = match order {
            O::Day => a.due.cmp(&b.due),
            O::DayThenDeck => (a.due, a.deck_pos).cmp(&(b.due, b.deck_pos)),
            O::DeckThenDay => (a.deck_pos, a.due).cmp(&(b.deck_pos, b.due)),
            O::IntervalsAscending => a.ivl.cmp(&b.ivl),
            O::IntervalsDescending => b.ivl.cmp(&a.ivl),
            O::Added => (a.note_id, a.template).cmp(&(b.note_id, b.template)),
            O::ReverseAdded => b.note_id.cmp(&a.note_id).then(a.template.cmp(&b.template)),
            O::Random => Ordering::Equal,
            O::EaseAscending
            | O::EaseDescending
            | O::RetrievabilityAscending
            | O::RetrievabilityDescending
            | O::RelativeOverdueness => nullable(ka.primary, kb.primary, descending),
        };
        first.then(ka.random.cmp(&kb.random))
    };
    cards.sort_by(cmp);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_reference_vectors() {
        // FNV-1a 64 of no bytes is the offset basis; of eight zero bytes, a known value.
        assert_eq!(fnv(&[]), 0xcbf2_9ce4_8422_2325);
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for _ in 0..8 {
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        assert_eq!(fnv(&[0]), h);
        assert_eq!(sql_fnv(&[1, 2]), fnv(&[1, 2]) as i64);
    }

    #[test]
    fn knuth_salt_wraps_in_32_bits() {
        assert_eq!(knuth_salt(0), 0);
        assert_eq!(knuth_salt(1), 2_654_435_761);
        assert_eq!(knuth_salt(2), i64::from(2_654_435_761u32.wrapping_mul(2)));
    }

    #[test]
    fn nulls_sort_first_ascending_and_last_descending() {
        assert_eq!(nullable(None, Some(1.0), false), Ordering::Less);
        assert_eq!(nullable(None, Some(1.0), true), Ordering::Greater);
        assert_eq!(nullable(Some(2.0), Some(1.0), true), Ordering::Less);
    }
}
