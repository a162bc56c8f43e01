//! Reading the uploaded zip under hard limits. Nothing here trusts the archive's own claims:
//! sizes in headers are only used to refuse early, and the real bound is enforced on the bytes
//! actually decompressed.

use std::io::{Cursor, Read, Write};

use sha1::{Digest, Sha1};
use tempfile::NamedTempFile;

use crate::{ApkgError, ImportLimits};

use javumbo_modern::package::{self as modern, PackageVersion};

use crate::media::{MAX_MEDIA_FILE_BYTES, PackageMedia, normalize_filename};

const LEGACY2_COLLECTION: &str = "collection.anki21";
/// The JSON media map (legacy) or zstd protobuf media list (modern).
const MEDIA_LIST: &str = "media";
const META: &str = "meta";
/// Bytes of a legacy JSON media map.
const MAX_MEDIA_MAP_BYTES: u64 = 32 << 20;

/// The package unpacked: a schema-11 collection file (converted from schema 18 for a modern
/// package) in a private temp file, and its media, within the limits.
pub(crate) struct Extracted {
    pub collection: NamedTempFile,
    pub version: PackageVersion,
    pub media: Vec<PackageMedia>,
}

/// What is left of `max_uncompressed_bytes` while members are read.
struct Budget {
    left: u64,
    limit: u64,
}

impl Budget {
    fn take(&mut self, n: u64) -> Result<(), ApkgError> {
        self.left = self.left.checked_sub(n).ok_or_else(|| {
            ApkgError::TooLarge(format!(
                "the package decompresses to more than {} bytes (the unpacked size limit)",
                self.limit
            ))
        })?;
        Ok(())
    }
}

type Archive<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

/// Unpack the package's collection (as schema 11) and its media.
pub(crate) fn extract(bytes: &[u8], limits: &ImportLimits) -> Result<Extracted, ApkgError> {
    if bytes.len() as u64 > limits.max_package_bytes {
        return Err(ApkgError::TooLarge(format!(
            "the package is {} bytes; at most {} are accepted",
            bytes.len(),
            limits.max_package_bytes
        )));
    }
    if bytes.is_empty() {
        return Err(ApkgError::invalid("the file is empty"));
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ApkgError::invalid_because("not a zip file", e))?;
    if archive.len() > limits.max_entries {
        return Err(ApkgError::invalid(format!(
            "the package has {} entries; the entry limit is {} (the collection, its media \
             list and one entry per media file)",
            archive.len(),
            limits.max_entries
        )));
    }
    let mut names = Vec::with_capacity(archive.len());
    for name in archive.file_names() {
        let name = name.map_err(|e| ApkgError::invalid_because("unreadable entry name", e))?;
        check_member_name(&name)?;
        names.push(name.into_owned());
    }
    let has = |n: &str| names.iter().any(|m| m == n);
    let version = if has(META) {
        let meta = read_member(
            &mut archive,
            META,
            64,
            &mut Budget {
                left: 64,
                limit: 64,
            },
        )?;
        modern::decode_meta(&meta).map_err(modern_error)?
    } else {
        PackageVersion::without_meta(has(LEGACY2_COLLECTION))
    };
    let member = version.collection_entry();
    if !has(member) {
        return Err(ApkgError::invalid(format!(
            "the package contains no collection ({member})"
        )));
    }
    let mut budget = Budget {
        left: limits.max_uncompressed_bytes,
        limit: limits.max_uncompressed_bytes,
    };
    let collection = if version.is_zstd_compressed() {
        modern_collection(&mut archive, limits, &mut budget)?
    } else {
        legacy_collection(&mut archive, member, limits, &mut budget)?
    };
    let media = if has(MEDIA_LIST) {
        read_media(&mut archive, version, limits, &mut budget)?
    } else {
        Vec::new()
    };
    Ok(Extracted {
        collection,
        version,
        media,
    })
}

/// The collection extracted as it is (schema 11).
fn legacy_collection(
    archive: &mut Archive<'_>,
    member: &str,
    limits: &ImportLimits,
    budget: &mut Budget,
) -> Result<NamedTempFile, ApkgError> {
    let limit = limits.max_collection_bytes.min(budget.left);
    let mut entry = archive
        .by_name(member)
        .map_err(|e| ApkgError::invalid_because(format!("cannot read {member}"), e))?;
    let too_large =
        || ApkgError::TooLarge(format!("{member} decompresses to more than {limit} bytes"));
    if entry.size() > limit {
        return Err(too_large());
    }
    let mut out = NamedTempFile::new()?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = entry
            .read(&mut buf)
            .map_err(|e| ApkgError::invalid_because(format!("{member} is damaged"), e))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limit {
            return Err(too_large());
        }
        out.write_all(&buf[..n])?;
    }
    out.flush()?;
    budget.take(total)?;
    Ok(out)
}

