use std::collections::BTreeMap;

use serde::Deserialize;

use super::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BridgeConfig {
    /// `"*"`, a server name or a user ID → `none | user | admin`.
    pub permissions: BTreeMap<String, Permission>,
    /// Commands outside the management room start with this.
    pub command_prefix: String,
    /// Region for numbers typed without a country code (ISO 3166, e.g. `US`).
    pub default_region: Option<String>,
    /// Failures of an unknown kind (neither known-transient nor known-permanent) before a
    /// job is given up as dead. Transient failures never count.
    pub max_attempts: u32,
    /// Longest wait between two attempts, in seconds.
    pub max_backoff: u64,
    /// Seconds an outgoing message keeps being retried before it fails for good.
    pub outbound_expiry: u64,
    /// The time zone of `schedule` times (IANA name or `+02:00`); default: the system's.
    pub timezone: Option<String>,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            permissions: BTreeMap::new(),
            command_prefix: "!sms".into(),
            default_region: None,
            max_attempts: 8,
            max_backoff: 300,
            outbound_expiry: 24 * 3600,
            timezone: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    None,
    User,
    Admin,
}

impl BridgeConfig {
    /// The time zone people's times are read in.
    pub fn time_zone(&self) -> Result<jiff::tz::TimeZone, String> {
        super::hilink::time_zone(self.timezone.as_deref())
    }

    pub(super) fn validate(&self, p: &mut Problems) {
        if let Err(e) = self.time_zone() {
            p.add("bridge.timezone", e);
        }
        for key in self.permissions.keys() {
            let ok = key == "*"
                || (key.starts_with('@') && key.contains(':'))
                || (!key.is_empty() && !key.contains(['@', '/', ' ', '*']));
            if !ok {
                p.add(format!("bridge.permissions.{key}"), "expected \"*\", a server name or a user ID");
            }
        }
        if !self.command_prefix.starts_with('!') || self.command_prefix.contains(' ') {
            p.add("bridge.command_prefix", format!("must start with ! and have no spaces: {:?}", self.command_prefix));
        }
        if let Some(r) = &self.default_region
            && let Err(e) = crate::phone::parse_region(r)
        {
            p.add("bridge.default_region", e.to_string());
        }
        if self.max_attempts == 0 {
            p.add("bridge.max_attempts", "must be at least 1");
        }
        if self.max_backoff == 0 {
            p.add("bridge.max_backoff", "must be at least 1 second");
        }
        if self.outbound_expiry < 60 {
            p.add("bridge.outbound_expiry", "must be at least 60 seconds");
        }
    }

    pub fn max_backoff_ms(&self) -> i64 {
        (self.max_backoff as i64).saturating_mul(1000)
    }

    /// The expiry as people read it: "24 h", "90 min".
    pub fn outbound_expiry_text(&self) -> String {
        let s = self.outbound_expiry;
        if s.is_multiple_of(3600) {
            format!("{} h", s / 3600)
        } else if s.is_multiple_of(60) {
            format!("{} min", s / 60)
        } else {
            format!("{s} s")
        }
    }

    /// A user's level: the user ID wins over the server name, which wins over `"*"`.
    pub fn permission(&self, user_id: &str) -> Permission {
        let server = user_id.split_once(':').map(|(_, s)| s).unwrap_or("");
        self.permissions
            .get(user_id)
            .or_else(|| self.permissions.get(server))
            .or_else(|| self.permissions.get("*"))
            .copied()
            .unwrap_or(Permission::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_permission_wins() {
        let mut b = BridgeConfig::default();
        b.permissions.insert("*".into(), Permission::None);
        b.permissions.insert("example.org".into(), Permission::User);
        b.permissions.insert("@boss:example.org".into(), Permission::Admin);
        b.permissions.insert("@troll:example.org".into(), Permission::None);
        assert_eq!(b.permission("@boss:example.org"), Permission::Admin);
        assert_eq!(b.permission("@alice:example.org"), Permission::User);
        assert_eq!(b.permission("@troll:example.org"), Permission::None);
        assert_eq!(b.permission("@eve:evil.com"), Permission::None);
        assert_eq!(BridgeConfig::default().permission("@a:b"), Permission::None);
    }
}
