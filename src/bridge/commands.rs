//! Management-room commands: help, start, list, backends, ussd, version.

use std::sync::Arc;

use super::{Bridge, BridgeError};
use crate::config::Permission;
use crate::phone::{self, Address};
use crate::store::{Queue, Store};

pub(super) const HELP: &str = "Commands:\n\
• start <number> [via <link>] — open a chat with a phone number\n\
• list — your SMS chats\n\
• backends — the SMS links and their state\n\
• ussd <code> [via <link>] — send a USSD code such as *100# through a modem (a reply in an open menu too)\n\
• delete — in an SMS chat: remove that chat (the next SMS starts a new one)\n\
• schedule <when> <text> — in an SMS chat: send it then (2026-12-24 09:00, tomorrow 8:00, 18:30, +2h)\n\
• scheduled, unschedule <n> — in an SMS chat: list the scheduled messages, cancel one\n\
• check [via <link>] <number> <text> — what would happen to a message (link, sender, parts, policy), sending nothing\n\
• limits [<number>] — the per-number caps and send rates, and how many went to a number; admins: limits lift|restore <number>\n\
• dead — messages the bridge gave up on, and why\n\
• retry <id|all> — try a given-up message again\n\
• drop <id|all> — forget a given-up message\n\
• audit [since] [until] [number] [keyword=K] — admins: the audit log as a CSV file (default: the last 7 days)\n\
• version — the bridge version\n\
• help — this text";

impl Bridge {
    /// Runs one command for `sender` and returns the reply. Errors are only those worth
    /// retrying the whole event for (homeserver or database trouble).
    pub(super) async fn run_command(
        &self,
        sender: &str,
        room: &str,
        event_id: &str,
        line: &str,
    ) -> Result<String, BridgeError> {
        let (cmd, args) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let args = args.trim();
        Ok(match cmd.to_ascii_lowercase().as_str() {
            "help" => HELP.to_string(),
            "version" => format!("sms-bridge {}", env!("CARGO_PKG_VERSION")),
            "start" => self.cmd_start(sender, args).await?,
            "list" => self.cmd_list(sender)?,
            "backends" | "links" => self.cmd_backends()?,
            "dead" => self.cmd_dead(sender)?,
            "retry" => self.cmd_revive(sender, args, true)?,
            "drop" => self.cmd_revive(sender, args, false)?,
            "ussd" => self.cmd_ussd(sender, room, event_id, args),
            "schedule" => self.cmd_schedule(sender, room, event_id, args)?,
            "scheduled" => self.cmd_scheduled(room)?,
            "unschedule" => self.cmd_unschedule(room, args)?,
            "check" => self.cmd_check(sender, args),
            "limits" => self.cmd_limits(sender, args)?,
            "audit" => self.cmd_audit(sender, room, event_id, args).await?,
            other => format!("Unknown command {other:?}. Try `help`."),
        })
    }

    async fn cmd_start(&self, sender: &str, args: &str) -> Result<String, BridgeError> {
        let (number, via) = match args.rsplit_once(" via ") {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (args, None),
        };
        if number.is_empty() {
            return Ok("Usage: start <number> [via <link>], e.g. start +1 555 123 4567".into());
        }
        let region = self.config.bridge.default_region.as_deref();
        let e164 = match phone::normalize(number, region) {
            Ok(n) => n,
            Err(e) => {
                let hint = if region.is_none() { " Include the country code, e.g. +1 555 123 4567." } else { "" };
                return Ok(format!("{e}.{hint}"));
            }
        };
        let backend = match via {
            Some(id) => match self.backends.get(id) {
                Some(b) => b.clone(),
                None => {
                    let known: Vec<&str> = self.backends.keys().map(String::as_str).collect();
                    return Ok(format!("No link called {id:?}. Links: {}.", known.join(", ")));
                }
            },
            // The first link in the config, not the alphabetically first.
            None => match self.config.backends.first().and_then(|c| self.backends.get(&c.id)) {
                Some(b) => b.clone(),
                None => return Ok("No SMS links are configured (see `backends` in the config).".into()),
            },
        };
        let addr = Address::from_e164(&e164);
        if let Some(existing) = self.store.portal_by_pair(backend.number(), &addr.key)?
            && existing.owner != sender
            && self.permission(sender) < Permission::Admin
        {
            // Someone else's conversation: its history is theirs.
            return Ok(format!("{} already has a chat on this link, owned by {}.", addr.display, existing.owner));
        }
        let portal = self.ensure_portal(backend.id(), &addr, sender).await?;
        let room = portal.room_id.unwrap_or_default();
        // The owner may have left, an admin may be joining, or the room was made for
        // someone else while a creation was interrupted: (re)invite. Idempotent.
        self.matrix.invite(&self.bot, &room, sender).await?;
        Ok(format!(
            "Chat with {} via {} ({}): https://matrix.to/#/{}?via={}",
            addr.display,
            phone::international(backend.number()),
            backend.id(),
            room,
            self.config.homeserver.domain
        ))
    }

