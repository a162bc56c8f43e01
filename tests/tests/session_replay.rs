//! Replay equivalence (DESIGN invariant 3): after random engine operations through
//! `SessionManager::with_collection`, (a) the snapshot plus the journal replayed into a fresh
//! file and (b) the snapshot written by a flush both equal the owner's database row for row.

use std::sync::Arc;

use javumbo_collection::{Collection, CollectionError, CreateOptions, ManualClock, SharedClock};
use javumbo_session::memory::MemoryBackend;
use javumbo_session::{Metrics, SessionConfig, SessionManager, Username, journal, snapshot_key};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    AddCard(u8),
    Answer(u8, u8),
    Edit(u8, u8),
    DeleteCard(u8),
    CreateDeck(u8),
    RenameDeck(u8, u8),
    DeleteDeck(u8),
    SetCurrent(u8),
    NextCard,
    Advance(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u8>().prop_map(Op::AddCard),
        4 => (any::<u8>(), 1..=4u8).prop_map(|(c, e)| Op::Answer(c, e)),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(c, v)| Op::Edit(c, v)),
        1 => any::<u8>().prop_map(Op::DeleteCard),
        1 => any::<u8>().prop_map(Op::CreateDeck),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(d, v)| Op::RenameDeck(d, v)),
        1 => any::<u8>().prop_map(Op::DeleteDeck),
        1 => any::<u8>().prop_map(Op::SetCurrent),
        1 => Just(Op::NextCard),
        1 => (1..3000u16).prop_map(Op::Advance),
    ]
}

fn pick(ids: &[i64], i: u8) -> Option<i64> {
    (!ids.is_empty()).then(|| ids[i as usize % ids.len()])
}

fn ids(c: &Collection, sql: &str) -> Result<Vec<i64>, CollectionError> {
    let mut st = c.conn().prepare(sql)?;
    let rows = st.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Run one op; client errors (unknown ids, duplicate names...) are part of the game.
fn run(c: &Collection, op: &Op) -> Result<(), CollectionError> {
    let cards = ids(c, "SELECT id FROM cards ORDER BY id")?;
    let decks: Vec<i64> = c.decks()?.into_iter().map(|d| d.id).collect();
    match *op {
        Op::AddCard(n) => {
            let deck = pick(&decks, n).filter(|_| n % 3 == 0);
            c.add_card(&format!("front {n}"), &format!("back {n}"), deck)?;
        }
        Op::Answer(i, ease) => {
            if let Some(id) = pick(&cards, i) {
                c.answer_card(id, i64::from(ease), Some(3000))?;
            }
        }
        Op::Edit(i, v) => {
            if let Some(id) = pick(&cards, i) {
                c.update_card(id, &format!("edited {v}"), &format!("b{v}"))?;
            }
        }
        Op::DeleteCard(i) => {
            if let Some(id) = pick(&cards, i) {
                c.delete_card(id)?;
            }
        }
        Op::CreateDeck(n) => {
            c.create_deck(&format!("deck {n}"))?;
        }
        Op::RenameDeck(d, v) => {
            if let Some(id) = pick(&decks, d) {
                c.rename_deck(id, &format!("renamed {v}"))?;
            }
        }
        Op::DeleteDeck(d) => {
            if let Some(id) = pick(&decks, d) {
                c.delete_deck(id)?;
            }
        }
        Op::SetCurrent(d) => {
            if let Some(id) = pick(&decks, d) {
                c.set_current_deck(id)?;
            }
        }
        Op::NextCard => {
            c.next_card()?;
        }
        Op::Advance(_) => {}
    }
    Ok(())
}

/// Every table, every row, in a canonical order (sorted: not every private table is a rowid
/// table, and a replay inserts in changeset order).
fn dump(conn: &rusqlite::Connection) -> Vec<String> {
    let tables = {
        let mut st = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        st.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    };
    let mut out = Vec::new();
    for t in tables {
        let mut st = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                let vals: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect();
                Ok(format!("{t}: {}", vals.join(" | ")))
            })
            .unwrap();
        let mut rows: Vec<String> = rows.map(Result::unwrap).collect();
        rows.sort();
        out.extend(rows);
    }
    out
}

