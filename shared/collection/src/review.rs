//! Studying: which card to show next, and answering it.
//!
//! The scheduling maths lives in the pure `javumbo-scheduler` crate; this module reads the card
//! and its deck options from the tables, asks the scheduler, and writes the card row and one
//! revlog row exactly as Anki does.

use javumbo_scheduler::{
    self as sched, CardQueue, CardState, DeckConfig, Ease, LoadBalance, NextInterval, Timing,
};
use std::collections::HashMap;

use serde::Serialize;

use crate::cards::Sides;
use crate::coljson::{ColJson, JsonObject};
use crate::filtered::{self, Studied};
use crate::ids::IdTable;
use crate::render::{CardRendering, Renderer};
use crate::schema::{DEFAULT_DCONF_ID, default_dconf};
use crate::storage::cards::Card;
use crate::storage::revlog::RevlogEntry;
use crate::{Collection, CollectionError, Result, fsrs, storage};

/// Anki tells epoch seconds from day numbers in `due` by size in the same way.
const EPOCH_SECS_THRESHOLD: i64 = 1_000_000_000;

/// The card to study now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NextCard {
    pub card_id: i64,
    pub note_id: i64,
    pub front: String,
    pub back: String,
    /// `cards.queue` as Anki numbers it (the HTTP contract exposes the number).
    pub queue: i64,
    pub deck_id: i64,
    /// Button labels for Again, Hard, Good, Easy ("1m", "6m", "10m", "4d").
    pub intervals: [String; 4],
    /// As Anki's reviewer shows the card.
    pub rendering: CardRendering,
    /// The study screen's new / learning / review counts with this card still to do
    /// (Anki's `get_queued_cards` counts).
    pub counts: DueCounts,
}

/// Why there is nothing to study in the current deck right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum NothingToStudy {
    /// The current deck (with its subdecks) holds no cards.
    NoCards,
    /// New cards are waiting, but today's new-card limit has been reached.
    NewLimitReached,
    /// Reviews are due, but today's review limit has been reached.
    ReviewLimitReached,
    /// Every card is scheduled later (or suspended/buried).
    NothingDueNow,
}

impl NothingToStudy {
    pub fn message(self) -> &'static str {
        match self {
            Self::NoCards => "No cards in this deck",
            Self::NewLimitReached => "Daily limit of new cards reached. Come back tomorrow!",
            Self::ReviewLimitReached => "Daily limit of reviews reached. Come back tomorrow!",
            Self::NothingDueNow => "No cards due right now. Come back later!",
        }
    }
}

/// What `next_card` found.
// One value per request, moved straight into the response: boxing the card would only add an
// allocation (it grew with the rendered HTML).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Study {
    Card(NextCard),
    Nothing(NothingToStudy),
}

/// The state of a card after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AnswerResult {
    /// When the card is next due, epoch seconds. Learning cards (queue 1) are due at an exact
    /// second; day-based cards (queues 2 and 3) are due from the start of their day, i.e. that
    /// day's rollover (04:00 local by default).
    pub new_due_secs: i64,
    /// The card's interval in days (0 while in learning steps).
    pub interval_days: i64,
    /// `cards.queue` as Anki numbers it (the HTTP contract exposes the number).
    pub queue: i64,
}

/// Add `tag` to a space-padded Anki tag string, keeping Anki's case-insensitive order.
fn add_tag(tags: &str, tag: &str) -> Option<String> {
    let mut list: Vec<&str> = tags.split_whitespace().collect();
    if list.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
        return None;
    }
    list.push(tag);
    list.sort_by_cached_key(|t| t.to_lowercase());
    Some(format!(" {} ", list.join(" ")))
}

impl Collection {
    /// The deck options of the deck a card belongs to (its home deck when it is borrowed by a
    /// filtered deck). A dangling `conf` id falls back to option group 1, then to the defaults.
    pub(crate) fn deck_config_for(&self, deck_id: i64) -> Result<DeckConfig> {
        let conf_id = self
            .deck_rows()?
            .into_iter()
            .find(|d| d.id == deck_id)
            .map_or(DEFAULT_DCONF_ID, |d| d.conf_id);
        let dconf = self.read_json_shared(ColJson::Dconf)?;
        // Read in place: a preset is a large JSON object, and this runs on every study request.
        Ok(
            match dconf
                .get(&conf_id.to_string())
                .or_else(|| dconf.get(&DEFAULT_DCONF_ID.to_string()))
            {
                Some(value) => DeckConfig::from_dconf_json(value),
                None => DeckConfig::from_dconf_json(&default_dconf()),
            },
        )
    }

