//! Ghosts, portals (one per address pair) and management rooms.

use rusqlite::{OptionalExtension, Row, params};

use super::{Result, Store, now_ms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ghost {
    pub localpart: String,
    pub address: String,
    pub displayname: String,
}

/// A conversation: our number on a link and one remote address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Portal {
    pub id: i64,
    pub local_number: String,
    pub remote_key: String,
    pub remote_display: String,
    pub remote_destination: Option<String>,
    pub backend_id: String,
    pub owner: String,
    pub room_id: Option<String>,
    /// The owner left the room (or was kicked): the next message invites them again.
    pub owner_left: bool,
    /// How many rooms the conversation had before this one (each has its own alias).
    pub generation: i64,
}

const PORTAL_COLS: &str = "id, local_number, remote_key, remote_display, remote_destination, backend_id, owner, room_id, owner_left, generation";

fn portal(r: &Row) -> rusqlite::Result<Portal> {
    Ok(Portal {
        id: r.get(0)?,
        local_number: r.get(1)?,
        remote_key: r.get(2)?,
        remote_display: r.get(3)?,
        remote_destination: r.get(4)?,
        backend_id: r.get(5)?,
        owner: r.get(6)?,
        room_id: r.get(7)?,
        owner_left: r.get(8)?,
        generation: r.get(9)?,
    })
}

/// A portal for the store's unit tests: link `b`, number `+1`, remote `2`, room `!r`.
#[cfg(test)]
pub(crate) fn test_portal() -> Portal {
    Portal {
        id: 0,
        local_number: "+1".into(),
        remote_key: "2".into(),
        remote_display: "2".into(),
        remote_destination: Some("2".into()),
        backend_id: "b".into(),
        owner: "@o:x".into(),
        room_id: Some("!r".into()),
        owner_left: false,
        generation: 0,
    }
}

