//! The `export` function driven by API Gateway HTTP API (payload 2.0) events.

use std::io::Cursor;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use javumbo_test_support::{
    Deployment, SESSION_HEADER, fixture, header, invoke, json_body, sign_up, status,
};

/// The entries of a zip archive.
fn zip_entries(bytes: &[u8]) -> Vec<String> {
    let zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a zip archive");
    zip.file_names()
        .map(|name| name.expect("entry name").into_owned())
        .collect()
}

#[tokio::test]
async fn export_is_a_base64_zip_and_import_takes_a_base64_multipart_body() {
    let d = Deployment::new().await;
    let token = sign_up(&d).await;
    let function = d.function(javumbo_export::GROUP).await;
    let router = || function.clone();
    let auth = [("token", token.as_str())];

    // The fixture's body is a genanki-built package (two notes in deck "Geography") inside the
    // browser's multipart form, which API Gateway hands over base64-encoded.
    let resp = invoke(router(), &fixture!("import.json", &auth)).await;
    assert_eq!(status(&resp), 200, "{resp}");
    let sid = header(&resp, SESSION_HEADER)
        .expect("X-Session-ID")
        .to_owned();
    let summary = json_body(&resp);
    assert_eq!(summary["notes"], 2, "{summary}");
    assert_eq!(summary["cards"], 2, "{summary}");

    let resp = invoke(router(), &fixture!("export.json", &auth)).await;
    assert_eq!(status(&resp), 200, "{resp}");
    // Binary must reach API Gateway base64-encoded, or it mangles the zip into UTF-8.
    assert_eq!(resp["isBase64Encoded"], true, "{resp}");
    assert_eq!(header(&resp, "content-type"), Some("application/zip"));
    assert_eq!(header(&resp, SESSION_HEADER), Some(sid.as_str()));
    let disposition = header(&resp, "content-disposition").expect("Content-Disposition");
    assert!(
        disposition.starts_with("attachment; filename=\"alice_export_")
            && disposition.ends_with(".apkg\""),
        "{disposition}"
    );
    let apkg = STANDARD
        .decode(resp["body"].as_str().expect("a body"))
        .expect("valid base64");
    assert!(apkg.starts_with(b"PK\x03\x04"), "not a zip");
    // The legacy layout every Anki version imports.
    assert_eq!(zip_entries(&apkg), ["collection.anki2", "media"]);
}

#[tokio::test]
async fn export_without_a_token_is_a_json_401() {
    let d = Deployment::new().await;
    let event = fixture!("export.json", &[("token", "")]);
    let resp = invoke(d.function(javumbo_export::GROUP).await, &event).await;
    assert_eq!(status(&resp), 401, "{resp}");
    assert!(json_body(&resp)["error"].is_string(), "{resp}");
}
