//! Anki's custom study sessions (rslib `scheduler/filtered/custom_study.rs`): "review forgotten
//! cards", "review ahead", "preview new cards" and "study by card state or tag" build (or
//! rebuild) the filtered deck "Custom Study Session" from one deck's cards, as the desktop
//! does, and make it the current deck. Studying it is `filtered.rs`'s.
//!
//! The deck holds Anki's search, so a device that syncs it rebuilds the same session; javumbo
//! selects the cards with the same conditions written as SQL (rslib `search/sqlwriter.rs`) and
//! Anki's orders (`storage/card/filtered.rs`), ties broken by `fnvhash(id, mod)` as there.
//! Where Anki orders at random (SQLite's unseeded `random()`), the order is a hash of the card
//! and the build instant: as random, not Anki's (no order could be).

use serde_json::{Value, json};

use crate::coljson::ColJson;
use crate::queue::order::sql_fnv;
use crate::{Collection, CollectionError, Result, storage};

/// The filtered deck custom study builds (Anki's English name, which a device reuses).
pub const SESSION_DECK_NAME: &str = "Custom Study Session";
/// Anki's `DYN_MAX_SIZE`: the most cards a session takes, and the dialog's largest number.
pub const MAX_SESSION_CARDS: u32 = 99_999;
/// The dialog's largest "forgotten in the last N days".
pub const MAX_FORGOT_DAYS: u32 = 30;
/// Most tags a cram session names (each list).
pub const MAX_CRAM_TAGS: usize = 100;

/// Which cards "study by card state or tag" takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CramKind {
    /// New cards only, in the order added.
    New,
    /// Due cards only, by due date.
    Due,
    /// Every card but new ones, at random.
    Review,
    /// Every card, at random, without rescheduling.
    All,
}

/// One of the custom study choices that build a session deck.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomSession {
    /// Cards answered Again in the last `days` days (1–30), previewed at random.
    ForgotDays(u32),
    /// Reviews (and learning cards) due within `days` days, by due date, rescheduled.
    ReviewAheadDays(u32),
    /// New cards added in the last `days` days, previewed in the order added.
    PreviewDays(u32),
    Cram {
        kind: CramKind,
        /// 1 to 99,999.
        card_limit: u32,
        /// Any of these tags (or their children); none: every card.
        tags_to_include: Vec<String>,
        /// None of these tags (or their children).
        tags_to_exclude: Vec<String>,
    },
}

/// The session deck built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltSession {
    pub deck_id: i64,
    pub name: String,
    /// Cards the session took.
    pub cards: i64,
}

/// A tag the custom study dialog offers, and whether the deck's last cram included or
/// excluded it (Anki's `custom_study_defaults`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StudyTag {
    pub name: String,
    pub include: bool,
    pub exclude: bool,
}

/// Anki's `FilteredSearchOrder` numbers (the deck's `terms` store them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    Random = 1,
    Added = 5,
    Due = 6,
}

/// What a session selects: Anki's search text, the SQL condition on `c` (and its parameters),
/// the order, whether it reschedules, and how many cards it takes.
struct Plan {
    search: String,
    condition: &'static str,
    params: Vec<i64>,
    order: Order,
    reschedule: bool,
    limit: u32,
    include: Vec<String>,
    exclude: Vec<String>,
}

