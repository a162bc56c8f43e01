//! The FSRS values Anki's review orders sort by, computed as its SQL functions
//! `extract_fsrs_retrievability` and `extract_fsrs_relative_retrievability` compute them
//! (`storage/sqlite.rs`), in `f32` and with the same unsigned-second arithmetic.

use fsrs::{FSRS5_DEFAULT_DECAY, MemoryState, current_retrievability};

use super::gather::{DueCard, Plan};
use crate::fsrs::CardData;

/// Anki tells a (re)learning `due` in seconds from a day number by size.
const SECONDS_DUE_THRESHOLD: i64 = 365_000;

fn memory(data: &CardData) -> Option<MemoryState> {
    Some(MemoryState {
        stability: data.stability?,
        difficulty: data.difficulty?,
    })
}

/// Days since the last review as Anki's functions count them, in seconds, from `lrt` when
/// the card has it, else from its due and interval.
fn seconds_elapsed(data: &CardData, card: &DueCard, plan: &Plan) -> u32 {
    let now = plan.now as u32;
    if let Some(lrt) = data.lrt {
        return now.saturating_sub(lrt as u32);
    }
    if card.due > SECONDS_DUE_THRESHOLD {
        let last = (card.due as u32).saturating_sub(card.ivl as u32);
        now.saturating_sub(last)
    } else {
        let review_day = (card.due as u32).saturating_sub(card.ivl as u32);
        (plan.today as u32)
            .saturating_sub(review_day)
            .saturating_mul(86_400)
    }
}

/// `extract_fsrs_retrievability`: NULL (None) without a memory state.
pub(crate) fn retrievability(data: &str, card: &DueCard, plan: &Plan) -> Option<f32> {
    if data.is_empty() {
        return None;
    }
    let data = CardData::parse(data);
    let state = memory(&data)?;
    let secs = seconds_elapsed(&data, card, plan);
    let decay = data.decay.unwrap_or(FSRS5_DEFAULT_DECAY);
    Some(current_retrievability(state, secs as f32 / 86_400.0, decay))
}

/// `extract_fsrs_relative_retrievability`: how far below its desired retention a card has
/// fallen (lower first); without FSRS data, SM-2's relative overdueness.
pub(crate) fn relative_retrievability(data: &str, card: &DueCard, plan: &Plan) -> Option<f32> {
    let fallback_secs = {
        // Anki's fallback ignores `lrt`: due in seconds, else days since the review day.
        let now = plan.now as u32;
        if card.due > SECONDS_DUE_THRESHOLD {
            now.saturating_sub(card.due as u32)
        } else {
            let review_day = card.due.saturating_sub(card.ivl);
            (plan.today as u32)
                .saturating_sub(review_day as u32)
                .saturating_mul(86_400)
        }
    };
    if !data.is_empty() {
        let parsed = CardData::parse(data);
        if let (Some(state), Some(desired)) = (memory(&parsed), parsed.desired_retention) {
            let desired = desired.max(0.0001);
            let decay = parsed.decay.unwrap_or(FSRS5_DEFAULT_DECAY);
            let secs = match parsed.lrt {
                Some(lrt) => (plan.now as u32).saturating_sub(lrt as u32),
                None => fallback_secs,
            };
            let current = current_retrievability(state, secs as f32 / 86_400.0, decay).max(0.0001);
            return Some(-(current.powf(-1.0 / decay) - 1.) / (desired.powf(-1.0 / decay) - 1.));
        }
    }
    let days = fallback_secs / 86_400;
    Some(-((days as f32) + 0.001) / (card.ivl as f32).max(1.0))
}
