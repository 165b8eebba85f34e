//! `policy:` applied to a message on its way out: the country rules, the per-destination
//! caps, the sender for the country, and the dry run that says all of it without sending.

use rusqlite::Connection;

use super::Bridge;
use super::gateway::ApiSend;
use crate::config::{Rate, Recent};
use crate::message::BinarySms;
use crate::phone::Address;
use crate::store::{Store, StoreError};

/// What would happen to a message: the link, our number and the sender the phone sees,
/// the encoding and parts, and the rule that refuses it, if one does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub link: String,
    /// The link's kind (`smpp`, `modem`, …).
    pub kind: &'static str,
    /// Our number (the conversation's).
    pub from: String,
    /// What the phone shows as the sender (policy's sender for the country, if any).
    pub sender: String,
    /// The destination, E.164 or a short code; empty when not a number.
    pub to: String,
    /// `gsm7`, `ucs2` or `8bit`; empty when not known (refused before).
    pub encoding: &'static str,
    pub parts: usize,
    pub refusal: Option<String>,
    /// The policy rule that refuses it (the refusal without "not sent: "), when a rule
    /// does rather than the message itself or the link.
    pub rule: Option<String>,
    pub link_up: bool,
    /// The link's send rate (messages wait for it).
    pub rate: Rate,
}

impl Plan {
    fn refuse(mut self, why: impl Into<String>) -> Plan {
        self.refusal = Some(why.into());
        self
    }

    fn refuse_by_rule(mut self, rule: String) -> Plan {
        self.refusal = Some(format!("not sent: {rule}"));
        self.rule = Some(rule);
        self
    }
}

impl Bridge {
    /// Why policy keeps a message to `destination` (each recipient of a group) from
    /// going, naming the rule; None if it may go.
    pub(crate) fn policy_refusal(&self, destination: &str) -> Option<String> {
        let refusal = destination.split(',').find_map(|d| self.config.policy.refusal(d.trim()));
        if let Some(why) = &refusal {
            tracing::info!(%why, "message refused by policy");
        }
        refusal
    }

    /// The sender policy picks for `destination` on `link`: only links that choose their
    /// sender use one.
    pub(crate) fn policy_sender(&self, link: &str, destination: &str) -> Option<String> {
        let backend = self.backends.get(link)?;
        if !backend.capabilities().sender {
            return None;
        }
        self.config.policy.countries.sender_for(destination).map(str::to_string)
    }

    /// Why one more message to `destination` through `link` is over a cap; None if it
    /// may go. When a message is queued, those waiting to go count too (read on `waiting`);
    /// when a link takes it, those taken before it.
    pub(crate) fn cap_refusal(
        &self,
        waiting: Option<&Connection>,
        link: &str,
        destination: &str,
    ) -> Result<Option<String>, StoreError> {
        let (caps, key) = self.config.policy.caps(link);
        if caps.per_hour == 0 && caps.per_day == 0 {
            return Ok(None);
        }
        let recent = self.recent_to(waiting, destination, caps.per_hour.max(caps.per_day))?;
        let refusal = caps.refusal(&key, destination, recent);
        if let Some(why) = &refusal {
            tracing::warn!(%why, "message refused by a cap");
        }
        Ok(refusal)
    }

    /// Messages to `destination` in the last hour and day (taken by links, and those due
    /// and not taken yet as read on `waiting`, counted up to `most`), and whether an admin
    /// lifted its caps.
    pub(crate) fn recent_to(
        &self,
        waiting: Option<&Connection>,
        destination: &str,
        most: u32,
    ) -> Result<Recent, StoreError> {
        let (hour, day) = self.sent.recent(destination, crate::store::now_ms());
        let waiting = match waiting {
            Some(c) => Store::waiting_to(c, destination, most)?,
            None => 0,
        };
        let lifted = self.sent.is_lifted(destination);
        Ok(Recent { last_hour: hour + waiting, last_day: day + waiting, lifted })
    }

