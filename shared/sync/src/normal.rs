//! Normal (incremental) sync, as Anki 26.9's server does it (`rslib/src/sync/collection/`),
//! on a server whose requests may each reach another container.
//!
//! **Usns.** Anki's server stamps what it changes with its current `usn`; javumbo's writes
//! (web app, API, imports) leave `usn = -1` — "changed on the server, not stamped yet" — and
//! the sync server stamps them ([`stamp_pending`]) before anything reads them: at `start` with
//! the current usn (so they are sent to this client), at `finish` with the next one (what the
//! web wrote while this sync ran reaches the device next time), and before a full download.
//! The result is exactly Anki's: the usn only moves at `finish` and at a download.
//!
//! **The session lives in the collection** (`javumbo_sync_session`, one row: the client's and
//! the server's usn, who is newer, the chunk cursors) and **the client's changes are staged**
//! (`javumbo_sync_stage`), every step a journaled write like any other: a container killed
//! between two requests loses nothing, and the next request, on any container, goes on. The
//! staged changes are applied in one operation at `finish` — graves, then note types, decks,
//! presets, tags and config, then revlog, cards and notes, with Anki's merge rules — so a sync
//! is never half applied. `sanityCheck2` applies them inside a savepoint, counts, and rolls
//! back. A new `start`, an `abort`, or a `meta`/`upload`/`download` discards a session, as
//! Anki's server does; a step with another session key is 409, as in Anki.
//!
//! Failures while applying (a note type whose fields changed, a note of an unknown note type,
//! a malformed row) are 400, which Anki's client answers with "check database" and a full
//! sync — what Anki's server does too.

use std::collections::{HashSet, VecDeque};

use javumbo_collection::notes::{FIELD_SEP, note_checksum, strip_html_preserving_media_filenames};
use javumbo_collection::sync_state::{GraveKind, add_grave};
use javumbo_collection::{ColJson, Collection, CollectionError, JsonObject};
use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use crate::messages::{
    Chunk, Graves, SanityCheckResponse, SanityCheckStatus, StartRequest, UnchunkedChanges,
};

type Result<T> = std::result::Result<T, CollectionError>;

/// Objects per chunk (graves and rows), as Anki's `CHUNK_SIZE`.
pub const CHUNK_SIZE: usize = 250;

/// Config keys that are the server's own state (the study queue, …), never replaced by a
/// client's config nor sent to one.
const PRIVATE_CONFIG_PREFIX: &str = "javumbo";

fn bad(msg: impl Into<String>) -> CollectionError {
    CollectionError::InvalidInput(msg.into())
}

/// The sync in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    skey: String,
    client_usn: i64,
    server_usn: i64,
    client_is_newer: bool,
    /// Ids below which the next chunk looks, per table (revlog, cards, notes).
    cursors: [i64; 3],
    chunks_done: bool,
}

impl Session {
    /// Whether a server row stamped `usn` changed since the client's last sync.
    fn pending(&self, usn: i64) -> bool {
        usn == -1 || usn >= self.client_usn
    }
}

fn session(col: &Collection) -> Result<Option<Session>> {
    Ok(col
        .conn()
        .query_row(
            "SELECT skey, client_usn, server_usn, lnewer, revlog_cursor, cards_cursor, \
             notes_cursor, chunks_done FROM javumbo_sync_session WHERE id = 1",
            [],
            |r| {
                Ok(Session {
                    skey: r.get(0)?,
                    client_usn: r.get(1)?,
                    server_usn: r.get(2)?,
                    client_is_newer: r.get(3)?,
                    cursors: [r.get(4)?, r.get(5)?, r.get(6)?],
                    chunks_done: r.get(7)?,
                })
            },
        )
        .optional()?)
}

/// The session this request belongs to: 409 without one, or with another key (Anki's
/// "no active sync" / "active sync with different key").
fn active(col: &Collection, skey: &str) -> Result<Session> {
    match session(col)? {
        None => Err(CollectionError::Conflict("no active sync".into())),
        Some(s) if s.skey != skey => Err(CollectionError::Conflict(
            "active sync with different key".into(),
        )),
        Some(s) => Ok(s),
    }
}

