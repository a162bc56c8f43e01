//! A fixture generator for the original Python app's two deployments, written from what they
//! stored (the monolith's `admin.db` + `user_dbs/user_<id>.db`; the serverless table items and
//! `user_dbs/<username>.anki2` objects): every collection variant they produced, realistic
//! review histories written by their own (non-Anki) scheduler, Unicode usernames and a pair
//! that differs only by case.

use std::path::Path;

use rusqlite::{Connection, params};
use serde_json::{Value, json};

/// The original app's note type id.
pub const GEMINI_MID: i64 = 1_700_000_000_001;

/// Which of the variants a user's collection was created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Full `conf` without schedVer/sched2021, the Basic-Gemini note type, two decks
    /// (`conf: 1`, `lrnToday` etc.), the one partial option group, `usn` -1.
    Full,
    /// `conf` = `{"curDeck": 1}`, `models` = `{}` (the notes' type is missing), `{"1": "Verbal
    /// Tenses"}` as a bare name, `dconf` = `{}`, `usn` 0.
    Bare,
    /// Only `{"1": {"id":1,"name":"Default"}}`, and `notes.mid` declared and stored as text.
    TextMid,
}

/// One account of the original app.
#[derive(Debug, Clone)]
pub struct OriginalUser {
    /// As stored (already stripped by the original app; maybe not NFC).
    pub username: &'static str,
    pub name: &'static str,
    pub password: &'static str,
    pub variant: Variant,
    /// Notes in the collection (each with one card).
    pub notes: usize,
    /// Answers in the review history.
    pub reviews: usize,
}

/// The users every migration test brings across.
pub fn users() -> Vec<OriginalUser> {
    let u = |username, name, password, variant, notes, reviews| OriginalUser {
        username,
        name,
        password,
        variant,
        notes,
        reviews,
    };
    vec![
        u(
            "Ana Paula",
            "Ana Paula Souza",
            "senha-da-ana1",
            Variant::Full,
            24,
            120,
        ),
        u(
            "João Vitor",
            "João Vitor Lima",
            "joao-vitor-22",
            Variant::Bare,
            12,
            40,
        ),
        u(
            "Isaque S.",
            "Isaque Santos",
            "isaque.santos",
            Variant::TextMid,
            8,
            25,
        ),
        u(
            "Ph.silvazx",
            "Pedro Henrique",
            "ph-silva-2024",
            Variant::Full,
            15,
            60,
        ),
        u(
            "Aghnes",
            "Aghnes Maria",
            "Aghnes-upper1",
            Variant::Full,
            10,
            30,
        ),
        u(
            "aghnes",
            "aghnes costa",
            "aghnes-lower2",
            Variant::Bare,
            5,
            12,
        ),
        // Stored decomposed (NFD), as a client on macOS could have sent it.
        u(
            "E\u{301}dina",
            "Édina Reis",
            "edina-reis-9",
            Variant::TextMid,
            6,
            18,
        ),
        u("mp3.zia", "Zia", "mp3.zia.pass", Variant::Full, 0, 0),
        u(
            "Caíque",
            "Caíque Alves",
            "caique-alves7",
            Variant::Full,
            40,
            300,
        ),
    ]
}

/// A small deterministic generator (no `rand` dependency in fixtures).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n.max(1)) as i64
    }
}

const WORDS: [(&str, &str); 8] = [
    ("Eu <b>falo</b> português", "I <b>speak</b> Portuguese"),
    ("Ela tinha comido", "She had eaten"),
    ("Nós íamos à praia", "We used to go to the beach"),
    ("Você terá terminado", "You will have finished"),
    ("Eles haviam saído", "They had left"),
    ("Se eu fosse você…", "If I were you…"),
    ("Coração & ação", "Heart &amp; action"),
    ("Pão de açúcar", "Sugarloaf"),
];

