//! Anki 26.9's load balancer (rslib `scheduler/states/load_balancer.rs`), on by default
//! (`col.conf` `loadBalancerEnabled`, true when missing).
//!
//! When the study queue is built, Anki counts, per preset, the cards whose `due` is a day
//! number from today to today + 98 — any card of a deck on that preset, whatever its queue
//! (a new card whose *position* falls in that range counts too) — and adds every card an
//! answer leaves in the review queue at its new interval. Each fuzzed review interval is then
//! not taken from the fuzz factor but drawn from the same fuzz range with weights:
//! a day without cards weighs 1, any other `(1/count)^2.15 × (1/days)^3 × sibling × easy day`,
//! where `sibling` lowers days near a day holding a card of the same note (only when the
//! preset buries review siblings) and `easy day` is the preset's "easy days" percentage of that
//! weekday. The draw is a `WeightedIndex` sample from a ChaCha12 `StdRng` seeded like the fuzz
//! (`card id + reps`). No balancing (plain fuzz) for intervals or minimums over 90 days, or for
//! a preset with no card in the range when the queue was built.
//!
//! The collection gathers the counts ([`LoadBalance`]); this module only picks the day.

use rand::SeedableRng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;

use crate::fuzz;

/// Days counted from today (Anki's `LOAD_BALANCE_DAYS`: 90 × 1.1).
pub const LOAD_BALANCE_DAYS: usize = 99;
/// Longer intervals (or minimums) are not balanced.
const MAX_BALANCED_INTERVAL: usize = 90;
/// Sibling weights for days −5 … +5 around a day holding a card of the same note.
const SIBLING_STEPS: [i64; 11] = [-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5];
const SIBLING_WEIGHTS: [f32; 11] = [1.0, 0.8, 0.6, 0.4, 0.2, 0.000_001, 0.2, 0.4, 0.6, 0.8, 1.0];

/// What the balancer knows when one card is answered.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadBalance {
    /// Cards of the answered card's preset due on each day from today (index 0 = today),
    /// [`LOAD_BALANCE_DAYS`] entries.
    pub counts: Vec<u32>,
    /// Days from today holding a card of the same note (in any preset); only when the preset
    /// buries review siblings, else empty.
    pub sibling_days: Vec<usize>,
    /// The preset's easy-day percentages, Monday first (1.0 everywhere: no easy days).
    pub easy_days: [f32; 7],
    /// For each day from today, its weekday (0 = Monday) in the student's time zone, taken at
    /// the rollover starting it; only read when some easy day is not 1.0.
    pub weekdays: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum EasyDay {
    Minimum,
    Reduced,
    Normal,
}

impl EasyDay {
    fn from_percentage(p: f32) -> Self {
        if p == 1.0 {
            Self::Normal
        } else if p == 0.0 {
            Self::Minimum
        } else {
            Self::Reduced
        }
    }

    /// Never 0, so that a range of minimum days still balances.
    fn load_modifier(self) -> f32 {
        match self {
            Self::Minimum => 0.0001,
            Self::Reduced => 0.5,
            Self::Normal => 1.0,
        }
    }
}

impl LoadBalance {
    /// Whether any weekday is an easy day (then [`Self::weekdays`] is needed).
    pub fn has_easy_days(&self) -> bool {
        self.easy_days.iter().any(|&p| p != 1.0)
    }

    /// The day Anki's balancer picks for `interval` within the fuzz range bounded by
    /// `[minimum, maximum]`, or `None` when it does not balance (plain fuzz then).
    pub(crate) fn pick(&self, interval: f32, minimum: u32, maximum: u32, seed: u64) -> Option<u32> {
        if interval as usize > MAX_BALANCED_INTERVAL || minimum as usize > MAX_BALANCED_INTERVAL {
            return None;
        }
        let (lower, upper) = fuzz::constrained_bounds(interval, minimum, maximum);
        let (lower, upper) = (lower as usize, upper as usize);
        let counts = self.counts.get(lower..=upper)?;
        let easy = self.easy_day_modifiers(lower, counts);
        let sibling = self.sibling_modifiers(lower, upper);
        let weights: Vec<f32> = counts
            .iter()
            .enumerate()
            .map(|(i, &count)| {
                if count == 0 {
                    return 1.0;
                }
                let days = (lower + i) as f32;
                let count_weight = (1.0 / count as f32).powf(2.15);
                let interval_weight = (1.0 / days).powi(3);
                count_weight * interval_weight * sibling[i] * easy[i]
            })
            .collect();
        let mut rng = StdRng::seed_from_u64(seed);
        let index = WeightedIndex::new(weights.iter().copied()).ok()?;
        Some((lower + index.sample(&mut rng)) as u32)
    }

