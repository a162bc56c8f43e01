//! A schema-11 collection built without Anki: the DDL and `col` JSON of a file Anki's downgrade
//! writes (see `/work/shared/oracle/legacy-schema.md`), with every key the downgrade writes, so
//! an 11 → 18 → 11 round trip must give it back unchanged.

#![allow(dead_code)]

use rusqlite::{Connection, params};
use serde_json::{Value, json};

pub const DDL11: &str = r#"
CREATE TABLE col (id integer PRIMARY KEY, crt integer NOT NULL, mod integer NOT NULL,
  scm integer NOT NULL, ver integer NOT NULL, dty integer NOT NULL, usn integer NOT NULL,
  ls integer NOT NULL, conf text NOT NULL, models text NOT NULL, decks text NOT NULL,
  dconf text NOT NULL, tags text NOT NULL);
CREATE TABLE notes (id integer PRIMARY KEY, guid text NOT NULL, mid integer NOT NULL,
  mod integer NOT NULL, usn integer NOT NULL, tags text NOT NULL, flds text NOT NULL,
  sfld integer NOT NULL, csum integer NOT NULL, flags integer NOT NULL, data text NOT NULL);
CREATE TABLE cards (id integer PRIMARY KEY, nid integer NOT NULL, did integer NOT NULL,
  ord integer NOT NULL, mod integer NOT NULL, usn integer NOT NULL, type integer NOT NULL,
  queue integer NOT NULL, due integer NOT NULL, ivl integer NOT NULL, factor integer NOT NULL,
  reps integer NOT NULL, lapses integer NOT NULL, left integer NOT NULL, odue integer NOT NULL,
  odid integer NOT NULL, flags integer NOT NULL, data text NOT NULL);
CREATE TABLE revlog (id integer PRIMARY KEY, cid integer NOT NULL, usn integer NOT NULL,
  ease integer NOT NULL, ivl integer NOT NULL, lastIvl integer NOT NULL, factor integer NOT NULL,
  time integer NOT NULL, type integer NOT NULL);
CREATE INDEX ix_notes_usn ON notes (usn);
CREATE INDEX ix_cards_usn ON cards (usn);
CREATE INDEX ix_revlog_usn ON revlog (usn);
CREATE INDEX ix_cards_nid ON cards (nid);
CREATE INDEX ix_cards_sched ON cards (did, queue, due);
CREATE INDEX ix_revlog_cid ON revlog (cid);
CREATE INDEX ix_notes_csum ON notes (csum);
CREATE TABLE graves (usn integer NOT NULL, oid integer NOT NULL, type integer NOT NULL);
"#;

fn field(name: &str, ord: u32, id: i64) -> Value {
    json!({
        "name": name, "ord": ord, "sticky": false, "rtl": false, "font": "Arial", "size": 20,
        "description": "", "plainText": false, "collapsed": false, "excludeFromSearch": false,
        "id": id, "tag": null, "preventDeletion": false
    })
}

pub fn models() -> Value {
    json!({
        "1704110400000": {
            "id": 1704110400000_i64, "name": "Basic", "type": 0, "mod": 5, "usn": 0, "sortf": 0,
            "did": null,
            "tmpls": [{
                "name": "Card 1", "ord": 0, "qfmt": "{{Front}}",
                "afmt": "{{FrontSide}}\n\n<hr id=answer>\n\n{{Back}}", "bqfmt": "", "bafmt": "",
                "did": null, "bfont": "", "bsize": 0, "id": 3583955465516387274_i64
            }],
            "flds": [field("Front", 0, -6975593373581169271), field("Back", 1, -4677106480159702707)],
            "css": ".card { color: black; }\n",
            "latexPre": "\\begin{document}\n", "latexPost": "\\end{document}", "latexsvg": false,
            "req": [[0, "any", [0]]], "originalStockKind": 1
        },
        "1704110400001": {
            "id": 1704110400001_i64, "name": "Cloze Extra", "type": 1, "mod": 6, "usn": -1,
            "sortf": 1, "did": 1,
            "tmpls": [{
                "name": "Cloze", "ord": 0, "qfmt": "{{cloze:Text}}", "afmt": "{{cloze:Text}}",
                "bqfmt": "q", "bafmt": "a", "did": 1, "bfont": "Courier", "bsize": 12,
                "id": null, "addonTemplate": [1, 2]
            }],
            "flds": [field("Text", 0, 1), {
                "name": "Extra", "ord": 1, "sticky": true, "rtl": true, "font": "Georgia",
                "size": 30, "description": "more", "plainText": true, "collapsed": true,
                "excludeFromSearch": true, "id": null, "tag": 3, "preventDeletion": true,
                "addonField": {"x": null}
            }],
            "css": "", "latexPre": "", "latexPost": "", "latexsvg": true, "req": [],
            "originalId": 42, "addonModel": "kept"
        }
    })
}

