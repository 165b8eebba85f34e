//! `mqtt:` settings: the broker applications (Home Assistant and friends) talk to us through.

use std::path::PathBuf;

use serde::Deserialize;

use super::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://host[:1883]` or `mqtts://host[:8883]`.
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The broker keeps our session (subscription, un-acknowledged send requests) under
    /// this id: two bridges must not share it, or they disconnect each other.
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// Topics are `<topic_prefix>/send`, `<topic_prefix>/inbound`, ...
    #[serde(default = "default_topic_prefix")]
    pub topic_prefix: String,
    /// PEM CA bundle for `mqtts://`; default: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Seconds between pings when idle; a dead broker is noticed within about 1.5 times this.
    #[serde(default = "default_keep_alive")]
    pub keep_alive: u64,
}

fn default_client_id() -> String {
    "sms-bridge".into()
}

fn default_topic_prefix() -> String {
    "sms-bridge".into()
}

fn default_keep_alive() -> u64 {
    30
}

/// Where the broker is, from `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttBroker {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl MqttConfig {
    /// A config for `url` with every other key at its default.
    pub fn new(url: impl Into<String>) -> MqttConfig {
        MqttConfig {
            url: url.into(),
            username: None,
            password: None,
            client_id: default_client_id(),
            topic_prefix: default_topic_prefix(),
            ca_file: None,
            keep_alive: default_keep_alive(),
        }
    }

    /// The broker's host, port and whether it takes TLS; the error says what is wrong.
    pub fn broker(&self) -> Result<MqttBroker, String> {
        let bad = || {
            format!(
                "an MQTT broker address such as mqtt://broker.local:1883 or mqtts://broker.example:8883, not {:?}",
                self.url
            )
        };
        let url = reqwest::Url::parse(&self.url).map_err(|_| bad())?;
        let (tls, default_port) = match url.scheme() {
            "mqtt" => (false, 1883),
            "mqtts" => (true, 8883),
            _ => return Err(bad()),
        };
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(bad)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("put the credentials in mqtt.username and mqtt.password, not in the URL".into());
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(format!("only scheme, host and port: {:?} has a path or query", self.url));
        }
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        Ok(MqttBroker { host, port: url.port().unwrap_or(default_port), tls })
    }

    pub(super) fn validate(&self, p: &mut Problems) {
        let broker = self.broker();
        if let Err(e) = &broker {
            p.add("mqtt.url", e.clone());
        }
        if self.password.is_some() && self.username.is_none() {
            p.add("mqtt.password", "needs mqtt.username too (MQTT 3.1.1 sends no password alone)");
        }
        if self.username.as_deref().is_some_and(str::is_empty) {
            p.add("mqtt.username", "must not be empty; leave it out for an anonymous login");
        }
        if self.client_id.is_empty() || self.client_id.len() > 65535 {
            p.add("mqtt.client_id", "must be 1 to 65535 bytes: the broker keeps our session under it");
        }
        if let Err(e) = check_prefix(&self.topic_prefix) {
            p.add("mqtt.topic_prefix", e);
        }
        if let Some(path) = &self.ca_file {
            if broker.as_ref().is_ok_and(|b| !b.tls) {
                p.add("mqtt.ca_file", "applies only to an mqtts:// url");
            } else if let Err(e) = super::read_ca_file(path) {
                p.add("mqtt.ca_file", e);
            }
        }
        if !(5..=65535).contains(&self.keep_alive) {
            p.add("mqtt.keep_alive", "must be between 5 and 65535 seconds");
        }
    }
}

fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("must not be empty, e.g. sms-bridge".into());
    }
    if prefix.contains(['+', '#', '\0']) {
        return Err(format!("{prefix:?} holds a wildcard (+ or #) or NUL, which topic names cannot"));
    }
    if prefix.starts_with('$') {
        return Err(format!("{prefix:?}: topics starting with $ are the broker's own"));
    }
    if prefix.starts_with('/') || prefix.ends_with('/') || prefix.contains("//") {
        return Err(format!("{prefix:?}: no leading, trailing or doubled /"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_port_and_tls() {
        let b = |u: &str| MqttConfig::new(u).broker();
        assert_eq!(
            b("mqtt://broker.local").unwrap(),
            MqttBroker { host: "broker.local".into(), port: 1883, tls: false }
        );
        assert_eq!(b("mqtts://10.0.0.2/").unwrap(), MqttBroker { host: "10.0.0.2".into(), port: 8883, tls: true });
        assert_eq!(b("mqtt://[::1]:1884").unwrap(), MqttBroker { host: "::1".into(), port: 1884, tls: false });
        assert!(b("http://broker").unwrap_err().starts_with("an MQTT broker address such as"));
        assert!(b("broker:1883").is_err());
        assert!(b("mqtt://u:p@broker").unwrap_err().starts_with("put the credentials in mqtt.username"));
        assert!(b("mqtt://broker/topic").unwrap_err().contains("has a path or query"));
    }
}
