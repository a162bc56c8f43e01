//! Per-deck card counts.

use javumbo_scheduler::{CardQueue, CardType};
use serde::Serialize;

use crate::{Collection, Result, storage};

/// Card counts of a deck and its subdecks. Every card is in exactly one category, so the
/// categories add up to `total`: a suspended or buried card counts only as suspended/buried
/// (whatever its type); every other card counts by its type, reviews split at 21 days like
/// Anki's young/mature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DeckStats {
    pub new: i64,
    /// Type 1: in the learning steps of a new card.
    pub learning: i64,
    /// Type 3: in the relearning steps after a lapse.
    pub relearning: i64,
    /// Type 2 with an interval under 21 days.
    pub young: i64,
    /// Type 2 with an interval of 21 days or more.
    pub mature: i64,
    /// In the suspended queue (-1).
    pub suspended: i64,
    /// Buried by the scheduler (queue -2) or by the user (-3).
    pub buried: i64,
    pub total: i64,
}

/// Anki's young/mature boundary, in days.
const MATURE_IVL: i64 = 21;

impl DeckStats {
    /// Count `n` cards of one type and queue, young or mature by interval.
    fn add(&mut self, ctype: CardType, queue: CardQueue, mature: bool, n: i64) {
        let category = match queue {
            CardQueue::Suspended => &mut self.suspended,
            CardQueue::SchedBuried | CardQueue::UserBuried => &mut self.buried,
            _ => match ctype {
                CardType::New => &mut self.new,
                CardType::Learn => &mut self.learning,
                CardType::Relearn => &mut self.relearning,
                CardType::Review if mature => &mut self.mature,
                CardType::Review => &mut self.young,
            },
        };
        *category += n;
        self.total += n;
    }
}

impl Collection {
    pub fn deck_stats(&self, deck_id: i64) -> Result<DeckStats> {
        let deck = self.deck_row(deck_id)?;
        let dids = storage::id_array(&self.subtree_ids(&deck)?);
        let mut stats = DeckStats::default();
        for (ctype, queue, mature, n) in storage::cards::census(self.conn(), &dids, MATURE_IVL)? {
            stats.add(ctype, queue, mature, n);
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::empty;

    #[test]
    fn every_card_lands_in_exactly_one_category() {
        let (col, _) = empty();
        let deck = col.create_deck("S").unwrap();
        let sub = col.create_deck("S::sub").unwrap();
        // (type, queue, ivl) for each card.
        let states = [
            (0, 0, 0),
            (0, 0, 0),
            (1, 1, 0),
            (1, 3, 0),
            (3, 1, 5),
            (2, 2, 20),
            (2, 2, 21),
            (2, 2, 300),
            (2, -1, 30),
            (0, -1, 0),
            (2, -2, 3),
            (1, -3, 0),
        ];
        for (i, (ctype, queue, ivl)) in states.iter().enumerate() {
            let did = if i % 2 == 0 { deck.id } else { sub.id };
            let a = col.add_card(&format!("q{i}"), "a", Some(did)).unwrap();
            col.conn()
                .execute(
                    "UPDATE cards SET type = ?2, queue = ?3, ivl = ?4 WHERE id = ?1",
                    rusqlite::params![a.card_id, ctype, queue, ivl],
                )
                .unwrap();
        }
        col.add_card("other deck", "a", Some(1)).unwrap();
        let s = col.deck_stats(deck.id).unwrap();
        assert_eq!(
            s,
            DeckStats {
                new: 2,
                learning: 2,
                relearning: 1,
                young: 1,
                mature: 2,
                suspended: 2,
                buried: 2,
                total: 12
            }
        );
        let sum = s.new + s.learning + s.relearning + s.young + s.mature + s.suspended + s.buried;
        assert_eq!(sum, s.total);
        assert_eq!(col.deck_stats(sub.id).unwrap().total, 6);
        assert!(matches!(
            col.deck_stats(999),
            Err(crate::CollectionError::NotFound(_))
        ));
    }
}
