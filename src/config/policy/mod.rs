//! `policy:` — rules every message to a phone obeys, whoever sends it (Matrix users,
//! applications, keyword services, MQTT): how fast each link sends, how many messages one
//! number gets, and where messages may go and from which sender.

mod countries;
mod limits;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use countries::CountryRules;
pub use limits::{Caps, LinkPolicy, Rate, Recent};

use super::Problems;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// Every link's send rate, each on its own.
    pub rate: Rate,
    pub caps: Caps,
    pub countries: CountryRules,
    /// Per-link overrides of `rate` and `caps`, by link id.
    pub links: BTreeMap<String, LinkPolicy>,
}

impl PolicyConfig {
    /// Why a message to `destination` (E.164, or a short code) may not go; None if it may.
    /// The reason names the rule, so the sender knows what to change.
    pub fn refusal(&self, destination: &str) -> Option<String> {
        self.countries.refusal(destination)
    }

    /// Why a message of `parts` SMS parts may not go to `destination`; None if it may.
    pub fn parts_refusal(&self, destination: &str, parts: usize) -> Option<String> {
        self.countries.parts_refusal(destination, parts)
    }

    /// The send rate of `link`.
    pub fn rate(&self, link: &str) -> Rate {
        self.links.get(link).and_then(|l| l.rate).unwrap_or(self.rate)
    }

    /// The caps for messages sent through `link`, and the setting that names them.
    pub fn caps(&self, link: &str) -> (Caps, String) {
        match self.links.get(link).and_then(|l| l.caps) {
            Some(c) => (c, format!("policy.links.{link}.caps")),
            None => (self.caps, "policy.caps".into()),
        }
    }

    /// Whether any link has a cap on messages to one number.
    pub fn any_caps(&self) -> bool {
        let on = |c: &Caps| c.per_hour > 0 || c.per_day > 0;
        on(&self.caps) || self.links.values().filter_map(|l| l.caps.as_ref()).any(on)
    }

    pub(super) fn validate(&self, links: &[&str], p: &mut Problems) {
        self.countries.validate(p);
        for id in self.links.keys() {
            if !links.contains(&id.as_str()) {
                p.add(format!("policy.links.{id}"), format!("no link {id:?} in backends"));
            }
        }
    }
}
