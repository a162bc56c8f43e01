//! Daily limits over the deck tree, as Anki's `decks/limits.rs` keeps them: every deck's
//! remaining limits ([`RemainingLimits`]) and, for building a queue, a tree of them in which a
//! card taken from a deck uses up that deck's limit and every ancestor's ([`LimitTree`]).

use std::collections::HashMap;

use crate::presets::{DeckLimits, Preset};

/// Which of the two daily limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitKind {
    Review,
    New,
}

/// What is left of one deck's limits today (never negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RemainingLimits {
    pub review: u32,
    pub new: u32,
    /// New cards also count against the review limit (unless `newCardsIgnoreReviewLimit`).
    pub cap_new_to_review: bool,
}

impl Default for RemainingLimits {
    /// Anki's limits for a deck without a preset (a filtered deck): effectively none.
    fn default() -> Self {
        Self {
            review: 9999,
            new: 9999,
            cap_new_to_review: false,
        }
    }
}

/// What a deck (with its subdecks) studied today: Anki's `newToday` / `revToday` counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Studied {
    pub new: i64,
    pub review: i64,
}

impl RemainingLimits {
    /// Anki's v3 `RemainingLimits::new`: the deck's "today only" limit, else its "this deck"
    /// limit, else its preset's, less what was studied today; new cards then also count
    /// against the review limit and may not exceed what it leaves.
    pub(crate) fn new(
        own: &DeckLimits,
        preset: &Preset,
        studied: Studied,
        today: i64,
        new_cards_ignore_review_limit: bool,
    ) -> Self {
        let today = u32::try_from(today).ok();
        let pick = |today_only: Option<crate::presets::TodayLimit>,
                    this_deck: Option<u32>,
                    preset: u32| {
            i64::from(
                today_only
                    .filter(|t| Some(t.today) == today)
                    .map(|t| t.limit)
                    .or(this_deck)
                    .unwrap_or(preset),
            )
        };
        let mut review = pick(
            own.review_limit_today,
            own.review_limit,
            preset.reviews_per_day,
        );
        let mut new = pick(own.new_limit_today, own.new_limit, preset.new_per_day);
        review -= studied.review;
        new -= studied.new;
        if !new_cards_ignore_review_limit {
            review -= studied.new;
            new = new.min(review);
        }
        let clamp = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
        Self {
            review: clamp(review),
            new: clamp(new),
            cap_new_to_review: !new_cards_ignore_review_limit,
        }
    }

    pub(crate) fn get(&self, kind: LimitKind) -> u32 {
        match kind {
            LimitKind::Review => self.review,
            LimitKind::New => self.new,
        }
    }

    pub(crate) fn cap_to(&mut self, other: RemainingLimits) {
        self.review = self.review.min(other.review);
        self.new = self.new.min(other.new);
    }

    /// Use one up; true when a limit reached zero by it (Anki then caps the subtree).
    fn decrement(&mut self, kind: LimitKind) -> bool {
        let before = *self;
        match kind {
            LimitKind::Review => {
                self.review = self.review.saturating_sub(1);
                if self.cap_new_to_review {
                    self.new = self.new.min(self.review);
                }
            }
            LimitKind::New => self.new = self.new.saturating_sub(1),
        }
        (before.review > 0 && self.review == 0) || (before.new > 0 && self.new == 0)
    }
}

/// One deck of a [`LimitTree`].
#[derive(Debug, Clone)]
struct Node {
    parent: Option<usize>,
    children: Vec<usize>,
    limits: RemainingLimits,
}

/// The remaining limits of the decks a queue is built from, as a tree (Anki's `LimitTreeMap`):
/// a deck starts capped by its parent, taking a card uses up the deck's limit and its
/// ancestors', and a limit that reaches zero caps the whole subtree below it.
#[derive(Debug, Clone)]
pub(crate) struct LimitTree {
    nodes: Vec<Node>,
    index: HashMap<i64, usize>,
}

impl LimitTree {
    /// `decks`: (id, depth in `::` levels, limits), sorted by name so that every deck follows
    /// its parent (depth-first). The first is the root. A deck whose parent is missing is left
    /// out, as Anki leaves it out until a database check repairs the tree.
    pub(crate) fn build(decks: &[(i64, usize, RemainingLimits)]) -> Self {
        let mut tree = Self {
            nodes: Vec::with_capacity(decks.len()),
            index: HashMap::with_capacity(decks.len()),
        };
        let Some(&(root_id, root_level, root_limits)) = decks.first() else {
            return tree;
        };
        tree.push(root_id, None, root_limits);
        // The chain of open ancestors: (node, level).
        let mut stack = vec![(0usize, root_level)];
        for &(id, level, limits) in &decks[1..] {
            while stack.last().is_some_and(|&(_, l)| l >= level) {
                stack.pop();
            }
            match stack.last() {
                Some(&(parent, l)) if l + 1 == level => {
                    let mut limits = limits;
                    limits.cap_to(tree.nodes[parent].limits);
                    let node = tree.push(id, Some(parent), limits);
                    stack.push((node, level));
                }
                // Missing intermediate parent (or a second root): skipped, as in Anki.
                _ => {}
            }
        }
        tree
    }

