//! The v3 study queue exactly as Anki 26.9 builds it (rslib `scheduler/queue/`): which card
//! comes next in the selected deck, the study screen's counts, and the deck list's counts.
//!
//! - [`limits`]: each deck's remaining daily limits and their tree (Anki's `LimitTreeMap`).
//! - [`studied`]: today's studied counts per deck, from the revlog.
//! - [`gather`]: the cards of a queue, per deck limits and sibling burying; [`order`] and
//!   [`fsrs_keys`]: the gather, sort and review orders, with Anki's seeded hashes.
//! - [`mix`]: the main queue's interleaving; [`session`]: what Anki keeps in memory between
//!   answers, stored so stateless requests continue one session.
//! - [`deck_counts`]: the deck list's numbers (Anki's `deck_due_tree`).

pub(crate) mod balance;
pub(crate) mod cache;
pub(crate) mod deck_counts;
mod fsrs_keys;
pub(crate) mod gather;
pub(crate) mod limits;
mod mix;
pub(crate) mod order;
pub(crate) mod session;
mod studied;
pub(crate) use session::SESSION_LISTS_DDL;
pub(crate) use studied::DECK_COUNTERS_DDL;

use std::collections::HashMap;

use javumbo_scheduler::{CardQueue, CardState, Timing};
use serde_json::Value;

use crate::coljson::{ColJson, JsonObject, json_i64};
use crate::presets::{DeckLimits, Preset};
use crate::review::DueCounts;
use crate::storage::cards::Card;
use crate::{Collection, Result};
use gather::{BuryMode, Gathered, LearnEntry, Plan, SortOptions};
use limits::{LimitTree, RemainingLimits, Studied};
use mix::{Kind, Mix};
use order::{Gather, ReviewOrder};
use session::Session;

/// Anki's default learn-ahead limit (`collapseTime`), seconds.
const DEFAULT_COLLAPSE_SECS: i64 = 1200;

/// The learn-ahead limit (`collapseTime`), seconds.
pub(crate) fn learn_ahead(conf: &JsonObject) -> i64 {
    json_i64(conf, "collapseTime")
        .unwrap_or(DEFAULT_COLLAPSE_SECS)
        .max(0)
}

fn conf_bool(conf: &JsonObject, key: &str) -> bool {
    conf.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A deck as the queue and the deck list read it.
#[derive(Debug, Clone)]
pub(crate) struct DeckInfo {
    pub id: i64,
    pub name: String,
    pub level: usize,
    /// Its preset id; `None` for a filtered deck.
    pub preset: Option<i64>,
    pub own: DeckLimits,
}

/// Every deck's data and limits for today, read once.
pub(crate) struct DeckTable {
    /// Sorted by name as Anki sorts them (parents before children).
    pub decks: Vec<DeckInfo>,
    pub presets: HashMap<i64, Preset>,
    pub studied: HashMap<i64, Studied>,
    pub today: i64,
    pub ignore_review_limit: bool,
    pub apply_all_parent_limits: bool,
}

impl DeckTable {
    fn preset_of(&self, deck: &DeckInfo) -> Option<&Preset> {
        deck.preset.and_then(|p| self.presets.get(&p))
    }

    /// Anki's `RemainingLimits::new`: a filtered deck, or one whose preset is missing, has
    /// no limits.
    pub(crate) fn remaining(&self, deck: &DeckInfo) -> RemainingLimits {
        match self.preset_of(deck) {
            Some(p) => RemainingLimits::new(
                &deck.own,
                p,
                self.studied.get(&deck.id).copied().unwrap_or_default(),
                self.today,
                self.ignore_review_limit,
            ),
            None => RemainingLimits::default(),
        }
    }

    pub(crate) fn find(&self, id: i64) -> Option<&DeckInfo> {
        self.decks.iter().find(|d| d.id == id)
    }

    /// `deck` and its subdecks, in name order.
    pub(crate) fn subtree<'a>(&'a self, deck: &'a DeckInfo) -> impl Iterator<Item = &'a DeckInfo> {
        self.decks
            .iter()
            .filter(move |d| d.id == deck.id || is_below(&d.name, &deck.name))
    }

    /// `deck`'s ancestors, top first (as far as they exist).
    pub(crate) fn ancestors(&self, deck: &DeckInfo) -> Vec<&DeckInfo> {
        let mut out = Vec::new();
        let mut name = deck.name.as_str();
        while let Some((parent, _)) = name.rsplit_once("::") {
            match self.decks.iter().find(|d| d.name == parent) {
                Some(p) => out.push(p),
                None => break,
            }
            name = parent;
        }
        out.reverse();
        out
    }
}

fn is_below(name: &str, parent: &str) -> bool {
    name.len() > parent.len() + 2
        && name.starts_with(parent)
        && name[parent.len()..].starts_with("::")
}

/// The next card of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NextEntry {
    pub card_id: i64,
}

