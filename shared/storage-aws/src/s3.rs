use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use javumbo_session::{Blob, BlobStore, Metrics, PutCondition, StoreResult};

use crate::error::{AwsStoreError, Kind, Result, classify, sdk_error};

/// Metadata key under which every write records its own id. S3 answers a retried conditional
/// PUT whose first attempt landed with 412; the id tells "my write is there" from "someone
/// else's is". Stripped from what [`BlobStore::get`] returns.
const WRITE_ID_META: &str = "javumbo-write-id";

/// [`BlobStore`] on one S3 bucket.
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    max_attempts: u32,
    metrics: Arc<Metrics>,
}

impl S3BlobStore {
    pub fn new(
        client: Client,
        bucket: impl Into<String>,
        max_attempts: u32,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            max_attempts: max_attempts.max(1),
            metrics,
        }
    }

    async fn get_inner(&self, key: &str) -> Result<Option<Blob>> {
        Metrics::incr(&self.metrics.blob_get);
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|se| se.is_no_such_key()) => {
                return Ok(None);
            }
            Err(e) => return Err(sdk_error("s3", "GetObject", e)),
        };
        let etag = out
            .e_tag()
            .map(str::to_owned)
            .ok_or_else(|| AwsStoreError::corrupt(format!("s3 object {key} has no ETag")))?;
        let metadata = user_metadata(out.metadata());
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| AwsStoreError::Unavailable {
                service: "s3",
                operation: "GetObject",
                message: format!("reading the body: {e}"),
            })?;
        Ok(Some(Blob {
            bytes: bytes.into_bytes(),
            etag,
            metadata,
        }))
    }

    /// The current object's write id and etag (one HEAD), `None` when there is no object.
    async fn head_write_id(&self, key: &str) -> Result<Option<(Option<String>, Option<String>)>> {
        Metrics::incr(&self.metrics.blob_get);
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some((
                out.metadata().and_then(|m| m.get(WRITE_ID_META).cloned()),
                out.e_tag().map(str::to_owned),
            ))),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => Ok(None),
            Err(e) => Err(sdk_error("s3", "HeadObject", e)),
        }
    }

    async fn put_inner(
        &self,
        key: &str,
        bytes: Bytes,
        metadata: BTreeMap<String, String>,
        condition: PutCondition,
    ) -> Result<String> {
        if metadata.contains_key(WRITE_ID_META) {
            return Err(AwsStoreError::InvalidArgument(format!(
                "metadata key {WRITE_ID_META} is reserved"
            )));
        }
        let write_id = uuid::Uuid::new_v4().to_string();
        let mut ambiguous = false;
        let mut last_err = None;
        // Retries are ours, not the SDK's: only here do we know whether an earlier attempt may
        // have landed, which decides how a later 412 must be read.
        for attempt in 0..self.max_attempts {
            Metrics::incr(&self.metrics.blob_put);
            let mut req = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(ByteStream::from(bytes.clone()))
                .metadata(WRITE_ID_META, &write_id);
            for (k, v) in &metadata {
                req = req.metadata(k, v);
            }
            req = match &condition {
                PutCondition::Any => req,
                PutCondition::IfAbsent => req.if_none_match("*"),
                PutCondition::IfMatch(etag) => req.if_match(etag),
            };
            let res = req
                .customize()
                .config_override(
                    aws_sdk_s3::config::Builder::default().retry_config(RetryConfig::disabled()),
                )
                .send()
                .await;
            let err = match res {
                Ok(out) => {
                    return out.e_tag().map(str::to_owned).ok_or_else(|| {
                        AwsStoreError::corrupt(format!("s3 PutObject {key} returned no ETag"))
                    });
                }
                Err(e) => e,
            };
            // AWS answers `If-Match` on a missing key with 404 NoSuchKey, not 412: equally a
            // failed precondition with nothing written.
            let missing = matches!(condition, PutCondition::IfMatch(_))
                && err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 404);
            let kind = if missing {
                Kind::Condition
            } else {
                classify(&err)
            };
            match kind {
                Kind::Condition if !ambiguous => return Err(AwsStoreError::ConditionFailed),
                Kind::Condition => {
                    return match self.head_write_id(key).await? {
                        Some((Some(id), Some(etag))) if id == write_id => Ok(etag),
                        // Ours may have landed and been replaced since: only "maybe" is true.
                        _ => Err(AwsStoreError::Unavailable {
                            service: "s3",
                            operation: "PutObject",
                            message: "precondition failed after an ambiguous attempt".into(),
                        }),
                    };
                }
                Kind::Rejected => return Err(sdk_error("s3", "PutObject", err)),
                Kind::Ambiguous => {
                    ambiguous = true;
                    tracing::warn!(key, error = %crate::error::describe(&err), "s3 put attempt failed; retrying");
                    last_err = Some(sdk_error("s3", "PutObject", err));
                    // Jittered exponential backoff, as the SDK's standard mode would do.
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 25;
                    tokio::time::sleep(Duration::from_millis((25 << attempt.min(5)) + jitter))
                        .await;
                }
            }
        }
        Err(last_err.unwrap_or_else(|| AwsStoreError::Unavailable {
            service: "s3",
            operation: "PutObject",
            message: "no attempt made".into(),
        }))
    }
}

