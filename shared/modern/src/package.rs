//! The pieces of Anki's modern package container (`.apkg`/`.colpkg` written by Anki 2.1.50+)
//! that are format rather than packaging policy. No zip handling here: the zip is the caller's.
//!
//! A modern package is a zip of
//! - `meta`: a [`PackageMetadata`](crate::proto::PackageMetadata) protobuf, stored uncompressed,
//!   version 3 ("latest");
//! - `collection.anki21b`: the schema-18 SQLite file, zstd-compressed;
//! - `collection.anki2`: a dummy legacy collection telling old clients to update;
//! - `media`: a zstd-compressed [`MediaEntries`](crate::proto::MediaEntries) protobuf;
//! - `0`, `1`, …: the media files, in the order of the media list, each zstd-compressed.
//!
//! (Facts from Anki's `rslib/src/import_export/package/{meta,media,colpkg/export}.rs`.) Legacy
//! packages (no `meta`, or version 1/2) keep an uncompressed schema-11 `collection.anki2` /
//! `collection.anki21` and a JSON media map; [`PackageVersion`] says which is which.

use std::io::{self, Read, Write};

use prost::Message;
use sha1::{Digest, Sha1};

use crate::error::{ModernError, Result};
use crate::limits::Limits;
use crate::proto::{MediaEntries, MediaEntryProto, PackageMetadata};

/// zstd level Anki writes with (0 = zstd's default, 3).
const ZSTD_LEVEL: i32 = 0;

/// A `meta` entry is 2 bytes; anything much larger is not one.
const MAX_META_BYTES: usize = 64;

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// `PackageMetadata.Version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageVersion {
    /// No `meta`, `collection.anki2` (schema 11), JSON media map.
    Legacy1,
    /// No `meta` or version 2, `collection.anki21` (schema 11), JSON media map.
    Legacy2,
    /// Version 3: `collection.anki21b` (zstd, schema 18), protobuf media list, zstd media.
    Latest,
}

impl PackageVersion {
    /// The zip entry holding the collection.
    pub fn collection_entry(self) -> &'static str {
        match self {
            Self::Legacy1 => "collection.anki2",
            Self::Legacy2 => "collection.anki21",
            Self::Latest => "collection.anki21b",
        }
    }

    /// Whether the collection, the media list and the media files are zstd-compressed.
    pub fn is_zstd_compressed(self) -> bool {
        self == Self::Latest
    }

    /// The version of a package without a `meta` entry (Anki decides by the collection entry).
    pub fn without_meta(has_collection_anki21: bool) -> Self {
        if has_collection_anki21 {
            Self::Legacy2
        } else {
            Self::Legacy1
        }
    }

    fn number(self) -> i32 {
        match self {
            Self::Legacy1 => 1,
            Self::Legacy2 => 2,
            Self::Latest => 3,
        }
    }
}

/// The `meta` entry's bytes for `version`.
pub fn encode_meta(version: PackageVersion) -> Vec<u8> {
    PackageMetadata {
        version: version.number(),
    }
    .encode_to_vec()
}

/// Read a `meta` entry. Version 0 or a number beyond the latest means the package was made by a
/// newer Anki (Anki says "too new"); that is [`ModernError::Unsupported`].
pub fn decode_meta(bytes: &[u8]) -> Result<PackageVersion> {
    if bytes.len() > MAX_META_BYTES {
        return Err(ModernError::Invalid(format!(
            "the meta entry has {} bytes; it is a few bytes of protobuf",
            bytes.len()
        )));
    }
    let meta =
        PackageMetadata::decode(bytes).map_err(|e| ModernError::protobuf("package meta", e))?;
    match meta.version {
        1 => Ok(PackageVersion::Legacy1),
        2 => Ok(PackageVersion::Legacy2),
        3 => Ok(PackageVersion::Latest),
        v => Err(ModernError::Unsupported(format!(
            "package version {v}: made by a newer Anki"
        ))),
    }
}

/// Compress `reader` into `writer` as one zstd frame, at Anki's level. Returns the number of
/// uncompressed bytes.
pub fn zstd_compress(reader: &mut impl Read, writer: impl Write) -> Result<u64> {
    let mut encoder = zstd::stream::write::Encoder::new(writer, ZSTD_LEVEL)?;
    let n = io::copy(reader, &mut encoder)?;
    encoder.finish()?;
    Ok(n)
}

/// Decompress zstd data from `reader` into `writer`, refusing to produce more than `max_bytes`
/// (a zstd bomb stops there) or to allocate a window beyond `limits.zstd_window_log_max`.
/// Returns the number of bytes written. Damaged data is [`ModernError::Invalid`].
pub fn zstd_decompress_bounded(
    reader: impl Read,
    mut writer: impl Write,
    max_bytes: u64,
    limits: &Limits,
    what: &str,
) -> Result<u64> {
    let mut decoder = zstd::stream::read::Decoder::new(reader).map_err(|e| damaged(what, e))?;
    decoder
        .window_log_max(limits.zstd_window_log_max)
        .map_err(|e| damaged(what, e))?;
    let mut limited = decoder.take(max_bytes.saturating_add(1));
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = match limited.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(damaged(what, e)),
        };
        total += n as u64;
        if total > max_bytes {
            return Err(ModernError::TooLarge(format!(
                "{what}: more than {max_bytes} bytes once decompressed"
            )));
        }
        writer.write_all(&buf[..n])?;
    }
    Ok(total)
}

