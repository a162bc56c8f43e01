//! In-process flush bus: the local stand-in for SNS → Lambda.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use javumbo_session::{FlushBus, FlushRequest, Metrics, StoreError, StoreResult};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the bus invokes per delivery (the session crate's flush handler in `javumbo-local`).
pub type FlushHandler = Arc<dyn Fn(FlushRequest) -> BoxFuture<'static, ()> + Send + Sync>;

/// Delivery faults, to show the protocol survives what SNS is allowed to do.
#[derive(Debug, Clone, PartialEq)]
pub struct BusFaults {
    /// Probability a message is never delivered.
    pub drop_rate: f64,
    /// Probability a message is delivered twice.
    pub duplicate_rate: f64,
    /// Each delivery waits a uniformly random `0..delay` first, which also reorders messages.
    pub delay: Duration,
    pub seed: u64,
}

impl Default for BusFaults {
    fn default() -> Self {
        Self {
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            delay: Duration::ZERO,
            seed: 0,
        }
    }
}

struct FaultState {
    faults: BusFaults,
    rng: StdRng,
}

impl FaultState {
    fn new(faults: BusFaults) -> Self {
        Self {
            rng: StdRng::seed_from_u64(faults.seed),
            faults,
        }
    }

    /// The delays of this message's deliveries: none when dropped, two when duplicated.
    fn plan(&mut self) -> Vec<Duration> {
        let f = &self.faults;
        if f.drop_rate > 0.0 && self.rng.random_bool(f.drop_rate.min(1.0)) {
            return Vec::new();
        }
        let copies = if f.duplicate_rate > 0.0 && self.rng.random_bool(f.duplicate_rate.min(1.0)) {
            2
        } else {
            1
        };
        (0..copies)
            .map(|_| {
                if f.delay.is_zero() {
                    Duration::ZERO
                } else {
                    self.rng.random_range(Duration::ZERO..f.delay)
                }
            })
            .collect()
    }
}

/// [`FlushBus`] delivering to a handler on the current tokio runtime, at least once (unless
/// faults say otherwise), concurrently and in no particular order.
pub struct LocalBus {
    tx: mpsc::UnboundedSender<FlushRequest>,
    faults: Arc<Mutex<FaultState>>,
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
        let faults = Arc::new(Mutex::new(FaultState::new(BusFaults::default())));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let (consumer_faults, consumer_in_flight) = (Arc::clone(&faults), Arc::clone(&in_flight));
        tokio::spawn(async move {
            while let Some(request) = rx.recv().await {
                let plan = consumer_faults.lock().plan();
                if plan.is_empty() {
                    tracing::debug!(username = %request.username, "bus fault: dropped flush request");
                }
                // `publish` counted the message as in flight; it now becomes its deliveries.
                consumer_in_flight.fetch_add(plan.len(), Ordering::SeqCst);
                consumer_in_flight.fetch_sub(1, Ordering::SeqCst);
                for delay in plan {
                    let (handler, request) = (Arc::clone(&handler), request.clone());
                    let in_flight = Arc::clone(&consumer_in_flight);
                    // One task per delivery: a slow flush must not hold up other users'.
                    tokio::spawn(async move {
                        if !delay.is_zero() {
                            tokio::time::sleep(delay).await;
                        }
                        handler(request).await;
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                    });
                }
            }
        });
        Self {
            tx,
            faults,
            in_flight,
            metrics,
        }
    }

    /// Replace the fault settings (reseeding the random source).
    pub fn set_faults(&self, faults: BusFaults) {
        *self.faults.lock() = FaultState::new(faults);
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
    async fn faults_drop_and_duplicate() {
        let (bus, seen, _) = recording_bus();
        bus.set_faults(BusFaults {
            drop_rate: 1.0,
            ..BusFaults::default()
        });
        for n in 0..20 {
            bus.publish(&request(n)).await.unwrap();
        }
        idle(&bus).await;
        assert!(seen.lock().is_empty());

        bus.set_faults(BusFaults {
            duplicate_rate: 1.0,
            delay: Duration::from_millis(20),
            seed: 7,
            ..BusFaults::default()
        });
        for n in 0..20 {
            bus.publish(&request(n)).await.unwrap();
        }
        idle(&bus).await;
        let mut got = seen.lock().clone();
        got.sort_unstable();
        assert_eq!(got, (0..20).flat_map(|n| [n, n]).collect::<Vec<_>>());
    }
}
