//! Bounded sliding windows per account.
//!
//! A window of W seconds is a ring of [`BUCKETS`] buckets of W/BUCKETS seconds; each account
//! holds one ring, so memory is fixed per account whatever the event count. Events older than
//! the window (late deliveries) are not counted. After a window fires, it stays quiet until the
//! window has rolled past the burst, so one burst gives one alert.

use std::collections::HashMap;

/// Buckets per window.
pub const BUCKETS: usize = 10;
/// Most accounts tracked at once; beyond it the least recently active account is forgotten
/// (an attacker spraying account IDs cannot exhaust memory).
pub const MAX_ACCOUNTS: usize = 100_000;

#[derive(Debug, Clone)]
struct Ring {
    latest: i64,
    counts: [u64; BUCKETS],
    quiet_until: i64,
}

/// A per-account sliding-window sum with a threshold.
#[derive(Debug, Clone)]
pub struct RateWindow {
    bucket_secs: i64,
    threshold: u64,
    rings: HashMap<String, Ring>,
}

impl RateWindow {
    /// A window of `window_secs` firing when the sum exceeds `threshold`.
    #[must_use]
    pub fn new(threshold: u64, window_secs: u64) -> Self {
        let bucket_secs = i64::try_from(window_secs / BUCKETS as u64)
            .unwrap_or(1)
            .max(1);
        RateWindow {
            bucket_secs,
            threshold,
            rings: HashMap::new(),
        }
    }

    /// Number of accounts tracked.
    #[must_use]
    pub fn accounts(&self) -> usize {
        self.rings.len()
    }

    /// Add `amount` for `account` at `epoch_secs`. Returns the window sum when this addition
    /// takes it over the threshold (once per burst).
    pub fn add(&mut self, account: &str, epoch_secs: i64, amount: u64) -> Option<u64> {
        let b = epoch_secs.div_euclid(self.bucket_secs);
        // One lookup in the common case (a known account), which allocates nothing.
        if let Some(ring) = self.rings.get_mut(account) {
            return ring.add(b, amount, self.threshold);
        }
        if self.rings.len() >= MAX_ACCOUNTS
            && let Some(oldest) = self
                .rings
                .iter()
                .min_by_key(|(_, r)| r.latest)
                .map(|(k, _)| k.clone())
        {
            self.rings.remove(&oldest);
        }
        self.rings
            .entry(account.to_owned())
            .or_insert(Ring {
                latest: b,
                counts: [0; BUCKETS],
                quiet_until: i64::MIN,
            })
            .add(b, amount, self.threshold)
    }
}

impl Ring {
    fn add(&mut self, b: i64, amount: u64, threshold: u64) -> Option<u64> {
        let n = BUCKETS as i64;
        if b > self.latest {
            let steps = (b - self.latest).min(n);
            for k in 1..=steps {
                self.counts[(self.latest + k).rem_euclid(n) as usize] = 0;
            }
            self.latest = b;
        } else if b <= self.latest - n {
            return None;
        }
        let slot = &mut self.counts[b.rem_euclid(n) as usize];
        *slot = slot.saturating_add(amount);
        let total: u64 = self.counts.iter().fold(0u64, |a, c| a.saturating_add(*c));
        if total > threshold && self.latest >= self.quiet_until {
            self.quiet_until = self.latest + n;
            Some(total)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_per_burst_and_forgets_old_events() {
        let mut w = RateWindow::new(10, 300);
        let fired: Vec<_> = (0..30).filter_map(|i| w.add("a", 1000 + i, 1)).collect();
        assert_eq!(fired, vec![11]);
        // Ten minutes later the window is empty again: 10 more do not fire.
        assert!((0..10).all(|i| w.add("a", 1700 + i, 1).is_none()));
        assert_eq!(w.add("a", 1700, 1), Some(11));
        // Late events beyond the window are ignored.
        assert!(w.add("a", 0, 100).is_none());
        // Accounts are independent.
        assert!(w.add("b", 1700, 5).is_none());
    }

    #[test]
    fn memory_is_bounded_by_accounts_not_events() {
        let mut w = RateWindow::new(u64::MAX, 300);
        for i in 0..1_000_000i64 {
            w.add("same", i, 1);
        }
        assert_eq!(w.accounts(), 1);
    }
}
