//! The notes engine against the official `anki` package (`tests/oracle/notes_oracle.py`): a
//! collection with every stock note type, generated custom note types and notes (clozes with
//! hints and several numbers, optional reverses, HTML, media references, TTS, LaTeX...), some of
//! them edited, exported by Anki's legacy exporter and imported into javumbo.
//!
//! * Rendering: every card's question/answer (reviewer and browser) through the engine
//!   (`Collection::render_card`) and through the API (`GET /api/cards/{id}`, the deck's card
//!   list, `GET /api/review`) equals Anki's `card.question()` / `card.answer()`:
//!   `<style>{css}</style>{questionHtml}` is Anki's HTML byte for byte.
//! * Card generation: each note added through `add_note` with the fields Anki's note had when
//!   added gets the cards Anki generated, and each later edit through `update_note` leaves the
//!   cards Anki had after it (new cloze numbers and filled optional fields add cards; nothing is
//!   removed). Sort field, checksum and tags equal Anki's.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use javumbo_collection::notes::{NewNote, NoteUpdate};
use javumbo_collection::{Collection, CollectionError, CreateOptions, ManualClock};
use javumbo_tests::http::{ApiClient, register_login};
use javumbo_tests::run_oracle;
use javumbo_tests::spawn::spawn_app;
use serde_json::Value;

const SEED: &str = "7";
const NOTES: &str = "300";

struct Oracle {
    dump: Value,
    apkg: Vec<u8>,
}

fn oracle() -> Oracle {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("referee.apkg");
    let out = run_oracle(
        "notes_oracle.py",
        &[SEED, NOTES, path.to_str().expect("utf-8 path")],
        "",
    );
    Oracle {
        dump: serde_json::from_str(&out).expect("oracle printed JSON"),
        apkg: std::fs::read(&path).expect("oracle wrote the package"),
    }
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default()
}

fn ords(v: &Value) -> Vec<i64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

#[derive(Default)]
struct Tally {
    compared: usize,
    diffs: Vec<String>,
}

impl Tally {
    fn check(&mut self, what: impl FnOnce() -> String, expected: &str, got: &str) {
        self.compared += 1;
        if expected != got {
            self.diffs.push(format!(
                "--- {}\n  anki:    {expected:?}\n  javumbo: {got:?}",
                what()
            ));
        }
    }

    fn assert_clean(&self, label: &str, at_least: usize) {
        eprintln!(
            "{label}: {} comparisons, {} differences",
            self.compared,
            self.diffs.len()
        );
        for d in self.diffs.iter().take(10) {
            eprintln!("{d}");
        }
        assert!(
            self.compared >= at_least,
            "{label}: too few comparisons ({})",
            self.compared
        );
        assert!(
            self.diffs.is_empty(),
            "{label}: {} differences from Anki (first ones above)",
            self.diffs.len()
        );
    }
}

fn imported_collection(apkg: &[u8]) -> (Collection, Arc<ManualClock>) {
    let clock = ManualClock::new(1_800_000_000_000);
    let opts = CreateOptions {
        starter_deck: false,
        ..CreateOptions::default()
    };
    let col = Collection::create_in_memory(clock.clone(), &opts).expect("collection");
    javumbo_apkg::import_apkg(&col, apkg, &javumbo_apkg::ImportLimits::default())
        .expect("javumbo imports Anki's package");
    (col, clock)
}

