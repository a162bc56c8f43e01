//! Several OS processes share one data directory (as `javumbo-local --isolate processes`
//! does), racing conditional blob puts and fenced journal commits while some are SIGKILLed.
//! Afterwards: every race has exactly one winner, the journal is gap-free, and every commit a
//! worker acknowledged is in it exactly once.
//!
//! The test binary re-executes itself: with `JAVUMBO_MP_WORKER` set it is a worker that prints
//! one line per acknowledged outcome (`println!` flushes per line, so a printed line survives
//! a later SIGKILL).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use javumbo_session::{
    BlobStore, Fence, JournalEntry, JournalPayload, Metrics, PutCondition, SessionExpect,
    SessionItem, SessionStatus, SessionStore, StoreError, Username,
};
use javumbo_storage_local::{DirBlobStore, SqliteStore};
use rand::{Rng, SeedableRng};

const WORKERS: usize = 4;
const KILLED: usize = 2;
const ROUNDS: usize = 12;
const RUN_MS: u64 = 2_500;
const USER: &str = "mpuser";

fn main() {
    match std::env::var("JAVUMBO_MP_WORKER") {
        Ok(id) => worker(id.parse().expect("worker id")),
        Err(_) => {
            parent();
            println!("multiprocess: ok");
        }
    }
}

fn stores(dir: &Path) -> (DirBlobStore, SqliteStore) {
    let metrics = Arc::new(Metrics::default());
    (
        DirBlobStore::open(dir.join("blobs"), Arc::clone(&metrics)).expect("open blobs"),
        SqliteStore::open(dir.join("store.sqlite3"), metrics).expect("open sqlite"),
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

fn absent_key(round: usize) -> String {
    format!("race/absent/{round}")
}

fn match_key(round: usize) -> String {
    format!("race/match/{round}")
}

fn worker(id: usize) {
    let dir = PathBuf::from(std::env::var("JAVUMBO_MP_DIR").expect("dir"));
    let start: u64 = std::env::var("JAVUMBO_MP_START")
        .expect("start")
        .parse()
        .expect("start ms");
    let etags: Vec<String> = std::env::var("JAVUMBO_MP_ETAGS")
        .expect("etags")
        .split(',')
        .map(str::to_owned)
        .collect();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let (blobs, sessions) = stores(&dir);
        let me = format!("w{id}");
        // Line up with the other workers so the first races really overlap.
        std::thread::sleep(Duration::from_millis(start.saturating_sub(now_ms())));

        for (round, base) in etags.iter().enumerate() {
            let body = Bytes::from(me.clone());
            match blobs
                .put(
                    &absent_key(round),
                    body.clone(),
                    BTreeMap::new(),
                    PutCondition::IfAbsent,
                )
                .await
            {
                Ok(_) => println!("ABSENT_WIN {round} {id}"),
                Err(StoreError::ConditionFailed) => println!("ABSENT_LOSE {round} {id}"),
                Err(e) => panic!("absent race: {e}"),
            }
            match blobs
                .put(
                    &match_key(round),
                    body,
                    BTreeMap::new(),
                    PutCondition::IfMatch(base.clone()),
                )
                .await
            {
                Ok(_) => println!("MATCH_WIN {round} {id}"),
                Err(StoreError::ConditionFailed) => println!("MATCH_LOSE {round} {id}"),
                Err(e) => panic!("match race: {e}"),
            }
        }

        let user = Username::parse(USER).expect("username");
        let deadline = start + RUN_MS;
        let mut n = 0u64;
        while now_ms() < deadline {
            let cur = sessions
                .get(&user)
                .await
                .expect("get")
                .expect("session item exists");
            let mut held = cur.clone();
            if cur.owner.as_deref() != Some(me.as_str()) || cur.status != SessionStatus::Active {
                // Take over, as a container finding the session held elsewhere would.
                held = SessionItem {
                    owner: Some(me.clone()),
                    epoch: cur.epoch + 1,
                    status: SessionStatus::Active,
                    session_id: format!("{me}-{n}"),
                    ..cur.clone()
                };
                match sessions.put(&held, SessionExpect::matching(&cur)).await {
                    Ok(()) => {}
                    Err(StoreError::ConditionFailed) => continue,
                    Err(e) => panic!("takeover: {e}"),
                }
            }
            let mut seq = held.seq;
            for _ in 0..5 {
                n += 1;
                let request_id = format!("{me}-{n}");
                let entry = JournalEntry {
                    seq: seq + 1,
                    payload: JournalPayload::Inline(Bytes::from(request_id.clone())),
                    request_id: request_id.clone(),
                    at_ms: now_ms() as i64,
                    schema_fingerprint: "fp".into(),
                };
                let fence = Fence {
                    owner: me.clone(),
                    epoch: held.epoch,
                    seq,
                };
                match sessions.commit(&user, &fence, &entry, 0, 0).await {
                    Ok(()) => {
                        seq += 1;
                        println!("ACK {request_id} {seq}");
                    }
                    Err(StoreError::ConditionFailed) => break,
                    Err(e) => panic!("commit: {e}"),
                }
            }
        }
        println!("DONE {id}");
    });
}

