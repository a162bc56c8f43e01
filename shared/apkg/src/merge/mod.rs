//! Adding a package's content to the user's collection, following Anki's own importer
//! (rslib `import_export/package/apkg/import`): notes whose guid exists are skipped, ids are kept
//! unless taken, decks are matched by name, day-based due dates are moved to the target's
//! calendar, and the review history follows its cards.

use std::collections::{BTreeSet, HashMap, HashSet};

use javumbo_collection::Collection;
use javumbo_collection::ids::{field_checksum, strip_html};
use javumbo_collection::schema::{DEFAULT_DECK_ID, deck_json};
use rusqlite::params;
use serde_json::{Map, Value, json};

use crate::source::{SourceData, SrcCard, SrcNotetype};
use crate::{ApkgError, ImportSummary};

/// Card type / queue values from Anki's `cards` table (legacy-schema.md).
const TYPE_NEW: i64 = 0;
const TYPE_REVIEW: i64 = 2;
const QUEUE_LEARN: i64 = 1;
const QUEUE_REVIEW: i64 = 2;
const QUEUE_DAY_LEARN: i64 = 3;
/// Anki's step when a kept id is taken (`uniquify_card_id`): stays near the original timestamp.
const ID_STEP: i64 = 999;

/// Anki's "today": whole days since `crt`, which sits on the rollover hour.
fn days_elapsed(crt: i64, now_secs: i64) -> i64 {
    (now_secs - crt).div_euclid(86_400)
}

struct Target {
    crt: i64,
    conf: Map<String, Value>,
    models: Map<String, Value>,
    decks: Map<String, Value>,
    /// Legacy tag registry (`{"tag": usn}`); Anki moves it into its tags table on upgrade.
    tags: Map<String, Value>,
}

fn read_target(col: &Collection) -> Result<Target, ApkgError> {
    let (crt, conf, models, decks, tags): (i64, String, String, String, String) =
        col.conn().query_row(
            "SELECT crt, conf, models, decks, tags FROM col WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )?;
    let obj = |s: &str, what: &str| match serde_json::from_str::<Value>(s) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApkgError::Collection(
            javumbo_collection::CollectionError::Corrupt(format!(
                "col.{what} is not a JSON object"
            )),
        )),
    };
    Ok(Target {
        crt,
        conf: obj(&conf, "conf")?,
        models: obj(&models, "models")?,
        decks: obj(&decks, "decks")?,
        tags: obj(&tags, "tags")?,
    })
}

/// What makes two note types interchangeable: the same name, fields and templates.
#[derive(PartialEq, Eq)]
struct Signature {
    name: String,
    fields: Vec<String>,
    templates: Vec<(String, String)>,
    cloze: bool,
}

fn signature_of(m: &Value) -> Option<Signature> {
    let strs = |list: &str, key: &str| -> Option<Vec<String>> {
        m.get(list)?
            .as_array()?
            .iter()
            .map(|v| Some(v.get(key)?.as_str()?.to_owned()))
            .collect()
    };
    let templates = m
        .get("tmpls")?
        .as_array()?
        .iter()
        .map(|t| {
            let s = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            (s("qfmt"), s("afmt"))
        })
        .collect();
    Some(Signature {
        name: m.get("name")?.as_str()?.to_owned(),
        fields: strs("flds", "name")?,
        templates,
        cloze: m.get("type").and_then(Value::as_i64) == Some(1),
    })
}

fn src_signature(nt: &SrcNotetype) -> Signature {
    Signature {
        name: nt.name.clone(),
        fields: nt.fields.clone(),
        templates: nt.templates.clone(),
        cloze: nt.is_cloze,
    }
}

/// Anki's deck-name rules: `::`-separated components, trimmed, none empty, no control chars.
fn normalize_deck_name(name: &str) -> String {
    let parts: Vec<String> = name
        .split("::")
        .map(|p| {
            p.chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
                .trim()
                .to_owned()
        })
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        "Imported".to_owned()
    } else {
        parts.join("::")
    }
}

struct DeckMapper<'a> {
    target: &'a mut Map<String, Value>,
    /// Lower-cased name -> (id, name as spelled in the collection).
    by_name: HashMap<String, (i64, String)>,
    next_id: i64,
    now_secs: i64,
    resolved: HashMap<i64, i64>,
    touched: BTreeSet<String>,
    changed: bool,
}