pub fn decks() -> Value {
    json!({
        "1": {
            "id": 1, "mod": 0, "name": "Default", "usn": 0, "lrnToday": [0, 0],
            "revToday": [0, 0], "newToday": [0, 0], "timeToday": [0, 0], "collapsed": true,
            "browserCollapsed": true, "desc": "", "dyn": 0, "conf": 1, "extendNew": 0,
            "extendRev": 0, "reviewLimit": null, "newLimit": null, "reviewLimitToday": null,
            "newLimitToday": null, "desiredRetention": null
        },
        "1704110400000": {
            "id": 1704110400000_i64, "mod": 1704110503, "name": "Lang::French", "usn": -1,
            "lrnToday": [4, 2], "revToday": [4, 1], "newToday": [4, 3], "timeToday": [4, 8000],
            "collapsed": false, "browserCollapsed": false, "desc": "**md**", "md": true,
            "dyn": 0, "conf": 1704110400002_i64, "extendNew": 5, "extendRev": 6,
            "reviewLimit": 100, "newLimit": 10, "reviewLimitToday": {"limit": 50, "today": 4},
            "newLimitToday": {"limit": 3, "today": 4}, "desiredRetention": 87,
            "addonDeck": [true]
        },
        "1704110400001": {
            "id": 1704110400001_i64, "mod": 1704110504, "name": "Lang", "usn": -1,
            "lrnToday": [4, 0], "revToday": [4, 0], "newToday": [4, 0], "timeToday": [4, 0],
            "collapsed": true, "browserCollapsed": false, "desc": "", "dyn": 0, "conf": 1,
            "extendNew": 0, "extendRev": 0, "reviewLimit": null, "newLimit": null,
            "reviewLimitToday": null, "newLimitToday": null, "desiredRetention": null
        },
        "1704110400005": {
            "id": 1704110400005_i64, "mod": 1704110505, "name": "Cram", "usn": -1,
            "lrnToday": [4, 0], "revToday": [4, 0], "newToday": [4, 0], "timeToday": [4, 0],
            "collapsed": false, "browserCollapsed": false, "desc": "", "dyn": 1,
            "resched": false, "terms": [["deck:Lang", 50, 1], ["is:due", 10, 6]],
            "separate": true, "delays": null, "previewDelay": 10, "previewAgainSecs": 60,
            "previewHardSecs": 600, "previewGoodSecs": 0
        }
    })
}

fn dconf_entry(id: i64, name: &str) -> Value {
    json!({
        "id": id, "mod": 0, "name": name, "usn": 0, "maxTaken": 60, "autoplay": true,
        "timer": 0, "replayq": true,
        "new": {"bury": false, "delays": [1.0, 10.0], "initialFactor": 2500, "ints": [1, 4, 0],
                "order": 1, "perDay": 20},
        "rev": {"bury": false, "ease4": 1.3, "ivlFct": 1.0, "maxIvl": 36500, "perDay": 200,
                "hardFactor": 1.2},
        "lapse": {"delays": [10.0], "leechAction": 1, "leechFails": 8, "minInt": 1, "mult": 0.0},
        "dyn": false, "newMix": 0, "newPerDayMinimum": 0, "interdayLearningMix": 0,
        "reviewOrder": 0, "newSortOrder": 0, "newGatherPriority": 0,
        "buryInterdayLearning": false, "fsrsWeights": [], "fsrsParams5": [], "fsrsParams6": [],
        "desiredRetention": 0.9, "ignoreRevlogsBeforeDate": "",
        "easyDaysPercentages": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], "stopTimerOnAnswer": false,
        "secondsToShowQuestion": 0.0, "secondsToShowAnswer": 0.0, "questionAction": 0,
        "answerAction": 0, "waitForAudio": true, "sm2Retention": 0.9, "weightSearch": ""
    })
}

