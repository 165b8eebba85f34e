//! `policy.countries`: where messages may go, by the destination's country, in how many
//! parts, and from which sender.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::Problems;

/// Where messages may go, by the destination's country (ISO 3166 region codes).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CountryRules {
    /// Only these; empty: any (but `block`).
    pub allow: Vec<String>,
    /// Never these.
    pub block: Vec<String>,
    /// Where concatenated messages are not delivered: a message that needs more than one
    /// part is refused rather than half-delivered.
    pub no_split: Vec<String>,
    /// The most parts a message may take, by country (`DE: 3`).
    pub max_parts: BTreeMap<String, usize>,
    /// The sender a message to a country goes from (`GB: ACME`, `"*"` for any other): a
    /// number, or an alphanumeric name, used only where alphanumeric senders are allowed.
    /// Only links that choose their sender (SMPP) use it.
    pub senders: BTreeMap<String, String>,
    /// Where alphanumeric senders are not delivered (the US and Canada want a number).
    pub no_alphanumeric: Vec<String>,
}

impl Default for CountryRules {
    fn default() -> Self {
        CountryRules {
            allow: Vec::new(),
            block: Vec::new(),
            no_split: Vec::new(),
            max_parts: BTreeMap::new(),
            senders: BTreeMap::new(),
            no_alphanumeric: vec!["US".into(), "CA".into()],
        }
    }
}

/// Whether a sender is a name rather than a number.
pub fn is_alphanumeric_sender(sender: &str) -> bool {
    !sender.trim_start_matches('+').chars().all(|c| c.is_ascii_digit())
}

impl CountryRules {
    /// Why a message to `destination` (E.164, or a short code) may not go; None if it may.
    /// The reason names the rule, so the sender knows what to change.
    pub fn refusal(&self, destination: &str) -> Option<String> {
        let c = self;
        if c.allow.is_empty() && c.block.is_empty() {
            return None;
        }
        let Some(region) = crate::phone::region_of(destination) else {
            // A short code has no country: only an allowlist keeps it out.
            return (!c.allow.is_empty()).then(|| {
                format!("{destination} has no country, and policy.countries.allow lists the only ones allowed")
            });
        };
        let listed = |list: &[String]| list.iter().any(|r| r.eq_ignore_ascii_case(&region));
        if listed(&c.block) {
            return Some(format!("{destination} is in {region}, which policy.countries.block lists"));
        }
        if !c.allow.is_empty() && !listed(&c.allow) {
            return Some(format!("{destination} is in {region}, which is not in policy.countries.allow"));
        }
        None
    }

    /// Why a message of `parts` SMS parts may not go to `destination`; None if it may.
    pub fn parts_refusal(&self, destination: &str, parts: usize) -> Option<String> {
        let c = self;
        if parts <= 1 || (c.no_split.is_empty() && c.max_parts.is_empty()) {
            return None;
        }
        let region = crate::phone::region_of(destination)?;
        if c.no_split.iter().any(|r| r.eq_ignore_ascii_case(&region)) {
            return Some(format!(
                "it needs {parts} SMS, and {region} is in policy.countries.no_split (long messages arrive there in pieces, if at all)"
            ));
        }
        let max = c.max_parts.iter().find(|(r, _)| r.eq_ignore_ascii_case(&region)).map(|(_, m)| *m)?;
        (parts > max).then(|| {
            format!("it needs {parts} SMS, more than the {max} policy.countries.max_parts allows for {region}")
        })
    }

    /// The sender policy picks for `destination`, if any: its country's, else `"*"`'s; a
    /// name is skipped where names are not delivered.
    pub fn sender_for(&self, destination: &str) -> Option<&str> {
        if self.senders.is_empty() {
            return None;
        }
        let region = crate::phone::region_of(destination);
        let named = |key: &str| self.senders.iter().find(|(r, _)| r.eq_ignore_ascii_case(key)).map(|(_, s)| s.as_str());
        let sender = region.as_deref().and_then(named).or_else(|| named("*"))?;
        let no_names = region.is_none_or(|r| self.no_alphanumeric.iter().any(|n| n.eq_ignore_ascii_case(&r)));
        if is_alphanumeric_sender(sender) && no_names {
            return None;
        }
        Some(sender)
    }

