//! In-process flush bus: the local stand-in for SNS → Lambda.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use javumbo_session::{FlushBus, FlushRequest, Metrics, StoreError, StoreResult};
use tokio::sync::mpsc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the bus invokes per delivery (the session crate's flush handler in `javumbo-local`).
pub type FlushHandler = Arc<dyn Fn(FlushRequest) -> BoxFuture<'static, ()> + Send + Sync>;

/// [`FlushBus`] delivering to a handler on the current tokio runtime, exactly once,
/// concurrently and in no particular order. (What SNS is also allowed to do — drop, duplicate,
/// delay — is injected around it by `javumbo_session::faults`, as `javumbo-local --fault-bus-*`.)
pub struct LocalBus {
    tx: mpsc::UnboundedSender<FlushRequest>,
    in_flight: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for LocalBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBus")
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

impl LocalBus {
    /// Start the consumer task. Must be called inside a tokio runtime; the task ends when the
    /// bus is dropped and every queued message has been handed out.
    pub fn new(handler: FlushHandler, metrics: Arc<Metrics>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<FlushRequest>();
        let in_flight = Arc::new(AtomicUsize::new(0));
        let consumer_in_flight = Arc::clone(&in_flight);
        tokio::spawn(async move {
            while let Some(request) = rx.recv().await {
                let handler = Arc::clone(&handler);
                let in_flight = Arc::clone(&consumer_in_flight);
                // One task per delivery: a slow flush must not hold up other users'.
                tokio::spawn(async move {
                    handler(request).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            tx,
            in_flight,
            metrics,
        }
    }

    /// Messages queued or being handled right now; tests wait for 0 to know the bus is idle.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl FlushBus for LocalBus {
    async fn publish(&self, request: &FlushRequest) -> StoreResult<()> {
        Metrics::incr(&self.metrics.bus_publish);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.tx.send(request.clone()).map_err(|_| {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            StoreError::Unavailable("flush bus consumer has stopped".into())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use parking_lot::Mutex;

    use super::*;
    use javumbo_session::Username;

    fn request(n: u64) -> FlushRequest {
        FlushRequest {
            username: Username::parse("bususer").unwrap(),
            session_id: "s".into(),
            epoch: n,
            requested_by: "c2".into(),
        }
    }

    fn recording_bus() -> (LocalBus, Arc<Mutex<Vec<u64>>>, Arc<Metrics>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let handler: FlushHandler = Arc::new(move |r: FlushRequest| {
            let sink = Arc::clone(&sink);
            Box::pin(async move { sink.lock().push(r.epoch) })
        });
        let metrics = Arc::new(Metrics::default());
        (LocalBus::new(handler, Arc::clone(&metrics)), seen, metrics)
    }

    async fn idle(bus: &LocalBus) {
        for _ in 0..1000 {
            if bus.in_flight() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("bus never became idle");
    }

    #[tokio::test]
    async fn delivers_every_message_without_faults() {
        let (bus, seen, metrics) = recording_bus();
        for n in 0..50 {
            bus.publish(&request(n)).await.unwrap();
        }
        idle(&bus).await;
        let mut got = seen.lock().clone();
        got.sort_unstable();
        assert_eq!(got, (0..50).collect::<Vec<_>>());
        assert_eq!(metrics.snapshot()["bus_publish"], 50);
    }

    #[tokio::test]
    async fn injected_faults_drop_and_duplicate() {
        use javumbo_session::faults::{FaultPlan, Faults, Faulty};
        let (bus, seen, _) = recording_bus();
        let bus = Arc::new(bus);
        let dropping = Faulty::new(
            Arc::clone(&bus),
            Faults::new(0, FaultPlan::bus(1.0, 0.0, Duration::ZERO)),
        );
        for n in 0..20 {
            dropping.publish(&request(n)).await.unwrap();
        }
        idle(&bus).await;
        assert!(seen.lock().is_empty());

        let doubling = Faulty::new(
            Arc::clone(&bus),
            Faults::new(7, FaultPlan::bus(0.0, 1.0, Duration::from_millis(20))),
        );
        for n in 0..20 {
            doubling.publish(&request(n)).await.unwrap();
        }
        // Jittered deliveries are published late, from their own tasks.
        tokio::time::sleep(Duration::from_millis(40)).await;
        idle(&bus).await;
        let mut got = seen.lock().clone();
        got.sort_unstable();
        assert_eq!(got, (0..20).flat_map(|n| [n, n]).collect::<Vec<_>>());
    }
}
