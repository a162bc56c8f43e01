//! Learning/relearning steps (Anki's `LearningSteps`). `remaining` is the card's `left` column.

const DAY: u32 = 86_400;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Steps<'a> {
    /// Minutes.
    steps: &'a [f32],
}

/// `as` saturates (negative/NaN → 0), exactly like Anki's `(v * 60.0) as u32`.
fn to_secs(minutes: f32) -> u32 {
    (minutes * 60.0) as u32
}

impl<'a> Steps<'a> {
    pub(crate) fn new(steps: &'a [f32]) -> Self {
        Steps { steps }
    }

    /// `remaining % 1000` strips the legacy "steps left today" thousands; the result is clamped
    /// into bounds because a card may carry a count from an older, longer step list.
    fn index(self, remaining: u32) -> usize {
        let total = self.steps.len();
        total
            .saturating_sub((remaining % 1000) as usize)
            .min(total.saturating_sub(1))
    }

    fn secs_at(self, index: usize) -> Option<u32> {
        self.steps.get(index).copied().map(to_secs)
    }

    pub(crate) fn again_delay(self) -> Option<u32> {
        self.secs_at(0)
    }

    pub(crate) fn hard_delay(self, remaining: u32) -> Option<u32> {
        let idx = self.index(remaining);
        self.secs_at(idx)
            .or_else(|| self.secs_at(0))
            .map(|current| {
                if idx == 0 {
                    self.hard_delay_for_first_step(current)
                } else {
                    current
                }
            })
    }

    /// On the first step Hard must differ from Again: halfway to the next step, or 1.5× the
    /// step (at most one day more) when there is only one.
    fn hard_delay_for_first_step(self, again_secs: u32) -> u32 {
        if let Some(next) = self.secs_at(1) {
            maybe_round_in_days(again_secs.saturating_add(next) / 2)
        } else {
            let secs = (again_secs.saturating_mul(3) / 2).min(again_secs.saturating_add(DAY));
            maybe_round_in_days(secs)
        }
    }

    pub(crate) fn good_delay(self, remaining: u32) -> Option<u32> {
        self.secs_at(self.index(remaining) + 1)
    }

    pub(crate) fn current_delay(self, remaining: u32) -> u32 {
        self.secs_at(self.index(remaining)).unwrap_or_default()
    }

    pub(crate) fn remaining_for_good(self, remaining: u32) -> u32 {
        let idx = self.index(remaining);
        u32::try_from(self.steps.len().saturating_sub(idx + 1)).unwrap_or(u32::MAX)
    }

    pub(crate) fn remaining_for_failed(self) -> u32 {
        u32::try_from(self.steps.len()).unwrap_or(u32::MAX)
    }
}

/// Delays over a day are rounded to whole days so the due time doesn't drift with the hour
/// the card was answered.
fn maybe_round_in_days(secs: u32) -> u32 {
    if secs > DAY {
        ((secs as f32 / DAY as f32).round() as u32).saturating_mul(DAY)
    } else {
        secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        steps: &[f32],
        remaining: u32,
        again: Option<u32>,
        hard: Option<u32>,
        good: Option<u32>,
    ) {
        let s = Steps::new(steps);
        assert_eq!(s.again_delay(), again, "again {steps:?} {remaining}");
        assert_eq!(s.hard_delay(remaining), hard, "hard {steps:?} {remaining}");
        assert_eq!(s.good_delay(remaining), good, "good {steps:?} {remaining}");
    }

    #[test]
    fn delays_match_anki() {
        check(&[10.0], 1, Some(600), Some(900), None);
        check(&[3.0 * 1440.0], 1, Some(3 * DAY), Some(4 * DAY), None);
        check(&[1.0, 10.0], 2, Some(60), Some(330), Some(600));
        check(&[1.0, 10.0], 1, Some(60), Some(600), None);
        check(&[1.0, 10.0, 100.0], 3, Some(60), Some(330), Some(600));
        check(&[1.0, 10.0, 100.0], 2, Some(60), Some(600), Some(6000));
        check(&[1.0, 10.0, 100.0], 1, Some(60), Some(6000), None);
        check(&[], 0, None, None, None);
    }

    #[test]
    fn legacy_thousands_are_ignored() {
        check(&[1.0, 10.0], 1002, Some(60), Some(330), Some(600));
        assert_eq!(Steps::new(&[1.0, 10.0]).remaining_for_good(2002), 1);
    }

    #[test]
    fn out_of_range_remaining_is_clamped() {
        // more remaining than steps → first step; 0 remaining → last step
        check(&[1.0, 10.0], 5, Some(60), Some(330), Some(600));
        check(&[1.0, 10.0], 0, Some(60), Some(600), None);
    }

    #[test]
    fn rounding_days() {
        assert_eq!(maybe_round_in_days(DAY - 1), DAY - 1);
        assert_eq!(maybe_round_in_days((1.5 * DAY as f32) as u32), 2 * DAY);
    }
}