    /// The next card of the current deck (and its subdecks), exactly as Anki 26.9's v3 queue
    /// serves it (see the `queue` module): learning cards due by the last answer, then the main
    /// queue (reviews, interday learning and new cards, gathered deck by deck within every
    /// deck's daily limits, in the preset's orders and mixes), then learning cards within the
    /// learn-ahead limit. The card comes with the study screen's counts.
    ///
    /// The queue continues the session Anki would keep in memory (stored in `col.conf`), so
    /// this writes when a session starts (a new day, a new deck, any change but an answer)
    /// and, like Anki, unburies yesterday's buried cards first.
    pub fn next_card(&self) -> Result<Study> {
        let conf = self.read_json_shared(ColJson::Conf)?;
        let timing = self.timing_at(&conf, self.clock().now_secs())?;
        // Yesterday's buried cards come back first (a write, journaled like any other).
        self.atomic(|c| c.unbury_if_day_rolled_over(&conf, &timing))?;
        let conf = self.read_json_shared(ColJson::Conf)?;
        let deck = self.deck_row(self.current_deck_id()?)?;
        let dids = storage::id_array(&self.subtree_ids(&deck)?);
        let conn = self.conn();
        if !storage::cards::any_in_decks(conn, &dids)? {
            return Ok(Study::Nothing(NothingToStudy::NoCards));
        }
        let queue = self.study_queue(deck.id, &conf, &timing)?;
        if let Some(next) = queue.next() {
            let card = storage::cards::get(conn, next.card_id)?.ok_or_else(|| {
                CollectionError::NotFound(format!("card {} not found", next.card_id))
            })?;
            // `conf` as read above: building the queue writes only its session key.
            let balance = self.load_balance(&card, &conf, &timing, Some(&queue.session))?;
            let mut shown = self.present(card, &conf, &timing, balance.as_ref())?;
            shown.counts = queue.counts;
            return Ok(Study::Card(shown));
        }
        let today = timing.days_elapsed;
        let day_queues = [CardQueue::Review, CardQueue::DayLearn];
        Ok(Study::Nothing(
            if storage::cards::first_due_in_queues(conn, &dids, day_queues, today)?.is_some() {
                NothingToStudy::ReviewLimitReached
            } else if storage::cards::any_in_queue(conn, &dids, CardQueue::New)? {
                NothingToStudy::NewLimitReached
            } else {
                NothingToStudy::NothingDueNow
            },
        ))
    }

    /// What the deck list shows for deck `deck_id` and its subdecks, identical to Anki's
    /// `deck_due_tree()`: new, learning and review cards due today, each subdeck's counts
    /// capped by its own limits before they are added to its parent's, and the sum capped by
    /// the deck's (see `queue/deck_counts.rs`). Like Anki's deck list, this unburies
    /// yesterday's buried cards first.
    pub fn due_counts(&self, deck_id: i64) -> Result<DueCounts> {
        let (table, learn_cutoff) = self.deck_list_table()?;
        let deck = table
            .find(deck_id)
            .ok_or_else(|| CollectionError::NotFound(format!("deck {deck_id} not found")))?;
        crate::queue::deck_counts::deck_due_counts(self.conn(), &table, deck, learn_cutoff)
    }

    /// [`Self::due_counts`] of every deck, by deck id: the whole deck list at the cost of one
    /// (the table built and the cards counted once, not once per deck).
    pub fn all_due_counts(&self) -> Result<HashMap<i64, DueCounts>> {
        let (table, learn_cutoff) = self.deck_list_table()?;
        crate::queue::deck_counts::all_due_counts(self.conn(), &table, learn_cutoff)
    }

    /// The deck table the deck list counts with (after unburying at a new day, as Anki's deck
    /// list does) and its learn-ahead cutoff.
    fn deck_list_table(&self) -> Result<(crate::queue::DeckTable, i64)> {
        let conf = self.read_json_shared(ColJson::Conf)?;
        let timing = self.timing_at(&conf, self.clock().now_secs())?;
        self.atomic(|c| c.unbury_if_day_rolled_over(&conf, &timing))?;
        let conf = self.read_json_shared(ColJson::Conf)?;
        let table = self.deck_table(&conf, &timing)?;
        Ok((table, timing.now_secs + crate::queue::learn_ahead(&conf)))
    }

