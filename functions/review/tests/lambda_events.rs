//! The `review` function driven by API Gateway HTTP API (payload 2.0) events.

#[allow(dead_code, reason = "shared with the other functions' tests; each uses a subset")]
#[path = "../../auth/tests/support/mod.rs"]
mod support;

use javumbo_api::SESSION_HEADER;
use javumbo_session::Username;
use support::{Container, fixture, header, invoke, json_body, sign_up, status};

#[tokio::test]
async fn next_card_then_answer_over_api_gateway_events() {
    let c = Container::new();
    let token = sign_up(&c.state).await;
    let user = Username::parse("alice").expect("valid username");
    let added = c
        .state
        .sessions
        .with_collection(&user, |col| {
            col.add_card("Capital of Portugal?", "Lisbon", None)
        })
        .await
        .expect("card added");
    let router = || javumbo_review::router(c.state.clone());

    let resp = invoke(router(), &fixture("review-next.json", &[("token", &token)])).await;
    assert_eq!(status(&resp), 200, "{resp}");
    // Same container, same user: the session the setup opened is the one serving the event.
    assert_eq!(header(&resp, SESSION_HEADER), Some(added.session_id.as_str()));
    let card = json_body(&resp);
    assert_eq!(card["cardId"], added.value.card_id);
    assert_eq!(card["noteId"], added.value.note_id);
    assert_eq!(card["queue"], 0, "a new card: {card}");
    assert!(
        card["front"].as_str().is_some_and(|f| f.contains("Capital of Portugal?")),
        "{card}"
    );
    // One label per answer button (Again, Hard, Good, Easy).
    assert_eq!(card["intervals"].as_array().map(Vec::len), Some(4), "{card}");

    let card_id = added.value.card_id.to_string();
    let answer = fixture("review-answer.json", &[("token", &token), ("card_id", &card_id)]);
    let resp = invoke(router(), &answer).await;
    assert_eq!(status(&resp), 200, "{resp}");
    assert_eq!(header(&resp, SESSION_HEADER), Some(added.session_id.as_str()));
    let result = json_body(&resp);
    assert_eq!(result["message"], "Review processed successfully");
    assert!(result["newDue"].is_i64(), "{result}");

    // Easy graduates a new card straight to the review queue, days away.
    assert_eq!(result["queue"], 2, "{result}");
    assert!(result["interval"].as_i64().is_some_and(|d| d >= 1), "{result}");

    let resp = invoke(router(), &fixture("review-next.json", &[("token", &token)])).await;
    assert_eq!(status(&resp), 200, "{resp}");
    let done = json_body(&resp);
    assert!(done.get("cardId").is_none(), "nothing should be due: {done}");
    assert!(done["message"].is_string(), "{done}");
}

#[tokio::test]
async fn missing_or_forged_token_is_a_json_401() {
    let c = Container::new();
    let resp = invoke(
        javumbo_review::router(c.state.clone()),
        &fixture("review-next.json", &[("token", "eyJhbGciOiJIUzI1NiJ9.e30.forged")]),
    )
    .await;
    assert_eq!(status(&resp), 401, "{resp}");
    assert!(json_body(&resp)["error"].is_string(), "{resp}");
}
