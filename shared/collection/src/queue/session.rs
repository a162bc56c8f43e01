//! The state Anki keeps in memory between the answers of a study session, kept in the
//! collection so that every request (each a fresh process) continues the same session.
//!
//! Anki builds its queue once (at the first card, after a change other than an answer, or at a
//! new day) and then only pops it: the main queue's interleaving of reviews and new cards is
//! fixed by the sizes at build time, learning cards count as due up to the time of the last
//! answer (the "learning cutoff"), and a learning card answered while nothing else is left is
//! placed after the next one rather than shown again at once (its due in the queue, not in the
//! table, is moved). Re-gathering the cards gives the same lists minus what was answered; what
//! it cannot give back is exactly what this records.
//!
//! The small part (deck, day, sizes, cutoff, …) is a `col.conf` key; the lists, which grow by
//! an entry or two per answer, are rows of a private table. Kept in `col.conf` they made every
//! answer rewrite them all: the answer's changeset carries the old and the new `conf`, so the
//! 200th answer of a day journaled 21.7 KB (1.9 KB zstd) instead of 1.3 KB (0.5 KB).

use std::cell::RefCell;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{JsonObject, Result};

/// Our `col.conf` key (Anki keeps keys it does not know).
pub(crate) const SESSION_KEY: &str = "javumboStudyQueue";

/// The session's lists, one row per entry, in order (`seq`); `kind` says which list. Created
/// at every open, replicated by the journal like every table, dropped from every copy.
pub(crate) const SESSION_LISTS_DDL: &str = "CREATE TABLE IF NOT EXISTS javumbo_study_lists (\
     kind INTEGER NOT NULL, seq INTEGER NOT NULL, a INTEGER NOT NULL, b INTEGER NOT NULL, \
     c INTEGER NOT NULL, PRIMARY KEY (kind, seq)) WITHOUT ROWID";

const REQUEUED: i64 = 0;
const ANSWERED: i64 = 1;
const ADDED: i64 = 2;

/// A built queue's session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Session {
    /// The deck the queue was built for.
    pub deck: i64,
    /// The day it was built on.
    pub day: i64,
    /// `col.mod` after the build or the last answer: any other change rebuilds, as in Anki.
    #[serde(rename = "mod")]
    pub col_mod: i64,
    /// Reviews, interday learning and new cards in the main queue when it was built.
    pub sizes: [usize; 3],
    /// Main-queue cards answered since.
    pub taken: usize,
    /// The learning cutoff, epoch seconds.
    pub cutoff: i64,
    /// Learning cards answered back into the learning queue, in answer order: (card, due in
    /// the table, due in the queue, which is later when Anki held the card back).
    /// The three lists live in `javumbo_study_lists`; `col.conf` held them before, which is
    /// still read.
    #[serde(default, skip_serializing)]
    pub requeued: Vec<[i64; 3]>,
    /// For the load balancer (`balance.rs`): each card answered since the build, with its
    /// `due` and deck before its first answer (card, due, deck).
    #[serde(default, skip_serializing)]
    pub answered: Vec<[i64; 3]>,
    /// Cards an answer left in the review queue, which Anki adds to its balancer at their
    /// interval under the preset of their home deck then (card, days, home deck; 0: not
    /// recorded, in a session stored before it was).
    #[serde(default, skip_serializing, deserialize_with = "added_entries")]
    pub added: Vec<[i64; 3]>,
}

/// `added` as an older version stored it in `conf`: (card, days).
fn added_entries<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<[i64; 3]>, D::Error> {
    let pairs: Vec<[i64; 2]> = Deserialize::deserialize(d)?;
    Ok(pairs.into_iter().map(|[a, b]| [a, b, 0]).collect())
}

/// The three lists: requeued, answered, added.
type Lists = [Vec<[i64; 3]>; 3];

/// Which stored session a copy of the lists belongs to. Every write of the lists goes with a
/// write of the header in `conf`, whose `mod` only grows along the journal, and a rolled-back
/// transaction moves the connection's rollback count: an equal key means equal rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ListsKey {
    rollbacks: u64,
    deck: i64,
    day: i64,
    col_mod: i64,
    sizes: [usize; 3],
    taken: usize,
    cutoff: i64,
}

impl ListsKey {
    fn of(s: &Session, rollbacks: u64) -> Self {
        Self {
            rollbacks,
            deck: s.deck,
            day: s.day,
            col_mod: s.col_mod,
            sizes: s.sizes,
            taken: s.taken,
            cutoff: s.cutoff,
        }
    }
}