/// Write one user's collection to `path` in the original app's shape.
pub fn write_collection(path: &Path, user: &OriginalUser, registered_ms: i64) {
    let conn = Connection::open(path).unwrap();
    let mut ddl = javumbo_collection::schema::DDL.to_owned();
    if user.variant == Variant::TextMid {
        ddl = ddl.replace("mid integer NOT NULL", "mid text NOT NULL");
    }
    conn.execute_batch(&ddl).unwrap();
    let crt = registered_ms / 1000; // the creation instant, not a rollover hour
    let full_conf = json!({"nextPos":1,"estTimes":true,"activeDecks":[1],"sortType":"noteFld",
        "timeLim":0,"sortBackwards":false,"addToCur":true,"curDeck":1,"newBury":true,
        "newSpread":0,"dueCounts":true,"curModel":"1","collapseTime":1200});
    let deck = |id: i64, name: &str| {
        json!({"id": id, "name": name, "conf": 1, "mod": crt, "usn": -1, "desc": "",
               "dyn": 0, "collapsed": false, "lrnToday": [0, 0], "revToday": [0, 0],
               "newToday": [0, 0], "timeToday": [0, 0]})
    };
    let gemini = json!({ GEMINI_MID.to_string(): {
        "id": GEMINI_MID, "name": "Basic-Gemini", "type": 0, "mod": crt, "usn": -1,
        "sortf": 0, "did": 1, "latexsvg": false, "ver": [],
        "flds": [{"name": "Front", "ord": 0}, {"name": "Back", "ord": 1}],
        "tmpls": [{"name": "Card 1", "ord": 0, "qfmt": "{{Front}}",
                   "afmt": "{{FrontSide}}\n\n<hr id=answer>\n\n{{Back}}"}],
        "css": ".card { font-family: arial; }"
    }});
    let partial_dconf = json!({"1": {"id": 1, "name": "Default", "maxTaken": 60,
        "new": {"bury": true, "delays": [1, 10], "initialFactor": 2500, "ints": [1, 4, 0],
                "order": 1, "perDay": 25, "separate": true},
        "rev": {"bury": true, "ease4": 1.3, "fuzz": 0.05, "ivlFct": 1, "maxIvl": 36500,
                "perDay": 100, "hardFactor": 1.2},
        "lapse": {"delays": [10], "leechAction": 1, "leechFails": 8, "minInt": 1, "mult": 0}}});
    let (conf, models, decks, dconf, usn): (Value, Value, Value, Value, i64) = match user.variant {
        Variant::Full => (
            full_conf,
            gemini,
            json!({"1": deck(1, "MyFirstDeck"), "2": deck(2, "Verbal Tenses")}),
            partial_dconf,
            -1,
        ),
        Variant::Bare => (
            json!({"curDeck": 1}),
            json!({}),
            json!({"1": "Verbal Tenses"}),
            json!({}),
            0,
        ),
        Variant::TextMid => (
            full_conf,
            gemini,
            json!({"1": {"id": 1, "name": "Default"}}),
            partial_dconf,
            -1,
        ),
    };
    conn.execute(
        "INSERT INTO col VALUES (1, ?1, ?2, ?2, 11, 0, ?3, 0, ?4, ?5, ?6, ?7, '{}')",
        params![
            crt,
            registered_ms,
            usn,
            conf.to_string(),
            models.to_string(),
            decks.to_string(),
            dconf.to_string()
        ],
    )
    .unwrap();

    let mut rng = Lcg(registered_ms as u64);
    let now_days = 120; // the history spans the collection's first 120 days
    let deck_ids: &[i64] = if user.variant == Variant::Full {
        &[1, 2]
    } else {
        &[1]
    };
    let mut cards = Vec::new();
    for i in 0..user.notes {
        let id = registered_ms + 10 + i as i64; // the starter deck: registration ms + offset
        let (front, back) = WORDS[i % WORDS.len()];
        let front = format!("{front} #{i}");
        let mid: rusqlite::types::Value = if user.variant == Variant::TextMid {
            rusqlite::types::Value::Text(GEMINI_MID.to_string())
        } else {
            rusqlite::types::Value::Integer(GEMINI_MID)
        };
        conn.execute(
            "INSERT INTO notes VALUES (?1, ?2, ?3, ?4, ?5, '', ?6, ?7, 0, 0, '')",
            params![
                id,
                format!("g{id}"),
                mid,
                crt + i as i64,
                usn,
                format!("{front}\x1f{back}"),
                front
            ],
        )
        .unwrap();
        let did = deck_ids[i % deck_ids.len()];
        // The old scheduler's states: reviews due by day number relative to crt, learning
        // cards with a `left` Anki does not encode that way, eases below SM-2's floor.
        let (ctype, queue, due, ivl, factor, left) = match i % 6 {
            0 | 1 => (0, 0, i as i64 + 1, 0, 0, 0),
            2 => (
                2,
                2,
                now_days + rng.next(20) - 5,
                1 + rng.next(30),
                1100 + rng.next(2000),
                0,
            ),
            3 => (1, 1, now_days, 0, 2500, 7), // a day number where Anki wants a timestamp
            4 => (2, 2, now_days + 3, 0, 0, 0), // interval 0, no ease
            _ => (3, 3, now_days - 1, 2, 1800, 0), // relearning with no steps left
        };
        conn.execute(
            "INSERT INTO cards VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0, 0, 0, '')",
            params![
                id + 1000,
                id,
                did,
                crt,
                usn,
                ctype,
                queue,
                due,
                ivl,
                factor,
                (i % 5) as i64,
                (i % 3) as i64,
                left
            ],
        )
        .unwrap();
        cards.push(id + 1000);
    }
    let mut at = registered_ms + 60_000;
    for r in 0..user.reviews {
        if cards.is_empty() {
            break;
        }
        at += 1000 + rng.next(86_400_000 / 4);
        let cid = cards[rng.next(cards.len() as u64) as usize];
        let ease = 1 + rng.next(4);
        let ivl = if ease == 1 { -600 } else { 1 + rng.next(25) };
        conn.execute(
            "INSERT INTO revlog VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                at,
                cid,
                usn,
                ease,
                ivl,
                if r % 4 == 0 { 0 } else { rng.next(20) },
                1300 + rng.next(1500),
                1500 + rng.next(20_000),
                rng.next(3)
            ],
        )
        .unwrap();
    }
    if user.reviews > 0 {
        // A deleted note leaves a grave (the table has no primary key).
        conn.execute("INSERT INTO graves VALUES (-1, 42, 1)", [])
            .unwrap();
    }
}

