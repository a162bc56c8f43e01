//! The notes API over real HTTP (in-process server, or the deployed API with
//! `JAVUMBO_E2E_URL`): note types, notes of any type with Anki's card generation, rendering in
//! the card routes, and every validation error. Every response is held to `docs/openapi.yaml`
//! by [`ApiClient`].

use javumbo_tests::http::{ApiClient, register_login};
use javumbo_tests::spawn::target;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn call(
    api: &ApiClient,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut rb = api.request(method, path).bearer_auth(token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.expect("request");
    (resp.status(), resp.json())
}

fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, mentions: &str) {
    assert_eq!(status, expected, "{body}");
    let msg = body["error"].as_str().unwrap_or_default();
    assert!(
        msg.contains(mentions),
        "error {msg:?} should mention {mentions:?}"
    );
}

fn note_type<'a>(list: &'a Value, name: &str) -> &'a Value {
    list["noteTypes"]
        .as_array()
        .and_then(|a| a.iter().find(|n| n["name"] == name))
        .unwrap_or_else(|| panic!("no note type {name} in {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn note_types_notes_and_rendering() {
    let t = target().await;
    let api = ApiClient::for_target(&t);
    let token = register_login(&api, &t.user("notes")).await;

    let (s, types) = call(&api, Method::GET, "/api/notetypes", &token, None).await;
    assert_eq!(s, StatusCode::OK, "{types}");
    let names: Vec<&str> = types["noteTypes"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Basic",
            "Basic (and reversed card)",
            "Basic (optional reversed card)",
            "Basic (type in the answer)",
            "Cloze",
            "Image Occlusion"
        ]
    );
    let cloze = note_type(&types, "Cloze");
    assert_eq!(cloze["kind"], "cloze");
    assert_eq!(cloze["fields"], json!(["Text", "Back Extra"]));
    assert_eq!(note_type(&types, "Basic")["default"], true);
    let cloze_id = cloze["id"].as_i64().expect("id");
    let reversed_id = note_type(&types, "Basic (and reversed card)")["id"]
        .as_i64()
        .expect("id");

    // A deck of its own, current, so the review below sees only these cards.
    let (s, deck) = call(
        &api,
        Method::POST,
        "/api/decks",
        &token,
        Some(json!({"name": "Geography"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{deck}");
    let did = deck["id"].as_i64().expect("deck id");
    let (s, _) = call(
        &api,
        Method::PUT,
        "/api/decks/current",
        &token,
        Some(json!({"deckId": did})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // A cloze note with two numbers: two cards.
    let (s, added) = call(
        &api,
        Method::POST,
        "/api/notes",
        &token,
        Some(json!({
            "noteTypeId": cloze_id,
            "deckId": did,
            "fields": ["{{c1::Lima::city}} is the capital of {{c2::Peru}}", "South America"],
            "tags": ["geo", "capitals"],
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{added}");
    assert_eq!(added["cardIds"].as_array().map(Vec::len), Some(2));
    let nid = added["noteId"].as_i64().expect("note id");
    let first_card = added["cardIds"][0].as_i64().expect("card id");

    let (s, note) = call(
        &api,
        Method::GET,
        &format!("/api/notes/{nid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{note}");
    assert_eq!(note["noteType"], "Cloze");
    assert_eq!(
        note["fields"][1],
        json!({"name": "Back Extra", "value": "South America"})
    );
    assert_eq!(note["tags"], json!(["capitals", "geo"]));
    assert_eq!(note["cards"].as_array().map(Vec::len), Some(2));

    // Studying it: Anki's cloze rendering, the note type's CSS.
    let (s, review) = call(&api, Method::GET, "/api/review", &token, None).await;
    assert_eq!(s, StatusCode::OK, "{review}");
    assert_eq!(review["cardId"], first_card);
    assert_eq!(
        review["questionHtml"],
        "<span class=\"cloze\" data-cloze=\"Lima\" data-ordinal=\"1\">[city]</span> is the capital of <span class=\"cloze-inactive\" data-ordinal=\"2\">Peru</span>"
    );
    assert_eq!(
        review["answerHtml"],
        "<span class=\"cloze\" data-ordinal=\"1\">Lima</span> is the capital of <span class=\"cloze-inactive\" data-ordinal=\"2\">Peru</span><br>\nSouth America"
    );
    assert!(
        review["css"]
            .as_str()
            .unwrap_or_default()
            .contains(".cloze")
    );
    assert_eq!(review["noteType"], "Cloze");
    assert_eq!(review["renderStatus"], "ok");
    // The old contract stays: front/back are the fields the card shows.
    assert_eq!(
        review["front"],
        "{{c1::Lima::city}} is the capital of {{c2::Peru}}"
    );

    // Edit: a third cloze number adds card 3; dropping c1 keeps card 1 (Anki's empty card).
    let (s, up) = call(
        &api,
        Method::PUT,
        &format!("/api/notes/{nid}"),
        &token,
        Some(json!({"fields": {"Text": "Lima is the capital of {{c2::Peru}} in {{c3::South America}}"}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(up["cardsAdded"].as_array().map(Vec::len), Some(1));
    let (_, note) = call(
        &api,
        Method::GET,
        &format!("/api/notes/{nid}"),
        &token,
        None,
    )
    .await;
    let ords: Vec<i64> = note["cards"]
        .as_array()
        .expect("cards")
        .iter()
        .filter_map(|c| c["ord"].as_i64())
        .collect();
    assert_eq!(ords, [0, 1, 2]);
    assert_eq!(
        note["fields"][1]["value"], "",
        "fields not named are emptied"
    );
    assert_eq!(
        note["tags"],
        json!(["capitals", "geo"]),
        "tags kept when omitted"
    );
    let (s, card) = call(
        &api,
        Method::GET,
        &format!("/api/cards/{first_card}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{card}");
    assert_eq!(card["renderStatus"], "empty");
    assert!(
        card["questionHtml"]
            .as_str()
            .unwrap_or_default()
            .contains("No cloze \u{2068}1\u{2069} found on card."),
        "{card}"
    );

    // A reversed note: two cards, the card browser renders both.
    let (s, added) = call(
        &api,
        Method::POST,
        "/api/notes",
        &token,
        Some(json!({"noteTypeId": reversed_id, "fields": {"Front": "gato", "Back": "cat"}})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{added}");
    assert_eq!(added["cardIds"].as_array().map(Vec::len), Some(2));
    let (s, page) = call(
        &api,
        Method::GET,
        &format!("/api/decks/{did}/cards?perPage=100"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let reverse = page["cards"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["cardId"] == added["cardIds"][1]))
        .expect("card 2 listed");
    assert_eq!(reverse["questionHtml"], "cat");
    assert_eq!(reverse["answerHtml"], "cat\n\n<hr id=answer>\n\ngato");
    assert_eq!(
        reverse["front"], "cat",
        "the legacy front is what card 2 asks"
    );

    // The Basic card routes keep working.
    let (s, basic) = call(
        &api,
        Method::POST,
        "/api/cards",
        &token,
        Some(json!({"front": "q", "back": "a", "deckId": did})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{basic}");
    let (s, card) = call(
        &api,
        Method::GET,
        &format!("/api/cards/{}", basic["cardId"]),
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(card["noteType"], "Basic");
    assert_eq!(card["answerHtml"], "q\n\n<hr id=answer>\n\na");

    // Deleting the note deletes its cards.
    let (s, _) = call(
        &api,
        Method::DELETE,
        &format!("/api/notes/{nid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = call(
        &api,
        Method::GET,
        &format!("/api/cards/{first_card}"),
        &token,
        None,
    )
    .await;
    assert_error(s, &body, StatusCode::NOT_FOUND, "not found");
    let (s, body) = call(
        &api,
        Method::DELETE,
        &format!("/api/notes/{nid}"),
        &token,
        None,
    )
    .await;
    assert_error(s, &body, StatusCode::NOT_FOUND, "not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_validation() {
    let t = target().await;
    let api = ApiClient::for_target(&t);
    let token = register_login(&api, &t.user("notesval")).await;
    let (_, types) = call(&api, Method::GET, "/api/notetypes", &token, None).await;
    let cloze = note_type(&types, "Cloze")["id"].clone();
    let basic = note_type(&types, "Basic")["id"].clone();
    let post = |body: Value| {
        let api = api.clone();
        let token = token.clone();
        async move { call(&api, Method::POST, "/api/notes", &token, Some(body)).await }
    };

    let (s, b) = post(json!({"noteTypeId": basic})).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "fields");
    let (s, b) = post(json!({"noteTypeId": basic, "fields": ["only one"]})).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "has 2 fields");
    let (s, b) = post(json!({"noteTypeId": basic, "fields": {"Nope": "x"}})).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "no field 'Nope'");
    let (s, b) = post(json!({"noteTypeId": basic, "fields": ["", "<br>"]})).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "every field is empty");
    let (s, b) = post(json!({"noteTypeId": cloze, "fields": ["no deletion", ""]})).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "cloze deletion");
    let (s, b) = post(json!({"noteTypeId": basic, "fields": ["a\u{1f}b", ""]})).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "forbidden character");
    let big = "x".repeat(100 * 1024 + 1);
    let (s, b) = post(json!({"noteTypeId": basic, "fields": [big, ""]})).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "larger than 100 KB");
    let many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    let (s, b) = post(json!({"noteTypeId": basic, "fields": ["a", "b"], "tags": many})).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "at most 100 tags");
    let (s, b) = post(json!({"noteTypeId": 12345, "fields": ["a", "b"]})).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "note type 12345");
    let (s, b) = post(json!({"noteTypeId": basic, "fields": ["a", "b"], "deckId": 999})).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "deck 999");
    let (s, b) = post(json!({"noteTypeId": "Basic", "fields": ["a", "b"]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (s, b) = post(json!({"fields": [1, 2]})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");

    // Nothing half-applied: the starter deck's notes only.
    let (s, ok) = post(json!({"fields": ["default type", "is Basic"]})).await;
    assert_eq!(s, StatusCode::CREATED, "{ok}");
    let nid = ok["noteId"].as_i64().expect("id");
    let (s, b) = call(
        &api,
        Method::PUT,
        &format!("/api/notes/{nid}"),
        &token,
        Some(json!({"fields": ["a", "b", "c"]})),
    )
    .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "has 2 fields");
    let (s, b) = call(
        &api,
        Method::PUT,
        "/api/notes/77",
        &token,
        Some(json!({"fields": ["a", "b"]})),
    )
    .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "note 77");
    let (s, b) = call(&api, Method::GET, "/api/notes/77", &token, None).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "note 77");
    let (s, b) = call(&api, Method::GET, "/api/notes/abc", &token, None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let (_, note) = call(
        &api,
        Method::GET,
        &format!("/api/notes/{nid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(note["fields"][0]["value"], "default type");
    assert_eq!(note["noteType"], "Basic");
}
