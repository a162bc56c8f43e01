//! What each deck studied today, read from the revlog: Anki keeps these counts in every deck's
//! `newToday`/`revToday` (adding each answer to the card's deck and its parents); the revlog
//! holds the same answers, so the decks are not rewritten on every answer and a package's
//! answers from today count too.
//!
//! Anki counts an answer by the queue the card was answered from: new (queue 0) against the new
//! limit; review (2) and interday learning (3) against the review limit. The revlog row tells
//! them apart: a first answer of a new card is a learning row with no previous interval; a
//! review answer is a review row; an interday-learning answer is a (re)learning row whose card
//! was sent to a later day by its previous answer (that row's interval is in days, > 0; a step
//! within the day is stored as negative seconds). In a filtered deck: an early review is a
//! "filtered" row with an ease (from the review queue); a preview answer a "filtered" row with
//! none, from the review queue unless it repeats a preview step (queue 4, counted nowhere), and
//! it is not the "previous answer" of a later one (it leaves the card's queue as it was).
//!
//! A deck's own counters are honoured when they were stored today by a step that knows them
//! to be right, listed in [`DECK_COUNTERS_DDL`]'s table: a device's copy of the deck merged by
//! a sync or a whole collection uploaded or restored (Anki's counters, which may differ from
//! the revlog: a custom study session "increase today's limit" lowers them, a deck merged from
//! another device carries only that device's), or javumbo's own [`Collection::extend_limits`].
//! Such a deck has studied its counters plus the answers given since that instant; any other
//! deck, the revlog's count since the day began.

use std::collections::{HashMap, HashSet};

use javumbo_scheduler::RevlogKind;
use rusqlite::{Connection, params};
use serde_json::Value;

use super::limits::Studied;
use crate::coljson::{ColJson, JsonObject};
use crate::{Collection, Result};

/// Per deck, today's answers since `since_ms`: an answer given in a filtered deck counts there
/// (`javumbo_answer_decks`), any other in the card's home deck (where it is, or the deck a
/// filtered deck borrowed it from since).
const STUDIED_SQL: &str = "
SELECT coalesce(a.did, CASE WHEN c.odid != 0 THEN c.odid ELSE c.did END),
       count(DISTINCT CASE WHEN r.type = ?2 AND r.lastIvl = 0 THEN r.cid END),
       sum(CASE
             WHEN r.type = ?3 THEN 1
             WHEN r.type = ?5 AND r.factor != 0 THEN 1
             WHEN r.type = ?5 THEN coalesce(
                  (SELECT NOT (p.type = ?5 AND p.factor = 0 AND p.ivl != 0) FROM revlog p
                   WHERE p.cid = r.cid AND p.id < r.id ORDER BY p.id DESC LIMIT 1), 1)
             WHEN r.type IN (?2, ?4) AND r.lastIvl != 0 AND coalesce(
                  (SELECT p.ivl FROM revlog p WHERE p.cid = r.cid AND p.id < r.id
                     AND NOT (p.type = ?5 AND p.factor = 0)
                   ORDER BY p.id DESC LIMIT 1), 0) > 0 THEN 1
             ELSE 0 END)
FROM revlog r JOIN cards c ON c.id = r.cid
LEFT JOIN javumbo_answer_decks a ON a.rid = r.id
WHERE r.id >= ?1
GROUP BY 1";

/// Today's counts of every deck that studied, for the deck alone (not its subdecks).
pub(crate) fn studied_by_own_deck(
    conn: &Connection,
    since_ms: i64,
) -> Result<HashMap<i64, Studied>> {
    let mut stmt = conn.prepare_cached(STUDIED_SQL)?;
    let rows = stmt.query_map(
        params![
            since_ms,
            i64::from(RevlogKind::Learning),
            i64::from(RevlogKind::Review),
            i64::from(RevlogKind::Relearning),
            i64::from(RevlogKind::Filtered)
        ],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                Studied {
                    new: r.get(1)?,
                    review: r.get::<_, Option<i64>>(2)?.unwrap_or(0),
                },
            ))
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Add each deck's own counts to every ancestor (`names`: id → full `A::B` name), giving
/// Anki's per-deck counters, which include the subdecks' answers.
pub(crate) fn with_subdecks(
    own: &HashMap<i64, Studied>,
    names: &HashMap<i64, &str>,
) -> HashMap<i64, Studied> {
    let by_name: HashMap<&str, i64> = names.iter().map(|(id, n)| (*n, *id)).collect();
    let mut out: HashMap<i64, Studied> = HashMap::new();
    for (did, s) in own {
        for id in self_and_ancestors(*did, names, &by_name) {
            let e = out.entry(id).or_default();
            e.new += s.new;
            e.review += s.review;
        }
    }
    out
}

