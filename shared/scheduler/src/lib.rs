//! Anki's v3 scheduler (SM-2, and FSRS when enabled) as pure functions over the scheduling columns of a
//! `cards` row, bit for bit compatible with Anki 26.x (rslib `scheduler/states` and
//! `scheduler/answering`), including its seeded fuzz.
//!
//! FSRS (when the collection enables it) is [`fsrs`]: the same card columns, intervals from the
//! `fsrs` crate's memory model.
//!
//! The load balancer ([`LoadBalance`]) re-picks a fuzzed interval inside the same fuzz range
//! from the day counts the collection gathers ([`answer_balanced`], [`next_intervals_balanced`]).
//!
//! Filtered decks ([`StudiedIn`], [`answer_preview`]): a card borrowed by a rescheduling
//! filtered deck is answered from its home due, early reviews included, and says whether it
//! stays or goes home ([`Borrow`]); a preview deck's card only repeats until it is done.

mod card;
mod config;
mod filtered;
mod format;
pub mod fsrs;
mod fuzz;
mod load_balance;
mod states;
mod steps;
mod timing;

pub use card::{CardQueue, CardType, Ease, InvalidEase, OutOfRange, RevlogKind};
pub use config::{DeckConfig, LeechAction};
pub use filtered::{Borrow, PreviewDelays, StudiedIn, answer_preview, next_intervals_preview};
pub use format::{button_label, format_interval};
pub use load_balance::{LOAD_BALANCE_DAYS, LoadBalance};
pub use timing::{Timing, timing, timing_v2, timing_v2_legacy};

use states::{Ctx, IntervalKind, LearnState, ReviewState, State};

/// The scheduling columns of an Anki `cards` row (same names/units as the table).
///
/// `due` is epoch seconds in the intraday queues, days since collection creation in the review
/// and day-learning queues, and the new-card position otherwise (see [`CardQueue`]). `left` is
/// the number of learning steps left; Anki 26 writes the bare count (no legacy `today * 1000`
/// part) and ignores the thousands when reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardState {
    pub id: i64,
    pub ctype: CardType,
    pub queue: CardQueue,
    pub due: i64,
    pub ivl: i64,
    pub factor: i64,
    pub reps: i64,
    pub lapses: i64,
    pub left: i64,
}

/// A revlog row minus id/cid/usn (the collection assigns those).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevlogFields {
    pub ease: Ease,
    /// New interval: days, or −seconds for a delay that ends before the next rollover.
    pub ivl: i64,
    /// Previous interval, same convention (0 for a new card).
    pub last_ivl: i64,
    /// New ease ×1000 for review/relearning results, 0 for learning results.
    pub factor: i64,
    pub time_ms: i64,
    /// The state *before* the answer (a new card counts as learning).
    pub kind: RevlogKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerOutcome {
    pub card: CardState,
    pub revlog: RevlogFields,
    /// Add the "leech" tag to the note.
    pub leeched: bool,
    /// For a card borrowed by a filtered deck: whether it stays there or goes home.
    pub borrow: Option<Borrow>,
}

/// What each button would do, for button labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextInterval {
    Seconds(i64),
    Days(i64),
}

/// Answer `card` (any state incl. new) with `ease` at `timing`, as Anki's `answer_card` does in a
/// normal deck. `taken_ms` is capped to `max_taken_secs * 1000` (negative → 0).
///
/// Fuzz is always on and exactly Anki's: seeded by `card.id + card.reps` (reps before the
/// answer), so the same input always gives the same output.
pub fn answer(
    card: &CardState,
    conf: &DeckConfig,
    timing: &Timing,
    ease: Ease,
    taken_ms: i64,
) -> AnswerOutcome {
    answer_balanced(
        card,
        conf,
        timing,
        ease,
        taken_ms,
        None,
        StudiedIn::HomeDeck,
    )
}

/// [`answer`] with Anki's load balancer (when the collection has one for this answer): every
/// fuzzed review interval is the balancer's pick within the same fuzz range; and in the deck
/// it is studied in (a rescheduling filtered deck answers from the home due).
pub fn answer_balanced(
    card: &CardState,
    conf: &DeckConfig,
    timing: &Timing,
    ease: Ease,
    taken_ms: i64,
    balance: Option<&LoadBalance>,
    studied_in: StudiedIn,
) -> AnswerOutcome {
    let seed = fuzz::seed(card.id, card.reps);
    let ctx = Ctx {
        conf,
        fuzz_factor: Some(fuzz::factor(seed)),
        balance: balance.map(|b| (b, seed)),
    };
    let current = current_state(card, conf, timing, studied_in);
    let next = ctx.next_states(current).pick(ease);
    let secs_until_rollover = timing.secs_until_rollover();

    let mut out = *card;
    out.reps = card.reps.saturating_add(1);
    let mut revlog_factor = 0.0;
    match next {
        State::New => {
            // Never produced by answering; keep the card as is.
            out.ctype = CardType::New;
            out.queue = CardQueue::New;
        }
        State::Learning(l) => {
            out.ctype = CardType::Learn;
            out.left = i64::from(l.remaining_steps);
            place_learning(&mut out, next, timing, Some(seed));
        }
        State::Review(r) => {
            out.ctype = CardType::Review;
            out.queue = CardQueue::Review;
            out.ivl = i64::from(r.scheduled_days);
            out.due = timing.days_elapsed + i64::from(r.scheduled_days);
            out.factor = ease_to_factor(r.ease_factor);
            out.lapses = i64::from(r.lapses);
            out.left = 0;
            revlog_factor = r.ease_factor;
        }
        State::Relearning { learning, review } => {
            out.ctype = CardType::Relearn;
            out.ivl = i64::from(review.scheduled_days);
            out.left = i64::from(learning.remaining_steps);
            out.lapses = i64::from(review.lapses);
            out.factor = ease_to_factor(review.ease_factor);
            place_learning(&mut out, next, timing, Some(seed));
            revlog_factor = review.ease_factor;
        }
    }
    let leeched = next.leeched();
    if leeched && conf.leech_action == LeechAction::Suspend {
        out.queue = CardQueue::Suspended;
    }

    let max_ms = i64::from(conf.max_taken_secs) * 1000;
    let revlog = RevlogFields {
        ease,
        ivl: next
            .interval_kind()
            .maybe_as_days(secs_until_rollover)
            .as_revlog(),
        last_ivl: current
            .interval_kind()
            .maybe_as_days(secs_until_rollover)
            .as_revlog(),
        factor: ease_to_factor(revlog_factor),
        time_ms: taken_ms.clamp(0, max_ms),
        kind: current.revlog_kind(),
    };
    AnswerOutcome {
        card: out,
        revlog,
        leeched,
        borrow: studied_in.borrow_after(&out),
    }
}

