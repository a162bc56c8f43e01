use javumbo_collection::review::Study;
use javumbo_collection::{Clock, CreateOptions, ManualClock};
use serde_json::json;

use super::*;

const T0_MS: i64 = 1_704_110_400_000;

/// A server collection with javumbo's starter deck (notes, cards: all unstamped, usn −1).
fn server() -> Collection {
    let opts = CreateOptions {
        starter_deck: true,
        ..CreateOptions::default()
    };
    Collection::create_in_memory(ManualClock::new(T0_MS), &opts).unwrap()
}

fn start_req(client_usn: i32, lnewer: bool) -> StartRequest {
    StartRequest {
        client_usn,
        local_is_newer: lnewer,
        deprecated_client_graves: None,
    }
}

fn one(col: &Collection, sql: &str) -> i64 {
    col.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// A whole normal sync in which the client sends only `client_decks`; the decks the server
/// sends back.
fn sync_decks(
    col: &Collection,
    skey: &str,
    client_usn: i32,
    client_decks: Vec<Value>,
    now_ms: i64,
) -> Vec<Value> {
    start(col, skey, &start_req(client_usn, false)).unwrap();
    apply_graves(col, skey, &Graves::default()).unwrap();
    let mine = UnchunkedChanges {
        decks_and_config: (client_decks, Vec::new()),
        ..UnchunkedChanges::default()
    };
    let theirs = apply_changes(col, skey, &mine).unwrap();
    all_chunks(col, skey);
    finish(col, skey, now_ms).unwrap();
    theirs.decks_and_config.0
}

fn all_chunks(col: &Collection, skey: &str) -> Chunk {
    let mut all = Chunk::default();
    for _ in 0..100 {
        let c = chunk(col, skey).unwrap();
        all.revlog.extend(c.revlog);
        all.cards.extend(c.cards);
        all.notes.extend(c.notes);
        if c.done {
            all.done = true;
            return all;
        }
    }
    panic!("chunks never done");
}

fn some_note_type(col: &Collection) -> i64 {
    col.read_json(ColJson::Models)
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A client note of `mid` with its one card, both modified at `mtime`.
fn client_rows(id: i64, mid: i64, mtime: i64, text: &str) -> Chunk {
    Chunk {
        done: true,
        revlog: vec![json!([id, id + 1, 0, 3, 1, 0, 2500, 4000, 0])],
        cards: vec![json!([
            id + 1,
            id,
            1,
            0,
            mtime,
            0,
            2,
            2,
            5,
            1,
            2500,
            1,
            0,
            0,
            0,
            0,
            0,
            "{}"
        ])],
        notes: vec![json!([
            id,
            "guid",
            mid,
            mtime,
            0,
            " t ",
            format!("{text}\u{1f}back"),
            "",
            "",
            0,
            ""
        ])],
    }
}

#[test]
fn the_server_s_changes_reach_a_client_and_are_stamped() {
    let col = server();
    let notes = one(&col, "SELECT count(*) FROM notes");
    let cards = one(&col, "SELECT count(*) FROM cards");
    assert!(notes > 0);
    assert_eq!(
        one(&col, "SELECT count(*) FROM notes WHERE usn = -1"),
        notes
    );

    assert_eq!(
        start(&col, "k", &start_req(0, false)).unwrap(),
        Graves::default()
    );
    apply_graves(&col, "k", &Graves::default()).unwrap();
    let theirs = apply_changes(&col, "k", &UnchunkedChanges::default()).unwrap();
    assert!(
        !theirs.notetypes.is_empty(),
        "every note type is new to the client"
    );
    assert!(!theirs.decks_and_config.0.is_empty());
    let conf = theirs.config.expect("the server is the newer side");
    assert!(conf.keys().all(|k| !k.starts_with("javumbo")));
    let rows = all_chunks(&col, "k");
    assert_eq!(rows.notes.len() as i64, notes);
    assert_eq!(rows.cards.len() as i64, cards);
    assert_eq!(rows.notes[0].as_array().unwrap().len(), 11);
    assert_eq!(rows.cards[0].as_array().unwrap().len(), 18);
    apply_chunk(
        &col,
        "k",
        &Chunk {
            done: true,
            ..Chunk::default()
        },
    )
    .unwrap();
    let mut mine = counts(&col).unwrap();
    mine[0] = json!([4, 5, 6]);
    let ok = sanity_check(&col, "k", &Value::from(mine)).unwrap();
    assert_eq!(ok.status, SanityCheckStatus::Ok, "{ok:?}");
    let m = finish(&col, "k", T0_MS + 60_000).unwrap();
    assert_eq!(one(&col, "SELECT usn FROM col"), 1);
    assert_eq!(one(&col, "SELECT mod FROM col"), m);
    assert_eq!(one(&col, "SELECT count(*) FROM notes WHERE usn = 0"), notes);
    assert_eq!(one(&col, "SELECT count(*) FROM javumbo_sync_session"), 0);

    // In step now: nothing to send.
    start(&col, "k2", &start_req(1, false)).unwrap();
    let rows = all_chunks(&col, "k2");
    assert!(rows.notes.is_empty() && rows.cards.is_empty());
    let theirs = apply_changes(&col, "k2", &UnchunkedChanges::default()).unwrap();
    assert!(theirs.notetypes.is_empty() && theirs.decks_and_config.0.is_empty());
}

#[test]
fn chunks_are_bounded_and_resume_from_the_stored_cursor() {
    let col = server();
    for i in 0..300 {
        col.add_card(&format!("q{i}"), "a", None).unwrap();
    }
    start(&col, "k", &start_req(0, false)).unwrap();
    let first = chunk(&col, "k").unwrap();
    assert!(!first.done);
    assert_eq!(
        first.notes.len() + first.cards.len() + first.revlog.len(),
        CHUNK_SIZE
    );
    let rest = all_chunks(&col, "k");
    let notes = first.notes.len() + rest.notes.len();
    assert_eq!(notes as i64, one(&col, "SELECT count(*) FROM notes"));
    let mut ids: Vec<i64> = first
        .notes
        .iter()
        .chain(&rest.notes)
        .map(|n| n[0].as_i64().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), notes, "no note sent twice");
}

#[test]
fn client_rows_are_applied_at_finish_with_anki_s_merge_rules() {
    let col = server();
    let mid = some_note_type(&col);
    // First sync: everything stamped 0, server usn 1 afterwards.
    start(&col, "a", &start_req(0, false)).unwrap();
    finish(&col, "a", T0_MS + 1_000).unwrap();
    let existing = one(&col, "SELECT id FROM notes ORDER BY id LIMIT 1");

    start(&col, "b", &start_req(1, true)).unwrap();
    apply_chunk(&col, "b", &client_rows(5_000, mid, 100, "new")).unwrap();
    // Older than ours, but ours did not change since the client's last sync: theirs wins.
    let mut edit = client_rows(existing, mid, 1, "edited on the device");
    edit.cards.clear();
    edit.revlog.clear();
    apply_chunk(&col, "b", &edit).unwrap();
    assert_eq!(
        one(&col, "SELECT count(*) FROM notes WHERE id = 5000"),
        0,
        "staged only"
    );
    let notes = one(&col, "SELECT count(*) FROM notes");
    let mut theirs = counts(&col).unwrap();
    theirs[1] = (theirs[1].as_i64().unwrap() + 1).into();
    theirs[2] = (notes + 1).into();
    theirs[3] = (theirs[3].as_i64().unwrap() + 1).into();
    let check = sanity_check(&col, "b", &Value::from(theirs)).unwrap();
    assert_eq!(check.status, SanityCheckStatus::Ok, "{check:?}");
    assert_eq!(
        one(&col, "SELECT count(*) FROM notes WHERE id = 5000"),
        0,
        "rolled back"
    );
    finish(&col, "b", T0_MS + 2_000).unwrap();
    assert_eq!(one(&col, "SELECT usn FROM notes WHERE id = 5000"), 1);
    assert_eq!(
        one(
            &col,
            "SELECT count(*) FROM cards WHERE id = 5001 AND usn = 1"
        ),
        1
    );
    assert_eq!(one(&col, "SELECT count(*) FROM revlog WHERE id = 5000"), 1);
    let (flds, csum): (String, i64) = col
        .conn()
        .query_row(
            "SELECT flds, csum FROM notes WHERE id = ?1",
            [existing],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(flds.starts_with("edited on the device"));
    assert_eq!(csum, note_checksum("edited on the device"));

    // Now the server changes that note (web edit: usn −1, mod newer than the device's).
    col.conn()
        .execute(
            "UPDATE notes SET flds = 'web\u{1f}x', mod = 500, usn = -1 WHERE id = ?1",
            [existing],
        )
        .unwrap();
    start(&col, "c", &start_req(2, true)).unwrap();
    let mut older = client_rows(existing, mid, 400, "device, older");
    older.cards.clear();
    older.revlog.clear();
    apply_chunk(&col, "c", &older).unwrap();
    finish(&col, "c", T0_MS + 3_000).unwrap();
    assert_eq!(
        one(
            &col,
            &format!("SELECT count(*) FROM notes WHERE id = {existing} AND flds LIKE 'web%'")
        ),
        1,
        "the newer server edit stays"
    );
}

#[test]
fn graves_go_both_ways() {
    let col = server();
    start(&col, "a", &start_req(0, false)).unwrap();
    finish(&col, "a", T0_MS + 1_000).unwrap();
    // The web deletes a note: its card and it get graves, sent at the next start.
    let nid = one(&col, "SELECT id FROM notes ORDER BY id LIMIT 1");
    let cid = one(&col, &format!("SELECT id FROM cards WHERE nid = {nid}"));
    col.delete_note(nid).unwrap();
    let g = start(&col, "b", &start_req(1, false)).unwrap();
    assert_eq!((g.notes.clone(), g.cards.clone()), (vec![nid], vec![cid]));
    // The device deleted another note (note and card graves).
    let nid2 = one(&col, "SELECT id FROM notes ORDER BY id LIMIT 1");
    let cid2 = one(&col, &format!("SELECT id FROM cards WHERE nid = {nid2}"));
    apply_graves(
        &col,
        "b",
        &Graves {
            cards: vec![cid2],
            notes: vec![nid2],
            decks: vec![],
        },
    )
    .unwrap();
    assert_eq!(
        one(
            &col,
            &format!("SELECT count(*) FROM notes WHERE id = {nid2}")
        ),
        1
    );
    finish(&col, "b", T0_MS + 2_000).unwrap();
    assert_eq!(
        one(
            &col,
            &format!("SELECT count(*) FROM notes WHERE id = {nid2}")
        ),
        0
    );
    assert_eq!(
        one(
            &col,
            &format!("SELECT count(*) FROM cards WHERE id = {cid2}")
        ),
        0
    );
    // A third device that last synced at usn 1 learns both deletions.
    let g = start(&col, "c", &start_req(1, false)).unwrap();
    assert_eq!(g.notes.len(), 2);
    // One that synced after them learns none.
    let g = start(&col, "d", &start_req(3, false)).unwrap();
    assert_eq!(g, Graves::default());
}

#[test]
fn steps_need_their_own_session() {
    let col = server();
    let err = chunk(&col, "k").unwrap_err();
    assert!(matches!(err, CollectionError::Conflict(_)), "{err}");
    start(&col, "k", &start_req(0, false)).unwrap();
    let err = apply_chunk(&col, "other", &Chunk::default()).unwrap_err();
    assert!(matches!(err, CollectionError::Conflict(_)), "{err}");
    apply_graves(&col, "k", &Graves::default()).unwrap();
    // A new start discards the old session and what it staged.
    start(&col, "k2", &start_req(0, false)).unwrap();
    assert_eq!(one(&col, "SELECT count(*) FROM javumbo_sync_stage"), 0);
    assert!(matches!(
        finish(&col, "k", T0_MS),
        Err(CollectionError::Conflict(_))
    ));
    assert!(abort(&col).unwrap());
    assert!(!abort(&col).unwrap());
}

#[test]
fn malformed_rows_and_schema_changes_are_refused() {
    let col = server();
    start(&col, "k", &start_req(0, false)).unwrap();
    let short = Chunk {
        notes: vec![json!([1, "g"])],
        ..Chunk::default()
    };
    assert!(matches!(
        apply_chunk(&col, "k", &short),
        Err(CollectionError::InvalidInput(_))
    ));
    let bad_card = Chunk {
        cards: vec![json!([
            1, 2, 3, 0, "x", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ""
        ])],
        ..Chunk::default()
    };
    assert!(apply_chunk(&col, "k", &bad_card).is_err());
    // Values Anki's rows cannot hold (its server refuses them too): an interval of 2^40 days,
    // a negative ease factor, a revlog ease of 9.
    for bad_row in [
        json!([
            1,
            2,
            1,
            0,
            5,
            0,
            2,
            2,
            5,
            1_i64 << 40,
            2500,
            1,
            0,
            0,
            0,
            0,
            0,
            ""
        ]),
        json!([1, 2, 1, 0, 5, 0, 2, 2, 5, 10, -1, 1, 0, 0, 0, 0, 0, ""]),
    ] {
        let chunk = Chunk {
            cards: vec![bad_row],
            ..Chunk::default()
        };
        let err = apply_chunk(&col, "k", &chunk).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
    }
    let bad_revlog = Chunk {
        revlog: vec![json!([1, 2, 0, 9, 1, 0, 2500, 100, 1])],
        ..Chunk::default()
    };
    assert!(apply_chunk(&col, "k", &bad_revlog).is_err());
    // A note type with a field more, not older than ours: a schema change.
    let models = col.read_json(ColJson::Models).unwrap();
    let mut nt = models.values().next().unwrap().clone();
    nt["flds"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "Extra"}));
    nt["mod"] = json!(i64::MAX / 2);
    apply_changes(
        &col,
        "k",
        &UnchunkedChanges {
            notetypes: vec![nt],
            ..UnchunkedChanges::default()
        },
    )
    .unwrap();
    let err = finish(&col, "k", T0_MS).unwrap_err();
    assert!(err.to_string().contains("schema changed"), "{err}");
    // A note of a note type the server does not have.
    start(&col, "k", &start_req(0, false)).unwrap();
    apply_chunk(&col, "k", &client_rows(9_000, 12345, 1, "x")).unwrap();
    assert!(finish(&col, "k", T0_MS).is_err());
    // A note with more fields than its note type (Anki: "note has 3 fields, expected 2").
    let basic = col
        .read_json(ColJson::Models)
        .unwrap()
        .values()
        .find(|m| m["name"] == "Basic")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    start(&col, "k", &start_req(0, false)).unwrap();
    apply_chunk(&col, "k", &client_rows(9_000, basic, 1, "x\u{1f}extra")).unwrap();
    let err = finish(&col, "k", T0_MS).unwrap_err();
    assert!(err.to_string().contains("expected 2"), "{err}");
}

