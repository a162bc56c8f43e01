//! A Check-Database-style normalisation for collections written by other programs (the original
//! Python app's files, see `docs/ARCHITECTURE.md#migrating-from-the-original-app`).
//!
//! It makes a schema-11 file one that this engine and official Anki both schedule sensibly,
//! following what Anki's own Check Database does (`rslib/src/dbcheck.rs` and its card-fixing
//! SQL): missing `col` keys filled from a new collection's, deck and option-group objects
//! completed, missing decks and note types recovered, card states that no Anki scheduler writes
//! turned into the nearest valid one. **The review history is never touched**: `revlog` is read
//! by nothing here.
//!
//! Every change is counted in the returned [`Repairs`], so a migration report can say what was
//! done to each user's collection.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rusqlite::params;
use serde_json::{Value, json};

use crate::coljson::{ColJson, JsonObject};
use crate::schema::{
    DEFAULT_DCONF_ID, DEFAULT_DECK_ID, basic_notetype, deck_json, default_conf, default_dconf,
};
use crate::{Collection, Result};

/// The note type id the original app's collections use (`"Basic-Gemini"`).
const ORIGINAL_APP_NOTETYPE_ID: i64 = 1_700_000_000_001;

/// Due numbers at or past this are positions Anki resets (`fix_due_new`).
const MAX_NEW_POSITION: i64 = 1_000_000;
/// A review `due` past this is a timestamp, not a day number.
const MAX_DAY_NUMBER: i64 = 1_000_000;
/// A learning `due` below this is not an epoch-seconds timestamp (2001-09-09).
const MIN_TIMESTAMP: i64 = 1_000_000_000;

/// What [`Collection::repair`] changed: one human-readable line per kind of change, with counts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Repairs {
    /// Kind of change → how many objects it touched.
    pub changes: BTreeMap<String, u64>,
}

impl Repairs {
    fn add(&mut self, what: impl Into<String>, n: u64) {
        if n > 0 {
            *self.changes.entry(what.into()).or_default() += n;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// `"what (n)"` lines, in a stable order.
    pub fn lines(&self) -> Vec<String> {
        self.changes
            .iter()
            .map(|(k, n)| format!("{k} ({n})"))
            .collect()
    }
}

/// Insert every key of `defaults` missing from `target`, recursing into objects present in both.
/// Returns how many keys were added.
fn fill_missing(target: &mut JsonObject, defaults: &JsonObject) -> u64 {
    let mut added = 0;
    for (k, dv) in defaults {
        match target.get_mut(k) {
            None => {
                target.insert(k.clone(), dv.clone());
                added += 1;
            }
            Some(Value::Object(t)) => {
                if let Value::Object(d) = dv {
                    added += fill_missing(t, d);
                }
            }
            Some(_) => {}
        }
    }
    added
}

fn as_object(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    }
}

fn int(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// Stable ids for recovered templates and fields (Anki draws random ones; derived ones keep the
/// repair deterministic).
fn derived_ids(mid: i64) -> [i64; 3] {
    [1, 2, 3].map(|k: i64| mid.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(k) & i64::MAX)
}

/// Anki's `CREATE TABLE notes (...)` statement, taken from the schema this engine creates.
fn notes_ddl() -> &'static str {
    let ddl = crate::schema::DDL;
    let start = ddl.find("CREATE TABLE notes").unwrap_or(0);
    let end = ddl[start..].find(");").map_or(ddl.len(), |e| start + e + 1);
    &ddl[start..end]
}

impl Collection {
    /// Normalise the collection in place (all-or-nothing). Safe to run on a collection this
    /// engine wrote: it then changes nothing.
    pub fn repair(&self) -> Result<Repairs> {
        self.atomic(|col| {
            let mut r = Repairs::default();
            let models = col.repair_notetypes(&mut r)?;
            col.repair_conf(&models, &mut r)?;
            let dconf = col.repair_dconf(&mut r)?;
            col.repair_decks(&dconf, &mut r)?;
            col.repair_notes(&models, &mut r)?;
            col.repair_cards(&models, &mut r)?;
            Ok(r)
        })
    }

