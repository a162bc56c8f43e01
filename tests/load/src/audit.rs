//! The integrity audit: every acknowledged write must be visible in the final state, nothing
//! may appear twice, and nothing may appear that nobody asked for.
//!
//! The expected state is folded from the ledger (see [`crate::ledger`] for what "ambiguous"
//! allows), then compared with each view of the final state: the API's (decks, card listings)
//! and the exported `.apkg`'s (which adds the review log).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::ledger::{Ack, Ledger, Write};

/// One card as a view of the final state shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FinalCard {
    pub deck_id: i64,
    pub front: String,
    pub back: String,
}

/// A user's final state as one source (API or `.apkg`) shows it.
#[derive(Debug, Clone, Default)]
pub struct FinalView {
    pub decks: BTreeMap<i64, String>,
    pub cards: BTreeMap<i64, FinalCard>,
    /// Review-log rows per card id; only the `.apkg` carries it.
    pub revlog: Option<BTreeMap<i64, u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueKind {
    /// An acknowledged write is not in the final state.
    Lost,
    /// A write took effect more than once.
    Duplicated,
    /// State that no request asked for (or that was rejected).
    Phantom,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    pub kind: IssueKind,
    pub user: String,
    pub source: String,
    /// How many writes/rows this issue stands for (revlog gaps can be several rows).
    pub count: u64,
    pub detail: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuditTotals {
    pub users: u64,
    pub users_incomplete: u64,
    pub writes_acked: u64,
    pub writes_ambiguous: u64,
    pub writes_rejected: u64,
    pub cards_checked: u64,
    pub decks_checked: u64,
    pub revlog_rows_checked: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub phantom: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuditReport {
    pub totals: AuditTotals,
    /// The first issues found (the list is capped; the totals are not).
    pub issues: Vec<Issue>,
    /// Users whose final state could not be read (counts as a failure).
    pub incomplete: Vec<String>,
}

pub const MAX_LISTED_ISSUES: usize = 500;

impl AuditReport {
    pub fn clean(&self) -> bool {
        let t = &self.totals;
        t.lost == 0 && t.duplicated == 0 && t.phantom == 0 && t.users_incomplete == 0
    }

    pub fn add_user(&mut self, ledger: &Ledger, views: &[(&str, &FinalView)]) {
        self.totals.users += 1;
        self.totals.writes_acked += ledger.count(Ack::Acked) as u64;
        self.totals.writes_ambiguous += ledger.count(Ack::Ambiguous) as u64;
        self.totals.writes_rejected += ledger.count(Ack::Rejected) as u64;
        let expected = Expected::fold(ledger);
        for (source, view) in views {
            let mut out = Vec::new();
            let checked = expected.check(view, &mut |kind, count, detail| {
                out.push(Issue {
                    kind,
                    user: ledger.username.clone(),
                    source: (*source).to_string(),
                    count,
                    detail,
                })
            });
            self.totals.cards_checked += checked.cards;
            self.totals.decks_checked += checked.decks;
            self.totals.revlog_rows_checked += checked.revlog_rows;
            for issue in out {
                match issue.kind {
                    IssueKind::Lost => self.totals.lost += issue.count,
                    IssueKind::Duplicated => self.totals.duplicated += issue.count,
                    IssueKind::Phantom => self.totals.phantom += issue.count,
                }
                if self.issues.len() < MAX_LISTED_ISSUES {
                    self.issues.push(issue);
                }
            }
        }
    }

    pub fn add_incomplete(&mut self, user: &str, why: &str) {
        self.totals.users += 1;
        self.totals.users_incomplete += 1;
        self.incomplete.push(format!("{user}: {why}"));
    }
}

/// Whether something must exist at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alive {
    Yes,
    No,
    Maybe,
}

impl Alive {
    /// Apply a delete with the given acknowledgement.
    fn delete(self, ack: Ack) -> Self {
        match (self, ack) {
            (_, Ack::Acked) => Alive::No,
            (a, Ack::Rejected) => a,
            (Alive::No, Ack::Ambiguous) => Alive::No,
            (_, Ack::Ambiguous) => Alive::Maybe,
        }
    }

    fn allows(self, present: bool) -> bool {
        match self {
            Alive::Yes => present,
            Alive::No => !present,
            Alive::Maybe => true,
        }
    }
}

#[derive(Debug)]
struct ExpCard {
    deck_id: i64,
    created_front: String,
    /// Every content the card may legally have now: the last acknowledged one plus any
    /// ambiguous edit sent after it.
    contents: Vec<(String, String)>,
    alive: Alive,
    baseline: bool,
}

#[derive(Debug)]
struct ExpDeck {
    names: Vec<String>,
    alive: Alive,
}

#[derive(Debug, Default, Clone, Copy)]
struct Answers {
    acked: u64,
    ambiguous: u64,
}

#[derive(Debug, Default)]
struct Expected {
    cards: BTreeMap<i64, ExpCard>,
    decks: BTreeMap<i64, ExpDeck>,
    baseline_decks: BTreeSet<i64>,
    /// Fronts of creates whose outcome is unknown: a card with one of these may or may not exist.
    ambiguous_fronts: HashMap<String, i64>,
    ambiguous_deck_names: BTreeSet<String>,
    answers: BTreeMap<i64, Answers>,
}

#[derive(Debug, Default)]
struct Checked {
    cards: u64,
    decks: u64,
    revlog_rows: u64,
}

impl Expected {
    fn fold(ledger: &Ledger) -> Self {
        let mut exp = Expected {
            baseline_decks: ledger.baseline_decks.clone(),
            ..Expected::default()
        };
        for id in &ledger.baseline_cards {
            exp.cards.insert(
                *id,
                ExpCard {
                    deck_id: 0,
                    created_front: String::new(),
                    contents: Vec::new(),
                    alive: Alive::Yes,
                    baseline: true,
                },
            );
        }
        for e in &ledger.entries {
            match (&e.write, e.ack) {
                (_, Ack::Rejected) => {}
                (Write::CreateDeck { name, id: Some(id) }, Ack::Acked) => {
                    exp.decks.insert(
                        *id,
                        ExpDeck {
                            names: vec![name.clone()],
                            alive: Alive::Yes,
                        },
                    );
                }
                (Write::CreateDeck { name, .. }, _) => {
                    exp.ambiguous_deck_names.insert(name.to_lowercase());
                }
                (Write::RenameDeck { id, name }, ack) => {
                    if let Some(d) = exp.decks.get_mut(id) {
                        if ack == Ack::Acked {
                            d.names.clear();
                        }
                        d.names.push(name.clone());
                    }
                }
                (Write::DeleteDeck { id }, ack) => {
                    if let Some(d) = exp.decks.get_mut(id) {
                        d.alive = d.alive.delete(ack);
                    }
                    for c in exp.cards.values_mut().filter(|c| c.deck_id == *id) {
                        c.alive = c.alive.delete(ack);
                    }
                    // A create whose outcome is unknown may have landed in the deck: it is gone
                    // now only if the delete surely happened, and "maybe" covers both anyway.
                }
                (
                    Write::CreateCard {
                        deck_id,
                        front,
                        back,
                        id: Some(id),
                    },
                    Ack::Acked,
                ) => {
                    exp.cards.insert(
                        *id,
                        ExpCard {
                            deck_id: *deck_id,
                            created_front: front.clone(),
                            contents: vec![(front.clone(), back.clone())],
                            alive: Alive::Yes,
                            baseline: false,
                        },
                    );
                }
                (Write::CreateCard { deck_id, front, .. }, _) => {
                    exp.ambiguous_fronts.insert(front.clone(), *deck_id);
                }
                (Write::EditCard { id, front, back }, ack) => {
                    if let Some(c) = exp.cards.get_mut(id) {
                        if ack == Ack::Acked {
                            c.contents.clear();
                        }
                        c.contents.push((front.clone(), back.clone()));
                    }
                }
                (Write::DeleteCard { id }, ack) => {
                    if let Some(c) = exp.cards.get_mut(id) {
                        c.alive = c.alive.delete(ack);
                    }
                }
                (Write::Answer { card_id, .. }, ack) => {
                    let a = exp.answers.entry(*card_id).or_default();
                    if ack == Ack::Acked {
                        a.acked += 1;
                    } else {
                        a.ambiguous += 1;
                    }
                }
            }
        }
        exp
    }

    fn check(&self, view: &FinalView, issue: &mut dyn FnMut(IssueKind, u64, String)) -> Checked {
        let mut checked = Checked::default();
        // Cards we expect (or allow).
        for (id, exp) in &self.cards {
            checked.cards += 1;
            let found = view.cards.get(id);
            if !exp.alive.allows(found.is_some()) {
                match found {
                    None => issue(
                        IssueKind::Lost,
                        1,
                        format!("card {id} was acknowledged but is missing"),
                    ),
                    Some(c) => issue(
                        IssueKind::Lost,
                        1,
                        format!(
                            "card {id} ({:?}) is still there after an acknowledged delete",
                            c.front
                        ),
                    ),
                }
                continue;
            }
            let (Some(card), false) = (found, exp.baseline) else {
                continue;
            };
            if card.deck_id != exp.deck_id {
                issue(
                    IssueKind::Lost,
                    1,
                    format!(
                        "card {id} is in deck {} but was created in deck {}",
                        card.deck_id, exp.deck_id
                    ),
                );
            }
            if !exp
                .contents
                .iter()
                .any(|(f, b)| *f == card.front && *b == card.back)
            {
                issue(
                    IssueKind::Lost,
                    1,
                    format!(
                        "card {id} reads {:?}/{:?}, expected one of {:?}",
                        card.front, card.back, exp.contents
                    ),
                );
            }
        }
        // Cards nobody acknowledged.
        let mut fronts: HashMap<&str, Vec<i64>> = HashMap::new();
        for (id, card) in &view.cards {
            fronts.entry(card.front.as_str()).or_default().push(*id);
            if self.cards.contains_key(id) {
                continue;
            }
            if self.ambiguous_fronts.contains_key(&card.front) {
                continue;
            }
            let created_twice = self
                .cards
                .values()
                .any(|c| !c.baseline && c.created_front == card.front);
            if created_twice {
                issue(
                    IssueKind::Duplicated,
                    1,
                    format!("card {id} repeats the create of {:?}", card.front),
                );
            } else {
                issue(
                    IssueKind::Phantom,
                    1,
                    format!(
                        "card {id} {:?} in deck {} was never acknowledged",
                        card.front, card.deck_id
                    ),
                );
            }
        }
        // An ambiguous create may land once, never twice.
        for front in self.ambiguous_fronts.keys() {
            if let Some(ids) = fronts.get(front.as_str())
                && ids.len() > 1
            {
                issue(
                    IssueKind::Duplicated,
                    ids.len() as u64 - 1,
                    format!("cards {ids:?} all carry the create {front:?}"),
                );
            }
        }
        // Decks (deck 1 is hidden by the API while empty, so it is never judged).
        let mut names: HashMap<String, Vec<i64>> = HashMap::new();
        for (id, name) in &view.decks {
            names.entry(name.to_lowercase()).or_default().push(*id);
        }
        for (id, exp) in &self.decks {
            checked.decks += 1;
            let found = view.decks.get(id);
            if !exp.alive.allows(found.is_some()) {
                let what = if found.is_some() {
                    "is still there after an acknowledged delete"
                } else {
                    "was acknowledged but is missing"
                };
                issue(IssueKind::Lost, 1, format!("deck {id} {what}"));
                continue;
            }
            if let Some(name) = found
                && !exp.names.contains(name)
            {
                issue(
                    IssueKind::Lost,
                    1,
                    format!(
                        "deck {id} is named {name:?}, expected one of {:?}",
                        exp.names
                    ),
                );
            }
        }
        for (id, name) in &view.decks {
            if *id == 1 || self.baseline_decks.contains(id) || self.decks.contains_key(id) {
                continue;
            }
            if !self.ambiguous_deck_names.contains(&name.to_lowercase()) {
                issue(
                    IssueKind::Phantom,
                    1,
                    format!("deck {id} {name:?} was never acknowledged"),
                );
            }
        }
        for (name, ids) in names.iter().filter(|(_, ids)| ids.len() > 1) {
            issue(
                IssueKind::Duplicated,
                ids.len() as u64 - 1,
                format!("decks {ids:?} share the name {name:?}"),
            );
        }
        // Review log: one row per acknowledged answer, at most one per ambiguous answer.
        if let Some(revlog) = &view.revlog {
            for (cid, a) in &self.answers {
                let rows = revlog.get(cid).copied().unwrap_or(0);
                checked.revlog_rows += rows;
                if rows < a.acked {
                    issue(
                        IssueKind::Lost,
                        a.acked - rows,
                        format!(
                            "card {cid}: {rows} revlog rows for {} acknowledged answers",
                            a.acked
                        ),
                    );
                } else if rows > a.acked + a.ambiguous {
                    issue(
                        IssueKind::Duplicated,
                        rows - a.acked - a.ambiguous,
                        format!(
                            "card {cid}: {rows} revlog rows for {} acknowledged (+{} unknown) answers",
                            a.acked, a.ambiguous
                        ),
                    );
                }
            }
            for (cid, rows) in revlog {
                if !self.answers.contains_key(cid) {
                    checked.revlog_rows += rows;
                    issue(
                        IssueKind::Phantom,
                        *rows,
                        format!("card {cid}: {rows} revlog rows but it was never answered"),
                    );
                }
            }
        }
        checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(deck_id: i64, front: &str, back: &str) -> FinalCard {
        FinalCard {
            deck_id,
            front: front.into(),
            back: back.into(),
        }
    }

    /// The ledger of a short session: starter deck 5 with cards 10, 11; a new deck 7 with two
    /// cards, one edited, one deleted; three answers of card 10.
    fn session() -> Ledger {
        let mut l = Ledger::new("u1");
        l.baseline_decks.insert(5);
        l.baseline_cards.extend([10, 11]);
        l.push(
            Write::CreateDeck {
                name: "d".into(),
                id: Some(7),
            },
            Some(201),
        );
        for (id, f) in [(20, "u1:c1"), (21, "u1:c2")] {
            l.push(
                Write::CreateCard {
                    deck_id: 7,
                    front: f.into(),
                    back: "b".into(),
                    id: Some(id),
                },
                Some(201),
            );
        }
        l.push(
            Write::EditCard {
                id: 20,
                front: "u1:c1 edited".into(),
                back: "b2".into(),
            },
            Some(200),
        );
        l.push(Write::DeleteCard { id: 21 }, Some(200));
        for _ in 0..3 {
            l.push(
                Write::Answer {
                    card_id: 10,
                    ease: 3,
                },
                Some(200),
            );
        }
        l
    }

    fn good_view() -> FinalView {
        FinalView {
            decks: [(5, "Verbal Tenses".to_string()), (7, "d".to_string())].into(),
            cards: [
                (10, card(5, "x", "y")),
                (11, card(5, "x2", "y2")),
                (20, card(7, "u1:c1 edited", "b2")),
            ]
            .into(),
            revlog: Some([(10, 3)].into()),
        }
    }

    fn audit(ledger: &Ledger, view: &FinalView) -> AuditReport {
        let mut r = AuditReport::default();
        r.add_user(ledger, &[("apkg", view)]);
        r
    }

    #[test]
    fn a_faithful_final_state_is_clean() {
        let r = audit(&session(), &good_view());
        assert!(r.clean(), "{:?}", r.issues);
        assert_eq!(r.totals.writes_acked, 8);
        assert_eq!(r.totals.revlog_rows_checked, 3);
    }

    #[test]
    fn lost_writes_are_counted() {
        let mut v = good_view();
        v.revlog = Some([(10, 1)].into());
        v.cards.get_mut(&20).unwrap().back = "b".into();
        v.cards.insert(21, card(7, "u1:c2", "b"));
        v.cards.remove(&11);
        let r = audit(&session(), &v);
        // 2 revlog rows + stale edit + resurrected card + missing starter card.
        assert_eq!(r.totals.lost, 5, "{:?}", r.issues);
        assert_eq!(r.totals.duplicated + r.totals.phantom, 0);
    }

    #[test]
    fn duplicates_and_phantoms_are_counted() {
        let mut v = good_view();
        v.revlog = Some([(10, 4), (11, 2)].into());
        v.cards.insert(30, card(7, "u1:c1", "b")); // the create applied twice
        v.cards.insert(31, card(7, "nobody", "asked"));
        v.decks.insert(8, "ghost".into());
        let r = audit(&session(), &v);
        assert_eq!(r.totals.duplicated, 2, "{:?}", r.issues);
        assert_eq!(r.totals.phantom, 4, "{:?}", r.issues);
        assert!(!r.clean());
    }

    #[test]
    fn ambiguous_writes_may_land_once_or_not_at_all() {
        let mut l = session();
        l.push(
            Write::CreateCard {
                deck_id: 7,
                front: "u1:c3".into(),
                back: "b".into(),
                id: None,
            },
            None,
        );
        l.push(
            Write::Answer {
                card_id: 11,
                ease: 1,
            },
            Some(503),
        );
        l.push(
            Write::EditCard {
                id: 20,
                front: "u1:c1 again".into(),
                back: "b3".into(),
            },
            Some(503),
        );
        l.push(Write::DeleteDeck { id: 7 }, None);
        assert!(audit(&l, &good_view()).clean());

        let mut landed = good_view();
        landed.cards.insert(40, card(7, "u1:c3", "b"));
        landed.revlog = Some([(10, 3), (11, 1)].into());
        landed.cards.get_mut(&20).unwrap().front = "u1:c1 again".into();
        landed.cards.get_mut(&20).unwrap().back = "b3".into();
        assert!(audit(&l, &landed).clean());

        let mut gone = good_view();
        gone.decks.remove(&7);
        gone.cards.remove(&20);
        assert!(audit(&l, &gone).clean());

        let mut twice = landed.clone();
        twice.cards.insert(41, card(7, "u1:c3", "b"));
        assert_eq!(audit(&l, &twice).totals.duplicated, 1);
    }

    #[test]
    fn an_acknowledged_deck_delete_takes_its_cards() {
        let mut l = session();
        l.push(Write::DeleteDeck { id: 7 }, Some(200));
        let r = audit(&l, &good_view());
        assert_eq!(r.totals.lost, 2, "{:?}", r.issues); // deck 7 and card 20 still there
        let mut v = good_view();
        v.decks.remove(&7);
        v.cards.remove(&20);
        assert!(audit(&l, &v).clean());
    }

    #[test]
    fn rejected_writes_must_leave_no_trace() {
        let mut l = session();
        l.push(
            Write::CreateCard {
                deck_id: 7,
                front: "u1:c9".into(),
                back: "b".into(),
                id: None,
            },
            Some(400),
        );
        let mut v = good_view();
        v.cards.insert(50, card(7, "u1:c9", "b"));
        assert_eq!(audit(&l, &v).totals.phantom, 1);
    }
}