impl<'a> DeckMapper<'a> {
    fn new(target: &'a mut Map<String, Value>, now_ms: i64) -> Self {
        let mut by_name = HashMap::new();
        let mut max_id = 0;
        for d in target.values() {
            if let (Some(id), Some(name)) = (
                d.get("id").and_then(Value::as_i64),
                d.get("name").and_then(Value::as_str),
            ) {
                by_name.insert(name.to_lowercase(), (id, name.to_owned()));
                max_id = max_id.max(id);
            }
        }
        Self {
            target,
            by_name,
            next_id: now_ms.max(max_id.saturating_add(1)),
            now_secs: now_ms.div_euclid(1000),
            resolved: HashMap::new(),
            touched: BTreeSet::new(),
            changed: false,
        }
    }

    /// The target deck for a source deck id; decks (and missing parents) are created by name.
    fn map(&mut self, src: &SourceData, src_did: i64) -> i64 {
        if let Some(&id) = self.resolved.get(&src_did) {
            return id;
        }
        let id = match src.decks.get(&src_did) {
            // A filtered deck only lends cards; they go back to their home deck (see
            // `home_deck`), so one still pointing here has no home: use Default, as Anki's
            // Check Database does for cards in a missing deck.
            Some(deck) if !deck.filtered => {
                let name = normalize_deck_name(&deck.name);
                self.ensure(&name, &deck.desc)
            }
            _ => DEFAULT_DECK_ID,
        };
        if let Some(name) = self
            .target
            .get(&id.to_string())
            .and_then(|d| d.get("name"))
            .and_then(Value::as_str)
        {
            self.touched.insert(name.to_owned());
        }
        self.resolved.insert(src_did, id);
        id
    }

    /// Find or create `name` and its parents. An existing ancestor keeps its own spelling
    /// ("Lang::Verbs" under an existing "lang" becomes "lang::Verbs"), as Anki matches parents.
    fn ensure(&mut self, name: &str, desc: &str) -> i64 {
        let mut path = String::new();
        let mut id = DEFAULT_DECK_ID;
        let parts: Vec<&str> = name.split("::").collect();
        for (i, part) in parts.iter().enumerate() {
            if !path.is_empty() {
                path.push_str("::");
            }
            path.push_str(part);
            id = match self.by_name.get(&path.to_lowercase()) {
                Some((existing, real)) => {
                    path.clone_from(real);
                    *existing
                }
                None => {
                    let new_id = self.next_id;
                    self.next_id += 1;
                    let mut deck = deck_json(new_id, &path, self.now_secs);
                    if i + 1 == parts.len() {
                        deck["desc"] = json!(desc);
                    }
                    self.target.insert(new_id.to_string(), deck);
                    self.by_name
                        .insert(path.to_lowercase(), (new_id, path.clone()));
                    self.touched.insert(path.clone());
                    self.changed = true;
                    new_id
                }
            };
        }
        id
    }
}

/// Target note type for each source note type actually used, added to `models` when new.
struct NotetypeMapper<'a> {
    target: &'a mut Map<String, Value>,
    resolved: HashMap<i64, i64>,
    next_id: i64,
    now_secs: i64,
    changed: bool,
}

impl NotetypeMapper<'_> {
    fn map(&mut self, nt: &SrcNotetype) -> i64 {
        if let Some(&id) = self.resolved.get(&nt.id) {
            return id;
        }
        let wanted = src_signature(nt);
        let same_id = self
            .target
            .get(&nt.id.to_string())
            .and_then(signature_of)
            .is_some_and(|s| s == wanted);
        let id = if same_id {
            nt.id
        } else if let Some(id) = self
            .target
            .values()
            .find(|m| signature_of(m).is_some_and(|s| s == wanted))
            .and_then(|m| m.get("id").and_then(Value::as_i64))
        {
            id
        } else {
            self.add(nt)
        };
        self.resolved.insert(nt.id, id);
        id
    }

    fn add(&mut self, nt: &SrcNotetype) -> i64 {
        let id = if self.target.contains_key(&nt.id.to_string()) {
            let id = self.next_id;
            self.next_id += 1;
            id
        } else {
            nt.id
        };
        // Anki's rule for a different note type under a taken name.
        let mut name = nt.name.clone();
        while self
            .target
            .values()
            .any(|m| m.get("name").and_then(Value::as_str) == Some(name.as_str()))
        {
            name.push('+');
        }
        let mut json = nt.json.clone();
        json["id"] = json!(id);
        json["name"] = json!(name);
        json["usn"] = json!(-1);
        json["mod"] = json!(self.now_secs);
        // The source's "last used deck" id means nothing here.
        json["did"] = Value::Null;
        complete_notetype(&mut json);
        self.target.insert(id.to_string(), json);
        self.changed = true;
        id
    }
}

