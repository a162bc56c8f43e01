//! Media sync (`/msync/*`) as Anki 26.9's server speaks it: the JSON messages, the zip files
//! both ways and their bounds (`docs/ARCHITECTURE.md#media-sync`). The log of changes lives in
//! the collection (`javumbo_collection::media_sync`), the bytes in the blob store; this module
//! knows neither store.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use unicode_normalization::is_nfc;

use crate::SyncError;

/// Files in one zip, either way (Anki's `MAX_MEDIA_FILES_IN_ZIP`).
pub const MAX_FILES_IN_ZIP: usize = 25;
/// A download zip stops growing past this many bytes (Anki's `MEDIA_SYNC_TARGET_ZIP_BYTES`).
pub const TARGET_ZIP_BYTES: u64 = 2_621_440;
/// One file at most (Anki's `MAX_INDIVIDUAL_MEDIA_FILE_SIZE`).
pub const MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;
/// A file name at most, in bytes (Anki's `MAX_MEDIA_FILENAME_LENGTH_SERVER`).
pub const MAX_NAME_BYTES: usize = 255;
/// Log entries per `mediaChanges` answer (Anki's server query's `LIMIT`).
pub const CHANGES_PER_REQUEST: usize = 1000;
/// The `_meta` member of an upload, at most (Anki reads at most 50 KiB of it).
const MAX_META_BYTES: u64 = 50 * 1024;

/// Every JSON answer of media sync: `{"data": ..., "err": ""}`.
#[derive(Debug, Serialize)]
pub struct JsonResult<T> {
    pub data: T,
    pub err: &'static str,
}

impl<T> JsonResult<T> {
    pub fn ok(data: T) -> Self {
        Self { data, err: "" }
    }
}

#[derive(Debug, Deserialize)]
pub struct BeginRequest {
    #[serde(rename = "v", default)]
    pub client_version: String,
}

#[derive(Debug, Serialize)]
pub struct BeginResponse {
    pub usn: i32,
    /// Anki's server returns the host key where a session key used to be.
    pub sk: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangesRequest {
    pub last_usn: i32,
}

/// One change as `mediaChanges` sends it: `[fname, usn, sha1]`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Change(pub String, pub i32, pub String);

#[derive(Debug, Deserialize)]
pub struct DownloadRequest {
    pub files: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct SanityRequest {
    pub local: u32,
}

/// `"OK"`, or `"mediaSanity"` when the counts differ (the client then resets its media log).
pub fn sanity_answer(server: u32, client: u32) -> &'static str {
    if server == client {
        "OK"
    } else {
        "mediaSanity"
    }
}

/// `[processed, current_usn]`.
#[derive(Debug, Serialize)]
pub struct UploadResponse(pub usize, pub i32);

/// Lowercase hex SHA-1, the checksum Anki's media sync compares.
pub fn sha1_hex(bytes: &[u8]) -> String {
    hex::encode(Sha1::digest(bytes))
}

/// One change a client uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub name: String,
    /// The file's bytes (never empty), or `None` for a deletion.
    pub data: Option<Vec<u8>>,
}

/// An upload's `_meta`: `[[name, name in zip or null]]` (AnkiDroid sends `""` for null).
#[derive(Deserialize)]
struct UploadEntry(String, Option<String>);

/// Read and check an upload zip: at most [`MAX_FILES_IN_ZIP`] entries, names in NFC without
/// separators and at most [`MAX_NAME_BYTES`], files non-empty and at most [`MAX_FILE_BYTES`],
/// and all of it at most `max_total` bytes uncompressed, whatever the zip declares.
pub fn read_upload(zip: &[u8], max_total: u64) -> Result<Vec<Uploaded>, SyncError> {
    let bad = |m: String| SyncError::BadRequest(m);
    let mut archive =
        zip::ZipArchive::new(Cursor::new(zip)).map_err(|e| bad(format!("unzip files: {e}")))?;
    let entries: Vec<UploadEntry> = {
        let meta = archive
            .by_name("_meta")
            .map_err(|_| bad("unzip files: no _meta".into()))?;
        let mut raw = Vec::new();
        meta.take(MAX_META_BYTES)
            .read_to_end(&mut raw)
            .map_err(|e| bad(format!("unzip files: {e}")))?;
        serde_json::from_slice(&raw).map_err(|e| bad(format!("unzip files: _meta: {e}")))?
    };
    if entries.len() > MAX_FILES_IN_ZIP {
        return Err(bad("too many files in zip".into()));
    }
    let mut total = 0u64;
    let mut out = Vec::with_capacity(entries.len());
    for UploadEntry(name, in_zip) in entries {
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(bad(format!("filename length invalid: {}", name.len())));
        }
        if !is_nfc(&name) {
            return Err(bad(format!("filename was not in nfc: {name}")));
        }
        if name.contains(['/', '\\']) {
            return Err(bad(format!("filename contained separator: {name}")));
        }
        let data = match in_zip.filter(|z| !z.is_empty()) {
            None => None,
            Some(member) => {
                let file = archive
                    .by_name(&member)
                    .map_err(|_| bad(format!("unzip files: no member {member}")))?;
                let cap = MAX_FILE_BYTES.min(max_total.saturating_sub(total));
                let mut data = Vec::new();
                file.take(cap + 1)
                    .read_to_end(&mut data)
                    .map_err(|e| bad(format!("unzip files: {e}")))?;
                if data.len() as u64 > cap {
                    return Err(SyncError::TooLarge(format!(
                        "{name}: media files are limited to {} MiB each",
                        MAX_FILE_BYTES / (1024 * 1024)
                    )));
                }
                if data.is_empty() {
                    return Err(bad(format!("file was empty: {name}")));
                }
                total += data.len() as u64;
                Some(data)
            }
        };
        out.push(Uploaded { name, data });
    }
    Ok(out)
}

