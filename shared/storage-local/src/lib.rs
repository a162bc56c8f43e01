//! Embedded adapters of the session ports (DESIGN §2): the product's default backend.
//!
//! - [`DirBlobStore`]: blobs as files in a directory; atomic, durable, conditional writes that
//!   are linearizable across OS processes sharing the directory.
//! - [`SqliteStore`]: `users`, `sessions` and the journal in one SQLite file (WAL); every
//!   conditional write is one `BEGIN IMMEDIATE` transaction, so several processes may share it.
//! - [`LocalBus`]: an in-process, at-least-once flush bus with injectable drops, duplicates and
//!   delays.
//! - [`FaultyStore`]: a wrapper injecting `Unavailable` failures (before the call, after the
//!   write, or after a delay) for the load harness.

mod blob;
mod bus;
mod error;
mod faults;
mod sqlite;

pub use blob::DirBlobStore;
pub use bus::{BoxFuture, BusFaults, FlushHandler, LocalBus};
pub use error::LocalStoreError;
pub use faults::{FaultyStore, StoreFaults};
pub use sqlite::SqliteStore;
