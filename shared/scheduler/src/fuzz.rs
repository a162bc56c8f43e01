//! Anki's deterministic fuzz: a ChaCha12 `StdRng` seeded with `card.id + card.reps`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Seed for one answer; `reps` is the count *before* the answer.
pub(crate) fn seed(card_id: i64, reps: i64) -> u64 {
    card_id.wrapping_add(reps) as u64
}

/// The review fuzz factor in `0.0..1.0`.
pub(crate) fn factor(seed: u64) -> f32 {
    StdRng::seed_from_u64(seed).random_range(0.0f32..1.0)
}

/// Adds up to 25% (at most 5 minutes) to a learning delay, from a fresh rng on the same seed.
pub(crate) fn learning_secs(seed: Option<u64>, secs: u32) -> u32 {
    let Some(seed) = seed else { return secs };
    let upper_exclusive = secs.saturating_add((secs as f32 * 0.25).min(300.0).floor() as u32);
    if secs >= upper_exclusive {
        secs
    } else {
        StdRng::seed_from_u64(seed).random_range(secs..upper_exclusive)
    }
}

/// `(fuzz factor, interval)` → days, bounded by `[minimum, maximum]`; no fuzz → plain rounding.
pub(crate) fn review_days(fuzz: Option<f32>, interval: f32, minimum: u32, maximum: u32) -> u32 {
    match fuzz {
        Some(f) => {
            let (lower, upper) = constrained_bounds(interval, minimum, maximum);
            (lower as f32 + f * ((1 + upper - lower) as f32)).floor() as u32
        }
        None => (interval.round() as u32).clamp(minimum.min(maximum), maximum),
    }
}

/// The fuzz range `[lower, upper]` Anki picks from, respecting `minimum` and `maximum`.
pub(crate) fn constrained_bounds(interval: f32, minimum: u32, maximum: u32) -> (u32, u32) {
    let minimum = minimum.min(maximum);
    let interval = interval.clamp(minimum as f32, maximum as f32);
    let delta = delta(interval);
    let lower = ((interval - delta).round() as u32).clamp(minimum, maximum);
    let mut upper = ((interval + delta).round() as u32).clamp(minimum, maximum);
    // Give every interval over 2 days at least two possible values, if the maximum allows.
    if upper == lower && upper > 2 && upper < maximum {
        upper = lower + 1;
    }
    (lower, upper)
}

/// 1 day, plus 15% of the part in 2.5–7 days, 10% of 7–20 and 5% beyond; nothing below 2.5.
fn delta(interval: f32) -> f32 {
    const RANGES: [(f32, f32, f32); 3] =
        [(2.5, 7.0, 0.15), (7.0, 20.0, 0.1), (20.0, f32::MAX, 0.05)];
    if interval < 2.5 {
        0.0
    } else {
        RANGES.iter().fold(1.0, |d, &(start, end, factor)| {
            d + factor * (interval.min(end) - start).max(0.0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lmu(interval: f32, min: u32, max: u32) -> (u32, u32, u32) {
        (
            review_days(Some(0.0), interval, min, max),
            review_days(Some(0.5), interval, min, max),
            review_days(Some(0.99), interval, min, max),
        )
    }

    #[test]
    fn anki_fuzz_table() {
        assert_eq!(review_days(None, 1.5, 1, 100), 2);
        assert_eq!(review_days(None, 0.1, 1, 100), 1);
        assert_eq!(review_days(None, 101.0, 1, 100), 100);
        assert_eq!(lmu(1.0, 1, 1000), (1, 1, 1));
        assert_eq!(lmu(2.49, 1, 1000), (2, 2, 2));
        assert_eq!(lmu(2.5, 1, 1000), (2, 3, 4));
        assert_eq!(lmu(7.0, 1, 1000), (5, 7, 9));
        assert_eq!(lmu(17.0, 1, 1000), (14, 17, 20));
        assert_eq!(lmu(37.0, 1, 1000), (33, 37, 41));
        assert_eq!(lmu(2.0, 2, 1000), (2, 2, 2));
        assert_eq!(lmu(2.0, 3, 1000), (3, 4, 4));
        assert_eq!(lmu(2.0, 3, 3), (3, 3, 3));
        assert_eq!(lmu(6.9, 3, 1000), (5, 7, 9));
        assert_eq!(lmu(19.9, 3, 1000), (17, 20, 23));
        assert_eq!(lmu(20.1, 3, 1000), (17, 20, 23));
        assert_eq!(lmu(100.0, 101, 1000), (101, 105, 108));
        assert_eq!(lmu(100.0, 1, 99), (92, 96, 99));
        assert_eq!(lmu(100.0, 97, 103), (97, 100, 103));
    }

    #[test]
    fn readme_ranges() {
        for (x, lo, hi) in [
            (3.0, 2, 4),
            (4.0, 3, 5),
            (6.0, 4, 8),
            (10.0, 8, 12),
            (50.0, 46, 54),
            (365.0, 345, 385),
        ] {
            assert_eq!(constrained_bounds(x, 1, 36_500), (lo, hi), "{x}");
        }
    }

    #[test]
    fn invalid_bounds_do_not_panic() {
        constrained_bounds(1.0, 3, 2);
        review_days(Some(0.5), f32::NAN, 1, 10);
    }

    #[test]
    fn learning_fuzz_bounds() {
        assert_eq!(learning_secs(None, 600), 600);
        assert_eq!(learning_secs(Some(1), 3), 3); // 25% of 3 floors to 0
        for s in 0..200u64 {
            let v = learning_secs(Some(s), 600);
            assert!((600..750).contains(&v));
            let v = learning_secs(Some(s), 7200);
            assert!((7200..7500).contains(&v));
        }
    }
}