#[test]
fn a_web_write_during_a_sync_reaches_the_device_next_time() {
    let col = server();
    start(&col, "a", &start_req(0, false)).unwrap();
    all_chunks(&col, "a");
    // The web adds a card after the chunks went out.
    let added = col.add_card("late", "web", None).unwrap();
    finish(&col, "a", T0_MS + 1_000).unwrap();
    assert_eq!(
        one(
            &col,
            &format!("SELECT usn FROM notes WHERE id = {}", added.note_id)
        ),
        1,
        "stamped with the next usn"
    );
    start(&col, "b", &start_req(1, false)).unwrap();
    let rows = all_chunks(&col, "b");
    assert_eq!(rows.notes.len(), 1);
    assert_eq!(rows.notes[0][0], json!(added.note_id));
}

#[test]
fn the_client_s_config_replaces_ours_but_not_the_server_s_own_keys() {
    let col = server();
    let mut conf = col.read_json(ColJson::Conf).unwrap();
    conf.insert("javumboStudyQueue".into(), json!({"x": 1}));
    col.write_json(ColJson::Conf, &conf).unwrap();
    start(&col, "k", &start_req(0, true)).unwrap();
    let mut theirs = serde_json::Map::new();
    theirs.insert("curDeck".into(), json!(1));
    theirs.insert("javumboStudyQueue".into(), json!("stale"));
    let answer = apply_changes(
        &col,
        "k",
        &UnchunkedChanges {
            config: Some(theirs),
            creation_stamp: Some(77),
            ..UnchunkedChanges::default()
        },
    )
    .unwrap();
    assert!(answer.config.is_none(), "the client is newer");
    finish(&col, "k", T0_MS + 1_000).unwrap();
    let conf = col.read_json(ColJson::Conf).unwrap();
    assert_eq!(conf.len(), 2);
    assert_eq!(conf["javumboStudyQueue"], json!({"x": 1}));
    assert_eq!(one(&col, "SELECT crt FROM col"), 77);
}

