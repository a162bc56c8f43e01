//! SNS event → flush requests → `handle_flush_request`.

use aws_lambda_events::sns::SnsEvent;
use javumbo_runtime::FlushContext;
use javumbo_session::{FlushOutcome, FlushRequest, SessionError, handle_flush_request};

#[derive(Debug, thiserror::Error)]
pub enum FlushHandlerError {
    /// Failing the invocation makes SNS/Lambda redeliver, which is what a store outage needs.
    #[error("flush failed: {0}")]
    Flush(#[from] SessionError),
}

/// Outcomes per record, in order. A malformed message is logged and skipped: redelivering it
/// cannot fix it, and failing the batch would block the well-formed ones.
pub async fn handle(ctx: &FlushContext, event: SnsEvent) -> Result<Vec<String>, FlushHandlerError> {
    let mut outcomes = Vec::with_capacity(event.records.len());
    for record in event.records {
        let req: FlushRequest = match serde_json::from_str(&record.sns.message) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(message_id = %record.sns.message_id, error = %e, "malformed flush request");
                outcomes.push("malformed".to_owned());
                continue;
            }
        };
        let outcome =
            handle_flush_request(&ctx.ports, &req, &ctx.clock, &ctx.metrics, &ctx.work_dir).await?;
        tracing::info!(username = %req.username, ?outcome, "flush request handled");
        outcomes.push(match outcome {
            FlushOutcome::Flushed { seq } => format!("flushed:{seq}"),
            FlushOutcome::AlreadyFlushed => "already_flushed".to_owned(),
            FlushOutcome::Stale => "stale".to_owned(),
        });
    }
    Ok(outcomes)
}
