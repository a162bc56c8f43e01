//! The user's media over HTTP: upload, serve, list, delete, the limits, another user's file,
//! hostile names, and media travelling through export → import. Every response is held to
//! `docs/openapi.yaml` by [`ApiClient`].

use javumbo_tests::http::{ApiClient, register_login};
use javumbo_tests::spawn::target;
use reqwest::StatusCode;

async fn upload(api: &ApiClient, token: &str, name: &str, bytes: &[u8]) -> (StatusCode, String) {
    let resp = api
        .post(&format!("/api/media?name={}", urlencode(name)))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    let v = resp.json();
    (
        resp.status(),
        v["filename"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string()),
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_serve_list_delete_and_isolation() {
    let t = target().await;
    let api = ApiClient::for_target(&t);
    let ana = register_login(&api, &t.user("mediaana")).await;
    let bob = register_login(&api, &t.user("mediabob")).await;
    let png = b"\x89PNG\r\n\x1a\nnot really a png";

    let (s, name) = upload(&api, &ana, "cat.png", png).await;
    assert_eq!((s, name.as_str()), (StatusCode::CREATED, "cat.png"));
    // The same content under a second name, and a name Anki rewrites.
    assert_eq!(upload(&api, &ana, "dog.png", png).await.1, "dog.png");
    let (s, hostile) = upload(
        &api,
        &ana,
        "../../etc/pass\u{0}wd.svg",
        b"<svg onload=alert(1)/>",
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(
        !hostile.contains('/') && !hostile.contains('\0'),
        "{hostile}"
    );

    let resp = api
        .get("/api/media/cat.png")
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes(), png);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert!(
        resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox")
    );

    let resp = api
        .get(&format!("/api/media/{}", urlencode(&hostile)))
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/svg+xml");
    assert_eq!(resp.headers()["content-disposition"], "attachment");

    // Another user (and nobody) never gets ana's file.
    let resp = api
        .get("/api/media/cat.png")
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = api.get("/api/media/cat.png").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let resp = api
        .get("/api/media")
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v = resp.json();
    assert_eq!(v["files"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["quotaBytes"], 1024u64 * 1024 * 1024);
    let total = v["totalBytes"].as_u64().unwrap();
    assert_eq!(total, 2 * png.len() as u64 + 22);

    let resp = api
        .delete("/api/media/cat.png")
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = api
        .get("/api/media/cat.png")
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // The shared content still serves its other name.
    let resp = api
        .get("/api/media/dog.png")
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes(), png);
    let resp = api
        .delete("/api/media/cat.png")
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // Names with nothing usable, and very long ones.
    assert_eq!(
        upload(&api, &ana, "/", b"x").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        upload(&api, &ana, &"a".repeat(5000), b"x").await.0,
        StatusCode::BAD_REQUEST
    );
    let (s, long) = upload(&api, &ana, &format!("{}.mp3", "é".repeat(200)), b"x").await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(long.len() <= 120 && long.ends_with(".mp3"), "{long}");

    // Media travel in the export and come back on import, into another user's media.
    let resp = api
        .get("/api/export")
        .bearer_auth(&ana)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let apkg = resp.bytes().to_vec();
    let resp = api
        .post("/api/import")
        .bearer_auth(&bob)
        .header("content-type", "application/octet-stream")
        .body(apkg.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let v = resp.json();
    assert_eq!(
        (v["media"].as_u64(), v["mediaSkipped"].as_u64()),
        (Some(3), Some(0)),
        "{v}"
    );
    let resp = api
        .get("/api/media/dog.png")
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes(), png);
    // Again: the same names with the same content are skipped.
    let resp = api
        .post("/api/import")
        .bearer_auth(&bob)
        .header("content-type", "application/octet-stream")
        .body(apkg)
        .send()
        .await
        .unwrap();
    let v = resp.json();
    assert_eq!(
        (v["media"].as_u64(), v["mediaSkipped"].as_u64()),
        (Some(0), Some(3)),
        "{v}"
    );
}

/// A package made by official Anki whose `a.png` clashes with the user's own `a.png`
/// (`tests/oracle/media_clash.py`): the import keeps both, the package's under Anki's renamed
/// file; the card the user then studies shows the renamed file, which serves the package's
/// content, while `a.png` keeps serving the user's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_clashing_file_is_renamed_and_the_card_shows_it() {
    use serde_json::{Value, json};

    let dir = tempfile::tempdir().unwrap();
    let oracle: Value = serde_json::from_str(&javumbo_tests::run_oracle(
        "media_clash.py",
        &[dir.path().to_str().unwrap()],
        "",
    ))
    .unwrap();
    let anki = &oracle["packages"]["legacy"];
    // Anki's name for the package's a.png.
    let renamed = anki["media"]
        .as_object()
        .unwrap()
        .keys()
        .find(|n| n.starts_with("a-") && n.ends_with(".png"))
        .expect("Anki renamed a.png")
        .clone();
    let user_a = hex::decode(oracle["user_media"]["a.png"].as_str().unwrap()).unwrap();
    let package_a = hex::decode(oracle["package_media"]["a.png"].as_str().unwrap()).unwrap();

    let t = target().await;
    let api = ApiClient::for_target(&t);
    let token = register_login(&api, &t.user("mediaclash")).await;
    for (name, hex) in oracle["user_media"].as_object().unwrap() {
        let (s, stored) = upload(
            &api,
            &token,
            name,
            &hex::decode(hex.as_str().unwrap()).unwrap(),
        )
        .await;
        assert_eq!((s, stored.as_str()), (StatusCode::CREATED, name.as_str()));
    }

    let apkg = std::fs::read(anki["path"].as_str().unwrap()).unwrap();
    let resp = api
        .post("/api/import")
        .bearer_auth(&token)
        .header("content-type", "application/octet-stream")
        .body(apkg)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text());
    let v = resp.json();
    assert_eq!(
        (
            v["notes"].as_u64(),
            v["media"].as_u64(),
            v["mediaSkipped"].as_u64()
        ),
        (Some(5), Some(3), Some(2)),
        "{v}"
    );

    // Study the imported deck: its first card is the note `<img src="a.png">`.
    let resp = api
        .get("/api/decks")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let decks = resp.json();
    let clash = decks["decks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Clash")
        .unwrap_or_else(|| panic!("no Clash deck: {decks}"))["id"]
        .as_i64()
        .unwrap();
    let resp = api
        .put("/api/decks/current")
        .bearer_auth(&token)
        .json(&json!({"deckId": clash}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text());
    let resp = api
        .get("/api/review")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let review = resp.json();
    let question = review["questionHtml"].as_str().unwrap_or_default();
    assert_eq!(question, format!("<img src=\"{renamed}\">"), "{review}");

    let resp = api
        .get(&format!("/api/media/{}", urlencode(&renamed)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.bytes(),
        package_a,
        "the renamed file serves the package's a.png"
    );
    assert_eq!(resp.headers()["content-type"], "image/png");
    let resp = api
        .get("/api/media/a.png")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes(), user_a, "a.png stays the user's own");
}
