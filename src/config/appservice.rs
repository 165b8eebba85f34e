use serde::Deserialize;

use super::{Problems, Purpose, homeserver::check_url};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppserviceConfig {
    /// Where the homeserver reaches us (goes into the registration as `url`).
    pub address: String,
    /// Interface to listen on.
    #[serde(default = "default_hostname")]
    pub hostname: String,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default = "default_id")]
    pub id: String,
    #[serde(default)]
    pub bot: BotConfig,
    #[serde(default = "generate")]
    pub as_token: String,
    #[serde(default = "generate")]
    pub hs_token: String,
    /// Ghost localparts; `{number}` is the E.164 number without `+`.
    #[serde(default = "default_template")]
    pub username_template: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotConfig {
    #[serde(default = "default_bot")]
    pub username: String,
    #[serde(default = "default_bot_name")]
    pub displayname: String,
}

impl Default for BotConfig {
    fn default() -> Self {
        BotConfig { username: default_bot(), displayname: default_bot_name() }
    }
}

fn default_hostname() -> String {
    "127.0.0.1".into()
}
fn default_port() -> u16 {
    29330
}
fn default_id() -> String {
    "sms".into()
}
fn generate() -> String {
    "generate".into()
}
fn default_template() -> String {
    "sms_{number}".into()
}
fn default_bot() -> String {
    "smsbot".into()
}
fn default_bot_name() -> String {
    "SMS bridge bot".into()
}

/// Characters allowed in a Matrix user localpart.
pub(crate) fn is_localpart(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'=' | b'-' | b'/' | b'+'))
}

impl AppserviceConfig {
    pub(super) fn validate(&self, purpose: Purpose, p: &mut Problems) {
        check_url("appservice.address", &self.address, p);
        if self.hostname.parse::<std::net::IpAddr>().is_err() && self.hostname != "localhost" {
            p.add("appservice.hostname", format!("not an IP address to listen on: {:?}", self.hostname));
        }
        if self.port == 0 {
            p.add("appservice.port", "must be between 1 and 65535");
        }
        if !is_localpart(&self.id) {
            p.add("appservice.id", format!("use lower-case letters, digits and _-. only: {:?}", self.id));
        }
        if !is_localpart(&self.bot.username) {
            p.add("appservice.bot.username", format!("not a valid localpart: {:?}", self.bot.username));
        }
        for (key, value) in [("appservice.as_token", &self.as_token), ("appservice.hs_token", &self.hs_token)] {
            if purpose == Purpose::Run && (value.is_empty() || value == "generate") {
                p.add(key, "not set: run `sms-bridge -g -c <config> -r <registration>` first");
            } else if value.contains(char::is_whitespace) {
                p.add(key, "must not contain spaces");
            }
        }
        let t = &self.username_template;
        if t.matches("{number}").count() != 1 {
            p.add("appservice.username_template", format!("must contain {{number}} exactly once: {t:?}"));
        } else if !is_localpart(&t.replace("{number}", "1")) {
            p.add("appservice.username_template", format!("gives invalid localparts: {t:?}"));
        } else if t == "{number}" {
            // The namespace would be every user on the server.
            p.add("appservice.username_template", "needs a prefix or suffix around {number}, e.g. sms_{number}");
        } else if t.replace("{number}", "") == self.bot.username {
            p.add("appservice.username_template", "clashes with the bot's username");
        }
    }

    /// The part of the template before and after `{number}`.
    pub fn template_parts(&self) -> (&str, &str) {
        self.username_template.split_once("{number}").unwrap_or((&self.username_template, ""))
    }

    pub fn ghost_localpart(&self, key: &str) -> String {
        self.username_template.replace("{number}", key)
    }

    /// The address key in a ghost localpart, if the localpart is one of ours.
    pub fn key_from_localpart<'a>(&self, localpart: &'a str) -> Option<&'a str> {
        let (pre, post) = self.template_parts();
        localpart.strip_prefix(pre)?.strip_suffix(post).filter(|k| !k.is_empty())
    }
}