/// A built (or continued) queue.
#[derive(Debug, Clone)]
pub(crate) struct StudyQueue {
    pub gathered: Gathered,
    pub session: Session,
    pub counts: DueCounts,
    pub learn_ahead: i64,
    pub mixes: (Mix, Mix),
}

impl StudyQueue {
    /// Anki's order: learning cards due by the cutoff, the main queue, then learning cards
    /// within the learn-ahead limit.
    pub(crate) fn next(&self) -> Option<NextEntry> {
        let cutoff = self.session.cutoff;
        let learning = |e: &&LearnEntry| e.due <= cutoff;
        if let Some(e) = self.gathered.learning.iter().find(learning) {
            return Some(NextEntry { card_id: e.id });
        }
        if let Some(id) = self.next_main() {
            return Some(NextEntry { card_id: id });
        }
        let ahead = cutoff + self.learn_ahead;
        self.gathered
            .learning
            .iter()
            .find(|e| e.due > cutoff && e.due <= ahead)
            .map(|e| NextEntry { card_id: e.id })
    }

    /// The main queue's next card: the next kind in the build-time sequence, taken from the
    /// re-gathered list of that kind (which holds what was not answered yet, in order).
    fn next_main(&self) -> Option<i64> {
        let [r, d, n] = self.session.sizes;
        let seq = mix::sequence(r, d, n, self.mixes.0, self.mixes.1);
        let g = &self.gathered;
        seq.iter().skip(self.session.taken).find_map(|k| match k {
            Kind::Review => g.reviews.first().map(|c| c.id),
            Kind::DayLearn => g.day_learning.first().map(|c| c.id),
            Kind::New => g.new.first().map(|c| c.id),
        })
    }
}

impl Collection {
    /// `col.mod`, which every change but a queue write moves.
    fn col_mod(&self) -> Result<i64> {
        Ok(self
            .conn()
            .prepare_cached("SELECT mod FROM col WHERE id = 1")?
            .query_row([], |r| r.get(0))?)
    }

