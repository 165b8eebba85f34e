use serde::Deserialize;

use super::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeserverConfig {
    /// Where the bridge reaches the client-server API, e.g. `http://localhost:8008`.
    pub address: String,
    /// The server name in user IDs, e.g. `example.org`.
    pub domain: String,
}

impl HomeserverConfig {
    pub(super) fn validate(&self, p: &mut Problems) {
        check_url("homeserver.address", &self.address, p);
        if self.domain.trim().is_empty() || self.domain.contains(['/', ' ', '@']) {
            p.add("homeserver.domain", format!("not a server name: {:?}", self.domain));
        }
    }
}

pub(super) fn check_url(key: &str, value: &str, p: &mut Problems) {
    let ok = value
        .parse::<http::Uri>()
        .ok()
        .filter(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
    if ok.is_none() {
        p.add(key, format!("not a URL: {value:?}"));
    }
}
