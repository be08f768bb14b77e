//! Failure counting per client IP, in memory: failed logins and failed
//! client authentications. (Request-rate ceilings are tower-governor's job
//! in `http`; per-account lockout lives in the store so that it is atomic
//! and survives restarts.)

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::clock::UnixTime;

/// Entries kept at most; beyond it, expired windows are dropped first and
/// then the oldest, so a spray of addresses cannot grow memory without bound.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
pub struct FailureCounter {
    limit: u32,
    window_seconds: i64,
    windows: Mutex<HashMap<IpAddr, (UnixTime, u32)>>,
}

impl FailureCounter {
    pub fn new(limit: u32, window_seconds: i64) -> Self {
        Self { limit, window_seconds, windows: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, (UnixTime, u32)>> {
        match self.windows.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Seconds until `ip` may try again, when it has used up its failures.
    pub fn blocked_for(&self, ip: IpAddr, now: UnixTime) -> Option<u64> {
        let windows = self.lock();
        let (start, failures) = *windows.get(&ip)?;
        let remaining = start + self.window_seconds - now;
        (failures >= self.limit && remaining > 0).then_some(remaining as u64)
    }

    pub fn record_failure(&self, ip: IpAddr, now: UnixTime) {
        let mut windows = self.lock();
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&ip) {
            let window = self.window_seconds;
            windows.retain(|_, (start, _)| now - *start < window);
            if windows.len() >= MAX_TRACKED
                && let Some(oldest) = windows.iter().min_by_key(|(_, (start, _))| *start).map(|(ip, _)| *ip) {
                    windows.remove(&oldest);
                }
        }
        let entry = windows.entry(ip).or_insert((now, 0));
        if now - entry.0 >= self.window_seconds {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

/// The failure counters of one running provider.
#[derive(Debug)]
pub struct Throttles {
    pub login_failures: FailureCounter,
    pub client_auth_failures: FailureCounter,
}

impl Throttles {
    pub fn new(config: &crate::config::RateLimitConfig) -> Self {
        let window = config.failure_window.as_secs() as i64;
        Self {
            login_failures: FailureCounter::new(config.login_failures_per_ip, window),
            client_auth_failures: FailureCounter::new(config.client_auth_failures_per_ip, window),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let counter = FailureCounter::new(3, 60);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(counter.blocked_for(ip, 100), None);
            counter.record_failure(ip, 100);
        }
        assert_eq!(counter.blocked_for(ip, 110), Some(50));
        assert_eq!(counter.blocked_for(other, 110), None);
        assert_eq!(counter.blocked_for(ip, 160), None);
    }
}