/// Fill in the keys Anki's legacy reader requires of a note type (legacy-schema.md) with Anki's
/// defaults, so a lenient package (e.g. numeric strings, missing `css`) cannot leave us with a
/// collection that Anki then refuses to import from our export.
fn complete_notetype(nt: &mut Value) {
    fn fill(obj: &mut Value, defaults: Value) {
        if let (Some(obj), Value::Object(defaults)) = (obj.as_object_mut(), defaults) {
            for (k, v) in defaults {
                obj.entry(k).or_insert(v);
            }
        }
    }
    fill(nt, json!({"type": 0, "sortf": 0, "css": "", "tags": []}));
    for key in ["type", "sortf"] {
        if let Some(Value::String(s)) = nt.get(key) {
            nt[key] = json!(s.trim().parse::<i64>().unwrap_or(0));
        }
    }
    if let Some(fields) = nt.get_mut("flds").and_then(Value::as_array_mut) {
        for (ord, f) in fields.iter_mut().enumerate() {
            fill(
                f,
                json!({"ord": ord, "sticky": false, "rtl": false, "font": "Arial", "size": 20}),
            );
        }
    }
    if let Some(templates) = nt.get_mut("tmpls").and_then(Value::as_array_mut) {
        for (ord, t) in templates.iter_mut().enumerate() {
            fill(
                t,
                json!({"name": format!("Card {}", ord + 1), "ord": ord, "qfmt": "", "afmt": ""}),
            );
        }
    }
}

fn existing<T: std::hash::Hash + Eq + rusqlite::types::FromSql>(
    col: &Collection,
    sql: &str,
) -> Result<HashSet<T>, ApkgError> {
    let mut stmt = col.conn().prepare(sql)?;
    let set = stmt
        .query_map([], |r| r.get::<_, T>(0))?
        .collect::<Result<HashSet<_>, _>>()?;
    Ok(set)
}

fn uniquify(mut id: i64, taken: &mut HashSet<i64>, step: i64) -> Result<i64, ApkgError> {
    while taken.contains(&id) {
        id = id
            .checked_add(step)
            .ok_or_else(|| ApkgError::invalid("an id in the package is out of range"))?;
    }
    taken.insert(id);
    Ok(id)
}

/// A card borrowed by a filtered deck goes home, as Anki does when it does not import filtered
/// decks: original deck and due back, queue restored from the card type.
fn home_deck(card: &mut SrcCard) {
    if card.odid == 0 {
        return;
    }
    card.did = card.odid;
    if card.odue != 0 {
        card.due = card.odue;
    }
    card.odid = 0;
    card.odue = 0;
    if card.queue >= 0 {
        card.queue = match card.ctype {
            TYPE_NEW => 0,
            TYPE_REVIEW => QUEUE_REVIEW,
            // Learning due dates are epoch seconds in queue 1 and day numbers in queue 3.
            _ if card.due > 1_000_000_000 => QUEUE_LEARN,
            _ => QUEUE_DAY_LEARN,
        };
    }
}

