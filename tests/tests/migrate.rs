//! `javumbo-migrate --monolith` end to end: the original app's monolith layout (written by the
//! fixture generator from what that app stored) migrated into the embedded stores, then every
//! user logs in with the old password through `javumbo-local`, studies a card, and their export
//! is refereed by official Anki. Also: a dry run writes nothing, a re-run changes nothing, a
//! changed source is re-migrated (or reported once the user has used javumbo), and the case pair
//! keeps two accounts while a third case variant cannot register.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use javumbo_tests::http::ApiClient;
use javumbo_tests::original_app::{self, OriginalUser};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn migrate_bin() -> PathBuf {
    javumbo_tests::spawn::workspace_binary("javumbo-migrate")
}

fn migrate(args: &[&str]) -> Output {
    Command::new(migrate_bin())
        .args(args)
        .env_remove("JAVUMBO_DATA")
        .env_remove("JAVUMBO_BACKEND")
        .output()
        .expect("run javumbo-migrate")
}

/// Every file under `dir` with its bytes: the source must be byte-identical after every run.
fn snapshot_dir(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn report(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn outcomes(r: &Value) -> BTreeMap<String, String> {
    r["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap().to_owned(),
                u["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

struct Local {
    child: Child,
    base: String,
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path) -> Local {
    let bin = javumbo_tests::spawn::local_binary();
    let mut child = Command::new(bin)
        .arg("--addr=127.0.0.1:0")
        .arg("--data")
        .arg(data)
        .env_remove("JAVUMBO_JWT_SECRET")
        .env_remove("JAVUMBO_ADDR")
        .env_remove("JAVUMBO_DATA")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start javumbo-local");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.rsplit("http://").next().unwrap().trim().to_owned();
    assert!(addr.parse::<SocketAddr>().is_ok(), "{first}");
    std::thread::spawn(move || for _ in lines {});
    Local {
        child,
        base: format!("http://{addr}"),
    }
}

async fn login(api: &ApiClient, username: &str, password: &str) -> (StatusCode, Value) {
    let r = api
        .post("/api/login")
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    (r.status(), r.json())
}

/// Log in with the old password, study one card, export, and have official Anki import it.
async fn use_account(api: &ApiClient, u: &OriginalUser, expected: &Value) {
    // Typed as a person would: NFC, whatever the source stored.
    let typed: String = unicode_nfc(u.username);
    let (status, body) = login(api, &typed, u.password).await;
    assert_eq!(status, StatusCode::OK, "{typed}: {body}");
    let t = body["access_token"].as_str().unwrap().to_owned();
    let r = api.get("/api/decks").bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{typed}: {}", r.text());
    let r = api.get("/api/review").bearer_auth(&t).send().await.unwrap();
    let studied = if r.status() == StatusCode::OK && r.json()["cardId"].is_i64() {
        let card = r.json();
        let a = api
            .post("/api/review")
            .bearer_auth(&t)
            .json(&json!({"cardId": card["cardId"], "ease": 3, "timeTaken": 4000}))
            .send()
            .await
            .unwrap();
        assert_eq!(a.status(), StatusCode::OK, "{typed}: {}", a.text());
        1
    } else {
        // Only the empty collection has nothing to study.
        assert_eq!(u.notes, 0, "{typed}: no card to study: {}", r.text());
        0
    };
    let r = api.get("/api/export").bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{typed}: export");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.apkg");
    std::fs::write(&path, r.bytes()).unwrap();
    let anki: Value = serde_json::from_str(&javumbo_tests::run_oracle(
        "apkg_check.py",
        &[path.to_str().unwrap()],
        "",
    ))
    .unwrap();
    assert_eq!(anki["errors"], json!([]), "{typed}: {anki}");
    assert_eq!(anki["notes_count"], expected["after"]["notes"], "{typed}");
    assert_eq!(anki["cards_count"], expected["after"]["cards"], "{typed}");
    assert_eq!(
        anki["revlog_count"].as_i64().unwrap(),
        expected["before"]["revlog"].as_i64().unwrap() + studied,
        "{typed}: the whole history plus today's answer"
    );
}

fn unicode_nfc(s: &str) -> String {
    javumbo_session::Username::parse(s)
        .unwrap()
        .as_str()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monolith_into_embedded_stores() {
    let users = original_app::users();
    let src = tempfile::tempdir().unwrap();
    original_app::write_monolith(src.path(), &users);
    let pristine = snapshot_dir(src.path());
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let report_path = out.path().join("report.json");
    let (srcs, datas, reps) = (
        src.path().to_str().unwrap().to_owned(),
        data.path().to_str().unwrap().to_owned(),
        report_path.to_str().unwrap().to_owned(),
    );
    let run = |extra: &[&str]| {
        let mut args = vec!["--monolith", &srcs, "--data", &datas, "--report", &reps];
        args.extend_from_slice(extra);
        migrate(&args)
    };

    // A dry run verifies everything and writes nothing.
    let dry = run(&["--dry-run"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let r = report(&report_path);
    assert!(outcomes(&r).values().all(|o| o == "would-migrate"), "{r:#}");
    let blobs = data.path().join("blobs");
    assert!(
        !blobs.exists() || snapshot_dir(&blobs).is_empty(),
        "a dry run wrote blobs"
    );

    // The real run.
    let real = run(&[]);
    let md = String::from_utf8_lossy(&real.stdout).into_owned();
    assert!(
        real.status.success(),
        "{md}\n{}",
        String::from_utf8_lossy(&real.stderr)
    );
    println!("{md}");
    let r = report(&report_path);
    assert_eq!(r["users"].as_array().unwrap().len(), users.len());
    assert!(outcomes(&r).values().all(|o| o == "migrated"), "{r:#}");
    assert_eq!(
        std::fs::read_to_string(report_path.with_extension("md")).unwrap(),
        md
    );
    for u in r["users"].as_array().unwrap() {
        assert_eq!(u["before"]["notes"], u["after"]["notes"], "{u}");
        assert_eq!(u["before"]["revlog"], u["after"]["revlog"], "{u}");
    }
    let joao = &r["users"].as_array().unwrap()[1];
    let normalised = joao["normalised"].to_string();
    for expect in [
        "schedVer",
        "note types: missing",
        "bare name",
        "Anki's encoding",
    ] {
        assert!(normalised.contains(expect), "{expect}: {normalised}");
    }
    assert_eq!(
        snapshot_dir(src.path()),
        pristine,
        "the source was modified"
    );

    // A re-run changes nothing.
    let again = run(&[]);
    assert!(again.status.success());
    assert!(
        outcomes(&report(&report_path))
            .values()
            .all(|o| o == "unchanged")
    );

    // A changed source (a review added in the original app meanwhile) is migrated again.
    let changed = src.path().join("user_dbs/user_4.db"); // Ph.silvazx
    let c = rusqlite::Connection::open(&changed).unwrap();
    c.execute(
        "INSERT INTO revlog SELECT max(id) + 1, cid, usn, 3, ivl, lastIvl, factor, time, type
         FROM revlog",
        [],
    )
    .unwrap();
    drop(c);
    let pristine = snapshot_dir(src.path());
    let re = run(&[]);
    assert!(
        re.status.success(),
        "{}",
        String::from_utf8_lossy(&re.stdout)
    );
    let r = report(&report_path);
    let o = outcomes(&r);
    assert_eq!(o["Ph.silvazx"], "remigrated", "{r:#}");
    assert_eq!(
        o.values().filter(|v| *v == "unchanged").count(),
        users.len() - 1
    );

    // Every user logs in with the old password, studies, and exports into official Anki.
    let local = serve(data.path());
    let api = ApiClient::direct(&local.base);
    let by_name: BTreeMap<String, Value> = r["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["username"].as_str().unwrap().to_owned(), u.clone()))
        .collect();
    for u in &users {
        use_account(&api, u, &by_name[&unicode_nfc(u.username)]).await;
    }

    // The case pair: two accounts, two passwords; the other case's password does not open
    // either; a third variant cannot register.
    let (s, _) = login(&api, "Aghnes", "aghnes-lower2").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = login(&api, "AGHNES", "Aghnes-upper1").await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "login is exact, as in the original app"
    );
    for taken in ["AGHNES", "ana paula", "JOÃO VITOR"] {
        let r = api
            .post("/api/register")
            .json(&json!({"username": taken, "name": "Other", "password": "another-pass-1"}))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_client_error(),
            "{taken}: a case variant registered: {}",
            r.text()
        );
    }
    let r = api
        .post("/api/register")
        .json(&json!({"username": "Maria José", "name": "Maria", "password": "another-pass-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a new Unicode name registers: {}",
        r.text()
    );

    // Once a user has used javumbo, a changed source is reported, not overwritten.
    let c = rusqlite::Connection::open(&changed).unwrap();
    c.execute(
        "INSERT INTO revlog SELECT max(id) + 1, cid, usn, 2, ivl, lastIvl, factor, time, type
         FROM revlog",
        [],
    )
    .unwrap();
    drop(c);
    let conflict = run(&[]);
    assert_eq!(
        conflict.status.code(),
        Some(1),
        "a failed user exits non-zero"
    );
    let r = report(&report_path);
    assert_eq!(outcomes(&r)["Ph.silvazx"], "failed", "{r:#}");
    let err = r["users"].as_array().unwrap()[3]["error"].to_string();
    assert!(err.contains("started using javumbo"), "{err}");
    drop(local);
    let _ = pristine;
}