    fn repair_notetypes(&self, r: &mut Repairs) -> Result<BTreeMap<i64, (usize, usize)>> {
        let conn = self.conn();
        // One variant declares `notes.mid` as text: a text-affinity column would turn integers
        // written into it back into text, so the table is rebuilt with Anki's declaration.
        let declared: String = conn.query_row(
            "SELECT upper(type) FROM pragma_table_info('notes') WHERE name = 'mid'",
            [],
            |row| row.get(0),
        )?;
        if declared != "INTEGER" {
            let n: i64 = conn.query_row("SELECT count(*) FROM notes", [], |row| row.get(0))?;
            conn.execute_batch(&format!(
                "ALTER TABLE notes RENAME TO notes_migrated_from;
                 {};
                 INSERT INTO notes SELECT id, guid, CAST(mid AS INTEGER), mod, usn, tags, flds,
                     sfld, csum, flags, data FROM notes_migrated_from;
                 DROP TABLE notes_migrated_from;
                 CREATE INDEX ix_notes_usn ON notes (usn);
                 CREATE INDEX ix_notes_csum ON notes (csum);",
                notes_ddl()
            ))?;
            r.add(
                "notes: mid declared as text, table rebuilt with integer mid",
                n as u64,
            );
        } else {
            let n = conn.execute(
                "UPDATE notes SET mid = CAST(mid AS INTEGER) WHERE typeof(mid) != 'integer'",
                [],
            )?;
            r.add("notes: mid stored as text made an integer", n as u64);
        }

        let mut models = self.read_json(ColJson::Models)?;
        let mut fixed = JsonObject::new();
        for (key, v) in std::mem::take(&mut models) {
            let mut m = as_object(v);
            let Some(id) = int(m.get("id")).or_else(|| key.parse().ok()) else {
                r.add("note types: without an id dropped", 1);
                continue;
            };
            let template = as_object(basic_notetype(id)?);
            let mut added = 0;
            for (k, dv) in &template {
                if !m.contains_key(k) && k != "flds" && k != "tmpls" && k != "req" {
                    m.insert(k.clone(), dv.clone());
                    added += 1;
                }
            }
            m.insert("id".into(), json!(id));
            let default_fld = as_object(template["flds"][0].clone());
            let default_tmpl = as_object(template["tmpls"][0].clone());
            for (list, default) in [("flds", &default_fld), ("tmpls", &default_tmpl)] {
                if !matches!(m.get(list), Some(Value::Array(a)) if !a.is_empty()) {
                    m.insert(list.into(), template[list].clone());
                    added += 1;
                }
                if let Some(Value::Array(items)) = m.get_mut(list) {
                    for (ord, item) in items.iter_mut().enumerate() {
                        let mut obj = as_object(item.take());
                        let mut d = default.clone();
                        d.insert("ord".into(), json!(ord));
                        d.insert("id".into(), json!(derived_ids(id + ord as i64)[0]));
                        added += fill_missing(&mut obj, &d);
                        if obj.get("ord") != Some(&json!(ord)) {
                            obj.insert("ord".into(), json!(ord));
                            added += 1;
                        }
                        *item = Value::Object(obj);
                    }
                }
            }
            if !m.contains_key("req") {
                let ntmpl = m["tmpls"].as_array().map_or(0, Vec::len);
                let req: Vec<Value> = (0..ntmpl).map(|o| json!([o, "any", [0]])).collect();
                m.insert("req".into(), Value::Array(req));
                added += 1;
            }
            if added > 0 {
                r.add("note types: missing keys filled", 1);
            }
            fixed.insert(id.to_string(), Value::Object(m));
        }

        // Notes whose note type is missing get one recovered, as Anki's check does.
        let mut stmt = conn.prepare(
            "SELECT mid, max(length(flds) - length(replace(flds, char(31), '')) + 1)
             FROM notes GROUP BY mid",
        )?;
        let used: Vec<(i64, i64)> = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (mid, nfields) in used {
            if fixed.contains_key(&mid.to_string()) {
                continue;
            }
            let mut m = as_object(basic_notetype(mid)?);
            let name = if mid == ORIGINAL_APP_NOTETYPE_ID {
                "Basic-Gemini".to_owned()
            } else {
                format!("Recovered {mid}")
            };
            m.insert("name".into(), json!(name));
            if let Some(Value::Array(flds)) = m.get_mut("flds") {
                let base = as_object(flds[1].clone());
                for ord in 2..nfields.max(2) {
                    let mut f = base.clone();
                    f.insert("name".into(), json!(format!("Field {}", ord + 1)));
                    f.insert("ord".into(), json!(ord));
                    f.insert("id".into(), json!(derived_ids(mid + ord)[1]));
                    flds.push(Value::Object(f));
                }
            }
            fixed.insert(mid.to_string(), Value::Object(m));
            r.add("note types: missing, recovered", 1);
        }
        if fixed.is_empty() {
            // An empty collection still needs a note type to add cards with.
            let id = ORIGINAL_APP_NOTETYPE_ID;
            let mut m = as_object(basic_notetype(id)?);
            m.insert("name".into(), json!("Basic-Gemini"));
            fixed.insert(id.to_string(), Value::Object(m));
            r.add("note types: none, Basic added", 1);
        }
        self.write_json(ColJson::Models, &fixed)?;
        Ok(fixed
            .iter()
            .filter_map(|(k, m)| {
                let nf = m["flds"].as_array().map_or(0, Vec::len);
                let nt = m["tmpls"].as_array().map_or(0, Vec::len);
                Some((k.parse().ok()?, (nf, nt)))
            })
            .collect())
    }

