//! What a virtual student does. Each student owns an account, a seeded RNG and a [`Ledger`] of
//! every write it sent with what it got back; scenarios are plain async functions over it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Api, Resp};
use crate::config::{EaseMix, ScenarioKind};
use crate::error::{LoadError, Result};
use crate::ledger::{Entry, Ledger, Write};
use crate::metrics::Metrics;

/// Example sentences in the spirit of the starter deck, so card sizes look like real ones.
const SENTENCES: [(&str, &str); 8] = [
    (
        "She has lived here since 2010.",
        "Present perfect: a state that started in the past and continues now.",
    ),
    (
        "By next June they will have finished the bridge.",
        "Future perfect: an action complete before a future moment.",
    ),
    (
        "I was reading when the lights went out.",
        "Past continuous: an action in progress interrupted by another.",
    ),
    (
        "He had already left when we arrived.",
        "Past perfect: the earlier of two past actions.",
    ),
    (
        "Water boils at 100 degrees Celsius.",
        "Present simple: a general truth.",
    ),
    (
        "We are meeting the client tomorrow.",
        "Present continuous for a fixed future arrangement.",
    ),
    (
        "They will be travelling all night.",
        "Future continuous: an action in progress at a future time.",
    ),
    (
        "It has been raining for hours.",
        "Present perfect continuous: duration up to now.",
    ),
];

/// When to stop, shared by every student.
#[derive(Debug)]
pub struct StopSignal {
    stopped: AtomicBool,
    deadline: Option<Instant>,
    max_requests: Option<u64>,
    metrics: Arc<Metrics>,
}

impl StopSignal {
    pub fn new(
        deadline: Option<Instant>,
        max_requests: Option<u64>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            stopped: AtomicBool::new(false),
            deadline,
            max_requests,
            metrics,
        }
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    pub fn should_stop(&self) -> bool {
        if self.stopped.load(Ordering::Relaxed) {
            return true;
        }
        let out_of_time = self.deadline.is_some_and(|d| Instant::now() >= d);
        let out_of_requests = self
            .max_requests
            .is_some_and(|m| self.metrics.requests() >= m);
        if out_of_time || out_of_requests {
            self.stop();
        }
        out_of_time || out_of_requests
    }
}

/// Settings every scenario reads.
#[derive(Debug)]
pub struct ScenarioCtx {
    pub reviews: u32,
    pub ease_mix: EaseMix,
    pub think: Duration,
    pub adversarial_clients: u32,
    pub timeout: Duration,
    pub stop: Arc<StopSignal>,
    /// Sessions that ended with a flush request, and how many flushes were acknowledged.
    pub sessions: AtomicU64,
    pub flushes_ok: AtomicU64,
}

pub struct Student {
    pub username: String,
    pub api: Api,
    pub rng: StdRng,
    pub ledger: Ledger,
    /// The deck study sessions draw from (the starter deck, then fresh ones when it runs dry).
    pub study_deck: i64,
    /// The current deck as far as this client knows (None after an unknown outcome).
    pub current_deck: Option<i64>,
    seq: u64,
}

