//! Creating the tables, bucket and topic the CDK stack would create: for tests against an
//! emulator and for a hand-made deployment. Idempotent: existing resources are kept.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

use crate::error::{AwsStoreError, Result, sdk_error};
use crate::{AwsClients, AwsConfig};

fn invalid(source: aws_smithy_types::error::operation::BuildError) -> AwsStoreError {
    AwsStoreError::Build {
        what: "provisioning",
        source,
    }
}

async fn create_table(clients: &AwsClients, name: &str, sort_key: Option<&str>) -> Result<()> {
    let mut req = clients
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("username")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(invalid)?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("username")
                .key_type(KeyType::Hash)
                .build()
                .map_err(invalid)?,
        );
    if let Some(sk) = sort_key {
        req = req
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(sk)
                    .attribute_type(ScalarAttributeType::N)
                    .build()
                    .map_err(invalid)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(sk)
                    .key_type(KeyType::Range)
                    .build()
                    .map_err(invalid)?,
            );
    }
    match req.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_in_use_exception()) => {}
        Err(e) => return Err(sdk_error("dynamodb", "CreateTable", e)),
    }
    use aws_sdk_dynamodb::client::Waiters;
    clients
        .dynamodb
        .wait_until_table_exists()
        .table_name(name)
        .wait(Duration::from_secs(120))
        .await
        .map_err(|e| AwsStoreError::Unavailable {
            service: "dynamodb",
            operation: "DescribeTable",
            message: format!("table {name} did not become active: {e}"),
        })?;
    Ok(())
}

/// Creates the `users`, `sessions` (TTL on `expires_at`) and `journal` tables and the bucket
/// named in `cfg`.
pub async fn create_tables_and_bucket(clients: &AwsClients, cfg: &AwsConfig) -> Result<()> {
    create_table(clients, &cfg.users_table, None).await?;
    create_table(clients, &cfg.sessions_table, None).await?;
    create_table(clients, &cfg.journal_table, Some("seq")).await?;
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name("expires_at")
        .enabled(true)
        .build()
        .map_err(invalid)?;
    if let Err(e) = clients
        .dynamodb
        .update_time_to_live()
        .table_name(&cfg.sessions_table)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        // Enabling TTL twice is a ValidationException ("already enabled"): not a failure.
        let already = e
            .as_service_error()
            .and_then(|se| aws_sdk_dynamodb::error::ProvideErrorMetadata::message(se))
            .is_some_and(|m| m.contains("already enabled"));
        if !already {
            return Err(sdk_error("dynamodb", "UpdateTimeToLive", e));
        }
    }
    let mut req = clients.s3.create_bucket().bucket(&cfg.bucket);
    // us-east-1 is the one region that rejects an explicit location constraint.
    if let Some(region) = clients.s3.config().region().map(|r| r.as_ref().to_owned())
        && region != "us-east-1"
    {
        req = req.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    match req.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error().is_some_and(|se| {
                se.is_bucket_already_owned_by_you() || se.is_bucket_already_exists()
            }) =>
        {
            Ok(())
        }
        Err(e) => Err(sdk_error("s3", "CreateBucket", e)),
    }
}

/// Creates (or finds) the SNS topic `name`; returns its ARN.
pub async fn create_topic(clients: &AwsClients, name: &str) -> Result<String> {
    let out = clients
        .sns
        .create_topic()
        .name(name)
        .send()
        .await
        .map_err(|e| sdk_error("sns", "CreateTopic", e))?;
    out.topic_arn
        .ok_or_else(|| AwsStoreError::corrupt(format!("CreateTopic {name} returned no ARN")))
}
