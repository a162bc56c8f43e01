//! Login throttling: a sliding window of failed attempts per (username, source address) pair
//! and per source address, in memory per container. On Lambda each container keeps its own
//! window, so the effective limit is per container; that still bounds online guessing to a small
//! multiple of the limit.
//!
//! Two properties matter under attack:
//! - **Checked before verified, counted before verified.** [`LoginThrottle::begin`] checks and
//!   reserves a slot in one critical section, so parallel guesses count against the limit while
//!   their password hashes are still being verified (40 parallel wrong passwords for one user
//!   verify at most `max_failures_per_user` of them). A reservation is released by
//!   [`Attempt::succeeded`]; dropped any other way (wrong password, unknown user, a client that
//!   disconnects mid-check) it is recorded as a failure.
//! - **No targeted lockout.** Failures are counted per (user, source) pair, not per user: an
//!   attacker guessing from elsewhere fills their own pair's window and their own address's
//!   window, never the owner's, so the owner logging in from their own address is never locked
//!   out by someone else. Guessing one account from many addresses is bounded per address (and
//!   by the hashing cost); a global per-user limit would hand every attacker a lockout button.

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;

use crate::config::ThrottleConfig;

/// Keys tracked per map before expired entries are swept: bounds memory under a flood of
/// distinct usernames or addresses.
const SWEEP_AT_KEYS: usize = 10_000;

/// A key blocked only by attempts still being verified is told to come back in this many
/// seconds (those attempts end within a hash's time).
const PENDING_RETRY_SECS: u64 = 1;

#[derive(Debug, Default)]
struct Entry {
    failures: VecDeque<i64>,
    /// Attempts reserved and not yet resolved.
    pending: usize,
}

#[derive(Debug, Default)]
struct Windows(HashMap<String, Entry>);

impl Windows {
    fn prune(q: &mut VecDeque<i64>, cutoff: i64) {
        while q.front().is_some_and(|&t| t <= cutoff) {
            q.pop_front();
        }
    }

    /// Seconds until `key` may try again, if its failures plus its pending attempts are at the
    /// limit.
    fn blocked_for(&mut self, key: &str, now_ms: i64, window_ms: i64, limit: usize) -> Option<u64> {
        let e = self.0.get_mut(key)?;
        Self::prune(&mut e.failures, now_ms - window_ms);
        if e.failures.len() + e.pending < limit {
            return None;
        }
        if e.failures.len() < limit {
            return Some(PENDING_RETRY_SECS);
        }
        let oldest = e.failures.front().copied().unwrap_or(now_ms);
        let wait_ms = (oldest + window_ms - now_ms).max(1000);
        Some((wait_ms as u64).div_ceil(1000))
    }

    fn sweep(&mut self, now_ms: i64, window_ms: i64) {
        if self.0.len() >= SWEEP_AT_KEYS {
            self.0.retain(|_, e| {
                Self::prune(&mut e.failures, now_ms - window_ms);
                !e.failures.is_empty() || e.pending > 0
            });
        }
    }

    fn reserve(&mut self, key: &str, now_ms: i64, window_ms: i64) {
        self.sweep(now_ms, window_ms);
        self.0.entry(key.to_owned()).or_default().pending += 1;
    }

    /// Resolve one reservation of `key`: a failure is recorded at `at_ms`.
    fn resolve(&mut self, key: &str, failed_at_ms: Option<i64>) {
        let e = self.0.entry(key.to_owned()).or_default();
        e.pending = e.pending.saturating_sub(1);
        if let Some(at) = failed_at_ms {
            e.failures.push_back(at);
        }
        if e.failures.is_empty() && e.pending == 0 {
            self.0.remove(key);
        }
    }

    fn record(&mut self, key: &str, now_ms: i64, window_ms: i64) {
        self.sweep(now_ms, window_ms);
        self.0
            .entry(key.to_owned())
            .or_default()
            .failures
            .push_back(now_ms);
    }
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    cfg: ThrottleConfig,
    pairs: Mutex<Windows>,
    ips: Mutex<Windows>,
}

/// One reserved login attempt: a failure unless [`Attempt::succeeded`] is called.
#[must_use = "an attempt dropped without `succeeded` counts as a failure"]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    pair: String,
    ip: String,
    at_ms: i64,
    succeeded: bool,
}

impl Attempt<'_> {
    /// The password was right: release the reservation and forget the pair's failures (not the
    /// address's: one success must not reset a spray across many accounts).
    pub fn succeeded(mut self) {
        self.succeeded = true;
        let mut pairs = self.throttle.pairs.lock();
        if let Some(e) = pairs.0.get_mut(&self.pair) {
            e.failures.clear();
        }
        pairs.resolve(&self.pair, None);
        drop(pairs);
        self.throttle.ips.lock().resolve(&self.ip, None);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.succeeded {
            self.throttle
                .pairs
                .lock()
                .resolve(&self.pair, Some(self.at_ms));
            self.throttle.ips.lock().resolve(&self.ip, Some(self.at_ms));
        }
    }
}

