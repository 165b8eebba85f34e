//! What per-number caps and send rates read from the outbox: when links took messages
//! (`claimed_at`), the messages still waiting, and the numbers an admin lifted caps for.

use rusqlite::{Connection, Transaction, params};

use super::{Result, Store, now_ms};

impl Store {
    /// Messages to `destination` due and not taken by a link yet, counted up to `most`.
    pub fn waiting_to(c: &Connection, destination: &str, most: u32) -> Result<u32> {
        let n: i64 = c
            .prepare_cached(
                "SELECT count(*) FROM (SELECT 1 FROM outbox WHERE destination = ?1 AND state = 'queued'
                 AND claimed_at IS NULL AND coalesce(not_before, 0) <= ?2 LIMIT ?3)",
            )?
            .query_row(params![destination, now_ms(), most], |r| r.get(0))?;
        Ok(n as u32)
    }

    /// (number, time) of every message a link took since `since` (Unix ms), oldest first.
    pub fn claims_since(&self, since: i64) -> Result<Vec<(String, i64)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT destination, claimed_at FROM outbox WHERE claimed_at > ?1 ORDER BY claimed_at",
            )?;
            let rows = stmt.query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// When `link` last took messages (since `since`, Unix ms), oldest first, at most the
    /// newest `most`: what its send rate counted before a restart.
    pub fn recent_claims(&self, link: &str, since: i64, most: usize) -> Result<Vec<i64>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT claimed_at FROM (SELECT claimed_at FROM outbox WHERE claimed_at > ?2 AND backend_id = ?1
                 ORDER BY claimed_at DESC LIMIT ?3) ORDER BY claimed_at",
            )?;
            let rows = stmt.query_map(params![link, since, most as i64], |r| r.get(0))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// A claim a cap refused: the link never got the message, so it counts for nothing.
    pub fn forget_claim_tx(tx: &Transaction, id: i64) -> Result<()> {
        tx.prepare_cached("UPDATE outbox SET claimed_at = NULL WHERE id = ?1")?.execute([id])?;
        Ok(())
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
    use crate::store::{NewOutJob, Portal};

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
    fn waiting_and_taken_messages_and_lifts() {
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
        let ids = queue(&s, portal.id, 4, "+15551234567");
        queue(&s, portal.id, 1, "+15559999999");
        let waiting = |most| s.with(|c| Store::waiting_to(c, "+15551234567", most)).unwrap();
        assert_eq!((waiting(100), waiting(2)), (4, 2), "counted up to the most asked");
        let before = now_ms() - 1;
        s.tx(|tx| {
            assert_eq!(Store::claim_tx(tx, ids[0])?, Some(true));
            assert_eq!(Store::claim_tx(tx, ids[1])?, Some(true));
            Store::forget_claim_tx(tx, ids[1])
        })
        .unwrap();
        assert_eq!(waiting(100), 2, "taken ones no longer wait");
        let taken = s.claims_since(before).unwrap();
        assert_eq!(
            taken.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["+15551234567"],
            "a forgotten claim is not one"
        );
        assert_eq!(s.recent_claims("sim", before, 10).unwrap().len(), 1);
        assert!(s.recent_claims("other", before, 10).unwrap().is_empty());
        // Claimed again after a retry: not a first claim.
        std::thread::sleep(std::time::Duration::from_millis(2));
        s.set_out_state(ids[0], crate::store::OutState::Queued, None).unwrap();
        assert_eq!(s.tx(|tx| Store::claim_tx(tx, ids[0])).unwrap(), Some(false));
        assert!(s.lift_caps("+15551234567", "@admin:x").unwrap());
        assert!(!s.lift_caps("+15551234567", "@admin:x").unwrap());
        assert_eq!(s.cap_lifts().unwrap(), vec![("+15551234567".to_string(), "@admin:x".to_string())]);
        assert!(s.restore_caps("+15551234567").unwrap());
        assert!(s.cap_lifts().unwrap().is_empty());
    }
}
