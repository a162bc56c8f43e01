//! The AWS adapters (`javumbo-storage-aws`) as one Lambda container uses them: clients built
//! once at init, port handles per container counting into its metrics, the JWT key from
//! Secrets Manager.

use std::sync::Arc;

use javumbo_session::{Metrics, Ports};
use javumbo_storage_aws::{AwsClients, AwsConfig, AwsStoreError};

pub(crate) struct Aws {
    config: AwsConfig,
    clients: AwsClients,
}

impl Aws {
    /// Clients from the standard environment (region, credentials) with `config`'s timeouts,
    /// retries and endpoint.
    pub(crate) async fn connect(config: AwsConfig) -> Self {
        let clients = AwsClients::load(&config).await;
        Self { config, clients }
    }

    pub(crate) fn ports(&self, metrics: Arc<Metrics>) -> Ports {
        self.clients.ports(&self.config, metrics)
    }

    /// Whether flush requests go to an SNS topic (else nobody listens unless the caller runs
    /// a handler).
    pub(crate) fn has_flush_topic(&self) -> bool {
        self.config.flush_topic_arn.is_some()
    }

    /// The `SecretString` of the secret `arn` (the JWT signing key).
    pub(crate) async fn secret(&self, arn: &str) -> Result<String, AwsStoreError> {
        self.clients.secret_string(arn).await
    }
}