struct Outcome {
    lines: Vec<String>,
    killed: bool,
}

fn parent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let user = Username::parse(USER).expect("username");
    let etags: Vec<String> = rt.block_on(async {
        let (blobs, sessions) = stores(dir.path());
        let item = SessionItem {
            username: user.clone(),
            session_id: "initial".into(),
            owner: None,
            epoch: 0,
            status: SessionStatus::Flushed,
            seq: 0,
            snapshot_seq: 0,
            requested_by: None,
            last_access: 0,
            expires_at: 0,
        };
        sessions
            .put(&item, SessionExpect::Absent)
            .await
            .expect("seed session");
        let mut etags = Vec::new();
        for round in 0..ROUNDS {
            let base = Bytes::from_static(b"base");
            etags.push(
                blobs
                    .put(&match_key(round), base, BTreeMap::new(), PutCondition::Any)
                    .await
                    .expect("seed blob"),
            );
        }
        etags
    });

    let seed = now_ms();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let start = now_ms() + 300;
    let exe = std::env::current_exe().expect("current exe");
    let mut children: Vec<_> = (0..WORKERS)
        .map(|id| {
            Command::new(&exe)
                .env("JAVUMBO_MP_WORKER", id.to_string())
                .env("JAVUMBO_MP_DIR", dir.path())
                .env("JAVUMBO_MP_START", start.to_string())
                .env("JAVUMBO_MP_ETAGS", etags.join(","))
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn worker")
        })
        .collect();
    let readers: Vec<_> = children
        .iter_mut()
        .map(|c| {
            let out = c.stdout.take().expect("piped stdout");
            std::thread::spawn(move || {
                BufReader::new(out)
                    .lines()
                    .map_while(Result::ok)
                    .collect::<Vec<_>>()
            })
        })
        .collect();

    // SIGKILL some workers at random moments: during the blob races or mid-commit.
    let mut victims: Vec<(u64, usize)> = Vec::new();
    let mut ids: Vec<usize> = (0..WORKERS).collect();
    for k in 0..KILLED {
        let victim = ids.swap_remove(rng.random_range(0..ids.len()));
        // The blob races take tens of milliseconds: aim the first kill at them.
        let window = if k == 0 { 80 } else { RUN_MS };
        victims.push((start + rng.random_range(0..window), victim));
    }
    victims.sort_unstable();
    eprintln!(
        "multiprocess: seed {seed}, kills (at ms after start, worker): {:?}",
        victims
            .iter()
            .map(|(t, v)| (t - start, *v))
            .collect::<Vec<_>>()
    );
    for (at, victim) in &victims {
        std::thread::sleep(Duration::from_millis(at.saturating_sub(now_ms())));
        children[*victim].kill().expect("SIGKILL");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut outcomes = Vec::new();
    for (id, (mut child, reader)) in children.into_iter().zip(readers).enumerate() {
        let status = child.wait().expect("wait");
        assert!(Instant::now() < deadline, "workers took too long");
        let killed = victims.iter().any(|(_, v)| *v == id);
        let lines = reader.join().expect("reader thread");
        if !killed {
            assert!(status.success(), "worker {id} failed: {status}");
            assert_eq!(
                lines.last().map(String::as_str),
                Some(format!("DONE {id}").as_str())
            );
        }
        outcomes.push(Outcome { lines, killed });
    }

    rt.block_on(verify(dir.path(), &user, &outcomes));
}