    /// Every deck with its preset and today's studied counts.
    pub(crate) fn deck_table(&self, conf: &JsonObject, timing: &Timing) -> Result<DeckTable> {
        let decks_json = self.read_json_shared(ColJson::Decks)?;
        let mut decks: Vec<DeckInfo> = decks_json
            .iter()
            .filter_map(|(key, v)| {
                let id = v["id"].as_i64().or_else(|| key.parse().ok())?;
                let name = v["name"].as_str()?.to_owned();
                let filtered = v["dyn"].as_i64().unwrap_or(0) != 0;
                Some(DeckInfo {
                    id,
                    level: crate::limits::deck_depth(&name),
                    name,
                    preset: (!filtered).then(|| {
                        v["conf"]
                            .as_i64()
                            .unwrap_or(crate::schema::DEFAULT_DCONF_ID)
                    }),
                    own: DeckLimits::from_deck_json(v),
                })
            })
            .collect();
        decks.sort_by_cached_key(|d| (crate::decks::sort_key(&d.name), d.id));
        let dconf = self.read_json_shared(ColJson::Dconf)?;
        let presets = dconf
            .iter()
            .filter_map(|(k, v)| {
                let id = k.parse().ok()?;
                Some((id, Preset::from_json(id, v)))
            })
            .collect();
        let day_start_ms = crate::day::day_start(self.crt()?, conf, timing) * 1000;
        let own = studied::studied_by_own_deck(self.conn(), day_start_ms)?;
        let names: HashMap<i64, &str> = decks.iter().map(|d| (d.id, d.name.as_str())).collect();
        let mut studied = studied::with_subdecks(&own, &names);
        studied::apply_counters(
            self.conn(),
            &decks_json,
            &names,
            timing.days_elapsed,
            day_start_ms,
            &mut studied,
        )?;
        Ok(DeckTable {
            decks,
            presets,
            studied,
            today: timing.days_elapsed,
            ignore_review_limit: conf_bool(conf, "newCardsIgnoreReviewLimit"),
            apply_all_parent_limits: conf_bool(conf, "applyAllParentLimits"),
        })
    }

    /// What gathering the queue of `deck_id` needs.
    fn queue_plan(
        &self,
        table: &DeckTable,
        deck_id: i64,
        conf: &JsonObject,
        timing: &Timing,
    ) -> Option<Plan> {
        let root = table.find(deck_id)?;
        let active: Vec<&DeckInfo> = table.subtree(root).collect();
        let mut tree_decks: Vec<(i64, usize, RemainingLimits)> = Vec::new();
        if table.apply_all_parent_limits {
            for a in table.ancestors(root) {
                tree_decks.push((a.id, a.level, table.remaining(a)));
            }
        }
        tree_decks.extend(active.iter().map(|d| (d.id, d.level, table.remaining(d))));
        let bury = table
            .decks
            .iter()
            .filter_map(|d| {
                let p = table.preset_of(d)?;
                Some((
                    d.id,
                    BuryMode {
                        new: p.bury_new,
                        reviews: p.bury_reviews,
                        interday: p.bury_interday_learning,
                    },
                ))
            })
            .collect();
        let options = table
            .preset_of(root)
            .map(|p| SortOptions {
                gather: Gather::from_preset(p.new_card_gather_priority),
                new_sort: p.new_card_sort_order,
                review_order: ReviewOrder::from_preset(p.review_order),
                day_learn_mix: Mix::from_preset(p.interday_learning_mix),
                new_mix: Mix::from_preset(p.new_mix),
            })
            .unwrap_or_default();
        let ids: Vec<i64> = active.iter().map(|d| d.id).collect();
        Some(Plan {
            today: timing.days_elapsed,
            now: timing.now_secs,
            next_day_at: timing.next_day_at,
            active_json: crate::storage::id_array(&ids),
            active: ids,
            bury,
            limits: LimitTree::build(&tree_decks),
            options,
            fsrs: crate::fsrs::fsrs_enabled(conf),
        })
    }