    /// What would happen to `req` sent through `link`, checked as a real send is (every
    /// rule that can refuse it), committing nothing.
    pub fn plan(&self, link: &str, req: &ApiSend) -> Plan {
        let mut plan = self.checked(link, req, true);
        // What only the dry run tells: the sender the phone sees, the link's state and rate.
        if !plan.to.is_empty()
            && let Some(sender) = self.policy_sender(link, &plan.to)
        {
            plan.sender = sender;
        }
        plan.link_up = self.link_up(link);
        plan.rate = self.config.policy.rate(link);
        plan
    }

    /// [`Bridge::plan`]'s checks, each rule that can refuse a send (what a real send needs
    /// of it, on its hot path); the caps with the messages waiting if `count_waiting`.
    pub(super) fn checked(&self, link: &str, req: &ApiSend, count_waiting: bool) -> Plan {
        let Some(backend) = self.backends.get(link) else {
            return Plan { link: link.into(), ..Plan::default() }.refuse(format!("no link {link:?}"));
        };
        let caps = backend.capabilities();
        let from = req.from.clone().unwrap_or_else(|| backend.number().to_string());
        let plan = Plan {
            link: link.into(),
            kind: backend.kind(),
            sender: from.clone(),
            from: from.clone(),
            ..Plan::default()
        };
        if req.from.is_some() && !self.number_pool(link).contains(&from) {
            return plan.refuse(format!("{from} is not one of the numbers of link {link}"));
        }
        if (req.valid_until.is_some() || req.class.is_some()) && !caps.sms_options {
            let kind = backend.kind();
            return plan.refuse(format!("link {link} ({kind}) cannot set a validity period or a message class"));
        }
        if let Some(c) = req.class.filter(|c| *c > 3) {
            return plan.refuse(format!("message class {c} (expected 0 to 3)"));
        }
        let to = Address::parse_cached(req.to.trim(), self.config.bridge.default_region.as_deref());
        let Some(destination) = to.destination.clone() else {
            return plan.refuse(format!("{:?} is not a number SMS can go to", req.to));
        };
        let mut plan = Plan { to: destination.clone(), ..plan };
        if let Some(why) = self.policy_refusal(&destination) {
            return plan.refuse_by_rule(why);
        }
        (plan.encoding, plan.parts) = match &req.binary {
            Some(b) => {
                if !caps.binary {
                    return plan.refuse(format!("link {link} ({}) cannot send 8-bit data", backend.kind()));
                }
                let octets = b.udh.len() + b.data.len();
                if octets > BinarySms::MAX_OCTETS {
                    let most = BinarySms::MAX_OCTETS;
                    return plan.refuse(format!(
                        "8-bit data and its header take {octets} octets, more than the {most} of one SMS"
                    ));
                }
                ("8bit", 1)
            }
            None if req.text.is_empty() => return plan.refuse("the text is empty"),
            None => match self.encoding_and_parts(&req.text) {
                Ok(e) => e,
                Err(why) => return plan.refuse(why),
            },
        };
        if let Some(why) = self.config.policy.parts_refusal(&destination, plan.parts) {
            return plan.refuse_by_rule(why);
        }
        // A send is counted exactly in the commit that queues it: here only what links took
        // (in memory), so that a send reads nothing. The dry run counts those waiting too.
        let refusal = if count_waiting {
            self.store.read(|c| self.cap_refusal(Some(c), link, &destination))
        } else {
            self.cap_refusal(None, link, &destination)
        };
        match refusal {
            Ok(Some(why)) => plan.refuse_by_rule(why),
            Ok(None) => plan,
            // The cap is checked again, for certain, when the link takes the message.
            Err(e) => {
                tracing::warn!(error = %e, "could not count the messages to a number");
                plan
            }
        }
    }

    /// The encoding (`gsm7`, `ucs2`, `8bit`) and the parts a text takes, as the links
    /// split it.
    pub(crate) fn encoding_and_parts(&self, text: &str) -> Result<(&'static str, usize), String> {
        let (encoding, _, ends) =
            crate::sms::split::split_buffer(text, &self.config.sms.split_options()).map_err(|e| e.what)?;
        Ok((encoding.name(), ends.len()))
    }
}
