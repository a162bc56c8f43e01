//! Differential referee for sync: one script of official-client steps (two "devices" of Anki
//! 26.9.3, `tests/oracle/sync_driver.py`) runs against Anki's own server (`python -m
//! anki.syncserver`) and against `javumbo-local --containers 2 --isolate processes`. The client's
//! result at every sync (what it required, what it did, its error) and both devices' final
//! collections, normalised (ids, timestamps, guids, due dates and fuzzed intervals differ between
//! runs; content, scheduling state, deck and preset names, note types and tags must not), are the
//! same.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use javumbo_tests::anki_python;
use javumbo_tests::devices::Devices;
use javumbo_tests::http::{ApiClient, register_login};
use javumbo_tests::spawn::spawn_local_process;
use reqwest::StatusCode;
use serde_json::{Value, json};

const USER: &str = "ana";
const PASSWORD: &str = "password123";

/// Anki's own sync server on a free port, with one user.
struct AnkiServer {
    child: Child,
    endpoint: String,
    _base: tempfile::TempDir,
}

impl AnkiServer {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let base = tempfile::tempdir().expect("temp dir");
        let child = Command::new(anki_python())
            .args(["-m", "anki.syncserver"])
            .env("SYNC_USER1", format!("{USER}:{PASSWORD}"))
            .env("SYNC_BASE", base.path())
            .env("SYNC_HOST", "127.0.0.1")
            .env("SYNC_PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start anki.syncserver");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "anki.syncserver did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            endpoint: format!("http://{addr}/"),
            _base: base,
        }
    }
}

impl Drop for AnkiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a run leaves: the client's result at each sync, and both devices' collections.
struct Run {
    results: Vec<Value>,
    a: Value,
    b: Value,
}

fn step(
    dev: &mut Devices,
    results: &mut Vec<Value>,
    label: &str,
    device: &str,
    full: Option<&str>,
) {
    let out = dev.sync(device, full);
    results.push(json!([label, out["required"], out["did"], out["kind"]]));
}