    fn present(
        &self,
        c: Card,
        col_conf: &JsonObject,
        timing: &Timing,
        balance: Option<&LoadBalance>,
    ) -> Result<NextCard> {
        let (mid, flds) = storage::notes::mid_and_fields(self.conn(), c.note_id)?;
        let (front, back) = Sides::load(self)?.render(mid, c.ord, &flds);
        let rendering = Renderer::load(self)?.render_card(self, &c, false)?;
        let conf = self.deck_config_for(c.home_deck_id())?;
        let collapse = crate::queue::learn_ahead(col_conf);
        let intervals = self
            .balanced_intervals(&c, &conf, col_conf, timing, balance)?
            .map(|i| sched::button_label(i, collapse));
        Ok(NextCard {
            card_id: c.id,
            note_id: c.note_id,
            front,
            back,
            queue: i64::from(c.queue),
            deck_id: c.deck_id,
            intervals,
            rendering,
            counts: DueCounts::default(),
        })
    }

    /// Answer a card with `ease` (1 Again … 4 Easy) at the clock's current instant.
    ///
    /// Suspended and buried cards are refused (`InvalidInput`): they are not in any study
    /// queue, so an answer for one is a stale or forged request. Cards not yet due are
    /// answered as if on time, as Anki does outside filtered decks; a filtered deck's card is
    /// answered as that deck studies it (`filtered`).
    pub fn answer_card(
        &self,
        card_id: i64,
        ease: i64,
        taken_ms: Option<i64>,
    ) -> Result<AnswerResult> {
        let ease = Ease::try_from(ease)?;
        let (result, after) = self
            .atomic(|c| {
                let card = storage::cards::get(c.conn(), card_id)?.ok_or_else(|| {
                    CollectionError::NotFound(format!("card {card_id} not found"))
                })?;
                if card.queue.is_out_of_queues() {
                    return Err(CollectionError::InvalidInput(format!(
                        "card {card_id} is suspended or buried and cannot be answered"
                    )));
                }
                // One clock read: the revlog id, `lrt` and the learning due all derive from it.
                let now_ms = c.clock().now_ms();
                let now_secs = now_ms.div_euclid(1000);
                let col_conf = c.read_json_shared(ColJson::Conf)?;
                let timing = c.timing_at(&col_conf, now_secs)?;
                let session = c.session_before_answer(&col_conf, &timing)?;
                let after = c.queue_cache_before_answer(&card, session.as_ref())?;
                c.refresh_local_offset(&col_conf, now_secs)?;
                let conf = c.deck_config_for(card.home_deck_id())?;
                let max_taken_ms = i64::from(conf.max_taken_secs) * 1000;
                let taken = taken_ms.unwrap_or(0).clamp(0, max_taken_ms);
                // Anki's load balancer (on by default) re-picks fuzzed intervals from the day
                // counts its queue keeps; answered outside a study session, nothing is balanced.
                let balance = c.load_balance(&card, &col_conf, &timing, session.as_ref())?;
                let studied = c.studied(&card)?;
                // FSRS (when the collection has it on) replaces the SM-2 intervals; a preview
                // deck schedules nothing.
                let fsrs_in = match studied {
                    Studied::Scheduled(_) => c.card_fsrs(&card, &col_conf, &timing)?,
                    Studied::Preview { .. } => None,
                };
                let (outcome, fsrs_write) = match (studied, fsrs_in) {
                    (
                        Studied::Preview {
                            original_due,
                            delays,
                        },
                        _,
                    ) => (
                        sched::answer_preview(
                            &card.sched(),
                            original_due,
                            delays,
                            &conf,
                            &timing,
                            ease,
                            taken,
                        ),
                        None,
                    ),
                    (Studied::Scheduled(studied_in), Some(f)) => {
                        let a = sched::fsrs::answer_fsrs_balanced(
                            &card.sched(),
                            &conf,
                            &f.settings,
                            f.input,
                            &timing,
                            ease,
                            taken,
                            balance.as_ref(),
                            studied_in,
                        )?;
                        let write = fsrs::FsrsWrite {
                            memory: a.memory,
                            desired_retention: f.settings.desired_retention,
                            decay: f.settings.decay(),
                        };
                        (a.outcome, Some(write))
                    }
                    (Studied::Scheduled(studied_in), None) => (
                        sched::answer_balanced(
                            &card.sched(),
                            &conf,
                            &timing,
                            ease,
                            taken,
                            balance.as_ref(),
                            studied_in,
                        ),
                        None,
                    ),
                };

                let was_new = card.queue == CardQueue::New;
                // A preview neither reviews the card (no `lrt`) nor studies it for the first
                // time (Anki keeps no position), so its data stays.
                let data = match studied {
                    Studied::Scheduled(studied_in) => fsrs::answered_card_data(
                        &card.data,
                        was_new.then_some(studied_in.due_of(&card.sched())),
                        now_secs,
                        fsrs_write.as_ref(),
                    ),
                    Studied::Preview { .. } => card.data.clone(),
                };
                let s = outcome.card;
                storage::cards::set_scheduling(c.conn(), &s, now_secs, &data)?;
                let rid = c.next_id_at(IdTable::Revlog, now_ms)?;
                if let Some(borrow) = outcome.borrow {
                    let day_start_ms = (timing.next_day_at - 86_400) * 1000;
                    filtered::apply_borrow(c.conn(), &card, borrow, rid, day_start_ms)?;
                }
                let rl = outcome.revlog;
                storage::revlog::insert(
                    c.conn(),
                    &RevlogEntry {
                        id: rid,
                        card_id,
                        usn: -1,
                        ease: Some(rl.ease),
                        ivl: rl.ivl,
                        last_ivl: rl.last_ivl,
                        factor: rl.factor,
                        time_ms: rl.time_ms,
                        kind: rl.kind,
                    },
                )?;
                c.bury_siblings_after_answer(&card, now_secs)?;
                if outcome.leeched {
                    c.tag_note(card.note_id, "leech", now_secs)?;
                }
                c.touch()?;
                let finished_preview = matches!(studied, Studied::Preview { .. })
                    && outcome.borrow == Some(sched::Borrow::Returned);
                c.queue_after_answer(session, &card, &s, &timing, finished_preview)?;
                let result = AnswerResult {
                    new_due_secs: due_epoch_secs(&s, &timing),
                    interval_days: s.ivl,
                    queue: i64::from(s.queue),
                };
                Ok((result, after))
            })
            .inspect_err(|_| self.queue_cache_after_answer(None))?;
        self.queue_cache_after_answer(after);
        Ok(result)
    }

