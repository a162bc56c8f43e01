//! The media-sync log: what Anki's sync server keeps per user in its media database (file name,
//! SHA-1, usn; a deletion is a row with an empty SHA-1), kept in a javumbo-private table of the
//! collection so every change to it is journaled with the write that causes it
//! (`docs/ARCHITECTURE.md#media-sync`).
//!
//! The media index (`javumbo_media`, [`crate::media`]) stays the truth of which files exist;
//! this log follows it. A file added or removed outside media sync (the web app, a package
//! import) is found by [`Collection::media_sync_pending`] and logged by the sync server with
//! the SHA-1 Anki's clients compare, which needs the file's bytes, so it happens outside the
//! engine (the server reads the blob) in bounded batches.

use rusqlite::{OptionalExtension, params};

use crate::{Collection, Result};

/// Name of the private table.
pub const MEDIA_SYNC_TABLE: &str = "javumbo_media_sync";

/// Created at every open, like every private table (`crate::idempotency`).
pub(crate) const MEDIA_SYNC_DDL: &str = "CREATE TABLE IF NOT EXISTS javumbo_media_sync (\
     fname TEXT PRIMARY KEY NOT NULL, sha256 TEXT NOT NULL, sha1 TEXT NOT NULL, \
     usn INTEGER NOT NULL);\
     CREATE INDEX IF NOT EXISTS javumbo_media_sync_usn ON javumbo_media_sync (usn);";

/// A difference between the media index and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingMedia {
    /// In the index with content the log does not have (new, or replaced).
    Changed { name: String, sha256: String },
    /// Logged as present, gone from the index.
    Removed { name: String },
}

/// One entry of the log, as `mediaChanges` sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaChange {
    pub name: String,
    pub usn: i32,
    /// Lowercase hex; empty for a deletion.
    pub sha1: String,
}

/// What to log for one file: present with content (`sha256`, `sha1`), or deleted (`None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedMedia {
    pub name: String,
    pub content: Option<(String, String)>,
}

impl Collection {
    /// The log's usn: the usn of its latest change, 0 when empty.
    pub fn media_last_usn(&self) -> Result<i32> {
        Ok(self.conn().query_row(
            "SELECT coalesce(max(usn), 0) FROM javumbo_media_sync",
            [],
            |r| r.get(0),
        )?)
    }

