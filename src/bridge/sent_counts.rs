//! What the per-number caps count: when links took messages for each number in the last
//! day, and the numbers an admin lifted the caps for, kept in memory (read from the
//! database at start). A count in the database would need an index keyed by number, whose
//! pages every commit would scatter writes over.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

const HOUR_MS: i64 = 3_600_000;
pub(super) const DAY_MS: i64 = 24 * HOUR_MS;
/// Records between sweeps for numbers that went quiet.
const SWEEP_EVERY: usize = 10_000;

#[derive(Default)]
pub(super) struct SentCounts {
    inner: Mutex<Inner>,
    /// Numbers whose caps are lifted (a copy of the `cap_lifts` table).
    lifted: Mutex<HashSet<String>>,
}

#[derive(Default)]
struct Inner {
    /// Times (Unix ms) links took messages for each number, oldest first, within a day.
    by_number: HashMap<String, VecDeque<i64>>,
    since_sweep: usize,
}

impl SentCounts {
    /// Counts what the outbox says links took (number, time), oldest first; `lifted` are
    /// the numbers whose caps are lifted.
    pub(super) fn seeded(taken: Vec<(String, i64)>, lifted: impl IntoIterator<Item = String>) -> SentCounts {
        let counts = SentCounts { lifted: Mutex::new(lifted.into_iter().collect()), ..SentCounts::default() };
        {
            let mut inner = counts.inner.lock().unwrap_or_else(|p| p.into_inner());
            for (number, at) in taken {
                inner.by_number.entry(number).or_default().push_back(at);
            }
        }
        counts
    }

    /// Messages taken for `number` in the hour and the day before `now`.
    pub(super) fn recent(&self, number: &str, now: i64) -> (u32, u32) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(times) = inner.by_number.get(number) else { return (0, 0) };
        let since = |from: i64| (times.len() - times.partition_point(|t| *t <= from)) as u32;
        (since(now - HOUR_MS), since(now - DAY_MS))
    }

    pub(super) fn is_lifted(&self, number: &str) -> bool {
        self.lifted.lock().unwrap_or_else(|p| p.into_inner()).contains(number)
    }

    /// Notes a lift (true) or a restore (false), once the database has it.
    pub(super) fn set_lifted(&self, number: &str, lifted: bool) {
        let mut set = self.lifted.lock().unwrap_or_else(|p| p.into_inner());
        if lifted {
            set.insert(number.to_string());
        } else {
            set.remove(number);
        }
    }

    /// A link took a message for `number` at `at` (now, or later than any before).
    pub(super) fn record(&self, number: &str, at: i64) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let times = inner.by_number.entry(number.to_string()).or_default();
        while times.front().is_some_and(|t| *t <= at - DAY_MS) {
            times.pop_front();
        }
        times.push_back(at);
        inner.since_sweep += 1;
        if inner.since_sweep >= SWEEP_EVERY {
            inner.since_sweep = 0;
            inner.by_number.retain(|_, times| times.back().is_some_and(|t| *t > at - DAY_MS));
        }
    }

    /// The numbers links took the most messages for in the day before `now`.
    pub(super) fn busiest(&self, now: i64, n: usize) -> Vec<(String, u32)> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut all: Vec<(String, u32)> = inner
            .by_number
            .iter()
            .map(|(number, times)| {
                (number.clone(), (times.len() - times.partition_point(|t| *t <= now - DAY_MS)) as u32)
            })
            .filter(|(_, count)| *count > 0)
            .collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.truncate(n);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_hour_and_the_day_and_forgets_what_is_older() {
        let now = 10 * DAY_MS;
        let c =
            SentCounts::seeded(vec![("+1".into(), now - DAY_MS - 1), ("+1".into(), now - 2 * HOUR_MS)], ["+9".into()]);
        assert!(c.is_lifted("+9") && !c.is_lifted("+1"));
        c.set_lifted("+1", true);
        c.set_lifted("+9", false);
        assert!(c.is_lifted("+1") && !c.is_lifted("+9"));
        assert_eq!(c.recent("+1", now), (0, 1));
        c.record("+1", now - 10);
        c.record("+1", now);
        c.record("+2", now);
        assert_eq!(c.recent("+1", now), (2, 3));
        assert_eq!(c.recent("+3", now), (0, 0));
        assert_eq!(c.busiest(now, 5), vec![("+1".to_string(), 3), ("+2".to_string(), 1)]);
        // A day later only the newest is left of +1; the old ones were dropped as it went.
        c.record("+1", now + DAY_MS - 5);
        assert_eq!(c.recent("+1", now + DAY_MS - 5), (1, 2));
        let inner = c.inner.lock().unwrap();
        assert_eq!(inner.by_number["+1"].len(), 2, "{:?}", inner.by_number["+1"]);
    }
}