/// `collection.anki21b`: zstd-decompressed (bounded), then converted to schema 11 exactly as
/// Anki's own downgrade does (`javumbo-modern`), on our private copy.
fn modern_collection(
    archive: &mut Archive<'_>,
    limits: &ImportLimits,
    budget: &mut Budget,
) -> Result<NamedTempFile, ApkgError> {
    let member = PackageVersion::Latest.collection_entry();
    let entry = archive
        .by_name(member)
        .map_err(|e| ApkgError::invalid_because(format!("cannot read {member}"), e))?;
    let modern_limits = javumbo_modern::Limits {
        max_collection_bytes: limits.max_collection_bytes.min(budget.left),
        ..javumbo_modern::Limits::default()
    };
    let mut out = NamedTempFile::new()?;
    let n = modern::decode_collection(entry, out.as_file_mut(), &modern_limits)
        .map_err(modern_error)?;
    out.flush()?;
    budget.take(n)?;
    let conn = rusqlite::Connection::open(out.path())?;
    crate::source::harden(&conn)?;
    javumbo_modern::downgrade_to_schema11(&conn, &modern_limits).map_err(modern_error)?;
    drop(conn);
    Ok(out)
}

/// The package's media: the legacy JSON map (`{"0": "name.jpg"}`) or the modern protobuf list,
/// each file read (and for a modern package decompressed) within the limits. Names are
/// normalised by Anki's rules; a listed file missing from the zip is skipped, as Anki does.
fn read_media(
    archive: &mut Archive<'_>,
    version: PackageVersion,
    limits: &ImportLimits,
    budget: &mut Budget,
) -> Result<Vec<PackageMedia>, ApkgError> {
    let listed: Vec<(String, String)> = if version.is_zstd_compressed() {
        let entry = archive
            .by_name(MEDIA_LIST)
            .map_err(|e| ApkgError::invalid_because("cannot read the media list", e))?;
        let modern_limits = javumbo_modern::Limits {
            max_media_entries: limits.max_entries,
            ..javumbo_modern::Limits::default()
        };
        modern::decode_media_entries(entry, &modern_limits)
            .map_err(modern_error)?
            .into_iter()
            .enumerate()
            .map(|(i, e)| (e.zip_entry_name(i), e.name))
            .collect()
    } else {
        let raw = read_member(archive, MEDIA_LIST, MAX_MEDIA_MAP_BYTES, budget)?;
        let map: std::collections::BTreeMap<String, String> = serde_json::from_slice(&raw)
            .map_err(|e| ApkgError::invalid_because("the media map is not valid JSON", e))?;
        // Zip members are numbered; keep Anki's order (by number) so duplicates resolve alike.
        let mut listed: Vec<(String, String)> = map.into_iter().collect();
        listed.sort_by_key(|(k, _)| (k.len(), k.clone()));
        listed
    };
    if listed.len() > limits.max_entries {
        return Err(ApkgError::invalid(format!(
            "the media list names {} files; the entry limit is {}",
            listed.len(),
            limits.max_entries
        )));
    }
    let mut out = Vec::with_capacity(listed.len());
    let mut seen = std::collections::HashSet::new();
    for (member, name) in listed {
        let normalized = normalize_filename(&name).ok_or_else(|| {
            ApkgError::invalid(format!(
                "media file name {:?} is not a usable file name",
                name.chars().take(60).collect::<String>()
            ))
        })?;
        check_member_name(&member)?;
        if archive.index_for_name(&member).is_none() || !seen.insert(normalized.clone()) {
            continue;
        }
        let data = if version.is_zstd_compressed() {
            let entry = archive
                .by_name(&member)
                .map_err(|e| ApkgError::invalid_because(format!("cannot read {member}"), e))?;
            let modern_limits = javumbo_modern::Limits {
                max_media_file_bytes: MAX_MEDIA_FILE_BYTES.min(budget.left),
                ..javumbo_modern::Limits::default()
            };
            let mut data = Vec::new();
            let n = modern::decode_media_file(entry, &mut data, &modern_limits)
                .map_err(modern_error)?;
            budget.take(n)?;
            data
        } else {
            read_member(archive, &member, MAX_MEDIA_FILE_BYTES, budget)?
        };
        let sha1 = Sha1::digest(&data).into();
        out.push(PackageMedia {
            name: normalized,
            data,
            sha1,
        });
    }
    Ok(out)
}

/// One member, read whole, within `max` bytes and the budget.
fn read_member(
    archive: &mut Archive<'_>,
    member: &str,
    max: u64,
    budget: &mut Budget,
) -> Result<Vec<u8>, ApkgError> {
    let entry = archive
        .by_name(member)
        .map_err(|e| ApkgError::invalid_because(format!("cannot read {member}"), e))?;
    let limit = max.min(budget.left);
    let mut data = Vec::new();
    entry
        .take(limit + 1)
        .read_to_end(&mut data)
        .map_err(|e| ApkgError::invalid_because(format!("{member} is damaged"), e))?;
    if data.len() as u64 > max {
        return Err(ApkgError::TooLarge(format!(
            "{member} is larger than {max} bytes (the media file size limit)"
        )));
    }
    budget.take(data.len() as u64)?;
    Ok(data)
}

