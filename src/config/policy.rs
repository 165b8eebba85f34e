//! `policy:` — rules every message to a phone obeys, whoever sends it (Matrix users,
//! applications, keyword services, MQTT). Off unless configured.

use serde::Deserialize;

use super::Problems;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    pub countries: CountryRules,
}

/// Where messages may go, by the destination's country (ISO 3166 region codes).
#[derive(Debug, Clone, Default, Deserialize)]
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
    pub max_parts: std::collections::BTreeMap<String, usize>,
}

impl PolicyConfig {
    /// Why a message to `destination` (E.164, or a short code) may not go; None if it may.
    /// The reason names the rule, so the sender knows what to change.
    pub fn refusal(&self, destination: &str) -> Option<String> {
        let c = &self.countries;
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
        let c = &self.countries;
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

    pub(super) fn validate(&self, p: &mut Problems) {
        let c = &self.countries;
        let lists = [
            ("policy.countries.allow", c.allow.iter().collect::<Vec<_>>()),
            ("policy.countries.block", c.block.iter().collect()),
            ("policy.countries.no_split", c.no_split.iter().collect()),
            ("policy.countries.max_parts", c.max_parts.keys().collect()),
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], block: &[&str]) -> PolicyConfig {
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        PolicyConfig { countries: CountryRules { allow: list(allow), block: list(block), ..CountryRules::default() } }
    }

    #[test]
    fn long_messages_are_refused_where_they_would_arrive_in_pieces() {
        let mut p = policy(&[], &[]);
        p.countries.no_split = vec!["GB".into()];
        p.countries.max_parts = [("de".to_string(), 2)].into();
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