    /// The queue of the current deck at `timing`, continuing the stored session when it is
    /// still valid (else starting one, as Anki builds its queue). Writes the session when it
    /// starts or its learning cutoff moves.
    pub(crate) fn study_queue(
        &self,
        deck_id: i64,
        conf: &JsonObject,
        timing: &Timing,
    ) -> Result<StudyQueue> {
        let col_mod = self.col_mod()?;
        let stamp = self.change_stamp(col_mod);
        let (mut gathered, mixes, fresh) = self.gathered(deck_id, conf, timing, stamp)?;
        let stored = Session::load(
            self.conn(),
            conf,
            deck_id,
            timing.days_elapsed,
            col_mod,
            self.lists_copy(),
        )?;
        let mut changed = stored.is_none();
        let mut session = stored.unwrap_or_else(|| Session {
            deck: deck_id,
            day: timing.days_elapsed,
            col_mod,
            sizes: [
                gathered.reviews.len(),
                gathered.day_learning.len(),
                gathered.new.len(),
            ],
            taken: 0,
            cutoff: timing.now_secs,
            requeued: Vec::new(),
            answered: Vec::new(),
            added: Vec::new(),
        });
        gathered.learning = arrange_learning(
            &mut session,
            std::mem::take(&mut gathered.learning),
            &mut changed,
        );
        let learn_ahead = learn_ahead(conf);
        let mut counts = study_counts(&gathered, session.cutoff + learn_ahead);
        if counts == (DueCounts::default()) && session.cutoff != timing.now_secs {
            // Anki moves the cutoff to now when nothing is left, so learning cards that came
            // due since count (and show).
            session.cutoff = timing.now_secs;
            counts = study_counts(&gathered, session.cutoff + learn_ahead);
            changed = true;
        }
        if changed {
            self.atomic(|c| c.write_session(Some(&session)))?;
        }
        let mut cache = self.queue_cache.borrow_mut();
        match fresh {
            // Writing the session changed `col.conf` alone: the copy holds.
            Some(queue) => cache.set(self.change_stamp(self.col_mod()?), queue),
            None if changed => cache.restamp(stamp, self.change_stamp(self.col_mod()?)),
            None => {}
        }
        Ok(StudyQueue {
            gathered,
            session,
            counts,
            learn_ahead,
            mixes,
        })
    }

    /// The connection's state as the queue cache compares it.
    pub(crate) fn change_stamp(&self, col_mod: i64) -> cache::Stamp {
        self.rollbacks.stamp(self.conn().total_changes(), col_mod)
    }

    /// The gathered lists of `deck_id`'s queue (before the session's requeues) and its mixes:
    /// the cached copy when nothing changed since, else gathered now, with the copy to keep.
    fn gathered(
        &self,
        deck_id: i64,
        conf: &JsonObject,
        timing: &Timing,
        stamp: cache::Stamp,
    ) -> Result<(Gathered, (Mix, Mix), Option<cache::CachedQueue>)> {
        let fsrs = crate::fsrs::fsrs_enabled(conf);
        let mut key = cache::QueueKey {
            deck: deck_id,
            day: timing.days_elapsed,
            next_day_at: timing.next_day_at,
            now: Some(timing.now_secs),
        };
        if let Some(hit) = self.queue_cache.borrow().get(stamp, key) {
            let hit = (hit.gathered.clone(), hit.mixes);
            if cfg!(debug_assertions) {
                let fresh = self.gather_now(deck_id, conf, timing, |_| key)?;
                debug_assert_eq!(fresh.gathered, hit.0, "queue cache out of date");
            }
            return Ok((hit.0, hit.1, None));
        }
        let queue = self.gather_now(deck_id, conf, timing, |order| {
            if !order.reads_now(fsrs) {
                key.now = None;
            }
            key
        })?;
        Ok((queue.gathered.clone(), queue.mixes, Some(queue)))
    }

    /// Gather `deck_id`'s queue from the tables; `key` says what it is valid for, given the
    /// preset's review order.
    fn gather_now(
        &self,
        deck_id: i64,
        conf: &JsonObject,
        timing: &Timing,
        key: impl FnOnce(ReviewOrder) -> cache::QueueKey,
    ) -> Result<cache::CachedQueue> {
        let table = self.deck_table(conf, timing)?;
        let Some(mut plan) = self.queue_plan(&table, deck_id, conf, timing) else {
            return Err(crate::CollectionError::NotFound(format!(
                "deck {deck_id} not found"
            )));
        };
        let gathered = gather::gather(self.conn(), &mut plan)?;
        Ok(cache::CachedQueue {
            key: key(plan.options.review_order),
            gathered,
            mixes: (plan.options.day_learn_mix, plan.options.new_mix),
            active: plan.active,
            balance: HashMap::new(),
        })
    }

