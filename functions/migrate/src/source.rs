//! The two original deployments, read-only (their layout: `docs/ARCHITECTURE.md#migrating-from-the-original-app`).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::error::MigrateError;

/// One account of the original app, as it stored it.
#[derive(Debug, Clone)]
pub struct SourceUser {
    /// Where it came from (`admin.db user_id 7`, `javumbo-users`), for the report.
    pub origin: String,
    /// The raw username (the original app stripped it on registration, nothing more).
    pub username: String,
    pub name: String,
    /// bcrypt `$2b$…`, kept as is: javumbo's login verifies it and upgrades it to argon2.
    pub password_hash: String,
    /// Epoch ms when the source knows it (the serverless table's `created_at`).
    pub created_at: Option<i64>,
    /// Where its collection is.
    pub collection: CollectionRef,
}

#[derive(Debug, Clone)]
pub enum CollectionRef {
    File(PathBuf),
    Object { bucket: String, key: String },
}

/// The monolith: `DIR/admin.db` (table `users`) and `DIR/user_dbs/user_<user_id>.db`.
pub fn monolith_users(dir: &Path) -> Result<Vec<SourceUser>, MigrateError> {
    let admin = dir.join("admin.db");
    if !admin.is_file() {
        return Err(MigrateError::Source(format!(
            "{} not found (expected the monolith's data directory)",
            admin.display()
        )));
    }
    // Read-only: the source is never written (not even a journal).
    let conn = Connection::open_with_flags(&admin, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt =
        conn.prepare("SELECT user_id, username, name, password_hash FROM users ORDER BY user_id")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut users = Vec::new();
    for row in rows {
        let (id, username, name, password_hash) = row?;
        users.push(SourceUser {
            origin: format!("admin.db user_id {id}"),
            username,
            name,
            password_hash,
            created_at: None,
            collection: CollectionRef::File(dir.join("user_dbs").join(format!("user_{id}.db"))),
        });
    }
    Ok(users)
}

/// Read a collection file without writing anything next to it.
pub fn read_file(path: &Path) -> Result<Vec<u8>, MigrateError> {
    std::fs::read(path).map_err(|e| MigrateError::Source(format!("{}: {e}", path.display())))
}
