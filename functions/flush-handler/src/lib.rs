//! Lambda function `flush-handler`: the SNS subscriber that folds a user's journal into the
//! snapshot and releases the session.
//!
//! The wiring lives here rather than in `main.rs` so the fixture tests drive exactly the
//! invocation the binary serves.

pub mod handler;

use std::sync::Arc;

use aws_lambda_events::sns::SnsEvent;
use javumbo_runtime::{FlushContext, Runtime};
use lambda_runtime::{LambdaEvent, service_fn};

pub use handler::{FlushHandlerError, handle};

/// The function's name: its EMF lines' `function` property.
pub const FUNCTION: &str = "flush-handler";

/// One invocation: the batch's outcomes, then the container's report (one EMF line on AWS)
/// whatever the result.
pub async fn invoke(
    ctx: &FlushContext,
    event: LambdaEvent<SnsEvent>,
) -> Result<Vec<String>, FlushHandlerError> {
    let res = handle(ctx, event.payload).await;
    ctx.reporter.report();
    res
}

/// Build the container's context once, then handle SNS batches until the container is frozen.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let rt = Runtime::lambda(FUNCTION).await?;
    let ctx = Arc::new(rt.flush_context()?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SnsEvent>| {
        let ctx = ctx.clone();
        async move {
            invoke(&ctx, event)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}
