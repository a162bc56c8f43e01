use std::error::Error as _;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use javumbo_session::StoreError;

/// Failures inside the AWS adapters. At the port boundary they become [`StoreError`]: anything
/// the request may have reached the service with (timeouts, dropped connections, 5xx,
/// throttling) is `Unavailable`, which callers treat as ambiguous; a request that never left
/// the process or that the service rejected as malformed is `Other`.
#[derive(Debug, thiserror::Error)]
pub enum AwsStoreError {
    /// A precondition did not hold; nothing was written.
    #[error("condition failed")]
    ConditionFailed,
    /// The call may or may not have taken effect.
    #[error("{service} {operation} unavailable: {message}")]
    Unavailable {
        service: &'static str,
        operation: &'static str,
        message: String,
    },
    /// The service rejected the call, or it was never sent.
    #[error("{service} {operation} failed: {message}")]
    Rejected {
        service: &'static str,
        operation: &'static str,
        message: String,
    },
    /// An item or object the adapter wrote earlier does not parse: `what` says which, `source`
    /// what revealed it when there is such an error.
    #[error("corrupt stored data: {what}")]
    Corrupt {
        what: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A required environment variable is missing or malformed.
    #[error("configuration: {0}")]
    Config(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An SDK request builder refused its input (a required field missing): our bug.
    #[error("building a {what} request: {source}")]
    Build {
        what: &'static str,
        #[source]
        source: aws_smithy_types::error::operation::BuildError,
    },
    /// A flush request did not serialise.
    #[error("encoding a flush request: {0}")]
    Encode(#[source] serde_json::Error),
}

impl AwsStoreError {
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt {
            what: what.into(),
            source: None,
        }
    }

    /// The error of an SDK request builder, naming the request.
    pub(crate) fn build(
        what: &'static str,
    ) -> impl FnOnce(aws_smithy_types::error::operation::BuildError) -> Self {
        move |source| Self::Build { what, source }
    }
}

impl From<AwsStoreError> for StoreError {
    fn from(e: AwsStoreError) -> Self {
        match e {
            AwsStoreError::ConditionFailed => StoreError::ConditionFailed,
            AwsStoreError::Unavailable { .. } => StoreError::Unavailable(e.to_string()),
            _ => StoreError::other(e),
        }
    }
}

pub(crate) type Result<T, E = AwsStoreError> = std::result::Result<T, E>;

/// How one failed SDK call is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A definite "no" from a precondition (S3 412, DynamoDB `ConditionalCheckFailed`).
    Condition,
    /// May have been applied.
    Ambiguous,
    /// Definitely not applied (validation error, access denied, never sent, ...).
    Rejected,
}

/// Error codes that mean "try again later" whatever the HTTP status says.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestThrottled",
    "SlowDown",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
];

pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> Kind
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ConstructionFailure(_) => Kind::Rejected,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Kind::Ambiguous
        }
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = se.err().code().unwrap_or_default();
            // S3 does not model PreconditionFailed: the code or the status is all there is.
            if status == 412
                || code == "PreconditionFailed"
                || code == "ConditionalCheckFailedException"
            {
                Kind::Condition
            } else if status >= 500 || status == 429 || TRANSIENT_CODES.contains(&code) {
                Kind::Ambiguous
            } else {
                Kind::Rejected
            }
        }
        _ => Kind::Ambiguous,
    }
}

/// Converts a failed SDK call into the crate error, keeping the service's code and message.
pub(crate) fn sdk_error<E>(
    service: &'static str,
    operation: &'static str,
    err: SdkError<E, HttpResponse>,
) -> AwsStoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let kind = classify(&err);
    if kind == Kind::Condition {
        return AwsStoreError::ConditionFailed;
    }
    let message = describe(&err);
    match kind {
        Kind::Ambiguous => AwsStoreError::Unavailable {
            service,
            operation,
            message,
        },
        _ => AwsStoreError::Rejected {
            service,
            operation,
            message,
        },
    }
}

/// `SdkError`'s own Display is just "service error"; the code, message and source chain are
/// what an operator needs in the log.
pub(crate) fn describe<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::ServiceError(se) = err {
        let e = se.err();
        return format!(
            "{} (HTTP {}): {}",
            e.code().unwrap_or("unknown"),
            se.raw().status().as_u16(),
            e.message().unwrap_or("no message")
        );
    }
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
