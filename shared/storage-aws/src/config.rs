use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::error::{AwsStoreError, Result};

/// Where the AWS adapters keep their state and how hard they try. Names come from the
/// environment the CDK stack gives every function (DESIGN §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    pub bucket: String,
    pub users_table: String,
    pub sessions_table: String,
    pub journal_table: String,
    /// `None` when a function publishes nothing (the flush handler itself needs no topic).
    pub flush_topic_arn: Option<String>,
    pub jwt_secret_arn: Option<String>,
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

pub const ENV_BACKEND: &str = "JAVUMBO_BACKEND";
pub const ENV_BUCKET: &str = "JAVUMBO_BUCKET";
pub const ENV_USERS_TABLE: &str = "JAVUMBO_USERS_TABLE";
pub const ENV_SESSIONS_TABLE: &str = "JAVUMBO_SESSIONS_TABLE";
pub const ENV_JOURNAL_TABLE: &str = "JAVUMBO_JOURNAL_TABLE";
pub const ENV_FLUSH_TOPIC_ARN: &str = "JAVUMBO_FLUSH_TOPIC_ARN";
pub const ENV_JWT_SECRET_ARN: &str = "JAVUMBO_JWT_SECRET_ARN";
pub const ENV_S3_FORCE_PATH_STYLE: &str = "JAVUMBO_S3_FORCE_PATH_STYLE";
pub const ENV_STORE_TIMEOUT_MS: &str = "JAVUMBO_STORE_TIMEOUT_MS";
pub const ENV_STORE_MAX_ATTEMPTS: &str = "JAVUMBO_STORE_MAX_ATTEMPTS";

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
            jwt_secret_arn: None,
            force_path_style: false,
            operation_timeout: Duration::from_secs(8),
            attempt_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(2),
            max_attempts: 3,
        }
    }

    /// Reads the `JAVUMBO_*` variables; a missing bucket or table name is an error.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Whether the environment selects the AWS backend: `JAVUMBO_BACKEND=aws`, or no explicit
    /// backend but the tables and bucket are named (DESIGN §2).
    pub fn selected_by_env() -> bool {
        Self::selected_by(|k| std::env::var(k).ok())
    }

    pub fn selected_by(lookup: impl Fn(&str) -> Option<String>) -> bool {
        match lookup(ENV_BACKEND).as_deref().map(str::trim) {
            Some("aws") => true,
            Some(b) if !b.is_empty() => false,
            _ => lookup(ENV_BUCKET).is_some() && lookup(ENV_SESSIONS_TABLE).is_some(),
        }
    }

    /// [`from_env`](Self::from_env) over any lookup (tests avoid mutating the process env).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required =
            |k: &str| get(k).ok_or_else(|| AwsStoreError::Config(format!("{k} is not set")));
        let mut cfg = Self::new(
            required(ENV_BUCKET)?,
            required(ENV_USERS_TABLE)?,
            required(ENV_SESSIONS_TABLE)?,
            required(ENV_JOURNAL_TABLE)?,
        );
        cfg.flush_topic_arn = get(ENV_FLUSH_TOPIC_ARN);
        cfg.jwt_secret_arn = get(ENV_JWT_SECRET_ARN);
        if let Some(v) = get(ENV_S3_FORCE_PATH_STYLE) {
            cfg.force_path_style = parse_bool(ENV_S3_FORCE_PATH_STYLE, &v)?;
        }
        if let Some(v) = get(ENV_STORE_TIMEOUT_MS) {
            let ms: u64 = v.parse().map_err(|_| {
                AwsStoreError::Config(format!("{ENV_STORE_TIMEOUT_MS}={v:?} is not a number"))
            })?;
            cfg.operation_timeout = Duration::from_millis(ms.max(1));
            cfg.attempt_timeout = cfg.attempt_timeout.min(cfg.operation_timeout);
        }
        if let Some(v) = get(ENV_STORE_MAX_ATTEMPTS) {
            cfg.max_attempts = v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                AwsStoreError::Config(format!("{ENV_STORE_MAX_ATTEMPTS}={v:?} is not >= 1"))
            })?;
        }
        Ok(cfg)
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
        aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(self.timeout_config())
            .retry_config(self.retry_config())
            .load()
            .await
    }
}

fn parse_bool(name: &str, v: &str) -> Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(AwsStoreError::Config(format!(
            "{name}={v:?} is not a boolean"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| m.get(k).cloned()
    }

    const FULL: &[(&str, &str)] = &[
        (ENV_BUCKET, "b"),
        (ENV_USERS_TABLE, "u"),
        (ENV_SESSIONS_TABLE, "s"),
        (ENV_JOURNAL_TABLE, "j"),
        (
            ENV_FLUSH_TOPIC_ARN,
            "arn:aws:sns:us-east-1:000000000000:flush",
        ),
        (ENV_S3_FORCE_PATH_STYLE, "true"),
        (ENV_STORE_TIMEOUT_MS, "1500"),
        (ENV_STORE_MAX_ATTEMPTS, "5"),
    ];

    #[test]
    fn reads_every_variable() {
        let cfg = AwsConfig::from_lookup(env(FULL)).unwrap();
        assert_eq!(cfg.bucket, "b");
        assert_eq!(cfg.journal_table, "j");
        assert!(cfg.force_path_style);
        assert_eq!(
            cfg.flush_topic_arn.as_deref(),
            Some("arn:aws:sns:us-east-1:000000000000:flush")
        );
        assert_eq!(cfg.jwt_secret_arn, None);
        assert_eq!(cfg.operation_timeout, Duration::from_millis(1500));
        assert!(cfg.attempt_timeout <= cfg.operation_timeout);
        assert_eq!(cfg.max_attempts, 5);
    }

    #[test]
    fn missing_table_is_named_in_the_error() {
        let err = AwsConfig::from_lookup(env(&FULL[..3])).unwrap_err();
        assert!(err.to_string().contains(ENV_JOURNAL_TABLE), "{err}");
    }

    #[test]
    fn malformed_values_are_rejected() {
        let mut pairs = FULL.to_vec();
        pairs.push((ENV_S3_FORCE_PATH_STYLE, "maybe"));
        assert!(AwsConfig::from_lookup(env(&pairs)).is_err());
        let mut pairs = FULL.to_vec();
        pairs.push((ENV_STORE_MAX_ATTEMPTS, "0"));
        assert!(AwsConfig::from_lookup(env(&pairs)).is_err());
    }

    #[test]
    fn backend_selection() {
        assert!(AwsConfig::selected_by(env(&[(ENV_BACKEND, "aws")])));
        assert!(!AwsConfig::selected_by(env(&[
            (ENV_BACKEND, "local"),
            (ENV_BUCKET, "b")
        ])));
        assert!(AwsConfig::selected_by(env(&[
            (ENV_BUCKET, "b"),
            (ENV_SESSIONS_TABLE, "s")
        ])));
        assert!(!AwsConfig::selected_by(env(&[])));
    }
}
