//! `FlushBus` checks.

use std::sync::Arc;

use super::support::unique_username;
use crate::ports::*;

/// Publishing succeeds (whether or not anything is subscribed) and may be repeated.
pub async fn bus_publish_succeeds(bus: Arc<dyn FlushBus>) {
    let request = FlushRequest {
        username: unique_username(),
        session_id: uuid::Uuid::new_v4().to_string(),
        epoch: 1,
        requested_by: "c-conformance".into(),
    };
    bus.publish(&request).await.expect("publish");
    bus.publish(&request).await.expect("duplicate publish");
}
