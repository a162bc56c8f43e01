//! The run's report: JSON for scripts, markdown for people.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::check::Counts;
use crate::migrate::Outcome;

#[derive(Debug, Clone, Serialize)]
pub struct UserReport {
    pub origin: String,
    pub username: String,
    /// The key javumbo's stores file the user under.
    pub storage_key: Option<String>,
    pub outcome: Outcome,
    pub source_checksum: Option<String>,
    pub before: Option<Counts>,
    pub after: Option<Counts>,
    /// Cards Anki's own check would delete too (no note, or no template).
    pub cards_deleted: i64,
    pub normalised: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub source: String,
    pub target: String,
    pub dry_run: bool,
    pub users: Vec<UserReport>,
    pub totals: BTreeMap<String, usize>,
}

impl Report {
    pub fn new(source: String, target: String, dry_run: bool, users: Vec<UserReport>) -> Self {
        let mut totals = BTreeMap::new();
        for u in &users {
            let key = serde_json::to_value(u.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            *totals.entry(key).or_default() += 1;
        }
        Self {
            source,
            target,
            dry_run,
            users,
            totals,
        }
    }

    pub fn failed(&self) -> usize {
        self.users
            .iter()
            .filter(|u| u.outcome == Outcome::Failed)
            .count()
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "# javumbo-migrate report\n");
        let _ = writeln!(s, "- source: {}", self.source);
        let _ = writeln!(s, "- target: {}", self.target);
        let _ = writeln!(s, "- dry run: {}", if self.dry_run { "yes" } else { "no" });
        let totals: Vec<String> = self
            .totals
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(s, "- users: {} ({})\n", self.users.len(), totals.join(", "));
        let _ = writeln!(
            s,
            "| user | from | outcome | notes | cards | revlog (kept) | normalised |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|");
        for u in &self.users {
            let counts = |c: Option<Counts>, f: fn(&Counts) -> i64| {
                c.as_ref().map_or("–".to_owned(), |c| f(c).to_string())
            };
            let pair =
                |f: fn(&Counts) -> i64| format!("{} → {}", counts(u.before, f), counts(u.after, f));
            let outcome = serde_json::to_value(u.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let detail = match &u.error {
                Some(e) => format!("**{}**", e.replace('|', "\\|")),
                None if u.normalised.is_empty() => "nothing".to_owned(),
                None => u.normalised.join("; "),
            };
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {} | {} | {} | {} |",
                u.username.replace('|', "\\|").replace('`', "'"),
                u.origin,
                outcome,
                pair(|c| c.notes),
                pair(|c| c.cards),
                pair(|c| c.revlog),
                detail
            );
        }
        s
    }
}
