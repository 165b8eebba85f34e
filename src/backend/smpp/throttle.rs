//! Submit rate limits per second and per minute (a sliding window of send times), and the
//! pause after the SMSC says it is throttling us.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Throttle {
    per_second: u32,
    per_minute: u32,
    /// Send times within the last minute (or second, if only that limit is set).
    recent: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl Throttle {
    /// 0 means no limit.
    pub fn new(per_second: u32, per_minute: u32) -> Throttle {
        Throttle { per_second, per_minute, recent: VecDeque::new(), paused_until: None }
    }

    /// When the next submit may go: None means now.
    pub fn next_slot(&mut self, now: Instant) -> Option<Instant> {
        let horizon = if self.per_minute > 0 { MINUTE } else { SECOND };
        while self.recent.front().is_some_and(|t| now.duration_since(*t) >= horizon) {
            self.recent.pop_front();
        }
        let mut at = self.paused_until.filter(|p| *p > now);
        for (limit, window) in [(self.per_second, SECOND), (self.per_minute, MINUTE)] {
            if limit == 0 {
                continue;
            }
            let in_window: Vec<&Instant> = self.recent.iter().filter(|t| now.duration_since(**t) < window).collect();
            if in_window.len() >= limit as usize {
                // The oldest send that still counts must leave the window first.
                let free = *in_window[in_window.len() - limit as usize] + window;
                at = Some(at.map_or(free, |a| a.max(free)));
            }
        }
        at
    }

    pub fn record(&mut self, now: Instant) {
        if self.per_second > 0 || self.per_minute > 0 {
            self.recent.push_back(now);
        }
    }

    /// The SMSC asked us to slow down: nothing goes out until `until`.
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