async fn verify(dir: &Path, user: &Username, outcomes: &[Outcome]) {
    let (blobs, sessions) = stores(dir);
    // Workers that printed `<tag> <round> <id>`.
    let printed = |tag: &str, round: usize| -> Vec<usize> {
        (0..outcomes.len())
            .filter(|id| outcomes[*id].lines.contains(&format!("{tag} {round} {id}")))
            .collect()
    };

    for round in 0..ROUNDS {
        for (key, win, lose) in [
            (absent_key(round), "ABSENT_WIN", "ABSENT_LOSE"),
            (match_key(round), "MATCH_WIN", "MATCH_LOSE"),
        ] {
            let blob = blobs
                .get(&key)
                .await
                .expect("get")
                .expect("some survivor raced, so the key exists");
            let content = String::from_utf8(blob.bytes.to_vec()).expect("utf8");
            let owner: usize = content
                .strip_prefix('w')
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{key}: nobody won the race, content {content:?}"));
            let winners = printed(win, round);
            assert!(winners.len() <= 1, "{key}: several winners {winners:?}");
            assert!(
                winners.iter().all(|w| *w == owner),
                "{key}: winner {winners:?} but content from w{owner}"
            );
            for id in (0..outcomes.len()).filter(|id| !outcomes[*id].killed) {
                let won = winners.contains(&id);
                assert!(
                    won || printed(lose, round).contains(&id),
                    "{key}: survivor {id} reported nothing"
                );
                assert_eq!(
                    won,
                    id == owner,
                    "{key}: survivor {id} disagrees with the stored winner w{owner}"
                );
            }
        }
    }

    let item = sessions.get(user).await.expect("get").expect("item");
    let journal = sessions.journal(user, 0, u64::MAX).await.expect("journal");
    let seqs: Vec<u64> = journal.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=item.seq).collect::<Vec<_>>(),
        "journal must be exactly 1..=item.seq"
    );
    let by_request: HashMap<&str, &JournalEntry> =
        journal.iter().map(|e| (e.request_id.as_str(), e)).collect();
    assert_eq!(
        by_request.len(),
        journal.len(),
        "a request id appears twice in the journal"
    );

    let mut acked = BTreeSet::new();
    for o in outcomes {
        for line in o.lines.iter().filter_map(|l| l.strip_prefix("ACK ")) {
            let (rid, seq) = line.split_once(' ').expect("ACK line");
            let seq: u64 = seq.parse().expect("seq");
            let entry = by_request
                .get(rid)
                .unwrap_or_else(|| panic!("acknowledged commit {rid} is missing"));
            assert_eq!(entry.seq, seq, "{rid} acknowledged at another seq");
            assert_eq!(
                entry.payload,
                JournalPayload::Inline(Bytes::from(rid.to_owned()))
            );
            assert!(acked.insert(rid.to_owned()), "{rid} acknowledged twice");
        }
    }
    // Unacknowledged entries can only come from a worker killed between commit and print.
    for e in &journal {
        if !acked.contains(&e.request_id) {
            let worker: usize = e.request_id[1..]
                .split('-')
                .next()
                .and_then(|s| s.parse().ok())
                .expect("rid");
            assert!(
                outcomes[worker].killed,
                "surviving worker {worker} did not acknowledge {}",
                e.request_id
            );
        }
    }
    assert!(
        acked.len() > 20,
        "too little progress to mean anything: {} commits",
        acked.len()
    );

    let conn = rusqlite::Connection::open(dir.join("store.sqlite3")).expect("open");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
    eprintln!(
        "multiprocess: {} journal entries ({} acknowledged), final epoch {}, {} rounds x 2 blob races",
        journal.len(),
        acked.len(),
        item.epoch,
        ROUNDS
    );
}