    /// Store (or with `None`, drop) the session, keeping every other key of a fresh `conf`.
    fn write_session(&self, session: Option<&Session>) -> Result<()> {
        let mut conf = self.read_json(ColJson::Conf)?;
        match session {
            Some(s) => s.store(self.conn(), &mut conf, self.lists_copy())?,
            None => {
                if session::clear(self.conn(), &mut conf, self.lists_copy())?.is_none() {
                    return Ok(());
                }
            }
        }
        self.write_json(ColJson::Conf, &conf)
    }

    /// The session an answer continues, read before the answer changes anything.
    pub(crate) fn session_before_answer(
        &self,
        conf: &JsonObject,
        timing: &Timing,
    ) -> Result<Option<Session>> {
        let deck = self.current_deck_id()?;
        Session::load(
            self.conn(),
            conf,
            deck,
            timing.days_elapsed,
            self.col_mod()?,
            self.lists_copy(),
        )
    }

    /// The session lists' copy, when rolled-back writes can be told (see [`session::ListsCopy`]).
    fn lists_copy(&self) -> session::Copy<'_> {
        let rollbacks = self.rollbacks.count();
        (!self.queue_cache.borrow().disabled).then_some((&self.session_lists, rollbacks))
    }

    /// Anki's queue update after an answer: the card leaves its queue, a card still in
    /// intraday learning goes back (after the next one when nothing else is left), and the
    /// learning cutoff moves to now. Runs after the answer's writes (and its `col.mod`).
    pub(crate) fn queue_after_answer(
        &self,
        session: Option<Session>,
        before: &Card,
        after: &CardState,
        timing: &Timing,
        finished_preview: bool,
    ) -> Result<()> {
        let Some(mut s) = session else {
            return self.write_session(None);
        };
        let conf = self.read_json_shared(ColJson::Conf)?;
        let deck = self.deck_row(s.deck)?;
        let active = self.subtree_ids(&deck)?;
        let in_queue = active.contains(&before.deck_id);
        match before.queue {
            CardQueue::New | CardQueue::Review | CardQueue::DayLearn if in_queue => s.taken += 1,
            _ => s.forget_requeue(before.id),
        }
        // A preview deck's repeat is intraday learning too; a finished preview is not requeued,
        // whatever queue the card went home to (Anki's `is_finished_preview`).
        let intraday = matches!(after.queue, CardQueue::Learn | CardQueue::PreviewRepeat);
        if in_queue && intraday && !finished_preview && after.due < timing.next_day_at {
            let ahead = s.cutoff + learn_ahead(&conf);
            let mut queue_due = after.due;
            // Not shown again at once while another learning card waits (Anki's
            // `requeue_learning_entry`, when the main queue is empty).
            if after.due <= ahead && s.taken >= s.main_len() {
                let front = self.first_learning(&mut s, &active, before.id, timing)?;
                if let Some(next) = front
                    && next.due >= after.due
                    && next.due + 1 < ahead
                {
                    queue_due = next.due + 1;
                }
            }
            s.requeued.push([before.id, after.due, queue_due]);
        }
        if balance::enabled(&conf) {
            balance::record_answer(&mut s, before, after);
        }
        s.cutoff = timing.now_secs;
        s.col_mod = self.col_mod()?;
        self.write_session(Some(&s))
    }

    /// The front of the intraday learning queue (all of today's, not only the due ones),
    /// without card `except` (just answered).
    fn first_learning(
        &self,
        s: &mut Session,
        active: &[i64],
        except: i64,
        timing: &Timing,
    ) -> Result<Option<LearnEntry>> {
        let mut learning = gather::intraday_entries(
            self.conn(),
            &crate::storage::id_array(active),
            timing.next_day_at,
        )?;
        learning.retain(|e| e.id != except);
        learning.sort_by_key(LearnEntry::sort_key);
        let mut unchanged = false;
        Ok(arrange_learning(s, learning, &mut unchanged)
            .first()
            .copied())
    }
}

