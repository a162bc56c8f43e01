//! Normal (incremental) sync, the part that is built: a sync in which neither side changed
//! anything but the collection config completes, and anything more is refused cleanly.
//!
//! The server keeps no per-sync state (each request may reach another container), so every
//! decision is made from the collection itself:
//! - **clean** means `ls == mod` in the `col` row: nothing changed on the server since the last
//!   sync ([`crate::full`] explains how `meta` keeps it so);
//! - a client that sends rows, deletions, note types, decks, presets or tags **taints** the
//!   collection (`ls = -1`, journaled): javumbo cannot merge them yet. The sanity check then
//!   answers `bad`, which makes the client roll back, abort, and mark its own collection as
//!   needing a full sync, so its next sync offers upload or download: nothing is lost and
//!   nothing diverges silently;
//! - the client's config (`conf`, `crt`) is applied as Anki's server applies it (the whole map
//!   replaced when the client is newer; the server's sent when it is newer): config is the one
//!   thing a device changes just by being used, and refusing it would force a full sync after
//!   every study session.
//!
//! The next step (staged chunks applied at `finish`) is in `docs/ARCHITECTURE.md#sync`.

use javumbo_collection::{Collection, CollectionError};
use serde_json::Value;

use crate::messages::{Chunk, Graves, SanityCheckResponse, SanityCheckStatus, UnchunkedChanges};

/// Mark the collection as holding client changes javumbo could not merge.
pub fn taint(col: &Collection) -> Result<(), CollectionError> {
    col.conn()
        .execute("UPDATE col SET ls = -1 WHERE id = 1", [])?;
    Ok(())
}

/// Whether a graves message deletes anything.
pub fn graves_are_empty(g: &Graves) -> bool {
    g.cards.is_empty() && g.notes.is_empty() && g.decks.is_empty()
}

/// Whether a chunk carries rows.
pub fn chunk_is_empty(c: &Chunk) -> bool {
    c.revlog.is_empty() && c.cards.is_empty() && c.notes.is_empty()
}

/// Whether the client's unchunked changes are only config (what this module can apply).
pub fn only_config(c: &UnchunkedChanges) -> bool {
    c.notetypes.is_empty()
        && c.decks_and_config.0.is_empty()
        && c.decks_and_config.1.is_empty()
        && c.tags.is_empty()
}

