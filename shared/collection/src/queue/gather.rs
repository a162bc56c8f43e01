//! Gathering the cards of a study queue, as Anki's `QueueBuilder::gather_cards` does: intraday
//! learning (all of today's, never limited), then interday learning and reviews against the
//! review limits, then new cards against the new limits, each card taken from a deck only
//! while that deck and its ancestors have limit left ([`LimitTree`]), and siblings left out
//! when an earlier-gathered card of the note buries them (the queue never offers what an
//! answer would bury).

use std::collections::HashMap;

use rusqlite::{Connection, Row, params};

use super::limits::{LimitKind, LimitTree};
use super::mix::Mix;
use super::order::{self, Gather, NewSorting, ReviewKeys, ReviewOrder};
use crate::Result;
use crate::fsrs::CardData;

/// Cards of the active decks: `?1` is a JSON array of deck ids.
macro_rules! in_active {
    () => {
        "did IN (SELECT value FROM json_each(?1))"
    };
}

/// Intraday learning and preview cards due today. Ordered as Anki's statement reads them
/// (through the `(did, queue, due)` index), which decides ties of the stable sort after it.
const INTRADAY_SQL: &str = concat!(
    "SELECT id, due, reps, nid, did, odid, queue FROM cards WHERE ",
    in_active!(),
    " AND queue IN (1, 4) AND due <= ?2 ORDER BY did, queue, due, id"
);

const DUE_SQL: &str = concat!(
    "SELECT id, nid, due, ivl, mod, did, odid, reps, ord, factor, data FROM cards WHERE ",
    in_active!(),
    " AND queue = ?2 AND due <= ?3"
);

const NEW_COLUMNS: &str = "SELECT id, nid, ord, due, did, odid FROM cards WHERE ";

/// One intraday learning card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LearnEntry {
    pub id: i64,
    /// Epoch seconds (as the queue holds it: see the session's requeue adjustment).
    pub due: i64,
    pub reps: i64,
    /// Its deck and queue (1 learning, 4 preview): with the id, the statement's order.
    pub deck: i64,
    pub queue: i64,
}

impl LearnEntry {
    /// Anki's `cmp_by_reps_then_due`: cards answered before come first, then by due.
    pub(crate) fn sort_key(&self) -> (bool, i64) {
        (self.reps == 0, self.due)
    }

    /// Where gathering places it: [`Self::sort_key`], then the statement's order.
    pub(crate) fn gather_key(&self) -> (bool, i64, i64, i64, i64) {
        (self.reps == 0, self.due, self.deck, self.queue, self.id)
    }
}

/// A review or interday learning card.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DueCard {
    pub id: i64,
    pub note_id: i64,
    pub due: i64,
    pub ivl: i64,
    pub deck_id: i64,
    pub home_deck_id: i64,
    pub template: i64,
    /// The deck's place among the active decks (Anki's `active_decks` row).
    pub deck_pos: usize,
}

/// A new card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NewCard {
    pub id: i64,
    pub note_id: i64,
    pub template: i64,
    pub position: i64,
    pub deck_id: i64,
    pub home_deck_id: i64,
}

/// Which sibling queues a preset buries.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct BuryMode {
    pub new: bool,
    pub reviews: bool,
    pub interday: bool,
}

/// The selected deck's preset options that order its queue.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SortOptions {
    pub gather: Gather,
    pub new_sort: i32,
    pub review_order: ReviewOrder,
    pub day_learn_mix: Mix,
    pub new_mix: Mix,
}

impl Default for SortOptions {
    /// A filtered deck's: positions, no sibling spacing (Anki's `NoSort`).
    fn default() -> Self {
        Self {
            gather: Gather::Deck,
            new_sort: 1,
            review_order: ReviewOrder::Day,
            day_learn_mix: Mix::Mixed,
            new_mix: Mix::Mixed,
        }
    }
}

/// Everything gathering needs, read from the collection once.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub today: i64,
    pub now: i64,
    pub next_day_at: i64,
    /// The selected deck and its subdecks, sorted by name (JSON array for SQL, and ids).
    pub active_json: String,
    pub active: Vec<i64>,
    pub bury: HashMap<i64, BuryMode>,
    pub limits: LimitTree,
    pub options: SortOptions,
    pub fsrs: bool,
}

/// The gathered cards, each list in its final order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Gathered {
    pub learning: Vec<LearnEntry>,
    pub day_learning: Vec<DueCard>,
    pub reviews: Vec<DueCard>,
    pub new: Vec<NewCard>,
}

/// Gathering state: the plan's limits as they are used up, and the notes seen so far.
struct Gatherer<'a> {
    conn: &'a Connection,
    plan: &'a mut Plan,
    seen: HashMap<i64, BuryMode>,
    out: Gathered,
}

pub(crate) fn gather(conn: &Connection, plan: &mut Plan) -> Result<Gathered> {
    let mut g = Gatherer {
        conn,
        plan,
        seen: HashMap::new(),
        out: Gathered::default(),
    };
    g.intraday()?;
    g.due(true)?;
    g.due(false)?;
    g.new_cards()?;
    let day = g.plan.today;
    order::sort_new(&mut g.out.new, g.plan.options.new_sort, day);
    Ok(g.out)
}