/// The lists as this connection last read or stored them, with the session they belong to,
/// so a request reads its session's rows only when another process changed them (they grow
/// with every answer of the day; reading them all was a visible part of every study request).
#[derive(Debug, Default)]
pub(crate) struct ListsCopy(RefCell<Option<(ListsKey, Lists)>>);

/// The copy to use, with the connection's rollback count (none when the rollback hook could
/// not be registered: a rolled-back write could then not be told apart).
pub(crate) type Copy<'a> = Option<(&'a ListsCopy, u64)>;

impl ListsCopy {
    /// Drop the copy (an operation that may have stored it was rolled back).
    pub(crate) fn forget(&self) {
        *self.0.borrow_mut() = None;
    }

    fn set(&self, key: ListsKey, lists: Lists) {
        *self.0.borrow_mut() = Some((key, lists));
    }
}

/// The rows of the session stored as `header` (none: a legacy header, or no session): the
/// copy when it is that session's, else read (and kept as the copy).
fn rows(conn: &Connection, header: Option<&Session>, copy: Copy) -> Result<Lists> {
    let Some((c, rollbacks)) = copy else {
        return read_lists(conn);
    };
    let key = header.map(|h| ListsKey::of(h, rollbacks));
    if let Some(key) = key
        && let Some((k, lists)) = &*c.0.borrow()
        && *k == key
    {
        // Debug builds read the rows on every hit: each refereed session checks the copy.
        if cfg!(debug_assertions) {
            debug_assert_eq!(&read_lists(conn)?, lists, "session lists copy out of date");
        }
        return Ok(lists.clone());
    }
    let lists = read_lists(conn)?;
    if let Some(key) = key {
        c.set(key, lists.clone());
    }
    Ok(lists)
}

impl Session {
    /// The stored session, if it belongs to this deck, day and collection state.
    pub(crate) fn load(
        conn: &Connection,
        conf: &JsonObject,
        deck: i64,
        day: i64,
        col_mod: i64,
        copy: Copy,
    ) -> Result<Option<Self>> {
        let Some(mut s) =
            header(conf).filter(|s| s.deck == deck && s.day == day && s.col_mod == col_mod)
        else {
            return Ok(None);
        };
        // A session stored before the lists had their table carries them in `conf`.
        if !s.has_inline_lists() {
            let [requeued, answered, added] = rows(conn, Some(&s), copy)?;
            s.requeued = requeued;
            s.answered = answered;
            s.added = added;
        }
        Ok(Some(s))
    }

    /// Stores the session: its header in `conf` (which the caller writes), its lists as rows —
    /// only the entries added since they were last stored, when that is all that changed.
    pub(crate) fn store(&self, conn: &Connection, conf: &mut JsonObject, copy: Copy) -> Result<()> {
        // What the rows hold now: those of the session `conf` names (a legacy header with its
        // lists inline has none of its own, so its rows are read).
        let before = header(conf).filter(|h| !h.has_inline_lists());
        let stored = rows(conn, before.as_ref(), copy)?;
        if let Ok(v) = serde_json::to_value(self) {
            conf.insert(SESSION_KEY.into(), v);
        }
        for (kind, now, before) in [
            (REQUEUED, &self.requeued, &stored[0]),
            (ANSWERED, &self.answered, &stored[1]),
            (ADDED, &self.added, &stored[2]),
        ] {
            let from = if now.starts_with(before) {
                before.len()
            } else {
                conn.prepare_cached("DELETE FROM javumbo_study_lists WHERE kind = ?1")?
                    .execute([kind])?;
                0
            };
            let mut insert = conn.prepare_cached(
                "INSERT INTO javumbo_study_lists (kind, seq, a, b, c) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (seq, [a, b, c]) in now.iter().enumerate().skip(from) {
                insert.execute(params![kind, seq as i64, a, b, c])?;
            }
        }
        if let Some((c, rollbacks)) = copy {
            c.set(
                ListsKey::of(self, rollbacks),
                [
                    self.requeued.clone(),
                    self.answered.clone(),
                    self.added.clone(),
                ],
            );
        }
        Ok(())
    }

    /// Whether this header carries its lists (as `conf` held them before they had a table).
    fn has_inline_lists(&self) -> bool {
        !(self.requeued.is_empty() && self.answered.is_empty() && self.added.is_empty())
    }

    pub(crate) fn main_len(&self) -> usize {
        self.sizes.iter().sum()
    }

