//! FSRS scheduling as Anki 26.9.3 does it when the collection's FSRS switch is on (rslib
//! `scheduler/states` with `fsrs_next_states` set, `answering/mod.rs`), on the `fsrs` crate at
//! the version Anki links.
//!
//! The SM-2 path ([`crate::answer`]) is untouched; this module has its own state transitions
//! ([`states`]) because under FSRS every interval comes from the memory model, while the
//! learning-step machinery, the fuzz and the card columns are shared with SM-2.

mod states;

use ::fsrs::FSRS;
pub use ::fsrs::{DEFAULT_PARAMETERS, FSRS5_DEFAULT_DECAY, FSRS6_DEFAULT_DECAY, MemoryState};

use crate::states::{IntervalKind, State};
use crate::{
    AnswerOutcome, CardQueue, CardState, CardType, DeckConfig, Ease, LeechAction, LoadBalance,
    NextInterval, RevlogFields, StudiedIn, Timing, current_state, fuzz, place_learning,
};

/// The `fsrs` crate refused the parameters or produced a non-finite state.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("FSRS: {0:?}")]
pub struct FsrsError(pub ::fsrs::FSRSError);

impl From<::fsrs::FSRSError> for FsrsError {
    fn from(e: ::fsrs::FSRSError) -> Self {
        FsrsError(e)
    }
}

/// What a preset contributes when FSRS is on.
#[derive(Debug, Clone, PartialEq)]
pub struct FsrsSettings {
    /// The preset's parameters (`fsrsParams6`, else `fsrsParams5`, else `fsrsWeights`); empty
    /// means the crate's defaults.
    pub params: Vec<f32>,
    /// The deck's desired retention if it overrides the preset's, else the preset's.
    pub desired_retention: f32,
    /// The collection-wide "short-term scheduling with learning steps" switch
    /// (`col.conf` `fsrsShortTermWithStepsEnabled`).
    pub short_term_with_steps: bool,
}

impl FsrsSettings {
    /// Anki lets FSRS schedule sub-day intervals only with FSRS-5+ parameters whose short-term
    /// weights are positive, or with the defaults.
    pub fn allow_short_term(&self) -> bool {
        let p = &self.params;
        if p.len() >= 19 {
            p[17] > 0.0 && p[18] > 0.0
        } else {
            p.is_empty()
        }
    }

    /// The forgetting-curve decay Anki stores in `cards.data` (`decay`).
    pub fn decay(&self) -> f32 {
        decay_from_params(&self.params)
    }

    pub fn model(&self) -> Result<FSRS, FsrsError> {
        Ok(FSRS::new(&self.params)?)
    }
}

/// Anki's `get_decay_from_params`: FSRS-6 default for empty parameters, the FSRS-5 constant for
/// shorter (older) parameter lists, else the 21st parameter.
pub fn decay_from_params(params: &[f32]) -> f32 {
    if params.is_empty() {
        FSRS6_DEFAULT_DECAY
    } else if params.len() < 21 {
        FSRS5_DEFAULT_DECAY
    } else {
        params[20]
    }
}

/// The card's memory before the answer and the days since its last review (Anki: whole days
/// from the last review time to the next rollover).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsrsInput {
    pub memory: Option<MemoryState>,
    pub days_elapsed: u32,
}

/// [`AnswerOutcome`] plus the memory state the card now has.
#[derive(Debug, Clone, PartialEq)]
pub struct FsrsAnswer {
    pub outcome: AnswerOutcome,
    pub memory: MemoryState,
}

/// Difficulty on Anki's revlog scale (0.1–1.1), stored ×1000 in `revlog.factor` under FSRS.
pub fn difficulty_shifted(m: MemoryState) -> f32 {
    (m.difficulty - 1.0) / 9.0 + 0.1
}

fn model_next_states(
    settings: &FsrsSettings,
    input: FsrsInput,
) -> Result<::fsrs::NextStates, FsrsError> {
    Ok(settings.model()?.next_states(
        input.memory,
        settings.desired_retention,
        input.days_elapsed,
    )?)
}

