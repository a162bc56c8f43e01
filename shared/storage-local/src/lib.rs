//! Embedded adapters of the session ports (`docs/ARCHITECTURE.md#ports`): the product's default
//! backend.
//!
//! - [`DirBlobStore`]: blobs as files in a directory; atomic, durable, conditional writes that
//!   are linearizable across OS processes sharing the directory.
//! - [`SqliteStore`]: `users`, `sessions` and the journal in one SQLite file (WAL); every
//!   conditional write is one `BEGIN IMMEDIATE` transaction, so several processes may share it.
//! - [`LocalBus`]: an in-process flush bus (SNS's drops, duplicates and delays are injected
//!   around it, like store failures, by `javumbo_session::faults`).

mod blob;
mod bus;
mod error;
mod sqlite;

pub use blob::DirBlobStore;
pub use bus::{BoxFuture, FlushHandler, LocalBus};
pub use error::LocalStoreError;
pub use sqlite::SqliteStore;
