//! The deck list's numbers, as Anki's `deck_tree` computes them (`decks/tree.rs`,
//! `sum_counts_and_apply_limits_v3`): each deck's own due cards, summed up the tree with
//! every subdeck's total capped by that subdeck's limits first, then capped by the deck's
//! own: interday learning and then reviews within the review limit, new cards within the new
//! limit and (unless new cards ignore it) what the reviews leave of the review limit;
//! intraday learning within the learn-ahead limit is never capped. With "apply all parent
//! limits" every deck is also capped by its ancestors' limits.
//!
//! Unlike the study queue this does not leave out buried-in-queue siblings (Anki's doesn't).

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::limits::RemainingLimits;
use super::{DeckInfo, DeckTable};
use crate::Result;
use crate::review::DueCounts;

/// Anki's `due_counts.sql`, over a list of decks (`?1`, a JSON array).
const OWN_COUNTS_SQL: &str = "
SELECT did,
       sum(queue = 0),
       sum(queue = 2 AND due <= ?2),
       sum(queue = 3 AND due <= ?2),
       sum((queue = 1 AND due < ?3) OR (queue = 4 AND due <= ?3))
FROM cards WHERE did IN (SELECT value FROM json_each(?1))
GROUP BY did";

/// One deck's counts before or after capping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct NodeCounts {
    new: u32,
    review: u32,
    intraday: u32,
    interday: u32,
}

impl NodeCounts {
    fn add(&mut self, o: NodeCounts) {
        self.new += o.new;
        self.review += o.review;
        self.intraday += o.intraday;
        self.interday += o.interday;
    }

    fn capped(mut self, limits: &RemainingLimits) -> Self {
        self.interday = self.interday.min(limits.review);
        let mut reviews_left = limits.review.saturating_sub(self.interday);
        self.review = self.review.min(reviews_left);
        self.new = self.new.min(limits.new);
        if limits.cap_new_to_review {
            reviews_left = reviews_left.saturating_sub(self.review);
            self.new = self.new.min(reviews_left);
        }
        self
    }

    fn due_counts(self) -> DueCounts {
        DueCounts {
            new: i64::from(self.new),
            learn: i64::from(self.intraday + self.interday),
            review: i64::from(self.review),
        }
    }
}

fn own_counts(
    conn: &Connection,
    decks: &[i64],
    today: i64,
    learn_cutoff: i64,
) -> Result<HashMap<i64, NodeCounts>> {
    let mut stmt = conn.prepare_cached(OWN_COUNTS_SQL)?;
    let rows = stmt.query_map(
        params![crate::storage::id_array(decks), today, learn_cutoff],
        |r| {
            let n = |i: usize| -> rusqlite::Result<u32> {
                Ok(u32::try_from(r.get::<_, Option<i64>>(i)?.unwrap_or(0)).unwrap_or(u32::MAX))
            };
            Ok((
                r.get::<_, i64>(0)?,
                NodeCounts {
                    new: n(1)?,
                    review: n(2)?,
                    interday: n(3)?,
                    intraday: n(4)?,
                },
            ))
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The deck list's counts of `root` (with its subdecks) at learn-ahead cutoff `learn_cutoff`
/// (now + `collapseTime`).
pub(crate) fn deck_due_counts(
    conn: &Connection,
    table: &DeckTable,
    root: &DeckInfo,
    learn_cutoff: i64,
) -> Result<DueCounts> {
    let ids: Vec<i64> = table.subtree(root).map(|d| d.id).collect();
    let own = own_counts(conn, &ids, table.today, learn_cutoff)?;
    Ok(capped_counts(table, root, &own))
}

/// [`deck_due_counts`] of every deck of the table at once: the cards are counted in one query
/// and the tree is summed per deck from those counts (the deck list asked for each deck in
/// turn, so every deck rebuilt the table and counted its whole subtree again).
pub(crate) fn all_due_counts(
    conn: &Connection,
    table: &DeckTable,
    learn_cutoff: i64,
) -> Result<HashMap<i64, DueCounts>> {
    let ids: Vec<i64> = table.decks.iter().map(|d| d.id).collect();
    let own = own_counts(conn, &ids, table.today, learn_cutoff)?;
    Ok(table
        .decks
        .iter()
        .map(|d| (d.id, capped_counts(table, d, &own)))
        .collect())
}

/// `root`'s counts from every deck's own counts: summed up its subtree with Anki's caps.
fn capped_counts(table: &DeckTable, root: &DeckInfo, own: &HashMap<i64, NodeCounts>) -> DueCounts {
    let subtree: Vec<&DeckInfo> = table.subtree(root).collect();
    // With "apply all parent limits", the ancestors' limits reach down (Anki starts from an
    // unlimited root above the top-level decks).
    let parent_limits = table.apply_all_parent_limits.then(|| {
        table
            .ancestors(root)
            .iter()
            .fold(RemainingLimits::default(), |mut acc, a| {
                let mut l = table.remaining(a);
                l.cap_to(acc);
                acc = l;
                acc
            })
    });
    let mut next = 0;
    sum_and_cap(&subtree, &mut next, table, own, parent_limits).due_counts()
}

/// Anki's recursion over the deck at `decks[*next]` and the decks below it (which follow it in
/// name order), returning its capped counts and leaving `*next` after its subtree.
fn sum_and_cap(
    decks: &[&DeckInfo],
    next: &mut usize,
    table: &DeckTable,
    own: &HashMap<i64, NodeCounts>,
    mut parent_limits: Option<RemainingLimits>,
) -> NodeCounts {
    let deck = decks[*next];
    *next += 1;
    let mut remaining = table.remaining(deck);
    if let Some(p) = parent_limits {
        remaining.cap_to(p);
        parent_limits = Some(remaining);
    }
    let mut total = own.get(&deck.id).copied().unwrap_or_default();
    while *next < decks.len() && decks[*next].level > deck.level {
        if decks[*next].level == deck.level + 1 {
            total.add(sum_and_cap(decks, next, table, own, parent_limits));
        } else {
            // A deck whose parent is missing: not in Anki's tree.
            *next += 1;
        }
    }
    total.capped(&remaining)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capping_takes_interday_learning_first_then_reviews_then_new() {
        let c = NodeCounts {
            new: 10,
            review: 10,
            intraday: 4,
            interday: 3,
        };
        let limits = RemainingLimits {
            review: 8,
            new: 9,
            cap_new_to_review: true,
        };
        let capped = c.capped(&limits);
        assert_eq!(
            capped,
            NodeCounts {
                new: 0,
                review: 5,
                intraday: 4,
                interday: 3
            }
        );
        let free = c.capped(&RemainingLimits {
            cap_new_to_review: false,
            ..limits
        });
        assert_eq!((free.new, free.review), (9, 5));
    }
}