pub fn dconf() -> Value {
    let mut custom = dconf_entry(1704110400002, "Custom");
    custom["new"] = json!({"bury": true, "delays": [2.0, 15.5], "initialFactor": 2300,
        "ints": [2, 5, 0], "order": 0, "perDay": 33, "addonNew": 1});
    custom["rev"] = json!({"bury": true, "ease4": 1.45, "ivlFct": 1.1, "maxIvl": 3650,
        "perDay": 321, "hardFactor": 1.15});
    custom["lapse"] = json!({"delays": [5.0], "leechAction": 0, "leechFails": 6, "minInt": 2,
        "mult": 0.3, "addonLapse": "l"});
    custom["fsrsParams6"] = json!([0.212, 1.2931, 2.3065, 8.2956]);
    custom["desiredRetention"] = json!(0.87);
    custom["answerAction"] = json!(3);
    custom["questionAction"] = json!(1);
    custom["secondsToShowAnswer"] = json!(7.25);
    custom["addonTop"] = json!({"nested": [1, "two"]});
    json!({"1": dconf_entry(1, "Default"), "1704110400002": custom})
}

pub fn conf() -> Value {
    json!({
        "activeDecks": [1], "curDeck": 1, "schedVer": 2, "sched2021": true, "nextPos": 3,
        "sortType": "noteFld", "addon": {"float": 0.1, "list": [null, "ü"]}
    })
}

pub fn tags() -> Value {
    json!({"verb": 0, "lang::fr": -1, "Marked": 0})
}

/// A schema-11 collection file at `path` with the JSON above and a few rows.
pub fn create_schema11(path: &std::path::Path) -> Connection {
    let conn = Connection::open(path).expect("open");
    conn.execute_batch(DDL11).expect("ddl");
    conn.execute(
        "INSERT INTO col VALUES (1, 1704081600, 1704456110000, 1704456110000, 11, 0, 0, 0,
         ?1, ?2, ?3, ?4, ?5)",
        params![
            conf().to_string(),
            models().to_string(),
            decks().to_string(),
            dconf().to_string(),
            tags().to_string()
        ],
    )
    .expect("col row");
    conn.execute_batch(
        "INSERT INTO notes VALUES (10, 'guid1', 1704110400000, 1, -1, ' verb ', 'a\x1fb', 'a', 1, 0, '');
         INSERT INTO cards VALUES (20, 10, 1704110400000, 0, 1, -1, 2, 2, 5, 3, 1800, 4, 1, 0, 0, 0, 0, '{}');
         INSERT INTO cards VALUES (21, 10, 1704110400005, 1, 1, -1, 2, 2, 5, 3, 2500, 4, 1, 0, 7, 1704110400000, 0, '');
         INSERT INTO revlog VALUES (30, 20, -1, 3, 3, 1, 2500, 4000, 1);
         INSERT INTO graves VALUES (0, 99, 1);
         INSERT INTO graves VALUES (0, 99, 1);
         INSERT INTO graves VALUES (-1, 98, 0);",
    )
    .expect("rows");
    conn
}

pub fn col_json(conn: &Connection, column: &str) -> Value {
    let s: String = conn
        .query_row(&format!("SELECT {column} FROM col"), [], |r| r.get(0))
        .expect("col json");
    serde_json::from_str(&s).expect("parses")
}

pub fn ver(conn: &Connection) -> i64 {
    conn.query_row("SELECT ver FROM col", [], |r| r.get(0))
        .expect("ver")
}