    fn repair_conf(&self, models: &BTreeMap<i64, (usize, usize)>, r: &mut Repairs) -> Result<()> {
        let mut conf = self.read_json(ColJson::Conf)?;
        let first_model = models
            .keys()
            .next()
            .copied()
            .unwrap_or(ORIGINAL_APP_NOTETYPE_ID);
        for key in ["schedVer", "sched2021"] {
            if !conf.contains_key(key) {
                r.add(format!("conf: {key} added"), 1);
            }
        }
        // The v3 scheduler is what both javumbo and current Anki run; without these Anki's
        // importer treats the file as v1 and rewrites learning revlog eases.
        conf.insert("schedVer".into(), json!(2));
        conf.insert("sched2021".into(), json!(true));
        let added = fill_missing(&mut conf, &as_object(default_conf(first_model, 0, 4)));
        r.add("conf: other missing keys filled", added);
        let cur_ok = int(conf.get("curModel")).is_some_and(|m| models.contains_key(&m));
        if !cur_ok {
            conf.insert("curModel".into(), json!(first_model));
            r.add("conf: curModel pointed at a missing note type", 1);
        }
        self.write_json(ColJson::Conf, &conf)
    }

    /// Returns the option groups' learning and relearning step counts.
    fn repair_dconf(&self, r: &mut Repairs) -> Result<HashMap<i64, (i64, i64)>> {
        let mut dconf = self.read_json(ColJson::Dconf)?;
        if !dconf.contains_key(&DEFAULT_DCONF_ID.to_string()) {
            dconf.insert(DEFAULT_DCONF_ID.to_string(), default_dconf());
            r.add("deck options: default group added", 1);
        }
        let defaults = as_object(default_dconf());
        let mut steps = HashMap::new();
        for (key, v) in dconf.iter_mut() {
            let Ok(id) = key.parse::<i64>() else { continue };
            let mut g = as_object(v.take());
            let added = fill_missing(&mut g, &defaults);
            if g.get("id") != Some(&json!(id)) {
                g.insert("id".into(), json!(id));
            }
            r.add(
                "deck options: groups with missing keys filled",
                u64::from(added > 0),
            );
            let count = |section: &str| {
                g.get(section)
                    .and_then(|s| s.get("delays"))
                    .and_then(Value::as_array)
                    .map_or(1, |d| d.len().max(1) as i64)
            };
            steps.insert(id, (count("new"), count("lapse")));
            *v = Value::Object(g);
        }
        self.write_json(ColJson::Dconf, &dconf)?;
        Ok(steps)
    }