#[test]
fn the_sanity_check_writes_nothing() {
    let col = server();
    let mid = some_note_type(&col);
    start(&col, "k", &start_req(0, true)).unwrap();
    apply_chunk(&col, "k", &client_rows(5_000, mid, 100, "new")).unwrap();
    apply_graves(
        &col,
        "k",
        &Graves {
            notes: vec![one(&col, "SELECT id FROM notes LIMIT 1")],
            ..Graves::default()
        },
    )
    .unwrap();
    let conn = col.conn();
    conn.execute_batch("BEGIN").unwrap();
    let mut session = rusqlite::session::Session::new(conn).unwrap();
    session.attach::<&str>(None).unwrap();
    sanity_check(&col, "k", &json!([])).unwrap();
    let mut out = Vec::new();
    session.changeset_strm(&mut out).unwrap();
    assert!(out.is_empty(), "{} bytes of changes", out.len());
    drop(session);
    conn.execute_batch("COMMIT").unwrap();
}

#[test]
fn what_the_client_deleted_is_not_sent_back() {
    let col = server();
    start(&col, "a", &start_req(0, false)).unwrap();
    finish(&col, "a", T0_MS + 1_000).unwrap();
    // The web changes a note and its card after that sync; the device deletes both.
    let nid = one(&col, "SELECT id FROM notes ORDER BY id LIMIT 1");
    let cid = one(&col, &format!("SELECT id FROM cards WHERE nid = {nid}"));
    col.conn()
        .execute(
            "UPDATE notes SET mod = mod + 5, usn = -1 WHERE id = ?1",
            [nid],
        )
        .unwrap();
    col.conn()
        .execute(
            "UPDATE cards SET mod = mod + 5, usn = -1 WHERE id = ?1",
            [cid],
        )
        .unwrap();
    start(&col, "b", &start_req(1, false)).unwrap();
    apply_graves(
        &col,
        "b",
        &Graves {
            cards: vec![cid],
            notes: vec![nid],
            decks: vec![],
        },
    )
    .unwrap();
    let rows = all_chunks(&col, "b");
    assert!(rows.notes.is_empty() && rows.cards.is_empty(), "{rows:?}");
}

