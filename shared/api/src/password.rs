//! Password hashing: argon2id for new hashes; bcrypt `$2b$` accepted for users migrated from the
//! Python app (and rehashed to argon2id on their next login). CPU- and memory-heavy: run through
//! a [`HashPool`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use tokio::sync::Semaphore;

use crate::config::HashingLimits;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::ApiError;

pub fn hash(password: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The stored hash uses a scheme we are migrating away from.
    pub needs_rehash: bool,
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
}

/// Check `password` against a stored PHC/bcrypt string. A malformed hash is a mismatch, not an
/// error: the caller answers the same 401 either way.
pub fn verify(password: &str, stored: &str) -> Verified {
    if is_bcrypt(stored) {
        let ok = bcrypt::verify(password, stored).unwrap_or(false);
        return Verified {
            ok,
            needs_rehash: ok,
        };
    }
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), stored)
        .is_ok();
    Verified {
        ok,
        needs_rehash: false,
    }
}

/// A real argon2id hash of a random password, verified against when the user does not exist so
/// that "unknown user" costs the same time as "wrong password" (no user enumeration by timing).
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash(&uuid::Uuid::new_v4().to_string()).unwrap_or_else(|_| {
        // Unreachable in practice (hashing a short ASCII string cannot fail); a fixed valid hash
        // keeps the timing equalisation without a panic path.
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$8kz0Nf9xoMhgX8cO7pFStOPh0r4mH0p1AQyK1f1uBLs".to_owned()
    })
});

/// Burn the same work as a real verification.
pub fn verify_dummy(password: &str) {
    let _ = verify(password, &DUMMY_HASH);
}

/// Runs password hashes on the blocking pool, at most `concurrent` at once (see
/// [`HashingLimits`]). A slot is held until its hash ends, even when the request that asked
/// for it has gone away: the memory is in use until then.
#[derive(Debug)]
pub struct HashPool {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    limits: HashingLimits,
}

/// Retry-After when the pool is saturated: a hash takes tens of milliseconds.
const BUSY_RETRY_SECS: u64 = 1;

impl HashPool {
    pub fn new(limits: HashingLimits) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.concurrent.max(1))),
            waiting: AtomicUsize::new(0),
            limits,
        }
    }

    /// Run `f` (a hash or a verification) when a slot is free; 503 when too many wait or the
    /// wait is too long.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let busy = || ApiError::Unavailable {
            retry_after_secs: BUSY_RETRY_SECS,
        };
        let slot = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                let waiting = Waiting::enter(&self.waiting);
                if waiting.ahead >= self.limits.max_waiting {
                    return Err(busy());
                }
                tokio::time::timeout(self.limits.max_wait, self.slots.clone().acquire_owned())
                    .await
                    .map_err(|_| busy())?
                    .map_err(ApiError::internal)?
            }
        };
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            f()
        })
        .await
        .map_err(ApiError::internal)
    }
}

/// One request counted among the waiters for as long as it waits.
struct Waiting<'a> {
    count: &'a AtomicUsize,
    ahead: usize,
}

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        let ahead = count.fetch_add(1, Ordering::AcqRel);
        Self { count, ahead }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_round_trip() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(
            verify("correct horse", &h),
            Verified {
                ok: true,
                needs_rehash: false
            }
        );
        assert!(!verify("wrong horse", &h).ok);
    }

    #[test]
    fn bcrypt_migrated_users() {
        let h = bcrypt::hash("legacy-pass", 4).unwrap();
        assert!(h.starts_with("$2b$"));
        assert_eq!(
            verify("legacy-pass", &h),
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        assert_eq!(
            verify("nope", &h),
            Verified {
                ok: false,
                needs_rehash: false
            }
        );
    }

    #[test]
    fn garbage_hash_is_a_mismatch() {
        assert!(!verify("x", "not a hash").ok);
        assert!(!verify("x", "").ok);
        verify_dummy("x");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pool_bounds_running_hashes_and_refuses_past_its_queue() {
        use std::sync::atomic::AtomicUsize;
        use std::time::Duration;

        let pool = Arc::new(HashPool::new(HashingLimits {
            concurrent: 2,
            max_waiting: 3,
            max_wait: Duration::from_secs(5),
        }));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(100));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        let mut ok = 0;
        let mut busy = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(ApiError::Unavailable { retry_after_secs }) => {
                    assert_eq!(retry_after_secs, BUSY_RETRY_SECS);
                    busy += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(
            peak.load(Ordering::SeqCst) <= 2,
            "at most two hashes at once"
        );
        assert!(ok >= 5, "two running and three waiting all complete: {ok}");
        assert!(busy >= 1, "the rest are refused, not queued without bound");
        assert_eq!(ok + busy, 12);

        // A wait longer than `max_wait` is refused too.
        let pool = HashPool::new(HashingLimits {
            concurrent: 1,
            max_waiting: 10,
            max_wait: Duration::from_millis(50),
        });
        let slow = pool.run(|| std::thread::sleep(Duration::from_millis(400)));
        let late = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            pool.run(|| ()).await
        };
        let (a, b) = tokio::join!(slow, late);
        assert!(a.is_ok());
        assert!(matches!(b, Err(ApiError::Unavailable { .. })));
    }
}
