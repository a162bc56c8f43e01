//! Blobs as files under a root directory.
//!
//! Layout: `<root>/objects/<key>.blob` holds one object: a one-line JSON header (etag and
//! metadata) followed by the raw bytes, so a single `rename` publishes content and metadata
//! together. Every mutation runs under an exclusive `flock` on one of [`LOCK_STRIPES`] lock
//! files in `<root>/locks`, which serializes the condition check and the rename against every
//! other thread *and process* writing that key.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use javumbo_session::{Blob, BlobStore, Metrics, PutCondition, StoreResult};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{LocalStoreError, Result};

/// Object files end in this suffix and no directory component may: a key `a` and a key `a/b`
/// then never need the same path as both file and directory.
const OBJECT_SUFFIX: &str = ".blob";
/// Lock striping: enough to keep unrelated keys from queueing behind each other, few enough
/// that the lock directory stays small forever.
const LOCK_STRIPES: u64 = 64;
const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    v: u32,
    etag: String,
    metadata: BTreeMap<String, String>,
}

/// [`BlobStore`] over a local directory; safe to share between processes.
#[derive(Debug, Clone)]
pub struct DirBlobStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    objects: PathBuf,
    locks: PathBuf,
    metrics: Arc<Metrics>,
}

impl DirBlobStore {
    /// Open (creating if needed) a store rooted at `root`.
    pub fn open(root: PathBuf, metrics: Arc<Metrics>) -> Result<Self, LocalStoreError> {
        let objects = root.join("objects");
        let locks = root.join("locks");
        create_dirs_durably(&objects)?;
        create_dirs_durably(&locks)?;
        Ok(Self {
            inner: Arc::new(Inner {
                objects,
                locks,
                metrics,
            }),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || f(&inner)).await?
    }
}

#[async_trait]
impl BlobStore for DirBlobStore {
    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        Metrics::incr(&self.inner.metrics.blob_get);
        let key = key.to_owned();
        Ok(self.blocking(move |s| s.get(&key)).await?)
    }

    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        metadata: BTreeMap<String, String>,
        condition: PutCondition,
    ) -> StoreResult<String> {
        Metrics::incr(&self.inner.metrics.blob_put);
        let key = key.to_owned();
        Ok(self
            .blocking(move |s| s.put(&key, &bytes, metadata, &condition))
            .await?)
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        Metrics::incr(&self.inner.metrics.blob_delete);
        let key = key.to_owned();
        Ok(self.blocking(move |s| s.delete(&key)).await?)
    }

    async fn purge(&self, key: &str) -> StoreResult<u64> {
        Metrics::incr(&self.inner.metrics.blob_delete);
        let key = key.to_owned();
        Ok(self.blocking(move |s| s.purge(&key)).await?)
    }
}

impl Inner {
    fn get(&self, key: &str) -> Result<Option<Blob>> {
        let path = self.object_path(key)?;
        // No lock: objects are only ever replaced by rename, so an open file is always one
        // complete version.
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut raw = Vec::new();
        file.read_to_end(&mut raw)?;
        let (header, body) = parse_object(&raw).ok_or_else(|| {
            LocalStoreError::corrupt(format!(
                "object file {} has no valid header",
                path.display()
            ))
        })?;
        Ok(Some(Blob {
            bytes: Bytes::copy_from_slice(body),
            etag: header.etag,
            metadata: header.metadata,
        }))
    }

