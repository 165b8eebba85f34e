//! Management-room commands about `policy:`: `check` (a dry run of a message) and
//! `limits` (the caps' counters; admins lift a cap for one number).

use super::gateway::ApiSend;
use super::policy::Plan;
use super::{Bridge, BridgeError};
use crate::config::{Permission, Rate};
use crate::phone;

impl Bridge {
    /// `check [via <link>] <number> <text>`: what would happen, sending nothing.
    pub(super) fn cmd_check(&self, sender: &str, args: &str) -> String {
        let (via, rest) = match args.strip_prefix("via ") {
            Some(r) => match r.trim_start().split_once(char::is_whitespace) {
                Some((link, rest)) => (Some(link), rest.trim_start()),
                None => (Some(r.trim()), ""),
            },
            None => (None, args),
        };
        let Some((number, text)) = rest.split_once(char::is_whitespace) else {
            return "Usage: check [via <link>] <number> <text>, e.g. check +447700900123 Hello".into();
        };
        let Some(link) = via.map(str::to_string).or_else(|| self.config.backends.first().map(|b| b.id.clone())) else {
            return "No SMS links are configured.".into();
        };
        let req = ApiSend { to: number.into(), text: text.trim().into(), ..ApiSend::default() };
        describe(&self.plan(&link, &req), self.recent_line(sender, &link, number))
    }

    /// The caps' counters for a number, as `check` and `limits` show them: to admins, and
    /// to users for the numbers they chat with (how much others text someone is theirs).
    fn recent_line(&self, sender: &str, link: &str, number: &str) -> Option<String> {
        let to = phone::Address::parse_cached(number, self.config.bridge.default_region.as_deref()).destination?;
        if self.permission(sender) < Permission::Admin {
            let mine = self.store.portals(Some(sender)).ok()?;
            if !mine.iter().any(|p| p.remote_destination.as_deref() == Some(to.as_str())) {
                return None;
            }
        }
        let recent = self.store.read(|c| self.recent_to(Some(c), &to, u32::MAX)).ok()?;
        let (caps, _) = self.config.policy.caps(link);
        let of = |n: u32, cap: u32| if cap == 0 { format!("{n} (no cap)") } else { format!("{n} of {cap}") };
        let lifted = if recent.lifted { " — caps lifted by an admin" } else { "" };
        Some(format!(
            "To {}: {} in the last hour, {} in the last day{lifted}.",
            phone::international(&to),
            of(recent.last_hour, caps.per_hour),
            of(recent.last_day, caps.per_day)
        ))
    }

    /// `limits`, `limits <number>`, and for admins `limits lift|restore <number>`.
    pub(super) fn cmd_limits(&self, sender: &str, args: &str) -> Result<String, BridgeError> {
        let (word, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        let lift = match word.to_ascii_lowercase().as_str() {
            "lift" => Some(true),
            "restore" => Some(false),
            _ => None,
        };
        let Some(lift) = lift else {
            if !args.is_empty() {
                let link = self.config.backends.first().map(|b| b.id.clone()).unwrap_or_default();
                return Ok(self.recent_line(sender, &link, args).unwrap_or_else(|| {
                    format!("No counters to show for {args:?} (not a number, or not one you chat with).")
                }));
            }
            return self.limits_overview(self.permission(sender) >= Permission::Admin);
        };
        if self.permission(sender) < Permission::Admin {
            return Ok("Only bridge admins can lift or restore caps.".into());
        }
        let region = self.config.bridge.default_region.as_deref();
        let number = match phone::normalize(rest.trim(), region) {
            Ok(n) => n,
            Err(e) => return Ok(format!("Usage: limits lift|restore <number> ({e}).")),
        };
        let shown = phone::international(&number);
        let changed = if lift { self.store.lift_caps(&number, sender)? } else { self.store.restore_caps(&number)? };
        self.sent.set_lifted(&number, lift);
        Ok(match (lift, changed) {
            (true, true) => {
                tracing::info!(%number, by = sender, "caps lifted");
                format!("Caps lifted for {shown} until `limits restore {number}`.")
            }
            (true, false) => format!("Caps were already lifted for {shown}."),
            (false, true) => format!("Caps apply to {shown} again."),
            (false, false) => format!("Caps were not lifted for {shown}."),
        })
    }

    /// The rules; for admins also who got the most messages and whose caps are lifted.
    fn limits_overview(&self, admin: bool) -> Result<String, BridgeError> {
        let policy = &self.config.policy;
        let caps = |c: crate::config::Caps| match (c.per_hour, c.per_day) {
            (0, 0) => "no caps".to_string(),
            (h, d) => format!("{} an hour, {} a day", cap_text(h), cap_text(d)),
        };
        let mut out = format!("Messages to one number: {} (policy.caps).", caps(policy.caps));
        for b in &self.config.backends {
            let (c, key) = policy.caps(&b.id);
            if key != "policy.caps" {
                out.push_str(&format!("\n• via {}: {} ({key})", b.id, caps(c)));
            }
        }
        out.push_str("\nSend rates:");
        for b in &self.config.backends {
            out.push_str(&format!("\n• {}: {}", b.id, rate_text(policy.rate(&b.id))));
        }
        if !admin {
            return Ok(out);
        }
        let busiest = self.sent.busiest(crate::store::now_ms(), 10);
        if !busiest.is_empty() {
            out.push_str("\nMost messages in the last day:");
            for (number, n) in busiest {
                out.push_str(&format!("\n• {}: {n}", phone::international(&number)));
            }
        }
        for (number, by) in self.store.cap_lifts()? {
            out.push_str(&format!("\nCaps lifted for {} by {by}.", phone::international(&number)));
        }
        Ok(out)
    }
}

fn cap_text(n: u32) -> String {
    if n == 0 { "no cap".into() } else { format!("at most {n}") }
}

fn rate_text(r: Rate) -> String {
    let parts: Vec<String> = [(r.per_second, "second"), (r.per_minute, "minute"), (r.per_hour, "hour")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, per)| format!("{n} a {per}"))
        .collect();
    if parts.is_empty() { "no limit".into() } else { format!("at most {}", parts.join(", ")) }
}

/// A plan in words, for the `check` command.
fn describe(p: &Plan, recent: Option<String>) -> String {
    let mut out = format!("Check of a message to {}:", if p.to.is_empty() { "?" } else { &p.to });
    if !p.kind.is_empty() {
        let state = if p.link_up { "connected" } else { "not connected: it would wait" };
        out.push_str(&format!("\n• link {} ({}), {state}", p.link, p.kind));
        out.push_str(&format!("\n• from {}", p.from));
        if p.sender != p.from {
            out.push_str(&format!(", shown as {} (policy.countries.senders)", p.sender));
        }
        out.push_str(&format!("\n• send rate: {}", rate_text(p.rate)));
    }
    if p.parts > 0 {
        out.push_str(&format!("\n• {} SMS, {}", p.parts, p.encoding));
    }
    if let Some(r) = recent {
        out.push_str(&format!("\n• {r}"));
    }
    match &p.refusal {
        Some(why) => out.push_str(&format!("\n⛔ It would not be sent: {}", p.rule.as_ref().unwrap_or(why))),
        None => out.push_str("\n✅ It would be sent."),
    }
    out
}