    fn cmd_list(&self, sender: &str) -> Result<String, BridgeError> {
        let all = self.permission(sender) >= Permission::Admin;
        let portals = self.store.portals(if all { None } else { Some(sender) })?;
        if portals.is_empty() {
            return Ok("No SMS chats yet. Start one with `start <number>`.".into());
        }
        let mut out = String::from("SMS chats:");
        for p in portals {
            out.push_str(&format!(
                "\n• {} via {} — https://matrix.to/#/{}{}",
                p.remote_display,
                p.backend_id,
                p.room_id.unwrap_or_default(),
                if all && p.owner != sender { format!(" (owner {})", p.owner) } else { String::new() }
            ));
        }
        Ok(out)
    }

    fn cmd_backends(&self) -> Result<String, BridgeError> {
        if self.backends.is_empty() {
            return Ok("No SMS links are configured.".into());
        }
        let [(queued, _), ..] = self.queue_counts()?;
        let mut out = String::from("SMS links:");
        for b in self.backends.values() {
            out.push_str(&format!("\n• {} ({}) {}: {}", b.id(), b.kind(), phone::international(b.number()), b.state()));
            if let Some(d) = b.details() {
                out.push_str(&format!(" — {d}"));
            }
        }
        out.push_str(&format!("\nOutgoing queue: {queued} waiting."));
        let mut dead = Vec::new();
        for q in Queue::ALL {
            let n = self.store.dead(q)?;
            if n > 0 {
                dead.push(format!("{n} {}", q.name()));
            }
        }
        if dead.is_empty() {
            out.push_str("\nGiven up: nothing.");
        } else {
            out.push_str(&format!("\nGiven up: {} (see `dead`).", dead.join(", ")));
        }
        let mms = &self.config.mms;
        let (mms_waiting, mms_dead) = self.store.mms_counts()?;
        match (&mms.mmsc_url, mms.enabled) {
            (Some(url), true) => out.push_str(&format!(
                "\nMMS via {url}: {mms_waiting} incoming waiting, {mms_dead} given up."
            )),
            (_, false) => out.push_str("\nMMS: turned off (mms.enabled)."),
            (None, true) => out.push_str(&format!(
                "\nMMS: no MMSC configured (mms.mmsc_url), so none can be sent; {mms_waiting} incoming waiting, {mms_dead} given up."
            )),
        }
        Ok(out)
    }

    /// `ussd <code> [via <link>]`: on the sender's own links (any link for admins). The
    /// network's answer can take half a minute: it comes as its own notice, so other
    /// events are not held up. The command event is marked before the code goes out, so
    /// a replayed event (after a crash) never sends a code twice, which could buy a
    /// bundle twice.
    fn cmd_ussd(&self, sender: &str, room: &str, event_id: &str, args: &str) -> String {
        let (code, via) = match args.rsplit_once(" via ") {
            Some((c, v)) => (c.trim(), Some(v.trim())),
            None => (args, None),
        };
        if code.is_empty() {
            return "Usage: ussd <code> [via <link>], e.g. ussd *100#".into();
        }
        let admin = self.permission(sender) >= Permission::Admin;
        let mine: Vec<_> = self
            .config
            .backends
            .iter()
            .filter(|c| admin || c.owner(&self.config.bridge) == sender)
            .filter_map(|c| self.backends.get(&c.id))
            .filter(|b| via.map_or(b.capabilities().ussd, |v| b.id() == v))
            .collect();
        let backend = match (mine.as_slice(), via) {
            ([b], _) => b,
            ([], Some(v)) => return format!("No link of yours called {v:?}."),
            ([], None) => return "None of your links can send USSD codes (modems can).".into(),
            (_, _) => {
                let ids: Vec<&str> = mine.iter().map(|b| b.id()).collect();
                return format!("Say which link: ussd {code} via <link> ({}).", ids.join(", "));
            }
        };
        let reply = format!("Sending {code} via {}…", backend.id());
        let mark = format!("ussd:{event_id}");
        match self.store.once(backend.id(), &mark, |_| Ok(())) {
            Ok(Some(())) => {}
            Ok(None) => return format!("{code} was already sent for this message."),
            Err(e) => return format!("USSD {code}: the database failed ({e}); not sent."),
        }
        let (backend, code, room) = (Arc::clone(backend), code.to_string(), room.to_string());
        let (store, bot, wake) = (self.store.clone(), self.bot.clone(), Arc::clone(&self.wake.matrix_out));
        tokio::spawn(async move {
            let body = match backend.ussd(&code).await {
                Ok(a) if a.text.is_empty() => format!("USSD {code} via {}: {}.", backend.id(), a.status),
                Ok(a) if a.more => format!("{}\n\n(The network expects a reply: `ussd <your choice>`.)", a.text),
                Ok(a) => a.text,
                Err(e) => format!("USSD {code} via {}: {e}.", backend.id()),
            };
            let queued = store.tx(|tx| {
                Store::enqueue_matrix(tx, &room, &bot, "message", "m.room.message", &super::status::notice(&body))
            });
            match queued {
                Ok(_) => wake.notify_one(),
                Err(e) => tracing::error!(error = %e, "could not queue the USSD answer"),
            }
        });
        reply
    }
}
