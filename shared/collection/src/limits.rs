//! Content limits shared by every way content enters a collection: the API's create/edit
//! routes and package import apply the same numbers, so an import can never build what the API
//! would refuse (and the other way round). Each limit is named in the error that reports it.
//!
//! The numbers admit any collection a student builds by hand (the largest shared decks have a
//! few tens of thousands of notes) while keeping one user's file, and so every flush of it,
//! bounded.

pub use crate::cards::MAX_FIELD_BYTES;
pub use crate::decks::MAX_DECK_NAME_CHARS;

/// Deepest deck hierarchy, in levels (`A::B::C` is 3).
pub const MAX_DECK_DEPTH: usize = 20;
/// Decks in one collection.
pub const MAX_DECKS: usize = 5_000;
/// Notes in one collection.
pub const MAX_NOTES: usize = 250_000;
/// Cards in one collection.
pub const MAX_CARDS: usize = 500_000;
/// Review log entries in one collection (years of daily study fit many times over).
pub const MAX_REVLOG_ENTRIES: usize = 5_000_000;
/// Bytes of one note's fields together.
pub const MAX_NOTE_BYTES: usize = 4 * MAX_FIELD_BYTES;
/// Bytes of the whole collection file.
pub const MAX_COLLECTION_BYTES: u64 = 256 * 1024 * 1024;

/// Levels of a deck name (`::`-separated).
pub fn deck_depth(name: &str) -> usize {
    name.split("::").count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_levels() {
        assert_eq!(deck_depth("A"), 1);
        assert_eq!(deck_depth("A::B::C"), 3);
    }
}
