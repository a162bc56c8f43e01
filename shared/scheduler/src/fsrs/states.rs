//! Anki's card-state transitions with FSRS on (rslib `scheduler/states/{learning,review,
//! relearning}.rs`, the `fsrs_next_states` branches). Every button's memory state is the model's
//! for that button; only the interval depends on the card's learning steps.

use ::fsrs::{MemoryState, NextStates};

use crate::load_balance::{self, LoadBalance};
use crate::states::{LearnState, ReviewState, State, leech_threshold_met};
use crate::steps::Steps;
use crate::{DeckConfig, Ease, fuzz};

const MINIMUM_EASE: f32 = 1.3;
const EASE_AGAIN_DELTA: f32 = -0.2;
const EASE_HARD_DELTA: f32 = -0.15;
const EASE_EASY_DELTA: f32 = 0.15;

pub(super) struct FsrsCtx<'a> {
    pub conf: &'a DeckConfig,
    pub fuzz_factor: Option<f32>,
    /// Anki's load balancer with the fuzz seed, when the collection has one for this answer.
    pub balance: Option<(&'a LoadBalance, u64)>,
    pub model: &'a NextStates,
    pub allow_short_term: bool,
    pub short_term_with_steps: bool,
}

/// The four outcomes in button order, each with its memory state.
pub(super) struct FsrsNext {
    states: [State; 4],
    memory: [MemoryState; 4],
}

impl FsrsNext {
    pub(super) fn pick(&self, ease: Ease) -> (State, MemoryState) {
        let i = match ease {
            Ease::Again => 0,
            Ease::Hard => 1,
            Ease::Good => 2,
            Ease::Easy => 3,
        };
        (self.states[i], self.memory[i])
    }

    pub(super) fn all(&self) -> [State; 4] {
        self.states
    }
}