/// javumbo's private table (created at every open, dropped from every copy): per deck, the
/// instant (ms, comparable with revlog ids) up to which its `newToday`/`revToday` counters of
/// today count its answers. Not in the deck's JSON, which stays exactly what Anki or the
/// device wrote (a full upload is kept as uploaded).
pub(crate) const DECK_COUNTERS_DDL: &str = "CREATE TABLE IF NOT EXISTS javumbo_deck_counters (\
     did INTEGER PRIMARY KEY, counted_to INTEGER NOT NULL)";

/// Deck `did`'s counters count its answers up to `at`.
fn mark_counted(conn: &Connection, did: i64, at: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO javumbo_deck_counters (did, counted_to) VALUES (?1, ?2)",
    )?
    .execute(params![did, at])?;
    Ok(())
}

fn counted_to(conn: &Connection) -> Result<HashMap<i64, i64>> {
    let mut stmt = conn.prepare_cached("SELECT did, counted_to FROM javumbo_deck_counters")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The count of a `[day, count]` counter when its day is `today` (an `i32` in Anki: a file's
/// larger number is clamped, so limits arithmetic cannot overflow).
fn counter_today(deck: &Value, key: &str, today: i64) -> Option<i64> {
    let pair = deck.get(key)?.as_array()?;
    if pair.first()?.as_i64()? != today {
        return None;
    }
    Some(
        pair.get(1)?
            .as_i64()?
            .clamp(i64::from(i32::MIN), i64::from(i32::MAX)),
    )
}

/// Replaces, in `studied` (the revlog's counts), those of the decks whose stored counters
/// count today (listed in `javumbo_deck_counters`): the counters plus the answers given in the
/// deck and its subdecks since they were stored.
pub(crate) fn apply_counters(
    conn: &Connection,
    decks: &JsonObject,
    names: &HashMap<i64, &str>,
    today: i64,
    day_start_ms: i64,
    studied: &mut HashMap<i64, Studied>,
) -> Result<()> {
    let kept = counted_to(conn)?;
    if kept.is_empty() {
        return Ok(());
    }
    let mut anchored: Vec<(i64, i64, Studied)> = kept
        .into_iter()
        .filter_map(|(id, at)| {
            let deck = decks.get(&id.to_string())?;
            let new = counter_today(deck, "newToday", today)?;
            let review = counter_today(deck, "revToday", today).unwrap_or(0);
            Some((id, at.max(day_start_ms), Studied { new, review }))
        })
        .collect();
    if anchored.is_empty() {
        return Ok(());
    }
    // Usually one instant for all (the last sync): one query per distinct instant.
    anchored.sort_unstable_by_key(|&(_, at, _)| at);
    let mut since: Option<(i64, HashMap<i64, Studied>)> = None;
    for (id, at, base) in anchored {
        if since.as_ref().is_none_or(|(t, _)| *t != at) {
            let own = studied_by_own_deck(conn, at)?;
            since = Some((at, with_subdecks(&own, names)));
        }
        let later = since
            .as_ref()
            .and_then(|(_, s)| s.get(&id))
            .copied()
            .unwrap_or_default();
        studied.insert(
            id,
            Studied {
                new: base.new + later.new,
                review: base.review + later.review,
            },
        );
    }
    Ok(())
}

/// `did` and its parents, nearest first, as Anki walks up: by name, stopping at the first
/// missing parent. Nothing for a deck `names` does not know.
fn self_and_ancestors<'a>(
    did: i64,
    names: &HashMap<i64, &'a str>,
    by_name: &HashMap<&'a str, i64>,
) -> Vec<i64> {
    let Some(mut rest) = names.get(&did).copied() else {
        return Vec::new();
    };
    let mut out = vec![did];
    while let Some((parent, _)) = rest.rsplit_once("::") {
        let Some(&pid) = by_name.get(parent) else {
            break;
        };
        out.push(pid);
        rest = parent;
    }
    out
}

impl Collection {
    /// Writes today's counters into the decks of `copy`, a standalone copy of this collection
    /// that is about to leave javumbo (an exported package, a full sync download).
    ///
    /// javumbo counts what each deck studied today from the revlog (above) and leaves the
    /// decks' `newToday`/`revToday` as they were imported. Anki reads those counters instead:
    /// opened the same day on a device, a copy carrying stale ones would offer again the new
    /// cards and reviews already studied here. So the copy gets, for every deck,
    /// `[today, count]` with the counts javumbo's own limits use (subdecks included, as Anki
    /// keeps them). `lrnToday` and `timeToday` are left alone: Anki's v3 limits never read
    /// them.
    pub fn stamp_studied_today(&self, copy: &rusqlite::Connection) -> Result<()> {
        let (today, studied) = self.studied_today()?;
        let decks: String =
            copy.query_row("SELECT decks FROM col WHERE id = 1", [], |r| r.get(0))?;
        let mut decks: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&decks)?;
        for deck in decks.values_mut() {
            let Some(obj) = deck.as_object_mut() else {
                continue;
            };
            let Some(id) = obj.get("id").and_then(serde_json::Value::as_i64) else {
                continue;
            };
            set_counters(obj, today, studied.get(&id).copied().unwrap_or_default());
        }
        copy.execute(
            "UPDATE col SET decks = ?1 WHERE id = 1",
            [serde_json::Value::Object(decks).to_string()],
        )?;
        Ok(())
    }

    /// The decks a sync must send because of answers given here that the device has not seen
    /// (revlog rows with `usn >= since_usn`, today's): each with today's counters and its
    /// `mtime` moved to its last such answer, as Anki's server holds a deck after an answer
    /// (an answer adds to its deck's and every parent's counters and marks them modified).
    /// The device then keeps the limits javumbo applied, unless its own copy of the deck
    /// changed later (the newer deck wins, as between Anki and AnkiWeb).
    pub fn decks_studied_since_usn(&self, since_usn: i64) -> Result<Vec<serde_json::Value>> {
        let conf = self.read_json_shared(ColJson::Conf)?;
        let timing = self.timing_at(&conf, self.clock().now_secs())?;
        let day_start_ms = crate::day::day_start(self.crt()?, &conf, &timing) * 1000;
        let mut stmt = self.conn().prepare_cached(
            "SELECT c.did, max(r.id) FROM revlog r JOIN cards c ON c.id = r.cid
             WHERE r.usn >= ?1 AND r.id >= ?2 GROUP BY c.did",
        )?;
        let own: Vec<(i64, i64)> = stmt
            .query_map(params![since_usn, day_start_ms], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        if own.is_empty() {
            return Ok(Vec::new());
        }
        let (today, studied) = self.studied_today()?;
        let decks = self.read_json_shared(ColJson::Decks)?;
        let names: HashMap<i64, &str> = decks
            .iter()
            .filter_map(|(k, v)| Some((k.parse().ok()?, v.get("name")?.as_str()?)))
            .collect();
        let by_name: HashMap<&str, i64> = names.iter().map(|(id, n)| (*n, *id)).collect();
        // Each studied deck and its ancestors, with the last answer among their cards.
        let mut last: HashMap<i64, i64> = HashMap::new();
        for (did, at_ms) in own {
            for id in self_and_ancestors(did, &names, &by_name) {
                let e = last.entry(id).or_insert(at_ms);
                *e = (*e).max(at_ms);
            }
        }
        let mut out = Vec::with_capacity(last.len());
        for (id, at_ms) in last {
            let Some(mut deck) = decks.get(&id.to_string()).cloned() else {
                continue;
            };
            let Some(obj) = deck.as_object_mut() else {
                continue;
            };
            set_counters(obj, today, studied.get(&id).copied().unwrap_or_default());
            let mtime = obj
                .get("mod")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0);
            obj.insert("mod".into(), mtime.max(at_ms.div_euclid(1000)).into());
            out.push(deck);
        }
        Ok(out)
    }

    /// The instant counters written now have counted up to: now, or just past the newest
    /// answer when revlog ids run ahead of the clock (ids are bumped to stay unique, and a
    /// device's clock may be ahead of ours).
    pub fn counters_at(&self) -> Result<i64> {
        let newest: Option<i64> = self
            .conn()
            .query_row("SELECT max(id) FROM revlog", [], |r| r.get(0))?;
        Ok(self
            .clock()
            .now_ms()
            .max(newest.map_or(i64::MIN, |id| id.saturating_add(1))))
    }

    /// Marks the counters of the decks (`only` these, or all) as counting today's answers up
    /// to now, after they came from elsewhere: a device's decks merged by a sync, a collection
    /// uploaded or restored, decks whose counters a sync stored. A deck whose counters are not
    /// today's is unmarked, so its counts come from the revlog. The decks are not changed.
    pub fn anchor_deck_counters(&self, only: Option<&HashSet<i64>>) -> Result<()> {
        let today = self.timing()?.days_elapsed;
        let at = self.counters_at()?;
        let decks = self.read_json_shared(ColJson::Decks)?;
        let conn = self.conn();
        if only.is_none() {
            conn.execute("DELETE FROM javumbo_deck_counters", [])?;
        }
        let mut unmark = conn.prepare_cached("DELETE FROM javumbo_deck_counters WHERE did = ?1")?;
        for (key, deck) in decks.iter() {
            let Some(id) = deck
                .get("id")
                .and_then(Value::as_i64)
                .or_else(|| key.parse().ok())
            else {
                continue;
            };
            if only.is_some_and(|only| !only.contains(&id)) {
                continue;
            }
            if counter_today(deck, "newToday", today).is_some() {
                mark_counted(conn, id, at)?;
            } else {
                unmark.execute([id])?;
            }
        }
        Ok(())
    }

    /// Decks about to be sent to a device: those whose counters javumbo keeps get today's
    /// counts (their counters plus the answers since).
    pub fn decks_for_device(&self, decks: &mut [Value]) -> Result<()> {
        let kept = counted_to(self.conn())?;
        let keeps = |d: &Value| {
            d.get("id")
                .and_then(Value::as_i64)
                .filter(|id| kept.contains_key(id))
        };
        if !decks.iter().any(|d| keeps(d).is_some()) {
            return Ok(());
        }
        let (today, studied) = self.studied_today()?;
        for deck in decks {
            let Some(id) = keeps(deck) else {
                continue;
            };
            if let Some(obj) = deck.as_object_mut() {
                set_counters(obj, today, studied.get(&id).copied().unwrap_or_default());
            }
        }
        Ok(())
    }

    /// Anki's custom study "increase today's new / review card limit" (v3): the deck's own
    /// counters of today lowered by the deltas (negative: the limit lowered), its parents and
    /// subdecks unchanged; a positive delta is remembered as the dialog's next default
    /// (`extendNew` / `extendRev`). Deltas are -9999..=9999, as Anki's dialog allows.
    pub fn extend_limits(&self, deck_id: i64, new_delta: i32, review_delta: i32) -> Result<()> {
        for (name, delta) in [
            ("newLimitDelta", new_delta),
            ("reviewLimitDelta", review_delta),
        ] {
            if !(-9999..=9999).contains(&delta) {
                return Err(crate::CollectionError::InvalidInput(format!(
                    "{name} {delta} is out of range (expected -9999 to 9999)"
                )));
            }
        }
        self.atomic(|c| {
            let (today, studied) = c.studied_today()?;
            let at = c.counters_at()?;
            let now = studied.get(&deck_id).copied().unwrap_or_default();
            c.edit_deck_json(deck_id, |deck| {
                if deck["dyn"].as_i64().unwrap_or(0) != 0 {
                    return Err(crate::CollectionError::InvalidInput(format!(
                        "deck {deck_id} is a filtered deck and has no daily limits"
                    )));
                }
                let Some(obj) = deck.as_object_mut() else {
                    return Err(crate::CollectionError::NotFound(format!(
                        "deck {deck_id} not found"
                    )));
                };
                set_counters(
                    obj,
                    today,
                    Studied {
                        new: now.new - i64::from(new_delta),
                        review: now.review - i64::from(review_delta),
                    },
                );
                if new_delta > 0 {
                    obj.insert("extendNew".into(), new_delta.into());
                }
                if review_delta > 0 {
                    obj.insert("extendRev".into(), review_delta.into());
                }
                Ok(())
            })?;
            mark_counted(c.conn(), deck_id, at)
        })
    }

    /// Today (days since `crt`) and what every deck studied today, subdecks included.
    fn studied_today(&self) -> Result<(i64, HashMap<i64, Studied>)> {
        let conf = self.read_json_shared(ColJson::Conf)?;
        let timing = self.timing_at(&conf, self.clock().now_secs())?;
        let table = self.deck_table(&conf, &timing)?;
        Ok((table.today, table.studied))
    }
}

