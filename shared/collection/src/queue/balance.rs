//! The day counts Anki's load balancer (on by default) weighs a review interval with; the pick
//! itself is `javumbo_scheduler::LoadBalance`.
//!
//! Anki builds its balancer with the study queue: per preset, every card (any queue) of a deck
//! on that preset whose `due` is a day from today to today + 98, and then adds each card an
//! answer leaves in the review queue at its new interval — it never takes a card out again.
//! So what it sees at an answer is the table as it was when the queue was built plus those
//! additions. We read the table now and undo the session's answers: the cards answered since
//! the build are left out and counted where they were at the build (recorded by the session at
//! their first answer), plus each recorded addition. A preset that had no card in the range at
//! the build is not balanced at all (nor are additions to it counted).
//!
//! Cost per answer: one grouped query on `ix_cards_sched` (`did`, `queue`, `due`) over the
//! preset's decks and the 99 days, and, when the preset buries review siblings, the note's
//! cards (`ix_cards_nid`).

use std::collections::{BTreeSet, HashMap};

use javumbo_scheduler::{CardQueue, CardState, LOAD_BALANCE_DAYS, LoadBalance, Timing};
use rusqlite::params;
use serde_json::Value;

use super::session::Session;
use crate::coljson::{ColJson, JsonObject, json_i64};
use crate::presets::Preset;
use crate::storage::cards::Card;
use crate::{Collection, Result, storage};

