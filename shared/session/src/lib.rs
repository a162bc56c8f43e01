//! Session caching and loss-free flush coordination (DESIGN §2–§7).
//!
//! - [`ports`]: the storage traits (`BlobStore`, `UserStore`, `SessionStore`, `FlushBus`).
//! - [`metrics`]: per-container counters every adapter and the manager update.
//! - [`username`]: the validated `Username` every key is built from.
//! - [`journal`]: capturing a request's writes as a changeset; replaying entries.
//! - [`manager`]: the request middleware (`SessionManager::with_collection`) and its cache.
//! - [`flush`]: the flush handler (`handle_flush_request`).
//! - [`cache`]: the LRU of open collections.
//! - [`memory`]: in-memory ports (unit tests, simulation); [`faults`]: seeded fault injection.

pub mod cache;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod faults;
pub mod flush;
pub mod journal;
pub mod manager;
pub mod memory;
pub mod metrics;
pub mod ports;
pub mod username;

pub use flush::{FlushOutcome, handle_flush_request};
pub use manager::{
    Failed, Ports, Served, SessionConfig, SessionError, SessionManager, SessionView,
};
pub use metrics::Metrics;
pub use ports::*;
pub use username::{InvalidUsername, Username};
