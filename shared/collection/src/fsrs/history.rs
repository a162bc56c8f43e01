//! Review history → FSRS items, as rslib `scheduler/fsrs/params.rs` (`reviews_for_fsrs`,
//! `fsrs_items_for_training`) and `memory_state.rs` (`fsrs_item_for_memory_state`) build them.

use fsrs::{FSRS, FSRSItem, FSRSReview, MemoryState};

/// The revlog columns the FSRS history needs, raw as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Review {
    pub id: i64,
    pub cid: i64,
    /// `revlog.ease`: 0 for manual entries, else the button.
    pub button: i64,
    pub ivl: i64,
    pub last_ivl: i64,
    pub factor: i64,
    pub kind: i64,
}

const LEARNING: i64 = 0;
const FILTERED: i64 = 3;
const MANUAL: i64 = 4;

impl Review {
    fn is_reset(&self) -> bool {
        self.kind == MANUAL && self.factor == 0
    }
    fn is_cramming(&self) -> bool {
        self.kind == FILTERED && self.factor == 0
    }
    fn has_rating(&self) -> bool {
        self.button > 0
    }
    fn has_rating_and_affects_scheduling(&self) -> bool {
        self.has_rating() && !self.is_cramming()
    }
    /// Whole days from the review to the next rollover.
    fn days_elapsed(&self, next_day_at: i64) -> u32 {
        u32::try_from(((next_day_at - self.id.div_euclid(1000)) / 86_400).max(0)).unwrap_or(0)
    }
}

pub struct ReviewsForFsrs {
    pub filtered: Vec<Review>,
    /// `(revlog id, item)`: one item per review (training) or one for the whole history.
    pub items: Vec<(i64, FSRSItem)>,
    /// The history starts at a learning step, so the memory state needs no SM-2 seed.
    pub complete: bool,
}

/// One card's revlog (ascending ids) → FSRS history. `None`: nothing usable.
pub fn reviews_for_fsrs(
    mut entries: Vec<Review>,
    next_day_at: i64,
    training: bool,
    ignore_before_ms: i64,
) -> Option<ReviewsForFsrs> {
    let mut first_of_last_learn = None;
    let mut first_user_grade = None;
    let mut complete = false;
    for (index, entry) in entries.iter().enumerate().rev() {
        if entry.is_cramming() {
            continue;
        }
        let within_cutoff = entry.id > ignore_before_ms;
        let user_graded = entry.has_rating();
        let interday = entry.ivl >= 1 || entry.ivl <= -86_400;
        if user_graded && within_cutoff && interday {
            first_user_grade = Some(index);
        }
        if user_graded && entry.kind == LEARNING {
            first_of_last_learn = Some(index);
            complete = true;
        } else if entry.is_reset() {
            if first_of_last_learn.is_some() {
                complete = true;
                break;
            } else if first_user_grade.is_some() {
                complete = false;
                break;
            } else {
                return None;
            }
        } else if first_of_last_learn.is_some() {
            break;
        }
    }
    if training {
        if let Some(idx) = first_of_last_learn
            && entries[idx].id < ignore_before_ms
        {
            return None;
        }
    } else if let Some(idx) = first_of_last_learn
        && entries[idx].id < ignore_before_ms
        && idx < entries.len() - 1
    {
        complete = false;
        first_of_last_learn = None;
    }
    if let Some(idx) = first_of_last_learn {
        entries.drain(..idx);
    } else if training {
        return None;
    } else {
        let idx = first_user_grade?;
        entries.drain(..idx);
    }
    entries.retain(Review::has_rating_and_affects_scheduling);

    let delta_ts: Vec<u32> = std::iter::once(0)
        .chain(entries.windows(2).map(|w| {
            w[0].days_elapsed(next_day_at)
                .wrapping_sub(w[1].days_elapsed(next_day_at))
        }))
        .collect();
    let review = |e: &Review, delta_t: u32| FSRSReview {
        rating: u32::try_from(e.button).unwrap_or(0),
        delta_t,
    };
    let items = if training {
        let mut items = Vec::with_capacity(entries.len());
        let mut so_far = Vec::with_capacity(entries.len());
        for (idx, (e, &dt)) in entries.iter().zip(&delta_ts).enumerate() {
            so_far.push(review(e, dt));
            if idx >= 1 && dt > 0 {
                items.push((
                    e.id,
                    FSRSItem {
                        reviews: so_far.clone(),
                    },
                ));
            }
        }
        items
    } else {
        let reviews = entries
            .iter()
            .zip(&delta_ts)
            .map(|(e, &dt)| review(e, dt))
            .collect();
        entries
            .last()
            .map(|last| vec![(last.id, FSRSItem { reviews })])
            .unwrap_or_default()
    };
    (!items.is_empty()).then_some(ReviewsForFsrs {
        filtered: entries,
        items,
        complete,
    })
}