/// The registration instant of the `i`-th user (2024, a day apart).
pub fn registered_ms(i: usize) -> i64 {
    1_704_100_000_000 + i as i64 * 86_400_000 + 123
}

/// bcrypt `$2b$12$` of the password, as Python's `bcrypt.hashpw(pw, gensalt(12))` wrote it.
pub fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 12).unwrap()
}

/// The monolith's layout under `dir`: `admin.db` and `user_dbs/user_<id>.db`.
pub fn write_monolith(dir: &Path, users: &[OriginalUser]) {
    std::fs::create_dir_all(dir.join("user_dbs")).unwrap();
    let admin = Connection::open(dir.join("admin.db")).unwrap();
    admin
        .execute_batch(
            "CREATE TABLE users (user_id INTEGER PRIMARY KEY AUTOINCREMENT,
                 username TEXT UNIQUE NOT NULL, name TEXT NOT NULL, password_hash TEXT NOT NULL);",
        )
        .unwrap();
    for (i, u) in users.iter().enumerate() {
        admin
            .execute(
                "INSERT INTO users (username, name, password_hash) VALUES (?1, ?2, ?3)",
                params![u.username, u.name, bcrypt_hash(u.password)],
            )
            .unwrap();
        let id = admin.last_insert_rowid();
        write_collection(
            &dir.join("user_dbs").join(format!("user_{id}.db")),
            u,
            registered_ms(i),
        );
    }
}
