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

    pub(super) fn validate(&self, p: &mut Problems) {
        for (key, list) in
            [("policy.countries.allow", &self.countries.allow), ("policy.countries.block", &self.countries.block)]
        {
            for r in list {
                if let Err(e) = crate::phone::parse_region(r) {
                    p.add(key, e.to_string());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], block: &[&str]) -> PolicyConfig {
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        PolicyConfig { countries: CountryRules { allow: list(allow), block: list(block) } }
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
