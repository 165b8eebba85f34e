//! The `dead`, `retry` and `drop` commands: what the bridge gave up on, visible and
//! recoverable by the people it concerns.

use super::{Bridge, BridgeError};
use crate::config::Permission;
use crate::store::{DeadItem, InboxKind, Queue};

/// Most items looked at per queue (`retry all` and `drop all` act on as many).
const PER_QUEUE: usize = 1000;
/// Most items `dead` lists per queue.
const LISTED: usize = 30;

impl Bridge {
    pub(super) fn cmd_dead(&self, sender: &str) -> Result<String, BridgeError> {
        let mut out = String::new();
        for q in Queue::ALL {
            let items = self.visible_dead(sender, q, None)?;
            if items.is_empty() {
                continue;
            }
            out.push_str(&format!("\n{} ({}):", queue_title(q), items.len()));
            for item in items.iter().take(LISTED) {
                out.push_str(&format!("\n• {}-{} — {} — {}", q.name(), item.id, describe(item), item.error));
            }
            if items.len() > LISTED {
                out.push_str(&format!("\n• … and {} more", items.len() - LISTED));
            }
        }
        if out.is_empty() {
            return Ok("Nothing has been given up.".into());
        }
        Ok(format!(
            "Given up:{out}\nSay `retry <id>` or `retry all` to try again, `drop <id>` or `drop all` to forget."
        ))
    }

    /// `retry` (revive) or `drop` one dead item or all the sender may see.
    pub(super) fn cmd_revive(&self, sender: &str, args: &str, revive: bool) -> Result<String, BridgeError> {
        let verb = if revive { "retry" } else { "drop" };
        let targets: Vec<(Queue, i64)> = if args.eq_ignore_ascii_case("all") {
            let mut all = Vec::new();
            for q in Queue::ALL {
                all.extend(self.visible_dead(sender, q, None)?.into_iter().map(|i| (q, i.id)));
            }
            all
        } else {
            let parsed = args.rsplit_once('-').and_then(|(q, id)| Some((Queue::from_name(q)?, id.parse().ok()?)));
            let Some((q, id)) = parsed else {
                return Ok(format!("Usage: {verb} <id|all>, with an id as `dead` shows it (e.g. sms-in-12)."));
            };
            if self.visible_dead(sender, q, Some(id))?.is_empty() {
                return Ok(format!("No given-up item {args} of yours. Say `dead` for the list."));
            }
            vec![(q, id)]
        };
        let expiry_ms = self.config.bridge.outbound_expiry as i64 * 1000;
        let mut done = 0;
        for (q, id) in &targets {
            let changed =
                if revive { self.store.revive(*q, *id, expiry_ms)? } else { self.store.drop_dead(*q, *id)? };
            done += changed as usize;
        }
        if revive && done > 0 {
            self.wake_all();
        }
        Ok(match (revive, done) {
            (_, 0) => "Nothing to do: nothing of yours has been given up.".into(),
            (true, n) => format!("Trying {n} again."),
            (false, n) => format!("Dropped {n}."),
        })
    }

    /// The dead items of a queue that `sender` may see: an admin all, a user those of the
    /// links they own and of their rooms.
    fn visible_dead(&self, sender: &str, q: Queue, id: Option<i64>) -> Result<Vec<DeadItem>, BridgeError> {
        let items = self.store.dead_items(q, PER_QUEUE, id)?;
        if self.permission(sender) >= Permission::Admin {
            return Ok(items);
        }
        let mut mine = Vec::new();
        for item in items {
            let by_link = item.backend_id.as_deref().is_some_and(|b| self.link_owner(b).as_deref() == Some(sender));
            let by_room = match item.room_id.as_deref() {
                Some(r) => {
                    self.store.portal_by_room(r)?.is_some_and(|p| p.owner == sender)
                        || self.store.management_room_owner(r)?.as_deref() == Some(sender)
                        || r.strip_prefix(super::management::OWNER_PREFIX) == Some(sender)
                }
                None => false,
            };
            if by_link || by_room {
                mine.push(item);
            }
        }
        Ok(mine)
    }

    /// Wakes every worker (after `retry`).
    pub(super) fn wake_all(&self) {
        self.wake.inbox.notify_one();
        self.wake.matrix_in.notify_one();
        self.wake.matrix_out.notify_one();
        self.wake.mms.notify_one();
        self.wake.mms_out.notify_one();
        for n in self.wake.outbox.values() {
            n.notify_one();
        }
    }
}

fn queue_title(q: Queue) -> &'static str {
    match q {
        Queue::Inbox => "Incoming SMS",
        Queue::Outbox => "Outgoing SMS",
        Queue::MmsIn => "Incoming MMS",
        Queue::MmsOut => "Outgoing MMS",
        Queue::MatrixIn => "Matrix events",
        Queue::MatrixOut => "Notices and statuses",
    }
}

/// One line about a dead item, from its stored data.
fn describe(item: &DeadItem) -> String {
    let text = match item.queue {
        Queue::Inbox => match serde_json::from_str::<InboxKind>(&item.what) {
            Ok(InboxKind::Sms(sms)) => format!("SMS from {}: {}", sms.from, sms.text),
            Ok(InboxKind::WapPush(p)) => format!("MMS notification from {}", p.from),
            Ok(InboxKind::Report(r)) => format!("delivery report for {}", r.message_id),
            Ok(InboxKind::AppSent(a)) => format!("copy of a message {} sent to {}: {}", a.by, a.to, a.text),
            Err(_) => item.what.clone(),
        },
        Queue::MatrixIn | Queue::MatrixOut => match serde_json::from_str::<serde_json::Value>(&item.what) {
            Ok(v) => {
                let content = if item.queue == Queue::MatrixIn { &v["content"] } else { &v };
                content["body"].as_str().map(str::to_string).unwrap_or_else(|| "an event".into())
            }
            Err(_) => item.what.clone(),
        },
        _ => item.what.clone(),
    };
    shorten(&text, 160)
}

fn shorten(s: &str, max: usize) -> String {
    let one_line = s.replace('\n', " ");
    match one_line.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}