#[test]
fn a_deck_or_note_type_arriving_under_a_taken_name_gets_a_plus() {
    let col = server();
    let models = col.read_json(ColJson::Models).unwrap();
    let mut nt = models
        .values()
        .find(|m| m["name"] == "Basic")
        .unwrap()
        .clone();
    nt["id"] = json!(777);
    let decks = col.read_json(ColJson::Decks).unwrap();
    let mut deck = decks.values().next().unwrap().clone();
    let name = deck["name"].as_str().unwrap().to_uppercase();
    deck["id"] = json!(888);
    deck["name"] = json!(name);
    start(&col, "k", &start_req(0, false)).unwrap();
    apply_changes(
        &col,
        "k",
        &UnchunkedChanges {
            notetypes: vec![nt],
            decks_and_config: (vec![deck], vec![]),
            ..UnchunkedChanges::default()
        },
    )
    .unwrap();
    finish(&col, "k", T0_MS + 1_000).unwrap();
    assert_eq!(
        col.read_json(ColJson::Models).unwrap()["777"]["name"],
        "Basic+"
    );
    assert_eq!(
        col.read_json(ColJson::Decks).unwrap()["888"]["name"],
        json!(format!("{name}+"))
    );
}

#[test]
fn a_sync_start_unburies_yesterday_s_buried_cards() {
    let col = server();
    let cid = one(&col, "SELECT id FROM cards ORDER BY id LIMIT 1");
    col.conn()
        .execute("UPDATE cards SET queue = -3 WHERE id = ?1", [cid])
        .unwrap();
    let mut conf = col.read_json(ColJson::Conf).unwrap();
    conf.insert("lastUnburied".into(), json!(-5));
    col.write_json(ColJson::Conf, &conf).unwrap();
    start(&col, "k", &start_req(0, false)).unwrap();
    assert_eq!(
        one(&col, &format!("SELECT queue FROM cards WHERE id = {cid}")),
        0
    );
}