impl Store {
    pub fn ghost(&self, localpart: &str) -> Result<Option<Ghost>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT localpart, address, displayname FROM ghosts WHERE localpart = ?1",
                [localpart],
                |r| Ok(Ghost { localpart: r.get(0)?, address: r.get(1)?, displayname: r.get(2)? }),
            )
            .optional()?)
        })
    }

    pub fn save_ghost(&self, g: &Ghost) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO ghosts (localpart, address, displayname, registered_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (localpart) DO UPDATE SET address = excluded.address, displayname = excluded.displayname",
                params![g.localpart, g.address, g.displayname, now_ms()],
            )?;
            Ok(())
        })
    }

    pub fn portal_by_room(&self, room_id: &str) -> Result<Option<Portal>> {
        self.with(|c| {
            let sql = format!("SELECT {PORTAL_COLS} FROM portals WHERE room_id = ?1");
            Ok(c.prepare_cached(&sql)?.query_row([room_id], portal).optional()?)
        })
    }

    pub fn portal_by_pair(&self, local_number: &str, remote_key: &str) -> Result<Option<Portal>> {
        self.read(|c| {
            let sql = format!("SELECT {PORTAL_COLS} FROM portals WHERE local_number = ?1 AND remote_key = ?2");
            Ok(c.prepare_cached(&sql)?.query_row([local_number, remote_key], portal).optional()?)
        })
    }

    pub fn portal_by_id(&self, id: i64) -> Result<Option<Portal>> {
        self.with(|c| {
            let sql = format!("SELECT {PORTAL_COLS} FROM portals WHERE id = ?1");
            Ok(c.prepare_cached(&sql)?.query_row([id], portal).optional()?)
        })
    }

    /// The portal row for a pair, inserted without a room if it is new.
    /// The unique pair makes this safe against races and restarts.
    pub fn claim_portal(&self, p: &Portal) -> Result<Portal> {
        // Nearly always there already: found without waiting for the writer.
        if let Some(found) = self.portal_by_pair(&p.local_number, &p.remote_key)? {
            return Ok(found);
        }
        self.with(|c| {
            let sql = format!("SELECT {PORTAL_COLS} FROM portals WHERE local_number = ?1 AND remote_key = ?2");
            let mut select = c.prepare_cached(&sql)?;
            if let Some(found) = select.query_row([&p.local_number, &p.remote_key], portal).optional()? {
                return Ok(found);
            }
            c.prepare_cached(
                "INSERT OR IGNORE INTO portals (local_number, remote_key, remote_display, remote_destination, backend_id, owner, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![p.local_number, p.remote_key, p.remote_display, p.remote_destination, p.backend_id, p.owner, now_ms()])?;
            Ok(select.query_row([&p.local_number, &p.remote_key], portal)?)
        })
    }

    pub fn set_portal_room(&self, id: i64, room_id: &str) -> Result<()> {
        self.with(|c| {
            c.execute("UPDATE portals SET room_id = ?1 WHERE id = ?2", params![room_id, id])?;
            Ok(())
        })
    }

    pub fn set_owner_left(&self, id: i64, left: bool) -> Result<()> {
        self.with(|c| {
            c.prepare_cached("UPDATE portals SET owner_left = ?1 WHERE id = ?2")?.execute(params![left, id])?;
            Ok(())
        })
    }

    /// Forgets a portal's room (deleted, or no longer usable): the conversation stays, and
    /// its next message makes a new room under a new alias. Only if `room` is still its
    /// room: false when someone replaced it meanwhile.
    pub fn retire_portal_room(&self, id: i64, room: &str) -> Result<bool> {
        self.with(|c| {
            let n = c
                .prepare_cached(
                    "UPDATE portals SET room_id = NULL, owner_left = 0, generation = generation + 1
                     WHERE id = ?1 AND room_id = ?2",
                )?
                .execute(params![id, room])?;
            Ok(n == 1)
        })
    }

    /// Cancels what a deleted chat still had waiting to go out; returns how many.
    pub fn cancel_portal_queue(&self, portal_id: i64, why: &str) -> Result<usize> {
        self.tx(|tx| {
            let mut n = tx.execute(
                "UPDATE outbox SET state = 'failed', last_error = ?2, updated_at = ?3 WHERE portal_id = ?1 AND state = 'queued'",
                params![portal_id, why, now_ms()],
            )?;
            n += tx.execute(
                "UPDATE mms_out SET state = 'failed', last_error = ?2 WHERE portal_id = ?1 AND state = 'queued'",
                params![portal_id, why],
            )?;
            Ok(n)
        })
    }

    /// Portals with rooms, optionally only one owner's.
    pub fn portals(&self, owner: Option<&str>) -> Result<Vec<Portal>> {
        self.with(|c| {
            let sql = format!(
                "SELECT {PORTAL_COLS} FROM portals WHERE room_id IS NOT NULL AND (?1 IS NULL OR owner = ?1) ORDER BY id"
            );
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt.query_map([owner], portal)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    pub fn set_management_room(&self, user_id: &str, room_id: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM management_rooms WHERE room_id = ?1", [room_id])?;
            c.execute(
                "INSERT INTO management_rooms (user_id, room_id) VALUES (?1, ?2)
                 ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id",
                [user_id, room_id],
            )?;
            Ok(())
        })
    }

    pub fn forget_management_room(&self, room_id: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM management_rooms WHERE room_id = ?1", [room_id])?;
            Ok(())
        })
    }

    pub fn management_room_owner(&self, room_id: &str) -> Result<Option<String>> {
        self.with(|c| {
            Ok(c.prepare_cached("SELECT user_id FROM management_rooms WHERE room_id = ?1")?
                .query_row([room_id], |r| r.get(0))
                .optional()?)
        })
    }

    pub fn management_room(&self, user_id: &str) -> Result<Option<String>> {
        self.with(|c| {
            Ok(c.prepare_cached("SELECT room_id FROM management_rooms WHERE user_id = ?1")?
                .query_row([user_id], |r| r.get(0))
                .optional()?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Portal {
        Portal {
            id: 0,
            local_number: "+15550001111".into(),
            remote_key: "15551234567".into(),
            remote_display: "+1 555-123-4567".into(),
            remote_destination: Some("+15551234567".into()),
            backend_id: "test1".into(),
            owner: "@a:x".into(),
            room_id: None,
            owner_left: false,
            generation: 0,
        }
    }

    #[test]
    fn claiming_a_pair_twice_gives_the_same_row() {
        let s = Store::open_in_memory().unwrap();
        let a = s.claim_portal(&sample()).unwrap();
        let b = s.claim_portal(&Portal { owner: "@b:x".into(), ..sample() }).unwrap();
        assert_eq!(a, b);
        s.set_portal_room(a.id, "!room").unwrap();
        assert_eq!(s.portal_by_room("!room").unwrap().unwrap().id, a.id);
        assert_eq!(s.portals(Some("@a:x")).unwrap().len(), 1);
        assert_eq!(s.portals(Some("@b:x")).unwrap().len(), 0);
        assert_eq!(s.portals(None).unwrap().len(), 1);
    }
}