    fn repair_decks(&self, dconf: &HashMap<i64, (i64, i64)>, r: &mut Repairs) -> Result<()> {
        let decks = self.read_json(ColJson::Decks)?;
        let mut fixed = JsonObject::new();
        let mod_secs = self.clock().now_secs();
        for (key, v) in decks {
            let Ok(id) = key.parse::<i64>() else {
                r.add("decks: non-numeric key dropped", 1);
                continue;
            };
            let mut d = match v {
                // The oldest variant stores a bare name.
                Value::String(name) => {
                    r.add("decks: stored as a bare name, made a deck", 1);
                    as_object(deck_json(id, &name, mod_secs))
                }
                other => as_object(other),
            };
            let name = d
                .get("name")
                .and_then(Value::as_str)
                .filter(|n| !n.trim().is_empty())
                .map_or_else(|| format!("Deck {id}"), str::to_owned);
            let added = fill_missing(&mut d, &as_object(deck_json(id, &name, mod_secs)));
            r.add("decks: missing keys filled", u64::from(added > 0));
            d.insert("id".into(), json!(id));
            d.insert("name".into(), json!(name));
            let conf_ok = int(d.get("conf")).is_some_and(|c| dconf.contains_key(&c));
            let dynamic = int(d.get("dyn")).unwrap_or(0) != 0;
            if !conf_ok && !dynamic {
                d.insert("conf".into(), json!(DEFAULT_DCONF_ID));
                r.add("decks: option group missing, set to Default", 1);
            }
            fixed.insert(id.to_string(), Value::Object(d));
        }
        if !fixed.contains_key(&DEFAULT_DECK_ID.to_string()) {
            fixed.insert(
                DEFAULT_DECK_ID.to_string(),
                deck_json(DEFAULT_DECK_ID, "Default", mod_secs),
            );
            r.add("decks: Default deck added", 1);
        }
        // Cards in decks that do not exist get a recovered deck, as Anki's check does.
        let mut stmt = self.conn().prepare("SELECT DISTINCT did FROM cards")?;
        let dids: Vec<i64> = stmt
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for did in dids {
            if !fixed.contains_key(&did.to_string()) {
                fixed.insert(
                    did.to_string(),
                    deck_json(did, &format!("recovered{did}"), mod_secs),
                );
                r.add("decks: missing, recovered", 1);
            }
        }
        // Deck names must be unique for Anki's importer.
        let mut seen = BTreeSet::new();
        for (key, d) in fixed.iter_mut() {
            let name = d["name"].as_str().unwrap_or_default().to_owned();
            if !seen.insert(name.to_lowercase()) {
                d["name"] = json!(format!("{name}+{key}"));
                r.add("decks: duplicate name renamed", 1);
            }
        }
        self.write_json(ColJson::Decks, &fixed)
    }

