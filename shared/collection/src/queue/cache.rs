//! The gathered queue and the load balancer's day counts, kept in memory between the requests
//! of one study session on one container.
//!
//! Gathering is the cost of a study request (on 10,000 cards ~1 ms of index scans and row
//! reads per request; the balancer's grouped query about as much again), yet between two
//! answers the collection changes in exactly one known way. Anki keeps its queue in memory and
//! pops it; requests here are stateless and any container may serve the next one, so what is
//! kept is only ever a copy of what gathering again would give, used while nothing but our own
//! answers changed the file:
//!
//! - [`Stamp`]: the connection's count of changed rows (`sqlite3_total_changes`, which moves
//!   on every insert, update or delete, including a replayed changeset), its count of rolled
//!   back transactions (a rollback hook: a rolled-back answer must not leave its update here)
//!   and `col.mod`. Any write we did not account for changes the stamp and the next request
//!   gathers again.
//! - After an answer ([`Collection::queue_cache_after_answer`]) the copy is updated the way
//!   gathering again would see it: the card leaves its list, or moves within the intraday
//!   learning list; the limits it used are the ones its answer now counts as studied. Only
//!   where that is provably all that changed: the card was in the gathered lists and its note
//!   has no other card in a queue (a sibling could be buried by the answer, or have been left
//!   out of the gather because of this card). Otherwise the copy is dropped.
//!
//! Debug builds (every test) gather again on each hit and assert equality, so every refereed
//! study session in the test suites also checks this cache step by step.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::OptionalExtension;

use super::gather::{Gathered, LearnEntry};
use super::mix::Mix;
use super::session::Session;
use crate::storage::cards::Card;
use crate::{Collection, Result};

/// What the collection looked like when the copy was last known right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    changes: u64,
    rollbacks: u64,
    col_mod: i64,
}

/// Counts the connection's rolled-back transactions (its rollback hook adds one).
#[derive(Debug, Clone, Default)]
pub(crate) struct RollbackCounter(Arc<AtomicU64>);

impl RollbackCounter {
    pub(crate) fn hook(&self) -> impl FnMut() + Send + 'static {
        let n = Arc::clone(&self.0);
        move || {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Transactions rolled back so far.
    pub(crate) fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn stamp(&self, changes: u64, col_mod: i64) -> Stamp {
        Stamp {
            changes,
            rollbacks: self.0.load(Ordering::Relaxed),
            col_mod,
        }
    }
}

/// What the queue of one deck was gathered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueKey {
    pub deck: i64,
    pub day: i64,
    pub next_day_at: i64,
    /// Set when the review order reads the current second (FSRS retrievability): such a
    /// queue is only reused within the same second.
    pub now: Option<i64>,
}

impl QueueKey {
    fn matches(self, now: QueueKey) -> bool {
        self.deck == now.deck
            && self.day == now.day
            && self.next_day_at == now.next_day_at
            && self.now.is_none_or(|t| Some(t) == now.now)
    }
}

/// A gathered queue and what was read with it.
#[derive(Debug, Clone)]
pub(crate) struct CachedQueue {
    pub key: QueueKey,
    /// As gathered (before the session's requeues are applied).
    pub gathered: Gathered,
    pub mixes: (Mix, Mix),
    /// The selected deck and its subdecks.
    pub active: Vec<i64>,
    /// The balancer's day counts per preset, as read with the session's answered cards left
    /// out.
    pub balance: HashMap<i64, DayCounts>,
}

/// One preset's balancer counts.
#[derive(Debug, Clone)]
pub(crate) struct DayCounts {
    /// How many answered cards the session had (left out of `counts`).
    pub answered: usize,
    /// The preset's decks.
    pub decks: Vec<i64>,
    pub counts: Vec<u32>,
}

/// The collection's copy, valid at `stamp`.
#[derive(Debug, Default)]
pub(crate) struct QueueCache {
    pub entry: Option<(Stamp, CachedQueue)>,
    /// No rollback hook: nothing is kept.
    pub disabled: bool,
}

impl QueueCache {
    /// The copy, if nothing changed since and it is for this queue (`key.now`: the current
    /// second).
    pub(crate) fn get(&self, stamp: Stamp, key: QueueKey) -> Option<&CachedQueue> {
        match &self.entry {
            Some((s, q)) if *s == stamp && q.key.matches(key) => Some(q),
            _ => None,
        }
    }

    /// The copy at `stamp` whatever its queue (the balancer's counts are per preset).
    pub(crate) fn at(&mut self, stamp: Stamp) -> Option<&mut CachedQueue> {
        match &mut self.entry {
            Some((s, q)) if *s == stamp => Some(q),
            _ => None,
        }
    }

    pub(crate) fn set(&mut self, stamp: Stamp, queue: CachedQueue) {
        if !self.disabled {
            self.entry = Some((stamp, queue));
        }
    }