fn damaged(what: &str, e: io::Error) -> ModernError {
    ModernError::Invalid(format!("{what}: not valid zstd data ({e})"))
}

/// The `collection.anki21b` entry: `sqlite_file` compressed. Returns the file's size.
pub fn encode_collection(sqlite_file: &mut impl Read, writer: impl Write) -> Result<u64> {
    zstd_compress(sqlite_file, writer)
}

/// Decompress a `collection.anki21b` entry into `writer` (a temporary file the caller then
/// opens and converts), within `limits.max_collection_bytes`, checking that the result starts
/// like a SQLite file. Returns its size.
pub fn decode_collection(reader: impl Read, writer: impl Write, limits: &Limits) -> Result<u64> {
    let mut head = HeadCheck {
        inner: writer,
        seen: Vec::with_capacity(SQLITE_MAGIC.len()),
    };
    let n = zstd_decompress_bounded(
        reader,
        &mut head,
        limits.max_collection_bytes,
        limits,
        "collection.anki21b",
    )?;
    if head.seen.as_slice() != SQLITE_MAGIC {
        return Err(ModernError::Invalid(
            "collection.anki21b does not hold a SQLite database".into(),
        ));
    }
    Ok(n)
}

/// A writer that remembers the first bytes written through it.
struct HeadCheck<W> {
    inner: W,
    seen: Vec<u8>,
}

impl<W: Write> Write for HeadCheck<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        let want = SQLITE_MAGIC.len().saturating_sub(self.seen.len());
        self.seen.extend_from_slice(&buf[..n.min(want)]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// One entry of a modern package's media list: the file `name` is stored in the zip entry
/// named by its index in the list (or by `legacy_zip_filename` when that is set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaEntry {
    pub name: String,
    /// Uncompressed size in bytes.
    pub size: u32,
    /// SHA-1 of the uncompressed content.
    pub sha1: [u8; 20],
    pub legacy_zip_filename: Option<u32>,
}

impl MediaEntry {
    /// The zip entry holding this file, given its position in the list.
    pub fn zip_entry_name(&self, index: usize) -> String {
        match self.legacy_zip_filename {
            Some(n) => n.to_string(),
            None => index.to_string(),
        }
    }
}

/// The `media` entry: the list as protobuf, zstd-compressed.
pub fn encode_media_entries(entries: &[MediaEntry]) -> Result<Vec<u8>> {
    let list = MediaEntries {
        entries: entries
            .iter()
            .map(|e| MediaEntryProto {
                name: e.name.clone(),
                size: e.size,
                sha1: e.sha1.to_vec(),
                legacy_zip_filename: e.legacy_zip_filename,
            })
            .collect(),
    };
    let bytes = list.encode_to_vec();
    let mut out = Vec::new();
    zstd_compress(&mut bytes.as_slice(), &mut out)?;
    Ok(out)
}

/// Read a modern `media` entry, within `limits` (decompressed size, entry count). Like Anki,
/// refuses an entry whose SHA-1 is not 20 bytes or whose name is not a single plain file name
/// (empty, `.`/`..`, a path separator or NUL). Normalising names (NFC, Windows device names,
/// length) is the media store's job.
pub fn decode_media_entries(compressed: impl Read, limits: &Limits) -> Result<Vec<MediaEntry>> {
    let mut bytes = Vec::new();
    zstd_decompress_bounded(
        compressed,
        &mut bytes,
        limits.max_media_list_bytes,
        limits,
        "media list",
    )?;
    let list = MediaEntries::decode(bytes.as_slice())
        .map_err(|e| ModernError::protobuf("media list", e))?;
    if list.entries.len() > limits.max_media_entries {
        return Err(ModernError::TooLarge(format!(
            "media list: {} files (limit {})",
            list.entries.len(),
            limits.max_media_entries
        )));
    }
    list.entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let sha1: [u8; 20] = e.sha1.as_slice().try_into().map_err(|_| {
                ModernError::Invalid(format!(
                    "media entry {i}: a SHA-1 of {} bytes",
                    e.sha1.len()
                ))
            })?;
            if !is_plain_file_name(&e.name) {
                return Err(ModernError::Invalid(format!(
                    "media entry {i}: unsafe file name {:?}",
                    e.name
                )));
            }
            Ok(MediaEntry {
                name: e.name,
                size: e.size,
                sha1,
                legacy_zip_filename: e.legacy_zip_filename,
            })
        })
        .collect()
}

fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && !(name.len() >= 2 && name.as_bytes()[1] == b':')
}

