//! Cards borrowed by a filtered deck (rslib `scheduler/states/rescheduling_filter.rs`,
//! `preview_filter.rs`, `answering/preview.rs`, `scheduler/filtered/card.rs`).
//!
//! A filtered deck takes cards from their home decks (`odid` = home deck, `odue` = the due
//! they had there, `due` = a position in the filtered deck). A deck that reschedules (Anki's
//! default) answers them as their home deck would, from the home due: a review answered
//! before its day is an early review. The answer that makes the card a review sends it home;
//! any other keeps it in the filtered deck with `odue` = its new due. A deck that does not
//! reschedule (preview) only shows the card again after its delays; Easy, or a button whose
//! delay is 0, ends the preview and puts the card back as it was.

use crate::states::IntervalKind;
use crate::{
    AnswerOutcome, CardQueue, CardState, CardType, DeckConfig, Ease, NextInterval, RevlogFields,
    RevlogKind, Timing, fuzz,
};

/// Where a card is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StudiedIn {
    /// Its home deck (or a card whose filtered deck is gone).
    #[default]
    HomeDeck,
    /// A filtered deck that reschedules cards; `original_due` is the card's `odue`.
    Rescheduling { original_due: i64 },
}

/// Where a filtered deck's card is after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Borrow {
    /// Still in the filtered deck, with this `odue`.
    Kept { original_due: i64 },
    /// Back in its home deck: `did = odid`, `odid = odue = 0`.
    Returned,
}

impl StudiedIn {
    /// The due the card is scheduled from: its home due, when the filtered deck recorded one
    /// (a new card's position, too).
    pub fn due_of(self, card: &CardState) -> i64 {
        match self {
            StudiedIn::Rescheduling { original_due } if original_due != 0 => original_due,
            _ => card.due,
        }
    }

    /// A review result goes home; any other stays, its new due kept as the home due.
    pub(crate) fn borrow_after(self, after: &CardState) -> Option<Borrow> {
        match self {
            StudiedIn::HomeDeck => None,
            StudiedIn::Rescheduling { .. } if after.ctype == CardType::Review => {
                Some(Borrow::Returned)
            }
            StudiedIn::Rescheduling { .. } => Some(Borrow::Kept {
                original_due: after.due,
            }),
        }
    }
}

/// A preview deck's delays (`previewAgainSecs`, `previewHardSecs`, `previewGoodSecs`); 0 ends
/// the preview on that button. Easy always ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PreviewDelays {
    pub again_secs: u32,
    pub hard_secs: u32,
    pub good_secs: u32,
}

impl PreviewDelays {
    fn for_ease(self, ease: Ease) -> u32 {
        match ease {
            Ease::Again => self.again_secs,
            Ease::Hard => self.hard_secs,
            Ease::Good => self.good_secs,
            Ease::Easy => 0,
        }
    }
}

/// Answer a card in a filtered deck that does not reschedule (Anki's preview state): the card
/// repeats after the button's delay (queue 4, fuzzed like a learning step), or, when the delay
/// is 0, goes home with its home due and the queue of its type. Nothing else changes — not
/// `reps`, not the interval or ease — and the revlog row is a "filtered" one without ease.
pub fn answer_preview(
    card: &CardState,
    original_due: i64,
    delays: PreviewDelays,
    conf: &DeckConfig,
    timing: &Timing,
    ease: Ease,
    taken_ms: i64,
) -> AnswerOutcome {
    let secs = delays.for_ease(ease);
    let mut out = *card;
    let borrow = if secs == 0 {
        if original_due != 0 {
            out.due = original_due;
        }
        if i64::from(out.queue) >= 0 {
            out.queue = queue_of_type(out.ctype, out.due);
        }
        Borrow::Returned
    } else {
        out.queue = CardQueue::PreviewRepeat;
        let seed = fuzz::seed(card.id, card.reps);
        out.due = timing.now_secs + i64::from(fuzz::learning_secs(Some(seed), secs));
        Borrow::Kept { original_due }
    };
    let rollover = timing.secs_until_rollover();
    let revlog_ivl = |secs: u32| IntervalKind::Secs(secs).maybe_as_days(rollover).as_revlog();
    let max_ms = i64::from(conf.max_taken_secs) * 1000;
    AnswerOutcome {
        card: out,
        revlog: RevlogFields {
            ease,
            ivl: revlog_ivl(secs),
            // The preview state's own delay is the Again delay, whatever came before.
            last_ivl: revlog_ivl(delays.again_secs),
            factor: 0,
            time_ms: taken_ms.clamp(0, max_ms),
            kind: RevlogKind::Filtered,
        },
        leeched: false,
        borrow: Some(borrow),
    }
}

/// A preview deck's button intervals: the delays, and the end of the preview on Easy.
pub fn next_intervals_preview(delays: PreviewDelays, timing: &Timing) -> [NextInterval; 4] {
    let rollover = timing.secs_until_rollover();
    [Ease::Again, Ease::Hard, Ease::Good, Ease::Easy].map(|ease| {
        match IntervalKind::Secs(delays.for_ease(ease)).maybe_as_days(rollover) {
            IntervalKind::Secs(s) => NextInterval::Seconds(i64::from(s)),
            IntervalKind::Days(d) => NextInterval::Days(i64::from(d)),
        }
    })
}

