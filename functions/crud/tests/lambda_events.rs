//! The `crud` function driven by API Gateway HTTP API (payload 2.0) events.

use javumbo_test_support::{
    Deployment, SESSION_HEADER, fixture, header, invoke, json_body, sign_up, status,
};

#[tokio::test]
async fn decks_and_cards_over_api_gateway_events() {
    let d = Deployment::new().await;
    let token = sign_up(&d).await;
    let function = d.function(javumbo_crud::GROUP).await;
    let router = || function.clone();
    let auth = [("token", token.as_str())];

    let resp = invoke(router(), &fixture!("decks-list.json", &auth)).await;
    assert_eq!(status(&resp), 200, "{resp}");
    let sid = header(&resp, SESSION_HEADER)
        .expect("X-Session-ID on a collection route")
        .to_owned();
    let body = json_body(&resp);
    // The crud routes repeat the session id in the body (`docs/openapi.yaml`).
    assert_eq!(body["session_id"], sid.as_str());
    // A new collection comes with the starter deck (Anki hides the empty `Default`).
    let decks = body["decks"].as_array().expect("decks");
    assert!(!decks.is_empty(), "{body}");
    assert!(
        decks
            .iter()
            .all(|d| d["id"].is_i64() && d["name"].is_string()),
        "{body}"
    );

    let resp = invoke(router(), &fixture!("card-create.json", &auth)).await;
    assert_eq!(status(&resp), 201, "{resp}");
    assert_eq!(header(&resp, SESSION_HEADER), Some(sid.as_str()));
    let added = json_body(&resp);
    assert_eq!(added["message"], "Card added successfully");
    assert_eq!(added["session_id"], sid.as_str());
    let card_id = added["cardId"].as_i64().expect("cardId");
    assert_eq!(added["card_id"], card_id);

    // Path parameter and query string both come from the event (`rawPath`, `rawQueryString`).
    let resp = invoke(router(), &fixture!("deck-cards.json", &auth)).await;
    assert_eq!(status(&resp), 200, "{resp}");
    let page = json_body(&resp);
    assert_eq!(page["deckId"], 1);
    assert_eq!(page["pagination"]["page"], 1);
    assert_eq!(page["pagination"]["perPage"], 20);
    assert_eq!(page["pagination"]["total"], 1);
    assert_eq!(page["cards"][0]["cardId"], card_id);
    assert_eq!(page["cards"][0]["back"], "Lisbon");
}

#[tokio::test]
async fn truncated_json_body_is_a_json_400() {
    let d = Deployment::new().await;
    let token = sign_up(&d).await;
    let event = fixture!("card-create.json", &[("token", &token)])
        .replace(r#""deckId\": 1}"#, r#""deckId\": 1"#);
    assert!(
        !event.contains(r#""deckId\": 1}"#),
        "the fixture changed shape"
    );
    let resp = invoke(d.function(javumbo_crud::GROUP).await, &event).await;
    assert_eq!(status(&resp), 400, "{resp}");
    assert!(json_body(&resp)["error"].is_string(), "{resp}");
}
