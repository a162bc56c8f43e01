//! Lambda function `flush-handler`: the SNS subscriber that folds a user's journal into the
//! snapshot and releases the session (DESIGN §6).
//!
//! The wiring lives here rather than in `main.rs` so the fixture tests drive exactly the
//! invocation the binary serves.

pub mod handler;

use std::path::PathBuf;
use std::sync::Arc;

use aws_lambda_events::sns::SnsEvent;
use javumbo_api::{embedded, lambda};
use javumbo_collection::{SharedClock, SystemClock};
use javumbo_session::Metrics;
use javumbo_storage_aws::emf::EmfEmitter;
use lambda_runtime::{LambdaEvent, service_fn};

pub use handler::{Context, FlushHandlerError, handle};

/// One invocation: the batch's outcomes, then one EMF line (on AWS) whatever the result.
pub async fn invoke(
    ctx: &Context,
    emf: Option<&EmfEmitter>,
    event: LambdaEvent<SnsEvent>,
) -> Result<Vec<String>, FlushHandlerError> {
    let res = handle(ctx, event.payload).await;
    if let Some(emf) = emf {
        emf.emit(&ctx.metrics);
    }
    res
}

/// Build the container's ports once, then handle SNS batches until the container is frozen.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    lambda::init_tracing();
    let data = embedded::data_dir_from_env();
    let clock: SharedClock = Arc::new(SystemClock);
    let (ctx, emf) = if javumbo_storage_aws::AwsConfig::selected_by_env() {
        let aws = javumbo_storage_aws::lambda::flush_container().await?;
        let ctx = Context {
            ports: aws.ports,
            clock,
            metrics: aws.metrics,
            work_dir: javumbo_storage_aws::lambda::flush_work_dir(),
        };
        (ctx, Some(aws.emf))
    } else {
        let metrics = Arc::new(Metrics::default());
        let ports = embedded::open_ports(&data, &metrics, &clock, &embedded::Faults::default())?;
        let ctx = Context {
            ports,
            clock,
            metrics,
            work_dir: PathBuf::from(&data).join("flush-work"),
        };
        (ctx, None)
    };
    let (ctx, emf) = (Arc::new(ctx), Arc::new(emf));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SnsEvent>| {
        let (ctx, emf) = (ctx.clone(), emf.clone());
        async move {
            invoke(&ctx, emf.as_ref().as_ref(), event)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}
