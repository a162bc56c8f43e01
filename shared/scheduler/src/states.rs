//! Anki's v3 card states and their transitions (rslib `scheduler/states`, FSRS off, normal decks).

use crate::load_balance::{self, LoadBalance};
use crate::steps::Steps;
use crate::{DeckConfig, Ease, RevlogKind};

const MINIMUM_EASE: f32 = 1.3;
const EASE_AGAIN_DELTA: f32 = -0.2;
const EASE_HARD_DELTA: f32 = -0.15;
const EASE_EASY_DELTA: f32 = 0.15;

/// An interval in seconds (learning) or days (review).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntervalKind {
    Secs(u32),
    Days(u32),
}

impl IntervalKind {
    /// A delay that reaches the next rollover is a day-learning delay.
    pub(crate) fn maybe_as_days(self, secs_until_rollover: u32) -> Self {
        match self {
            IntervalKind::Secs(secs) if secs >= secs_until_rollover => {
                IntervalKind::Days((secs - secs_until_rollover) / 86_400 + 1)
            }
            other => other,
        }
    }

    /// Revlog convention: days positive, seconds negative.
    pub(crate) fn as_revlog(self) -> i64 {
        match self {
            IntervalKind::Days(d) => i64::from(d),
            IntervalKind::Secs(s) => -i64::from(s),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LearnState {
    /// The card's `left`, verbatim (Hard keeps it, legacy thousands included).
    pub remaining_steps: u32,
    pub scheduled_secs: u32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ReviewState {
    pub scheduled_days: u32,
    pub elapsed_days: u32,
    pub ease_factor: f32,
    pub lapses: u32,
    pub leeched: bool,
}

impl ReviewState {
    /// The state a card graduates into (Anki's `..Default::default()`, so lapses restart at 0).
    fn graduated(scheduled_days: u32, ease_factor: f32) -> Self {
        ReviewState {
            scheduled_days,
            elapsed_days: 0,
            ease_factor,
            lapses: 0,
            leeched: false,
        }
    }

    fn days_late(self) -> i64 {
        i64::from(self.elapsed_days) - i64::from(self.scheduled_days)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum State {
    New,
    Learning(LearnState),
    Review(ReviewState),
    Relearning {
        learning: LearnState,
        review: ReviewState,
    },
}

impl State {
    pub(crate) fn interval_kind(self) -> IntervalKind {
        match self {
            State::New => IntervalKind::Secs(0),
            State::Learning(l) | State::Relearning { learning: l, .. } => {
                IntervalKind::Secs(l.scheduled_secs)
            }
            State::Review(r) => IntervalKind::Days(r.scheduled_days),
        }
    }

    /// Revlog `type`: what the card was *before* the answer.
    pub(crate) fn revlog_kind(self) -> RevlogKind {
        match self {
            State::New | State::Learning(_) => RevlogKind::Learning,
            // Only reachable from filtered decks: normal decks clamp `due` to today.
            State::Review(r) if r.days_late() < 0 => RevlogKind::Filtered,
            State::Review(_) => RevlogKind::Review,
            State::Relearning { .. } => RevlogKind::Relearning,
        }
    }

    pub(crate) fn leeched(self) -> bool {
        match self {
            State::Review(r) | State::Relearning { review: r, .. } => r.leeched,
            _ => false,
        }
    }
}

/// The four possible outcomes of answering, in button order.
pub(crate) struct NextStates {
    pub again: State,
    pub hard: State,
    pub good: State,
    pub easy: State,
}

impl NextStates {
    pub(crate) fn pick(&self, ease: Ease) -> State {
        match ease {
            Ease::Again => self.again,
            Ease::Hard => self.hard,
            Ease::Good => self.good,
            Ease::Easy => self.easy,
        }
    }

    pub(crate) fn all(&self) -> [State; 4] {
        [self.again, self.hard, self.good, self.easy]
    }
}

pub(crate) struct Ctx<'a> {
    pub conf: &'a DeckConfig,
    /// `None` = fuzz off (Anki's test mode); only unit tests use it.
    pub fuzz_factor: Option<f32>,
    /// Anki's load balancer with the fuzz seed, when the collection has one for this answer.
    pub balance: Option<(&'a LoadBalance, u64)>,
}

impl Ctx<'_> {
    fn steps(&self) -> Steps<'_> {
        Steps::new(&self.conf.learn_steps)
    }

    fn relearn_steps(&self) -> Steps<'_> {
        Steps::new(&self.conf.relearn_steps)
    }

    /// `maximum` is at least 1; `minimum` is within `[1, maximum]`.
    fn min_max(&self, minimum: u32) -> (u32, u32) {
        let maximum = self.conf.max_ivl.max(1);
        (minimum.clamp(1, maximum), maximum)
    }

    fn fuzzed(&self, interval: f32, minimum: u32) -> u32 {
        let (minimum, maximum) = self.min_max(minimum);
        load_balance::review_days(self.fuzz_factor, self.balance, interval, minimum, maximum)
    }

    fn graduate(&self, days: u32) -> State {
        State::Review(ReviewState::graduated(
            self.fuzzed((days as f32).round().max(1.0), 1),
            self.conf.initial_ease,
        ))
    }

    pub(crate) fn next_states(&self, current: State) -> NextStates {
        match current {
            // A new card is answered like a learning card that has just failed.
            State::New => self.learning_next(LearnState {
                remaining_steps: self.steps().remaining_for_failed(),
                scheduled_secs: 0,
            }),
            State::Learning(l) => self.learning_next(l),
            State::Review(r) => self.review_next(r),
            State::Relearning { learning, review } => self.relearning_next(learning, review),
        }
    }

    fn learning_next(&self, l: LearnState) -> NextStates {
        let steps = self.steps();
        let grad_good = self.conf.graduating_ivl;
        let again = match steps.again_delay() {
            Some(secs) => State::Learning(LearnState {
                remaining_steps: steps.remaining_for_failed(),
                scheduled_secs: secs,
            }),
            None => self.graduate(grad_good),
        };
        let hard = match steps.hard_delay(l.remaining_steps) {
            Some(secs) => State::Learning(LearnState {
                scheduled_secs: secs,
                ..l
            }),
            None => self.graduate(grad_good),
        };
        let good = match steps.good_delay(l.remaining_steps) {
            Some(secs) => State::Learning(LearnState {
                remaining_steps: steps.remaining_for_good(l.remaining_steps),
                scheduled_secs: secs,
            }),
            None => self.graduate(grad_good),
        };
        // Easy is not forced above Good here (unlike review): Anki only does that for FSRS.
        let easy = State::Review(ReviewState::graduated(
            self.fuzzed(self.conf.easy_ivl as f32, 1),
            self.conf.initial_ease,
        ));
        NextStates {
            again,
            hard,
            good,
            easy,
        }
    }

    /// The lapse interval, fuzzed within `[min_ivl, max_ivl]`.
    fn failing_review_interval(&self, r: ReviewState) -> u32 {
        let days = self.fuzzed(
            (r.scheduled_days as f32).max(1.0) * self.conf.lapse_mult,
            self.conf.min_ivl,
        );
        (days as f32).round().max(1.0) as u32
    }

    fn review_next(&self, r: ReviewState) -> NextStates {
        let lapses = r.lapses.saturating_add(1);
        let again_review = ReviewState {
            scheduled_days: self.failing_review_interval(r),
            elapsed_days: 0,
            ease_factor: (r.ease_factor + EASE_AGAIN_DELTA).max(MINIMUM_EASE),
            lapses,
            leeched: leech_threshold_met(lapses, self.conf.leech_fails),
        };
        let relearn = self.relearn_steps();
        let again = match relearn.again_delay() {
            Some(secs) => State::Relearning {
                learning: LearnState {
                    remaining_steps: relearn.remaining_for_failed(),
                    scheduled_secs: secs,
                },
                review: again_review,
            },
            None => State::Review(again_review),
        };

        let (hard_days, good_days, easy_days) = if r.days_late() < 0 {
            self.early_review_intervals(r)
        } else {
            self.review_intervals(r)
        };
        let passed = |days: u32, ease_factor: f32| {
            State::Review(ReviewState {
                scheduled_days: days,
                elapsed_days: 0,
                ease_factor,
                ..r
            })
        };
        NextStates {
            again,
            hard: passed(
                hard_days,
                (r.ease_factor + EASE_HARD_DELTA).max(MINIMUM_EASE),
            ),
            good: passed(good_days, r.ease_factor),
            // No ceiling on ease.
            easy: passed(easy_days, r.ease_factor + EASE_EASY_DELTA),
        }
    }

    /// Interval modifier, fuzz, and `[minimum, max_ivl]`.
    fn constrain(&self, interval: f32, minimum: u32, fuzz: bool) -> u32 {
        let interval = interval * self.conf.ivl_mod;
        if fuzz {
            self.fuzzed(interval, minimum)
        } else {
            let (minimum, maximum) = self.min_max(minimum);
            (interval.round() as u32).clamp(minimum, maximum)
        }
    }

    /// Hard, Good, Easy; each button's minimum is one more than the *fuzzed* button before it.
    fn review_intervals(&self, r: ReviewState) -> (u32, u32, u32) {
        let current = (r.scheduled_days as f32).max(1.0);
        let days_late = r.days_late().max(0) as f32;
        let hard_mult = self.conf.hard_mult;
        // A hard multiplier ≤ 1 may shrink the interval, so only Good must then grow it.
        let hard_min = if hard_mult <= 1.0 {
            0
        } else {
            r.scheduled_days.saturating_add(1)
        };
        let hard = self.constrain(current * hard_mult, hard_min, true);
        let good_min = if hard_mult <= 1.0 {
            r.scheduled_days.saturating_add(1)
        } else {
            hard.saturating_add(1)
        };
        let good = self.constrain((current + days_late / 2.0) * r.ease_factor, good_min, true);
        let easy = self.constrain(
            (current + days_late) * r.ease_factor * self.conf.easy_bonus,
            good.saturating_add(1),
            true,
        );
        (hard, good, easy)
    }

    /// Anki's early-review formula. Unreachable from [`crate::answer`] (normal decks count early
    /// answers as on time) but kept so the state machine is complete.
    fn early_review_intervals(&self, r: ReviewState) -> (u32, u32, u32) {
        let scheduled = (r.scheduled_days as f32).max(1.0);
        let elapsed = r.scheduled_days as f32 + r.days_late() as f32;
        let hard_mult = self.conf.hard_mult;
        let hard = self.constrain(
            (elapsed * hard_mult).max(scheduled * hard_mult / 2.0),
            0,
            false,
        );
        let good = self.constrain((elapsed * r.ease_factor).max(scheduled), 0, false);
        let reduced_bonus = self.conf.easy_bonus - (self.conf.easy_bonus - 1.0) / 2.0;
        let easy = self.constrain(
            (elapsed * r.ease_factor).max(scheduled) * reduced_bonus,
            0,
            false,
        );
        (hard, good, easy)
    }

    fn relearning_next(&self, l: LearnState, r: ReviewState) -> NextStates {
        let steps = self.relearn_steps();
        // Leaving relearning keeps the lapse interval already stored on the card.
        let back_to_review = State::Review(r);
        let again = match steps.again_delay() {
            Some(secs) => State::Relearning {
                learning: LearnState {
                    remaining_steps: steps.remaining_for_failed(),
                    scheduled_secs: secs,
                },
                review: ReviewState {
                    scheduled_days: self.failing_review_interval(r),
                    elapsed_days: 0,
                    ..r
                },
            },
            None => back_to_review,
        };
        let hard = match steps.hard_delay(l.remaining_steps) {
            Some(secs) => State::Relearning {
                learning: LearnState {
                    scheduled_secs: secs,
                    ..l
                },
                review: ReviewState {
                    elapsed_days: 0,
                    ..r
                },
            },
            None => back_to_review,
        };
        let good = match steps.good_delay(l.remaining_steps) {
            Some(secs) => State::Relearning {
                learning: LearnState {
                    remaining_steps: steps.remaining_for_good(l.remaining_steps),
                    scheduled_secs: secs,
                },
                review: ReviewState {
                    elapsed_days: 0,
                    ..r
                },
            },
            None => back_to_review,
        };
        let easy = State::Review(ReviewState {
            scheduled_days: r.scheduled_days.saturating_add(1),
            elapsed_days: 0,
            ..r
        });
        NextStates {
            again,
            hard,
            good,
            easy,
        }
    }
}

/// At the threshold, then every half threshold (rounded up) after it; 0 disables.
pub(crate) fn leech_threshold_met(lapses: u32, threshold: u32) -> bool {
    if threshold == 0 {
        return false;
    }
    let half = (threshold as f32 / 2.0).ceil().max(1.0) as u32;
    lapses >= threshold && (lapses - threshold).is_multiple_of(half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leech_threshold() {
        let yes = |l, t| leech_threshold_met(l, t);
        assert!(!yes(0, 3) && !yes(1, 3) && !yes(2, 3) && yes(3, 3) && !yes(4, 3) && yes(5, 3));
        assert!(!yes(6, 3) && yes(7, 3));
        assert!(!yes(7, 8) && yes(8, 8) && !yes(9, 8) && !yes(11, 8) && yes(12, 8) && !yes(13, 8));
        assert!(!yes(0, 0));
        assert!(!yes(0, 1) && yes(1, 1) && yes(2, 1) && yes(3, 1));
    }

    fn ctx(conf: &DeckConfig, fuzz: Option<f32>) -> Ctx<'_> {
        Ctx {
            conf,
            fuzz_factor: fuzz,
            balance: None,
        }
    }

    fn review(days: u32, elapsed: u32, ease: f32) -> ReviewState {
        ReviewState {
            scheduled_days: days,
            elapsed_days: elapsed,
            ease_factor: ease,
            lapses: 0,
            leeched: false,
        }
    }

    fn days(s: State) -> u32 {
        match s {
            State::Review(r) => r.scheduled_days,
            other => panic!("not a review state: {other:?}"),
        }
    }

    #[test]
    fn extreme_multiplier_fuzz() {
        let mut conf = DeckConfig::default();
        let r = review(1, 1, 1.3);
        assert_eq!(ctx(&conf, Some(0.0)).review_intervals(r), (2, 3, 4));
        conf.ivl_mod = 0.1;
        assert_eq!(ctx(&conf, Some(0.0)).review_intervals(r), (2, 3, 4));
        assert_eq!(ctx(&conf, Some(0.99)).review_intervals(r), (2, 4, 6));
        conf.ivl_mod = 10.0;
        conf.max_ivl = 5;
        assert_eq!(ctx(&conf, Some(0.99)).review_intervals(r), (5, 5, 5));
    }

    #[test]
    fn low_hard_multiplier_does_not_pull_good_down() {
        let conf = DeckConfig {
            hard_mult: 0.1,
            ..DeckConfig::default()
        };
        assert_eq!(
            ctx(&conf, Some(0.0)).review_intervals(review(2, 2, 1.3)),
            (1, 3, 4)
        );
    }

    #[test]
    fn readme_fuzz_off_rows() {
        let conf = DeckConfig::default();
        let c = ctx(&conf, None);
        // Row 6: Easy on ivl 1, ease 2.15 → 4
        assert_eq!(days(c.review_next(review(1, 1, 2.15)).easy), 4);
        // Row 7: 1 day late, ivl 4, ease 2.3 → Good 10
        assert_eq!(days(c.review_next(review(4, 5, 2.3)).good), 10);
        // Row 8: 2 days late, ivl 10 → Good 25
        assert_eq!(days(c.review_next(review(10, 12, 2.3)).good), 25);
    }

    #[test]
    fn ease_floor_and_deltas() {
        let conf = DeckConfig::default();
        let n = ctx(&conf, None).review_next(review(10, 10, 1.35));
        let ease = |s: State| match s {
            State::Review(r) | State::Relearning { review: r, .. } => r.ease_factor,
            _ => panic!(),
        };
        assert_eq!(ease(n.again), 1.3);
        assert_eq!(ease(n.hard), 1.3);
        assert_eq!(ease(n.good), 1.35);
        assert_eq!(ease(n.easy), 1.35 + 0.15);
    }

    #[test]
    fn lapse_interval_uses_multiplier_and_minimum() {
        let conf = DeckConfig {
            lapse_mult: 0.5,
            min_ivl: 3,
            relearn_steps: vec![],
            ..DeckConfig::default()
        };
        let c = ctx(&conf, None);
        assert_eq!(days(c.review_next(review(20, 20, 2.5)).again), 10);
        assert_eq!(days(c.review_next(review(4, 4, 2.5)).again), 3);
    }

    #[test]
    fn relearning_easy_adds_a_day_and_good_keeps_ivl() {
        let conf = DeckConfig::default();
        let c = ctx(&conf, Some(0.7));
        let n = c.relearning_next(
            LearnState {
                remaining_steps: 1,
                scheduled_secs: 600,
            },
            review(3, 3, 2.1),
        );
        assert_eq!(days(n.good), 3);
        assert_eq!(days(n.easy), 4);
        assert!(matches!(
            n.again,
            State::Relearning {
                learning: LearnState {
                    remaining_steps: 1,
                    scheduled_secs: 600
                },
                ..
            }
        ));
    }

    #[test]
    fn no_learning_steps_graduate_everything() {
        let conf = DeckConfig {
            learn_steps: vec![],
            graduating_ivl: 2,
            easy_ivl: 5,
            ..DeckConfig::default()
        };
        let n = ctx(&conf, None).next_states(State::New);
        assert_eq!(
            [days(n.again), days(n.hard), days(n.good), days(n.easy)],
            [2, 2, 2, 5]
        );
    }

    #[test]
    fn interval_kind_day_conversion() {
        assert_eq!(
            IntervalKind::Secs(600).maybe_as_days(601),
            IntervalKind::Secs(600)
        );
        assert_eq!(
            IntervalKind::Secs(600).maybe_as_days(600),
            IntervalKind::Days(1)
        );
        assert_eq!(
            IntervalKind::Secs(3 * 86_400).maybe_as_days(3600),
            IntervalKind::Days(3)
        );
        assert_eq!(IntervalKind::Days(3).as_revlog(), 3);
        assert_eq!(IntervalKind::Secs(60).as_revlog(), -60);
    }
}
