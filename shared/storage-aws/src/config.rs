use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Where the AWS adapters keep their state and how hard they try: plain data, filled in by the
/// composition root (`javumbo-runtime`) from the settings the CDK stack gives every function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    pub bucket: String,
    pub users_table: String,
    pub sessions_table: String,
    pub journal_table: String,
    /// `None` when a function publishes nothing (the flush handler itself needs no topic).
    pub flush_topic_arn: Option<String>,
    /// One endpoint for every service (an emulator); `None`: the SDK's own resolution.
    pub endpoint_url: Option<String>,
    /// Path-style S3 URLs: required by emulators reached through `localhost`.
    pub force_path_style: bool,
    /// Bound on one call including its retries. A Lambda invocation has 30 s at most behind API
    /// Gateway; a store call that has not finished in a few seconds is better answered with a
    /// 503 than with a gateway timeout.
    pub operation_timeout: Duration,
    /// Bound on one attempt, so a stuck connection is retried instead of eating the budget.
    pub attempt_timeout: Duration,
    pub connect_timeout: Duration,
    /// Attempts per call including the first (SDK standard retry mode, jittered backoff).
    pub max_attempts: u32,
}

/// Bound on one call including its retries, unless configured otherwise.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(8);
/// Attempts per call including the first, unless configured otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

impl AwsConfig {
    /// Defaults for everything but the resource names.
    pub fn new(
        bucket: impl Into<String>,
        users_table: impl Into<String>,
        sessions_table: impl Into<String>,
        journal_table: impl Into<String>,
    ) -> Self {
        Self {
            bucket: bucket.into(),
            users_table: users_table.into(),
            sessions_table: sessions_table.into(),
            journal_table: journal_table.into(),
            flush_topic_arn: None,
            endpoint_url: None,
            force_path_style: false,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            attempt_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(2),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_timeout(self.operation_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .build()
    }

    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard().with_max_attempts(self.max_attempts)
    }

    /// The shared SDK configuration from the standard chain (`AWS_REGION`, credentials,
    /// `AWS_ENDPOINT_URL`, ...) with this config's timeouts and retries.
    pub async fn load_sdk_config(&self) -> SdkConfig {
        let mut loader = sdk_loader()
            .timeout_config(self.timeout_config())
            .retry_config(self.retry_config());
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        loader.load().await
    }
}

/// The SDK's config loader (the standard chain) with javumbo's HTTPS client: hyper + rustls
/// on ring. The SDK's own default is the same client on aws-lc, which nothing else in a
/// function needs and which was the largest C library in every Lambda zip; without the
/// `default-https-client` feature the SDK has no client, so every loader must come from here.
pub fn sdk_loader() -> aws_config::ConfigLoader {
    // Built as the SDK builds its default client (aws-smithy-runtime's `default_https_client`),
    // proxy settings from the environment (`HTTPS_PROXY`, `NO_PROXY`) included, with ring
    // instead of aws-lc.
    let https = aws_smithy_http_client::Builder::new().build_with_connector_fn(
        |settings, runtime_components| {
            let mut connector = aws_smithy_http_client::ConnectorBuilder::default()
                .tls_provider(Provider::Rustls(CryptoMode::Ring));
            connector.set_connector_settings(settings.cloned());
            if let Some(components) = runtime_components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(ProxyConfig::from_env()));
            connector.build()
        },
    );
    aws_config::defaults(BehaviorVersion::latest()).http_client(https)
}