/// Anki's search writer: a term is quoted when it holds a space or a bracket, starts with a
/// hyphen or is `and`/`or`; double quotes are escaped.
fn maybe_quote(term: &str) -> String {
    let lower = term.to_lowercase();
    let needs = lower == "and"
        || lower == "or"
        || (term.starts_with('-') && term.chars().count() > 1)
        || term.contains([' ', '\u{3000}', '(', ')']);
    let escaped = term.replace('"', "\\\"");
    if needs {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

/// `deck:<name>` with Anki's wildcards (`*`, `_`) and backslashes escaped.
fn deck_search(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len());
    for ch in name.chars() {
        if matches!(ch, '\\' | '*' | '_') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    maybe_quote(&format!("deck:{escaped}"))
}

/// A tag list from the client: each a tag as Anki stores it (no spaces), at most
/// [`MAX_CRAM_TAGS`].
fn check_tags(field: &str, tags: &[String]) -> Result<()> {
    if tags.len() > MAX_CRAM_TAGS {
        return Err(CollectionError::InvalidInput(format!(
            "{field} names more than {MAX_CRAM_TAGS} tags"
        )));
    }
    for tag in tags {
        if tag.is_empty()
            || tag.chars().count() > 100
            || tag.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(CollectionError::InvalidInput(format!(
                "{field}: {tag:?} is not a tag (1 to 100 characters, no spaces)"
            )));
        }
    }
    Ok(())
}

fn check_range(field: &str, value: u32, max: u32) -> Result<()> {
    if (1..=max).contains(&value) {
        Ok(())
    } else {
        Err(CollectionError::InvalidInput(format!(
            "{field} {value} is out of range (expected 1 to {max})"
        )))
    }
}

impl CustomSession {
    fn plan(
        &self,
        deck_name: &str,
        today: i64,
        next_day_at: i64,
        learn_cutoff: i64,
    ) -> Result<Plan> {
        let deck = deck_search(deck_name);
        let days_ago_ms = |days: u32| (next_day_at - i64::from(days) * 86_400) * 1000;
        let plan = |search, condition, params, order, reschedule, limit| Plan {
            search,
            condition,
            params,
            order,
            reschedule,
            limit,
            include: Vec::new(),
            exclude: Vec::new(),
        };
        Ok(match self {
            CustomSession::ForgotDays(days) => {
                check_range("forgotDays", *days, MAX_FORGOT_DAYS)?;
                plan(
                    format!("rated:{days}:1 {deck}"),
                    "c.id IN (SELECT cid FROM revlog WHERE id >= ?2 AND ease = 1)",
                    vec![days_ago_ms(*days)],
                    Order::Random,
                    false,
                    MAX_SESSION_CARDS,
                )
            }
            CustomSession::ReviewAheadDays(days) => {
                check_range("reviewAheadDays", *days, MAX_SESSION_CARDS)?;
                plan(
                    format!("prop:due<={days} {deck}"),
                    "((c.queue IN (2, 3) AND c.due <= ?2) \
                      OR (c.queue IN (1, 4) AND (c.due - ?3) / 86400 <= ?4))",
                    vec![today + i64::from(*days), next_day_at, i64::from(*days)],
                    Order::Due,
                    true,
                    MAX_SESSION_CARDS,
                )
            }
            CustomSession::PreviewDays(days) => {
                check_range("previewDays", *days, MAX_SESSION_CARDS)?;
                plan(
                    format!("is:new added:{days} {deck}"),
                    "c.type = 0 AND c.id > ?2",
                    vec![days_ago_ms(*days)],
                    Order::Added,
                    false,
                    MAX_SESSION_CARDS,
                )
            }
            CustomSession::Cram {
                kind,
                card_limit,
                tags_to_include,
                tags_to_exclude,
            } => {
                check_range("cardLimit", *card_limit, MAX_SESSION_CARDS)?;
                check_tags("tagsToInclude", tags_to_include)?;
                check_tags("tagsToExclude", tags_to_exclude)?;
                let (state, condition, params, order, reschedule) = match kind {
                    CramKind::New => (Some("is:new"), "c.type = 0", vec![], Order::Added, true),
                    CramKind::Due => (
                        Some("is:due"),
                        "((c.queue IN (2, 3) AND c.due <= ?2) \
                          OR (c.queue IN (1, 4) AND c.due <= ?3))",
                        vec![today, learn_cutoff],
                        Order::Due,
                        true,
                    ),
                    CramKind::Review => {
                        (Some("-is:new"), "c.type != 0", vec![], Order::Random, true)
                    }
                    CramKind::All => (None, "1", vec![], Order::Random, false),
                };
                let mut search: Vec<String> = state.map(str::to_owned).into_iter().collect();
                search.push(deck);
                let tag = |t: &String| maybe_quote(&format!("tag:{t}"));
                match tags_to_include.as_slice() {
                    [] => {}
                    [one] => search.push(tag(one)),
                    many => search.push(format!(
                        "({})",
                        many.iter().map(tag).collect::<Vec<_>>().join(" OR ")
                    )),
                }
                // Anki groups the excluded tags as it groups the included ones.
                match tags_to_exclude.as_slice() {
                    [] => {}
                    [one] => search.push(format!("-{}", tag(one))),
                    many => search.push(format!(
                        "({})",
                        many.iter()
                            .map(|t| format!("-{}", tag(t)))
                            .collect::<Vec<_>>()
                            .join(" ")
                    )),
                }
                Plan {
                    search: search.join(" "),
                    condition,
                    params,
                    order,
                    reschedule,
                    limit: *card_limit,
                    include: tags_to_include.clone(),
                    exclude: tags_to_exclude.clone(),
                }
            }
        })
    }
}

/// Whether a note's tags (Anki's space-padded string, lowercased) hold `tag` (lowercased) or
/// one of its children: Anki's `tag:` search without wildcards, which ignores case.
fn has_tag(note_tags: &str, tag: &str) -> bool {
    note_tags.split_whitespace().any(|t| {
        t == tag
            || t.strip_prefix(tag)
                .is_some_and(|rest| rest.starts_with("::"))
    })
}

/// A card that may join the session, with what its order reads.
struct Candidate {
    id: i64,
    nid: i64,
    ord: i64,
    due: i64,
    modified: i64,
    tags: String,
}

impl Collection {
    /// Anki's custom study choices that build the filtered deck "Custom Study Session" from
    /// deck `deck_id` (and its subdecks): emptied and rebuilt when it exists, created when not,
    /// then made the current deck. Refused (nothing changed): a filtered deck as the source, a
    /// normal deck already named "Custom Study Session", values out of the dialog's ranges, and
    /// a session that would take no card ("No cards matched the criteria you provided.").
    pub fn custom_study_session(
        &self,
        deck_id: i64,
        session: &CustomSession,
    ) -> Result<BuiltSession> {
        self.atomic(|c| {
            let source = c.deck_row(deck_id)?;
            if source.filtered {
                return Err(CollectionError::InvalidInput(format!(
                    "deck {deck_id} is a filtered deck: custom study builds from a normal deck"
                )));
            }
            let conf = c.read_json_shared(ColJson::Conf)?;
            let now = c.clock().now_secs();
            let timing = c.timing_at(&conf, now)?;
            let learn_cutoff = now + crate::queue::learn_ahead(&conf);
            let plan = session.plan(
                &source.name,
                timing.days_elapsed,
                timing.next_day_at,
                learn_cutoff,
            )?;
            let subtree = c.subtree_ids(&source)?;
            let session_deck = c.session_deck(&plan, now)?;
            let chosen = c.session_cards(&plan, &subtree, timing.days_elapsed, now)?;
            if chosen.is_empty() {
                return Err(CollectionError::InvalidInput(
                    "No cards matched the criteria you provided.".into(),
                ));
            }
            for (n, id) in chosen.iter().enumerate() {
                let position = -100_000 + n as i64;
                storage::cards::lend(c.conn(), *id, session_deck, position, plan.reschedule, now)?;
            }
            if let CustomSession::Cram {
                tags_to_include,
                tags_to_exclude,
                ..
            } = session
            {
                // Anki remembers the tags per deck for the dialog's next defaults.
                let mut conf = c.read_json(ColJson::Conf)?;
                conf.insert(
                    format!("_deck_{deck_id}_customStudyIncludeTags"),
                    json!(tags_to_include),
                );
                conf.insert(
                    format!("_deck_{deck_id}_customStudyExcludeTags"),
                    json!(tags_to_exclude),
                );
                c.write_json(ColJson::Conf, &conf)?;
            }
            c.select_deck(session_deck)?;
            c.touch()?;
            Ok(BuiltSession {
                deck_id: session_deck,
                name: SESSION_DECK_NAME.to_owned(),
                cards: chosen.len() as i64,
            })
        })
    }

    /// The custom study dialog's tags for deck `deck_id`: every tag of the notes with a card in
    /// the deck or its subdecks (once, whatever its case), in Anki's order (case-insensitive),
    /// each marked as the deck's last cram included or excluded it.
    pub fn custom_study_tags(&self, deck_id: i64) -> Result<Vec<StudyTag>> {
        let deck = self.deck_row(deck_id)?;
        let subtree = storage::id_array(&self.subtree_ids(&deck)?);
        let mut stmt = self.conn().prepare_cached(
            "SELECT DISTINCT tags FROM notes WHERE id IN
               (SELECT nid FROM cards WHERE did IN (SELECT value FROM json_each(?1)))",
        )?;
        let mut seen = std::collections::HashMap::new();
        for tags in stmt.query_map([subtree], |r| r.get::<_, String>(0))? {
            for tag in tags?.split_whitespace() {
                seen.entry(tag.to_lowercase())
                    .or_insert_with(|| tag.to_owned());
            }
        }
        let conf = self.read_json_shared(ColJson::Conf)?;
        let remembered = |kind: &str| -> Vec<String> {
            conf.get(&format!("_deck_{deck_id}_customStudy{kind}Tags"))
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default()
        };
        let (include, exclude) = (remembered("Include"), remembered("Exclude"));
        let mut out: Vec<(String, String)> = seen.into_iter().collect();
        out.sort();
        Ok(out
            .into_iter()
            .map(|(_, name)| StudyTag {
                include: include.contains(&name),
                exclude: exclude.contains(&name),
                name,
            })
            .collect())
    }

    /// The session deck with `plan`'s search: the existing "Custom Study Session" emptied
    /// (its cards back home) and updated, or a new one.
    fn session_deck(&self, plan: &Plan, now: i64) -> Result<i64> {
        let mut decks = self.read_json(ColJson::Decks)?;
        let existing = self
            .deck_rows()?
            .into_iter()
            .find(|d| d.name.eq_ignore_ascii_case(SESSION_DECK_NAME));
        let id = match existing {
            Some(d) if !d.filtered => {
                return Err(CollectionError::InvalidInput(format!(
                    "a deck named '{}' exists and is not a filtered deck: rename it first",
                    d.name
                )));
            }
            Some(d) => {
                storage::cards::return_home(self.conn(), d.id, now)?;
                d.id
            }
            None => {
                let id = self.next_deck_id(&decks);
                decks.insert(id.to_string(), session_deck_json(id, now));
                id
            }
        };
        if let Some(Value::Object(deck)) = decks.get_mut(&id.to_string()) {
            deck.insert(
                "terms".into(),
                json!([[plan.search, plan.limit, plan.order as i64]]),
            );
            deck.insert("resched".into(), plan.reschedule.into());
            deck.insert("mod".into(), now.into());
            deck.insert("usn".into(), (-1).into());
        }
        self.write_json(ColJson::Decks, &decks)?;
        Ok(id)
    }

    /// The cards `plan` takes from the decks `subtree`, in its order, at most its limit: not
    /// suspended, not buried, not in another filtered deck.
    fn session_cards(
        &self,
        plan: &Plan,
        subtree: &[i64],
        today: i64,
        now: i64,
    ) -> Result<Vec<i64>> {
        let sql = format!(
            "SELECT c.id, c.nid, c.ord, c.due, c.mod, n.tags FROM cards c JOIN notes n ON n.id = c.nid
             WHERE c.did IN (SELECT value FROM json_each(?1)) AND c.odid = 0 AND c.queue >= 0
               AND {}",
            plan.condition
        );
        let mut params: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(storage::id_array(subtree))];
        params.extend(
            plan.params
                .iter()
                .map(|p| Box::new(*p) as Box<dyn rusqlite::ToSql>),
        );
        let mut stmt = self.conn().prepare_cached(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |r| {
            Ok(Candidate {
                id: r.get(0)?,
                nid: r.get(1)?,
                ord: r.get(2)?,
                due: r.get(3)?,
                modified: r.get(4)?,
                tags: r.get(5)?,
            })
        })?;
        // Lowercased once each (a session may weigh every card against 200 tags).
        let include: Vec<String> = plan.include.iter().map(|t| t.to_lowercase()).collect();
        let exclude: Vec<String> = plan.exclude.iter().map(|t| t.to_lowercase()).collect();
        let mut cards: Vec<Candidate> = rows
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .filter(|c| {
                if include.is_empty() && exclude.is_empty() {
                    return true;
                }
                let tags = c.tags.to_lowercase();
                (include.is_empty() || include.iter().any(|t| has_tag(&tags, t)))
                    && !exclude.iter().any(|t| has_tag(&tags, t))
            })
            .collect();
        let tie = |c: &Candidate| sql_fnv(&[c.id, c.modified]);
        match plan.order {
            Order::Due => cards.sort_by_cached_key(|c| {
                let at = if c.due > 1_000_000_000 {
                    c.due
                } else {
                    (c.due - today) * 86_400 + now
                };
                (at, c.ord, tie(c))
            }),
            Order::Added => cards.sort_by_cached_key(|c| (c.nid, c.ord, tie(c))),
            Order::Random => {
                cards.sort_by_cached_key(|c| (sql_fnv(&[c.id, c.modified, now]), tie(c)))
            }
        }
        cards.truncate(plan.limit as usize);
        Ok(cards.into_iter().map(|c| c.id).collect())
    }
}