/// Discard the sync in progress and what it staged, if any. Returns whether there was one.
pub fn abort(col: &Collection) -> Result<bool> {
    javumbo_collection::sync_state::clear_sync_session(col.conn())
}

fn col_usn(col: &Collection) -> Result<i64> {
    Ok(col
        .conn()
        .query_row("SELECT usn FROM col WHERE id = 1", [], |r| r.get(0))?)
}

/// Stamp everything the server changed outside a sync (`usn = -1`: rows, graves, note types,
/// decks, presets, tags) with `usn`.
pub fn stamp_pending(col: &Collection, usn: i64) -> Result<()> {
    let conn = col.conn();
    for table in ["notes", "cards", "revlog", "javumbo_graves"] {
        conn.execute(
            &format!("UPDATE {table} SET usn = ?1 WHERE usn = -1"),
            [usn],
        )?;
    }
    for which in [ColJson::Models, ColJson::Decks, ColJson::Dconf] {
        let mut map = col.read_json(which)?;
        let mut changed = false;
        for obj in map.values_mut().filter_map(Value::as_object_mut) {
            if obj.get("usn").and_then(Value::as_i64) == Some(-1) {
                obj.insert("usn".into(), usn.into());
                changed = true;
            }
        }
        if changed {
            col.write_json(which, &map)?;
        }
    }
    let mut tags = col.read_json(ColJson::Tags)?;
    let mut changed = false;
    for v in tags.values_mut() {
        if v.as_i64() == Some(-1) {
            *v = usn.into();
            changed = true;
        }
    }
    if changed {
        col.write_json(ColJson::Tags, &tags)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The protocol's steps
// ---------------------------------------------------------------------------------------------

/// `start`: a new session (any older one discarded), the server's pending changes stamped,
/// and the server's graves the client has not seen. AnkiDroid's legacy graves are staged.
pub fn start(col: &Collection, skey: &str, req: &StartRequest) -> Result<Graves> {
    abort(col)?;
    // As Anki's server: yesterday's buried cards come back first (not marked for sync: each
    // side unburies on its own).
    col.unbury_if_new_day()?;
    let server_usn = col_usn(col)?;
    stamp_pending(col, server_usn)?;
    col.conn().execute(
        "INSERT INTO javumbo_sync_session (id, skey, client_usn, server_usn, lnewer, \
         started_ms, revlog_cursor, cards_cursor, notes_cursor, chunks_done) \
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6, 0)",
        params![
            skey,
            req.client_usn,
            server_usn,
            req.local_is_newer,
            col.clock().now_ms(),
            i64::MAX
        ],
    )?;
    if let Some(g) = &req.deprecated_client_graves {
        stage(col, "graves", g)?;
    }
    let mut graves = Graves::default();
    let mut stmt = col
        .conn()
        .prepare("SELECT oid, type FROM javumbo_graves WHERE usn >= ?1 ORDER BY oid")?;
    let mut rows = stmt.query([req.client_usn])?;
    while let Some(r) = rows.next()? {
        let oid: i64 = r.get(0)?;
        match r.get::<_, i64>(1)? {
            0 => graves.cards.push(oid),
            1 => graves.notes.push(oid),
            _ => graves.decks.push(oid),
        }
    }
    Ok(graves)
}

fn stage(col: &Collection, kind: &str, payload: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string(payload)?;
    col.conn().execute(
        "INSERT INTO javumbo_sync_stage (kind, payload) VALUES (?1, ?2)",
        params![kind, text],
    )?;
    Ok(())
}

/// `applyGraves`: the client's deletions, staged.
pub fn apply_graves(col: &Collection, skey: &str, graves: &Graves) -> Result<()> {
    active(col, skey)?;
    stage(col, "graves", graves)
}

/// `applyChanges`: the client's note types, decks, presets, tags and config, staged (checked
/// first); the answer is the server's changed ones, and its config when the client is not the
/// newer side.
pub fn apply_changes(
    col: &Collection,
    skey: &str,
    client: &UnchunkedChanges,
) -> Result<UnchunkedChanges> {
    let s = active(col, skey)?;
    for obj in client
        .notetypes
        .iter()
        .chain(&client.decks_and_config.0)
        .chain(&client.decks_and_config.1)
    {
        object_id(obj)?;
    }
    stage(col, "changes", client)?;

    // Decks the client deleted (staged graves) are not sent back, as on Anki's server, which
    // has applied the graves by now.
    let gone = staged_graves(col)?;
    let changed = |which: ColJson| -> Result<Vec<Value>> {
        Ok(col
            .read_json(which)?
            .into_iter()
            .filter(|(k, _)| {
                which != ColJson::Decks || k.parse().map_or(true, |id| !gone.decks.contains(&id))
            })
            .map(|(_, v)| v)
            .filter(|v| {
                v.get("usn")
                    .and_then(Value::as_i64)
                    .is_some_and(|u| u >= s.client_usn)
            })
            .collect())
    };
    // Decks whose counters answers given here changed: javumbo does not rewrite a deck at each
    // answer (Anki does), so they are brought up to date now, as this sync's changes (stored
    // too, so that both sides merge the client's copy of such a deck the same way: the newer
    // `mod` wins on the device and here). Their stored counters count up to now.
    let studied = col.decks_studied_since_usn(s.client_usn)?;
    if !studied.is_empty() {
        let mut map = col.read_json(ColJson::Decks)?;
        let mut stored = HashSet::new();
        for mut deck in studied {
            let Some(id) = deck.get("id").and_then(Value::as_i64) else {
                continue;
            };
            if gone.decks.contains(&id) {
                continue;
            }
            if let Some(o) = deck.as_object_mut() {
                o.insert("usn".into(), s.server_usn.into());
            }
            map.insert(id.to_string(), deck);
            stored.insert(id);
        }
        col.write_json(ColJson::Decks, &map)?;
        col.anchor_deck_counters(Some(&stored))?;
    }
    let mut decks = changed(ColJson::Decks)?;
    col.decks_for_device(&mut decks)?;
    let mut answer = UnchunkedChanges {
        notetypes: changed(ColJson::Models)?,
        decks_and_config: (decks, changed(ColJson::Dconf)?),
        tags: col
            .read_json(ColJson::Tags)?
            .into_iter()
            .filter(|(_, u)| u.as_i64().is_some_and(|u| u >= s.client_usn))
            .map(|(t, _)| t)
            .collect(),
        ..UnchunkedChanges::default()
    };
    if !s.client_is_newer {
        let mut conf = col.read_json(ColJson::Conf)?;
        conf.retain(|k, _| !k.starts_with(PRIVATE_CONFIG_PREFIX));
        answer.config = Some(conf);
        answer.creation_stamp = Some(col.crt()?);
    }
    Ok(answer)
}

/// `chunk`: the next rows changed on the server since the client's last sync (revlog, notes
/// and cards interleaved, newest id first, at most [`CHUNK_SIZE`]), the cursor kept in the
/// session; `done` when nothing is left.
pub fn chunk(col: &Collection, skey: &str) -> Result<Chunk> {
    let s = active(col, skey)?;
    if s.chunks_done {
        return Ok(Chunk {
            done: true,
            ..Chunk::default()
        });
    }
    let conn = col.conn();
    // Anki's server has applied the client's graves by now; ours are staged, so what they
    // delete is left out here (else the client would get back what it deleted).
    let gone = staged_graves(col)?;
    let skip: [&HashSet<i64>; 3] = [&HashSet::new(), &gone.cards, &gone.notes];
    const TABLES: [&str; 3] = ["revlog", "cards", "notes"];
    let mut queues: Vec<VecDeque<i64>> = Vec::with_capacity(3);
    for (i, (table, cursor)) in TABLES.iter().zip(s.cursors).enumerate() {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT id FROM {table} WHERE usn >= ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"
        ))?;
        let ids = stmt
            .query_map(
                params![s.client_usn, cursor, (CHUNK_SIZE + skip[i].len()) as i64],
                |r| r.get(0),
            )?
            .filter(|id| id.as_ref().map_or(true, |id| !skip[i].contains(id)))
            .collect::<rusqlite::Result<VecDeque<i64>>>()?;
        queues.push(ids);
    }
    // Anki takes one revlog entry, one note and one card in turn until the chunk is full.
    let mut taken: [Vec<i64>; 3] = Default::default();
    let mut limit = CHUNK_SIZE;
    while limit > 0 {
        let before = limit;
        for i in [0, 2, 1] {
            if limit > 0
                && let Some(id) = queues[i].pop_front()
            {
                taken[i].push(id);
                limit -= 1;
            }
        }
        if limit == before {
            break;
        }
    }
    let done = limit > 0;
    let mut cursors = s.cursors;
    for i in 0..3 {
        if let Some(&last) = taken[i].last() {
            cursors[i] = last;
        }
    }
    conn.execute(
        "UPDATE javumbo_sync_session SET revlog_cursor = ?1, cards_cursor = ?2, \
         notes_cursor = ?3, chunks_done = ?4 WHERE id = 1",
        params![cursors[0], cursors[1], cursors[2], done],
    )?;
    let mut out = Chunk {
        done,
        ..Chunk::default()
    };
    for id in &taken[0] {
        out.revlog.push(conn.query_row(
            "SELECT id, cid, usn, ease, ivl, lastIvl, factor, time, type FROM revlog WHERE id = ?1",
            [id],
            |r| row_values(r, 9),
        )?);
    }
    for id in &taken[1] {
        out.cards.push(conn.query_row(
            "SELECT id, nid, did, ord, mod, usn, type, queue, due, ivl, factor, reps, lapses, \
             left, odue, odid, flags, data FROM cards WHERE id = ?1",
            [id],
            |r| row_values(r, 18),
        )?);
    }
    for id in &taken[2] {
        // As Anki sends notes: sort field and checksum empty (the receiver computes them),
        // flags 0, data empty.
        out.notes.push(conn.query_row(
            "SELECT id, guid, mid, mod, usn, tags, flds, '', '', 0, '' FROM notes WHERE id = ?1",
            [id],
            |r| row_values(r, 11),
        )?);
    }
    Ok(out)
}

