//! Session caching and loss-free flush coordination: the protocol that lets any container serve
//! a user's collection from a cached copy while no acknowledged write is ever lost
//! (`docs/ARCHITECTURE.md#the-session-protocol`).
//!
//! One concern per file, in dependency order (a file imports only files above it):
//!
//! | file | concern |
//! |---|---|
//! | [`username`] | the validated `Username` every key and path is built from |
//! | [`metrics`] | per-container counters every adapter and the manager update |
//! | [`lineage`] | session ids as a chain, so an id a client holds survives compaction |
//! | [`ports`] | the storage traits (`BlobStore`, `UserStore`, `SessionStore`, `FlushBus`), their data, `StoreError`, and the `Ports` bundle |
//! | [`error`] | `SessionError` (what the HTTP layer maps) |
//! | [`outcome`] | `Served` / `Failed` / `RequestError`: what a request answers, with its session id |
//! | [`cache`] | the LRU of open collections; an entry owns its file |
//! | [`journal`] | a request's writes as a changeset: capture, encode, fetch, replay |
//! | `snapshot` | the snapshot blob: read it with the journal tail, materialize, upload |
//! | [`media`] | media bytes in the blob store, content-addressed per user |
//! | [`flush`] | the flush handler (`handle_flush_request`): fold the journal, release |
//! | [`manager`] | `SessionManager`: configuration and the state a container's requests share |
//! | `coordination` | compaction requests, waiting for `flushed`, explicit flush, `status` |
//! | `acquire` | a copy at the session's seq: hit, catch-up, load, claim, takeover |
//! | `request` | `with_collection`: acquire → capture → commit → settle |
//! | `memory`, `faults` | in-memory ports and seeded fault injection (feature `testing`) |
//! | `conformance` | the checks every adapter must pass (feature `conformance`) |
//!
//! `coordination`, `acquire` and `request` add methods to `SessionManager`; the shared state
//! they work on (and why its locks are what they are) is documented on the struct.

mod apply;
pub mod cache;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod error;
#[cfg(any(test, feature = "testing"))]
pub mod faults;
pub mod flush;
pub mod journal;
pub mod lineage;
pub mod manager;
pub mod media;
#[cfg(any(test, feature = "testing"))]
pub mod memory;
pub mod metrics;
pub mod outcome;
pub mod ports;
mod snapshot;
pub mod username;

mod acquire;
mod coordination;
mod request;
#[cfg(test)]
mod test_support;

pub use coordination::SessionView;
pub use error::{InternalError, SessionError};
pub use flush::{FlushOutcome, handle_flush_request};
pub use manager::{SessionConfig, SessionManager};
pub use metrics::Metrics;
pub use outcome::{Failed, RequestError, Served};
pub use ports::*;
pub use username::{InvalidUsername, Username};