fn seeded(seed: u64, salt: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

impl Student {
    /// Register (idempotently: the duplicate-name 400 after a lost first answer is fine; the request
    /// is otherwise valid), log in and record the
    /// starter deck as the audit's baseline. Retried because fault runs fail some store calls.
    pub async fn setup(api: Api, username: String, seed: u64, index: u64) -> Result<Self> {
        let password = format!("pw-{username}-load");
        let setup_err = |reason: String| LoadError::Setup {
            user: username.clone(),
            reason,
        };
        let mut last = String::new();
        let mut token = None;
        for attempt in 0..8u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt.min(5))).await;
            }
            let reg = api
                .call(
                    "POST /api/register",
                    Method::POST,
                    "/api/register",
                    Some(&json!({"username": username, "name": format!("Load {index}"), "password": password})),
                    &[400],
                )
                .await;
            if !(reg.ok() || reg.status == Some(400)) {
                last = format!("register answered {:?}", reg.status);
                continue;
            }
            let login = api
                .call(
                    "POST /api/login",
                    Method::POST,
                    "/api/login",
                    Some(&json!({"username": username, "password": password})),
                    &[],
                )
                .await;
            match login.str("access_token") {
                Some(t) if login.ok() => {
                    token = Some(t.to_string());
                    break;
                }
                _ => last = format!("login answered {:?}", login.status),
            }
        }
        let token = token.ok_or_else(|| setup_err(last.clone()))?;
        let api = api.with_token(&token);
        let mut ledger = Ledger::new(username.clone());
        let mut study_deck = None;
        for attempt in 0..8u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt.min(5))).await;
            }
            let Some(decks) = list_decks(&api).await else {
                continue;
            };
            let Some((id, _)) = decks.iter().find(|(_, n)| n == "Verbal Tenses") else {
                return Err(setup_err("no \"Verbal Tenses\" starter deck".into()));
            };
            let Some(cards) = list_cards(&api, *id).await else {
                continue;
            };
            ledger.baseline_decks = decks.iter().map(|(id, _)| *id).collect();
            ledger.baseline_cards = cards.iter().map(|(cid, _)| *cid).collect();
            study_deck = Some(*id);
            break;
        }
        let study_deck =
            study_deck.ok_or_else(|| setup_err("could not list the starter deck".into()))?;
        Ok(Self {
            username,
            api,
            rng: seeded(seed, index),
            ledger,
            study_deck,
            current_deck: Some(study_deck),
            seq: 0,
        })
    }

    async fn think(&mut self, ctx: &ScenarioCtx) {
        think(&mut self.rng, ctx.think).await;
    }

    fn next_tag(&mut self) -> String {
        self.seq += 1;
        format!("{}:{}", self.username, self.seq)
    }

    fn new_card_text(&mut self) -> (String, String) {
        let tag = self.next_tag();
        let (f, b) = SENTENCES[self.rng.random_range(0..SENTENCES.len())];
        (format!("{tag} {f}"), b.to_string())
    }

    pub async fn run(&mut self, kind: ScenarioKind, ctx: &ScenarioCtx) {
        match kind {
            ScenarioKind::Study | ScenarioKind::Mix => self.study(ctx).await,
            ScenarioKind::Crud => self.crud(ctx).await,
            ScenarioKind::Stats => self.stats_export(ctx).await,
            ScenarioKind::Adversarial => self.adversarial(ctx).await,
        }
        self.flush(ctx).await;
    }

    async fn set_current(&mut self, deck: i64) {
        let r = self
            .api
            .call(
                "PUT /api/decks/current",
                Method::PUT,
                "/api/decks/current",
                Some(&json!({"deckId": deck})),
                &[],
            )
            .await;
        self.current_deck = r.ok().then_some(deck);
    }

    async fn create_deck(&mut self, name: String) -> Option<i64> {
        let r = self
            .api
            .call(
                "POST /api/decks",
                Method::POST,
                "/api/decks",
                Some(&json!({"name": name})),
                &[],
            )
            .await;
        let id = r.i64("id").filter(|_| r.ok());
        self.ledger.push(Write::CreateDeck { name, id }, r.status);
        id
    }

    /// Add a card; `deck = None` means "the current deck" (the server's default).
    async fn add_card(&mut self, deck: Option<i64>) -> Option<i64> {
        let (front, back) = self.new_card_text();
        let mut body = json!({"front": front, "back": back});
        let deck_id = match deck {
            Some(d) => {
                body["deckId"] = json!(d);
                d
            }
            None => self.current_deck.unwrap_or(1),
        };
        let r = self
            .api
            .call(
                "POST /api/cards",
                Method::POST,
                "/api/cards",
                Some(&body),
                &[],
            )
            .await;
        let id = r
            .i64("cardId")
            .or_else(|| r.i64("card_id"))
            .filter(|_| r.ok());
        self.ledger.push(
            Write::CreateCard {
                deck_id,
                front,
                back,
                id,
            },
            r.status,
        );
        id
    }

    async fn answer(&mut self, card_id: i64, ctx: &ScenarioCtx) -> Resp {
        let ease = ctx
            .ease_mix
            .pick(self.rng.random_range(0..ctx.ease_mix.total()));
        let taken = self.rng.random_range(1_500..12_000);
        let r = self
            .api
            .call(
                "POST /api/review",
                Method::POST,
                "/api/review",
                Some(&json!({"cardId": card_id, "ease": ease, "timeTaken": taken})),
                &[],
            )
            .await;
        self.ledger.push(Write::Answer { card_id, ease }, r.status);
        r
    }

    /// N × (next card, think, answer). When the deck runs dry (daily new limit, nothing due) the
    /// student makes a fresh deck of ten cards, as a real one would to keep studying.
    pub async fn study(&mut self, ctx: &ScenarioCtx) {
        if self.current_deck != Some(self.study_deck) {
            self.set_current(self.study_deck).await;
        }
        let mut replenished = false;
        for _ in 0..ctx.reviews {
            if ctx.stop.should_stop() {
                break;
            }
            let next = self
                .api
                .call("GET /api/review", Method::GET, "/api/review", None, &[])
                .await;
            if !next.ok() {
                self.think(ctx).await;
                continue;
            }
            match next.i64("cardId") {
                Some(card) => {
                    self.think(ctx).await;
                    self.answer(card, ctx).await;
                }
                None if !replenished => {
                    replenished = true;
                    let name = format!("Study {}", self.next_tag());
                    let Some(deck) = self.create_deck(name).await else {
                        break;
                    };
                    for _ in 0..10 {
                        self.add_card(Some(deck)).await;
                    }
                    self.set_current(deck).await;
                    self.study_deck = deck;
                }
                None => break,
            }
        }
    }

    /// The seed's 14-operation lifecycle: create deck, set current, add 3 cards, list cards,
    /// get card, edit card, delete card, stats, rename deck, list decks, delete deck, list decks.
    pub async fn crud(&mut self, ctx: &ScenarioCtx) {
        let name = format!("Deck {}", self.next_tag());
        let Some(deck) = self.create_deck(name).await else {
            return;
        };
        self.think(ctx).await;
        self.set_current(deck).await;
        let mut cards = Vec::new();
        for _ in 0..3 {
            self.think(ctx).await;
            // Exercise the "current deck" default when the client knows what it is.
            let target = (self.current_deck != Some(deck)).then_some(deck);
            if let Some(id) = self.add_card(target).await {
                cards.push(id);
            }
        }
        self.think(ctx).await;
        self.api
            .call(
                "GET /api/decks/{id}/cards",
                Method::GET,
                &format!("/api/decks/{deck}/cards?page=1&perPage=10"),
                None,
                &[],
            )
            .await;
        if let Some(&first) = cards.first() {
            self.think(ctx).await;
            self.api
                .call(
                    "GET /api/cards/{id}",
                    Method::GET,
                    &format!("/api/cards/{first}"),
                    None,
                    &[],
                )
                .await;
            self.think(ctx).await;
            let tag = self.next_tag();
            let (front, back) = (format!("{tag} edited"), format!("Edited back {tag}"));
            let r = self
                .api
                .call(
                    "PUT /api/cards/{id}",
                    Method::PUT,
                    &format!("/api/cards/{first}"),
                    Some(&json!({"front": front, "back": back})),
                    &[],
                )
                .await;
            self.ledger.push(
                Write::EditCard {
                    id: first,
                    front,
                    back,
                },
                r.status,
            );
        }
        if let Some(&second) = cards.get(1) {
            self.think(ctx).await;
            let r = self
                .api
                .call(
                    "DELETE /api/cards/{id}",
                    Method::DELETE,
                    &format!("/api/cards/{second}"),
                    None,
                    &[],
                )
                .await;
            self.ledger.push(Write::DeleteCard { id: second }, r.status);
        }
        self.think(ctx).await;
        self.api
            .call(
                "GET /api/decks/{id}/stats",
                Method::GET,
                &format!("/api/decks/{deck}/stats"),
                None,
                &[],
            )
            .await;
        self.think(ctx).await;
        let name = format!("Renamed {}", self.next_tag());
        let r = self
            .api
            .call(
                "PUT /api/decks/{id}/rename",
                Method::PUT,
                &format!("/api/decks/{deck}/rename"),
                Some(&json!({"name": name})),
                &[],
            )
            .await;
        self.ledger
            .push(Write::RenameDeck { id: deck, name }, r.status);
        self.think(ctx).await;
        list_decks(&self.api).await;
        self.think(ctx).await;
        let r = self
            .api
            .call(
                "DELETE /api/decks/{id}",
                Method::DELETE,
                &format!("/api/decks/{deck}"),
                None,
                &[],
            )
            .await;
        self.ledger.push(Write::DeleteDeck { id: deck }, r.status);
        // Deleting the current deck makes deck 1 current (`docs/openapi.yaml`); unknown if the delete was.
        if self.current_deck == Some(deck) {
            self.current_deck = r.ok().then_some(1);
        }
        self.think(ctx).await;
        list_decks(&self.api).await;
    }

    /// The seed's 12-operation read-only session: health, decks, stats, card pages, a card,
    /// a peek at the next card, session status, the export, and a second look.
    pub async fn stats_export(&mut self, ctx: &ScenarioCtx) {
        let deck = self.study_deck;
        let api = self.api.clone();
        api.call("GET /api/health", Method::GET, "/api/health", None, &[])
            .await;
        self.think(ctx).await;
        list_decks(&api).await;
        self.think(ctx).await;
        let stats_path = format!("/api/decks/{deck}/stats");
        api.call(
            "GET /api/decks/{id}/stats",
            Method::GET,
            &stats_path,
            None,
            &[],
        )
        .await;
        self.think(ctx).await;
        let page1 = api
            .call(
                "GET /api/decks/{id}/cards",
                Method::GET,
                &format!("/api/decks/{deck}/cards?page=1&perPage=10"),
                None,
                &[],
            )
            .await;
        self.think(ctx).await;
        api.call(
            "GET /api/decks/{id}/cards",
            Method::GET,
            &format!("/api/decks/{deck}/cards?page=2&perPage=10"),
            None,
            &[],
        )
        .await;
        self.think(ctx).await;
        let card = page1
            .json
            .get("cards")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
            .and_then(|c| c.get("cardId"))
            .and_then(Value::as_i64)
            .unwrap_or_else(|| self.ledger.baseline_cards.first().copied().unwrap_or(0));
        api.call(
            "GET /api/cards/{id}",
            Method::GET,
            &format!("/api/cards/{card}"),
            None,
            &[],
        )
        .await;
        self.think(ctx).await;
        api.call("GET /api/review", Method::GET, "/api/review", None, &[])
            .await;
        self.think(ctx).await;
        api.call(
            "GET /api/session/status",
            Method::GET,
            "/api/session/status",
            None,
            &[],
        )
        .await;
        self.think(ctx).await;
        api.call("GET /api/export", Method::GET, "/api/export", None, &[])
            .await;
        self.think(ctx).await;
        api.call(
            "GET /api/decks/{id}/stats",
            Method::GET,
            &stats_path,
            None,
            &[],
        )
        .await;
        self.think(ctx).await;
        list_decks(&api).await;
        self.think(ctx).await;
        api.call(
            "GET /api/session/status",
            Method::GET,
            "/api/session/status",
            None,
            &[],
        )
        .await;
    }

    /// One user on several devices at once: every client adds a card, studies, edits its own
    /// card and lists decks, all concurrently. The session protocol must serialise them
    /// without losing or repeating any acknowledged write.
    pub async fn adversarial(&mut self, ctx: &ScenarioCtx) {
        let clients = ctx.adversarial_clients.max(2);
        let mut set = tokio::task::JoinSet::new();
        for c in 0..clients {
            let Ok(api) = self.api.on_new_client(ctx.timeout) else {
                continue;
            };
            let mut sub = SubClient {
                api,
                rng: seeded(self.rng.random(), u64::from(c)),
                tag: {
                    let n = self.next_tag_num();
                    format!("{}:a{n}c{c}", self.username)
                },
                deck: self.study_deck,
                entries: Vec::new(),
                think: ctx.think,
                ease_mix: ctx.ease_mix,
            };
            let stop = ctx.stop.clone();
            set.spawn(async move {
                sub.run(4, &stop).await;
                sub.entries
            });
        }
        while let Some(done) = set.join_next().await {
            if let Ok(entries) = done {
                self.ledger.entries.extend(entries);
            }
        }
    }

    fn next_tag_num(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// End of a session: ask for a flush so the snapshot is written (one PUT per session).
    /// A 404 means a takeover already moved the session on, which is the protocol working.
    pub async fn flush(&mut self, ctx: &ScenarioCtx) {
        ctx.sessions.fetch_add(1, Ordering::Relaxed);
        let status = self
            .api
            .call(
                "GET /api/session/status",
                Method::GET,
                "/api/session/status",
                None,
                &[],
            )
            .await;
        let Some(id) = status.str("session_id").map(str::to_string) else {
            return;
        };
        let r = self
            .api
            .call(
                "POST /api/session/flush",
                Method::POST,
                "/api/session/flush",
                Some(&json!({"session_id": id})),
                &[404],
            )
            .await;
        if r.ok() {
            ctx.flushes_ok.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One of the adversarial user's devices.
struct SubClient {
    api: Api,
    rng: StdRng,
    tag: String,
    deck: i64,
    entries: Vec<Entry>,
    think: Duration,
    ease_mix: EaseMix,
}

impl SubClient {
    fn push(&mut self, write: Write, status: Option<u16>) {
        self.entries.push(Entry::new(write, status));
    }

    async fn run(&mut self, rounds: u32, stop: &StopSignal) {
        for round in 0..rounds {
            if stop.should_stop() {
                break;
            }
            let (f, b) = SENTENCES[self.rng.random_range(0..SENTENCES.len())];
            let front = format!("{}r{round} {f}", self.tag);
            let r = self
                .api
                .call(
                    "POST /api/cards",
                    Method::POST,
                    "/api/cards",
                    Some(&json!({"front": front, "back": b, "deckId": self.deck})),
                    &[],
                )
                .await;
            let id = r
                .i64("cardId")
                .or_else(|| r.i64("card_id"))
                .filter(|_| r.ok());
            self.push(
                Write::CreateCard {
                    deck_id: self.deck,
                    front: front.clone(),
                    back: b.to_string(),
                    id,
                },
                r.status,
            );
            think(&mut self.rng, self.think).await;
            let next = self
                .api
                .call("GET /api/review", Method::GET, "/api/review", None, &[])
                .await;
            if let Some(card_id) = next.i64("cardId").filter(|_| next.ok()) {
                let ease = self
                    .ease_mix
                    .pick(self.rng.random_range(0..self.ease_mix.total()));
                // Two devices may answer the same card: both answers are real reviews, and an
                // answer for a card another device already moved on is still a valid answer.
                let r = self
                    .api
                    .call(
                        "POST /api/review",
                        Method::POST,
                        "/api/review",
                        Some(&json!({"cardId": card_id, "ease": ease})),
                        &[],
                    )
                    .await;
                self.push(Write::Answer { card_id, ease }, r.status);
            }
            think(&mut self.rng, self.think).await;
            if let Some(id) = id {
                let (front, back) = (format!("{front} edited"), format!("{b} (edited)"));
                let r = self
                    .api
                    .call(
                        "PUT /api/cards/{id}",
                        Method::PUT,
                        &format!("/api/cards/{id}"),
                        Some(&json!({"front": front, "back": back})),
                        &[],
                    )
                    .await;
                self.push(Write::EditCard { id, front, back }, r.status);
            }
            list_decks(&self.api).await;
        }
    }
}

async fn think(rng: &mut StdRng, mean: Duration) {
    if mean.is_zero() {
        return;
    }
    let factor: f64 = rng.random_range(0.5..1.5);
    tokio::time::sleep(mean.mul_f64(factor)).await;
}

/// `GET /api/decks` as (id, name) pairs; None unless 2xx with a well-formed body.
pub async fn list_decks(api: &Api) -> Option<Vec<(i64, String)>> {
    let r = api
        .call("GET /api/decks", Method::GET, "/api/decks", None, &[])
        .await;
    if !r.ok() {
        return None;
    }
    r.json
        .get("decks")?
        .as_array()?
        .iter()
        .map(|d| Some((d.get("id")?.as_i64()?, d.get("name")?.as_str()?.to_string())))
        .collect()
}

/// Every card of a deck, paging 100 at a time: (card id, (front, back)).
pub async fn list_cards(api: &Api, deck: i64) -> Option<Vec<(i64, (String, String))>> {
    let mut out = Vec::new();
    for page in 1.. {
        let r = api
            .call(
                "GET /api/decks/{id}/cards",
                Method::GET,
                &format!("/api/decks/{deck}/cards?page={page}&perPage=100"),
                None,
                &[],
            )
            .await;
        if !r.ok() {
            return None;
        }
        let cards = r.json.get("cards")?.as_array()?;
        for c in cards {
            let text = |k: &str| {
                c.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            out.push((c.get("cardId")?.as_i64()?, (text("front"), text("back"))));
        }
        let total_pages = r
            .json
            .get("pagination")
            .and_then(|p| p.get("totalPages"))
            .and_then(Value::as_i64)
            .unwrap_or(1);
        if cards.is_empty() || page >= total_pages {
            break;
        }
    }
    Some(out)
}
