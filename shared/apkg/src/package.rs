//! Reading the uploaded zip under hard limits. Nothing here trusts the archive's own claims:
//! sizes in headers are only used to refuse early, and the real bound is enforced on the bytes
//! actually decompressed.

use std::io::{Cursor, Read, Write};

use tempfile::NamedTempFile;

use crate::{ApkgError, ImportLimits};

const NEW_FORMAT_COLLECTION: &str = "collection.anki21b";
const LEGACY2_COLLECTION: &str = "collection.anki21";
const LEGACY1_COLLECTION: &str = crate::export::LEGACY_COLLECTION;

/// Unpack the package's collection database into a private temp file (mode 0600).
pub(crate) fn extract_collection(
    bytes: &[u8],
    limits: &ImportLimits,
) -> Result<NamedTempFile, ApkgError> {
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
            "the package has {} entries; at most {} are accepted (media is not imported: \
             export without media)",
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
    let member = if has(NEW_FORMAT_COLLECTION) {
        return Err(ApkgError::invalid(
            "this package uses Anki's newer format (collection.anki21b); export it again from \
             Anki with \"Support older Anki versions\" checked",
        ));
    } else if has(LEGACY2_COLLECTION) {
        // Anki's legacy export also carries a dummy `collection.anki2` ("please update");
        // the real data is in `collection.anki21`.
        LEGACY2_COLLECTION
    } else if has(LEGACY1_COLLECTION) {
        LEGACY1_COLLECTION
    } else {
        return Err(ApkgError::invalid(
            "the package contains no collection (collection.anki2 or collection.anki21)",
        ));
    };

    let limit = limits
        .max_collection_bytes
        .min(limits.max_uncompressed_bytes);
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
    Ok(out)
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
        extract_collection(bytes, limits).unwrap_err()
    }

    #[test]
    fn prefers_anki21_over_dummy_anki2() {
        let z = zip_of(&[
            ("collection.anki2", b"dummy"),
            ("collection.anki21", b"real"),
            ("meta", b"\x08\x02"),
        ]);
        let f = extract_collection(&z, &ImportLimits::default()).unwrap();
        assert_eq!(std::fs::read(f.path()).unwrap(), b"real");
    }

    #[cfg(unix)]
    #[test]
    fn temp_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let z = zip_of(&[("collection.anki2", b"x")]);
        let f = extract_collection(&z, &ImportLimits::default()).unwrap();
        let mode = std::fs::metadata(f.path()).unwrap().permissions().mode();
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
        let z = zip_of(&[("collection.anki21b", b"zstd"), ("meta", b"")]);
        assert!(
            matches!(err(&z, &d), ApkgError::InvalidPackage { reason: m, .. } if m.contains("older Anki"))
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
        assert!(extract_collection(&z, &small).is_ok());
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
