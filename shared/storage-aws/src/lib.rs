//! AWS adapters of the session ports (`docs/ARCHITECTURE.md#ports`), kept in their own crate so
//! the engine and `javumbo-local` build without the AWS SDK:
//!
//! - [`S3BlobStore`]: snapshots and spilled journal entries in S3, with `If-None-Match: *` /
//!   `If-Match` conditional PUTs.
//! - [`DynamoStore`]: `users`, `sessions` and `journal` in DynamoDB; strongly consistent reads,
//!   the fenced commit as one `TransactWriteItems` with a `ClientRequestToken`.
//! - [`SnsFlushBus`]: flush requests published to SNS.
//! - [`emf`]: the container's counters as CloudWatch Embedded Metric Format log lines.
//!
//! Clients are built once per container ([`AwsClients::load`]) with explicit timeouts and
//! retries from [`AwsConfig`]; every port handle counts its calls into the container's
//! [`Metrics`].

mod config;
mod dynamo;
pub mod emf;
mod error;
mod provision;
mod s3;
pub mod seed;
mod sns;

use std::sync::Arc;

use aws_config::SdkConfig;
use javumbo_session::{FlushBus, Metrics, Ports};

pub use config::*;
pub use dynamo::DynamoStore;
pub use error::AwsStoreError;
pub use provision::{create_tables_and_bucket, create_topic};
pub use s3::S3BlobStore;
pub use sns::{NoTopicBus, SnsFlushBus};

/// The service clients of one container. Cheap to clone (each client is an `Arc`).
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl AwsClients {
    /// Clients from the standard environment (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`)
    /// with `cfg`'s timeouts, retries and S3 addressing style.
    pub async fn load(cfg: &AwsConfig) -> Self {
        Self::from_sdk_config(&cfg.load_sdk_config().await, cfg)
    }

    pub fn from_sdk_config(sdk: &SdkConfig, cfg: &AwsConfig) -> Self {
        let s3_conf = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(cfg.force_path_style)
            .build();
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3_conf),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
        }
    }

    /// Port handles counting into `metrics`.
    pub fn ports(&self, cfg: &AwsConfig, metrics: Arc<Metrics>) -> Ports {
        let store = Arc::new(DynamoStore::new(
            self.dynamodb.clone(),
            &cfg.users_table,
            &cfg.sessions_table,
            &cfg.journal_table,
            metrics.clone(),
        ));
        let bus: Arc<dyn FlushBus> = match &cfg.flush_topic_arn {
            Some(arn) => Arc::new(SnsFlushBus::new(self.sns.clone(), arn, metrics.clone())),
            None => Arc::new(NoTopicBus),
        };
        Ports {
            blobs: Arc::new(S3BlobStore::new(
                self.s3.clone(),
                &cfg.bucket,
                cfg.max_attempts,
                metrics,
            )),
            sessions: store.clone(),
            users: store,
            bus,
        }
    }

    /// The `SecretString` of a Secrets Manager secret (the JWT signing key), read once at init.
    pub async fn secret_string(&self, arn: &str) -> Result<String, AwsStoreError> {
        let out = self
            .secrets
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| error::sdk_error("secretsmanager", "GetSecretValue", e))?;
        out.secret_string
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AwsStoreError::Config(format!("secret {arn} has no SecretString")))
    }
}

/// Builds every port on AWS from `cfg` and the standard environment (region, credentials).
pub async fn build_ports(cfg: &AwsConfig, metrics: Arc<Metrics>) -> Ports {
    AwsClients::load(cfg).await.ports(cfg, metrics)
}
