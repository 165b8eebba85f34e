//! Send-rate limits over sliding windows (per second, minute, hour), and a pause after a
//! peer says it is overloaded. Used by the core for every link's `policy.rate`, and by the
//! SMPP session per submit_sm.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub struct Throttle {
    /// (most sends, window); no zero limits.
    limits: Vec<(u32, Duration)>,
    /// The latest send times, oldest first: no more than the largest limit, and none older
    /// than the longest window (older ones cannot hold anything up).
    recent: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl Throttle {
    /// 0 means no limit.
    pub fn new(per_second: u32, per_minute: u32) -> Throttle {
        Throttle::windows(per_second, per_minute, 0)
    }

    /// Limits per second, minute and hour; 0 means no limit.
    pub fn windows(per_second: u32, per_minute: u32, per_hour: u32) -> Throttle {
        let limits = [(per_second, SECOND), (per_minute, MINUTE), (per_hour, HOUR)];
        Throttle {
            limits: limits.into_iter().filter(|(l, _)| *l > 0).collect(),
            recent: VecDeque::new(),
            paused_until: None,
        }
    }

    /// Whether any limit is set (a pause aside).
    pub fn is_limited(&self) -> bool {
        !self.limits.is_empty()
    }

    /// When the next send may go: None means now.
    pub fn next_slot(&mut self, now: Instant) -> Option<Instant> {
        let horizon = self.limits.iter().map(|(_, w)| *w).max().unwrap_or(SECOND);
        while self.recent.front().is_some_and(|t| now.duration_since(*t) >= horizon) {
            self.recent.pop_front();
        }
        let mut at = self.paused_until.filter(|p| *p > now);
        for &(limit, window) in &self.limits {
            // Sorted by time: those within the window are a suffix.
            let start = self.recent.partition_point(|t| now.duration_since(*t) >= window);
            let in_window = self.recent.len() - start;
            if in_window >= limit as usize {
                // The oldest send that still counts must leave the window first.
                let free = self.recent[self.recent.len() - limit as usize] + window;
                at = Some(at.map_or(free, |a| a.max(free)));
            }
        }
        at
    }

    /// How many sends may go now, before a limit holds the next (usize::MAX: no limit).
    pub fn available(&mut self, now: Instant) -> usize {
        if self.is_paused(now) {
            return 0;
        }
        self.limits
            .iter()
            .map(|&(limit, window)| {
                let in_window = self.recent.iter().rev().take_while(|t| now.duration_since(**t) < window).count();
                (limit as usize).saturating_sub(in_window)
            })
            .min()
            .unwrap_or(usize::MAX)
    }

    pub fn record(&mut self, now: Instant) {
        let Some(most) = self.limits.iter().map(|(l, _)| *l as usize).max() else { return };
        self.recent.push_back(now);
        while self.recent.len() > most {
            self.recent.pop_front();
        }
    }

    /// The peer asked us to slow down: nothing goes out until `until`.
    pub fn pause(&mut self, until: Instant) {
        self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
    }

    pub fn is_paused(&self, now: Instant) -> bool {
        self.paused_until.is_some_and(|p| p > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sends_within(t: &mut Throttle, start: Instant, span: Duration, step: Duration) -> usize {
        let mut now = start;
        let mut n = 0;
        while now < start + span {
            match t.next_slot(now) {
                None => {
                    t.record(now);
                    n += 1;
                }
                Some(at) => assert!(at > now, "a slot in the past means a busy loop"),
            }
            now += step;
        }
        n
    }

    #[test]
    fn no_limits_means_always_now() {
        let mut t = Throttle::new(0, 0);
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(t.next_slot(now), None);
            t.record(now);
        }
        assert!(t.recent.is_empty(), "nothing is remembered without limits");
    }

    #[test]
    fn per_second_limit_holds_over_any_second() {
        let mut t = Throttle::new(5, 0);
        let start = Instant::now();
        let n = sends_within(&mut t, start, Duration::from_secs(10), Duration::from_millis(10));
        assert_eq!(n, 50);
    }

    #[test]
    fn per_minute_limit_for_phone_proxies() {
        let mut t = Throttle::new(0, 3);
        let start = Instant::now();
        let n = sends_within(&mut t, start, Duration::from_secs(120), Duration::from_millis(250));
        assert_eq!(n, 6);
        // The slot after a full minute is exactly when the first send leaves the window.
        let mut t = Throttle::new(0, 2);
        t.record(start);
        t.record(start + Duration::from_secs(10));
        assert_eq!(t.next_slot(start + Duration::from_secs(20)), Some(start + MINUTE));
    }

    #[test]
    fn per_hour_limit_and_memory_bounded_by_the_largest_limit() {
        let mut t = Throttle::windows(0, 0, 4);
        let start = Instant::now();
        assert_eq!(sends_within(&mut t, start, Duration::from_secs(7000), Duration::from_secs(1)), 8);
        assert!(t.recent.len() <= 4);
        let mut t = Throttle::windows(3, 0, 0);
        for i in 0..100 {
            t.record(start + Duration::from_millis(i));
        }
        assert_eq!(t.recent.len(), 3, "only the last 3 sends can hold up the next");
    }

    #[test]
    fn available_says_how_many_may_go_now() {
        let mut t = Throttle::windows(3, 5, 0);
        let start = Instant::now();
        assert_eq!(t.available(start), 3);
        t.record(start);
        t.record(start);
        assert_eq!(t.available(start), 1);
        t.record(start + SECOND);
        t.record(start + SECOND);
        assert_eq!(t.available(start + SECOND), 1, "the minute's 5 hold now, not the second's 3");
        assert_eq!(Throttle::new(0, 0).available(start), usize::MAX);
        t.pause(start + MINUTE * 2);
        assert_eq!(t.available(start + MINUTE), 0);
    }

    #[test]
    fn both_limits_apply() {
        let mut t = Throttle::new(2, 5);
        let start = Instant::now();
        assert_eq!(sends_within(&mut t, start, Duration::from_secs(60), Duration::from_millis(50)), 5);
    }

    #[test]
    fn pause_delays_and_then_clears() {
        let mut t = Throttle::new(0, 0);
        let now = Instant::now();
        t.pause(now + SECOND);
        assert!(t.is_paused(now));
        assert_eq!(t.next_slot(now), Some(now + SECOND));
        // A shorter pause does not shorten a longer one.
        t.pause(now + Duration::from_millis(10));
        assert_eq!(t.next_slot(now), Some(now + SECOND));
        assert_eq!(t.next_slot(now + SECOND), None);
        assert!(!t.is_paused(now + SECOND));
    }
}