/// Anki's `loadBalancerEnabled` (true when missing).
pub(crate) fn enabled(conf: &JsonObject) -> bool {
    conf.get("loadBalancerEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(true)
}

/// Every valid `cards.queue`, so that the query seeks `ix_cards_sched` per deck and queue.
const QUEUES: &str = "-3, -2, -1, 0, 1, 2, 3, 4";

/// The day offset of `due` from `today` when it is within the balancer's range.
pub(crate) fn day_index(due: i64, today: i64) -> Option<usize> {
    let d = due.checked_sub(today)?;
    usize::try_from(d).ok().filter(|&d| d < LOAD_BALANCE_DAYS)
}

/// Record an answer in the session: the card's place at the build (first answer only) and,
/// when the answer leaves it in the review queue, Anki's addition at its interval.
pub(crate) fn record_answer(session: &mut Session, before: &Card, after: &CardState) {
    if !session.answered.iter().any(|a| a[0] == before.id) {
        session
            .answered
            .push([before.id, before.due, before.deck_id]);
    }
    if after.queue == CardQueue::Review && day_index(after.ivl, 0).is_some() {
        session
            .added
            .push([before.id, after.ivl, before.home_deck_id()]);
    }
}

/// The decks on a preset (normal decks only: Anki maps a filtered deck to none).
struct DeckPresets {
    preset_of: HashMap<i64, i64>,
}

impl DeckPresets {
    fn read(col: &Collection) -> Result<Self> {
        let preset_of = col
            .deck_rows()?
            .into_iter()
            .filter(|d| !d.filtered)
            .map(|d| (d.id, d.conf_id))
            .collect();
        Ok(Self { preset_of })
    }

    fn decks_of(&self, preset: i64) -> Vec<i64> {
        let mut v: Vec<i64> = self
            .preset_of
            .iter()
            .filter(|&(_, &p)| p == preset)
            .map(|(&d, _)| d)
            .collect();
        v.sort_unstable();
        v
    }
}

impl Collection {
    /// What Anki's balancer sees when `card` is answered in `session` at `timing`, or `None`
    /// when Anki would not balance (switched off, or the card's preset had nothing due in the
    /// range when the queue was built).
    pub(crate) fn load_balance(
        &self,
        card: &Card,
        conf: &JsonObject,
        timing: &Timing,
        session: Option<&Session>,
    ) -> Result<Option<LoadBalance>> {
        let Some(session) = session else {
            return Ok(None);
        };
        if !enabled(conf) {
            return Ok(None);
        }
        let decks = DeckPresets::read(self)?;
        let Some(&preset) = decks.preset_of.get(&card.home_deck_id()) else {
            return Ok(None);
        };
        let dconf = self.read_json_shared(ColJson::Dconf)?;
        // Anki balances only presets it has: a deck on a missing preset is not balanced.
        let Some(p) = dconf
            .get(&preset.to_string())
            .map(|v| Preset::from_json(preset, v))
        else {
            return Ok(None);
        };
        let today = timing.days_elapsed;
        let answered: Vec<i64> = session.answered.iter().map(|a| a[0]).collect();
        let answered_json = storage::id_array(&answered);

        let mut counts = self.cached_day_counts(&decks, preset, today, session, &answered_json)?;
        let mut present = counts.iter().any(|&c| c > 0);
        for &[_, due, did] in &session.answered {
            if decks.preset_of.get(&did) == Some(&preset)
                && let Some(d) = day_index(due, today)
            {
                counts[d] += 1;
                present = true;
            }
        }
        if !present {
            return Ok(None);
        }
        let home_preset = self.home_presets(&decks, &session.added)?;
        for &[id, ivl, _] in &session.added {
            if home_preset.get(&id) == Some(&preset)
                && let Some(d) = day_index(ivl, 0)
            {
                counts[d] += 1;
            }
        }

        let sibling_days = if p.bury_reviews {
            self.sibling_days(card.note_id, &decks, session, today, &answered_json)?
        } else {
            Vec::new()
        };
        let mut easy_days = [1.0f32; 7];
        for (d, v) in easy_days.iter_mut().zip(&p.easy_days_percentages) {
            *d = *v;
        }
        let mut lb = LoadBalance {
            counts,
            sibling_days,
            easy_days,
            weekdays: Vec::new(),
        };
        if lb.has_easy_days() {
            lb.weekdays = (0..LOAD_BALANCE_DAYS as i64)
                .map(|d| local_weekday(conf, timing.next_day_at + (d - 1) * 86_400))
                .collect();
        }
        Ok(Some(lb))
    }

    /// [`Self::preset_day_counts`] leaving out the session's answered cards, from the queue
    /// cache when nothing changed since they were read.
    fn cached_day_counts(
        &self,
        decks: &DeckPresets,
        preset: i64,
        today: i64,
        session: &Session,
        answered_json: &str,
    ) -> Result<Vec<u32>> {
        let stamp = self.change_stamp(self.col_mod()?);
        let answered = session.answered.len();
        if let Some(q) = self.queue_cache.borrow_mut().at(stamp)
            && q.key.day == today
            && let Some(c) = q.balance.get(&preset)
            && c.answered == answered
        {
            let counts = c.counts.clone();
            debug_assert_eq!(
                self.preset_day_counts(decks, preset, today, answered_json)?,
                counts,
                "balancer counts cache out of date"
            );
            return Ok(counts);
        }
        let counts = self.preset_day_counts(decks, preset, today, answered_json)?;
        if let Some(q) = self.queue_cache.borrow_mut().at(stamp)
            && q.key.day == today
        {
            q.balance.insert(
                preset,
                super::cache::DayCounts {
                    answered,
                    decks: decks.decks_of(preset),
                    counts: counts.clone(),
                },
            );
        }
        Ok(counts)
    }

    /// Cards of `preset`'s decks due on each of the balancer's days, leaving out `except`.
    fn preset_day_counts(
        &self,
        decks: &DeckPresets,
        preset: i64,
        today: i64,
        except: &str,
    ) -> Result<Vec<u32>> {
        let mut counts = vec![0u32; LOAD_BALANCE_DAYS];
        let dids = storage::id_array(&decks.decks_of(preset));
        let mut stmt = self.conn().prepare_cached(&format!(
            "SELECT due, count(*) FROM cards
             WHERE did IN (SELECT value FROM json_each(?1)) AND queue IN ({QUEUES})
               AND due >= ?2 AND due < ?3
               AND id NOT IN (SELECT value FROM json_each(?4))
             GROUP BY due"
        ))?;
        let rows = stmt.query_map(
            params![dids, today, today + LOAD_BALANCE_DAYS as i64, except],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )?;
        for row in rows {
            let (due, n) = row?;
            if let Some(d) = day_index(due, today) {
                counts[d] += u32::try_from(n).unwrap_or(u32::MAX);
            }
        }
        Ok(counts)
    }

    /// The home deck's preset of each card added to the balancer this session.
    /// Recorded at the answer (Anki adds the card under the preset it has then); looked up
    /// for entries of a session stored before the home deck was recorded. Looking every one
    /// up was one query per card added this session, at every answer: half the time of a
    /// step on 100,000 cards after a few thousand answers.
    fn home_presets(&self, decks: &DeckPresets, added: &[[i64; 3]]) -> Result<HashMap<i64, i64>> {
        let mut out = HashMap::new();
        for &[id, _, home] in added {
            if home != 0
                && let Some(&p) = decks.preset_of.get(&home)
            {
                out.insert(id, p);
            }
        }
        let ids: Vec<i64> = added.iter().filter(|a| a[2] == 0).map(|a| a[0]).collect();
        if ids.is_empty() {
            return Ok(out);
        }
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, CASE WHEN odid != 0 THEN odid ELSE did END FROM cards
             WHERE id IN (SELECT value FROM json_each(?1))",
        )?;
        let rows = stmt.query_map([storage::id_array(&ids)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (id, home) = row?;
            if let Some(&p) = decks.preset_of.get(&home) {
                out.insert(id, p);
            }
        }
        Ok(out)
    }

    /// The days (from today) on which Anki's balancer holds a card of note `nid`, in any
    /// preset it has.
    fn sibling_days(
        &self,
        nid: i64,
        decks: &DeckPresets,
        session: &Session,
        today: i64,
        answered_json: &str,
    ) -> Result<Vec<usize>> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT id, due, did, CASE WHEN odid != 0 THEN odid ELSE did END FROM cards
             WHERE nid = ?1",
        )?;
        let siblings: Vec<(i64, i64, i64, i64)> = stmt
            .query_map([nid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut days = BTreeSet::new();
        for &(id, due, did, home) in &siblings {
            let entry = match session.answered.iter().find(|a| a[0] == id) {
                Some(a) => (a[1], a[2]),
                None => (due, did),
            };
            if decks.preset_of.contains_key(&entry.1)
                && let Some(d) = day_index(entry.0, today)
            {
                days.insert(d);
            }
            for &[_, ivl, _] in session.added.iter().filter(|a| a[0] == id) {
                let Some(&p) = decks.preset_of.get(&home) else {
                    continue;
                };
                if let Some(d) = day_index(ivl, 0)
                    && self.preset_present(decks, p, session, today, answered_json)?
                {
                    days.insert(d);
                }
            }
        }
        Ok(days.into_iter().collect())
    }

    /// Whether `preset` had a card in the balancer's range when the queue was built.
    fn preset_present(
        &self,
        decks: &DeckPresets,
        preset: i64,
        session: &Session,
        today: i64,
        answered_json: &str,
    ) -> Result<bool> {
        if session.answered.iter().any(|&[_, due, did]| {
            decks.preset_of.get(&did) == Some(&preset) && day_index(due, today).is_some()
        }) {
            return Ok(true);
        }
        let counts = self.cached_day_counts(decks, preset, today, session, answered_json)?;
        Ok(counts.iter().any(|&c| c > 0))
    }
}

/// The weekday (0 = Monday) at `secs` in the student's zone (else the stored `localOffset`),
/// as Anki's `interval_to_weekday` reads the device's local time.
fn local_weekday(conf: &JsonObject, secs: i64) -> u8 {
    let zone = conf
        .get(crate::day::TIMEZONE_KEY)
        .and_then(Value::as_str)
        .and_then(|n| crate::day::TimeZone::parse(n).ok());
    let east_minutes = match zone {
        Some(tz) => i64::from(tz.offset_east_minutes_at(secs)),
        None => -json_i64(conf, "localOffset")
            .filter(|m| m.abs() < 24 * 60)
            .unwrap_or(0),
    };
    let local_day = (secs + east_minutes * 60).div_euclid(86_400);
    // 1970-01-01 was a Thursday.
    u8::try_from((local_day + 3).rem_euclid(7)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_follow_the_students_zone() {
        let mut conf = JsonObject::new();
        // 2024-05-13 02:00 UTC: Monday in UTC, still Sunday in New York.
        let t = 1_715_565_600;
        assert_eq!(local_weekday(&conf, t), 0);
        conf.insert(crate::day::TIMEZONE_KEY.into(), "America/New_York".into());
        assert_eq!(local_weekday(&conf, t), 6);
        conf.remove(crate::day::TIMEZONE_KEY);
        conf.insert("localOffset".into(), 240.into());
        assert_eq!(local_weekday(&conf, t), 6);
    }

    #[test]
    fn only_days_in_range_count() {
        assert_eq!(day_index(100, 100), Some(0));
        assert_eq!(day_index(198, 100), Some(98));
        assert_eq!(day_index(199, 100), None);
        assert_eq!(day_index(99, 100), None);
    }
}