impl Gatherer<'_> {
    /// Anki's `get_and_update_bury_mode_for_note`: the note's mode before this card (what
    /// earlier siblings bury), and this card's preset joins it.
    fn see(&mut self, note_id: i64, home_deck_id: i64) -> Option<BuryMode> {
        let mode = self
            .plan
            .bury
            .get(&home_deck_id)
            .copied()
            .unwrap_or_default();
        let mut previous = None;
        self.seen
            .entry(note_id)
            .and_modify(|e| {
                previous = Some(*e);
                e.new |= mode.new;
                e.reviews |= mode.reviews;
                e.interday |= mode.interday;
            })
            .or_insert(mode);
        previous
    }

    fn intraday(&mut self) -> Result<()> {
        let rows = intraday_rows(self.conn, &self.plan.active_json, self.plan.next_day_at)?;
        let mut learning = Vec::with_capacity(rows.len());
        for (entry, nid, home) in rows {
            self.see(nid, home);
            learning.push(entry);
        }
        // Stable, as Anki's: ties keep the statement's order.
        learning.sort_by_key(LearnEntry::sort_key);
        self.out.learning = learning;
        Ok(())
    }

    /// Interday learning (`day_learn`) or review cards due today, in the review order,
    /// within the review limits.
    fn due(&mut self, day_learn: bool) -> Result<()> {
        if self.plan.limits.root_limit_reached(LimitKind::Review) {
            return Ok(());
        }
        let queue = if day_learn { 3 } else { 2 };
        let order = self.plan.options.review_order;
        let pos: HashMap<i64, usize> = self
            .plan
            .active
            .iter()
            .enumerate()
            .map(|(i, d)| (*d, i))
            .collect();
        let mut cards = Vec::new();
        {
            let mut stmt = self.conn.prepare_cached(DUE_SQL)?;
            let mut rows = stmt.query(params![self.plan.active_json, queue, self.plan.today])?;
            while let Some(r) = rows.next()? {
                cards.push(self.due_row(r, &pos, order)?);
            }
        }
        order::sort_reviews(&mut cards, order, self.plan.fsrs);
        for (card, _) in cards {
            if self.plan.limits.root_limit_reached(LimitKind::Review) {
                break;
            }
            if self
                .plan
                .limits
                .limit_reached(card.deck_id, LimitKind::Review)
            {
                continue;
            }
            let buried = self
                .see(card.note_id, card.home_deck_id)
                .is_some_and(|m| if day_learn { m.interday } else { m.reviews });
            if !buried {
                self.plan.limits.decrement(card.deck_id, LimitKind::Review);
                if day_learn {
                    self.out.day_learning.push(card);
                } else {
                    self.out.reviews.push(card);
                }
            }
        }
        Ok(())
    }

    fn due_row(
        &self,
        r: &Row<'_>,
        pos: &HashMap<i64, usize>,
        order: ReviewOrder,
    ) -> Result<(DueCard, ReviewKeys)> {
        let (id, mtime, did, odid): (i64, i64, i64, i64) =
            (r.get(0)?, r.get(4)?, r.get(5)?, r.get(6)?);
        let card = DueCard {
            id,
            note_id: r.get(1)?,
            due: r.get(2)?,
            ivl: r.get(3)?,
            deck_id: did,
            home_deck_id: if odid != 0 { odid } else { did },
            template: r.get(8)?,
            deck_pos: pos.get(&did).copied().unwrap_or(usize::MAX),
        };
        let factor: i64 = r.get(9)?;
        let primary = match order {
            ReviewOrder::EaseAscending | ReviewOrder::EaseDescending => {
                if self.plan.fsrs {
                    let data: String = r.get(10)?;
                    CardData::parse(&data).difficulty.map(f64::from)
                } else {
                    Some(factor as f64)
                }
            }
            ReviewOrder::RetrievabilityAscending | ReviewOrder::RetrievabilityDescending => {
                let data: String = r.get(10)?;
                super::fsrs_keys::retrievability(&data, &card, self.plan).map(f64::from)
            }
            ReviewOrder::RelativeOverdueness => {
                if self.plan.fsrs {
                    let data: String = r.get(10)?;
                    super::fsrs_keys::relative_retrievability(&data, &card, self.plan)
                        .map(f64::from)
                } else if card.ivl == 0 {
                    // SQLite divides by zero to NULL.
                    None
                } else {
                    // Anki's `-(1 + cast(today - due + 0.001 as real) / ivl)`.
                    Some(-(1.0 + ((self.plan.today - card.due) as f64 + 0.001) / card.ivl as f64))
                }
            }
            _ => None,
        };
        Ok((
            card,
            ReviewKeys {
                primary,
                random: order::sql_fnv(&[id, mtime]),
            },
        ))
    }

    fn new_cards(&mut self) -> Result<()> {
        let salt = order::knuth_salt(self.plan.today);
        match self.plan.options.gather {
            Gather::Deck => self.new_by_deck(NewSorting::LowestPosition),
            Gather::DeckThenRandomNotes => self.new_by_deck(NewSorting::RandomNotes(salt)),
            Gather::LowestPosition => self.new_sorted(NewSorting::LowestPosition),
            Gather::HighestPosition => self.new_sorted(NewSorting::HighestPosition),
            Gather::RandomNotes => self.new_sorted(NewSorting::RandomNotes(salt)),
            Gather::RandomCards => self.new_sorted(NewSorting::RandomCards(salt)),
        }
    }

    /// Anki's `add_new_card`: false when an earlier sibling buries it.
    fn add_new(&mut self, card: NewCard) -> bool {
        let buried = self
            .see(card.note_id, card.home_deck_id)
            .is_some_and(|m| m.new);
        if !buried {
            self.out.new.push(card);
        }
        !buried
    }

    /// Deck by deck (sorted by name), each deck's cards in `sorting` until its limit is used.
    fn new_by_deck(&mut self, sorting: NewSorting) -> Result<()> {
        let active = self.plan.active.clone();
        for did in active {
            if self.plan.limits.root_limit_reached(LimitKind::New) {
                break;
            }
            if self.plan.limits.limit_reached(did, LimitKind::New) {
                continue;
            }
            let sql_in = "did = ?1 AND queue = 0";
            self.each_new(sql_in, &did.to_string(), sorting, |g, card| {
                if g.plan.limits.limit_reached(did, LimitKind::New) {
                    return false;
                }
                if g.add_new(card) {
                    g.plan.limits.decrement(did, LimitKind::New);
                }
                true
            })?;
        }
        Ok(())
    }

    /// Across the active decks in one order, each card within its deck's limit.
    fn new_sorted(&mut self, sorting: NewSorting) -> Result<()> {
        let active = self.plan.active_json.clone();
        let sql_in = concat!(in_active!(), " AND queue = 0");
        self.each_new(sql_in, &active, sorting, |g, card| {
            if g.plan.limits.root_limit_reached(LimitKind::New) {
                return false;
            }
            if !g.plan.limits.limit_reached(card.deck_id, LimitKind::New) && g.add_new(card) {
                g.plan.limits.decrement(card.deck_id, LimitKind::New);
            }
            true
        })
    }

    /// Visit new cards matching `filter` in `sorting` until `f` says stop. Position orders
    /// are read in order from the index (a deck of thousands stops after its limit); the
    /// random orders need every card's hash first.
    fn each_new(
        &mut self,
        filter: &str,
        param: &str,
        sorting: NewSorting,
        mut f: impl FnMut(&mut Self, NewCard) -> bool,
    ) -> Result<()> {
        let order_by = match sorting {
            NewSorting::LowestPosition => " ORDER BY due, ord, id",
            NewSorting::HighestPosition => " ORDER BY due DESC, ord, id",
            NewSorting::RandomNotes(_) | NewSorting::RandomCards(_) => "",
        };
        let sql = format!("{NEW_COLUMNS}{filter}{order_by}");
        let conn = self.conn;
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([param])?;
        if order_by.is_empty() {
            let mut cards = Vec::new();
            while let Some(r) = rows.next()? {
                cards.push(new_row(r)?);
            }
            order::sort_for_gathering(&mut cards, sorting);
            for c in cards {
                if !f(self, c) {
                    break;
                }
            }
        } else {
            while let Some(r) = rows.next()? {
                if !f(self, new_row(r)?) {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// Intraday learning cards due by `due_by` with their note and home deck, in the statement's
/// order.
fn intraday_rows(
    conn: &Connection,
    active_json: &str,
    due_by: i64,
) -> Result<Vec<(LearnEntry, i64, i64)>> {
    let mut stmt = conn.prepare_cached(INTRADAY_SQL)?;
    let rows = stmt.query_map(params![active_json, due_by], |r| {
        let (did, odid): (i64, i64) = (r.get(4)?, r.get(5)?);
        Ok((
            LearnEntry {
                id: r.get(0)?,
                due: r.get(1)?,
                reps: r.get(2)?,
                deck: did,
                queue: r.get(6)?,
            },
            r.get(3)?,
            if odid != 0 { odid } else { did },
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Today's intraday learning cards of the active decks (unsorted).
pub(crate) fn intraday_entries(
    conn: &Connection,
    active_json: &str,
    next_day_at: i64,
) -> Result<Vec<LearnEntry>> {
    Ok(intraday_rows(conn, active_json, next_day_at)?
        .into_iter()
        .map(|(e, _, _)| e)
        .collect())
}

fn new_row(r: &Row<'_>) -> rusqlite::Result<NewCard> {
    let (did, odid): (i64, i64) = (r.get(4)?, r.get(5)?);
    Ok(NewCard {
        id: r.get(0)?,
        note_id: r.get(1)?,
        template: r.get(2)?,
        position: r.get(3)?,
        deck_id: did,
        home_deck_id: if odid != 0 { odid } else { did },
    })
}