/// Errors of the modern decoders: the upload's fault unless our own store failed.
fn modern_error(e: javumbo_modern::ModernError) -> ApkgError {
    match e {
        javumbo_modern::ModernError::TooLarge(m) => ApkgError::TooLarge(m),
        javumbo_modern::ModernError::Unsupported(m) => ApkgError::invalid(m),
        e if e.is_input_error() => ApkgError::invalid_because("invalid modern package", e),
        // A SQLite error converting the package's own file is still about that file.
        e => ApkgError::invalid_because("the modern collection could not be converted", e),
    }
}

/// Member names are never used as paths, but a package carrying traversal or absolute names
/// was built to attack some extractor; refusing it outright is clearer than ignoring it.
fn check_member_name(name: &str) -> Result<(), ApkgError> {
    let bad = name.is_empty()
        || name.starts_with('/')
        || name.contains('\\')
        || name.contains('\0')
        || name.as_bytes().get(1) == Some(&b':')
        || name.split('/').any(|part| part == "..");
    if bad {
        let shown: String = name.chars().take(80).collect();
        return Err(ApkgError::invalid(format!(
            "unsafe entry name {shown:?} in the package"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use zip::write::{SimpleFileOptions, ZipWriter};

    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut z = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            z.start_file(*name, SimpleFileOptions::default()).unwrap();
            z.write_all(data).unwrap();
        }
        z.finish().unwrap().into_inner()
    }

    fn err(bytes: &[u8], limits: &ImportLimits) -> ApkgError {
        match extract(bytes, limits) {
            Ok(_) => panic!("accepted"),
            Err(e) => e,
        }
    }

    #[test]
    fn prefers_anki21_over_dummy_anki2() {
        let z = zip_of(&[
            ("collection.anki2", b"dummy"),
            ("collection.anki21", b"real"),
            ("meta", b"\x08\x02"),
        ]);
        let f = extract(&z, &ImportLimits::default()).ok().unwrap();
        assert_eq!(std::fs::read(f.collection.path()).unwrap(), b"real");
    }

    #[cfg(unix)]
    #[test]
    fn temp_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let z = zip_of(&[("collection.anki2", b"x")]);
        let f = extract(&z, &ImportLimits::default()).ok().unwrap();
        let mode = std::fs::metadata(f.collection.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0);
    }

    #[test]
    fn refuses_bad_archives() {
        let d = ImportLimits::default();
        assert!(
            matches!(err(b"", &d), ApkgError::InvalidPackage { reason: m, .. } if m.contains("empty"))
        );
        assert!(
            matches!(err(b"hello", &d), ApkgError::InvalidPackage { reason: m, .. } if m.contains("not a zip"))
        );
        let z = zip_of(&[("media", b"{}")]);
        assert!(
            matches!(err(&z, &d), ApkgError::InvalidPackage { reason: m, .. } if m.contains("no collection"))
        );
        let z = zip_of(&[("collection.anki21b", b"zstd"), ("meta", b"\x08\x03")]);
        assert!(
            matches!(err(&z, &d), ApkgError::InvalidPackage { reason: m, .. } if m.contains("modern")),
            "{:?}",
            err(&z, &d)
        );
        let z = zip_of(&[("collection.anki21b", b"zstd"), ("meta", b"\x08\x09")]);
        assert!(
            matches!(err(&z, &d), ApkgError::InvalidPackage { reason: m, .. } if m.contains("newer Anki"))
        );
        for name in ["../../etc/passwd", "/etc/passwd", "a\\..\\b", "C:/x"] {
            let z = zip_of(&[("collection.anki2", b"x"), (name, b"x")]);
            assert!(
                matches!(err(&z, &d), ApkgError::InvalidPackage { reason: m, .. } if m.contains("unsafe")),
                "{name}"
            );
        }
    }

    #[test]
    fn enforces_limits_on_actual_bytes() {
        let small = ImportLimits {
            max_collection_bytes: 1000,
            ..ImportLimits::default()
        };
        let z = zip_of(&[("collection.anki2", &[0u8; 1001])]);
        assert!(matches!(err(&z, &small), ApkgError::TooLarge(_)));
        let z = zip_of(&[("collection.anki2", &[0u8; 1000])]);
        assert!(extract(&z, &small).is_ok());
        let tiny = ImportLimits {
            max_package_bytes: 10,
            ..ImportLimits::default()
        };
        assert!(matches!(err(&z, &tiny), ApkgError::TooLarge(_)));
        let few = ImportLimits {
            max_entries: 1,
            ..ImportLimits::default()
        };
        let z = zip_of(&[("collection.anki2", b"x"), ("media", b"{}")]);
        assert!(
            matches!(err(&z, &few), ApkgError::InvalidPackage { reason: m, .. } if m.contains("entries"))
        );
    }
}