/// Everything the client's staged graves delete.
#[derive(Default)]
struct Gone {
    cards: HashSet<i64>,
    notes: HashSet<i64>,
    decks: HashSet<i64>,
}

fn staged_graves(col: &Collection) -> Result<Gone> {
    let mut gone = Gone::default();
    let mut stmt = col
        .conn()
        .prepare_cached("SELECT payload FROM javumbo_sync_stage WHERE kind = 'graves'")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let g: Graves = serde_json::from_str(&r.get::<_, String>(0)?)?;
        gone.cards.extend(g.cards);
        gone.notes.extend(g.notes);
        gone.decks.extend(g.decks);
    }
    Ok(gone)
}

fn row_values(r: &rusqlite::Row<'_>, n: usize) -> rusqlite::Result<Value> {
    use rusqlite::types::ValueRef;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(match r.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => v.into(),
            ValueRef::Real(v) => v.into(),
            ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned().into(),
        });
    }
    Ok(Value::Array(out))
}

/// `applyChunk`: the client's rows, checked and staged.
pub fn apply_chunk(col: &Collection, skey: &str, chunk: &Chunk) -> Result<()> {
    active(col, skey)?;
    parse_chunk(chunk)?;
    stage(col, "chunk", chunk)
}

/// `sanityCheck2`: the counts the collection will have once the staged changes are applied
/// (applied in a savepoint, counted, rolled back), compared with the client's as Anki's server
/// compares them (due counts and graves ignored).
pub fn sanity_check(col: &Collection, skey: &str, client: &Value) -> Result<SanityCheckResponse> {
    let s = active(col, skey)?;
    let conn = col.conn();
    conn.execute_batch("SAVEPOINT javumbo_sanity")?;
    let counted = merge_staged(col, &s).and_then(|_| counts(col));
    conn.execute_batch("ROLLBACK TO javumbo_sanity; RELEASE javumbo_sanity")?;
    let server = counted?;
    let mut theirs = client.as_array().cloned().unwrap_or_default();
    if theirs.len() == server.len() {
        theirs[0] = Value::from(vec![0, 0, 0]);
        theirs[4] = 0.into();
    }
    let server = Value::from(server);
    let ok = Value::from(theirs.clone()) == server;
    Ok(SanityCheckResponse {
        status: if ok {
            SanityCheckStatus::Ok
        } else {
            SanityCheckStatus::Bad
        },
        client: Some(Value::from(theirs)),
        server: Some(server),
    })
}

