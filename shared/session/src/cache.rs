//! The container's LRU of open collections, bounded by count and by bytes on disk.
//!
//! An entry owns its collection file: dropping an entry (evicted, invalidated, or lost with a
//! cancelled request) closes the connection and deletes the file, so `/tmp` never fills with
//! orphans and a stale copy can never be picked up again.

use std::collections::HashMap;
use std::path::PathBuf;

use javumbo_collection::Collection;

use crate::username::Username;

/// The session version a cached copy is exactly at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    pub session_id: String,
    /// The session's owner when this copy was acquired: commits are fenced on it (with epoch
    /// and seq), whoever this container is.
    pub owner: String,
    pub epoch: u64,
    /// Journal seq the collection reflects.
    pub seq: u64,
    /// Etag of the snapshot blob this copy was loaded from (or last uploaded).
    pub snapshot_etag: Option<String>,
    /// The `seq` metadata of that snapshot.
    pub snapshot_seq: u64,
    /// The session item's `snapshot_seq` when acquired: how far the journal was folded.
    pub folded_seq: u64,
    pub schema_fingerprint: String,
}

/// One user's open collection and the version it is at.
#[derive(Debug)]
pub struct CacheEntry {
    col: Option<Collection>,
    pub path: PathBuf,
    pub meta: EntryMeta,
}

impl CacheEntry {
    pub fn new(col: Collection, path: PathBuf, meta: EntryMeta) -> Self {
        Self {
            col: Some(col),
            path,
            meta,
        }
    }

    pub fn col(&self) -> &Collection {
        // `col` is only `None` inside `drop`.
        self.col.as_ref().expect("cache entry without a collection")
    }

    /// Bytes on disk (main file plus a rollback journal, if any).
    pub fn disk_bytes(&self) -> u64 {
        let main = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        let mut j = self.path.clone().into_os_string();
        j.push("-journal");
        main + std::fs::metadata(j).map(|m| m.len()).unwrap_or(0)
    }
}

impl Drop for CacheEntry {
    fn drop(&mut self) {
        // Close before unlinking so SQLite does not write to a deleted inode.
        drop(self.col.take());
        let _ = std::fs::remove_file(&self.path);
        let mut j = self.path.clone().into_os_string();
        j.push("-journal");
        let _ = std::fs::remove_file(j);
    }
}

struct Slot {
    entry: CacheEntry,
    bytes: u64,
    last_used: u64,
}

/// LRU by count and bytes. Entries are taken out while a request uses them (the collection
/// moves to a blocking thread) and put back afterwards, so a busy entry is never evicted.
pub struct LruCache {
    slots: HashMap<Username, Slot>,
    tick: u64,
    max_entries: usize,
    max_bytes: u64,
}

impl LruCache {
    pub fn new(max_entries: usize, max_bytes: u64) -> Self {
        Self {
            slots: HashMap::new(),
            tick: 0,
            max_entries: max_entries.max(1),
            max_bytes,
        }
    }

    pub fn take(&mut self, user: &Username) -> Option<CacheEntry> {
        self.slots.remove(user).map(|s| s.entry)
    }

    pub fn peek(&self, user: &Username) -> Option<&CacheEntry> {
        self.slots.get(user).map(|s| &s.entry)
    }

    /// Drop (and delete the files of) `user`'s entry.
    pub fn remove(&mut self, user: &Username) {
        self.slots.remove(user);
    }

    /// Insert as most recently used, then evict least recently used entries until both bounds
    /// hold. The inserted entry itself is kept even if it alone exceeds the byte bound: it is
    /// the copy the current session works on.
    pub fn put(&mut self, user: Username, entry: CacheEntry) {
        self.tick += 1;
        let bytes = entry.disk_bytes();
        self.slots.insert(
            user.clone(),
            Slot {
                entry,
                bytes,
                last_used: self.tick,
            },
        );
        while self.slots.len() > self.max_entries || self.total_bytes() > self.max_bytes {
            let victim = self
                .slots
                .iter()
                .filter(|(u, _)| **u != user)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(u, _)| u.clone());
            match victim {
                Some(v) => {
                    tracing::debug!(user = %v, "evicting cached collection");
                    self.slots.remove(&v);
                }
                None => break,
            }
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn total_bytes(&self) -> u64 {
        self.slots.values().map(|s| s.bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use javumbo_collection::{CreateOptions, ManualClock};

    fn entry(dir: &std::path::Path, name: &str) -> CacheEntry {
        let path = dir.join(name);
        let col = Collection::create(
            &path,
            ManualClock::new(1_700_000_000_000),
            &CreateOptions {
                starter_deck: false,
                ..Default::default()
            },
        )
        .unwrap();
        CacheEntry::new(
            col,
            path,
            EntryMeta {
                session_id: "s".into(),
                owner: "c".into(),
                folded_seq: 0,
                epoch: 1,
                seq: 0,
                snapshot_etag: None,
                snapshot_seq: 0,
                schema_fingerprint: String::new(),
            },
        )
    }

    #[test]
    fn evicts_least_recently_used_by_count_and_deletes_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = LruCache::new(2, u64::MAX);
        let u = |s: &str| Username::parse(s).unwrap();
        c.put(u("a"), entry(dir.path(), "a"));
        c.put(u("b"), entry(dir.path(), "b"));
        // Touch a: b becomes the LRU.
        let a = c.take(&u("a")).unwrap();
        c.put(u("a"), a);
        c.put(u("c"), entry(dir.path(), "c"));
        assert!(c.peek(&u("b")).is_none());
        assert!(!dir.path().join("b").exists());
        assert!(dir.path().join("a").exists() && dir.path().join("c").exists());
        c.remove(&u("a"));
        assert!(!dir.path().join("a").exists());
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn evicts_by_bytes_but_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let one = entry(dir.path(), "probe").disk_bytes();
        let mut c = LruCache::new(100, one * 2);
        let u = |s: &str| Username::parse(s).unwrap();
        c.put(u("a"), entry(dir.path(), "a"));
        c.put(u("b"), entry(dir.path(), "b"));
        c.put(u("c"), entry(dir.path(), "c"));
        assert_eq!(c.len(), 2);
        assert!(c.peek(&u("a")).is_none());
        let mut tiny = LruCache::new(100, 1);
        tiny.put(u("x"), entry(dir.path(), "x"));
        assert_eq!(tiny.len(), 1);
    }
}
