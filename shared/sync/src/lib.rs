//! Anki's sync protocol (version 11, accepting 8–11 like Anki's own server) as a domain library:
//! no HTTP, no storage. The HTTP layer (`javumbo-api`'s `sync` routes) parses with it, runs its
//! collection operations through the session manager and shapes answers from its types.
//!
//! - [`header`]: the `anki-sync` request header and the version rules.
//! - [`codec`]: zstd request bodies (bounded) and responses with their original size.
//! - [`messages`]: the JSON bodies of every `/sync/*` method.
//! - [`error`]: [`SyncError`], the failures the official client understands, with their status.
//! - [`keys`]: device keys (Anki's "host key"): generation, the stored hash, parsing.
//! - [`full`]: `meta`, full upload and full download on a javumbo [`Collection`].
//! - [`normal`]: normal (incremental) sync: the session and the client's changes staged in the
//!   collection, merged with Anki's rules at `finish`.
//!
//! [`Collection`]: javumbo_collection::Collection

pub mod codec;
pub mod error;
pub mod full;
pub mod header;
pub mod keys;
pub mod media;
pub mod messages;
pub mod normal;

pub use codec::{DEFAULT_MAX_BODY_BYTES, decode_body, encode_body};
pub use error::SyncError;
pub use full::{PreparedUpload, apply_upload, download, meta, prepare_upload};
pub use header::{SYNC_HEADER, SYNC_VERSION_MAX, SYNC_VERSION_MIN, SyncHeader};
pub use keys::{HostKey, NewDeviceKey};