/// The queue a card returning home takes from its type (Anki's `restore_queue_from_type`):
/// (re)learning by the unit of its due (epoch seconds or a day number).
fn queue_of_type(ctype: CardType, due: i64) -> CardQueue {
    match ctype {
        CardType::New => CardQueue::New,
        CardType::Review => CardQueue::Review,
        CardType::Learn | CardType::Relearn if due > 1_000_000_000 => CardQueue::Learn,
        CardType::Learn | CardType::Relearn => CardQueue::DayLearn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{answer_balanced, button_label, timing};

    const CRT: i64 = 1_704_081_600; // 2024-01-01 04:00 UTC, day 0
    const NOON_DAY_10: i64 = CRT + 10 * 86_400 + 8 * 3600;

    fn at_noon() -> Timing {
        timing(CRT, NOON_DAY_10, 4, 0)
    }

    /// A review card borrowed by a filtered deck: `due` is its place there, `odue` its home day.
    fn borrowed_review(home_due: i64) -> (CardState, i64) {
        let card = CardState {
            id: 1_704_000_000_123,
            ctype: CardType::Review,
            queue: CardQueue::Review,
            due: -99_990,
            ivl: 10,
            factor: 2500,
            reps: 6,
            lapses: 0,
            left: 0,
        };
        (card, home_due)
    }

    #[test]
    fn an_early_review_uses_the_early_intervals_and_goes_home() {
        let conf = DeckConfig::default();
        let t = at_noon();
        // Due on day 14, answered on day 10: 6 of its 10 days have passed.
        let (card, odue) = borrowed_review(14);
        let studied = StudiedIn::Rescheduling { original_due: odue };
        let out = answer_balanced(&card, &conf, &t, Ease::Good, 5000, None, studied);
        assert_eq!(out.revlog.kind, RevlogKind::Filtered);
        assert_eq!(out.borrow, Some(Borrow::Returned));
        // Early Good: max(elapsed × ease, scheduled) = max(6 × 2.5, 10) = 15 days, no fuzz.
        assert_eq!((out.card.ivl, out.card.due), (15, 25));
        // The same card in its home deck counts as on time (10 × 2.5, fuzzed around 25).
        let home = answer_balanced(
            &card,
            &conf,
            &t,
            Ease::Good,
            5000,
            None,
            StudiedIn::HomeDeck,
        );
        assert_eq!(home.revlog.kind, RevlogKind::Review);
        assert_eq!(home.borrow, None);
        assert!(home.card.ivl > 20, "{home:?}");
    }

    #[test]
    fn a_learning_result_stays_borrowed_with_its_due_as_the_home_due() {
        let conf = DeckConfig::default();
        let t = at_noon();
        let (card, odue) = borrowed_review(9);
        let studied = StudiedIn::Rescheduling { original_due: odue };
        let out = answer_balanced(&card, &conf, &t, Ease::Again, 5000, None, studied);
        assert_eq!(out.card.queue, CardQueue::Learn);
        assert_eq!(
            out.borrow,
            Some(Borrow::Kept {
                original_due: out.card.due
            })
        );
        // A day late: a normal lapse, logged as a review.
        assert_eq!(out.revlog.kind, RevlogKind::Review);
    }

    #[test]
    fn a_preview_repeats_then_restores_the_card_untouched() {
        let conf = DeckConfig::default();
        let t = at_noon();
        let delays = PreviewDelays {
            again_secs: 60,
            hard_secs: 600,
            good_secs: 0,
        };
        let (card, odue) = borrowed_review(14);
        let again = answer_preview(&card, odue, delays, &conf, &t, Ease::Again, 5000);
        assert_eq!(again.card.queue, CardQueue::PreviewRepeat);
        assert!((t.now_secs + 60..t.now_secs + 75).contains(&again.card.due));
        assert_eq!(again.borrow, Some(Borrow::Kept { original_due: 14 }));
        assert_eq!(
            (again.card.reps, again.card.ivl, again.card.factor),
            (6, 10, 2500)
        );
        assert_eq!(
            (again.revlog.ivl, again.revlog.last_ivl, again.revlog.factor),
            (-60, -60, 0)
        );
        assert_eq!(again.revlog.kind, RevlogKind::Filtered);

        let good = answer_preview(&again.card, odue, delays, &conf, &t, Ease::Good, 5000);
        assert_eq!(good.borrow, Some(Borrow::Returned));
        assert_eq!(good.card, card_with(card, CardQueue::Review, 14));
        assert_eq!((good.revlog.ivl, good.revlog.last_ivl), (0, -60));
    }

    fn card_with(card: CardState, queue: CardQueue, due: i64) -> CardState {
        CardState { queue, due, ..card }
    }

    #[test]
    fn a_previewed_learning_card_goes_back_to_the_queue_of_its_due() {
        let conf = DeckConfig::default();
        let t = at_noon();
        let learning = CardState {
            ctype: CardType::Learn,
            left: 1,
            ..borrowed_review(0).0
        };
        let easy = |odue| {
            answer_preview(
                &learning,
                odue,
                PreviewDelays::default(),
                &conf,
                &t,
                Ease::Easy,
                0,
            )
        };
        assert_eq!(easy(t.now_secs + 300).card.queue, CardQueue::Learn);
        assert_eq!(easy(11).card.queue, CardQueue::DayLearn);
        // No home due recorded: the due stays.
        assert_eq!(easy(0).card.due, learning.due);
    }

    #[test]
    fn preview_buttons_show_their_delays_and_the_end() {
        let delays = PreviewDelays {
            again_secs: 60,
            hard_secs: 600,
            good_secs: 0,
        };
        let labels = next_intervals_preview(delays, &at_noon()).map(|i| button_label(i, 1200));
        assert_eq!(labels, ["<1m", "<10m", "(end)", "(end)"]);
    }
}
