//! The port conformance suite: one set of checks every adapter of [`crate::ports`] must pass
//! (embedded and AWS alike). Each check is a plain async function over `Arc<dyn Port>` that
//! panics on a violation, so an adapter crate's test calls `run_all_*` (or single checks) from
//! a multi-threaded tokio test.
//!
//! Every check uses fresh usernames and keys, so the suite can share one table / bucket with
//! other runs (the AWS emulator is not reset between tests).
//!
//! One file per port (`blob`, `user`, `session` and `journal` for the two halves of the session
//! store, `bus`), their shared helpers in `support`; this file is the table of contents
//! (`run_all_*`).

use std::sync::Arc;

use crate::ports::{BlobStore, SessionStore, UserStore};

mod blob;
mod bus;
mod journal;
mod session;
mod support;
mod user;

pub use blob::*;
pub use bus::*;
pub use journal::*;
pub use session::*;
pub use support::{RACERS, journal_entry, race, session_item, unique_key, unique_username};
pub use user::*;

pub async fn run_all_blob(store: Arc<dyn BlobStore>) {
    blob_get_missing(Arc::clone(&store)).await;
    blob_round_trip_with_metadata(Arc::clone(&store)).await;
    blob_etag_changes_with_content(Arc::clone(&store)).await;
    blob_if_absent_on_existing_fails(Arc::clone(&store)).await;
    blob_if_match(Arc::clone(&store)).await;
    blob_concurrent_if_absent_single_winner(Arc::clone(&store)).await;
    blob_concurrent_if_match_single_winner(Arc::clone(&store)).await;
    blob_delete_idempotent(Arc::clone(&store)).await;
    blob_purge(store).await;
}

pub async fn run_all_user(store: Arc<dyn UserStore>) {
    user_get_missing(Arc::clone(&store)).await;
    user_create_if_absent_twice(Arc::clone(&store)).await;
    user_concurrent_create_single_winner(Arc::clone(&store)).await;
    user_update_password_hash_cas(Arc::clone(&store)).await;
    user_unicode_round_trip(Arc::clone(&store)).await;
    user_register_unique_case_insensitively(Arc::clone(&store)).await;
    user_concurrent_case_variants_single_winner(Arc::clone(&store)).await;
    user_migrated_case_pair(Arc::clone(&store)).await;
    user_token_revocation(Arc::clone(&store)).await;
    user_delete(Arc::clone(&store)).await;
    device_keys_round_trip(store).await;
}

pub async fn run_all_session(store: Arc<dyn SessionStore>) {
    session_get_missing(Arc::clone(&store)).await;
    session_put_absent_twice(Arc::clone(&store)).await;
    session_version_cas(Arc::clone(&store)).await;
    session_commit_appends(Arc::clone(&store)).await;
    session_commit_fenced(Arc::clone(&store)).await;
    session_concurrent_commits_single_winner(Arc::clone(&store)).await;
    session_commit_retry_idempotent(Arc::clone(&store)).await;
    session_journal_range(Arc::clone(&store)).await;
    session_trim_idempotent(Arc::clone(&store)).await;
    session_payload_round_trip(Arc::clone(&store)).await;
    session_read_after_write(Arc::clone(&store)).await;
    session_delete(store).await;
}
