//! The user's media index: file name → content hash, a javumbo-private table inside the
//! collection file (`docs/ARCHITECTURE.md#media`). The bytes live in the blob store under the
//! hash; the index is written inside the user's collection transaction, so it is journaled and
//! replayed like any other write. Anki never sees the table: exports and full-sync downloads copy
//! only Anki's tables.

use rusqlite::{OptionalExtension, params};

use crate::{Collection, CollectionError, OperationError, Result};

/// A user's media together may take at most this many bytes (every name counted).
pub const MEDIA_QUOTA_BYTES: u64 = 1024 * 1024 * 1024;

/// Why a media operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The user's media would exceed [`MEDIA_QUOTA_BYTES`].
    #[error("media quota exceeded: {used} of {quota} bytes used, {adding} more bytes do not fit")]
    QuotaExceeded { used: u64, adding: u64, quota: u64 },
    #[error(transparent)]
    Collection(#[from] CollectionError),
}

impl From<rusqlite::Error> for MediaError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Collection(e.into())
    }
}

impl OperationError for MediaError {
    fn is_client_error(&self) -> bool {
        match self {
            Self::QuotaExceeded { .. } => true,
            Self::Collection(e) => e.is_client_error(),
        }
    }
}

/// Name of the private table (every javumbo-private table starts with `javumbo_`).
pub const MEDIA_TABLE: &str = "javumbo_media";

/// Created at every open: a primary key, because the session extension ignores tables without
/// one.
pub(crate) const MEDIA_DDL: &str = "CREATE TABLE IF NOT EXISTS javumbo_media (\
     name TEXT PRIMARY KEY NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL)";

/// One file of the user's media.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    /// Normalised by Anki's file-name rules before it gets here.
    pub name: String,
    /// Lowercase hex SHA-256 of the bytes: the blob's key suffix.
    pub sha256: String,
    pub size: u64,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MediaFile> {
    Ok(MediaFile {
        name: r.get(0)?,
        sha256: r.get(1)?,
        size: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
    })
}

impl Collection {
    /// Every media file, by name.
    pub fn media_files(&self) -> Result<Vec<MediaFile>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT name, sha256, size FROM javumbo_media ORDER BY name")?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn media_file(&self, name: &str) -> Result<Option<MediaFile>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT name, sha256, size FROM javumbo_media WHERE name = ?1",
                [name],
                row,
            )
            .optional()?)
    }

    /// Bytes of all files together (what the quota counts: every name, as a student sees them).
    pub fn media_total_bytes(&self) -> Result<u64> {
        let n: i64 = self.conn().query_row(
            "SELECT coalesce(sum(size), 0) FROM javumbo_media",
            [],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Add or replace the file named `file.name`.
    pub fn put_media_file(&self, file: &MediaFile) -> Result<()> {
        let size = i64::try_from(file.size).unwrap_or(i64::MAX);
        self.conn().execute(
            "INSERT INTO javumbo_media (name, sha256, size) VALUES (?1, ?2, ?3) \
             ON CONFLICT(name) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size",
            params![file.name, file.sha256, size],
        )?;
        Ok(())
    }

    /// Remove `name`; returns the removed entry.
    pub fn delete_media_file(&self, name: &str) -> Result<Option<MediaFile>> {
        let old = self.media_file(name)?;
        if old.is_some() {
            self.conn()
                .execute("DELETE FROM javumbo_media WHERE name = ?1", [name])?;
        }
        Ok(old)
    }

    /// Add or replace files, all or none, refusing what would take the user's media past
    /// `quota` bytes (a replaced file's old size is freed first).
    pub fn put_media_files(
        &self,
        files: &[MediaFile],
        quota: u64,
    ) -> std::result::Result<(), MediaError> {
        let used = self.media_total_bytes()?;
        let mut freed = 0u64;
        let mut adding = 0u64;
        for f in files {
            if let Some(old) = self.media_file(&f.name)? {
                freed = freed.saturating_add(old.size);
            }
            adding = adding.saturating_add(f.size);
        }
        if used.saturating_sub(freed).saturating_add(adding) > quota {
            return Err(MediaError::QuotaExceeded {
                used,
                adding,
                quota,
            });
        }
        self.atomic(|c| -> Result<()> {
            for f in files {
                c.put_media_file(f)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Whether any name still refers to the content `sha256`.
    pub fn media_hash_in_use(&self, sha256: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT 1 FROM javumbo_media WHERE sha256 = ?1 LIMIT 1",
                [sha256],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CreateOptions, ManualClock};

    fn file(name: &str, sha: &str, size: u64) -> MediaFile {
        MediaFile {
            name: name.into(),
            sha256: sha.into(),
            size,
        }
    }

    #[test]
    fn index_adds_replaces_deletes_and_totals() {
        let col =
            Collection::create_in_memory(ManualClock::new(0), &CreateOptions::default()).unwrap();
        assert_eq!(col.media_total_bytes().unwrap(), 0);
        col.put_media_file(&file("a.jpg", "aa", 10)).unwrap();
        col.put_media_file(&file("b.jpg", "aa", 10)).unwrap();
        col.put_media_file(&file("a.jpg", "bb", 7)).unwrap();
        assert_eq!(col.media_total_bytes().unwrap(), 17);
        assert_eq!(
            col.media_file("a.jpg").unwrap(),
            Some(file("a.jpg", "bb", 7))
        );
        assert!(col.media_hash_in_use("aa").unwrap());
        assert_eq!(
            col.delete_media_file("b.jpg").unwrap(),
            Some(file("b.jpg", "aa", 10))
        );
        assert!(!col.media_hash_in_use("aa").unwrap());
        assert_eq!(col.delete_media_file("b.jpg").unwrap(), None);
        assert_eq!(col.media_files().unwrap(), vec![file("a.jpg", "bb", 7)]);
    }

    #[test]
    fn quota_counts_replacements_and_refuses_whole_batches() {
        let col =
            Collection::create_in_memory(ManualClock::new(0), &CreateOptions::default()).unwrap();
        col.put_media_files(&[file("a", "1", 60)], 100).unwrap();
        // Replacing a (60 → 90) fits: the old bytes are freed.
        col.put_media_files(&[file("a", "2", 90)], 100).unwrap();
        let err = col
            .put_media_files(&[file("b", "3", 5), file("c", "4", 6)], 100)
            .unwrap_err();
        assert!(matches!(
            err,
            MediaError::QuotaExceeded {
                used: 90,
                adding: 11,
                ..
            }
        ));
        assert!(err.is_client_error());
        assert_eq!(col.media_files().unwrap().len(), 1);
    }

    #[test]
    fn opening_an_older_file_adds_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.anki2");
        let col =
            Collection::create(&path, ManualClock::new(0), &CreateOptions::default()).unwrap();
        col.conn()
            .execute_batch("DROP TABLE javumbo_media")
            .unwrap();
        drop(col);
        let col = Collection::open(&path, ManualClock::new(0)).unwrap();
        assert!(col.media_files().unwrap().is_empty());
    }
}
