//! Media file-name clashes on package import, refereed by the official Anki library
//! (`tests/oracle/media_clash.py`): a user who has `a.png` (content X) imports an Anki-made
//! package whose notes reference `a.png` with content Y (and `b.png`, a file with the user's
//! own content, a static `_s.css`, an entity-encoded `x&y.png`). javumbo must end with Anki's
//! media names and contents, and the imported notes' fields exactly as Anki rewrites them;
//! importing the package a second time changes nothing, as in Anki.

use std::collections::BTreeMap;

use javumbo_apkg::{ImportLimits, IncomingMedia, Package};
use javumbo_collection::media::MEDIA_QUOTA_BYTES;
use javumbo_collection::{Collection, CreateOptions, ManualClock, MediaFile};
use javumbo_session::media::sha256_hex;
use javumbo_tests::run_oracle;
use serde_json::{Value, json};

/// 2024-01-01 12:00 UTC.
const T0: i64 = 1_704_110_400_000;

/// The user's collection before the import: no notes, the oracle's "user media" indexed.
fn users_collection(oracle: &Value) -> Collection {
    let opts = CreateOptions {
        starter_deck: false,
        ..CreateOptions::default()
    };
    let col = Collection::create_in_memory(ManualClock::new(T0), &opts).unwrap();
    let files: Vec<MediaFile> = oracle["user_media"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, hex)| {
            let bytes = hex::decode(hex.as_str().unwrap()).unwrap();
            MediaFile {
                name: name.clone(),
                sha256: sha256_hex(&bytes),
                size: bytes.len() as u64,
            }
        })
        .collect();
    col.put_media_files(&files, MEDIA_QUOTA_BYTES).unwrap();
    col
}

/// What `POST /api/import` does without the blob store: the importer decides the names from
/// the index, then the final names are indexed, in one transaction.
fn import(col: &Collection, bytes: &[u8]) -> javumbo_apkg::ImportSummary {
    let mut package = Package::open(bytes, &ImportLimits::default()).unwrap();
    let media: Vec<IncomingMedia> = package
        .take_media()
        .into_iter()
        .map(|m| IncomingMedia {
            sha256: sha256_hex(&m.data),
            size: m.data.len() as u64,
            sha1: m.sha1,
            name: m.name,
        })
        .collect();
    col.atomic(|c| {
        let imported = package.import_with_media(c, &media)?;
        c.put_media_files(&imported.index, MEDIA_QUOTA_BYTES)
            .unwrap();
        Ok::<_, javumbo_apkg::ApkgError>(imported.summary)
    })
    .unwrap()
}

fn our_notes(col: &Collection) -> Value {
    let mut stmt = col
        .conn()
        .prepare("SELECT guid, flds, CAST(sfld AS TEXT), csum FROM notes ORDER BY guid")
        .unwrap();
    let notes: Vec<Value> = stmt
        .query_map([], |r| {
            let flds: String = r.get(1)?;
            Ok(json!({
                "guid": r.get::<_, String>(0)?,
                "fields": flds.split('\x1f').collect::<Vec<_>>(),
                "sfld": r.get::<_, String>(2)?,
                "csum": r.get::<_, i64>(3)?,
            }))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    Value::Array(notes)
}

fn our_media(col: &Collection) -> BTreeMap<String, String> {
    col.media_files()
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.sha256))
        .collect()
}

fn anki_media(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn clashing_names_are_renamed_and_references_rewritten_as_anki_does() {
    let dir = tempfile::tempdir().unwrap();
    let oracle: Value = serde_json::from_str(&run_oracle(
        "media_clash.py",
        &[dir.path().to_str().unwrap()],
        "",
    ))
    .unwrap();
    let package_sha256: BTreeMap<String, String> = oracle["package_media"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                sha256_hex(&hex::decode(v.as_str().unwrap()).unwrap()),
            )
        })
        .collect();
    for kind in ["legacy", "modern"] {
        let anki = &oracle["packages"][kind];
        let bytes = std::fs::read(anki["path"].as_str().unwrap()).unwrap();
        let col = users_collection(&oracle);

        let summary = import(&col, &bytes);
        assert_eq!(summary.notes, 5, "{kind}: {summary:?}");
        // a.png and x&y.png renamed, b.png new; same.png and the user's _s.css kept.
        assert_eq!(
            (summary.media, summary.media_skipped),
            (3, 2),
            "{kind}: {summary:?}"
        );
        assert_eq!(
            our_notes(&col),
            anki["notes"],
            "{kind}: note fields (or sort field, checksum) differ from Anki's"
        );
        let media = our_media(&col);
        assert_eq!(
            media,
            anki_media(&anki["media"]),
            "{kind}: media differ from Anki's"
        );
        // Both contents of a.png are there, the package's under Anki's renamed file.
        let renamed = media
            .keys()
            .find(|n| n.starts_with("a-") && n.ends_with(".png"))
            .expect("a renamed a.png");
        assert_eq!(media[renamed], package_sha256["a.png"], "{kind}");
        assert_ne!(media["a.png"], package_sha256["a.png"], "{kind}");

        // Again: the notes are duplicates, nothing is added or renamed a second time.
        let summary = import(&col, &bytes);
        assert_eq!(
            (summary.notes, summary.media),
            (0, 0),
            "{kind}: {summary:?}"
        );
        assert_eq!(our_notes(&col), anki["again"]["notes"], "{kind}: again");
        assert_eq!(
            our_media(&col),
            anki_media(&anki["again"]["media"]),
            "{kind}: again"
        );
    }
}