/// Anki's intraday learning queue, rebuilt: the cards that were in learning when the queue
/// was built keep the gathered order; each card answered back into learning since is then
/// inserted where Anki's binary search put it (before the last entry with an equal key), in
/// the order of the answers, at its queue due. Records of cards changed since are dropped.
fn arrange_learning(
    session: &mut Session,
    learning: Vec<LearnEntry>,
    changed: &mut bool,
) -> Vec<LearnEntry> {
    if session.requeued.is_empty() {
        return learning;
    }
    // By id: a long session on a big collection has thousands of learning cards and hundreds
    // of requeues, and a scan per pair cost milliseconds.
    let by_id: HashMap<i64, LearnEntry> = learning.iter().map(|e| (e.id, *e)).collect();
    let before = session.requeued.len();
    session
        .requeued
        .retain(|r| by_id.get(&r[0]).is_some_and(|e| e.due == r[1]));
    *changed |= session.requeued.len() != before;
    let requeued: std::collections::HashSet<i64> = session.requeued.iter().map(|r| r[0]).collect();
    let mut list: Vec<LearnEntry> = learning
        .into_iter()
        .filter(|e| !requeued.contains(&e.id))
        .collect();
    for r in &session.requeued {
        if let Some(e) = by_id.get(&r[0]) {
            insert_learning(&mut list, LearnEntry { due: r[2], ..*e });
        }
    }
    list
}

/// Anki's `insert_intraday_learning_card`: `binary_search_by` finds the last entry not
/// after the new one; an equal entry is pushed back, else the new one goes after it.
fn insert_learning(list: &mut Vec<LearnEntry>, entry: LearnEntry) {
    let key = entry.sort_key();
    let pos = list.partition_point(|e| e.sort_key() <= key);
    let at = if pos > 0 && list[pos - 1].sort_key() == key {
        pos - 1
    } else {
        pos
    };
    list.insert(at, entry);
}