fn pair_key(user: &str, ip: &str) -> String {
    format!("{user}\u{0}{ip}")
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

    /// Check and reserve one login attempt of `user` from `ip`, atomically: `Err(retry_after)`
    /// when the pair or the address is at its limit (failures in the window plus attempts
    /// still being verified).
    pub fn begin(&self, user: &str, ip: &str, now_ms: i64) -> Result<Attempt<'_>, u64> {
        let w = self.window_ms();
        let pair = pair_key(user, ip);
        // Both locks held across check and reserve (always pairs, then ips): no interleaving
        // attempt can slip past a limit.
        let mut pairs = self.pairs.lock();
        let mut ips = self.ips.lock();
        let by_pair = pairs.blocked_for(&pair, now_ms, w, self.cfg.max_failures_per_user);
        let by_ip = ips.blocked_for(ip, now_ms, w, self.cfg.max_failures_per_ip);
        if let Some(secs) = by_pair.into_iter().chain(by_ip).max() {
            return Err(secs);
        }
        pairs.reserve(&pair, now_ms, w);
        ips.reserve(ip, now_ms, w);
        Ok(Attempt {
            throttle: self,
            pair,
            ip: ip.to_owned(),
            at_ms: now_ms,
            succeeded: false,
        })
    }

    /// `Err(retry_after)` when the address is at its limit (registration: a taken name is
    /// recorded with [`LoginThrottle::record_source_failure`], so names cannot be enumerated
    /// faster than passwords can be guessed).
    pub fn check_source(&self, ip: &str, now_ms: i64) -> Result<(), u64> {
        let w = self.window_ms();
        match self
            .ips
            .lock()
            .blocked_for(ip, now_ms, w, self.cfg.max_failures_per_ip)
        {
            Some(secs) => Err(secs),
            None => Ok(()),
        }
    }

    pub fn record_source_failure(&self, ip: &str, now_ms: i64) {
        self.ips.lock().record(ip, now_ms, self.window_ms());
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

    fn fail(t: &LoginThrottle, user: &str, ip: &str, at: i64) {
        drop(t.begin(user, ip, at).expect("not blocked"));
    }

    #[test]
    fn per_pair_window_slides() {
        let t = throttle();
        for i in 0..3 {
            fail(&t, "a", "ip", i * 1000);
        }
        assert_eq!(t.begin("a", "ip", 3000).err(), Some(57));
        assert!(t.begin("b", "ip", 3000).is_ok());
        // The first failure leaves the window at 60 s.
        assert!(t.begin("a", "ip", 60_001).is_ok());
    }

    #[test]
    fn an_attacker_elsewhere_cannot_lock_the_owner_out() {
        let t = throttle();
        for i in 0..3 {
            fail(&t, "owner", "6.6.6.6", i);
        }
        assert!(t.begin("owner", "6.6.6.6", 10).is_err());
        t.begin("owner", "1.1.1.1", 10)
            .expect("the owner's own address is not blocked")
            .succeeded();
    }

    #[test]
    fn parallel_attempts_count_before_they_are_verified() {
        let t = throttle();
        // Three attempts in flight for one user: the fourth is refused at once, and told to
        // come back in a second (nothing has failed yet).
        let held: Vec<_> = (0..3).map(|_| t.begin("a", "ip", 0).unwrap()).collect();
        assert_eq!(t.begin("a", "ip", 0).err(), Some(PENDING_RETRY_SECS));
        drop(held);
        // All three failed: now the window's own wait applies.
        assert_eq!(t.begin("a", "ip", 1000).err(), Some(59));
        // Parallel attempts across users from one address stop at the address limit.
        let t = throttle();
        let held: Vec<_> = (0..5)
            .map(|i| t.begin(&format!("u{i}"), "1.2.3.4", 0).unwrap())
            .collect();
        assert!(t.begin("u9", "1.2.3.4", 0).is_err());
        assert!(t.begin("u9", "5.6.7.8", 0).is_ok());
        held.into_iter().for_each(Attempt::succeeded);
        assert!(
            t.begin("u9", "1.2.3.4", 0).is_ok(),
            "successes release the address"
        );
    }

    #[test]
    fn per_ip_limit_and_success_reset() {
        let t = throttle();
        for (i, u) in ["u1", "u2", "u3", "u4", "u5"].iter().enumerate() {
            fail(&t, u, "1.2.3.4", i as i64);
        }
        assert!(t.begin("fresh", "1.2.3.4", 10).is_err());
        assert!(t.begin("fresh", "5.6.7.8", 10).is_ok());
        fail(&t, "z", "9", 0);
        fail(&t, "z", "9", 0);
        t.begin("z", "9", 0).unwrap().succeeded();
        fail(&t, "z", "9", 0);
        fail(&t, "z", "9", 0);
        assert!(t.begin("z", "9", 1).is_ok());
    }

    #[test]
    fn registration_failures_count_per_source() {
        let t = throttle();
        for i in 0..5 {
            assert!(t.check_source("ip", i).is_ok());
            t.record_source_failure("ip", i);
        }
        assert!(t.check_source("ip", 10).is_err());
        assert!(t.check_source("other", 10).is_ok());
    }
}
