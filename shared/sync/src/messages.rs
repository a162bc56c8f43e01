//! The JSON bodies of every `/sync/*` method, as the version-11 client sends and expects them.
//! Objects the protocol carries as schema-11 JSON (note types, decks, presets, config) stay
//! [`serde_json::Value`]; table rows are positional arrays (revlog 9 fields, cards 18, notes 11).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `hostKey` request.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct HostKeyRequest {
    #[serde(rename = "u")]
    pub username: String,
    #[serde(rename = "p")]
    pub password: String,
}

/// `hostKey` answer.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct HostKeyResponse {
    pub key: String,
}

/// `meta` request.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MetaRequest {
    #[serde(rename = "v")]
    pub sync_version: u8,
    #[serde(rename = "cv", default)]
    pub client_version: String,
}

/// `meta` answer. Every field but `empty` is required by the client (older servers broke
/// clients by omitting `media_usn`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SyncMeta {
    /// Last change of the collection, ms.
    #[serde(rename = "mod")]
    pub modified: i64,
    /// Last schema change, ms: different from the client's → full sync.
    #[serde(rename = "scm")]
    pub schema: i64,
    pub usn: i32,
    /// Server time, s (the client refuses a clock more than 5 minutes off).
    #[serde(rename = "ts")]
    pub current_time: i64,
    #[serde(rename = "msg")]
    pub server_message: String,
    /// `false` stops the client, showing `msg`.
    #[serde(rename = "cont")]
    pub should_continue: bool,
    #[serde(rename = "hostNum")]
    pub host_number: u32,
    /// No cards: the client may upload without asking.
    #[serde(default)]
    pub empty: bool,
    pub media_usn: i32,
}

/// Deletions: ids of cards, notes and decks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Graves {
    pub cards: Vec<i64>,
    pub notes: Vec<i64>,
    pub decks: Vec<i64>,
}

/// `start` request.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct StartRequest {
    #[serde(rename = "minUsn")]
    pub client_usn: i32,
    #[serde(rename = "lnewer")]
    pub local_is_newer: bool,
    /// Legacy clients (AnkiDroid's old path) send their graves here.
    #[serde(rename = "graves", default)]
    pub deprecated_client_graves: Option<Graves>,
}

/// `applyGraves` request.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ApplyGravesRequest {
    pub chunk: Graves,
}

/// The unchunked objects exchanged by `applyChanges`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct UnchunkedChanges {
    #[serde(rename = "models", default)]
    pub notetypes: Vec<Value>,
    /// `[decks, deck option presets]`.
    #[serde(rename = "decks", default)]
    pub decks_and_config: (Vec<Value>, Vec<Value>),
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(rename = "conf", default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Map<String, Value>>,
    #[serde(rename = "crt", default, skip_serializing_if = "Option::is_none")]
    pub creation_stamp: Option<i64>,
}

/// `applyChanges` request.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ApplyChangesRequest {
    pub changes: UnchunkedChanges,
}

/// A chunk of rows (server → client from `chunk`, client → server in `applyChunk`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Chunk {
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub revlog: Vec<Value>,
    #[serde(default)]
    pub cards: Vec<Value>,
    #[serde(default)]
    pub notes: Vec<Value>,
}

/// `applyChunk` request.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ApplyChunkRequest {
    pub chunk: Chunk,
}

/// `sanityCheck2` request: `[[new, learn, review], cards, notes, revlog, graves, notetypes,
/// decks, deck_config]`, kept raw.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SanityCheckRequest {
    pub client: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SanityCheckStatus {
    Ok,
    Bad,
}

/// `sanityCheck2` answer; `bad` makes the client roll back, abort and mark its collection as
/// needing a full sync.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SanityCheckResponse {
    pub status: SanityCheckStatus,
    #[serde(rename = "c", default)]
    pub client: Option<Value>,
    #[serde(rename = "s", default)]
    pub server: Option<Value>,
}

/// The body of a request without arguments (`{"_pad":null}` from the client; anything is
/// accepted).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct EmptyInput {
    #[serde(rename = "_pad", default)]
    pub pad: Option<()>,
}

/// Anki's full-upload answer: the exact string `OK`, or a message the client shows as is.
pub const UPLOAD_OK: &str = "OK";
/// Anki's answer to an upload it cannot open.
pub const CORRUPT_MESSAGE: &str =
    "Your upload was corrupt. Please use Check Database, or restore from backup.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_has_every_field_the_client_requires() {
        let m = SyncMeta {
            modified: 1,
            schema: 2,
            usn: 3,
            current_time: 4,
            server_message: String::new(),
            should_continue: true,
            host_number: 0,
            empty: false,
            media_usn: 0,
        };
        let v = serde_json::to_value(&m).unwrap();
        for k in [
            "mod",
            "scm",
            "usn",
            "ts",
            "msg",
            "cont",
            "hostNum",
            "empty",
            "media_usn",
        ] {
            assert!(v.get(k).is_some(), "{k} missing from {v}");
        }
    }

    #[test]
    fn client_bodies_parse() {
        let s: StartRequest =
            serde_json::from_str(r#"{"minUsn":3,"lnewer":true,"graves":null}"#).unwrap();
        assert_eq!(s.client_usn, 3);
        let c: ApplyChangesRequest = serde_json::from_str(
            r#"{"changes":{"models":[],"decks":[[],[]],"tags":["a"],"conf":{"x":1},"crt":5}}"#,
        )
        .unwrap();
        assert_eq!(c.changes.tags, ["a"]);
        let _: EmptyInput = serde_json::from_str(r#"{"_pad":null}"#).unwrap();
        let _: MetaRequest =
            serde_json::from_str(r#"{"v":11,"cv":"anki,26.09.3 (29bb700b),linux"}"#).unwrap();
        let h: HostKeyRequest = serde_json::from_str(r#"{"u":"ana","p":"pw"}"#).unwrap();
        assert_eq!(h.username, "ana");
    }

    #[test]
    fn a_done_chunk_serialises_with_empty_rows() {
        let v = serde_json::to_value(Chunk {
            done: true,
            ..Chunk::default()
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"done":true,"revlog":[],"cards":[],"notes":[]})
        );
    }
}
