//! The `review` function driven by API Gateway HTTP API (payload 2.0) events.

use javumbo_test_support::{
    Deployment, SESSION_HEADER, fixture, header, invoke, json_body, sign_up, status,
};

#[tokio::test]
async fn next_card_then_answer_over_api_gateway_events() {
    let d = Deployment::new().await;
    let token = sign_up(&d).await;
    let function = d.function(javumbo_review::GROUP).await;
    let router = || function.clone();

    // A new collection comes with the starter deck, so there is a new card to study.
    let resp = invoke(
        router(),
        &fixture!("review-next.json", &[("token", &token)]),
    )
    .await;
    assert_eq!(status(&resp), 200, "{resp}");
    let sid = header(&resp, SESSION_HEADER)
        .expect("X-Session-ID on a collection route")
        .to_owned();
    let card = json_body(&resp);
    assert_eq!(card["queue"], 0, "a new card: {card}");
    assert!(
        card["front"].is_string() && card["back"].is_string(),
        "{card}"
    );
    // One label per answer button (Again, Hard, Good, Easy).
    assert_eq!(
        card["intervals"].as_array().map(Vec::len),
        Some(4),
        "{card}"
    );
    let card_id = card["cardId"].as_i64().expect("cardId");

    let answer = fixture!(
        "review-answer.json",
        &[("token", &token), ("card_id", &card_id.to_string())],
    );
    let resp = invoke(router(), &answer).await;
    assert_eq!(status(&resp), 200, "{resp}");
    // Same container, same user: the session that served the fetch serves the answer.
    assert_eq!(header(&resp, SESSION_HEADER), Some(sid.as_str()));
    let result = json_body(&resp);
    assert_eq!(result["message"], "Review processed successfully");
    assert!(result["newDue"].is_i64(), "{result}");
    // Easy graduates a new card straight to the review queue, days away.
    assert_eq!(result["queue"], 2, "{result}");
    assert!(
        result["interval"].as_i64().is_some_and(|d| d >= 1),
        "{result}"
    );

    let resp = invoke(
        router(),
        &fixture!("review-next.json", &[("token", &token)]),
    )
    .await;
    assert_eq!(status(&resp), 200, "{resp}");
    let next = json_body(&resp);
    assert_ne!(
        next["cardId"], card_id,
        "the answered card is not due: {next}"
    );
}

#[tokio::test]
async fn missing_or_forged_token_is_a_json_401() {
    let d = Deployment::new().await;
    let resp = invoke(
        d.function(javumbo_review::GROUP).await,
        &fixture!(
            "review-next.json",
            &[("token", "eyJhbGciOiJIUzI1NiJ9.e30.forged")],
        ),
    )
    .await;
    assert_eq!(status(&resp), 401, "{resp}");
    assert!(json_body(&resp)["error"].is_string(), "{resp}");
}