/// Answers given on the web reach the device with the deck's counters of today (Anki's server
/// holds them in the deck, which its answers modify), so the device does not offer again the
/// new cards studied here; once the device has them, they are not sent again. The deck is
/// stored as sent, so a copy of it from the device merges here as on the device: the newer
/// `mod` wins on both sides.
#[test]
fn decks_studied_here_carry_today_s_counters_to_the_device() {
    let clock = ManualClock::new(T0_MS);
    let opts = CreateOptions {
        starter_deck: true,
        ..CreateOptions::default()
    };
    let col = Collection::create_in_memory(clock.clone(), &opts).unwrap();
    let sync_once = |skey: &str, client_usn: i32, client_decks: Vec<Value>| {
        sync_decks(&col, skey, client_usn, client_decks, clock.now_ms())
    };
    let usn_now = || one(&col, "SELECT usn FROM col") as i32;
    let deck = col.current_deck_id().unwrap();
    let stored = || col.read_json(ColJson::Decks).unwrap()[&deck.to_string()].clone();
    sync_once("k", 0, Vec::new());

    clock.advance_ms(100_000);
    let answered_at = clock.now_secs();
    for _ in 0..2 {
        let Study::Card(c) = col.next_card().unwrap() else {
            panic!("the starter deck has new cards")
        };
        col.answer_card(c.card_id, 4, None).unwrap();
    }
    let today = col.timing().unwrap().days_elapsed;
    // The device renamed the deck before those answers: the studied deck is newer.
    let mut renamed = stored();
    renamed["name"] = json!("Renamed on the device");
    renamed["mod"] = json!(answered_at - 50);
    clock.advance_ms(1_000);
    let decks = sync_once("k2", usn_now(), vec![renamed.clone()]);
    let sent = decks
        .iter()
        .find(|d| d["id"].as_i64() == Some(deck))
        .expect("the studied deck is sent");
    assert_eq!(sent["newToday"], json!([today, 2]));
    assert_eq!(sent["revToday"], json!([today, 0]));
    assert_eq!(sent["mod"], json!(answered_at));
    let kept = stored();
    assert_eq!(kept["name"], sent["name"], "both sides keep the newer deck");
    assert_eq!(kept["newToday"], json!([today, 2]));

    assert!(
        sync_once("k3", usn_now(), Vec::new()).is_empty(),
        "nothing new studied: no deck to send"
    );

    // A deck the device changed after the answers wins here too.
    clock.advance_ms(10_000);
    let Study::Card(c) = col.next_card().unwrap() else {
        panic!("new cards left")
    };
    col.answer_card(c.card_id, 4, None).unwrap();
    renamed["mod"] = json!(clock.now_secs() + 5);
    clock.advance_ms(1_000);
    sync_once("k4", usn_now(), vec![renamed]);
    assert_eq!(stored()["name"], json!("Renamed on the device"));
}

