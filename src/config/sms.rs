use serde::Deserialize;

use super::Problems;
use crate::sms::national::Language;
use crate::sms::split::SplitOptions;

/// How texts are encoded and split, and how long to wait for missing parts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// National language tables (e.g. `turkish`, `spanish`, `portuguese`, `hindi`) a text
    /// may use instead of UCS-2. Only enable what your recipients' phones support.
    pub national_languages: Vec<String>,
    /// Longest message, in parts; longer texts are refused with a clear error.
    pub max_parts: usize,
    /// Seconds to wait for the missing parts of a long SMS before showing it with gaps marked.
    pub multipart_timeout: u64,
}

impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig { national_languages: Vec::new(), max_parts: 10, multipart_timeout: 600 }
    }
}

impl SmsConfig {
    pub(super) fn validate(&self, p: &mut Problems) {
        for (i, name) in self.national_languages.iter().enumerate() {
            if Language::from_name(name).is_none() {
                let known: Vec<&str> = Language::ALL.iter().map(|l| l.name()).collect();
                p.add(
                    format!("sms.national_languages[{i}]"),
                    format!("unknown language {name:?} (known: {})", known.join(", ")),
                );
            }
        }
        if !(1..=255).contains(&self.max_parts) {
            p.add("sms.max_parts", "must be between 1 and 255");
        }
        if self.multipart_timeout == 0 {
            p.add("sms.multipart_timeout", "must be at least 1 second");
        }
    }

    pub fn split_options(&self) -> SplitOptions {
        SplitOptions {
            languages: self.national_languages.iter().filter_map(|n| Language::from_name(n)).collect(),
            max_parts: self.max_parts,
            force: None,
        }
    }
}
