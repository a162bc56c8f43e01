use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use javumbo_session::{FlushBus, FlushRequest, Metrics, StoreResult};

use crate::error::{AwsStoreError, sdk_error};

/// [`FlushBus`] on one SNS topic. The message body is the JSON of the [`FlushRequest`]; the
/// username also travels as a message attribute so a subscription filter policy can route on
/// it without parsing the body.
pub struct SnsFlushBus {
    client: Client,
    topic_arn: String,
    metrics: Arc<Metrics>,
}

impl SnsFlushBus {
    pub fn new(client: Client, topic_arn: impl Into<String>, metrics: Arc<Metrics>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
            metrics,
        }
    }
}

#[async_trait]
impl FlushBus for SnsFlushBus {
    async fn publish(&self, request: &FlushRequest) -> StoreResult<()> {
        Metrics::incr(&self.metrics.bus_publish);
        let body = serde_json::to_string(request).map_err(AwsStoreError::Encode)?;
        let attr = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(request.username.as_str())
            .build()
            .map_err(AwsStoreError::build("SNS message attribute"))?;
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(body)
            .message_attributes("username", attr)
            .send()
            .await
            .map_err(|e| sdk_error("sns", "Publish", e))?;
        Ok(())
    }
}

/// A bus for functions that never publish (the flush handler): a call is a wiring bug, answered
/// with an error rather than a panic.
pub struct NoTopicBus;

#[async_trait]
impl FlushBus for NoTopicBus {
    async fn publish(&self, _request: &FlushRequest) -> StoreResult<()> {
        Err(
            AwsStoreError::Config("no flush topic is configured (JAVUMBO_FLUSH_TOPIC_ARN)".into())
                .into(),
        )
    }
}