pub(crate) fn merge(col: &Collection, src: &SourceData) -> Result<ImportSummary, ApkgError> {
    let now_ms = col.clock().now_ms();
    let now_secs = now_ms.div_euclid(1000);
    let mut target = read_target(col)?;
    let delta = days_elapsed(src.crt, now_secs) - days_elapsed(target.crt, now_secs);

    let max_model_id = target
        .models
        .keys()
        .filter_map(|k| k.parse::<i64>().ok())
        .max()
        .unwrap_or(0);
    let mut notetypes = NotetypeMapper {
        target: &mut target.models,
        resolved: HashMap::new(),
        next_id: now_ms.max(max_model_id.saturating_add(1)),
        now_secs,
        changed: false,
    };
    let mut decks = DeckMapper::new(&mut target.decks, now_ms);

    // Notes.
    let mut guids: HashSet<String> = existing(col, "SELECT guid FROM notes")?;
    let mut note_ids: HashSet<i64> = existing(col, "SELECT id FROM notes")?;
    // source note id -> (target note id, template count, cloze)
    let mut imported_notes: HashMap<i64, (i64, usize, bool)> = HashMap::new();
    let mut tags_changed = false;
    let mut insert_note = col.conn().prepare(
        "INSERT INTO notes (id, guid, mid, mod, usn, tags, flds, sfld, csum, flags, data)
         VALUES (?1, ?2, ?3, ?4, -1, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for note in &src.notes {
        let nt = src.notetypes.get(&note.mid).ok_or_else(|| {
            ApkgError::invalid(format!(
                "note {} uses a note type the package does not contain",
                note.id
            ))
        })?;
        let fields: Vec<&str> = note.flds.split('\x1f').collect();
        if fields.len() != nt.fields.len() {
            return Err(ApkgError::invalid(format!(
                "note {} has {} fields; its note type {:?} has {}",
                note.id,
                fields.len(),
                nt.name,
                nt.fields.len()
            )));
        }
        if !guids.insert(note.guid.clone()) {
            // Already in the collection (or twice in the package): Anki keeps the existing note.
            continue;
        }
        let mid = notetypes.map(nt);
        let id = uniquify(note.id, &mut note_ids, ID_STEP)?;
        let sort_field = strip_html(fields.get(nt.sort_field).copied().unwrap_or(""));
        insert_note.execute(params![
            id,
            note.guid,
            mid,
            note.mod_secs,
            note.tags,
            note.flds,
            sort_field,
            field_checksum(fields[0]),
            note.flags,
            note.data
        ])?;
        imported_notes.insert(note.id, (id, nt.templates.len(), nt.is_cloze));
        for tag in note.tags.split_whitespace() {
            if !target.tags.contains_key(tag) {
                target.tags.insert(tag.to_owned(), json!(-1));
                tags_changed = true;
            }
        }
    }

    // Cards.
    let mut cards: Vec<SrcCard> = src
        .cards
        .iter()
        .filter(|c| imported_notes.contains_key(&c.nid))
        .cloned()
        .collect();
    cards.iter_mut().for_each(home_deck);
    // New cards join the end of the target's new queue, keeping their relative order (cards that
    // shared a position, e.g. siblings, still do).
    let next_pos = target
        .conf
        .get("nextPos")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(1);
    let new_positions: Vec<i64> = cards
        .iter()
        .filter(|c| c.ctype == TYPE_NEW)
        .map(|c| c.due)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut card_ids: HashSet<i64> = existing(col, "SELECT id FROM cards")?;
    let mut imported_cards: HashMap<i64, i64> = HashMap::new();
    let mut insert_card = col.conn().prepare(
        "INSERT INTO cards (id, nid, did, ord, mod, usn, type, queue, due, ivl, factor, reps, lapses,
                            left, odue, odid, flags, data)
         VALUES (?1, ?2, ?3, ?4, ?5, -1, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0, 0, ?14, ?15)",
    )?;
    for card in &cards {
        let Some(&(nid, templates, cloze)) = imported_notes.get(&card.nid) else {
            continue;
        };
        if !cloze && card.ord as usize >= templates {
            return Err(ApkgError::invalid(format!(
                "card {} uses template {} of a note type with {} templates",
                card.id, card.ord, templates
            )));
        }
        let due = if card.ctype == TYPE_NEW {
            let rank = new_positions.binary_search(&card.due).unwrap_or(0) as i64;
            next_pos + rank
        } else if matches!(card.queue, QUEUE_REVIEW | QUEUE_DAY_LEARN) || card.ctype == TYPE_REVIEW
        {
            // Day numbers count from the source's crt: keep "due in N days" on our calendar.
            card.due.saturating_sub(delta)
        } else {
            card.due
        };
        let did = decks.map(src, card.did);
        let id = uniquify(card.id, &mut card_ids, ID_STEP)?;
        insert_card.execute(params![
            id,
            nid,
            did,
            card.ord,
            card.mod_secs,
            card.ctype,
            card.queue,
            due,
            card.ivl,
            card.factor,
            card.reps,
            card.lapses,
            card.left,
            card.flags,
            card.data
        ])?;
        imported_cards.insert(card.id, id);
    }

    // Review history. A row whose id the collection already has *for the same card* is that
    // very review imported before (e.g. the deck was deleted, which keeps its history, and is
    // now imported again): skip it as Anki does. Any other clash gets a fresh id.
    let existing_revlog: HashMap<i64, i64> = {
        let mut stmt = col.conn().prepare("SELECT id, cid FROM revlog")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    let mut revlog_ids: HashSet<i64> = existing_revlog.keys().copied().collect();
    let mut insert_rev = col.conn().prepare(
        "INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type)
         VALUES (?1, ?2, -1, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut revlog = 0;
    for r in &src.revlog {
        let Some(&cid) = imported_cards.get(&r.cid) else {
            continue;
        };
        if existing_revlog.get(&r.id) == Some(&cid) {
            continue;
        }
        let id = uniquify(r.id, &mut revlog_ids, 1)?;
        insert_rev.execute(params![
            id, cid, r.ease, r.ivl, r.last_ivl, r.factor, r.time, r.kind
        ])?;
        revlog += 1;
    }

    let deck_names: Vec<String> = decks.touched.iter().cloned().collect();
    let (decks_changed, models_changed) = (decks.changed, notetypes.changed);
    if !new_positions.is_empty() {
        target.conf.insert(
            "nextPos".into(),
            json!(next_pos + new_positions.len() as i64),
        );
    }
    let conn = col.conn();
    conn.execute(
        "UPDATE col SET conf = ?1, mod = ?2 WHERE id = 1",
        params![Value::Object(target.conf).to_string(), now_ms],
    )?;
    if decks_changed {
        conn.execute(
            "UPDATE col SET decks = ?1 WHERE id = 1",
            [Value::Object(target.decks).to_string()],
        )?;
    }
    if tags_changed {
        conn.execute(
            "UPDATE col SET tags = ?1 WHERE id = 1",
            [Value::Object(target.tags).to_string()],
        )?;
    }
    if models_changed {
        conn.execute(
            "UPDATE col SET models = ?1 WHERE id = 1",
            [Value::Object(target.models).to_string()],
        )?;
    }
    Ok(ImportSummary {
        decks: deck_names,
        notes: imported_notes.len(),
        cards: imported_cards.len(),
        revlog,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_note_type_is_completed_for_anki() {
        let mut nt = json!({"id": "5", "name": "X", "sortf": "1", "flds": [{"name": "A"}, {"name": "B"}],
                            "tmpls": [{"qfmt": "{{A}}"}]});
        complete_notetype(&mut nt);
        assert_eq!(nt["sortf"], 1);
        assert_eq!(nt["type"], 0);
        assert_eq!(nt["css"], "");
        assert_eq!(nt["flds"][1]["ord"], 1);
        assert_eq!(nt["flds"][1]["font"], "Arial");
        assert_eq!(nt["tmpls"][0]["name"], "Card 1");
        assert_eq!(nt["tmpls"][0]["qfmt"], "{{A}}");
    }

    #[test]
    fn deck_names_are_normalized() {
        assert_eq!(normalize_deck_name(" A :: B\u{7}::  ::C "), "A::B::C");
        assert_eq!(normalize_deck_name(":: ::"), "Imported");
    }

    #[test]
    fn filtered_cards_go_home() {
        let mut c = SrcCard {
            id: 1,
            nid: 1,
            did: 50,
            ord: 0,
            mod_secs: 0,
            ctype: 1,
            queue: 1,
            due: 1_700_000_000,
            ivl: 0,
            factor: 0,
            reps: 1,
            lapses: 0,
            left: 1,
            odue: 0,
            odid: 7,
            flags: 0,
            data: String::new(),
        };
        home_deck(&mut c);
        assert_eq!((c.did, c.odid, c.queue, c.due), (7, 0, 1, 1_700_000_000));
        c.ctype = 2;
        c.odid = 7;
        c.odue = 12;
        c.due = -100_000;
        home_deck(&mut c);
        assert_eq!((c.did, c.queue, c.due, c.odue), (7, QUEUE_REVIEW, 12, 0));
    }
}