fn counts(col: &Collection) -> Result<Vec<Value>> {
    let conn = col.conn();
    let count = |sql: &str| -> Result<i64> { Ok(conn.query_row(sql, [], |r| r.get::<_, i64>(0))?) };
    Ok(vec![
        Value::from(vec![0, 0, 0]),
        count("SELECT count(*) FROM cards")?.into(),
        count("SELECT count(*) FROM notes")?.into(),
        count("SELECT count(*) FROM revlog")?.into(),
        0.into(),
        (col.read_json(ColJson::Models)?.len() as i64).into(),
        (col.read_json(ColJson::Decks)?.len() as i64).into(),
        (col.read_json(ColJson::Dconf)?.len() as i64).into(),
    ])
}

/// `finish`: the staged changes applied in this one operation, the session gone, `usn` one
/// up, `mod = ls = now`; what the web wrote during the sync is stamped with the new usn. The
/// answer is the new `mod`, which the client stores.
pub fn finish(col: &Collection, skey: &str, now_ms: i64) -> Result<i64> {
    let s = active(col, skey)?;
    let client_decks = merge_staged(col, &s)?;
    // The client's decks carry its counters of today (a custom study extension included),
    // which now count for javumbo too, as Anki reads a deck's counters.
    if !client_decks.is_empty() {
        col.anchor_deck_counters(Some(&client_decks))?;
    }
    abort(col)?;
    let conn = col.conn();
    let modified: i64 = conn.query_row("SELECT mod FROM col WHERE id = 1", [], |r| r.get(0))?;
    let new_mod = now_ms.max(modified + 1);
    let new_usn = s.server_usn + 1;
    conn.execute(
        "UPDATE col SET mod = ?1, ls = ?1, usn = ?2 WHERE id = 1",
        params![new_mod, new_usn],
    )?;
    stamp_pending(col, new_usn)?;
    Ok(new_mod)
}