    /// Anki's `calculate_easy_days_modifiers`: a "reduced" day stays available only while its
    /// share of the range's cards is below half the average of the other days.
    fn easy_day_modifiers(&self, lower: usize, counts: &[u32]) -> Vec<f32> {
        if !self.has_easy_days() {
            return vec![1.0; counts.len()];
        }
        let days: Vec<EasyDay> = (lower..lower + counts.len())
            .map(|d| {
                let weekday = self.weekdays.get(d).copied().unwrap_or(0);
                EasyDay::from_percentage(self.easy_days[usize::from(weekday) % 7])
            })
            .collect();
        let total_count: u32 = counts.iter().sum();
        let total_percents: f32 = days.iter().map(|d| d.load_modifier()).sum();
        days.iter()
            .zip(counts)
            .map(|(&day, &count)| {
                let day = match day {
                    EasyDay::Reduced => {
                        const HALF: f32 = 0.5;
                        let other_days_count = (total_count - count) as f32;
                        let other_days_percents = total_percents - HALF;
                        let normalized = count as f32 / HALF;
                        if normalized > other_days_count / other_days_percents {
                            EasyDay::Minimum
                        } else {
                            EasyDay::Normal
                        }
                    }
                    other => other,
                };
                day.load_modifier()
            })
            .collect()
    }

    /// Anki's `calculate_sibling_modifiers` over `[lower, upper]`.
    fn sibling_modifiers(&self, lower: usize, upper: usize) -> Vec<f32> {
        let mut modifiers = vec![1.0f32; upper - lower + 1];
        for &day in &self.sibling_days {
            for (step, weight) in SIBLING_STEPS.iter().zip(SIBLING_WEIGHTS) {
                let target = day as i64 + step - lower as i64;
                if let Some(m) = usize::try_from(target)
                    .ok()
                    .and_then(|t| modifiers.get_mut(t))
                {
                    *m *= weight;
                }
            }
        }
        modifiers
    }
}

/// Anki's `with_review_fuzz` with the balancer in its context: the balancer's day when it
/// picks one, else the fuzz factor's.
pub(crate) fn review_days(
    fuzz_factor: Option<f32>,
    balance: Option<(&LoadBalance, u64)>,
    interval: f32,
    minimum: u32,
    maximum: u32,
) -> u32 {
    if fuzz_factor.is_some()
        && let Some((lb, seed)) = balance
        && let Some(days) = lb.pick(interval, minimum, maximum, seed)
    {
        return days;
    }
    fuzz::review_days(fuzz_factor, interval, minimum, maximum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(counts: &[(usize, u32)]) -> LoadBalance {
        let mut c = vec![0; LOAD_BALANCE_DAYS];
        for &(d, n) in counts {
            c[d] = n;
        }
        LoadBalance {
            counts: c,
            sibling_days: Vec::new(),
            easy_days: [1.0; 7],
            weekdays: (0..LOAD_BALANCE_DAYS).map(|d| (d % 7) as u8).collect(),
        }
    }

    #[test]
    fn picks_within_the_fuzz_range_and_prefers_empty_days() {
        // 10 days: range 8..=12. Only day 11 is empty: it weighs 1, the others ~1e-6.
        let b = lb(&[(8, 5), (9, 5), (10, 5), (12, 5)]);
        for seed in 0..200 {
            assert_eq!(b.pick(10.0, 1, 36_500, seed), Some(11));
        }
        // An empty range is uniform but still within the bounds.
        let b = lb(&[]);
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..500 {
            let d = b.pick(10.0, 1, 36_500, seed).unwrap();
            assert!((8..=12).contains(&d));
            seen.insert(d);
        }
        assert_eq!(seen.len(), 5);
    }

    #[test]
    fn long_intervals_are_not_balanced() {
        let b = lb(&[]);
        assert_eq!(b.pick(91.0, 1, 36_500, 1), None);
        assert_eq!(b.pick(30.0, 91, 36_500, 1), None);
        assert!(b.pick(90.9, 1, 36_500, 1).is_some());
        // Without a balancer (or without fuzz) the fuzz factor decides.
        assert_eq!(
            review_days(Some(0.0), None, 10.0, 1, 36_500),
            fuzz::review_days(Some(0.0), 10.0, 1, 36_500)
        );
        assert_eq!(review_days(None, Some((&b, 1)), 10.4, 1, 36_500), 10);
    }

    #[test]
    fn siblings_and_easy_days_push_cards_away() {
        // Every day busy alike; a sibling on day 10 makes 9..=11 unlikely.
        let busy: Vec<(usize, u32)> = (0..LOAD_BALANCE_DAYS).map(|d| (d, 3)).collect();
        let mut b = lb(&busy);
        b.sibling_days = vec![10];
        let mut hits = 0;
        for seed in 0..1000 {
            if b.pick(10.0, 1, 36_500, seed) == Some(10) {
                hits += 1;
            }
        }
        assert_eq!(hits, 0);
        // Weekday 3 (days 3, 10, 17, ...) is a minimum day.
        let mut b = lb(&busy);
        b.easy_days[3] = 0.0;
        assert!((0..1000).all(|seed| b.pick(10.0, 1, 36_500, seed) != Some(10)));
    }
}