    pub(super) fn validate(&self, p: &mut Problems) {
        let c = self;
        let lists = [
            ("policy.countries.allow", c.allow.iter().collect::<Vec<_>>()),
            ("policy.countries.block", c.block.iter().collect()),
            ("policy.countries.no_split", c.no_split.iter().collect()),
            ("policy.countries.max_parts", c.max_parts.keys().collect()),
            ("policy.countries.senders", c.senders.keys().filter(|k| *k != "*").collect()),
            ("policy.countries.no_alphanumeric", c.no_alphanumeric.iter().collect()),
        ];
        for (key, list) in lists {
            for r in list {
                if let Err(e) = crate::phone::parse_region(r) {
                    p.add(key, e.to_string());
                }
            }
        }
        if c.max_parts.values().any(|m| *m == 0) {
            p.add("policy.countries.max_parts", "at least 1 (use block to send nothing there)");
        }
        for (region, sender) in &c.senders {
            let key = format!("policy.countries.senders.{region}");
            if is_alphanumeric_sender(sender) {
                // GSM carries at most 11 characters in an alphanumeric sender.
                if sender.is_empty()
                    || sender.chars().count() > 11
                    || !sender.chars().all(|c| c.is_ascii_alphanumeric() || " .-_&".contains(c))
                {
                    p.add(key, format!("{sender:?}: a name is 1 to 11 letters, digits, spaces or . - _ &"));
                }
            } else if !sender.starts_with('+') || sender.len() < 4 {
                p.add(key, format!("{sender:?}: a number in international form, e.g. +15551234567"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], block: &[&str]) -> CountryRules {
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        CountryRules { allow: list(allow), block: list(block), ..CountryRules::default() }
    }

    #[test]
    fn senders_by_country_and_names_only_where_delivered() {
        let mut c = CountryRules::default();
        assert_eq!(c.sender_for("+447700900123"), None);
        c.senders = [("GB", "ACME"), ("de", "+4915100000001"), ("*", "Shop")]
            .map(|(r, s)| (r.to_string(), s.to_string()))
            .into();
        assert_eq!(c.sender_for("+447700900123"), Some("ACME"));
        assert_eq!(c.sender_for("+4915112345678"), Some("+4915100000001"));
        assert_eq!(c.sender_for("+33612345678"), Some("Shop"), "the * sender for any other country");
        assert_eq!(c.sender_for("+15551234567"), None, "no name where the US wants a number");
        assert_eq!(c.sender_for("12345"), None, "a short code has no country to allow a name");
        c.senders.insert("US".into(), "+15550001111".into());
        assert_eq!(c.sender_for("+15551234567"), Some("+15550001111"));
        let mut p = Problems::default();
        c.senders.insert("FR".into(), "A very long shop name".into());
        c.senders.insert("XX".into(), "+1".into());
        c.validate(&mut p);
        let keys: Vec<&str> = p.0.iter().map(|p| p.key.as_str()).collect();
        assert!(keys.contains(&"policy.countries.senders.FR"), "{keys:?}");
        assert!(keys.contains(&"policy.countries.senders"), "XX is no region: {keys:?}");
        assert!(keys.contains(&"policy.countries.senders.XX"), "{keys:?}");
    }

    #[test]
    fn long_messages_are_refused_where_they_would_arrive_in_pieces() {
        let mut p = policy(&[], &[]);
        p.no_split = vec!["GB".into()];
        p.max_parts = [("de".to_string(), 2)].into();
        assert_eq!(p.parts_refusal("+447700900123", 1), None);
        assert!(p.parts_refusal("+447700900123", 2).unwrap().contains("GB is in policy.countries.no_split"));
        assert_eq!(p.parts_refusal("+4915112345678", 2), None);
        assert_eq!(
            p.parts_refusal("+4915112345678", 3).as_deref(),
            Some("it needs 3 SMS, more than the 2 policy.countries.max_parts allows for DE")
        );
        assert_eq!(p.parts_refusal("+15551234567", 9), None);
    }

    #[test]
    fn countries_are_allowed_or_blocked_by_the_destinations_region() {
        assert_eq!(policy(&[], &[]).refusal("+447700900123"), None);
        let p = policy(&["us", "CA"], &[]);
        assert_eq!(p.refusal("+15551234567"), None);
        assert_eq!(
            p.refusal("+447700900123").as_deref(),
            Some("+447700900123 is in GB, which is not in policy.countries.allow")
        );
        assert!(p.refusal("12345").unwrap().contains("has no country"));
        let p = policy(&[], &["CU"]);
        assert_eq!(
            p.refusal("+5352123456").as_deref(),
            Some("+5352123456 is in CU, which policy.countries.block lists")
        );
        assert_eq!(p.refusal("+15551234567"), None);
        assert_eq!(p.refusal("12345"), None, "a short code is only refused by an allowlist");
    }
}