    /// The four button intervals as Anki's study screen shows them: with the load balancer's
    /// picks when the queue has one (FSRS's intervals when the collection has it on).
    fn balanced_intervals(
        &self,
        card: &Card,
        conf: &DeckConfig,
        col_conf: &JsonObject,
        timing: &Timing,
        balance: Option<&LoadBalance>,
    ) -> Result<[NextInterval; 4]> {
        let studied_in = match self.studied(card)? {
            Studied::Preview { delays, .. } => {
                return Ok(sched::next_intervals_preview(delays, timing));
            }
            Studied::Scheduled(studied_in) => studied_in,
        };
        match self.card_fsrs(card, col_conf, timing)? {
            Some(f) => sched::fsrs::next_intervals_fsrs_balanced(
                &card.sched(),
                conf,
                &f.settings,
                f.input,
                timing,
                balance,
                studied_in,
            )
            .map_err(CollectionError::Fsrs),
            None => Ok(sched::next_intervals_balanced(
                &card.sched(),
                conf,
                timing,
                balance,
                studied_in,
            )),
        }
    }

    fn tag_note(&self, note_id: i64, tag: &str, now_secs: i64) -> Result<()> {
        let tags = storage::notes::tags(self.conn(), note_id)?;
        if let Some(new_tags) = tags.and_then(|t| add_tag(&t, tag)) {
            storage::notes::set_tags(self.conn(), note_id, &new_tags, now_secs)?;
        }
        Ok(())
    }
}

/// The deck list's three numbers for one deck (with its subdecks), or the study screen's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DueCounts {
    pub new: i64,
    pub learn: i64,
    pub review: i64,
}

impl Collection {
    /// The collection's learn-ahead limit (`collapseTime`), seconds.
    pub fn learn_ahead_secs(&self) -> Result<i64> {
        Ok(crate::queue::learn_ahead(
            &*self.read_json_shared(ColJson::Conf)?,
        ))
    }
}