/// One card's history for its memory state, with an SM-2-derived starting state when the
/// history was truncated.
pub struct ItemForMemoryState {
    pub item: FSRSItem,
    pub starting_state: Option<MemoryState>,
}

pub fn item_for_memory_state(
    fsrs: &FSRS,
    entries: Vec<Review>,
    next_day_at: i64,
    historical_retention: f32,
    ignore_before_ms: i64,
) -> Result<Option<ItemForMemoryState>, fsrs::FSRSError> {
    let Some(mut out) = reviews_for_fsrs(entries, next_day_at, false, ignore_before_ms) else {
        return Ok(None);
    };
    let Some((_, mut item)) = out.items.pop() else {
        return Ok(None);
    };
    if out.complete {
        return Ok(Some(ItemForMemoryState {
            item,
            starting_state: None,
        }));
    }
    let Some(first) = out.filtered.first() else {
        return Ok(None);
    };
    let interval = first.ivl.max(1) as f32;
    let ease_factor = if first.factor == 0 {
        2500
    } else {
        first.factor
    } as f32
        / 1000.0;
    let mut starting_state =
        fsrs.memory_state_from_sm2(ease_factor, interval, historical_retention)?;
    // A factor this low was written by FSRS: it is the shifted difficulty.
    if ease_factor <= 1.1 {
        starting_state.difficulty = (ease_factor - 0.1) * 9.0 + 1.0;
    }
    item.reviews.remove(0);
    Ok(Some(ItemForMemoryState {
        item,
        starting_state: Some(starting_state),
    }))
}

/// Training items of many cards (revlog in card order), sorted by revlog id, with their card
/// ids; and the number of reviews they came from.
pub fn items_for_training(
    revlog: Vec<Review>,
    next_day_at: i64,
    ignore_before_ms: i64,
) -> (Vec<FSRSItem>, Vec<i64>, usize) {
    let mut review_count = 0;
    let mut rows: Vec<(i64, i64, FSRSItem)> = Vec::new();
    for group in revlog.chunk_by(|a, b| a.cid == b.cid) {
        if let Some(r) = reviews_for_fsrs(group.to_vec(), next_day_at, true, ignore_before_ms) {
            review_count += r.filtered.len();
            let cid = group[0].cid;
            rows.extend(r.items.into_iter().map(|(id, item)| (id, cid, item)));
        }
    }
    rows.sort_by_key(|(id, _, _)| *id);
    let (cids, items) = rows.into_iter().map(|(_, cid, item)| (cid, item)).unzip();
    (items, cids, review_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 86_400_000;

    fn r(day: i64, button: i64, kind: i64, ivl: i64) -> Review {
        Review {
            id: day * DAY_MS + 1000,
            cid: 1,
            button,
            ivl,
            last_ivl: 0,
            factor: 2500,
            kind,
        }
    }

    #[test]
    fn history_starts_at_the_last_learning_group() {
        let next_day_at = 10 * 86_400;
        let revs = vec![
            r(0, 3, 0, -600),
            r(0, 3, 0, 1),
            r(1, 3, 1, 3),
            r(4, 1, 1, 1),
        ];
        let out = reviews_for_fsrs(revs.clone(), next_day_at, false, 0).unwrap();
        assert!(out.complete);
        let item = &out.items[0].1;
        let dts: Vec<u32> = item.reviews.iter().map(|r| r.delta_t).collect();
        assert_eq!(dts, vec![0, 0, 1, 3]);
        // Training: one item per review after a day's gap.
        let out = reviews_for_fsrs(revs, next_day_at, true, 0).unwrap();
        assert_eq!(out.items.len(), 2);
    }

    #[test]
    fn review_only_history_is_incomplete_and_skipped_for_training() {
        let revs = vec![r(0, 3, 1, 5), r(5, 3, 1, 12)];
        assert!(reviews_for_fsrs(revs.clone(), 20 * 86_400, true, 0).is_none());
        let out = reviews_for_fsrs(revs, 20 * 86_400, false, 0).unwrap();
        assert!(!out.complete);
    }

    #[test]
    fn a_reset_without_later_grades_drops_the_card() {
        let mut reset = r(2, 0, 4, 0);
        reset.factor = 0;
        assert!(reviews_for_fsrs(vec![r(0, 3, 0, 1), reset], 86_400 * 5, false, 0).is_none());
    }
}
