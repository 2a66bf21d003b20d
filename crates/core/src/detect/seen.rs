//! Events the windowed detectors have already counted.
//!
//! SQS delivers at least once: a message whose write or alert failed comes back, and its event
//! must not be counted again (a redelivered burst would double a window and fire a false
//! `request-spike` or `failed-auth`). The set remembers an event for as long as any window could
//! still count it — the longest window, measured on event time — and never more than a fixed
//! number of events, so memory stays bounded whatever the traffic.

use std::collections::{HashSet, VecDeque};

/// Most event IDs remembered; beyond it the oldest are forgotten (a redelivery of one of those
/// is counted again, which only matters if it is still inside a window).
pub const MAX_REMEMBERED: usize = 500_000;

/// A bounded, time-limited set of event IDs.
#[derive(Debug, Clone)]
pub struct SeenEvents {
    horizon_ms: i64,
    max: usize,
    newest_ms: i64,
    ids: HashSet<String>,
    order: VecDeque<(i64, String)>,
}

impl SeenEvents {
    /// Remember events for `horizon_secs` of event time, at most `max` of them.
    #[must_use]
    pub fn new(horizon_secs: u64, max: usize) -> Self {
        SeenEvents {
            horizon_ms: i64::try_from(horizon_secs.saturating_mul(1000)).unwrap_or(i64::MAX),
            max: max.max(1),
            newest_ms: i64::MIN,
            ids: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// Events remembered now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether nothing is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// `true` the first time `event_id` is offered (and remembers it); `false` for a repeat.
    /// Every event is remembered, late ones too (windows are per account: an event late for the
    /// busiest account can still count in a quieter one's window), and kept until it is past
    /// the horizon of the newest event seen and has reached the front of the queue.
    pub fn first(&mut self, event_id: &str, epoch_ms: i64) -> bool {
        if self.ids.contains(event_id) {
            return false;
        }
        self.newest_ms = self.newest_ms.max(epoch_ms);
        self.ids.insert(event_id.to_owned());
        self.order.push_back((epoch_ms, event_id.to_owned()));
        self.evict();
        true
    }

    fn evict(&mut self) {
        let cutoff = self.newest_ms.saturating_sub(self.horizon_ms);
        // Arrival order is close to event order; entries are dropped from the front once they
        // are past the horizon or the set is full.
        while let Some((t, _)) = self.order.front() {
            if *t >= cutoff && self.order.len() <= self.max {
                break;
            }
            if let Some((_, id)) = self.order.pop_front() {
                self.ids.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_inside_the_horizon_is_not_new() {
        let mut s = SeenEvents::new(300, 10);
        assert!(s.first("e1", 1_000));
        assert!(!s.first("e1", 1_000));
        assert!(s.first("e2", 2_000));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn events_past_the_horizon_are_forgotten() {
        let mut s = SeenEvents::new(1, 10);
        assert!(s.first("e1", 0));
        assert!(s.first("e2", 5_000));
        assert_eq!(s.len(), 1, "e1 is older than the 1 s horizon");
        // A late event is new, and remembered while it waits behind the newer ones.
        assert!(s.first("late", 100));
        assert!(!s.first("late", 100));
    }

    #[test]
    fn memory_is_bounded() {
        let mut s = SeenEvents::new(3600, 100);
        for i in 0..1_000 {
            assert!(s.first(&format!("e{i}"), 1_000));
        }
        assert_eq!(s.len(), 100);
        assert!(!s.first("e999", 1_000));
    }
}
