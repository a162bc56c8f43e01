//! The study-day API over real HTTP (in-process server, or the deployed API with
//! `JAVUMBO_E2E_URL`): registration in a time zone, `/api/settings`, presets, deck presets and
//! limits, card actions and FSRS, with every 400. Every response is held to `docs/openapi.yaml`
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

async fn register_in(api: &ApiClient, user: &str, timezone: &str) -> (StatusCode, Value) {
    let r = api
        .post("/api/register")
        .json(&json!({"username": user, "name": "Tz", "password": "password123", "timezone": timezone}))
        .send()
        .await
        .expect("register");
    (r.status(), r.json())
}

async fn login(api: &ApiClient, user: &str) -> String {
    let r = api
        .post("/api/login")
        .json(&json!({"username": user, "password": "password123"}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::OK);
    r.json()["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_in_a_timezone_and_change_settings() {
    let t = target().await;
    let api = ApiClient::for_target(&t);

    let user = t.user("sydney");
    let (s, body) = register_in(&api, &user, "Mars/Olympus").await;
    assert_error(s, &body, StatusCode::BAD_REQUEST, "Mars/Olympus");
    let (s, body) = register_in(&api, &user, "Australia/Sydney").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let token = login(&api, &user).await;

    let (s, settings) = call(&api, Method::GET, "/api/settings", &token, None).await;
    assert_eq!(s, StatusCode::OK, "{settings}");
    assert_eq!(settings["timezone"], "Australia/Sydney");
    assert_eq!(settings["rolloverHour"], 4);
    assert_eq!(settings["fsrs"], false);

    // Without a zone: the collection has none (UTC offsets).
    let plain = register_login(&api, &t.user("plainzone")).await;
    let (_, settings) = call(&api, Method::GET, "/api/settings", &plain, None).await;
    assert_eq!(settings["timezone"], Value::Null);

    let (s, settings) = call(
        &api,
        Method::PUT,
        "/api/settings",
        &token,
        Some(
            json!({"timezone": "Asia/Kolkata", "rolloverHour": 0, "fsrs": true,
                    "fsrsShortTermWithSteps": true}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{settings}");
    assert_eq!(
        (
            &settings["timezone"],
            &settings["rolloverHour"],
            &settings["fsrs"],
            &settings["fsrsShortTermWithSteps"]
        ),
        (
            &json!("Asia/Kolkata"),
            &json!(0),
            &json!(true),
            &json!(true)
        )
    );

    // Refused values change nothing, even alongside valid ones.
    for (body, mentions) in [
        (json!({"timezone": "Nowhere/Land"}), "Nowhere/Land"),
        (json!({"rolloverHour": 24, "fsrs": false}), "rolloverHour"),
        (json!({"rolloverHour": -1}), "rolloverHour"),
        (json!({"rolloverHour": "4"}), "rolloverHour"),
        (json!({"rollover": 4}), "rollover"),
        (json!({"fsrs": "yes"}), "fsrs"),
    ] {
        let (s, err) = call(&api, Method::PUT, "/api/settings", &token, Some(body)).await;
        assert_error(s, &err, StatusCode::BAD_REQUEST, mentions);
    }
    let (_, after) = call(&api, Method::GET, "/api/settings", &token, None).await;
    assert_eq!(after["fsrs"], true);
    assert_eq!(after["rolloverHour"], 0);
    assert_eq!(after["timezone"], "Asia/Kolkata");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presets_deck_presets_and_limits() {
    let t = target().await;
    let api = ApiClient::for_target(&t);
    let token = register_login(&api, &t.user("presets")).await;

    let (s, list) = call(&api, Method::GET, "/api/presets", &token, None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let presets = list["presets"].as_array().expect("presets");
    assert_eq!(presets.len(), 1);
    assert_eq!(presets[0]["id"], 1);
    assert_eq!(presets[0]["newPerDay"], 20);
    assert_eq!(presets[0]["learnSteps"], json!([1.0, 10.0]));
    assert!(!presets[0]["deckIds"].as_array().expect("decks").is_empty());

    let (s, deck) = call(
        &api,
        Method::POST,
        "/api/decks",
        &token,
        Some(json!({"name": "Spanish"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let did = deck["id"].as_i64().expect("deck id");

    // Create (from Anki's defaults, and as a copy), update, rename, assign.
    let (s, hard) = call(
        &api,
        Method::POST,
        "/api/presets",
        &token,
        Some(json!({"name": "Hard mode"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{hard}");
    let pid = hard["id"].as_i64().expect("preset id");
    assert_eq!(hard["deckIds"], json!([]));

    let (s, updated) = call(
        &api,
        Method::PUT,
        &format!("/api/presets/{pid}"),
        &token,
        Some(
            json!({"newPerDay": 5, "learnSteps": [2.5, 30], "leechAction": 0, "buryNew": true,
                    "reviewOrder": 8, "desiredRetention": 0.85, "id": 999, "deckIds": [1]}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{updated}");
    assert_eq!(updated["id"], pid);
    assert_eq!(updated["newPerDay"], 5);
    assert_eq!(updated["learnSteps"], json!([2.5, 30.0]));
    assert_eq!(updated["desiredRetention"], 0.85);
    assert_eq!(updated["reviewsPerDay"], 200, "untouched fields stay");

    let (s, copy) = call(
        &api,
        Method::POST,
        "/api/presets",
        &token,
        Some(json!({"name": "Copy", "fromId": pid})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{copy}");
    assert_eq!(copy["newPerDay"], 5);
    let copy_id = copy["id"].as_i64().expect("id");
    let (s, renamed) = call(
        &api,
        Method::PUT,
        &format!("/api/presets/{copy_id}/rename"),
        &token,
        Some(json!({"name": "Renamed"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "Renamed");

    let (s, assigned) = call(
        &api,
        Method::PUT,
        &format!("/api/decks/{did}/preset"),
        &token,
        Some(json!({"presetId": pid})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{assigned}");
    assert_eq!(assigned["presetId"], pid);
    let (s, one) = call(
        &api,
        Method::GET,
        &format!("/api/presets/{pid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one["deckIds"], json!([did]));

    // Every refusal names what is wrong, and writes nothing.
    let put = format!("/api/presets/{pid}");
    for (body, mentions) in [
        (json!({"newPerDay": 10_000}), "newPerDay"),
        (json!({"newPerDay": -1}), "newPerDay"),
        (json!({"learnSteps": [1, 0]}), "learnSteps"),
        (json!({"learnSteps": "1m 10m"}), "learnSteps"),
        (
            json!({"graduatingIntervalGood": 0}),
            "graduatingIntervalGood",
        ),
        (json!({"leechThreshold": 0}), "leechThreshold"),
        (json!({"leechAction": 2}), "leechAction"),
        (json!({"reviewOrder": 13}), "reviewOrder"),
        (json!({"initialEase": 1.3}), "initialEase"),
        (json!({"hardMultiplier": 1.5}), "hardMultiplier"),
        (json!({"desiredRetention": 0.995}), "desiredRetention"),
        (json!({"fsrsParams": [1, 2, 3]}), "fsrsParams"),
        (json!({"name": "  "}), "name"),
        (json!({"newPerDya": 3}), "newPerDya"),
        (json!([1, 2]), "object"),
    ] {
        let (s, err) = call(&api, Method::PUT, &put, &token, Some(body)).await;
        assert_error(s, &err, StatusCode::BAD_REQUEST, mentions);
    }
    let (_, one) = call(&api, Method::GET, &put, &token, None).await;
    assert_eq!(one["newPerDay"], 5);

    let (s, err) = call(&api, Method::GET, "/api/presets/42", &token, None).await;
    assert_error(s, &err, StatusCode::NOT_FOUND, "42");
    let (s, err) = call(
        &api,
        Method::POST,
        "/api/presets",
        &token,
        Some(json!({"name": "X", "fromId": 42})),
    )
    .await;
    assert_error(s, &err, StatusCode::NOT_FOUND, "42");
    let (s, err) = call(&api, Method::POST, "/api/presets", &token, Some(json!({}))).await;
    assert_error(s, &err, StatusCode::BAD_REQUEST, "name");
    let (s, err) = call(
        &api,
        Method::PUT,
        &format!("/api/decks/{did}/preset"),
        &token,
        Some(json!({"presetId": 42})),
    )
    .await;
    assert_error(s, &err, StatusCode::NOT_FOUND, "42");
    let (s, err) = call(
        &api,
        Method::PUT,
        &format!("/api/decks/{did}/preset"),
        &token,
        Some(json!({})),
    )
    .await;
    assert_error(s, &err, StatusCode::BAD_REQUEST, "presetId");

    // Deck limits.
    let limits = format!("/api/decks/{did}/limits");
    let (s, l) = call(&api, Method::GET, &limits, &token, None).await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["reviewLimit"], Value::Null);
    let (s, l) = call(
        &api,
        Method::PUT,
        &limits,
        &token,
        Some(json!({"reviewLimit": 50, "newLimit": 0, "newLimitToday": {"limit": 7}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(l["reviewLimit"], 50);
    assert_eq!(l["newLimit"], 0);
    assert_eq!(l["newLimitToday"]["limit"], 7);
    assert_eq!(l["reviewLimitToday"], Value::Null);
    for (body, mentions) in [
        (json!({"newLimit": 10_000}), "newLimit"),
        (json!({"reviewLimit": -1}), "reviewLimit"),
        (json!({"newLimitToday": {"limit": 10_000}}), "newLimitToday"),
        (json!({"newLimits": 3}), "newLimits"),
    ] {
        let (s, err) = call(&api, Method::PUT, &limits, &token, Some(body)).await;
        assert_error(s, &err, StatusCode::BAD_REQUEST, mentions);
    }
    let (_, l) = call(&api, Method::GET, &limits, &token, None).await;
    assert_eq!(l["reviewLimit"], 50, "a refused PUT changes nothing");
    let (s, err) = call(&api, Method::GET, "/api/decks/42/limits", &token, None).await;
    assert_error(s, &err, StatusCode::NOT_FOUND, "42");

    // Custom study: today's limit extended (the deck's counters lowered), one choice a request.
    let custom = format!("/api/decks/{did}/custom-study");
    let (s, before) = call(&api, Method::GET, &custom, &token, None).await;
    assert_eq!(s, StatusCode::OK, "{before}");
    assert_eq!(before["extendNew"], 0);
    let (s, after) = call(
        &api,
        Method::POST,
        &custom,
        &token,
        Some(json!({"newLimitDelta": 3})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{after}");
    assert_eq!(after["extendNew"], 3, "the next default");
    assert!(after["new"].as_i64() >= before["new"].as_i64());
    for (body, mentions) in [
        (
            json!({"newLimitDelta": 1, "reviewLimitDelta": 1}),
            "exactly one",
        ),
        (json!({}), "exactly one"),
        (json!({"newLimitDelta": 10_000}), "newLimitDelta"),
        (json!({"reviewLimitDelta": -10_000}), "reviewLimitDelta"),
        (json!({"newLimitDelta": "3"}), "newLimitDelta"),
        (json!({"newLimit": 3}), "newLimit"),
    ] {
        let (s, err) = call(&api, Method::POST, &custom, &token, Some(body)).await;
        assert_error(s, &err, StatusCode::BAD_REQUEST, mentions);
    }
    let (_, mut again) = call(&api, Method::GET, &custom, &token, None).await;
    // The session id moves on when the session is compacted (JAVUMBO_COMPACT_AFTER).
    let mut after = after;
    for v in [&mut again, &mut after] {
        v.as_object_mut().map(|o| o.remove("session_id"));
    }
    assert_eq!(again, after, "a refused request changes nothing");
    let (s, err) = call(
        &api,
        Method::POST,
        "/api/decks/42/custom-study",
        &token,
        Some(json!({"newLimitDelta": 3})),
    )
    .await;
    assert_error(s, &err, StatusCode::NOT_FOUND, "42");

    // Custom study sessions: the "Custom Study Session" filtered deck, built from the deck.
    let (s, err) = call(
        &api,
        Method::POST,
        &custom,
        &token,
        Some(json!({"cram": {"kind": "new", "cardLimit": 5}})),
    )
    .await;
    assert_error(s, &err, StatusCode::BAD_REQUEST, "No cards matched");
    for front in ["uno", "dos"] {
        let (s, added) = call(
            &api,
            Method::POST,
            "/api/cards",
            &token,
            Some(json!({"front": front, "back": "x", "deckId": did})),
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{added}");
    }
    for (body, mentions) in [
        (json!({"forgotDays": 0}), "forgotDays"),
        (json!({"forgotDays": 31}), "forgotDays"),
        (json!({"forgotDays": 2, "previewDays": 1}), "exactly one"),
        (json!({"reviewAheadDays": -1}), "reviewAheadDays"),
        (json!({"previewDays": 100_000}), "previewDays"),
        (json!({"cram": {"kind": "some", "cardLimit": 5}}), "kind"),
        (
            json!({"cram": {"kind": "new", "cardLimit": 0}}),
            "cardLimit",
        ),
        (
            json!({"cram": {"kind": "new", "cardLimit": 5, "tagsToInclude": ["a b"]}}),
            "tagsToInclude",
        ),
        (json!({"cram": {"kind": "new"}}), "cardLimit"),
        // Nothing was answered Again: no card matches.
        (json!({"forgotDays": 2}), "No cards matched"),
    ] {
        let (s, err) = call(&api, Method::POST, &custom, &token, Some(body)).await;
        assert_error(s, &err, StatusCode::BAD_REQUEST, mentions);
    }
    let (s, built) = call(
        &api,
        Method::POST,
        &custom,
        &token,
        Some(json!({"cram": {"kind": "new", "cardLimit": 1}})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{built}");
    assert_eq!(built["session"]["name"], "Custom Study Session");
    assert_eq!(built["session"]["cards"], 1);
    let session_deck = built["session"]["deckId"].as_i64().expect("session deck");
    let (_, decks) = call(&api, Method::GET, "/api/decks", &token, None).await;
    let listed = decks["decks"]
        .as_array()
        .expect("decks")
        .iter()
        .find(|d| d["id"] == session_deck)
        .expect("session deck listed")
        .clone();
    assert_eq!(
        (listed["filtered"].clone(), listed["current"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(listed["newCount"], 1, "its card is served there");
    // Rebuilt with both cards; a custom study session is not a source.
    let (s, built) = call(
        &api,
        Method::POST,
        &custom,
        &token,
        Some(json!({"previewDays": 1})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{built}");
    assert_eq!(
        (
            built["session"]["deckId"].as_i64(),
            built["session"]["cards"].clone()
        ),
        (Some(session_deck), json!(2))
    );
    let (s, err) = call(
        &api,
        Method::POST,
        &format!("/api/decks/{session_deck}/custom-study"),
        &token,
        Some(json!({"previewDays": 1})),
    )
    .await;
    assert_error(s, &err, StatusCode::BAD_REQUEST, "filtered deck");
    // Emptied: its cards go home, the deck stays; a normal deck is not emptied.
    let empty = format!("/api/decks/{session_deck}/empty");
    let (s, emptied) = call(&api, Method::POST, &empty, &token, None).await;
    assert_eq!(s, StatusCode::OK, "{emptied}");
    assert_eq!(emptied["returned"], 2);
    let (_, home) = call(&api, Method::GET, &custom, &token, None).await;
    assert_eq!(home["new"], 2, "both cards back: {home}");
    let (s, err) = call(
        &api,
        Method::POST,
        &format!("/api/decks/{did}/empty"),
        &token,
        None,
    )
    .await;
    assert_error(s, &err, StatusCode::BAD_REQUEST, "not a filtered deck");
    let (s, built) = call(
        &api,
        Method::POST,
        &custom,
        &token,
        Some(json!({"previewDays": 1})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{built}");
    assert_eq!(
        built["session"]["deckId"], session_deck,
        "the same deck, rebuilt"
    );
    // Deleting the session deck sends its cards home.
    let (s, gone) = call(
        &api,
        Method::DELETE,
        &format!("/api/decks/{session_deck}"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{gone}");
    let (_, home) = call(&api, Method::GET, &custom, &token, None).await;
    assert_eq!(home["new"], 2, "both cards back in the deck: {home}");

    // Delete: the deck falls back to preset 1, which cannot be deleted.
    let (s, err) = call(&api, Method::DELETE, "/api/presets/1", &token, None).await;
    assert_error(s, &err, StatusCode::BAD_REQUEST, "default preset");
    let (s, done) = call(&api, Method::DELETE, &put, &token, None).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    let (s, _) = call(&api, Method::GET, &put, &token, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = call(&api, Method::GET, "/api/presets", &token, None).await;
    let default = list["presets"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["id"] == 1))
        .expect("preset 1");
    assert!(
        default["deckIds"]
            .as_array()
            .expect("ids")
            .contains(&json!(did))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_actions_and_fsrs() {
    let t = target().await;
    let api = ApiClient::for_target(&t);
    let token = register_login(&api, &t.user("actions")).await;

    let (_, deck) = call(
        &api,
        Method::POST,
        "/api/decks",
        &token,
        Some(json!({"name": "Actions"})),
    )
    .await;
    let did = deck["id"].as_i64().expect("deck id");
    let (s, added) = call(
        &api,
        Method::POST,
        "/api/cards",
        &token,
        Some(json!({"front": "uno", "back": "one", "deckId": did})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{added}");
    let cid = added["cardId"].as_i64().expect("card id");
    let act = format!("/api/cards/{cid}/actions");
    let queue_of = |v: &Value| v["queue"].as_i64().expect("queue");

    for (action, queue) in [
        ("bury", -3),
        ("bury", -3),
        ("unsuspend", -3),
        ("unbury", 0),
        ("suspend", -1),
        ("bury", -1),
        ("unbury", -1),
        ("unsuspend", 0),
    ] {
        let (s, r) = call(
            &api,
            Method::POST,
            &act,
            &token,
            Some(json!({"action": action})),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{action}: {r}");
        assert_eq!(queue_of(&r), queue, "{action}");
    }
    // The browser shows the state.
    call(
        &api,
        Method::POST,
        &act,
        &token,
        Some(json!({"action": "suspend"})),
    )
    .await;
    let (s, page) = call(
        &api,
        Method::GET,
        &format!("/api/decks/{did}/cards"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["cards"][0]["queue"], -1);

    let (s, err) = call(
        &api,
        Method::POST,
        &act,
        &token,
        Some(json!({"action": "delete"})),
    )
    .await;
    assert_error(s, &err, StatusCode::BAD_REQUEST, "delete");
    let (s, err) = call(&api, Method::POST, &act, &token, Some(json!({}))).await;
    assert_error(s, &err, StatusCode::BAD_REQUEST, "action");
    let (s, err) = call(
        &api,
        Method::POST,
        "/api/cards/42/actions",
        &token,
        Some(json!({"action": "bury"})),
    )
    .await;
    assert_error(s, &err, StatusCode::NOT_FOUND, "42");

    // FSRS: no history to train on leaves the parameters; recompute reports what it did.
    let (s, o) = call(
        &api,
        Method::POST,
        "/api/presets/1/optimize",
        &token,
        Some(json!({"apply": true})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(
        (o["fsrsItems"].as_i64(), o["applied"].as_bool()),
        (Some(0), Some(false))
    );
    let (s, r) = call(&api, Method::POST, "/api/presets/1/recompute", &token, None).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r["cardsUpdated"].is_u64());
    let (s, err) = call(
        &api,
        Method::POST,
        "/api/presets/42/optimize",
        &token,
        Some(json!({})),
    )
    .await;
    assert_error(s, &err, StatusCode::NOT_FOUND, "42");
    let (s, err) = call(
        &api,
        Method::POST,
        "/api/presets/42/recompute",
        &token,
        None,
    )
    .await;
    assert_error(s, &err, StatusCode::NOT_FOUND, "42");
    let (s, err) = call(
        &api,
        Method::POST,
        "/api/presets/1/optimize",
        &token,
        Some(json!({"apply": "yes"})),
    )
    .await;
    assert_error(s, &err, StatusCode::BAD_REQUEST, "apply");
}