/// `applyChanges`: apply the client's config when it sent it (it does when it is the newer
/// side), taint on anything else, and answer the server's side: nothing changed on a clean
/// server, plus its config when the client did not send one (the server is the newer side).
pub fn apply_changes(
    col: &Collection,
    client: &UnchunkedChanges,
) -> Result<UnchunkedChanges, CollectionError> {
    if !only_config(client) {
        taint(col)?;
    }
    let conn = col.conn();
    let mut answer = UnchunkedChanges::default();
    match &client.config {
        Some(conf) => {
            let json = serde_json::to_string(conf)?;
            conn.execute("UPDATE col SET conf = ?1 WHERE id = 1", [json])?;
            if let Some(crt) = client.creation_stamp {
                conn.execute("UPDATE col SET crt = ?1 WHERE id = 1", [crt])?;
            }
        }
        None => {
            let (conf, crt): (String, i64) =
                conn.query_row("SELECT conf, crt FROM col WHERE id = 1", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let conf: serde_json::Map<String, Value> = serde_json::from_str(&conf)?;
            answer.config = Some(conf);
            answer.creation_stamp = Some(crt);
        }
    }
    Ok(answer)
}

/// `sanityCheck2`: `ok` only when the collection is clean and the client's counts equal ours
/// (due counts and graves ignored, as Anki's server does).
pub fn sanity_check(
    col: &Collection,
    client: &Value,
) -> Result<SanityCheckResponse, CollectionError> {
    let conn = col.conn();
    let (modified, last_sync): (i64, i64) =
        conn.query_row("SELECT mod, ls FROM col WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let count =
        |sql: &str| -> Result<i64, CollectionError> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
    let json_len = |column: &str| -> Result<i64, CollectionError> {
        let raw: String =
            conn.query_row(&format!("SELECT {column} FROM col WHERE id = 1"), [], |r| {
                r.get(0)
            })?;
        let v: serde_json::Map<String, Value> = serde_json::from_str(&raw)?;
        Ok(v.len() as i64)
    };
    let server = vec![
        Value::from(vec![0, 0, 0]),
        count("SELECT count(*) FROM cards")?.into(),
        count("SELECT count(*) FROM notes")?.into(),
        count("SELECT count(*) FROM revlog")?.into(),
        0.into(),
        json_len("models")?.into(),
        json_len("decks")?.into(),
        json_len("dconf")?.into(),
    ];
    let mut theirs = client.as_array().cloned().unwrap_or_default();
    if theirs.len() == server.len() {
        theirs[0] = Value::from(vec![0, 0, 0]);
        theirs[4] = 0.into();
    }
    let ok = modified == last_sync && theirs == server;
    Ok(SanityCheckResponse {
        status: if ok {
            SanityCheckStatus::Ok
        } else {
            SanityCheckStatus::Bad
        },
        client: Some(Value::from(theirs)),
        server: Some(Value::from(server)),
    })
}

/// `finish`: the collection's new `mod` (also its `ls`), `usn` one up, as Anki's server does.
/// `None` when the collection is no longer clean (a web write raced the sync, or the client
/// sent what we could not merge): the caller answers a conflict and nothing is written.
pub fn finish(col: &Collection, now_ms: i64) -> Result<Option<i64>, CollectionError> {
    let conn = col.conn();
    let (modified, last_sync): (i64, i64) =
        conn.query_row("SELECT mod, ls FROM col WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    if modified != last_sync {
        return Ok(None);
    }
    let new_mod = now_ms.max(modified + 1);
    conn.execute(
        "UPDATE col SET mod = ?1, ls = ?1, usn = usn + 1 WHERE id = 1",
        [new_mod],
    )?;
    Ok(Some(new_mod))
}

#[cfg(test)]
mod tests {
    use javumbo_collection::{CreateOptions, ManualClock};

    use super::*;

    fn clean() -> Collection {
        let col = Collection::create_in_memory(
            ManualClock::new(1_704_110_400_000),
            &CreateOptions::default(),
        )
        .unwrap();
        col.conn().execute("UPDATE col SET ls = mod", []).unwrap();
        col
    }

    fn counts(col: &Collection) -> Value {
        let r = sanity_check(col, &Value::Null).unwrap();
        r.server.unwrap()
    }

    #[test]
    fn a_config_only_sync_completes() {
        let col = clean();
        let mut conf = serde_json::Map::new();
        conf.insert("curDeck".into(), 1.into());
        let client = UnchunkedChanges {
            config: Some(conf.clone()),
            creation_stamp: Some(5),
            ..UnchunkedChanges::default()
        };
        let answer = apply_changes(&col, &client).unwrap();
        assert!(answer.config.is_none(), "the client was newer");
        let stored: String = col
            .conn()
            .query_row("SELECT conf FROM col", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&stored).unwrap(),
            Value::Object(conf)
        );
        let ours = counts(&col);
        let mut theirs = ours.clone();
        theirs[0] = serde_json::json!([3, 1, 2]);
        theirs[4] = 7.into();
        assert_eq!(
            sanity_check(&col, &theirs).unwrap().status,
            SanityCheckStatus::Ok
        );
        let m = finish(&col, 1_704_110_500_000).unwrap().expect("clean");
        let (modified, ls): (i64, i64) = col
            .conn()
            .query_row("SELECT mod, ls FROM col", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((modified, ls), (m, m));
    }

    #[test]
    fn the_server_sends_its_config_when_the_client_does_not() {
        let col = clean();
        let answer = apply_changes(&col, &UnchunkedChanges::default()).unwrap();
        assert!(answer.config.is_some());
        assert!(answer.creation_stamp.is_some());
    }

    #[test]
    fn unmergeable_client_changes_fail_the_sanity_check() {
        let col = clean();
        let client = UnchunkedChanges {
            tags: vec!["new".into()],
            ..UnchunkedChanges::default()
        };
        apply_changes(&col, &client).unwrap();
        let ours = counts(&col);
        assert_eq!(
            sanity_check(&col, &ours).unwrap().status,
            SanityCheckStatus::Bad
        );
        assert_eq!(finish(&col, 1_704_110_500_000).unwrap(), None);
    }

    #[test]
    fn different_counts_fail_the_sanity_check() {
        let col = clean();
        let mut theirs = counts(&col);
        theirs[1] = (theirs[1].as_i64().unwrap() + 1).into();
        assert_eq!(
            sanity_check(&col, &theirs).unwrap().status,
            SanityCheckStatus::Bad
        );
        assert_eq!(
            sanity_check(&col, &Value::Null).unwrap().status,
            SanityCheckStatus::Bad
        );
    }

    #[test]
    fn a_web_write_during_the_sync_is_never_overwritten() {
        let col = clean();
        col.conn()
            .execute("UPDATE col SET mod = mod + 1", [])
            .unwrap();
        assert_eq!(finish(&col, 1_704_110_500_000).unwrap(), None);
    }
}