/// Today's counters as Anki stores them.
fn set_counters(deck: &mut serde_json::Map<String, serde_json::Value>, today: i64, s: Studied) {
    deck.insert("newToday".into(), serde_json::json!([today, s.new]));
    deck.insert("revToday".into(), serde_json::json!([today, s.review]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdeck_answers_count_for_every_ancestor() {
        let names: HashMap<i64, &str> = [(1, "A"), (2, "A::B"), (3, "A::B::C"), (4, "D")].into();
        let own: HashMap<i64, Studied> = [
            (3, Studied { new: 1, review: 2 }),
            (2, Studied { new: 1, review: 0 }),
            (4, Studied { new: 0, review: 5 }),
        ]
        .into();
        let all = with_subdecks(&own, &names);
        assert_eq!(all[&1], Studied { new: 2, review: 2 });
        assert_eq!(all[&2], Studied { new: 2, review: 2 });
        assert_eq!(all[&3], Studied { new: 1, review: 2 });
        assert_eq!(all[&4], Studied { new: 0, review: 5 });
    }

    /// A copy leaving javumbo carries today's counters, subdecks counted in their parents,
    /// as Anki would have kept them while answering.
    #[test]
    fn a_copy_carries_todays_counters() {
        let (col, clock) = crate::testutil::empty();
        let parent = col.create_deck("A").expect("deck").id;
        let child = col.create_deck("A::B").expect("deck").id;
        col.set_current_deck(parent).expect("current deck");
        for i in 0..3 {
            col.add_card(&format!("q{i}"), "a", Some(child))
                .expect("add");
        }
        clock.advance_ms(5_000);
        for _ in 0..2 {
            let id = match col.next_card().expect("next") {
                crate::review::Study::Card(c) => c.card_id,
                crate::review::Study::Nothing(n) => panic!("nothing to study: {n:?}"),
            };
            col.answer_card(id, 4, None).expect("easy");
        }
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("copy.anki2");
        col.conn()
            .execute("VACUUM INTO ?1", [path.to_str().expect("utf-8")])
            .expect("copy");
        let copy = rusqlite::Connection::open(&path).expect("open copy");
        col.stamp_studied_today(&copy).expect("stamp");
        let decks: String = copy
            .query_row("SELECT decks FROM col", [], |r| r.get(0))
            .expect("decks");
        let decks: serde_json::Value = serde_json::from_str(&decks).expect("json");
        let today = col.timing().expect("timing").days_elapsed;
        for (id, new) in [(parent, 2), (child, 2), (1, 0)] {
            let d = &decks[id.to_string()];
            assert_eq!(d["newToday"], serde_json::json!([today, new]), "deck {id}");
            assert_eq!(d["revToday"], serde_json::json!([today, 0]), "deck {id}");
        }
    }
}