fn dump_bytes(bytes: &[u8], replay: &[(javumbo_session::JournalEntry, Vec<u8>)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.anki2");
    std::fs::write(&path, bytes).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    journal::replay(&conn, replay).unwrap();
    dump(&conn)
}

fn check(ops: Vec<Op>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let backend = MemoryBackend::new();
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(1_700_000_000_000);
        let shared: SharedClock = clock.clone();
        let metrics = Arc::new(Metrics::default());
        let ports = backend.ports(metrics.clone());
        let mut cfg = SessionConfig::new("owner", dir.path().join("cache"));
        cfg.run_inline = true;
        let mgr = SessionManager::new(cfg, ports.clone(), shared, metrics);
        let user = Username::parse("prop").unwrap();
        mgr.create_collection(&user).await.unwrap();

        let mut session_id = String::new();
        for op in ops {
            if let Op::Advance(s) = op {
                clock.advance_ms(i64::from(s) * 1000);
            }
            clock.advance_ms(1);
            match mgr.with_collection(&user, move |c| run(c, &op)).await {
                Ok(s) => session_id = s.session_id,
                Err(f) => match f.error {
                    javumbo_session::RequestError::Op(e) if e.is_client_error() => {}
                    e => panic!("unexpected failure: {e}"),
                },
            }
        }
        let owner = mgr
            .with_collection(&user, |c| Ok::<_, CollectionError>(dump(c.conn())))
            .await
            .unwrap()
            .value;

        // (a) snapshot + journal, replayed elsewhere.
        let item = backend.session_item(&user).unwrap();
        let snap = backend.blob(&snapshot_key(&user)).unwrap();
        let entries = ports.sessions.journal(&user, 0, item.seq).await.unwrap();
        assert_eq!(entries.len() as u64, item.seq);
        let mut raw = Vec::new();
        for e in entries {
            let cs = journal::fetch_changeset(&ports, &e).await.unwrap();
            raw.push((e, cs));
        }
        assert_eq!(
            dump_bytes(&snap.bytes, &raw),
            owner,
            "snapshot + journal replay"
        );

        // (b) the snapshot a flush leaves behind.
        if !session_id.is_empty() {
            mgr.flush(&user, &session_id).await.unwrap();
            let snap = backend.blob(&snapshot_key(&user)).unwrap();
            assert_eq!(snap.metadata.get("seq"), Some(&item.seq.to_string()));
            assert_eq!(dump_bytes(&snap.bytes, &[]), owner, "flushed snapshot");
            // Folded entries may stay for catch-ups, never more than JOURNAL_KEEP of them and
            // never one the snapshot does not cover.
            let kept = backend.journal_seqs(&user);
            assert!(kept.iter().all(|s| *s <= item.seq), "{kept:?}");
            assert!(kept.len() as u64 <= javumbo_session::flush::JOURNAL_KEEP);
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn snapshot_plus_journal_equals_the_owner(ops in prop::collection::vec(op(), 1..30)) {
        check(ops);
    }
}

#[test]
fn a_fixed_mixed_workload_replays() {
    let _ = CreateOptions::default();
    check(vec![
        Op::AddCard(1),
        Op::AddCard(2),
        Op::CreateDeck(5),
        Op::AddCard(3),
        Op::NextCard,
        Op::Answer(0, 3),
        Op::Answer(1, 1),
        Op::Edit(2, 9),
        Op::RenameDeck(1, 4),
        Op::Advance(2000),
        Op::Answer(1, 4),
        Op::DeleteCard(0),
        Op::DeleteDeck(1),
    ]);
}