/// A new "Custom Study Session" deck as Anki writes it (schema 11), before its search.
fn session_deck_json(id: i64, now: i64) -> Value {
    let mut deck = crate::schema::deck_common_json(id, SESSION_DECK_NAME, now);
    deck.extend([
        ("collapsed".into(), json!(true)),
        ("browserCollapsed".into(), json!(true)),
        ("dyn".into(), json!(1)),
        ("resched".into(), json!(true)),
        ("terms".into(), json!([])),
        ("separate".into(), json!(true)),
        ("delays".into(), Value::Null),
        ("previewDelay".into(), json!(10)),
        ("previewAgainSecs".into(), json!(60)),
        ("previewHardSecs".into(), json!(600)),
        ("previewGoodSecs".into(), json!(0)),
    ]);
    Value::Object(deck)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_match_themselves_and_their_children_in_any_case() {
        let tags = " Lang::ES verb ".to_lowercase();
        assert!(has_tag(&tags, "lang"));
        assert!(has_tag(&tags, "lang::es"));
        assert!(has_tag(&tags, "verb"));
        assert!(!has_tag(&tags, "lan"), "a prefix is not a parent");
        assert!(!has_tag(&tags, "lang::es::past"));
        assert!(!has_tag(&tags, "verbs"));
    }

    /// The dialog's tags: the deck's (subdecks included, once whatever the case, in Anki's
    /// order), marked as the last cram chose them; a cram takes the included ones and their
    /// children (in any case), never the excluded ones.
    #[test]
    fn a_cram_by_tag_and_the_dialog_s_tags() {
        let (col, _) = crate::testutil::empty();
        let deck = col.create_deck("D::Sub").unwrap().id;
        let parent = col
            .deck_rows()
            .unwrap()
            .into_iter()
            .find(|d| d.name == "D")
            .unwrap()
            .id;
        let note = |tags: &[&str], front: &str| {
            col.add_note(&crate::notes::NewNote {
                notetype_id: None,
                deck_id: Some(deck),
                fields: vec![front.into(), "b".into()],
                tags: tags.iter().map(|t| t.to_string()).collect(),
            })
            .unwrap();
        };
        note(&["Lang::ES", "verb"], "hablar");
        note(&["lang::es::past", "noun"], "casa");
        note(&["Verb"], "comer");
        let built = col
            .custom_study_session(
                parent,
                &CustomSession::Cram {
                    kind: CramKind::All,
                    card_limit: 10,
                    tags_to_include: vec!["Lang::ES".into()],
                    tags_to_exclude: vec!["noun".into()],
                },
            )
            .unwrap();
        assert_eq!(built.cards, 1, "hablar: lang::es and not a noun");
        let tags = col.custom_study_tags(parent).unwrap();
        let names: Vec<(&str, bool, bool)> = tags
            .iter()
            .map(|t| (t.name.as_str(), t.include, t.exclude))
            .collect();
        // Lent cards are in the session deck: only comer's and casa's notes are left here.
        assert_eq!(
            names,
            [
                ("lang::es::past", false, false),
                ("noun", false, true),
                ("Verb", false, false)
            ]
        );
        col.empty_filtered_deck(built.deck_id).unwrap();
        let names: Vec<String> = col
            .custom_study_tags(parent)
            .unwrap()
            .into_iter()
            .map(|t| {
                format!(
                    "{}{}{}",
                    t.name,
                    if t.include { "+" } else { "" },
                    if t.exclude { "-" } else { "" }
                )
            })
            .collect();
        // Remembered as given; marked (like Anki) where the spelling is the tag's.
        assert_eq!(names, ["Lang::ES+", "lang::es::past", "noun-", "verb"]);
    }

    #[test]
    fn searches_are_written_as_anki_writes_them() {
        assert_eq!(deck_search("Lang"), "deck:Lang");
        assert_eq!(
            deck_search("My Deck::Sub_1 (x)*"),
            "\"deck:My Deck::Sub\\_1 (x)\\*\""
        );
        assert_eq!(maybe_quote("-tag:x"), "\"-tag:x\"");
        assert_eq!(maybe_quote("or"), "\"or\"");
        assert_eq!(maybe_quote("tag:a::b"), "tag:a::b");
    }
}
