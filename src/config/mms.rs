use serde::Deserialize;

use super::Problems;

/// Where MMS are fetched from and sent to, and the limits that keep hostile notifications
/// harmless.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MmsConfig {
    /// Fetch MMS at all. Off: picture messages are announced in the chat, not fetched.
    pub enabled: bool,
    /// The operator's MMSC (e.g. `http://mms.example-operator.net/mms`): where m-send-req
    /// and m-notifyresp-ind are POSTed, the host notifications may point at, and the base
    /// for content locations a router passes on incomplete.
    pub mmsc_url: Option<String>,
    /// Where incoming MMS are downloaded from, when a router shows only part of the address
    /// (a file name or a path): the operator's download host often differs from the MMSC
    /// used for sending. Default: `mmsc_url`.
    pub retrieve_url_base: Option<String>,
    /// An HTTP proxy for MMSC traffic (the operator's WAP proxy on an MMS APN).
    pub proxy: Option<String>,
    /// Bind MMSC traffic to this network interface (the modem's MMS APN, e.g. `wwan1`).
    /// Linux needs CAP_NET_RAW for it.
    pub interface: Option<String>,
    /// Other hosts a notification's content location may name.
    pub allowed_hosts: Vec<String>,
    /// Let content locations resolve to loopback, private or link-local addresses (an MMSC
    /// inside your own network). Off by default: a notification is untrusted input.
    pub allow_private_addresses: bool,
    /// Largest MMS fetched, in bytes; checked against the notification and while reading.
    pub max_size: u64,
    /// Seconds one HTTP request to the MMSC may take.
    pub timeout: u64,
    /// Seconds to keep retrying a fetch when the notification gives no expiry.
    pub default_expiry: u64,
    /// Largest MMS we send, in bytes (carriers commonly take 300 KB). Bigger images are
    /// scaled down to fit; other files over it are refused.
    pub max_send_size: u64,
    /// Most parts an incoming MMS may have (nested ones counted); more is refused with a
    /// notice. It also bounds the uploads to Matrix per MMS, one per shown part.
    pub max_parts: usize,
    /// Most To/Cc recipients for a group portal; a bigger group's MMS goes to the sender's
    /// own portal with a notice, so one message cannot make us register that many users.
    pub max_recipients: usize,
}

impl Default for MmsConfig {
    fn default() -> Self {
        MmsConfig {
            enabled: true,
            mmsc_url: None,
            retrieve_url_base: None,
            proxy: None,
            interface: None,
            allowed_hosts: Vec::new(),
            allow_private_addresses: false,
            max_size: 5_000_000,
            timeout: 60,
            default_expiry: 3 * 24 * 3600,
            max_send_size: 300_000,
            max_parts: 50,
            max_recipients: 20,
        }
    }
}

impl MmsConfig {
    pub(super) fn validate(&self, p: &mut Problems) {
        for (key, url) in [
            ("mms.mmsc_url", &self.mmsc_url),
            ("mms.retrieve_url_base", &self.retrieve_url_base),
            ("mms.proxy", &self.proxy),
        ] {
            if let Some(u) = url {
                match reqwest::Url::parse(u) {
                    Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some() => {}
                    _ => p.add(key, format!("not an http(s) URL: {u:?}")),
                }
            }
        }
        for (i, h) in self.allowed_hosts.iter().enumerate() {
            if h.is_empty() || h.contains(['/', ':', ' ']) && !h.starts_with('[') {
                p.add(format!("mms.allowed_hosts[{i}]"), format!("a host name or address, not {h:?}"));
            }
        }
        if self.interface.as_deref().is_some_and(|i| i.is_empty() || i.len() > 15 || i.contains(['/', ' '])) {
            p.add("mms.interface", "a network interface name such as wwan1");
        }
        if self.max_size < 1000 {
            p.add("mms.max_size", "must be at least 1000 bytes");
        }
        if self.max_send_size < 10_000 {
            p.add("mms.max_send_size", "must be at least 10000 bytes");
        }
        if self.timeout == 0 {
            p.add("mms.timeout", "must be at least 1 second");
        }
        if !(1..=1000).contains(&self.max_parts) {
            p.add("mms.max_parts", "must be between 1 and 1000");
        }
        if !(1..=1000).contains(&self.max_recipients) {
            p.add("mms.max_recipients", "must be between 1 and 1000");
        }
    }

    /// Whether messages can go out as MMS: there is an MMSC to send them to.
    pub fn can_send(&self) -> bool {
        self.enabled && self.mmsc_url.is_some()
    }

    /// The base that completes a partial content location.
    pub fn retrieve_base(&self) -> Option<&str> {
        self.retrieve_url_base.as_deref().or(self.mmsc_url.as_deref())
    }

    fn urls(&self) -> impl Iterator<Item = reqwest::Url> + '_ {
        [&self.mmsc_url, &self.retrieve_url_base].into_iter().flatten().filter_map(|u| reqwest::Url::parse(u).ok())
    }

    /// Hosts a content location may name: the MMSC's, the download host's and the allow-list.
    pub fn hosts(&self) -> Vec<String> {
        let configured: Vec<String> = self.urls().filter_map(|u| u.host_str().map(str::to_string)).collect();
        configured
            .into_iter()
            .chain(self.allowed_hosts.iter().cloned())
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase())
            .collect()
    }

    /// Ports the MMSC and download URLs name besides 80 and 443.
    fn ports(&self) -> Vec<u16> {
        self.urls().filter_map(|u| u.port()).collect()
    }

    pub fn fetch_policy(&self) -> crate::mmsc::FetchPolicy {
        crate::mmsc::FetchPolicy {
            allowed_hosts: self.hosts(),
            allowed_ports: self.ports(),
            allow_private: self.allow_private_addresses,
            max_bytes: self.max_size,
            timeout: std::time::Duration::from_secs(self.timeout),
            interface: self.interface.clone(),
        }
    }
}