/// Intraday delays go to queue 1 (due in epoch seconds, fuzzed); delays reaching the next
/// rollover go to queue 3 (due in days, unfuzzed).
pub(crate) fn place_learning(
    card: &mut CardState,
    next: State,
    timing: &Timing,
    seed: Option<u64>,
) {
    match next
        .interval_kind()
        .maybe_as_days(timing.secs_until_rollover())
    {
        IntervalKind::Secs(secs) => {
            card.queue = CardQueue::Learn;
            card.due = timing.now_secs + i64::from(fuzz::learning_secs(seed, secs));
        }
        IntervalKind::Days(days) => {
            card.queue = CardQueue::DayLearn;
            card.due = timing.days_elapsed + i64::from(days);
        }
    }
}

fn ease_to_factor(ease: f32) -> i64 {
    (ease * 1000.0).round() as i64
}

/// What each button (Again, Hard, Good, Easy) would schedule, before learning-step fuzz (Anki's
/// button labels do not show it either).
pub fn next_intervals(card: &CardState, conf: &DeckConfig, timing: &Timing) -> [NextInterval; 4] {
    next_intervals_balanced(card, conf, timing, None, StudiedIn::HomeDeck)
}

/// [`next_intervals`] with Anki's load balancer (Anki's button labels show its picks), in the
/// deck the card is studied in.
pub fn next_intervals_balanced(
    card: &CardState,
    conf: &DeckConfig,
    timing: &Timing,
    balance: Option<&LoadBalance>,
    studied_in: StudiedIn,
) -> [NextInterval; 4] {
    let seed = fuzz::seed(card.id, card.reps);
    let ctx = Ctx {
        conf,
        fuzz_factor: Some(fuzz::factor(seed)),
        balance: balance.map(|b| (b, seed)),
    };
    let secs_until_rollover = timing.secs_until_rollover();
    ctx.next_states(current_state(card, conf, timing, studied_in))
        .all()
        .map(
            |s| match s.interval_kind().maybe_as_days(secs_until_rollover) {
                IntervalKind::Secs(secs) => NextInterval::Seconds(i64::from(secs)),
                IntervalKind::Days(days) => NextInterval::Days(i64::from(days)),
            },
        )
}

/// Saturating conversion of a stored column to Anki's u32 field.
fn col_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// The state Anki derives from the card row (rslib `answering/current.rs`): in a normal deck a
/// review answered before its day counts as on time; a rescheduling filtered deck reads the
/// home due (`odue`) as it is, so such an answer is an early review.
pub(crate) fn current_state(
    card: &CardState,
    conf: &DeckConfig,
    timing: &Timing,
    studied_in: StudiedIn,
) -> State {
    let ivl = col_u32(card.ivl);
    // Anki stores ease as u16 thousandths.
    let ease_factor =
        f32::from(u16::try_from(card.factor.clamp(0, i64::from(u16::MAX))).unwrap_or(0)) / 1000.0;
    let lapses = col_u32(card.lapses);
    let remaining_steps = col_u32(card.left);
    let review = |elapsed_days: u32| ReviewState {
        scheduled_days: ivl,
        elapsed_days,
        ease_factor,
        lapses,
        leeched: false,
    };
    match card.ctype {
        CardType::New => State::New,
        CardType::Learn => State::Learning(LearnState {
            remaining_steps,
            scheduled_secs: steps::Steps::new(&conf.learn_steps).current_delay(remaining_steps),
        }),
        CardType::Review => {
            let due = match studied_in {
                // Answering before the due day counts as on time in a normal deck.
                StudiedIn::HomeDeck => card.due.min(timing.days_elapsed),
                StudiedIn::Rescheduling { .. } => studied_in.due_of(card),
            };
            let elapsed = (i64::from(ivl) - (due - timing.days_elapsed)).max(0);
            State::Review(review(col_u32(elapsed)))
        }
        CardType::Relearn => State::Relearning {
            learning: LearnState {
                remaining_steps,
                scheduled_secs: steps::Steps::new(&conf.relearn_steps)
                    .current_delay(remaining_steps),
            },
            review: review(ivl),
        },
    }
}

#[cfg(test)]
mod tests;