    /// The copy is still right after a write we accounted for: move it to the new stamp.
    pub(crate) fn restamp(&mut self, from: Stamp, to: Stamp) {
        if let Some((s, _)) = &mut self.entry
            && *s == from
        {
            *s = to;
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entry = None;
    }
}

/// An answer the copy can follow: what it needs from before the answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AfterAnswer {
    from: Stamp,
    card: i64,
    deck: i64,
    due: i64,
    /// The card's first answer of the session (the balancer leaves it out from now on).
    first: bool,
}

/// Whether the note has another card in the new, review or interday learning queue.
const LIVE_SIBLING_SQL: &str =
    "SELECT 1 FROM cards WHERE nid = ?1 AND id != ?2 AND queue IN (0, 2, 3) LIMIT 1";

impl Collection {
    /// Before `card` is answered: whether the copy can follow the answer (else it is dropped
    /// after it).
    pub(crate) fn queue_cache_before_answer(
        &self,
        card: &Card,
        session: Option<&Session>,
    ) -> Result<Option<AfterAnswer>> {
        let from = self.change_stamp(self.col_mod()?);
        let cache = self.queue_cache.borrow();
        let Some((stamp, queue)) = &cache.entry else {
            return Ok(None);
        };
        let Some(session) = session else {
            return Ok(None);
        };
        if *stamp != from || session.deck != queue.key.deck || !queue.gathered.contains(card.id) {
            return Ok(None);
        }
        let sibling: Option<i64> = self
            .conn()
            .prepare_cached(LIVE_SIBLING_SQL)?
            .query_row([card.note_id, card.id], |r| r.get(0))
            .optional()?;
        if sibling.is_some() {
            return Ok(None);
        }
        Ok(Some(AfterAnswer {
            from,
            card: card.id,
            deck: card.deck_id,
            due: card.due,
            first: !session.answered.iter().any(|a| a[0] == card.id),
        }))
    }

    /// After an answer committed to the open transaction: follow it in the copy, or drop the
    /// copy. A later rollback moves the stamp, so the copy is not used again.
    pub(crate) fn queue_cache_after_answer(&self, after: Option<AfterAnswer>) {
        let followed = after.is_some_and(|a| self.follow_answer(a).unwrap_or(false));
        if !followed {
            self.queue_cache.borrow_mut().clear();
        }
    }

    fn follow_answer(&self, a: AfterAnswer) -> Result<bool> {
        let now: Option<(i64, i64, i64, i64)> = self
            .conn()
            .prepare_cached("SELECT queue, due, reps, did FROM cards WHERE id = ?1")?
            .query_row([a.card], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let Some((queue, due, reps, deck)) = now else {
            return Ok(false);
        };
        // A card that changed decks (a filtered deck's card going home) counts elsewhere.
        if deck != a.deck {
            return Ok(false);
        }
        let to = self.change_stamp(self.col_mod()?);
        let conf = self.read_json_shared(crate::ColJson::Conf)?;
        let mut cache = self.queue_cache.borrow_mut();
        let Some(q) = cache.at(a.from) else {
            return Ok(false);
        };
        q.gathered.remove(a.card);
        if matches!(queue, 1 | 4) && due <= q.key.next_day_at && q.active.contains(&deck) {
            q.gathered.insert_learning(LearnEntry {
                id: a.card,
                due,
                reps,
                deck,
                queue,
            });
        }
        if a.first && super::balance::enabled(&conf) {
            let day = super::balance::day_index(a.due, q.key.day);
            for c in q.balance.values_mut() {
                if let Some(d) = day
                    && c.decks.contains(&a.deck)
                {
                    c.counts[d] = c.counts[d].saturating_sub(1);
                }
                c.answered += 1;
            }
        } else if a.first {
            q.balance.clear();
        }
        // Otherwise the card was answered before in this session (a learning card's next
        // step): it is already left out of every day count, wherever its answers move it, so
        // the counts stand (dropping them made the next answer count them again over the whole
        // collection). Debug builds check the counts at every use.
        cache.restamp(a.from, to);
        Ok(true)
    }
}

impl Gathered {
    /// Whether card `id` is in any list.
    pub(crate) fn contains(&self, id: i64) -> bool {
        self.learning.iter().any(|e| e.id == id)
            || self.day_learning.iter().any(|c| c.id == id)
            || self.reviews.iter().any(|c| c.id == id)
            || self.new.iter().any(|c| c.id == id)
    }

    /// Take card `id` out of every list (the others keep their order).
    pub(crate) fn remove(&mut self, id: i64) {
        self.learning.retain(|e| e.id != id);
        self.day_learning.retain(|c| c.id != id);
        self.reviews.retain(|c| c.id != id);
        self.new.retain(|c| c.id != id);
    }