/// Compress one media file for a modern package, returning its uncompressed size and SHA-1
/// (the values of its [`MediaEntry`]).
pub fn encode_media_file(reader: &mut impl Read, writer: impl Write) -> Result<(u64, [u8; 20])> {
    let mut hashing = HashingReader {
        inner: reader,
        hasher: Sha1::new(),
    };
    let size = zstd_compress(&mut hashing, writer)?;
    Ok((size, hashing.hasher.finalize().into()))
}

struct HashingReader<'a, R> {
    inner: &'a mut R,
    hasher: Sha1,
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Decompress one media file of a modern package into `writer`, within
/// `limits.max_media_file_bytes`. Returns its size.
pub fn decode_media_file(reader: impl Read, writer: impl Write, limits: &Limits) -> Result<u64> {
    zstd_decompress_bounded(
        reader,
        writer,
        limits.max_media_file_bytes,
        limits,
        "media file",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_and_matches_anki_bytes() {
        // Anki's `meta` for a modern package is the two bytes 08 03.
        assert_eq!(encode_meta(PackageVersion::Latest), vec![0x08, 0x03]);
        for v in [
            PackageVersion::Legacy1,
            PackageVersion::Legacy2,
            PackageVersion::Latest,
        ] {
            assert_eq!(decode_meta(&encode_meta(v)).ok(), Some(v));
        }
        assert!(matches!(
            decode_meta(&[0x08, 0x04]),
            Err(ModernError::Unsupported(_))
        ));
        assert!(matches!(decode_meta(&[]), Err(ModernError::Unsupported(_))));
        assert!(decode_meta(&[0x08]).is_err());
    }

    #[test]
    fn media_list_round_trips() {
        let entries = vec![
            MediaEntry {
                name: "a.png".into(),
                size: 3,
                sha1: [7; 20],
                legacy_zip_filename: None,
            },
            MediaEntry {
                name: "ü.mp3".into(),
                size: 0,
                sha1: [0; 20],
                legacy_zip_filename: Some(9),
            },
        ];
        let bytes = encode_media_entries(&entries).expect("encodes");
        let back = decode_media_entries(bytes.as_slice(), &Limits::default()).expect("decodes");
        assert_eq!(back, entries);
        assert_eq!(back[0].zip_entry_name(0), "0");
        assert_eq!(back[1].zip_entry_name(1), "9");
    }

    #[test]
    fn unsafe_names_and_bad_hashes_are_refused() {
        for name in ["", "..", "a/b", "..\\x", "c:evil", "nul\0"] {
            let e = MediaEntry {
                name: name.into(),
                size: 1,
                sha1: [1; 20],
                legacy_zip_filename: None,
            };
            let bytes = encode_media_entries(&[e]).expect("encodes");
            assert!(
                decode_media_entries(bytes.as_slice(), &Limits::default()).is_err(),
                "{name:?} accepted"
            );
        }
        let list = MediaEntries {
            entries: vec![MediaEntryProto {
                name: "a".into(),
                size: 1,
                sha1: vec![1; 19],
                legacy_zip_filename: None,
            }],
        };
        let mut z = Vec::new();
        zstd_compress(&mut list.encode_to_vec().as_slice(), &mut z).expect("compresses");
        assert!(decode_media_entries(z.as_slice(), &Limits::default()).is_err());
    }

    #[test]
    fn a_zstd_bomb_stops_at_the_limit() {
        let zeros = vec![0u8; 4 << 20];
        let mut z = Vec::new();
        zstd_compress(&mut zeros.as_slice(), &mut z).expect("compresses");
        assert!(
            z.len() < 1024,
            "4 MiB of zeros compress to {} bytes",
            z.len()
        );
        let limits = Limits {
            max_media_file_bytes: 1 << 20,
            ..Limits::default()
        };
        let mut out = Vec::new();
        let err = decode_media_file(z.as_slice(), &mut out, &limits).expect_err("refused");
        assert!(matches!(err, ModernError::TooLarge(_)), "{err}");
        assert!(out.len() <= 1 << 20);
    }

    #[test]
    fn media_files_round_trip_with_size_and_hash() {
        let data = b"hello media".to_vec();
        let mut z = Vec::new();
        let (size, sha1) = encode_media_file(&mut data.as_slice(), &mut z).expect("encodes");
        assert_eq!(size, data.len() as u64);
        assert_eq!(sha1, <[u8; 20]>::from(Sha1::digest(&data)));
        let mut out = Vec::new();
        decode_media_file(z.as_slice(), &mut out, &Limits::default()).expect("decodes");
        assert_eq!(out, data);
    }

    #[test]
    fn collection_must_be_sqlite() {
        let mut z = Vec::new();
        zstd_compress(&mut b"not a database at all".as_slice(), &mut z).expect("compresses");
        let mut out = Vec::new();
        assert!(decode_collection(z.as_slice(), &mut out, &Limits::default()).is_err());
        assert!(decode_collection(&b"garbage"[..], &mut out, &Limits::default()).is_err());
    }
}