/// `due` as epoch seconds: as stored for intraday learning, otherwise the start (rollover) of
/// the due day. A suspended card (leech) keeps the unit of the queue it left, told apart by
/// magnitude as Anki does.
fn due_epoch_secs(s: &CardState, timing: &Timing) -> i64 {
    let is_epoch = matches!(s.queue, CardQueue::Learn | CardQueue::PreviewRepeat)
        || (s.queue.is_out_of_queues() && s.due >= EPOCH_SECS_THRESHOLD);
    if is_epoch {
        s.due
    } else {
        let today_start = timing.next_day_at - 86_400;
        today_start + (s.due - timing.days_elapsed) * 86_400
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::Clock;
    use crate::schema::DEFAULT_DECK_ID;
    use crate::testutil::{T0_MS, count, empty};

    /// 2024-01-01 04:00 UTC: the collection's `crt` and the start of day 0.
    const DAY0: i64 = 1_704_081_600;

    fn next_id(col: &Collection) -> Option<i64> {
        match col.next_card().unwrap() {
            Study::Card(c) => Some(c.card_id),
            Study::Nothing(_) => None,
        }
    }

    /// A change made behind the engine's back, announced as Anki's clients do (`col.mod`), so
    /// that the study queue is built afresh.
    fn changed(col: &Collection, clock: &crate::ManualClock) {
        clock.advance_ms(1);
        col.touch().unwrap();
    }

    fn set_card(col: &Collection, id: i64, sql_set: &str) {
        col.conn()
            .execute(&format!("UPDATE cards SET {sql_set} WHERE id = ?1"), [id])
            .unwrap();
    }

    fn set_dconf(col: &Collection, section: &str, key: &str, v: Value) {
        let mut dconf = col.read_json(ColJson::Dconf).unwrap();
        dconf["1"][section][key] = v;
        col.write_json(ColJson::Dconf, &dconf).unwrap();
    }

    #[test]
    fn nothing_to_study_says_why() {
        let (col, _) = empty();
        assert_eq!(
            col.next_card().unwrap(),
            Study::Nothing(NothingToStudy::NoCards)
        );
        let a = col.add_card("q", "a", None).unwrap();
        set_card(
            &col,
            a.card_id,
            "type = 2, queue = 2, ivl = 5, due = 5, factor = 2500",
        );
        assert_eq!(
            col.next_card().unwrap(),
            Study::Nothing(NothingToStudy::NothingDueNow)
        );
        set_card(&col, a.card_id, "queue = -1, due = 0");
        assert_eq!(
            col.next_card().unwrap(),
            Study::Nothing(NothingToStudy::NothingDueNow)
        );
        for m in [
            NothingToStudy::NoCards,
            NothingToStudy::NewLimitReached,
            NothingToStudy::ReviewLimitReached,
            NothingToStudy::NothingDueNow,
        ] {
            assert!(!m.message().is_empty());
        }
    }

    #[test]
    fn queue_order_learning_then_reviews_then_new_then_learn_ahead() {
        let (col, clock) = empty();
        let now = clock.now_secs();
        let new2 = col.add_card("new 2", "a", None).unwrap().card_id;
        let new1 = col.add_card("new 1", "a", None).unwrap().card_id;
        set_card(&col, new2, "due = 9");
        let review = col.add_card("review", "a", None).unwrap().card_id;
        set_card(
            &col,
            review,
            "type = 2, queue = 2, ivl = 3, due = 0, factor = 2500",
        );
        let day_learn = col.add_card("day learn", "a", None).unwrap().card_id;
        set_card(&col, day_learn, "type = 1, queue = 3, due = 0, left = 1");
        let learn_now = col.add_card("learn now", "a", None).unwrap().card_id;
        col.conn()
            .execute(
                "UPDATE cards SET type = 1, queue = 1, left = 1, due = ?2 WHERE id = ?1",
                [learn_now, now],
            )
            .unwrap();
        let learn_soon = col.add_card("learn soon", "a", None).unwrap().card_id;
        col.conn()
            .execute(
                "UPDATE cards SET type = 1, queue = 1, left = 1, due = ?2 WHERE id = ?1",
                [learn_soon, now + 600],
            )
            .unwrap();
        let later = col.add_card("learn later", "a", None).unwrap().card_id;
        col.conn()
            .execute(
                "UPDATE cards SET type = 1, queue = 1, left = 1, due = ?2 WHERE id = ?1",
                [later, now + 3600],
            )
            .unwrap();
        // Other decks never leak into the current deck's queue.
        let other = col.create_deck("Other").unwrap();
        let foreign = col
            .add_card("foreign", "a", Some(other.id))
            .unwrap()
            .card_id;
        set_card(
            &col,
            foreign,
            "type = 2, queue = 2, ivl = 3, due = 0, factor = 2500",
        );

        let mut order = Vec::new();
        while let Some(id) = next_id(&col) {
            order.push(id);
            // A bury is a change other than an answer: the queue is built afresh, and the
            // new cards are mixed in with what is left of the reviews and interday learning.
            clock.advance_ms(1);
            col.card_action(id, crate::CardAction::Bury).unwrap();
        }
        assert_eq!(
            order,
            [learn_now, review, new1, day_learn, new2, learn_soon]
        );
        assert_eq!(
            col.next_card().unwrap(),
            Study::Nothing(NothingToStudy::NothingDueNow)
        );
    }

    #[test]
    fn subdecks_are_included() {
        let (col, _) = empty();
        let parent = col.create_deck("P").unwrap();
        let child = col.create_deck("P::C").unwrap();
        let a = col.add_card("child card", "a", Some(child.id)).unwrap();
        col.set_current_deck(parent.id).unwrap();
        let Study::Card(c) = col.next_card().unwrap() else {
            panic!("expected a card")
        };
        assert_eq!(
            (
                c.card_id,
                c.deck_id,
                c.front.as_str(),
                c.back.as_str(),
                c.queue
            ),
            (a.card_id, child.id, "child card", "a", 0)
        );
        col.set_current_deck(DEFAULT_DECK_ID).unwrap();
        assert_eq!(
            col.next_card().unwrap(),
            Study::Nothing(NothingToStudy::NoCards)
        );
    }

    #[test]
    fn intervals_label_the_four_buttons() {
        let (col, _) = empty();
        col.add_card("q", "a", None).unwrap();
        let Study::Card(c) = col.next_card().unwrap() else {
            panic!("expected a card")
        };
        // Within the 20-minute learn-ahead limit, Anki marks the delays with "<".
        assert_eq!(c.intervals[..3], ["<1m", "<6m", "<10m"]);
        // Easy's 4 days are fuzzed (3-5 d), seeded by the card id, as on Anki's own buttons.
        assert!(
            ["3d", "4d", "5d"].contains(&c.intervals[3].as_str()),
            "{:?}",
            c.intervals
        );
    }

    #[test]
    fn daily_new_limit_counts_todays_first_answers() {
        let (col, clock) = empty();
        set_dconf(&col, "new", "perDay", 2.into());
        for i in 0..4 {
            col.add_card(&format!("q{i}"), "a", None).unwrap();
        }
        for _ in 0..2 {
            let id = next_id(&col).unwrap();
            col.answer_card(id, 4, None).unwrap(); // Easy: graduates, due in days
        }
        assert_eq!(
            col.next_card().unwrap(),
            Study::Nothing(NothingToStudy::NewLimitReached)
        );
        // The limit resets at the next rollover (04:00 UTC tomorrow), not at midnight.
        clock.set_secs(DAY0 + 86_400 - 1);
        assert_eq!(
            col.next_card().unwrap(),
            Study::Nothing(NothingToStudy::NewLimitReached)
        );
        clock.set_secs(DAY0 + 86_400);
        assert!(next_id(&col).is_some());
    }

    /// Issue 11 row 2: the review limit caps reviews, and new cards count against it and are
    /// held back by the due reviews (Anki's v3 default).
    #[test]
    fn review_limit_caps_reviews_and_holds_back_new_cards() {
        let (col, clock) = empty();
        set_dconf(&col, "rev", "perDay", 3.into());
        set_dconf(&col, "new", "perDay", 5.into());
        let mut reviews = Vec::new();
        for i in 0..4 {
            let id = col.add_card(&format!("r{i}"), "a", None).unwrap().card_id;
            set_card(
                &col,
                id,
                "type = 2, queue = 2, ivl = 3, due = 0, factor = 2500",
            );
            reviews.push(id);
        }
        let new = col.add_card("new", "a", None).unwrap().card_id;
        // 4 due, limit 3: three reviews are served, then the limit stops both the fourth
        // review and the new card (new cards may only use what reviews leave of the limit).
        let mut served = Vec::new();
        while let Some(id) = next_id(&col) {
            assert_ne!(id, new, "a new card was served past the review limit");
            col.answer_card(id, 3, None).unwrap();
            served.push(id);
            assert!(served.len() <= 3, "{served:?}");
        }
        assert_eq!(served.len(), 3);
        assert_eq!(
            col.next_card().unwrap(),
            Study::Nothing(NothingToStudy::ReviewLimitReached)
        );
        // With the collection option "new cards ignore the review limit", the new card comes.
        let mut conf = col.read_json(ColJson::Conf).unwrap();
        conf.insert("newCardsIgnoreReviewLimit".into(), true.into());
        col.write_json(ColJson::Conf, &conf).unwrap();
        changed(&col, &clock);
        assert_eq!(next_id(&col), Some(new));
        // A deck's own "today only" limit overrides its preset's.
        let today = col
            .timing_at(&conf, col.clock().now_secs())
            .unwrap()
            .days_elapsed;
        let mut decks = col.read_json(ColJson::Decks).unwrap();
        decks["1"]["reviewLimitToday"] = serde_json::json!({"limit": 10, "today": today});
        col.write_json(ColJson::Decks, &decks).unwrap();
        changed(&col, &clock);
        let left = reviews.iter().find(|id| !served.contains(id)).copied();
        assert_eq!(next_id(&col), left);
    }

    #[test]
    fn due_counts_follow_the_limits() {
        let (col, clock) = empty();
        set_dconf(&col, "rev", "perDay", 3.into());
        set_dconf(&col, "new", "perDay", 5.into());
        for i in 0..4 {
            let id = col.add_card(&format!("r{i}"), "a", None).unwrap().card_id;
            set_card(
                &col,
                id,
                "type = 2, queue = 2, ivl = 3, due = 0, factor = 2500",
            );
        }
        for i in 0..2 {
            col.add_card(&format!("n{i}"), "a", None).unwrap();
        }
        let learn = col.add_card("l", "a", None).unwrap().card_id;
        col.conn()
            .execute(
                "UPDATE cards SET type = 1, queue = 1, left = 1, due = ?2 WHERE id = ?1",
                [learn, clock.now_secs() + 60],
            )
            .unwrap();
        // 4 reviews due, limit 3: 3 reviews, and no room left for new cards.
        assert_eq!(
            col.due_counts(DEFAULT_DECK_ID).unwrap(),
            DueCounts {
                new: 0,
                learn: 1,
                review: 3
            }
        );
        set_dconf(&col, "rev", "perDay", 100.into());
        assert_eq!(
            col.due_counts(DEFAULT_DECK_ID).unwrap(),
            DueCounts {
                new: 2,
                learn: 1,
                review: 4
            }
        );
    }

    #[test]
    fn the_whole_deck_list_counts_as_each_deck_alone() {
        let (col, _clock) = empty();
        set_dconf(&col, "rev", "perDay", 3.into());
        set_dconf(&col, "new", "perDay", 2.into());
        let names = ["P", "P::a", "P::a::x", "P::b", "Q"];
        let ids: Vec<i64> = names
            .iter()
            .map(|n| col.create_deck(n).unwrap().id)
            .collect();
        for (k, did) in ids.iter().enumerate() {
            for i in 0..(k + 2) {
                let id = col
                    .add_card(&format!("{k} r{i}"), "a", Some(*did))
                    .unwrap()
                    .card_id;
                set_card(&col, id, "type = 2, queue = 2, ivl = 3, due = 0");
                col.add_card(&format!("{k} n{i}"), "a", Some(*did)).unwrap();
            }
        }
        let all = col.all_due_counts().unwrap();
        let mut capped = 0;
        for did in ids.iter().chain([&DEFAULT_DECK_ID]) {
            let one = col.due_counts(*did).unwrap();
            assert_eq!(all[did], one, "deck {did}");
            capped += usize::from(one.review == 3);
        }
        // The limits bit somewhere, so the subtrees' sums were capped, not just added.
        assert!(capped >= 2, "{all:?}");
    }

    #[test]
    fn answer_writes_card_and_revlog_like_anki() {
        let (col, clock) = empty();
        let a = col.add_card("q", "a", None).unwrap();
        clock.advance_ms(1234);
        let now_ms = clock.now_ms();
        let r = col.answer_card(a.card_id, 3, Some(1500)).unwrap();
        let card: (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, String) = col
            .conn()
            .query_row(
                "SELECT type, queue, due, ivl, factor, reps, lapses, left, mod, usn, data FROM cards WHERE id = ?1",
                [a.card_id],
                |r| {
                    Ok((
                        r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?,
                        r.get(8)?, r.get(9)?, r.get(10)?,
                    ))
                },
            )
            .unwrap();
        let now = now_ms / 1000;
        let (ctype, queue, due, ivl, factor, reps, lapses, left, cmod, usn, data) = card;
        assert_eq!(
            (ctype, queue, ivl, factor, reps, lapses, left, cmod, usn),
            (1, 1, 0, 0, 1, 0, 1, now, -1)
        );
        // Second step 10 min plus Anki's learning fuzz (0-25 %, at most 5 min).
        assert!((now + 600..now + 750).contains(&due), "due {due}");
        assert_eq!(data, format!(r#"{{"pos":1,"lrt":{now}}}"#));
        assert_eq!(
            r,
            AnswerResult {
                new_due_secs: due,
                interval_days: 0,
                queue: 1
            }
        );

        let revlog: (i64, i64, i64, i64, i64, i64, i64, i64, i64) = col
            .conn()
            .query_row(
                "SELECT id, cid, usn, ease, ivl, lastIvl, factor, time, type FROM revlog",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                        r.get(8)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(revlog, (now_ms, a.card_id, -1, 3, -600, 0, 0, 1500, 0));
        assert_eq!(count(&col, "SELECT mod FROM col"), now_ms);
    }

    #[test]
    fn same_millisecond_answers_get_unique_revlog_ids_and_time_is_capped() {
        let (col, _) = empty();
        let a = col.add_card("q", "a", None).unwrap();
        col.answer_card(a.card_id, 1, Some(600_000)).unwrap();
        col.answer_card(a.card_id, 1, Some(-5)).unwrap();
        let rows: Vec<(i64, i64)> = col
            .conn()
            .prepare("SELECT id, time FROM revlog ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows, [(T0_MS, 60_000), (T0_MS + 1, 0)]);
    }

    #[test]
    fn review_answer_reports_due_as_start_of_day() {
        let (col, _) = empty();
        let a = col.add_card("q", "a", None).unwrap();
        set_card(
            &col,
            a.card_id,
            "type = 2, queue = 2, ivl = 1, due = 0, factor = 2500, reps = 3",
        );
        let r = col.answer_card(a.card_id, 3, None).unwrap();
        let due: i64 = col
            .conn()
            .query_row("SELECT due FROM cards", [], |r| r.get(0))
            .unwrap();
        assert_eq!(r.queue, 2);
        assert_eq!(r.new_due_secs, DAY0 + due * 86_400);
        assert_eq!(r.interval_days, due, "answered on day 0, due = today + ivl");
        let data: String = col
            .conn()
            .query_row("SELECT data FROM cards", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            data,
            format!(r#"{{"lrt":{}}}"#, T0_MS / 1000),
            "no pos for a card that was not new"
        );
    }

    #[test]
    fn leech_tags_the_note_in_anki_format() {
        let (col, clock) = empty();
        let a = col.add_card("q", "a", None).unwrap();
        col.conn()
            .execute("UPDATE notes SET tags = ' zeta Alpha '", [])
            .unwrap();
        set_card(
            &col,
            a.card_id,
            "type = 2, queue = 2, ivl = 10, due = 0, factor = 2500, reps = 20, lapses = 7",
        );
        clock.advance_ms(7_000);
        col.answer_card(a.card_id, 1, None).unwrap();
        let (tags, nmod, usn): (String, i64, i64) = col
            .conn()
            .query_row("SELECT tags, mod, usn FROM notes", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(
            (tags.as_str(), nmod, usn),
            (" Alpha leech zeta ", clock.now_secs(), -1)
        );
        assert_eq!(add_tag(" leech ", "leech"), None);
        assert_eq!(add_tag("", "leech").as_deref(), Some(" leech "));
    }

    #[test]
    fn leech_action_suspend_suspends() {
        let (col, _) = empty();
        set_dconf(&col, "lapse", "leechAction", 0.into());
        let a = col.add_card("q", "a", None).unwrap();
        set_card(
            &col,
            a.card_id,
            "type = 2, queue = 2, ivl = 10, due = 0, factor = 2500, reps = 20, lapses = 7",
        );
        let r = col.answer_card(a.card_id, 1, None).unwrap();
        assert_eq!(r.queue, -1);
        assert!(matches!(
            col.answer_card(a.card_id, 3, None),
            Err(CollectionError::InvalidInput(_))
        ));
    }

    #[test]
    fn answer_rejects_bad_requests_without_writing() {
        let (col, _) = empty();
        let a = col.add_card("q", "a", None).unwrap();
        for ease in [0, 5, -1] {
            assert!(matches!(
                col.answer_card(a.card_id, ease, None),
                Err(CollectionError::InvalidEase(_))
            ));
        }
        assert!(matches!(
            col.answer_card(42, 3, None),
            Err(CollectionError::NotFound(_))
        ));
        set_card(&col, a.card_id, "queue = -2");
        assert!(matches!(
            col.answer_card(a.card_id, 3, None),
            Err(CollectionError::InvalidInput(_))
        ));
        assert_eq!(count(&col, "SELECT count(*) FROM revlog"), 0);
    }

    #[test]
    fn card_data_keeps_unknown_keys_in_anki_order() {
        let out = fsrs::answered_card_data(r#"{"cd":{"x":1},"pos":7}"#, None, 99, None);
        assert_eq!(out, r#"{"pos":7,"lrt":99,"cd":{"x":1}}"#);
        assert_eq!(
            fsrs::answered_card_data("", Some(3), 5, None),
            r#"{"pos":3,"lrt":5}"#
        );
        assert_eq!(
            fsrs::answered_card_data("not json", None, 5, None),
            r#"{"lrt":5}"#
        );
    }
}