    fn put(
        &self,
        key: &str,
        bytes: &[u8],
        metadata: BTreeMap<String, String>,
        condition: &PutCondition,
    ) -> Result<String> {
        let path = self.object_path(key)?;
        let dir = parent(&path)?;
        create_dirs_durably(dir)?;

        let etag = etag_of(bytes, &metadata);
        let header = Header {
            v: FORMAT_VERSION,
            etag: etag.clone(),
            metadata,
        };
        let mut header_line = serde_json::to_vec(&header).map_err(LocalStoreError::Header)?;
        header_line.push(b'\n');

        // The slow part (writing and syncing the bytes) happens before taking the lock, so a
        // big snapshot upload does not stall other writers of the stripe. Same directory as
        // the target: rename is atomic only within one filesystem.
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .suffix(".part")
            .tempfile_in(dir)?;
        tmp.write_all(&header_line)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;

        let _lock = self.lock(key)?;
        let current = current_etag(&path)?;
        let allowed = match condition {
            PutCondition::Any => true,
            PutCondition::IfAbsent => current.is_none(),
            PutCondition::IfMatch(expected) => current.as_deref() == Some(expected.as_str()),
        };
        if !allowed {
            // Dropping `tmp` removes the temp file: nothing becomes visible.
            return Err(LocalStoreError::ConditionFailed);
        }
        tmp.persist(&path)
            .map_err(|e| LocalStoreError::Io(e.error))?;
        // The rename is durable only once the directory entry is.
        sync_dir(dir)?;
        Ok(etag)
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.object_path(key)?;
        let _lock = self.lock(key)?;
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(parent(&path)?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// One object, or every object under a `dir/` prefix (this store keeps no versions).
    fn purge(&self, key: &str) -> Result<u64> {
        let Some(dir_key) = key.strip_suffix('/') else {
            let existed = self.object_path(key)?.exists();
            self.delete(key)?;
            return Ok(u64::from(existed));
        };
        // The directory of the prefix, through the same validation as any key.
        let probe = self.object_path(&format!("{dir_key}/x"))?;
        let dir = parent(&probe)?.to_path_buf();
        let mut count = 0;
        let mut stack = vec![(dir.clone(), dir_key.to_owned())];
        let mut dirs = Vec::new();
        while let Some((path, prefix)) = stack.pop() {
            let entries = match fs::read_dir(&path) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            for entry in entries {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.file_type()?.is_dir() {
                    stack.push((entry.path(), format!("{prefix}/{name}")));
                } else if let Some(stem) = name.strip_suffix(OBJECT_SUFFIX) {
                    // Through `delete`, under the key's lock, like any other delete.
                    self.delete(&format!("{prefix}/{stem}"))?;
                    count += 1;
                }
            }
            dirs.push(path);
        }
        // Empty directories go too, deepest first; one a writer just filled again stays.
        for d in dirs.iter().rev() {
            let _ = fs::remove_dir(d);
        }
        Ok(count)
    }

    fn object_path(&self, key: &str) -> Result<PathBuf> {
        Ok(self.objects.join(relative_object_path(key)?))
    }

    /// Exclusive cross-process lock of `key`'s stripe, released when the file is dropped.
    fn lock(&self, key: &str) -> Result<File> {
        let digest = Sha256::digest(key.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        let stripe = u64::from_le_bytes(first) % LOCK_STRIPES;
        // Each call opens its own file description: flock excludes other descriptions, so
        // this serializes threads of this process as well as other processes.
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.locks.join(format!("{stripe:02}.lock")))?;
        file.lock()?;
        Ok(file)
    }
}

/// Map a key to a relative path, rejecting anything that could escape the root or alias
/// another key.
fn relative_object_path(key: &str) -> Result<PathBuf> {
    let invalid = |reason| {
        Err(LocalStoreError::InvalidKey {
            key: key.to_owned(),
            reason,
        })
    };
    if key.is_empty() {
        return invalid("empty");
    }
    if key.contains('\0') {
        return invalid("contains NUL");
    }
    if key.contains('\\') {
        return invalid("contains a backslash");
    }
    if key.starts_with('/') || Path::new(key).is_absolute() {
        return invalid("absolute path");
    }
    let parts: Vec<&str> = key.split('/').collect();
    let mut path = PathBuf::new();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            return invalid("empty path component");
        }
        if *part == "." || *part == ".." {
            return invalid("'.' or '..' component");
        }
        let last = i + 1 == parts.len();
        if !last && part.ends_with(OBJECT_SUFFIX) {
            return invalid("directory component ends in .blob");
        }
        if last {
            path.push(format!("{part}{OBJECT_SUFFIX}"));
        } else {
            path.push(part);
        }
    }
    // Belt and braces: the checks above should make this impossible.
    if !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return invalid("not a plain relative path");
    }
    Ok(path)
}

/// Content hash covering metadata too, so a conditional write also detects a metadata-only
/// change (e.g. a snapshot re-uploaded with a different `seq`).
fn etag_of(bytes: &[u8], metadata: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    for (k, v) in metadata {
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        h.update((k.len() as u64).to_le_bytes());
        h.update(k.as_bytes());
        h.update((v.len() as u64).to_le_bytes());
        h.update(v.as_bytes());
    }
    hex::encode(h.finalize())
}