impl FsrsCtx<'_> {
    fn steps(&self) -> Steps<'_> {
        Steps::new(&self.conf.learn_steps)
    }

    fn relearn_steps(&self) -> Steps<'_> {
        Steps::new(&self.conf.relearn_steps)
    }

    fn maximum(&self) -> u32 {
        self.conf.max_ivl.max(1)
    }

    /// Anki's `with_review_fuzz(interval, minimum, maximum)` with `minimum` already chosen.
    fn fuzzed(&self, interval: f32, minimum: u32) -> u32 {
        self.fuzz_days(interval, minimum, self.maximum())
    }

    /// Anki's `with_review_fuzz`: the load balancer's pick when it has one, else the fuzz.
    fn fuzz_days(&self, interval: f32, minimum: u32, maximum: u32) -> u32 {
        load_balance::review_days(self.fuzz_factor, self.balance, interval, minimum, maximum)
    }

    /// A sub-day FSRS interval stays in (re)learning only with short-term scheduling allowed,
    /// and then only when there are no steps for that phase or the collection lets FSRS
    /// schedule short-term intervals alongside steps.
    fn short_term(&self, steps_empty: bool, interval: f32) -> bool {
        self.allow_short_term && (self.short_term_with_steps || steps_empty) && interval < 0.5
    }

    fn graduated(&self, days: u32) -> ReviewState {
        ReviewState {
            scheduled_days: days,
            elapsed_days: 0,
            ease_factor: self.conf.initial_ease,
            lapses: 0,
            leeched: false,
        }
    }

    pub(super) fn next_states(&self, current: State) -> FsrsNext {
        let m = self.model;
        let states = match current {
            // A new card is answered like a learning card that has just failed.
            State::New => self.learning_next(LearnState {
                remaining_steps: self.steps().remaining_for_failed(),
                scheduled_secs: 0,
            }),
            State::Learning(l) => self.learning_next(l),
            State::Review(r) => self.review_next(r),
            State::Relearning { learning, review } => self.relearning_next(learning, review),
        };
        FsrsNext {
            states,
            memory: [m.again.memory, m.hard.memory, m.good.memory, m.easy.memory],
        }
    }

    /// Leaving the learning steps with `interval` (the model's, in days) for one button.
    fn leave_learning(&self, interval: f32, short_term: LearnState) -> State {
        if self.short_term(self.conf.learn_steps.is_empty(), interval) {
            State::Learning(short_term)
        } else {
            State::Review(self.graduated(self.fuzzed(interval.round().max(1.0), 1)))
        }
    }

    fn learning_next(&self, l: LearnState) -> [State; 4] {
        let steps = self.steps();
        let m = self.model;
        let short = |interval: f32| (interval * 86_400.0) as u32;
        let again = match steps.again_delay() {
            Some(secs) => State::Learning(LearnState {
                remaining_steps: steps.remaining_for_failed(),
                scheduled_secs: secs,
            }),
            None => self.leave_learning(
                m.again.interval,
                LearnState {
                    remaining_steps: steps.remaining_for_failed(),
                    scheduled_secs: short(m.again.interval),
                },
            ),
        };
        let hard = match steps.hard_delay(l.remaining_steps) {
            Some(secs) => State::Learning(LearnState {
                scheduled_secs: secs,
                ..l
            }),
            None => self.leave_learning(
                m.hard.interval,
                LearnState {
                    scheduled_secs: short(m.hard.interval),
                    ..l
                },
            ),
        };
        let good = match steps.good_delay(l.remaining_steps) {
            Some(secs) => State::Learning(LearnState {
                remaining_steps: steps.remaining_for_good(l.remaining_steps),
                scheduled_secs: secs,
            }),
            // Anki keeps the card's remaining steps here (`..self`).
            None => self.leave_learning(
                m.good.interval,
                LearnState {
                    scheduled_secs: short(m.good.interval),
                    ..l
                },
            ),
        };
        // Easy is forced above the fuzzed Good interval.
        let good_days = self.fuzzed(m.good.interval, 1);
        let easy_days = m.easy.interval.round().max(1.0) as u32;
        let easy = State::Review(
            self.graduated(self.fuzzed(easy_days as f32, good_days.saturating_add(1))),
        );
        [again, hard, good, easy]
    }

    fn review_next(&self, r: ReviewState) -> [State; 4] {
        let m = self.model;
        let relearn = self.relearn_steps();
        let lapses = r.lapses.saturating_add(1);
        // FSRS fuzzes a lapse only when the card leaves relearning.
        let lapse_days = m.again.interval;
        let again_review = ReviewState {
            scheduled_days: lapse_days.round().max(1.0) as u32,
            elapsed_days: 0,
            ease_factor: (r.ease_factor + EASE_AGAIN_DELTA).max(MINIMUM_EASE),
            lapses,
            leeched: leech_threshold_met(lapses, self.conf.leech_fails),
        };
        let again = match relearn.again_delay() {
            Some(secs) => State::Relearning {
                learning: LearnState {
                    remaining_steps: relearn.remaining_for_failed(),
                    scheduled_secs: secs,
                },
                review: again_review,
            },
            None if self.short_term(self.conf.relearn_steps.is_empty(), lapse_days) => {
                State::Relearning {
                    learning: LearnState {
                        remaining_steps: relearn.remaining_for_failed(),
                        scheduled_secs: (lapse_days * 86_400.0) as u32,
                    },
                    review: again_review,
                }
            }
            None => State::Review(again_review),
        };

        let max_ivl = self.conf.max_ivl;
        let passing = |interval: f32, floor: u32| {
            let minimum =
                minimum_review_fuzz_interval(interval, r.scheduled_days, max_ivl).max(floor);
            let maximum = self.maximum();
            self.fuzz_days(interval, minimum.clamp(1, maximum), maximum)
        };
        let hard_days = passing(m.hard.interval, 1);
        let good_days = passing(m.good.interval, hard_days.saturating_add(1));
        let easy_days = passing(m.easy.interval, good_days.saturating_add(1));
        let passed = |days: u32, ease_factor: f32| {
            State::Review(ReviewState {
                scheduled_days: days,
                elapsed_days: 0,
                ease_factor,
                ..r
            })
        };
        [
            again,
            passed(
                hard_days,
                (r.ease_factor + EASE_HARD_DELTA).max(MINIMUM_EASE),
            ),
            passed(good_days, r.ease_factor),
            passed(easy_days, r.ease_factor + EASE_EASY_DELTA),
        ]
    }

    /// Leaving the relearning steps with `interval` (the model's) for one button.
    fn leave_relearning(&self, interval: f32, r: ReviewState, short_term: LearnState) -> State {
        let review = ReviewState {
            scheduled_days: self.fuzzed(interval.round().max(1.0), 1),
            ..r
        };
        if self.short_term(self.conf.relearn_steps.is_empty(), interval) {
            State::Relearning {
                learning: short_term,
                review,
            }
        } else {
            State::Review(review)
        }
    }

    fn relearning_next(&self, l: LearnState, r: ReviewState) -> [State; 4] {
        let m = self.model;
        let steps = self.relearn_steps();
        let short = |interval: f32| (interval * 86_400.0) as u32;
        let again = match steps.again_delay() {
            Some(secs) => State::Relearning {
                learning: LearnState {
                    remaining_steps: steps.remaining_for_failed(),
                    scheduled_secs: secs,
                },
                review: ReviewState {
                    scheduled_days: m.again.interval.round().max(1.0) as u32,
                    elapsed_days: 0,
                    ..r
                },
            },
            None => self.leave_relearning(
                m.again.interval,
                r,
                LearnState {
                    remaining_steps: steps.remaining_for_failed(),
                    scheduled_secs: short(m.again.interval),
                },
            ),
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
            None => self.leave_relearning(
                m.hard.interval,
                r,
                LearnState {
                    scheduled_secs: short(m.hard.interval),
                    ..l
                },
            ),
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
            None => self.leave_relearning(
                m.good.interval,
                r,
                LearnState {
                    remaining_steps: steps.remaining_for_good(l.remaining_steps),
                    scheduled_secs: short(m.good.interval),
                },
            ),
        };
        let good_days = self.fuzzed(m.good.interval, 1);
        let easy = State::Review(ReviewState {
            scheduled_days: self.fuzzed(
                m.easy.interval.round().max(1.0),
                good_days.saturating_add(1),
            ),
            elapsed_days: 0,
            ..r
        });
        [again, hard, good, easy]
    }
}

/// Anki's `minimum_review_fuzz_interval`: a passing review never moves a card earlier than its
/// last interval because of fuzz, unless the model itself shrank the interval beyond the fuzz.
pub(crate) fn minimum_review_fuzz_interval(interval: f32, previous: u32, maximum: u32) -> u32 {
    let rounded = interval.round() as u32;
    let (_, upper) = fuzz::constrained_bounds(interval, 1, maximum);
    if rounded > previous {
        previous.saturating_add(1)
    } else if previous <= upper {
        previous
    } else {
        0
    }
}