/// A download zip: the files stored as `0`, `1`, … and `_meta` `{"0": name, …}`.
pub fn download_zip(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, SyncError> {
    let internal = |e: zip::result::ZipError| SyncError::Internal(format!("zip: {e}"));
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut meta = BTreeMap::new();
    for (i, (name, data)) in files.iter().enumerate() {
        zip.start_file(i.to_string(), stored).map_err(internal)?;
        zip.write_all(data)
            .map_err(|e| SyncError::Internal(format!("zip: {e}")))?;
        meta.insert(i.to_string(), name.clone());
    }
    zip.start_file("_meta", stored).map_err(internal)?;
    let meta = serde_json::to_vec(&meta).map_err(|e| SyncError::Internal(format!("json: {e}")))?;
    zip.write_all(&meta)
        .map_err(|e| SyncError::Internal(format!("zip: {e}")))?;
    Ok(zip.finish().map_err(internal)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload_zip(meta: &str, files: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
        let method = if deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in files {
            zip.start_file(*name, opts).unwrap();
            zip.write_all(data).unwrap();
        }
        zip.start_file("_meta", opts).unwrap();
        zip.write_all(meta.as_bytes()).unwrap();
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn an_upload_is_read_with_its_deletions() {
        let z = upload_zip(
            r#"[["a.png","0"],["gone.mp3",null],["b.png",""]]"#,
            &[("0", b"png!")],
            false,
        );
        assert_eq!(
            read_upload(&z, u64::MAX).unwrap(),
            vec![
                Uploaded {
                    name: "a.png".into(),
                    data: Some(b"png!".to_vec())
                },
                Uploaded {
                    name: "gone.mp3".into(),
                    data: None
                },
                Uploaded {
                    name: "b.png".into(),
                    data: None
                },
            ]
        );
    }

    #[test]
    fn hostile_uploads_are_refused() {
        let refused = |z: Vec<u8>, max: u64| read_upload(&z, max).unwrap_err();
        assert!(matches!(
            refused(
                upload_zip(r#"[["../x","0"]]"#, &[("0", b"x")], false),
                u64::MAX
            ),
            SyncError::BadRequest(_)
        ));
        // "é" decomposed is not NFC.
        assert!(matches!(
            refused(
                upload_zip("[[\"e\u{301}.png\",\"0\"]]", &[("0", b"x")], false),
                u64::MAX
            ),
            SyncError::BadRequest(_)
        ));
        let many: String = (0..26)
            .map(|i| format!("[\"f{i}\",null]"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(matches!(
            refused(upload_zip(&format!("[{many}]"), &[], false), u64::MAX),
            SyncError::BadRequest(_)
        ));
        assert!(matches!(
            refused(upload_zip(r#"[["a","0"]]"#, &[("0", b"")], false), u64::MAX),
            SyncError::BadRequest(_)
        ));
        assert!(matches!(
            refused(upload_zip(r#"[["a","missing"]]"#, &[], false), u64::MAX),
            SyncError::BadRequest(_)
        ));
        assert!(matches!(
            refused(b"not a zip".to_vec(), u64::MAX),
            SyncError::BadRequest(_)
        ));
        // A bomb: 8 MiB of zeros deflate to a few KiB; the total bound stops the read.
        let zeros = vec![0u8; 8 << 20];
        let bomb = upload_zip(r#"[["z","0"]]"#, &[("0", &zeros)], true);
        assert!(bomb.len() < 64 * 1024);
        assert!(matches!(refused(bomb, 1 << 20), SyncError::TooLarge(_)));
    }

    #[test]
    fn a_download_zip_names_its_members_in_meta() {
        let z = download_zip(&[
            ("a.png".into(), b"A".to_vec()),
            ("b.mp3".into(), b"B".to_vec()),
        ])
        .unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(z)).unwrap();
        let mut meta = String::new();
        archive
            .by_name("_meta")
            .unwrap()
            .read_to_string(&mut meta)
            .unwrap();
        assert_eq!(meta, r#"{"0":"a.png","1":"b.mp3"}"#);
        let mut b = Vec::new();
        archive.by_name("1").unwrap().read_to_end(&mut b).unwrap();
        assert_eq!(b, b"B");
    }

    #[test]
    fn messages_have_anki_shapes() {
        assert_eq!(
            serde_json::to_string(&JsonResult::ok(vec![Change("a".into(), 3, "ff".into())]))
                .unwrap(),
            r#"{"data":[["a",3,"ff"]],"err":""}"#
        );
        assert_eq!(
            serde_json::to_string(&JsonResult::ok(UploadResponse(2, 9))).unwrap(),
            r#"{"data":[2,9],"err":""}"#
        );
        assert_eq!(sanity_answer(3, 3), "OK");
        assert_eq!(sanity_answer(3, 2), "mediaSanity");
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }
}