fn parse_object(raw: &[u8]) -> Option<(Header, &[u8])> {
    let nl = raw.iter().position(|&b| b == b'\n')?;
    let header: Header = serde_json::from_slice(&raw[..nl]).ok()?;
    (header.v == FORMAT_VERSION).then_some((header, &raw[nl + 1..]))
}

/// The etag of the object at `path`, reading only its header line.
fn current_etag(path: &Path) -> Result<Option<String>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut line = Vec::new();
    io::BufRead::read_until(&mut io::BufReader::new(file), b'\n', &mut line)?;
    let header: Header = serde_json::from_slice(line.strip_suffix(b"\n").unwrap_or(&line))
        .map_err(|e| {
            LocalStoreError::corrupt_because(format!("header of {}", path.display()), e)
        })?;
    Ok(Some(header.etag))
}

fn parent(path: &Path) -> Result<&Path> {
    path.parent().ok_or_else(|| {
        LocalStoreError::corrupt(format!("{} has no parent directory", path.display()))
    })
}

/// `create_dir_all`, then fsync the parent of every directory this call created so a crash
/// cannot lose the directory (and thus every object later renamed into it).
fn create_dirs_durably(dir: &Path) -> Result<()> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.is_dir() {
            break;
        }
        missing.push(d);
        cur = d.parent();
    }
    for d in missing.iter().rev() {
        match fs::create_dir(d) {
            Ok(()) => {}
            // Another thread or process created it concurrently.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.into()),
        }
        if let Some(p) = d.parent() {
            sync_dir(p)?;
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_contained_paths() {
        assert_eq!(
            relative_object_path("user_dbs/alice.anki2").unwrap(),
            PathBuf::from("user_dbs/alice.anki2.blob")
        );
        assert_eq!(
            relative_object_path("journal/bob/7").unwrap(),
            PathBuf::from("journal/bob/7.blob")
        );
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "a/./b",
            "a/",
            "a\0b",
            "a\\b",
            "x.blob/y",
        ] {
            assert!(
                matches!(
                    relative_object_path(bad),
                    Err(LocalStoreError::InvalidKey { .. })
                ),
                "{bad:?} must be rejected"
            );
        }
    }

    #[test]
    fn etag_covers_content_and_metadata() {
        let none = BTreeMap::new();
        let meta = BTreeMap::from([("seq".to_owned(), "3".to_owned())]);
        assert_ne!(etag_of(b"a", &none), etag_of(b"b", &none));
        assert_ne!(etag_of(b"a", &none), etag_of(b"a", &meta));
        assert_eq!(etag_of(b"a", &meta), etag_of(b"a", &meta.clone()));
        let ab_c = BTreeMap::from([("ab".to_owned(), "c".to_owned())]);
        let a_bc = BTreeMap::from([("a".to_owned(), "bc".to_owned())]);
        assert_ne!(etag_of(b"", &ab_c), etag_of(b"", &a_bc));
    }

    #[tokio::test]
    async fn invalid_key_is_an_error_not_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = DirBlobStore::open(dir.path().to_owned(), Arc::default()).unwrap();
        let err = store
            .put(
                "../escape",
                Bytes::from_static(b"x"),
                BTreeMap::new(),
                PutCondition::Any,
            )
            .await;
        assert!(
            matches!(err, Err(javumbo_session::StoreError::Other(_))),
            "{err:?}"
        );
        assert!(!dir.path().join("escape.blob").exists());
    }

    #[tokio::test]
    async fn failed_condition_leaves_no_temp_files_and_counts_calls() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Arc::new(Metrics::default());
        let store = DirBlobStore::open(dir.path().to_owned(), Arc::clone(&metrics)).unwrap();
        store
            .put(
                "k/v",
                Bytes::from_static(b"1"),
                BTreeMap::new(),
                PutCondition::IfAbsent,
            )
            .await
            .unwrap();
        let again = store
            .put(
                "k/v",
                Bytes::from_static(b"2"),
                BTreeMap::new(),
                PutCondition::IfAbsent,
            )
            .await;
        assert_eq!(again, Err(javumbo_session::StoreError::ConditionFailed));
        let names: Vec<_> = fs::read_dir(dir.path().join("objects/k"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["v.blob".to_owned()]);
        store.get("k/v").await.unwrap();
        store.delete("k/v").await.unwrap();
        let snap = metrics.snapshot();
        assert_eq!(
            (snap["blob_put"], snap["blob_get"], snap["blob_delete"]),
            (2, 1, 1)
        );
    }
}
