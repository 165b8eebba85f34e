//! What per-destination caps count: messages to a number lately (queued, sent or taken
//! by a link, not those that failed), and the numbers an admin lifted the caps for.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Result, Store, now_ms};
use crate::config::Recent;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

impl Store {
    /// Messages to `destination` in the last hour and day, counted up to the larger of
    /// `most` (the caps: counting further would only cost time; a cap of 0 is not counted), leaving out job `except`. A message
    /// counts from when a link first took it; with `waiting`, those due and not taken yet
    /// count too (a message being queued joins them; one being taken does not wait).
    pub fn recent_to(
        c: &Connection,
        destination: &str,
        except: i64,
        most: (u32, u32),
        waiting: bool,
    ) -> Result<Recent> {
        let now = now_ms();
        let waiting = if waiting {
            let n: i64 = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM outbox WHERE destination = ?1 AND claimed_at IS NULL
                     AND state = 'queued' AND coalesce(not_before, 0) <= ?2 AND id != ?3 LIMIT ?4)",
                )?
                .query_row(params![destination, now, except, most.0.max(most.1)], |r| r.get(0))?;
            n as u32
        } else {
            0
        };
        // One pass over the day (or, with no day cap, the hour), newest first, so a count
        // cut short at the cap still has every message of the last hour before it.
        let (hour, day) = (now - HOUR_MS, now - DAY_MS);
        let (since, limit) = if most.1 > 0 { (day, most.0.max(most.1)) } else { (hour, most.0) };
        let (in_hour, in_day): (i64, i64) = if limit == 0 {
            (0, 0)
        } else {
            c.prepare_cached(
                "SELECT coalesce(sum(claimed_at > ?2), 0), count(*) FROM (SELECT claimed_at FROM outbox
                 WHERE destination = ?1 AND claimed_at > ?3 AND state NOT IN ('failed', 'dead') AND id != ?4
                 ORDER BY claimed_at DESC LIMIT ?5)",
            )?
            .query_row(params![destination, hour, since, except, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
        };
        let last_hour = if most.0 > 0 { in_hour as u32 + waiting } else { 0 };
        let last_day = if most.1 > 0 { in_day as u32 + waiting } else { 0 };
        let lifted = c
            .prepare_cached("SELECT 1 FROM cap_lifts WHERE destination = ?1")?
            .query_row([destination], |_| Ok(()))
            .optional()?
            .is_some();
        Ok(Recent { last_hour, last_day, lifted })
    }

    /// [`Store::recent_to`] on the committed state, uncapped, for the `limits` command.
    pub fn recent_to_now(&self, destination: &str) -> Result<Recent> {
        self.read(|c| Store::recent_to(c, destination, 0, (u32::MAX, u32::MAX), true))
    }

    /// The numbers links took the most messages for in the last day: (number, count).
    pub fn busiest_destinations(&self, limit: usize) -> Result<Vec<(String, u32)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT destination, COUNT(*) AS n FROM outbox WHERE claimed_at > ?1
                 AND state NOT IN ('failed', 'dead') GROUP BY destination ORDER BY n DESC, destination LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now_ms() - DAY_MS, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// When a link last took messages (first claims since `since`, Unix ms), oldest first,
    /// at most the newest `most`: what its send rate counted before a restart.
    pub fn recent_claims(&self, link: &str, since: i64, most: usize) -> Result<Vec<i64>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT claimed_at FROM (SELECT claimed_at FROM outbox WHERE backend_id = ?1 AND claimed_at > ?2
                 ORDER BY claimed_at DESC LIMIT ?3) ORDER BY claimed_at",
            )?;
            let rows = stmt.query_map(params![link, since, most as i64], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Lifts the caps for `destination` until restored; false if they were lifted already.
    pub fn lift_caps(&self, destination: &str, by: &str) -> Result<bool> {
        self.tx(|tx| {
            Ok(tx.execute(
                "INSERT OR IGNORE INTO cap_lifts (destination, lifted_by, lifted_at) VALUES (?1, ?2, ?3)",
                params![destination, by, now_ms()],
            )? == 1)
        })
    }

    /// Puts the caps back on `destination`; false if they were not lifted.
    pub fn restore_caps(&self, destination: &str) -> Result<bool> {
        self.tx(|tx| Ok(tx.execute("DELETE FROM cap_lifts WHERE destination = ?1", [destination])? == 1))
    }

    /// Numbers whose caps are lifted, with who lifted them.
    pub fn cap_lifts(&self) -> Result<Vec<(String, String)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT destination, lifted_by FROM cap_lifts ORDER BY destination")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewOutJob, OutState, Portal};

    fn queue(s: &Store, portal: i64, n: usize, to: &str) -> Vec<i64> {
        (0..n)
            .map(|i| {
                let event = format!("$e{to}{i}");
                let job = NewOutJob {
                    portal_id: portal,
                    backend_id: "sim",
                    room_id: "!r",
                    event_id: &event,
                    destination: to,
                    body: "hi",
                    expires_at: i64::MAX,
                    ..Default::default()
                };
                s.tx(|tx| Store::enqueue_out(tx, &job)).unwrap().unwrap()
            })
            .collect()
    }

    #[test]
    fn counts_what_went_or_waits_leaves_out_failures_and_stops_at_the_cap() {
        let s = Store::open_in_memory().unwrap();
        let portal = s
            .claim_portal(&Portal {
                id: 0,
                local_number: "+15550000000".into(),
                remote_key: "+15551234567".into(),
                remote_display: "+1 555-123-4567".into(),
                remote_destination: Some("+15551234567".into()),
                backend_id: "sim".into(),
                owner: "@a:x".into(),
                room_id: None,
                owner_left: false,
                generation: 0,
            })
            .unwrap();
        let ids = queue(&s, portal.id, 5, "+15551234567");
        let other = queue(&s, portal.id, 2, "+15559999999");
        s.set_out_state(ids[0], OutState::Failed, Some("refused")).unwrap();
        let recent = |except, most, waiting| {
            let r = s.with(|c| Store::recent_to(c, "+15551234567", except, most, waiting)).unwrap();
            (r.last_hour, r.last_day)
        };
        assert_eq!(recent(0, (100, 100), true), (4, 4), "waiting to go");
        assert_eq!(recent(0, (100, 100), false), (0, 0), "none taken yet");
        // Taken by the link: they count, whether waiting ones do or not.
        s.tx(|tx| {
            for id in &ids[1..4] {
                Store::claim_for_sending_tx(tx, *id)?;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(recent(0, (100, 100), false), (3, 3));
        assert_eq!(recent(ids[1], (100, 100), true), (3, 3), "itself left out, the one still waiting in");
        assert_eq!(recent(0, (2, 2), false), (2, 2), "counted only up to the cap");
        assert_eq!(recent(0, (5, 0), false), (3, 0), "no day cap: the day is not counted");
        // An hour-old message counts for the day only.
        s.with(|c| {
            Ok(c.execute("UPDATE outbox SET claimed_at = ?1 WHERE id = ?2", params![now_ms() - 2 * HOUR_MS, ids[2]])?)
        })
        .unwrap();
        let r = s.recent_to_now("+15551234567").unwrap();
        assert_eq!((r.last_hour, r.last_day), (3, 4), "two taken this hour, one an hour ago, one waiting");
        assert!(s.lift_caps("+15551234567", "@admin:x").unwrap());
        assert!(!s.lift_caps("+15551234567", "@admin:x").unwrap());
        assert!(s.recent_to_now("+15551234567").unwrap().lifted);
        s.tx(|tx| Store::claim_for_sending_tx(tx, other[0])).unwrap();
        assert_eq!(s.busiest_destinations(5).unwrap(), vec![("+15551234567".into(), 3), ("+15559999999".into(), 1)]);
        assert!(s.restore_caps("+15551234567").unwrap());
        assert!(!s.recent_to_now("+15551234567").unwrap().lifted);
    }
}