    fn repair_notes(&self, models: &BTreeMap<i64, (usize, usize)>, r: &mut Repairs) -> Result<()> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id, mid, flds FROM notes")?;
        let rows: Vec<(i64, i64, String)> = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, mid, flds) in rows {
            let want = models.get(&mid).map_or(2, |m| m.0).max(1);
            let mut fields: Vec<&str> = flds.split('\x1f').collect();
            if fields.len() == want {
                continue;
            }
            let joined;
            if fields.len() > want {
                // Anki keeps the extra fields' text in the last field rather than dropping it.
                joined = fields[want - 1..].join(" ");
                fields.truncate(want - 1);
                fields.push(&joined);
            } else {
                fields.resize(want, "");
            }
            conn.execute(
                "UPDATE notes SET flds = ?1 WHERE id = ?2",
                params![fields.join("\x1f"), id],
            )?;
            r.add("notes: field count fixed to the note type's", 1);
        }
        Ok(())
    }

    fn repair_cards(&self, models: &BTreeMap<i64, (usize, usize)>, r: &mut Repairs) -> Result<()> {
        let conn = self.conn();
        let n = conn.execute(
            "DELETE FROM cards WHERE nid NOT IN (SELECT id FROM notes)",
            [],
        )?;
        r.add("cards: without a note deleted", n as u64);

        let timing = self.timing()?;
        let today = timing.days_elapsed;
        let now = timing.now_secs;
        let decks = self.read_json_shared(ColJson::Decks)?;
        let dconf = self.read_json_shared(ColJson::Dconf)?;
        let steps_of = |did: i64| -> (i64, i64) {
            let conf = decks
                .get(&did.to_string())
                .and_then(|d| int(d.get("conf")))
                .unwrap_or(DEFAULT_DCONF_ID);
            let g = dconf.get(&conf.to_string());
            let count = |s: &str| {
                g.and_then(|g| g.get(s))
                    .and_then(|s| s.get("delays"))
                    .and_then(Value::as_array)
                    .map_or(1, |d| d.len().max(1) as i64)
            };
            (count("new"), count("lapse"))
        };

        #[derive(Clone, Copy)]
        struct Card {
            id: i64,
            nid_mid: i64,
            did: i64,
            ord: i64,
            ctype: i64,
            queue: i64,
            due: i64,
            ivl: i64,
            factor: i64,
            left: i64,
            odue: i64,
            odid: i64,
        }
        let mut stmt = conn.prepare(
            "SELECT c.id, n.mid, c.did, c.ord, c.type, c.queue, c.due, c.ivl, c.factor, c.left,
                    c.odue, c.odid
             FROM cards c JOIN notes n ON n.id = c.nid ORDER BY c.id",
        )?;
        let cards: Vec<Card> = stmt
            .query_map([], |row| {
                Ok(Card {
                    id: row.get(0)?,
                    nid_mid: row.get(1)?,
                    did: row.get(2)?,
                    ord: row.get(3)?,
                    ctype: row.get(4)?,
                    queue: row.get(5)?,
                    due: row.get(6)?,
                    ivl: row.get(7)?,
                    factor: row.get(8)?,
                    left: row.get(9)?,
                    odue: row.get(10)?,
                    odid: row.get(11)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut next_pos: i64 = conn.query_row(
            "SELECT coalesce(max(due), 0) + 1 FROM cards WHERE type = 0 AND due < ?1",
            [MAX_NEW_POSITION],
            |row| row.get(0),
        )?;

        for c in cards {
            let templates = models.get(&c.nid_mid).map_or(1, |m| m.1) as i64;
            if c.ord < 0 || c.ord >= templates {
                conn.execute("DELETE FROM cards WHERE id = ?1", [c.id])?;
                r.add("cards: template missing, deleted", 1);
                continue;
            }
            let mut n = c;
            let suspended_or_buried = matches!(n.queue, -3..=-1);
            // No filtered decks came from the original app: a card claiming one goes home.
            if n.odid != 0 || n.odue != 0 {
                if n.odid != 0 {
                    n.did = n.odid;
                    n.due = n.odue;
                }
                n.odid = 0;
                n.odue = 0;
                r.add("cards: stale filtered-deck fields cleared", 1);
            }
            match n.ctype {
                0 => {
                    if !(n.queue == 0 || suspended_or_buried) {
                        n.queue = 0;
                        r.add("cards: new card in a non-new queue", 1);
                    }
                    if !(0..MAX_NEW_POSITION).contains(&n.due) {
                        n.due = next_pos;
                        next_pos += 1;
                        r.add("cards: new card position out of range", 1);
                    }
                    if n.ivl != 0 || n.left != 0 {
                        n.ivl = 0;
                        n.left = 0;
                        r.add("cards: new card with learning state cleared", 1);
                    }
                }
                2 => {
                    if !(n.queue == 2 || suspended_or_buried) {
                        n.queue = 2;
                        r.add("cards: review card in a non-review queue", 1);
                    }
                    Self::fix_review_fields(&mut n.due, &mut n.ivl, &mut n.factor, today, r);
                    if n.left != 0 {
                        n.left = 0;
                        r.add("cards: review card with learning steps cleared", 1);
                    }
                }
                1 | 3 => {
                    let (learn, relearn) = steps_of(n.did);
                    let steps = if n.ctype == 1 { learn } else { relearn };
                    if !(matches!(n.queue, 1 | 3) || suspended_or_buried) {
                        n.queue = 1;
                        r.add("cards: learning card in a non-learning queue", 1);
                    }
                    let remaining = n.left.rem_euclid(1000);
                    if n.left < 0 || remaining == 0 || remaining > steps {
                        // Anki's v3 reads `left % 1000` as the steps still to go; restart them.
                        n.left = steps;
                        r.add("cards: learning steps not in Anki's encoding, restarted", 1);
                    }
                    if n.queue == 1 && n.due < MIN_TIMESTAMP {
                        n.due = now;
                        r.add("cards: learning due not a timestamp, due now", 1);
                    } else if n.queue == 3 && !(0..MAX_DAY_NUMBER).contains(&n.due) {
                        n.due = today;
                        r.add("cards: day-learning due out of range, due today", 1);
                    }
                    if n.ctype == 3 {
                        let mut unused = 0;
                        Self::fix_review_fields(&mut unused, &mut n.ivl, &mut n.factor, today, r);
                    } else if n.ivl != 0 {
                        n.ivl = 0;
                        r.add("cards: learning card with an interval cleared", 1);
                    }
                }
                _ => {
                    n.ctype = 0;
                    n.queue = 0;
                    n.due = next_pos;
                    next_pos += 1;
                    n.ivl = 0;
                    n.factor = 0;
                    n.left = 0;
                    r.add("cards: unknown card type, reset to new", 1);
                }
            }
            if (
                n.did, n.queue, n.due, n.ivl, n.factor, n.left, n.odue, n.odid, n.ctype,
            ) != (
                c.did, c.queue, c.due, c.ivl, c.factor, c.left, c.odue, c.odid, c.ctype,
            ) {
                conn.execute(
                    "UPDATE cards SET did = ?1, type = ?2, queue = ?3, due = ?4, ivl = ?5,
                         factor = ?6, left = ?7, odue = ?8, odid = ?9
                     WHERE id = ?10",
                    params![
                        n.did, n.ctype, n.queue, n.due, n.ivl, n.factor, n.left, n.odue, n.odid,
                        c.id
                    ],
                )?;
            }
        }
        let mut conf = self.read_json(ColJson::Conf)?;
        if int(conf.get("nextPos")).is_none_or(|p| p < next_pos) {
            conf.insert("nextPos".into(), json!(next_pos));
            self.write_json(ColJson::Conf, &conf)?;
        }
        Ok(())
    }

    /// Review fields the SM-2 rules can schedule from: an interval of at least a day, an ease of
    /// at least 130 %, a due day number (not a timestamp).
    fn fix_review_fields(
        due: &mut i64,
        ivl: &mut i64,
        factor: &mut i64,
        today: i64,
        r: &mut Repairs,
    ) {
        if *ivl < 1 {
            *ivl = 1;
            r.add("cards: review interval below a day set to 1", 1);
        } else if *ivl > 36_500 {
            *ivl = 36_500;
            r.add("cards: review interval above 100 years capped", 1);
        }
        if *factor == 0 {
            *factor = 2500;
            r.add("cards: review ease missing set to 250%", 1);
        } else if *factor < 1300 {
            *factor = 1300;
            r.add("cards: review ease below 130% raised", 1);
        }
        if !(0..MAX_DAY_NUMBER).contains(due) {
            *due = today;
            r.add("cards: review due not a day number, due today", 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CreateOptions, ManualClock};

    fn col() -> Collection {
        let clock = ManualClock::new(1_700_000_000_000);
        Collection::create_in_memory(clock, &CreateOptions::default()).unwrap()
    }

    #[test]
    fn an_engine_collection_needs_nothing() {
        let c = col();
        let r = c.repair().unwrap();
        assert!(r.is_empty(), "{r:?}");
    }

    #[test]
    fn text_declared_mid_becomes_integer() {
        let c = col();
        c.conn()
            .execute_batch(&format!(
                "DROP TABLE notes; {}; INSERT INTO notes VALUES (10, 'g', '1700000000001', 0, -1, '', 'a' || char(31) || 'b', 'a', 0, 0, '');",
                notes_ddl().replace("mid integer", "mid text")
            ))
            .unwrap();
        let r = c.repair().unwrap();
        assert!(r.lines().join("").contains("table rebuilt"), "{r:?}");
        let (ty, declared): (String, String) = c
            .conn()
            .query_row(
                "SELECT typeof(mid), (SELECT type FROM pragma_table_info('notes') WHERE name = 'mid') FROM notes",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (ty.as_str(), declared.to_lowercase().as_str()),
            ("integer", "integer")
        );
        assert!(c.repair().unwrap().is_empty());
    }

    #[test]
    fn original_app_variants_are_repaired_and_revlog_untouched() {
        let c = col();
        let conn = c.conn();
        conn.execute_batch(
            r#"UPDATE col SET conf = '{"curDeck": 1}', models = '{}', dconf = '{}',
                   decks = '{"1": "Verbal Tenses"}';
               DELETE FROM cards; DELETE FROM notes; DELETE FROM revlog;
               INSERT INTO notes VALUES (10, 'g', '1700000000001', 0, -1, '', 'a' || char(31) || 'b', 'a', 0, 0, '');
               INSERT INTO cards VALUES (20, 10, 1, 0, 0, -1, 2, 2, 5, 0, 900, 3, 0, 0, 0, 0, 0, '');
               INSERT INTO cards VALUES (21, 10, 7, 0, 0, -1, 1, 1, 3, 0, 0, 1, 0, 77, 0, 0, 0, '');
               INSERT INTO revlog VALUES (1, 20, -1, 3, 4, 1, 2500, 3000, 0);"#,
        )
        .unwrap();
        let r = c.repair().unwrap();
        let lines = r.lines().join("\n");
        for expect in [
            "conf: schedVer added",
            "note types: missing, recovered",
            "decks: stored as a bare name",
            "decks: missing, recovered",
            "cards: review ease below 130% raised",
            "cards: learning steps not in Anki's encoding",
            "cards: learning due not a timestamp",
        ] {
            assert!(lines.contains(expect), "{expect:?} not in\n{lines}");
        }
        let mid_type: String = conn
            .query_row("SELECT typeof(mid) FROM notes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mid_type, "integer");
        let revlog: (i64, i64, i64) = conn
            .query_row("SELECT id, ease, ivl FROM revlog", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(revlog, (1, 3, 4));
        // A second run has nothing left to do.
        assert!(c.repair().unwrap().is_empty());
    }
}