/// A device's custom study "increase today's limit" (its deck's counters of today lowered)
/// holds here once the deck is merged, as Anki holds it: the counters plus the answers given
/// since. What goes back to the device is today's counts, never javumbo's own mark.
#[test]
fn a_device_s_extended_limit_holds_here_and_goes_back_counted() {
    let clock = ManualClock::new(T0_MS);
    let opts = CreateOptions {
        starter_deck: false,
        ..CreateOptions::default()
    };
    let col = Collection::create_in_memory(clock.clone(), &opts).unwrap();
    let deck = col.create_deck("Lang").unwrap().id;
    for i in 0..40 {
        col.add_card(&format!("q{i}"), "a", Some(deck)).unwrap();
    }
    col.set_current_deck(deck).unwrap();
    let sync_once = |skey: &str, client_usn: i32, client_decks: Vec<Value>| {
        sync_decks(&col, skey, client_usn, client_decks, clock.now_ms())
    };
    let usn_now = || one(&col, "SELECT usn FROM col") as i32;
    let stored = || col.read_json(ColJson::Decks).unwrap()[&deck.to_string()].clone();
    let answer_one = || {
        clock.advance_ms(10_000);
        let Study::Card(c) = col.next_card().unwrap() else {
            panic!("new cards left")
        };
        col.answer_card(c.card_id, 4, None).unwrap();
    };
    sync_once("k", 0, Vec::new());
    clock.advance_ms(100_000);
    for _ in 0..3 {
        answer_one();
    }
    assert_eq!(col.due_counts(deck).unwrap().new, 17);

    // The device studied the same 3 (synced before) and 2 more, then extended by 10.
    let today = col.timing().unwrap().days_elapsed;
    let mut theirs = stored();
    theirs["newToday"] = json!([today, 5 - 10]);
    theirs["mod"] = json!(clock.now_secs() + 5);
    clock.advance_ms(6_000);
    sync_once("k2", usn_now(), vec![theirs]);
    assert_eq!(col.due_counts(deck).unwrap().new, 25, "20 + 10 - 5");
    answer_one();
    assert_eq!(col.due_counts(deck).unwrap().new, 24);

    clock.advance_ms(1_000);
    let sent = sync_once("k3", usn_now(), Vec::new());
    let sent = sent
        .iter()
        .find(|d| d["id"].as_i64() == Some(deck))
        .expect("the studied deck is sent");
    assert_eq!(sent["newToday"], json!([today, -4]));
    assert_eq!(
        col.due_counts(deck).unwrap().new,
        24,
        "the sync changed nothing here"
    );
}