// ---------------------------------------------------------------------------------------------
// Applying the client's changes (Anki's merge rules)
// ---------------------------------------------------------------------------------------------

/// Returns the ids of the client's decks that were taken.
fn merge_staged(col: &Collection, s: &Session) -> Result<HashSet<i64>> {
    let staged: Vec<(String, String)> = {
        let mut stmt = col
            .conn()
            .prepare("SELECT kind, payload FROM javumbo_sync_stage ORDER BY seq")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut client_decks = HashSet::new();
    for (kind, payload) in staged {
        match kind.as_str() {
            "graves" => merge_graves(col, s, &serde_json::from_str(&payload)?)?,
            "changes" => {
                client_decks.extend(merge_changes(col, s, &serde_json::from_str(&payload)?)?)
            }
            "chunk" => merge_chunk(col, s, &parse_chunk(&serde_json::from_str(&payload)?)?)?,
            other => return Err(bad(format!("unknown staged change {other}"))),
        }
    }
    Ok(client_decks)
}

/// Anki's `apply_graves`: each object removed (a note alone: its cards come as card graves)
/// and a grave recorded for the other devices.
fn merge_graves(col: &Collection, s: &Session, g: &Graves) -> Result<()> {
    let conn = col.conn();
    for &nid in &g.notes {
        conn.execute("DELETE FROM notes WHERE id = ?1", [nid])?;
        add_grave(conn, nid, GraveKind::Note, s.server_usn)?;
    }
    for &cid in &g.cards {
        conn.execute("DELETE FROM cards WHERE id = ?1", [cid])?;
        add_grave(conn, cid, GraveKind::Card, s.server_usn)?;
    }
    if !g.decks.is_empty() {
        let mut decks = col.read_json(ColJson::Decks)?;
        for did in &g.decks {
            decks.remove(&did.to_string());
            add_grave(conn, *did, GraveKind::Deck, s.server_usn)?;
        }
        col.write_json(ColJson::Decks, &decks)?;
    }
    Ok(())
}

fn object_id(obj: &Value) -> Result<i64> {
    let id = obj.get("id").ok_or_else(|| bad("object without an id"))?;
    id.as_i64()
        .or_else(|| id.as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| bad("object id is not an integer"))
}

fn object_mtime(obj: &Value) -> i64 {
    obj.get("mod")
        .and_then(|m| m.as_i64().or_else(|| m.as_f64().map(|f| f as i64)))
        .unwrap_or(0)
}

fn array_len(obj: &Value, key: &str) -> usize {
    obj.get(key).and_then(Value::as_array).map_or(0, Vec::len)
}

/// Note types, decks and presets: the client's replaces ours when ours is not newer (a note
/// type whose fields or templates changed count is a schema change: 400, so the client asks
/// for a full sync). Tags are registered; the config replaces ours when the client is newer.
/// Returns the ids of the objects taken from the client's decks.
fn merge_changes(col: &Collection, s: &Session, c: &UnchunkedChanges) -> Result<Vec<i64>> {
    let merge = |which: ColJson, objects: &[Value], schema_checked: bool| -> Result<Vec<i64>> {
        let mut taken = Vec::new();
        if objects.is_empty() {
            return Ok(taken);
        }
        let mut map = col.read_json(which)?;
        for obj in objects {
            let id = object_id(obj)?;
            let key = id.to_string();
            if let Some(existing) = map.get(&key) {
                if object_mtime(existing) > object_mtime(obj) {
                    continue;
                }
                if schema_checked
                    && (array_len(existing, "flds") != array_len(obj, "flds")
                        || array_len(existing, "tmpls") != array_len(obj, "tmpls"))
                {
                    return Err(bad("notetype schema changed"));
                }
            }
            let mut obj = obj.clone();
            if let Some(o) = obj.as_object_mut() {
                o.insert("usn".into(), s.server_usn.into());
                if which != ColJson::Dconf {
                    unique_name(&map, id, o, col.clock().now_secs());
                }
            }
            map.insert(key, obj);
            taken.push(id);
        }
        col.write_json(which, &map)?;
        Ok(taken)
    };
    merge(ColJson::Models, &c.notetypes, true)?;
    let decks = merge(ColJson::Decks, &c.decks_and_config.0, false)?;
    merge(ColJson::Dconf, &c.decks_and_config.1, false)?;
    if !c.tags.is_empty() {
        let mut tags = col.read_json(ColJson::Tags)?;
        for tag in &c.tags {
            let existing = tags
                .keys()
                .find(|k| k.to_lowercase() == tag.to_lowercase())
                .cloned();
            tags.insert(existing.unwrap_or_else(|| tag.clone()), s.server_usn.into());
        }
        col.write_json(ColJson::Tags, &tags)?;
    }
    if let Some(crt) = c.creation_stamp {
        col.conn()
            .execute("UPDATE col SET crt = ?1 WHERE id = 1", [crt])?;
    }
    if let Some(conf) = &c.config {
        // The whole map replaced, as Anki's server does; the server's own keys kept.
        let mut merged: JsonObject = conf
            .iter()
            .filter(|(k, _)| !k.starts_with(PRIVATE_CONFIG_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, v) in col.read_json(ColJson::Conf)? {
            if k.starts_with(PRIVATE_CONFIG_PREFIX) {
                merged.insert(k, v);
            }
        }
        col.write_json(ColJson::Conf, &merged)?;
    }
    Ok(decks)
}

/// Anki's `ensure_deck_name_unique` and `ensure_notetype_name_unique`: a deck or note type
/// arriving under a name another one has gets `+` appended until it is unique (and is then
/// modified now).
fn unique_name(existing: &JsonObject, id: i64, obj: &mut JsonObject, now_secs: i64) {
    let Some(mut name) = obj.get("name").and_then(Value::as_str).map(str::to_owned) else {
        return;
    };
    let taken = |name: &str| {
        existing.iter().any(|(k, v)| {
            k != &id.to_string()
                && v.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.to_lowercase() == name.to_lowercase())
        })
    };
    let mut changed = false;
    while taken(&name) {
        name.push('+');
        changed = true;
    }
    if changed {
        obj.insert("name".into(), name.into());
        obj.insert("mod".into(), now_secs.into());
    }
}

/// One revlog row as the protocol carries it.
#[derive(Debug, Clone, PartialEq)]
struct RevlogRow([i64; 9]);

/// One card row: 17 integers and `data`.
#[derive(Debug, Clone, PartialEq)]
struct CardRow {
    ints: [i64; 17],
    data: String,
}

/// One note row: `[id, guid, mid, mod, usn, tags, flds, sfld, csum, flags, data]`.
#[derive(Debug, Clone, PartialEq)]
struct NoteRow {
    id: i64,
    guid: String,
    mid: i64,
    mtime: i64,
    tags: String,
    flds: String,
    flags: i64,
    data: String,
}

#[derive(Debug, Default)]
struct ParsedChunk {
    revlog: Vec<RevlogRow>,
    cards: Vec<CardRow>,
    notes: Vec<NoteRow>,
}

/// An integer as Anki reads one (its serde accepts floats for some card fields).
fn int(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

fn parse_chunk(c: &Chunk) -> Result<ParsedChunk> {
    fn fields<'a>(row: &'a Value, n: usize, what: &str) -> Result<&'a [Value]> {
        match row.as_array() {
            Some(a) if a.len() == n => Ok(a),
            _ => Err(bad(format!("a {what} row must have {n} fields"))),
        }
    }
    // The ranges Anki's own rows have (its server refuses a row that does not fit them): what
    // the scheduler may meet in a collection, so nothing out of them reaches it.
    const I32: (i64, i64) = (i32::MIN as i64, i32::MAX as i64);
    const U32: (i64, i64) = (0, u32::MAX as i64);
    const U16: (i64, i64) = (0, u16::MAX as i64);
    const U8: (i64, i64) = (0, u8::MAX as i64);
    const ANY: (i64, i64) = (i64::MIN, i64::MAX);
    // [id, cid, usn, ease, ivl, lastIvl, factor, time, type]
    const REVLOG: [(i64, i64); 9] = [ANY, ANY, ANY, (0, 4), I32, I32, U32, U32, (0, 5)];
    // [id, nid, did, ord, mod, usn, type, queue, due, ivl, factor, reps, lapses, left, odue,
    //  odid, flags]
    const CARD: [(i64, i64); 17] = [
        ANY,
        ANY,
        ANY,
        U16,
        ANY,
        ANY,
        (0, 3),
        (-3, 4),
        I32,
        U32,
        U16,
        U32,
        U32,
        U32,
        I32,
        ANY,
        U8,
    ];
    let checked = |v: &Value, (lo, hi): (i64, i64), what: &str| -> Result<i64> {
        let n = int(v).ok_or_else(|| bad(format!("{what} fields are integers")))?;
        if (lo..=hi).contains(&n) {
            Ok(n)
        } else {
            Err(bad(format!("a {what} field is out of range: {n}")))
        }
    };
    let mut out = ParsedChunk::default();
    for row in &c.revlog {
        let f = fields(row, 9, "revlog")?;
        let mut ints = [0; 9];
        for (i, v) in f.iter().enumerate() {
            ints[i] = checked(v, REVLOG[i], "revlog")?;
        }
        out.revlog.push(RevlogRow(ints));
    }
    for row in &c.cards {
        let f = fields(row, 18, "card")?;
        let mut ints = [0; 17];
        for (i, v) in f[..17].iter().enumerate() {
            ints[i] = checked(v, CARD[i], "card")?;
        }
        let data = text(&f[17]).ok_or_else(|| bad("card data is text"))?;
        out.cards.push(CardRow { ints, data });
    }
    for row in &c.notes {
        let f = fields(row, 11, "note")?;
        let num = |i: usize| int(&f[i]).ok_or_else(|| bad("note ids and stamps are integers"));
        let txt = |i: usize| text(&f[i]).ok_or_else(|| bad("note texts are strings"));
        out.notes.push(NoteRow {
            id: num(0)?,
            guid: txt(1)?,
            mid: num(2)?,
            mtime: num(3)?,
            tags: txt(5)?,
            flds: txt(6)?,
            flags: int(&f[9]).unwrap_or(0),
            data: text(&f[10]).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Revlog entries added when new; a card or note replaces ours when ours did not change since
/// the client's last sync, or is older (Anki's `add_or_update_*_if_newer`). Rows are stamped
/// with the server usn of this sync.
fn merge_chunk(col: &Collection, s: &Session, c: &ParsedChunk) -> Result<()> {
    let conn = col.conn();
    for RevlogRow(v) in &c.revlog {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            v[0],
            v[1],
            s.server_usn,
            v[3],
            v[4],
            v[5],
            v[6],
            v[7],
            v[8]
        ])?;
    }
    let existing = |table: &str, id: i64| -> Result<Option<(i64, i64)>> {
        Ok(conn
            .prepare_cached(&format!("SELECT mod, usn FROM {table} WHERE id = ?1"))?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    };
    let proceed = |row: Option<(i64, i64)>, mtime: i64| match row {
        None => true,
        Some((ours, usn)) => !s.pending(usn) || ours < mtime,
    };
    for card in &c.cards {
        let v = &card.ints;
        if !proceed(existing("cards", v[0])?, v[4]) {
            continue;
        }
        conn.prepare_cached(
            "INSERT OR REPLACE INTO cards (id, nid, did, ord, mod, usn, type, queue, due, ivl, \
             factor, reps, lapses, left, odue, odid, flags, data) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
        )?
        .execute(params![
            v[0],
            v[1],
            v[2],
            v[3],
            v[4],
            s.server_usn,
            v[6],
            v[7],
            v[8],
            v[9],
            v[10],
            v[11],
            v[12],
            v[13],
            v[14],
            v[15],
            v[16],
            card.data
        ])?;
    }
    if c.notes.is_empty() {
        return Ok(());
    }
    let models = col.read_json(ColJson::Models)?;
    for note in &c.notes {
        if !proceed(existing("notes", note.id)?, note.mtime) {
            continue;
        }
        // Anki's `prepare_for_update`: the sort field and checksum from the note type.
        let nt = models
            .get(&note.mid.to_string())
            .ok_or_else(|| bad("note missing notetype"))?;
        let sort_idx = nt.get("sortf").and_then(Value::as_u64).unwrap_or(0) as usize;
        let fields: Vec<&str> = note.flds.split(FIELD_SEP).collect();
        let expected = array_len(nt, "flds").max(1);
        if fields.len() != expected {
            return Err(bad(format!(
                "note has {} fields, expected {expected}",
                fields.len()
            )));
        }
        let sort = fields.get(sort_idx).copied().unwrap_or("");
        conn.prepare_cached(
            "INSERT OR REPLACE INTO notes (id, guid, mid, mod, usn, tags, flds, sfld, csum, \
             flags, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            note.id,
            note.guid,
            note.mid,
            note.mtime,
            s.server_usn,
            note.tags,
            note.flds,
            strip_html_preserving_media_filenames(sort),
            note_checksum(fields[0]),
            note.flags,
            note.data
        ])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