    /// Up to `limit` differences between the index and the log, by name.
    pub fn media_sync_pending(&self, limit: usize) -> Result<Vec<PendingMedia>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut out = Vec::new();
        let mut changed = self.conn().prepare_cached(
            "SELECT m.name, m.sha256 FROM javumbo_media m \
             LEFT JOIN javumbo_media_sync s ON s.fname = m.name \
             WHERE s.fname IS NULL OR s.sha256 != m.sha256 ORDER BY m.name LIMIT ?1",
        )?;
        for row in changed.query_map([limit], |r| {
            Ok(PendingMedia::Changed {
                name: r.get(0)?,
                sha256: r.get(1)?,
            })
        })? {
            out.push(row?);
        }
        let left = limit - out.len() as i64;
        if left > 0 {
            let mut removed = self.conn().prepare_cached(
                "SELECT s.fname FROM javumbo_media_sync s \
                 LEFT JOIN javumbo_media m ON m.name = s.fname \
                 WHERE s.sha1 != '' AND m.name IS NULL ORDER BY s.fname LIMIT ?1",
            )?;
            for row in
                removed.query_map([left], |r| Ok(PendingMedia::Removed { name: r.get(0)? }))?
            {
                out.push(row?);
            }
        }
        Ok(out)
    }

    /// Log `changes`, each at the next usn; returns the log's usn after them. A change that no
    /// longer matches the index (it moved on since it was read) is skipped: the next pass logs
    /// what is there then.
    pub fn log_media_changes(&self, changes: &[LoggedMedia]) -> Result<i32> {
        let mut usn = self.media_last_usn()?;
        for c in changes {
            let current = self.media_file(&c.name)?;
            let (sha256, sha1) = match (&c.content, current) {
                (Some((sha256, sha1)), Some(cur)) if cur.sha256 == *sha256 => {
                    (sha256.as_str(), sha1.as_str())
                }
                (None, None) => {
                    // A deletion of a name never logged (or already logged deleted) tells no
                    // client anything.
                    let logged: Option<String> = self
                        .conn()
                        .query_row(
                            "SELECT sha1 FROM javumbo_media_sync WHERE fname = ?1",
                            [&c.name],
                            |r| r.get(0),
                        )
                        .optional()?;
                    if logged.is_none_or(|s| s.is_empty()) {
                        continue;
                    }
                    ("", "")
                }
                _ => continue,
            };
            let logged: Option<(String, String)> = self
                .conn()
                .prepare_cached("SELECT sha256, sha1 FROM javumbo_media_sync WHERE fname = ?1")?
                .query_row([&c.name], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if logged.is_some_and(|(a, b)| a == sha256 && b == sha1) {
                // Uploaded again with the same content: Anki's server logs nothing new.
                continue;
            }
            usn += 1;
            self.conn()
                .prepare_cached(
                    "INSERT INTO javumbo_media_sync (fname, sha256, sha1, usn) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT(fname) DO UPDATE SET \
                     sha256 = excluded.sha256, sha1 = excluded.sha1, usn = excluded.usn",
                )?
                .execute(params![c.name, sha256, sha1, usn])?;
        }
        Ok(usn)
    }

    /// The SHA-1 logged for `name` when it is logged as present.
    pub fn media_logged_sha1(&self, name: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT sha1 FROM javumbo_media_sync WHERE fname = ?1 AND sha1 != ''",
                [name],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Up to `limit` log entries after `after_usn`, in usn order (Anki's server sends 1,000).
    pub fn media_changes_since(&self, after_usn: i32, limit: usize) -> Result<Vec<MediaChange>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut stmt = self.conn().prepare_cached(
            "SELECT fname, usn, sha1 FROM javumbo_media_sync WHERE usn > ?1 ORDER BY usn LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![after_usn, limit], |r| {
            Ok(MediaChange {
                name: r.get(0)?,
                usn: r.get(1)?,
                sha1: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Files the log has as present (what a client's media sanity check counts).
    pub fn media_logged_count(&self) -> Result<u32> {
        Ok(self.conn().query_row(
            "SELECT count(*) FROM javumbo_media_sync WHERE sha1 != ''",
            [],
            |r| r.get(0),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CreateOptions, ManualClock, MediaFile};

    fn col() -> Collection {
        Collection::create_in_memory(
            ManualClock::new(1_700_000_000_000),
            &CreateOptions::default(),
        )
        .unwrap()
    }

    fn file(name: &str, sha: &str) -> MediaFile {
        MediaFile {
            name: name.into(),
            sha256: sha.into(),
            size: 3,
        }
    }

    fn present(name: &str, sha256: &str, sha1: &str) -> LoggedMedia {
        LoggedMedia {
            name: name.into(),
            content: Some((sha256.into(), sha1.into())),
        }
    }

    #[test]
    fn the_log_follows_the_index() {
        let c = col();
        assert_eq!(c.media_last_usn().unwrap(), 0);
        c.put_media_file(&file("a.png", "aa")).unwrap();
        c.put_media_file(&file("b.png", "bb")).unwrap();
        assert_eq!(
            c.media_sync_pending(10).unwrap(),
            vec![
                PendingMedia::Changed {
                    name: "a.png".into(),
                    sha256: "aa".into()
                },
                PendingMedia::Changed {
                    name: "b.png".into(),
                    sha256: "bb".into()
                },
            ]
        );
        // A stale read is skipped: b.png changed after it was hashed.
        c.put_media_file(&file("b.png", "b2")).unwrap();
        let usn = c
            .log_media_changes(&[present("a.png", "aa", "a1"), present("b.png", "bb", "b1")])
            .unwrap();
        assert_eq!(usn, 1);
        assert_eq!(
            c.media_sync_pending(10).unwrap(),
            vec![PendingMedia::Changed {
                name: "b.png".into(),
                sha256: "b2".into()
            }]
        );
        assert_eq!(
            c.log_media_changes(&[present("b.png", "b2", "b9")])
                .unwrap(),
            2
        );
        // The same content again is no change.
        assert_eq!(
            c.log_media_changes(&[present("b.png", "b2", "b9")])
                .unwrap(),
            2
        );
        c.delete_media_file("a.png").unwrap();
        assert_eq!(
            c.media_sync_pending(10).unwrap(),
            vec![PendingMedia::Removed {
                name: "a.png".into()
            }]
        );
        let gone = LoggedMedia {
            name: "a.png".into(),
            content: None,
        };
        assert_eq!(c.log_media_changes(std::slice::from_ref(&gone)).unwrap(), 3);
        // Deleting again logs nothing new.
        assert_eq!(c.log_media_changes(&[gone]).unwrap(), 3);
        assert!(c.media_sync_pending(10).unwrap().is_empty());
        let changes = c.media_changes_since(1, 100).unwrap();
        assert_eq!(
            changes,
            vec![
                MediaChange {
                    name: "b.png".into(),
                    usn: 2,
                    sha1: "b9".into()
                },
                MediaChange {
                    name: "a.png".into(),
                    usn: 3,
                    sha1: String::new()
                },
            ]
        );
        assert_eq!(c.media_logged_count().unwrap(), 1);
        assert_eq!(c.media_logged_sha1("b.png").unwrap().as_deref(), Some("b9"));
        assert_eq!(c.media_logged_sha1("a.png").unwrap(), None);
    }
}