fn user_metadata(
    m: Option<&std::collections::HashMap<String, String>>,
) -> BTreeMap<String, String> {
    m.into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != WRITE_ID_META)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn get(&self, key: &str) -> StoreResult<Option<Blob>> {
        Ok(self.get_inner(key).await?)
    }

    async fn put(
        &self,
        key: &str,
        bytes: Bytes,
        metadata: BTreeMap<String, String>,
        condition: PutCondition,
    ) -> StoreResult<String> {
        Ok(self.put_inner(key, bytes, metadata, condition).await?)
    }

    async fn delete(&self, key: &str) -> StoreResult<()> {
        Metrics::incr(&self.metrics.blob_delete);
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| sdk_error("s3", "DeleteObject", e))?;
        Ok(())
    }

    async fn purge(&self, key: &str) -> StoreResult<u64> {
        Ok(self.purge_inner(key).await?)
    }

    async fn presigned_get(
        &self,
        key: &str,
        ttl: Duration,
        download_name: &str,
    ) -> StoreResult<Option<String>> {
        let config = presigning(ttl)?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(format!("attachment; filename=\"{download_name}\""))
            .presigned(config)
            .await
            .map_err(|e| sdk_error("s3", "GetObject (presign)", e))?;
        Ok(Some(req.uri().to_owned()))
    }

    async fn presigned_put(&self, key: &str, ttl: Duration) -> StoreResult<Option<String>> {
        let config = presigning(ttl)?;
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| sdk_error("s3", "PutObject (presign)", e))?;
        Ok(Some(req.uri().to_owned()))
    }
}

fn presigning(ttl: Duration) -> Result<aws_sdk_s3::presigning::PresigningConfig> {
    aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl).map_err(|e| {
        AwsStoreError::Unavailable {
            service: "s3",
            operation: "presign",
            message: e.to_string(),
        }
    })
}

/// Deletes in flight at once during a purge.
const PURGE_PARALLEL: usize = 16;

fn purge_task_failed(e: tokio::task::JoinError) -> AwsStoreError {
    AwsStoreError::Unavailable {
        service: "s3",
        operation: "DeleteObject",
        message: e.to_string(),
    }
}

impl S3BlobStore {
    /// Every version (and delete marker) under `key` as a prefix, or of exactly `key`; then
    /// each deleted by version id, which removes it for good. A bucket without versioning
    /// lists its objects with the version id "null", which S3 accepts the same way.
    async fn purge_inner(&self, key: &str) -> Result<u64> {
        let whole_dir = key.ends_with('/');
        let mut targets: Vec<(String, Option<String>)> = Vec::new();
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| sdk_error("s3", "ListObjectVersions", e))?;
            let versions = page
                .versions()
                .iter()
                .map(|v| (v.key(), v.version_id()))
                .chain(
                    page.delete_markers()
                        .iter()
                        .map(|m| (m.key(), m.version_id())),
                );
            for (k, v) in versions {
                if let Some(k) = k.filter(|k| whole_dir || *k == key) {
                    targets.push((k.to_owned(), v.map(str::to_owned)));
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_owned);
            version_marker = page.next_version_id_marker().map(str::to_owned);
            if key_marker.is_none() {
                break;
            }
        }
        let count = targets.len() as u64;
        let mut pending = tokio::task::JoinSet::new();
        for (k, version) in targets {
            if pending.len() >= PURGE_PARALLEL
                && let Some(done) = pending.join_next().await
            {
                done.map_err(purge_task_failed)??;
            }
            Metrics::incr(&self.metrics.blob_delete);
            let request = self
                .client
                .delete_object()
                .bucket(&self.bucket)
                .key(k)
                .set_version_id(version.filter(|v| v != "null"));
            pending.spawn(async move {
                request
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk_error("s3", "DeleteObject", e))
            });
        }
        while let Some(done) = pending.join_next().await {
            done.map_err(purge_task_failed)??;
        }
        Ok(count)
    }
}
