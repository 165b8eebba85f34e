//! `audit:` — the audit log of every message in and out, delivery report and policy
//! refusal: how long it is kept and what of each message it keeps.

use serde::Deserialize;

use super::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Record at all; off, nothing is recorded (the log is kept for what it has).
    pub enabled: bool,
    /// Days records are kept; 0 keeps them for ever.
    pub retention_days: u32,
    /// Keep the text of each message (off: only who, when and how).
    pub store_text: bool,
    /// Keep numbers as keyed hashes: the log still finds a number asked for, but does
    /// not show it.
    pub hash_numbers: bool,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig { enabled: true, retention_days: 365, store_text: false, hash_numbers: false }
    }
}

/// A century: a larger number is a typo, not a policy.
const MAX_RETENTION_DAYS: u32 = 36_500;

impl AuditConfig {
    pub(super) fn validate(&self, p: &mut Problems) {
        if self.retention_days > MAX_RETENTION_DAYS {
            p.add("audit.retention_days", format!("at most {MAX_RETENTION_DAYS} (0 keeps records for ever)"));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests_support::MINIMAL;
    use crate::config::{Config, Purpose};

    #[test]
    fn defaults_keep_a_year_without_text_or_hashing() {
        let c = Config::parse(MINIMAL, Purpose::Run).unwrap();
        assert_eq!(c.audit.retention_days, 365);
        assert!(!c.audit.store_text);
        assert!(!c.audit.hash_numbers);
    }

    #[test]
    fn settings_are_read_and_checked() {
        let text = format!("{MINIMAL}audit:\n  retention_days: 0\n  store_text: true\n  hash_numbers: true\n");
        let c = Config::parse(&text, Purpose::Run).unwrap();
        assert_eq!((c.audit.retention_days, c.audit.store_text, c.audit.hash_numbers), (0, true, true));
        let err = Config::parse(&format!("{MINIMAL}audit:\n  retention_days: 99999\n"), Purpose::Run).unwrap_err();
        assert!(err.to_string().contains("audit.retention_days: at most 36500"), "{err}");
        let err = Config::parse(&format!("{MINIMAL}audit:\n  keep_text: true\n"), Purpose::Run).unwrap_err();
        assert!(err.to_string().contains("keep_text"), "{err}");
    }
}