    /// Put an intraday learning card where gathering puts it: the statement's order (deck,
    /// queue, due, id) sorted stably by Anki's key, i.e. one total order.
    pub(crate) fn insert_learning(&mut self, entry: LearnEntry) {
        let key = entry.gather_key();
        let at = self.learning.partition_point(|e| e.gather_key() < key);
        self.learning.insert(at, entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::Study;
    use crate::testutil;

    fn cached(col: &Collection) -> Option<Gathered> {
        col.queue_cache
            .borrow()
            .entry
            .as_ref()
            .map(|(_, q)| q.gathered.clone())
    }

    fn next_id(col: &Collection) -> i64 {
        match col.next_card().expect("next card") {
            Study::Card(c) => c.card_id,
            Study::Nothing(n) => panic!("nothing to study: {n:?}"),
        }
    }

    /// Debug builds compare every hit with a fresh gather, so each `next_card` below also
    /// asserts that the copy is right.
    #[test]
    fn the_copy_follows_answers_and_is_dropped_by_anything_else() {
        let (col, clock) = testutil::empty();
        let deck = col.create_deck("D").expect("deck").id;
        col.set_current_deck(deck).expect("current deck");
        for i in 0..5 {
            col.add_card(&format!("q{i}"), "a", Some(deck))
                .expect("add");
        }
        let first = next_id(&col);
        assert_eq!(cached(&col).map(|g| g.new.len()), Some(5));
        clock.advance_ms(5_000);
        col.answer_card(first, 1, None).expect("again");
        let g = cached(&col).expect("followed");
        assert_eq!(g.new.len(), 4);
        assert_eq!(g.learning.iter().map(|e| e.id).collect::<Vec<_>>(), [first]);
        let second = next_id(&col);
        assert_ne!(second, first);

        // A rolled-back answer (the journal refused it) leaves nothing behind.
        col.conn().execute_batch("BEGIN").expect("begin");
        col.answer_card(second, 3, None).expect("good");
        assert!(cached(&col).is_some_and(|g| !g.contains(second) || g.learning.len() == 2));
        col.conn().execute_batch("ROLLBACK").expect("rollback");
        assert_eq!(
            next_id(&col),
            second,
            "the rolled-back answer is not in the queue"
        );

        // A write the cache did not see (a replayed changeset, another op) drops it.
        col.conn()
            .execute("UPDATE cards SET queue = -1 WHERE id = ?1", [second])
            .expect("suspend behind its back");
        assert_ne!(next_id(&col), second);
    }

    fn e(id: i64, due: i64, deck: i64, reps: i64) -> LearnEntry {
        LearnEntry {
            id,
            due,
            reps,
            deck,
            queue: 1,
        }
    }

    /// Dropped with a transaction open (a copy discarded mid-request): SQLite rolls it back
    /// at close, after rusqlite freed the hook's closure, unless `Drop` unregistered it.
    #[test]
    fn a_collection_dropped_mid_transaction_closes_cleanly() {
        let (col, _) = testutil::empty();
        col.conn()
            .execute_batch("BEGIN IMMEDIATE; UPDATE col SET mod = mod + 1;")
            .expect("open transaction");
        drop(col);
    }

    #[test]
    fn a_learning_card_goes_where_gathering_puts_it() {
        let mut g = Gathered {
            learning: vec![
                e(1, 10, 5, 1),
                e(2, 20, 5, 1),
                e(3, 20, 7, 1),
                e(4, 5, 5, 0),
            ],
            ..Gathered::default()
        };
        g.insert_learning(e(9, 20, 6, 1));
        g.insert_learning(e(8, 20, 5, 1));
        g.insert_learning(e(10, 1, 5, 0));
        let ids: Vec<i64> = g.learning.iter().map(|e| e.id).collect();
        assert_eq!(ids, [1, 2, 8, 9, 3, 10, 4]);
        assert!(g.contains(9));
        g.remove(9);
        assert!(!g.contains(9));
    }

    #[test]
    fn the_copy_is_only_served_at_its_stamp_and_for_its_queue() {
        let counter = RollbackCounter::default();
        let stamp = counter.stamp(10, 1);
        let key = QueueKey {
            deck: 1,
            day: 3,
            next_day_at: 100,
            now: None,
        };
        let mut cache = QueueCache::default();
        cache.set(
            stamp,
            CachedQueue {
                key,
                gathered: Gathered::default(),
                mixes: (Mix::Mixed, Mix::Mixed),
                active: vec![1],
                balance: HashMap::new(),
            },
        );
        assert!(cache.get(stamp, key).is_some());
        assert!(cache.get(stamp, QueueKey { deck: 2, ..key }).is_none());
        assert!(cache.get(stamp, QueueKey { day: 4, ..key }).is_none());
        let now = QueueKey {
            now: Some(50),
            ..key
        };
        assert!(
            cache.get(stamp, now).is_some(),
            "a queue that ignores the time"
        );
        assert!(cache.get(counter.stamp(11, 1), key).is_none());
        assert!(cache.get(counter.stamp(10, 2), key).is_none());
        let mut hook = counter.hook();
        hook();
        assert!(cache.get(counter.stamp(10, 1), key).is_none());
        let later = counter.stamp(12, 1);
        cache.restamp(stamp, later);
        assert!(cache.get(stamp, key).is_none());
        cache.restamp(counter.stamp(0, 0), stamp);
        assert!(
            cache.get(later, key).is_some(),
            "restamped only from its own stamp"
        );
    }
}
