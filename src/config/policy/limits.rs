//! How fast a link may send (`policy.rate`) and how many messages one number may get
//! (`policy.caps`): the limits that keep a looping script from getting the account
//! suspended or billed to death.

use serde::Deserialize;

/// Most messages a link hands to its network per second, minute and hour; 0 = no limit.
/// A message over the rate waits; it does not fail. A long message counts once (an SMPP
/// link's own `max_per_second` counts submit_sm PDUs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rate {
    pub per_second: u32,
    pub per_minute: u32,
    pub per_hour: u32,
}

/// Most messages to one number per hour and per day, over all links; 0 = no cap. A
/// message over a cap fails for good and is never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Caps {
    pub per_hour: u32,
    pub per_day: u32,
}

impl Default for Caps {
    fn default() -> Self {
        Caps { per_hour: 30, per_day: 200 }
    }
}

/// One link's own limits, in place of the `policy` ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkPolicy {
    pub rate: Option<Rate>,
    pub caps: Option<Caps>,
}

/// How many messages went to a number lately, and whether an admin lifted its caps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recent {
    pub last_hour: u32,
    pub last_day: u32,
    pub lifted: bool,
}

impl Caps {
    /// Why one more message to `destination` may not go, `key` naming the setting; None
    /// if it may.
    pub fn refusal(&self, key: &str, destination: &str, recent: Recent) -> Option<String> {
        if recent.lifted {
            return None;
        }
        let over = |cap: u32, sent: u32| cap > 0 && sent >= cap;
        let (cap, span, name) = if over(self.per_hour, recent.last_hour) {
            (self.per_hour, "hour", "per_hour")
        } else if over(self.per_day, recent.last_day) {
            (self.per_day, "day", "per_day")
        } else {
            return None;
        };
        Some(format!(
            "{destination} has had {cap} messages in the last {span}, the most {key}.{name} allows (an admin can lift it: `limits lift {destination}`)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_refuse_at_the_limit_name_the_setting_and_yield_to_a_lift() {
        let caps = Caps::default();
        let recent = |h, d| Recent { last_hour: h, last_day: d, lifted: false };
        assert_eq!(caps.refusal("policy.caps", "+15551234567", recent(29, 29)), None);
        let hour = caps.refusal("policy.caps", "+15551234567", recent(30, 30)).unwrap();
        assert!(
            hour.starts_with("+15551234567 has had 30 messages in the last hour, the most policy.caps.per_hour allows")
        );
        let day = caps.refusal("policy.links.sim.caps", "+1555", recent(3, 200)).unwrap();
        assert!(day.contains("200 messages in the last day, the most policy.links.sim.caps.per_day"), "{day}");
        assert_eq!(caps.refusal("policy.caps", "+1555", Recent { lifted: true, ..recent(99, 999) }), None);
        let off = Caps { per_hour: 0, per_day: 0 };
        assert_eq!(off.refusal("policy.caps", "+1555", recent(5000, 5000)), None);
    }
}
