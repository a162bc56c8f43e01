//! Login throttling: a sliding window of failed attempts per username and per source address,
//! in memory per container. On Lambda each container keeps its own window, so the effective
//! limit is per container; that still bounds online guessing to a small multiple of the limit.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;

use crate::config::ThrottleConfig;

/// Keys tracked per map before expired entries are swept: bounds memory under a flood of
/// distinct usernames or addresses.
const SWEEP_AT_KEYS: usize = 10_000;

#[derive(Debug, Default)]
struct Windows(HashMap<String, VecDeque<i64>>);

impl Windows {
    fn prune(q: &mut VecDeque<i64>, cutoff: i64) {
        while q.front().is_some_and(|&t| t <= cutoff) {
            q.pop_front();
        }
    }

    /// Seconds until the oldest failure leaves the window, if `key` is at its limit.
    fn blocked_for(&mut self, key: &str, now_ms: i64, window_ms: i64, limit: usize) -> Option<u64> {
        let q = self.0.get_mut(key)?;
        Self::prune(q, now_ms - window_ms);
        if q.len() < limit {
            return None;
        }
        let oldest = q.front().copied().unwrap_or(now_ms);
        let wait_ms = (oldest + window_ms - now_ms).max(1000);
        Some((wait_ms as u64).div_ceil(1000))
    }

    fn record(&mut self, key: &str, now_ms: i64, window_ms: i64) {
        if self.0.len() >= SWEEP_AT_KEYS {
            self.0.retain(|_, q| {
                Self::prune(q, now_ms - window_ms);
                !q.is_empty()
            });
        }
        self.0.entry(key.to_owned()).or_default().push_back(now_ms);
    }
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    cfg: ThrottleConfig,
    users: Mutex<Windows>,
    ips: Mutex<Windows>,
}

impl LoginThrottle {
    pub fn new(cfg: ThrottleConfig) -> Self {
        Self {
            cfg,
            ..Default::default()
        }
    }

    fn window_ms(&self) -> i64 {
        self.cfg.window.as_millis() as i64
    }

    /// `Err(retry_after_secs)` when either key has too many recent failures.
    pub fn check(&self, user: &str, ip: &str, now_ms: i64) -> Result<(), u64> {
        let w = self.window_ms();
        let by_user =
            self.users
                .lock()
                .blocked_for(user, now_ms, w, self.cfg.max_failures_per_user);
        let by_ip = self
            .ips
            .lock()
            .blocked_for(ip, now_ms, w, self.cfg.max_failures_per_ip);
        match by_user.into_iter().chain(by_ip).max() {
            Some(secs) => Err(secs),
            None => Ok(()),
        }
    }

    pub fn record_failure(&self, user: &str, ip: &str, now_ms: i64) {
        let w = self.window_ms();
        self.users.lock().record(user, now_ms, w);
        self.ips.lock().record(ip, now_ms, w);
    }

    /// A successful login clears the user's failures (not the address's: one success must not
    /// reset a spray across many accounts).
    pub fn record_success(&self, user: &str) {
        self.users.lock().0.remove(user);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn throttle() -> LoginThrottle {
        LoginThrottle::new(ThrottleConfig {
            window: Duration::from_secs(60),
            max_failures_per_user: 3,
            max_failures_per_ip: 5,
        })
    }

    #[test]
    fn per_user_window_slides() {
        let t = throttle();
        for i in 0..3 {
            assert!(t.check("a", "ip", i * 1000).is_ok());
            t.record_failure("a", "ip", i * 1000);
        }
        assert_eq!(t.check("a", "ip", 3000), Err(57));
        assert!(t.check("b", "ip", 3000).is_ok());
        // The first failure leaves the window at 60 s.
        assert!(t.check("a", "ip", 60_001).is_ok());
    }

    #[test]
    fn per_ip_limit_and_success_reset() {
        let t = throttle();
        for (i, u) in ["u1", "u2", "u3", "u4", "u5"].iter().enumerate() {
            t.record_failure(u, "1.2.3.4", i as i64);
        }
        assert!(t.check("fresh", "1.2.3.4", 10).is_err());
        assert!(t.check("fresh", "5.6.7.8", 10).is_ok());
        t.record_failure("z", "9", 0);
        t.record_failure("z", "9", 0);
        t.record_success("z");
        t.record_failure("z", "9", 0);
        assert!(t.check("z", "9", 1).is_ok());
    }
}
