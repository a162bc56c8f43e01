//! How the main queue interleaves reviews, interday learning and new cards (Anki's
//! `ReviewMix` with its `Intersperser` and `SizedChain`). The main queue is a fixed sequence
//! once built: we compute the sequence of *kinds* from the sizes at build time, and the
//! position reached in it says which kind comes next.

/// A main-queue entry's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Review,
    DayLearn,
    New,
}

/// `newMix` / `interdayLearningMix`, by Anki's enum number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mix {
    Mixed,
    After,
    Before,
}

impl Mix {
    pub(crate) fn from_preset(n: i32) -> Self {
        match n {
            1 => Self::After,
            2 => Self::Before,
            _ => Self::Mixed,
        }
    }
}

/// Anki's `Intersperser`: spread `two` evenly through `one` (ratio of their sizes + 1).
fn intersperse(one: &[Kind], two: &[Kind]) -> Vec<Kind> {
    let ratio = (one.len() + 1) as f32 / (two.len() + 1) as f32;
    let (mut i, mut j) = (0usize, 0usize);
    let mut out = Vec::with_capacity(one.len() + two.len());
    while i < one.len() || j < two.len() {
        let take_two = if i < one.len() && j < two.len() {
            ((j + 1) as f32 * ratio) < (i + 1) as f32
        } else {
            j < two.len()
        };
        if take_two {
            out.push(two[j]);
            j += 1;
        } else {
            out.push(one[i]);
            i += 1;
        }
    }
    out
}

fn merge(reviews: Vec<Kind>, other: Vec<Kind>, mix: Mix) -> Vec<Kind> {
    match mix {
        Mix::Mixed => intersperse(&reviews, &other),
        Mix::After => [reviews, other].concat(),
        Mix::Before => [other, reviews].concat(),
    }
}

/// The main queue's kinds, in order, for `reviews`, `day_learn` and `new` entries.
pub(crate) fn sequence(
    reviews: usize,
    day_learn: usize,
    new: usize,
    day_learn_mix: Mix,
    new_mix: Mix,
) -> Vec<Kind> {
    let due = merge(
        vec![Kind::Review; reviews],
        vec![Kind::DayLearn; day_learn],
        day_learn_mix,
    );
    merge(due, vec![Kind::New; new], new_mix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Kind::{DayLearn as D, New as N, Review as R};

    #[test]
    fn interspersing_matches_ankis() {
        // Anki's own test vectors (intersperser.rs), as kinds.
        assert_eq!(intersperse(&[R, R, R], &[N, N, N]), [R, N, R, N, R, N]);
        assert_eq!(intersperse(&[R, R, R], &[N, N]), [R, N, R, N, R]);
        assert_eq!(
            intersperse(&[R, R, R], &[N; 6]),
            [N, R, N, N, R, N, N, R, N]
        );
        assert_eq!(
            intersperse(&[R, R, R], &[N; 8]),
            [N, N, R, N, N, R, N, N, R, N, N]
        );
        assert_eq!(intersperse(&[R, R, R], &[]), [R, R, R]);
        assert_eq!(intersperse(&[R, R, R], &[N]), [R, R, N, R]);
        // 10 reviews and one new card: the new card after the fifth review.
        let s = sequence(10, 0, 1, Mix::Mixed, Mix::Mixed);
        assert_eq!(s.iter().position(|k| *k == N), Some(5));
    }

    #[test]
    fn chains_put_one_side_first() {
        assert_eq!(sequence(1, 1, 1, Mix::After, Mix::Before), [N, R, D]);
        assert_eq!(sequence(1, 1, 1, Mix::Before, Mix::After), [D, R, N]);
    }
}