fn next_states(
    card: &CardState,
    conf: &DeckConfig,
    settings: &FsrsSettings,
    input: FsrsInput,
    timing: &Timing,
    balance: Option<&LoadBalance>,
    studied_in: StudiedIn,
) -> Result<(State, states::FsrsNext), FsrsError> {
    let model = model_next_states(settings, input)?;
    let seed = fuzz::seed(card.id, card.reps);
    let ctx = states::FsrsCtx {
        conf,
        fuzz_factor: Some(fuzz::factor(seed)),
        balance: balance.map(|b| (b, seed)),
        model: &model,
        allow_short_term: settings.allow_short_term(),
        short_term_with_steps: settings.short_term_with_steps,
    };
    let current = current_state(card, conf, timing, studied_in);
    let next = ctx.next_states(current);
    Ok((current, next))
}

/// Answer `card` with FSRS on: as [`crate::answer`], but intervals come from the memory model,
/// `revlog.factor` holds the shifted difficulty, and the new memory state is returned for
/// `cards.data`.
pub fn answer_fsrs(
    card: &CardState,
    conf: &DeckConfig,
    settings: &FsrsSettings,
    input: FsrsInput,
    timing: &Timing,
    ease: Ease,
    taken_ms: i64,
) -> Result<FsrsAnswer, FsrsError> {
    answer_fsrs_balanced(
        card,
        conf,
        settings,
        input,
        timing,
        ease,
        taken_ms,
        None,
        StudiedIn::HomeDeck,
    )
}

/// [`answer_fsrs`] with Anki's load balancer: FSRS intervals are fuzzed (and so balanced)
/// exactly where SM-2's are; in the deck the card is studied in.
#[allow(clippy::too_many_arguments)]
pub fn answer_fsrs_balanced(
    card: &CardState,
    conf: &DeckConfig,
    settings: &FsrsSettings,
    input: FsrsInput,
    timing: &Timing,
    ease: Ease,
    taken_ms: i64,
    balance: Option<&LoadBalance>,
    studied_in: StudiedIn,
) -> Result<FsrsAnswer, FsrsError> {
    let (current, next) = next_states(card, conf, settings, input, timing, balance, studied_in)?;
    let (next, memory) = next.pick(ease);
    let seed = fuzz::seed(card.id, card.reps);
    let secs_until_rollover = timing.secs_until_rollover();

    let mut out = *card;
    out.reps = card.reps.saturating_add(1);
    match next {
        State::New => {
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
            out.factor = (r.ease_factor * 1000.0).round() as i64;
            out.lapses = i64::from(r.lapses);
            out.left = 0;
        }
        State::Relearning { learning, review } => {
            out.ctype = CardType::Relearn;
            out.ivl = i64::from(review.scheduled_days);
            out.left = i64::from(learning.remaining_steps);
            out.lapses = i64::from(review.lapses);
            out.factor = (review.ease_factor * 1000.0).round() as i64;
            place_learning(&mut out, next, timing, Some(seed));
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
        factor: (difficulty_shifted(memory) * 1000.0).round() as i64,
        time_ms: taken_ms.clamp(0, max_ms),
        kind: current.revlog_kind(),
    };
    Ok(FsrsAnswer {
        outcome: AnswerOutcome {
            card: out,
            revlog,
            leeched,
            borrow: studied_in.borrow_after(&out),
        },
        memory,
    })
}

/// What each button would schedule under FSRS (button labels).
pub fn next_intervals_fsrs(
    card: &CardState,
    conf: &DeckConfig,
    settings: &FsrsSettings,
    input: FsrsInput,
    timing: &Timing,
) -> Result<[NextInterval; 4], FsrsError> {
    next_intervals_fsrs_balanced(
        card,
        conf,
        settings,
        input,
        timing,
        None,
        StudiedIn::HomeDeck,
    )
}

/// [`next_intervals_fsrs`] with Anki's load balancer, in the deck the card is studied in.
pub fn next_intervals_fsrs_balanced(
    card: &CardState,
    conf: &DeckConfig,
    settings: &FsrsSettings,
    input: FsrsInput,
    timing: &Timing,
    balance: Option<&LoadBalance>,
    studied_in: StudiedIn,
) -> Result<[NextInterval; 4], FsrsError> {
    let (_, next) = next_states(card, conf, settings, input, timing, balance, studied_in)?;
    let secs_until_rollover = timing.secs_until_rollover();
    Ok(next.all().map(
        |s| match s.interval_kind().maybe_as_days(secs_until_rollover) {
            IntervalKind::Secs(secs) => NextInterval::Seconds(i64::from(secs)),
            IntervalKind::Days(days) => NextInterval::Days(i64::from(days)),
        },
    ))
}

#[cfg(test)]
mod tests;