fn note_ids(d: &Value) -> Vec<i64> {
    d["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n[0].as_i64().unwrap())
        .collect()
}

/// The script: every kind of change on each device and on both at once.
fn script(endpoint: &str) -> Run {
    let mut dev = Devices::start();
    let mut results = Vec::new();
    let r = &mut results;
    let login = |d: &str| json!({"op": "login", "device": d, "user": USER, "password": PASSWORD, "endpoint": endpoint});

    dev.ok(json!({"op": "create", "device": "A", "populated": true}));
    dev.ok(login("A"));
    step(&mut dev, r, "A first sync", "A", Some("upload"));
    step(&mut dev, r, "A again", "A", None);
    dev.ok(json!({"op": "create", "device": "B"}));
    dev.ok(login("B"));
    step(&mut dev, r, "B first sync", "B", Some("auto"));
    step(&mut dev, r, "B after download", "B", None);
    step(&mut dev, r, "B in step", "B", None);

    // A's day: a review, a new deck and note, an edit, a tag, a deletion, a preset change.
    let ids = note_ids(&dev.dump("A"));
    let (edited, doomed, contested, deleted_on_b) = (ids[0], ids[1], ids[2], ids[3]);
    dev.ok(json!({"op": "review", "device": "A"}));
    dev.ok(json!({"op": "add_deck", "device": "A", "name": "Spanish::Phrases"}));
    dev.ok(
        json!({"op": "add_note", "device": "A", "deck": "Spanish::Phrases",
        "front": "¿qué tal?", "back": "how are you?", "tags": ["phrases"]}),
    );
    dev.ok(json!({"op": "edit_note", "device": "A", "note": edited, "front": "hablar (edited)"}));
    dev.ok(json!({"op": "tag_note", "device": "A", "note": edited, "tag": "irregular"}));
    dev.ok(json!({"op": "delete_note", "device": "A", "note": doomed}));
    dev.ok(json!({"op": "set_new_per_day", "device": "A", "preset": "Sync preset", "value": 44}));
    step(&mut dev, r, "A after its day", "A", None);
    step(&mut dev, r, "B gets A's day", "B", None);

    // B's day.
    dev.ok(json!({"op": "review", "device": "B"}));
    dev.ok(
        json!({"op": "add_note", "device": "B", "deck": "Spanish::Nouns",
        "front": "la casa", "back": "the house"}),
    );
    step(&mut dev, r, "B after its day", "B", None);
    step(&mut dev, r, "A gets B's day", "A", None);

    // Both edit one note, B a second later: B's edit wins everywhere. B deletes a note A then
    // edits: the deletion wins. Both create a deck of the same name.
    dev.ok(json!({"op": "edit_note", "device": "A", "note": contested, "front": "from A"}));
    dev.ok(json!({"op": "add_deck", "device": "A", "name": "Spanish::Shared"}));
    dev.ok(json!({"op": "delete_note", "device": "B", "note": deleted_on_b}));
    dev.ok(json!({"op": "add_deck", "device": "B", "name": "Spanish::Shared"}));
    std::thread::sleep(Duration::from_millis(1100));
    dev.ok(json!({"op": "edit_note", "device": "B", "note": contested, "front": "from B"}));
    dev.ok(json!({"op": "edit_note", "device": "A", "note": deleted_on_b, "front": "too late"}));
    step(&mut dev, r, "A with conflicts", "A", None);
    step(&mut dev, r, "B with conflicts", "B", None);
    step(&mut dev, r, "A after B", "A", None);
    step(&mut dev, r, "B in step again", "B", None);

    // A schema change: full sync, A uploads, B downloads.
    dev.ok(json!({"op": "add_field", "device": "A", "notetype": "Basic", "field": "Notes"}));
    step(&mut dev, r, "A after a schema change", "A", Some("upload"));
    step(
        &mut dev,
        r,
        "B after A's schema change",
        "B",
        Some("download"),
    );
    step(&mut dev, r, "A last", "A", None);
    step(&mut dev, r, "B last", "B", None);

    let a = dev.dump("A");
    let b = dev.dump("B");
    Run { results, a, b }
}

/// A device's collection without what differs between runs by nature: ids, timestamps, guids
/// and due times. Everything is keyed by content and names instead.
fn normalise(d: &Value) -> Value {
    let rows = |k: &str| d[k].as_array().cloned().unwrap_or_default();
    let decks: HashMap<i64, String> = rows("decks")
        .iter()
        .map(|x| (x[0].as_i64().unwrap(), x[1].as_str().unwrap().to_owned()))
        .collect();
    let presets: HashMap<i64, String> = rows("presets")
        .iter()
        .map(|x| (x[0].as_i64().unwrap(), x[1].as_str().unwrap().to_owned()))
        .collect();
    let notes: HashMap<i64, Value> = rows("notes")
        .iter()
        .map(|n| (n[0].as_i64().unwrap(), n[5].clone()))
        .collect();
    let card_keys: HashMap<i64, Value> = rows("cards")
        .iter()
        .map(|c| {
            let nid = c[1].as_i64().unwrap();
            (c[0].as_i64().unwrap(), json!([notes.get(&nid), c[3]]))
        })
        .collect();
    let sorted = |mut v: Vec<Value>| {
        v.sort_by_key(|x| x.to_string());
        Value::Array(v)
    };
    json!({
        "notes": sorted(rows("notes").iter().map(|n| json!([n[5], n[4]])).collect()),
        "cards": sorted(rows("cards").iter().map(|c| {
            // [id, nid, did, ord, mod, type, queue, due, ivl, factor, reps, lapses, left, ...];
            // due and ivl left out: the fuzz is seeded by the card id.
            json!([card_keys[&c[0].as_i64().unwrap()], decks.get(&c[2].as_i64().unwrap()),
                   c[5], c[6], c[9], c[10], c[11], c[12]])
        }).collect()),
        "revlog": sorted(rows("revlog").iter().map(|l| {
            // [id, cid, ease, ivl, lastIvl, factor, time, type]; ivl fuzzed by card id
            json!([card_keys.get(&l[1].as_i64().unwrap()), l[2], l[4], l[5], l[7]])
        }).collect()),
        "decks": sorted(rows("decks").iter().map(|x| {
            json!([x[1], x[2].as_i64().and_then(|p| presets.get(&p))])
        }).collect()),
        "presets": sorted(rows("presets").iter().map(|p| json!([p[1], p[2], p[3]])).collect()),
        "models": sorted(rows("models").iter().map(|m| json!([m[1], m[2], m[3], m[4]])).collect()),
        "tags": d["tags"],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_sees_javumbo_as_it_sees_anki_s_own_server() {
    let anki = AnkiServer::start();
    let endpoint = anki.endpoint.clone();
    let theirs = tokio::task::spawn_blocking(move || script(&endpoint))
        .await
        .unwrap();
    drop(anki);

    // javumbo: a new account, its starter deck deleted so the server is as empty as Anki's.
    let local = spawn_local_process(2, "processes");
    let api = ApiClient::behind_gateway(&local.base);
    let token = register_login(&api, USER).await;
    let (decks, _) = javumbo_tests::http::get(&api, &token, "/api/decks").await;
    for d in decks["decks"].as_array().unwrap() {
        if d["id"] != 1 && !d["name"].as_str().unwrap().contains("::") {
            let r = api
                .delete(&format!("/api/decks/{}", d["id"]))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{}", r.text());
        }
    }
    let endpoint = format!("{}/", local.base.trim_end_matches('/'));
    let ours = tokio::task::spawn_blocking(move || script(&endpoint))
        .await
        .unwrap();

    assert_eq!(
        serde_json::to_string_pretty(&ours.results).unwrap(),
        serde_json::to_string_pretty(&theirs.results).unwrap(),
        "the client's results, javumbo (left) and Anki's server (right)"
    );
    for (name, o, t) in [("A", &ours.a, &theirs.a), ("B", &ours.b, &theirs.b)] {
        assert_eq!(
            normalise(o),
            normalise(t),
            "device {name}'s collection, javumbo (left) and Anki's server (right)"
        );
    }
    assert_eq!(normalise(&ours.a), normalise(&ours.b), "A and B agree");
    // The script did what it says: the contested edit, the deletion and the deck clash.
    let text = ours.a.to_string();
    assert!(text.contains("from B") && !text.contains("from A"));
    assert!(!text.contains("too late"));
    assert!(text.contains("Spanish::Shared+") || text.contains("Spanish\u{1f}Shared+"));
}