/// The study screen's counts: learning cards due by the learn-ahead cutoff plus interday
/// learning, reviews and new cards as gathered.
fn study_counts(g: &Gathered, learn_cutoff: i64) -> DueCounts {
    let intraday = g.learning.iter().filter(|e| e.due <= learn_cutoff).count();
    let n = |x: usize| i64::try_from(x).unwrap_or(i64::MAX);
    DueCounts {
        new: n(g.new.len()),
        learn: n(intraday + g.day_learning.len()),
        review: n(g.reviews.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(id: i64, due: i64) -> LearnEntry {
        LearnEntry {
            id,
            due,
            reps: 1,
            deck: 1,
            queue: 1,
        }
    }

    /// A change made in the millisecond the study session was built still rebuilds it (Anki
    /// rebuilds after any change but an answer): `col.mod` moves past its last value.
    #[test]
    fn a_change_in_the_build_s_millisecond_rebuilds_the_session() {
        let (col, _clock) = crate::testutil::empty();
        let deck = col.create_deck("D").expect("deck").id;
        col.set_current_deck(deck).expect("current deck");
        for i in 0..3 {
            col.add_card(&format!("q{i}"), "a", Some(deck))
                .expect("add");
        }
        let new_at_build = |col: &Collection| {
            col.read_json(ColJson::Conf).expect("conf")[session::SESSION_KEY]["sizes"][2].clone()
        };
        let _ = col.next_card().expect("next");
        assert_eq!(new_at_build(&col), 3);
        // The clock has not moved: the same millisecond.
        col.add_card("late", "a", Some(deck)).expect("add");
        let _ = col.next_card().expect("next");
        assert_eq!(new_at_build(&col), 4, "the session was rebuilt");
    }

    /// The session lists' copy follows the rows through an answer rolled back (a savepoint:
    /// no rollback hook) and the same card answered again in the same millisecond, which
    /// stores the rolled-back header again with other lists (debug builds also compare copy
    /// and rows at every use of the copy, `ListsCopy::rows`).
    #[test]
    fn a_rolled_back_answer_does_not_leave_its_lists_behind() {
        let (col, _clock) = crate::testutil::empty();
        let deck = col.create_deck("D").expect("deck").id;
        col.set_current_deck(deck).expect("current deck");
        for i in 0..4 {
            col.add_card(&format!("q{i}"), "a", Some(deck))
                .expect("add");
        }
        let next = |col: &Collection| match col.next_card().expect("next") {
            crate::review::Study::Card(c) => c.card_id,
            crate::review::Study::Nothing(n) => panic!("{n:?}"),
        };
        let first = next(&col);
        col.answer_card(first, 1, Some(1000)).expect("answer");
        let second = next(&col);
        let refused: Result<()> = col.atomic(|c| {
            c.answer_card(second, 1, Some(1000))?;
            Err(crate::CollectionError::InvalidInput(
                "refused after the answer".into(),
            ))
        });
        assert!(refused.is_err());
        // Same millisecond, same card: the header it stores equals the rolled-back one.
        assert_eq!(next(&col), second);
        col.answer_card(second, 3, Some(1000)).expect("answer");
        let conf = col.read_json(ColJson::Conf).expect("conf");
        let timing = col.timing().expect("timing");
        let copy = col
            .session_before_answer(&conf, &timing)
            .expect("load")
            .expect("session");
        let rows = Session::load(
            col.conn(),
            &conf,
            deck,
            timing.days_elapsed,
            col.col_mod().expect("mod"),
            None,
        )
        .expect("load")
        .expect("session");
        assert_eq!(copy, rows);
        assert_eq!(rows.answered.len(), 2);
    }

    #[test]
    fn a_requeued_card_goes_before_the_last_equal_entry() {
        let mut list = vec![e(1, 10), e(2, 20), e(3, 20), e(4, 30)];
        insert_learning(&mut list, e(9, 20));
        let ids: Vec<i64> = list.iter().map(|e| e.id).collect();
        assert_eq!(ids, [1, 2, 9, 3, 4]);
        insert_learning(&mut list, e(8, 25));
        insert_learning(&mut list, e(7, 5));
        let ids: Vec<i64> = list.iter().map(|e| e.id).collect();
        assert_eq!(ids, [7, 1, 2, 9, 3, 8, 4]);
        // Never-answered cards (reps 0) wait behind every answered one.
        insert_learning(&mut list, LearnEntry { reps: 0, ..e(6, 0) });
        assert_eq!(list.last().map(|e| e.id), Some(6));
    }

    #[test]
    fn the_session_replays_requeues_in_answer_order() {
        let mut s = Session {
            deck: 1,
            day: 1,
            col_mod: 0,
            sizes: [0, 0, 0],
            taken: 0,
            cutoff: 0,
            requeued: vec![[5, 100, 100], [6, 100, 100], [7, 40, 61]],
            answered: Vec::new(),
            added: Vec::new(),
        };
        let gathered = vec![e(7, 40), e(1, 50), e(5, 100), e(6, 100), e(2, 100)];
        let mut changed = false;
        let list = arrange_learning(&mut s, gathered, &mut changed);
        let ids: Vec<i64> = list.iter().map(|e| e.id).collect();
        // 5 goes before 2; 6 before the last equal (2): 5, 6, 2. Card 7 was held back to 61.
        assert_eq!(ids, [1, 7, 5, 6, 2]);
        assert!(!changed);
        // A card rescheduled since loses its record.
        let mut list2 = vec![e(5, 130)];
        list2 = arrange_learning(&mut s, list2, &mut changed);
        assert_eq!(list2, [e(5, 130)]);
        assert!(changed && s.requeued.is_empty());
    }
}