#[test]
fn engine_renders_and_generates_cards_as_anki() {
    let Oracle { dump, apkg } = oracle();
    let (col, clock) = imported_collection(&apkg);

    // Rendering, card by card.
    let mut render = Tally::default();
    for c in dump["cards"].as_array().expect("cards") {
        let id = c["id"].as_i64().unwrap_or_default();
        for (browser, q, a) in [
            (false, "question", "answer"),
            (true, "browser_question", "browser_answer"),
        ] {
            match col.render_card(id, browser) {
                Ok(r) => {
                    let ctx = || format!("card {id} ord {} ({q})", c["ord"]);
                    render.check(
                        ctx,
                        &s(&c[q]),
                        &format!("<style>{}</style>{}", r.css, r.question),
                    );
                    render.check(
                        || format!("card {id} ({a})"),
                        &s(&c[a]),
                        &format!("<style>{}</style>{}", r.css, r.answer),
                    );
                }
                Err(e) => render.check(|| format!("card {id}"), &s(&c[q]), &e.to_string()),
            }
        }
    }
    render.assert_clean("rendering through the engine", 2000);

    // Card generation on add and after each edit, sort field, checksum, tags.
    let by_name: HashMap<String, i64> = col
        .note_types()
        .expect("note types")
        .into_iter()
        .map(|n| (n.name, n.id))
        .collect();
    let mut generation = Tally::default();
    let mut refused = 0;
    for n in dump["notes"].as_array().expect("notes") {
        clock.advance_ms(1000);
        let name = s(&n["notetype"]);
        let ctx = |what: &str| format!("note {} ({name}) {what}", n["id"]);
        let new = NewNote {
            notetype_id: Some(by_name[&name]),
            deck_id: None,
            fields: strings(&n["fields_added"]),
            tags: strings(&n["tags"]),
        };
        let added = match col.add_note(&new) {
            Ok(a) => a,
            // javumbo refuses notes whose fields are all empty and cloze notes without a
            // deletion (Anki's editor asks first); Anki then has its fallback card 0.
            Err(CollectionError::InvalidInput(why)) => {
                refused += 1;
                eprintln!("refused: {} {why}", ctx(""));
                continue;
            }
            Err(e) => panic!("{}: {e}", ctx("add")),
        };
        let note_ords = |col: &Collection| -> Vec<i64> {
            let set: BTreeSet<i64> = col
                .note(added.note_id)
                .expect("note")
                .cards
                .iter()
                .map(|c| c.ord)
                .collect();
            set.into_iter().collect()
        };
        generation.check(
            || ctx(&format!("on add, fields {:?}", new.fields)),
            &format!("{:?}", ords(&n["ords_added"])),
            &format!("{:?}", note_ords(&col)),
        );
        for (i, edit) in n["edits"].as_array().into_iter().flatten().enumerate() {
            let fields = strings(&edit["fields"]);
            match col.update_note(
                added.note_id,
                &NoteUpdate {
                    fields: fields.clone(),
                    tags: None,
                },
            ) {
                Ok(_) => generation.check(
                    || ctx(&format!("after edit {i}, fields {fields:?}")),
                    &format!("{:?}", ords(&edit["ords"])),
                    &format!("{:?}", note_ords(&col)),
                ),
                // An edit emptying every field or every cloze is refused; Anki's ordinals stay.
                Err(CollectionError::InvalidInput(_)) => refused += 1,
                Err(e) => panic!("{}: {e}", ctx("edit")),
            }
        }
        if n["edits"]
            .as_array()
            .is_some_and(|e| e.iter().all(|e| col_accepts(&col, &by_name[&name], e)))
        {
            let (sfld, csum, tags): (String, i64, String) = col
                .conn()
                .query_row(
                    "SELECT CAST(sfld AS TEXT), csum, tags FROM notes WHERE id = ?1",
                    [added.note_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .expect("note row");
            generation.check(|| ctx("sfld"), &s(&n["sfld"]), &sfld);
            generation.check(
                || ctx("csum"),
                &n["csum"].as_i64().unwrap_or_default().to_string(),
                &csum.to_string(),
            );
            let anki_tags = strings(&n["tags"]);
            let expected = if anki_tags.is_empty() {
                String::new()
            } else {
                format!(" {} ", anki_tags.join(" "))
            };
            generation.check(|| ctx("tags"), &expected, &tags);
        }
    }
    eprintln!("notes refused by javumbo's input checks: {refused}");
    generation.assert_clean("card generation through the engine", 600);
}

/// Whether javumbo accepted an edit (fields not all empty; a cloze kept): refused edits leave
/// javumbo's note behind Anki's, so its sort field is not comparable.
fn col_accepts(col: &Collection, notetype: &i64, edit: &Value) -> bool {
    let nt = col.note_type(*notetype).expect("note type");
    let fields = strings(&edit["fields"]);
    let all_empty = fields.iter().all(|f| javumbo_templates::field_is_empty(f));
    let no_cloze = nt.kind == javumbo_collection::notetypes::NoteTypeKind::Cloze
        && javumbo_templates::cloze_numbers_in_fields(&fields).is_empty();
    !(all_empty || no_cloze)
}

/// The same package imported through the API: the card routes return Anki's HTML.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_renders_as_anki() {
    let Oracle { dump, apkg } = oracle();
    let app = spawn_app().await;
    let api = ApiClient::direct(&app.base);
    let token = register_login(&api, "referee").await;
    let resp = api
        .post("/api/import")
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        .body(apkg)
        .send()
        .await
        .expect("import");
    assert_eq!(resp.status(), 200, "{}", resp.text());

    let cards: HashMap<i64, &Value> = dump["cards"]
        .as_array()
        .expect("cards")
        .iter()
        .map(|c| (c["id"].as_i64().unwrap_or_default(), c))
        .collect();
    let with_style =
        |v: &Value, key: &str| format!("<style>{}</style>{}", s(&v["css"]), s(&v[key]));
    let mut tally = Tally::default();

    // Every card through GET /api/cards/{id} (reviewer rendering).
    for (id, c) in &cards {
        let resp = api
            .get(&format!("/api/cards/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("card");
        assert_eq!(resp.status(), 200, "{}", resp.text());
        let v = resp.json();
        tally.check(
            || format!("GET /api/cards/{id} question"),
            &s(&c["question"]),
            &with_style(&v, "questionHtml"),
        );
        tally.check(
            || format!("GET /api/cards/{id} answer"),
            &s(&c["answer"]),
            &with_style(&v, "answerHtml"),
        );
    }

    // Every deck's card list (browser rendering).
    let resp = api
        .get("/api/decks")
        .bearer_auth(&token)
        .send()
        .await
        .expect("decks");
    let decks = resp.json();
    let mut seen = BTreeSet::new();
    for d in decks["decks"].as_array().expect("decks") {
        let did = d["id"].as_i64().unwrap_or_default();
        let mut page = 1;
        loop {
            let resp = api
                .get(&format!("/api/decks/{did}/cards?page={page}&perPage=100"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("deck cards");
            assert_eq!(resp.status(), 200, "{}", resp.text());
            let v = resp.json();
            for card in v["cards"].as_array().expect("cards") {
                let id = card["cardId"].as_i64().unwrap_or_default();
                let Some(c) = cards.get(&id) else { continue };
                if !seen.insert(id) {
                    continue;
                }
                tally.check(
                    || format!("browser card {id} question"),
                    &s(&c["browser_question"]),
                    &with_style(card, "questionHtml"),
                );
                tally.check(
                    || format!("browser card {id} answer"),
                    &s(&c["browser_answer"]),
                    &with_style(card, "answerHtml"),
                );
            }
            if page >= v["pagination"]["totalPages"].as_i64().unwrap_or(0) {
                break;
            }
            page += 1;
        }
    }
    assert_eq!(seen.len(), cards.len(), "the card lists show every card");

    // The study screen: the first card of each deck.
    let mut reviewed = 0;
    for d in decks["decks"].as_array().expect("decks") {
        let did = d["id"].as_i64().unwrap_or_default();
        let resp = api
            .put("/api/decks/current")
            .bearer_auth(&token)
            .json(&serde_json::json!({"deckId": did}))
            .send()
            .await
            .expect("current deck");
        assert_eq!(resp.status(), 200);
        let resp = api
            .get("/api/review")
            .bearer_auth(&token)
            .send()
            .await
            .expect("review");
        let v = resp.json();
        let Some(id) = v["cardId"].as_i64() else {
            continue;
        };
        // The starter deck's cards are javumbo's own, not the referee's.
        let Some(c) = cards.get(&id) else {
            continue;
        };
        reviewed += 1;
        tally.check(
            || format!("review card {id} question"),
            &s(&c["question"]),
            &with_style(&v, "questionHtml"),
        );
        tally.check(
            || format!("review card {id} answer"),
            &s(&c["answer"]),
            &with_style(&v, "answerHtml"),
        );
    }
    assert!(reviewed >= 5, "too few decks studied: {reviewed}");
    tally.assert_clean("rendering through the API", 2000);
}
