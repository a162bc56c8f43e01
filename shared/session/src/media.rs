//! The bytes of a user's media in the blob store, content-addressed
//! (`docs/ARCHITECTURE.md#media`): `media/<storage key>/<sha256 hex>`. The name → hash index is
//! in the collection (`javumbo_collection::media`); callers write the blob first and the index
//! second, so a crash leaves an unreferenced blob, never a name without bytes.

use std::collections::BTreeMap;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::ports::{BlobStore, PutCondition, StoreError, StoreResult};
use crate::username::Username;

/// Every media blob of `user` starts with this (account deletion removes the prefix).
pub fn media_prefix(user: &Username) -> String {
    format!("media/{}/", user.storage_key())
}

/// The blob key of `user`'s content with hash `sha256` (lowercase hex).
pub fn media_key(user: &Username, sha256: &str) -> String {
    format!("{}{sha256}", media_prefix(user))
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Store `bytes` for `user` unless the same content is already there; returns its hash.
pub async fn put_media(
    blobs: &dyn BlobStore,
    user: &Username,
    bytes: Bytes,
) -> StoreResult<String> {
    let sha = sha256_hex(&bytes);
    match blobs
        .put(
            &media_key(user, &sha),
            bytes,
            BTreeMap::new(),
            PutCondition::IfAbsent,
        )
        .await
    {
        // Same key, same content: deduplicated.
        Ok(_) | Err(StoreError::ConditionFailed) => Ok(sha),
        Err(e) => Err(e),
    }
}

/// The bytes of `user`'s content `sha256`, if stored.
pub async fn get_media(
    blobs: &dyn BlobStore,
    user: &Username,
    sha256: &str,
) -> StoreResult<Option<Bytes>> {
    Ok(blobs.get(&media_key(user, sha256)).await?.map(|b| b.bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryBackend;
    use crate::metrics::Metrics;

    #[tokio::test]
    async fn content_is_deduplicated_per_user_and_keys_hide_names() {
        let ports = MemoryBackend::new().ports(std::sync::Arc::new(Metrics::default()));
        let blobs = &*ports.blobs;
        let ana = Username::parse("João Vitor").unwrap();
        let bob = Username::parse("bob").unwrap();
        let a = put_media(blobs, &ana, Bytes::from_static(b"cat"))
            .await
            .unwrap();
        let again = put_media(blobs, &ana, Bytes::from_static(b"cat"))
            .await
            .unwrap();
        assert_eq!(a, again);
        assert_eq!(a, sha256_hex(b"cat"));
        assert_eq!(media_key(&ana, &a), format!("media/Jo~c3~a3o~20Vitor/{a}"));
        assert_eq!(
            get_media(blobs, &ana, &a).await.unwrap().as_deref(),
            Some(&b"cat"[..])
        );
        // Another user's hash is never found under this user's prefix.
        assert!(get_media(blobs, &bob, &a).await.unwrap().is_none());
    }
}
