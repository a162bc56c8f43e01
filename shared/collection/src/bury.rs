//! Burying and suspending, as Anki's `scheduler/bury_and_suspend.rs` does them: actions on one
//! card, sibling burying after an answer (per the preset), and unburying at the day rollover.

use javumbo_scheduler::{CardQueue, Timing};

use crate::coljson::{ColJson, JsonObject, json_i64};
use crate::presets::Preset;
use crate::storage::cards::Card;
use crate::{Collection, CollectionError, Result, storage};

/// Anki's `col.conf` key for the last day buried cards were restored.
const LAST_UNBURIED_KEY: &str = "lastUnburied";

/// What the student can do to one card outside answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardAction {
    /// Hide until the next day (Anki's user bury, queue -3).
    Bury,
    /// Hide until unsuspended (queue -1).
    Suspend,
    /// Back to its queue from a bury or a suspension.
    Restore,
}

/// Which sibling queues the preset buries, limited to the queues Anki gathers no earlier than
/// the answered card's (`BuryMode::exclude_earlier_gathered_queues`): answering a review does
/// not bury an interday-learning sibling, answering a new card buries only new siblings.
fn sibling_queues(preset: &Preset, answered: CardQueue) -> (bool, bool, bool) {
    let gather_ord = |q: CardQueue| match q {
        CardQueue::Learn | CardQueue::PreviewRepeat => 0u8,
        CardQueue::DayLearn => 1,
        CardQueue::Review => 2,
        CardQueue::New => 3,
        _ => u8::MAX,
    };
    let ord = gather_ord(answered);
    (
        preset.bury_new,
        preset.bury_reviews && ord <= 2,
        preset.bury_interday_learning && ord <= 1,
    )
}

impl Collection {
    /// Bury, suspend or restore one card. Burying leaves a suspended card suspended (Anki never
    /// turns a suspension into a bury); restoring a card in a study queue changes nothing.
    pub fn card_action(&self, card_id: i64, action: CardAction) -> Result<()> {
        self.atomic(|c| {
            let card = storage::cards::get(c.conn(), card_id)?
                .ok_or_else(|| CollectionError::NotFound(format!("card {card_id} not found")))?;
            let now = c.clock().now_secs();
            let target = match action {
                CardAction::Bury => CardQueue::UserBuried,
                CardAction::Suspend => CardQueue::Suspended,
                CardAction::Restore => {
                    if card.queue.is_out_of_queues() {
                        storage::cards::restore_queue(c.conn(), card_id, now)?;
                        c.touch()?;
                    }
                    return Ok(());
                }
            };
            let leave = card.queue == target
                || (action == CardAction::Bury && card.queue == CardQueue::Suspended);
            if !leave {
                storage::cards::set_queue(c.conn(), card_id, target, now)?;
                c.touch()?;
            }
            Ok(())
        })
    }

    /// [`Self::unbury_if_day_rolled_over`] at the current time: what Anki's sync server does
    /// when a sync starts.
    pub fn unbury_if_new_day(&self) -> Result<()> {
        let conf = self.read_json_shared(ColJson::Conf)?;
        let timing = self.timing_at(&conf, self.clock().now_secs())?;
        self.unbury_if_day_rolled_over(&conf, &timing)
    }

    /// Anki's `unbury_if_day_rolled_over`: when `lastUnburied` is before today (or more than a
    /// week ahead, a clock that went backwards), every buried card goes back to its queue. This
    /// includes cards that arrived buried in an imported collection.
    pub(crate) fn unbury_if_day_rolled_over(
        &self,
        conf: &JsonObject,
        timing: &Timing,
    ) -> Result<()> {
        let today = timing.days_elapsed;
        let last = json_i64(conf, LAST_UNBURIED_KEY).unwrap_or(0);
        if last < today || today + 7 < last {
            storage::cards::unbury_all(self.conn())?;
            let mut conf = conf.clone();
            conf.insert(LAST_UNBURIED_KEY.into(), today.into());
            self.write_json(ColJson::Conf, &conf)?;
        }
        Ok(())
    }

    /// Bury the answered card's siblings as its preset says (`original` is the card before the
    /// answer).
    pub(crate) fn bury_siblings_after_answer(&self, original: &Card, now_secs: i64) -> Result<()> {
        let preset = self.deck_preset(original.home_deck_id())?;
        let (new, review, day_learn) = sibling_queues(&preset, original.queue);
        if new || review || day_learn {
            storage::cards::bury_siblings(
                self.conn(),
                original.id,
                original.note_id,
                new,
                review,
                day_learn,
                now_secs,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::empty;

    fn queue(col: &Collection, id: i64) -> i64 {
        col.conn()
            .query_row("SELECT queue FROM cards WHERE id = ?1", [id], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn actions_move_cards_between_queues() {
        let (col, _) = empty();
        let a = col.add_card("q", "a", None).unwrap().card_id;
        col.card_action(a, CardAction::Bury).unwrap();
        assert_eq!(queue(&col, a), -3);
        col.card_action(a, CardAction::Restore).unwrap();
        assert_eq!(queue(&col, a), 0);
        col.card_action(a, CardAction::Suspend).unwrap();
        col.card_action(a, CardAction::Bury).unwrap();
        assert_eq!(queue(&col, a), -1, "a suspended card stays suspended");
        col.card_action(a, CardAction::Restore).unwrap();
        assert_eq!(queue(&col, a), 0);
        col.conn()
            .execute(
                "UPDATE cards SET type = 1, queue = -1, due = 1700000000 WHERE id = ?1",
                [a],
            )
            .unwrap();
        col.card_action(a, CardAction::Restore).unwrap();
        assert_eq!(
            queue(&col, a),
            1,
            "learning due in seconds goes back to queue 1"
        );
        assert!(matches!(
            col.card_action(99, CardAction::Bury),
            Err(CollectionError::NotFound(_))
        ));
    }

    #[test]
    fn sibling_queues_follow_the_gather_order() {
        let p = Preset {
            bury_new: true,
            bury_reviews: true,
            bury_interday_learning: true,
            ..Preset::default()
        };
        assert_eq!(sibling_queues(&p, CardQueue::Learn), (true, true, true));
        assert_eq!(sibling_queues(&p, CardQueue::DayLearn), (true, true, true));
        assert_eq!(sibling_queues(&p, CardQueue::Review), (true, true, false));
        assert_eq!(sibling_queues(&p, CardQueue::New), (true, false, false));
        assert_eq!(
            sibling_queues(&Preset::default(), CardQueue::Learn),
            (false, false, false)
        );
    }
}
