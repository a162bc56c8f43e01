//! A bound on the requests one container serves at once: what a request holds (its body, its
//! collection operation's memory) is then bounded by design, whatever the load. Requests past
//! the bound wait for a slot up to a short time, then get `503` with `Retry-After`, which
//! clients (the web app, `javumbo-load`, Anki's sync client) already retry. Applied outside the
//! layers that buffer a body (the `Idempotency-Key` scope), so a waiting request holds nothing
//! but its headers.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// How many requests a container serves at once, and how long one waits for a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlightLimits {
    pub max: usize,
    pub max_wait: Duration,
}

impl Default for InFlightLimits {
    fn default() -> Self {
        Self {
            // Far above what 2 cores serve at once (the collection work is serialised per user
            // and fast), far below what would exhaust memory with 10 MiB import bodies.
            max: 256,
            max_wait: Duration::from_secs(2),
        }
    }
}

/// The slots, shared by every route of the container.
#[derive(Debug, Clone)]
pub struct InFlight {
    slots: Arc<Semaphore>,
    max_wait: Duration,
}

impl InFlight {
    pub fn new(limits: InFlightLimits) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.max.max(1))),
            max_wait: limits.max_wait,
        }
    }
}

/// The middleware.
pub async fn limit(State(in_flight): State<InFlight>, req: Request, next: Next) -> Response {
    let slot = tokio::time::timeout(in_flight.max_wait, in_flight.slots.acquire_owned()).await;
    match slot {
        Ok(Ok(permit)) => {
            let resp = next.run(req).await;
            drop(permit);
            resp
        }
        // Timed out (or the semaphore closed, which never happens): busy.
        _ => {
            tracing::warn!("request shed: every in-flight slot is taken");
            ApiError::Unavailable {
                retry_after_secs: 1,
            }
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request as HttpRequest, StatusCode};
    use axum::middleware::from_fn_with_state;
    use axum::routing::get;
    use tokio::sync::oneshot;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn past_the_bound_a_request_waits_then_is_told_to_retry() {
        let (release, held) = oneshot::channel::<()>();
        let held = Arc::new(parking_lot::Mutex::new(Some(held)));
        let in_flight = InFlight::new(InFlightLimits {
            max: 1,
            max_wait: Duration::from_millis(50),
        });
        let app = Router::new()
            .route(
                "/slow",
                get(move || {
                    let held = held.lock().take();
                    async move {
                        if let Some(h) = held {
                            let _ = h.await;
                        }
                        "done"
                    }
                }),
            )
            .route("/fast", get(|| async { "fast" }))
            .layer(from_fn_with_state(in_flight, limit));
        let get = |path: &str| HttpRequest::get(path).body(Body::empty()).unwrap();

        let first = tokio::spawn(app.clone().oneshot(get("/slow")));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let shed = app.clone().oneshot(get("/fast")).await.unwrap();
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.headers()["retry-after"], "1");

        // A request that finds the slot freed within its wait is served.
        let waiting = tokio::spawn(app.clone().oneshot(get("/fast")));
        tokio::time::sleep(Duration::from_millis(10)).await;
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        assert_eq!(waiting.await.unwrap().unwrap().status(), StatusCode::OK);
        let after = app.oneshot(get("/fast")).await.unwrap();
        assert_eq!(after.status(), StatusCode::OK);
    }
}
