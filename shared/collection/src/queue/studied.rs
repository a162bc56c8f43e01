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
//! within the day is stored as negative seconds).

use std::collections::HashMap;

use javumbo_scheduler::RevlogKind;
use rusqlite::{Connection, params};

use super::limits::Studied;
use crate::Result;

/// Per deck (the card's current deck), today's answers since `since_ms`.
const STUDIED_SQL: &str = "
SELECT c.did,
       count(DISTINCT CASE WHEN r.type = ?2 AND r.lastIvl = 0 THEN r.cid END),
       sum(CASE
             WHEN r.type = ?3 THEN 1
             WHEN r.type IN (?2, ?4) AND r.lastIvl != 0 AND coalesce(
                  (SELECT p.ivl FROM revlog p WHERE p.cid = r.cid AND p.id < r.id
                   ORDER BY p.id DESC LIMIT 1), 0) > 0 THEN 1
             ELSE 0 END)
FROM revlog r JOIN cards c ON c.id = r.cid
WHERE r.id >= ?1
GROUP BY c.did";

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
            i64::from(RevlogKind::Relearning)
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
        let Some(name) = names.get(did) else { continue };
        let mut add = |id: i64| {
            let e = out.entry(id).or_default();
            e.new += s.new;
            e.review += s.review;
        };
        add(*did);
        // Anki walks up by name and stops at the first missing parent.
        let mut rest = *name;
        while let Some((parent, _)) = rest.rsplit_once("::") {
            match by_name.get(parent) {
                Some(&pid) => add(pid),
                None => break,
            }
            rest = parent;
        }
    }
    out
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
}
