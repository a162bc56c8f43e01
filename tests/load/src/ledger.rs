//! What the client saw for every write it sent. The audit replays this against the final state.
//!
//! A write's fate is only known client-side as one of three things: the server acknowledged it
//! (2xx: by the output gate it must be durable), rejected it (4xx: nothing may have changed), or
//! the client cannot know (5xx, timeout, connection reset: it may or may not have been applied,
//! so both outcomes are legal and the audit accepts either).

use std::collections::BTreeSet;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ack {
    Acked,
    Rejected,
    Ambiguous,
}

impl Ack {
    /// Classify an HTTP status (None = no response at all).
    pub fn from_status(status: Option<u16>) -> Self {
        match status {
            Some(s) if (200..300).contains(&s) => Ack::Acked,
            Some(s) if (400..500).contains(&s) => Ack::Rejected,
            _ => Ack::Ambiguous,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Write {
    CreateDeck {
        name: String,
        id: Option<i64>,
    },
    RenameDeck {
        id: i64,
        name: String,
    },
    DeleteDeck {
        id: i64,
    },
    CreateCard {
        deck_id: i64,
        front: String,
        back: String,
        id: Option<i64>,
    },
    EditCard {
        id: i64,
        front: String,
        back: String,
    },
    DeleteCard {
        id: i64,
    },
    Answer {
        card_id: i64,
        ease: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub write: Write,
    pub ack: Ack,
    pub status: Option<u16>,
}

impl Entry {
    pub fn new(write: Write, status: Option<u16>) -> Self {
        Self {
            write,
            ack: Ack::from_status(status),
            status,
        }
    }
}

/// One user's writes, in the order they were issued (per client).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ledger {
    pub username: String,
    /// Decks and cards the account had right after registration (the starter deck).
    pub baseline_decks: BTreeSet<i64>,
    pub baseline_cards: BTreeSet<i64>,
    pub entries: Vec<Entry>,
}

impl Ledger {
    pub fn new(username: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            ..Self::default()
        }
    }

    pub fn push(&mut self, write: Write, status: Option<u16>) {
        self.entries.push(Entry::new(write, status));
    }

    pub fn count(&self, ack: Ack) -> usize {
        self.entries.iter().filter(|e| e.ack == ack).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_what_the_client_can_know() {
        assert_eq!(Ack::from_status(Some(200)), Ack::Acked);
        assert_eq!(Ack::from_status(Some(201)), Ack::Acked);
        assert_eq!(Ack::from_status(Some(404)), Ack::Rejected);
        assert_eq!(Ack::from_status(Some(409)), Ack::Rejected);
        assert_eq!(Ack::from_status(Some(503)), Ack::Ambiguous);
        assert_eq!(Ack::from_status(Some(500)), Ack::Ambiguous);
        assert_eq!(Ack::from_status(None), Ack::Ambiguous);
    }
}
