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

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::JsonObject;

/// Our `col.conf` key (Anki keeps keys it does not know).
pub(crate) const SESSION_KEY: &str = "javumboStudyQueue";

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
    #[serde(default)]
    pub requeued: Vec<[i64; 3]>,
    /// For the load balancer (`balance.rs`): each card answered since the build, with its
    /// `due` and deck before its first answer (card, due, deck).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answered: Vec<[i64; 3]>,
    /// Cards an answer left in the review queue, which Anki adds to its balancer at their
    /// interval (card, days).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<[i64; 2]>,
}

impl Session {
    /// The stored session, if it belongs to this deck, day and collection state.
    pub(crate) fn load(conf: &JsonObject, deck: i64, day: i64, col_mod: i64) -> Option<Self> {
        // Read in place: cloning the value first was a visible share of a cached request.
        let s = Self::deserialize(conf.get(SESSION_KEY)?).ok()?;
        (s.deck == deck && s.day == day && s.col_mod == col_mod).then_some(s)
    }

    pub(crate) fn store(&self, conf: &mut JsonObject) {
        if let Ok(v) = serde_json::to_value(self) {
            conf.insert(SESSION_KEY.into(), v);
        }
    }

    pub(crate) fn main_len(&self) -> usize {
        self.sizes.iter().sum()
    }

    pub(crate) fn forget_requeue(&mut self, id: i64) {
        self.requeued.retain(|r| r[0] != id);
    }
}

/// Remove a stored session (when it can no longer be continued).
pub(crate) fn clear(conf: &mut JsonObject) -> Option<Value> {
    conf.remove(SESSION_KEY)
}

#[cfg(test)]
mod tests {
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
            added: vec![[7, 4]],
        };
        let mut conf = JsonObject::new();
        s.store(&mut conf);
        assert_eq!(Session::load(&conf, 5, 10, 123), Some(s.clone()));
        assert_eq!(Session::load(&conf, 6, 10, 123), None);
        assert_eq!(Session::load(&conf, 5, 11, 123), None);
        assert_eq!(Session::load(&conf, 5, 10, 124), None);
        assert_eq!(s.main_len(), 6);
        assert!(clear(&mut conf).is_some());
    }
}