    pub(crate) fn forget_requeue(&mut self, id: i64) {
        self.requeued.retain(|r| r[0] != id);
    }
}

/// The session header stored in `conf`, read in place (cloning the value first was a visible
/// share of a cached request).
fn header(conf: &JsonObject) -> Option<Session> {
    conf.get(SESSION_KEY)
        .and_then(|v| Session::deserialize(v).ok())
}

/// Remove a stored session (when it can no longer be continued).
pub(crate) fn clear(conn: &Connection, conf: &mut JsonObject, copy: Copy) -> Result<Option<Value>> {
    conn.prepare_cached("DELETE FROM javumbo_study_lists")?
        .execute([])?;
    if let Some((c, _)) = copy {
        c.forget();
    }
    Ok(conf.remove(SESSION_KEY))
}

/// The stored lists: requeued, answered, added.
fn read_lists(conn: &Connection) -> Result<[Vec<[i64; 3]>; 3]> {
    let mut out: [Vec<[i64; 3]>; 3] = Default::default();
    let mut stmt =
        conn.prepare_cached("SELECT kind, a, b, c FROM javumbo_study_lists ORDER BY kind, seq")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let kind: i64 = r.get(0)?;
        if let Some(list) = usize::try_from(kind).ok().and_then(|k| out.get_mut(k)) {
            list.push([r.get(1)?, r.get(2)?, r.get(3)?]);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    #[test]
    fn a_session_is_only_continued_on_its_deck_day_and_state() {
        let s = Session {
            deck: 5,
            day: 10,
            col_mod: 123,
            sizes: [3, 1, 2],
            taken: 1,
            cutoff: 1000,
            requeued: vec![[7, 500, 601]],
            answered: vec![[7, 30, 1]],
            added: vec![[7, 4, 1]],
        };
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SESSION_LISTS_DDL).unwrap();
        let mut conf = JsonObject::new();
        s.store(&conn, &mut conf, None).unwrap();
        let load = |deck, day, m| Session::load(&conn, &conf, deck, day, m, None).unwrap();
        assert_eq!(load(5, 10, 123), Some(s.clone()));
        assert_eq!(load(6, 10, 123), None);
        assert_eq!(load(5, 11, 123), None);
        assert_eq!(load(5, 10, 124), None);
        assert_eq!(s.main_len(), 6);
        assert!(clear(&conn, &mut conf, None).unwrap().is_some());
    }

    /// The lists are rows: `conf` keeps only the header, an answer adds rows, and a session
    /// whose lists were rewritten (a requeued card forgotten) is stored whole again.
    #[test]
    fn the_lists_are_rows_added_as_they_grow() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SESSION_LISTS_DDL).unwrap();
        let mut s = Session {
            deck: 5,
            day: 10,
            col_mod: 1,
            sizes: [3, 1, 2],
            taken: 0,
            cutoff: 1000,
            requeued: vec![[7, 500, 601], [8, 510, 510]],
            answered: vec![[7, 30, 1]],
            added: vec![],
        };
        let mut conf = JsonObject::new();
        s.store(&conn, &mut conf, None).unwrap();
        assert!(
            conf[SESSION_KEY].get("answered").is_none(),
            "{}",
            conf[SESSION_KEY]
        );
        let count = || -> i64 {
            conn.query_row("SELECT count() FROM javumbo_study_lists", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(count(), 3);
        s.answered.push([9, 31, 1]);
        s.added.push([9, 4, 1]);
        s.forget_requeue(7);
        s.col_mod = 2;
        s.store(&conn, &mut conf, None).unwrap();
        assert_eq!(count(), 4, "one requeued left, two answered, one added");
        assert_eq!(
            Session::load(&conn, &conf, 5, 10, 2, None).unwrap(),
            Some(s.clone())
        );

        // A session stored by an older version, lists in `conf`, is read as it was.
        let mut legacy = serde_json::to_value(&s).unwrap();
        legacy["answered"] = serde_json::json!([[1, 2, 3]]);
        legacy["added"] = serde_json::json!([[1, 4]]);
        conf.insert(SESSION_KEY.into(), legacy);
        let old = Session::load(&conn, &conf, 5, 10, 2, None)
            .unwrap()
            .unwrap();
        assert_eq!(old.answered, vec![[1, 2, 3]]);
        assert_eq!(old.added, vec![[1, 4, 0]], "no home deck recorded");
        assert!(old.requeued.is_empty());
    }
}
