//! The integer columns of Anki's `cards` and `revlog` tables as enums (rslib `card/mod.rs`
//! `CardType`/`CardQueue`, `revlog/mod.rs` `RevlogReviewKind`), and the one place that converts
//! them to and from the numbers SQLite stores.
//!
//! Reading is `TryFrom<i64>`: a number outside the column's range (a damaged or hostile row) is an
//! [`OutOfRange`] error, never a panic and never silently clamped.

/// Declares an enum stored as an integer column from one value table: the enum (its
/// discriminants are the stored numbers), `From<Enum> for i64` and `TryFrom<i64>`.
macro_rules! stored_as_integer {
    (
        $(#[$meta:meta])*
        pub enum $ty:ident: $repr:ident, invalid = $make_error:expr => $error:ty {
            $($(#[$vmeta:meta])* $variant:ident = $value:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr($repr)]
        pub enum $ty {
            $($(#[$vmeta])* $variant = $value,)+
        }

        impl From<$ty> for i64 {
            fn from(v: $ty) -> i64 {
                v as i64
            }
        }

        impl TryFrom<i64> for $ty {
            type Error = $error;
            fn try_from(value: i64) -> Result<Self, Self::Error> {
                match value {
                    $($value => Ok($ty::$variant),)+
                    _ => Err(($make_error)(value)),
                }
            }
        }
    };
}

stored_as_integer! {
    /// `cards.type`: where the card is in its life cycle.
    pub enum CardType: u8, invalid = |value| OutOfRange {
        column: "cards.type",
        value,
        expected: "0 to 3",
    } => OutOfRange {
        New = 0,
        /// In the learning steps of a new card.
        Learn = 1,
        Review = 2,
        /// In the relearning steps after a lapse.
        Relearn = 3,
    }
}

stored_as_integer! {
    /// `cards.queue`: which study queue the card is in, which also fixes the unit of `cards.due`.
    pub enum CardQueue: i8, invalid = |value| OutOfRange {
        column: "cards.queue",
        value,
        expected: "-3 to 4",
    } => OutOfRange {
        /// `due` is the position in the new queue.
        New = 0,
        /// Intraday (re)learning: `due` is epoch seconds.
        Learn = 1,
        /// `due` is a day number (days since the collection's creation).
        Review = 2,
        /// (Re)learning with a step that reaches the next day: `due` is a day number.
        DayLearn = 3,
        /// A failed card of a filtered deck in preview mode: `due` is epoch seconds.
        PreviewRepeat = 4,
        /// Out of every queue until the user unsuspends it; `due` keeps its previous queue's
        /// unit.
        Suspended = -1,
        /// Buried by the scheduler (a sibling was studied) until the next day.
        SchedBuried = -2,
        /// Buried by the user until the next day.
        UserBuried = -3,
    }
}

stored_as_integer! {
    /// `revlog.type`: what the card was *before* the answer (or why the entry was written).
    pub enum RevlogKind: u8, invalid = |value| OutOfRange {
        column: "revlog.type",
        value,
        expected: "0 to 5",
    } => OutOfRange {
        /// A new or learning card.
        Learning = 0,
        Review = 1,
        Relearning = 2,
        /// Answered in a filtered deck (early review or cramming).
        Filtered = 3,
        /// Rescheduled by hand (no answer).
        Manual = 4,
        /// Rescheduled by a deck-options change or "set due date".
        Rescheduled = 5,
    }
}

stored_as_integer! {
    /// An answer button (`revlog.ease`; Anki stores 0 there for entries that are not answers).
    pub enum Ease: u8, invalid = InvalidEase => InvalidEase {
        Again = 1,
        Hard = 2,
        Good = 3,
        Easy = 4,
    }
}

/// A stored integer outside the range of its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{column} {value} is out of range (expected {expected})")]
pub struct OutOfRange {
    /// `table.column`, e.g. `cards.queue`.
    pub column: &'static str,
    pub value: i64,
    /// The valid values, for the message.
    pub expected: &'static str,
}

/// An answer button outside 1..=4: a client mistake, worded for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid ease {0}: expected 1 (again) to 4 (easy)")]
pub struct InvalidEase(pub i64);

impl CardQueue {
    /// Suspended or buried: in no study queue, so it cannot be answered.
    pub fn is_out_of_queues(self) -> bool {
        matches!(
            self,
            CardQueue::Suspended | CardQueue::SchedBuried | CardQueue::UserBuried
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every number each column may hold converts to a variant and back; its neighbours fail.
    #[test]
    fn round_trips_and_rejects_neighbours() {
        fn check<T>(valid: std::ops::RangeInclusive<i64>)
        where
            T: TryFrom<i64> + Into<i64> + Copy + std::fmt::Debug,
            <T as TryFrom<i64>>::Error: std::fmt::Debug,
        {
            for n in valid.clone() {
                let v = T::try_from(n).unwrap_or_else(|e| panic!("{n}: {e:?}"));
                assert_eq!(v.into(), n);
            }
            for n in [*valid.start() - 1, *valid.end() + 1, i64::MIN, i64::MAX] {
                assert!(T::try_from(n).is_err(), "{n} accepted");
            }
        }
        check::<CardType>(0..=3);
        check::<CardQueue>(-3..=4);
        check::<RevlogKind>(0..=5);
        check::<Ease>(1..=4);
    }

    #[test]
    fn anki_numbers() {
        // rslib's discriminants, spot-checked against the names.
        assert_eq!(i64::from(CardType::Relearn), 3);
        assert_eq!(i64::from(CardQueue::DayLearn), 3);
        assert_eq!(i64::from(CardQueue::PreviewRepeat), 4);
        assert_eq!(i64::from(CardQueue::Suspended), -1);
        assert_eq!(i64::from(CardQueue::SchedBuried), -2);
        assert_eq!(i64::from(CardQueue::UserBuried), -3);
        assert_eq!(i64::from(RevlogKind::Filtered), 3);
        assert_eq!(i64::from(Ease::Again), 1);
    }

    #[test]
    fn errors_name_the_column() {
        assert_eq!(
            CardQueue::try_from(9).unwrap_err().to_string(),
            "cards.queue 9 is out of range (expected -3 to 4)"
        );
        assert_eq!(
            CardType::try_from(-1).unwrap_err().to_string(),
            "cards.type -1 is out of range (expected 0 to 3)"
        );
        assert_eq!(Ease::try_from(0), Err(InvalidEase(0)));
        assert_eq!(
            InvalidEase(5).to_string(),
            "invalid ease 5: expected 1 (again) to 4 (easy)"
        );
    }

    #[test]
    fn queue_groups() {
        let out = [
            CardQueue::Suspended,
            CardQueue::SchedBuried,
            CardQueue::UserBuried,
        ];
        for n in -3..=4 {
            let q = CardQueue::try_from(n).unwrap();
            assert_eq!(q.is_out_of_queues(), out.contains(&q), "{q:?}");
            assert_eq!(q.is_out_of_queues(), n < 0, "{q:?}");
        }
    }
}