    fn push(&mut self, id: i64, parent: Option<usize>, limits: RemainingLimits) -> usize {
        let node = self.nodes.len();
        self.nodes.push(Node {
            parent,
            children: Vec::new(),
            limits,
        });
        if let Some(p) = parent {
            self.nodes[p].children.push(node);
        }
        self.index.insert(id, node);
        node
    }

    pub(crate) fn root_limit_reached(&self, kind: LimitKind) -> bool {
        self.nodes.first().is_none_or(|n| n.limits.get(kind) == 0)
    }

    /// A deck outside the tree counts as exhausted (Anki refuses to build such a queue).
    pub(crate) fn limit_reached(&self, deck_id: i64, kind: LimitKind) -> bool {
        self.index
            .get(&deck_id)
            .is_none_or(|&n| self.nodes[n].limits.get(kind) == 0)
    }

    pub(crate) fn decrement(&mut self, deck_id: i64, kind: LimitKind) {
        let mut at = self.index.get(&deck_id).copied();
        while let Some(n) = at {
            if self.nodes[n].limits.decrement(kind) {
                let limits = self.nodes[n].limits;
                self.cap_subtree(n, limits);
            }
            at = self.nodes[n].parent;
        }
    }

    fn cap_subtree(&mut self, node: usize, limits: RemainingLimits) {
        let mut todo = vec![node];
        while let Some(n) = todo.pop() {
            self.nodes[n].limits.cap_to(limits);
            todo.extend(self.nodes[n].children.iter().copied());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(review: u32, new: u32) -> RemainingLimits {
        RemainingLimits {
            review,
            new,
            cap_new_to_review: true,
        }
    }

    #[test]
    fn remaining_limits_follow_ankis_v3_rules() {
        let preset = Preset {
            new_per_day: 20,
            reviews_per_day: 50,
            ..Preset::default()
        };
        let none = DeckLimits::default();
        let studied = Studied { new: 5, review: 40 };
        // 50 - 40 reviews - 5 new = 5 left; new = min(20 - 5, 5).
        assert_eq!(
            RemainingLimits::new(&none, &preset, studied, 3, false),
            lim(5, 5)
        );
        let ignore = RemainingLimits::new(&none, &preset, studied, 3, true);
        assert_eq!((ignore.review, ignore.new), (10, 15));
        // "Today only" wins on its day, then "this deck", then the preset.
        let own = DeckLimits {
            review_limit: Some(100),
            new_limit: Some(2),
            review_limit_today: Some(crate::presets::TodayLimit {
                limit: 1000,
                today: 3,
            }),
            new_limit_today: None,
        };
        assert_eq!(
            RemainingLimits::new(&own, &preset, Studied::default(), 3, false),
            lim(1000, 2)
        );
        assert_eq!(
            RemainingLimits::new(&own, &preset, Studied::default(), 4, false),
            lim(100, 2)
        );
        let over = Studied { new: 0, review: 99 };
        assert_eq!(
            RemainingLimits::new(&none, &preset, over, 4, false),
            lim(0, 0)
        );
    }

    #[test]
    fn tree_caps_children_and_uses_up_ancestors() {
        // P (3 reviews) with children A (5) and B (1), A::X (9).
        let mut t = LimitTree::build(&[
            (1, 1, lim(3, 9)),
            (2, 2, lim(5, 9)),
            (3, 3, lim(9, 9)),
            (4, 2, lim(1, 9)),
        ]);
        assert!(!t.limit_reached(3, LimitKind::Review));
        t.decrement(4, LimitKind::Review);
        assert!(t.limit_reached(4, LimitKind::Review));
        t.decrement(3, LimitKind::Review);
        t.decrement(2, LimitKind::Review);
        // The parent ran out: every deck below it is capped.
        assert!(t.root_limit_reached(LimitKind::Review));
        assert!(t.limit_reached(3, LimitKind::Review));
        // cap_new_to_review: no review left means no new cards either.
        assert!(t.limit_reached(2, LimitKind::New));
        assert!(t.limit_reached(99, LimitKind::New), "unknown deck");
    }

    #[test]
    fn a_deck_without_its_parent_is_left_out() {
        let t = LimitTree::build(&[(1, 1, lim(3, 3)), (5, 3, lim(3, 3)), (6, 2, lim(3, 3))]);
        assert!(t.limit_reached(5, LimitKind::New));
        assert!(!t.limit_reached(6, LimitKind::New));
    }
}
