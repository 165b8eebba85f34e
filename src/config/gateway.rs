//! `gateway:` — the HTTP API for applications: Kannel's `sendsms` and a JSON API, with
//! callbacks. Off unless the section is present.

use std::collections::HashSet;

use serde::Deserialize;

use super::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// `host:port`; Kannel's smsbox listens on 13013. Loopback unless you mean otherwise:
    /// the API sends SMS on your account.
    #[serde(default = "default_listen")]
    pub listen: String,
    pub users: Vec<GatewayUser>,
    /// Every inbound SMS, MMS and delivery report is POSTed to these, signed.
    #[serde(default)]
    pub webhooks: Vec<Webhook>,
    /// Where applications reach this gateway (`https://sms.example.org`), for the media
    /// links of an MMS in webhooks; default `http://<listen>`.
    pub public_url: Option<String>,
}

/// An application (Kannel's `sendsms-user`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayUser {
    pub username: String,
    /// For `sendsms` (`password=`).
    pub password: Option<String>,
    /// For the JSON API (`Authorization: Bearer …`).
    pub token: Option<String>,
    /// Signs callbacks to this user (HMAC-SHA256); default: the token, else the password.
    pub secret: Option<String>,
    /// The link used when a request names none (Kannel's `default-smsc`).
    #[serde(default, alias = "default-smsc")]
    pub default_link: Option<String>,
    /// Links this user may send through; empty: all.
    #[serde(default)]
    pub links: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub url: String,
    /// Signs the body (HMAC-SHA256, header `X-Signature`).
    pub secret: Option<String>,
    /// Only events on these links; empty: all.
    #[serde(default)]
    pub links: Vec<String>,
    /// Only events with these numbers (E.164, ours or theirs); empty: all.
    #[serde(default)]
    pub numbers: Vec<String>,
}

fn default_listen() -> String {
    "127.0.0.1:13013".into()
}

impl GatewayUser {
    pub fn signing_secret(&self) -> Option<&str> {
        self.secret.as_deref().or(self.token.as_deref()).or(self.password.as_deref())
    }

    pub fn may_use(&self, link: &str) -> bool {
        self.links.is_empty() || self.links.iter().any(|l| l == link)
    }
}

impl GatewayConfig {
    /// The base of links to this gateway, without a trailing slash.
    pub fn base_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }

    pub fn user(&self, name: &str) -> Option<&GatewayUser> {
        self.users.iter().find(|u| u.username == name)
    }

    pub(super) fn validate(&self, backends: &[&str], p: &mut Problems) {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            p.add("gateway.listen", format!("not host:port such as 127.0.0.1:13013: {:?}", self.listen));
        }
        if self.users.is_empty() {
            p.add("gateway.users", "name at least one user: the gateway answers no one else");
        }
        match &self.public_url {
            Some(u)
                if !matches!(
                    reqwest::Url::parse(u).map(|u| u.scheme().to_string()).as_deref(),
                    Ok("http" | "https")
                ) =>
            {
                p.add("gateway.public_url", format!("not an http(s) URL such as https://sms.example.org: {u:?}"));
            }
            // Links to http://0.0.0.0:… would reach nobody.
            None if self.listen.parse::<std::net::SocketAddr>().is_ok_and(|a| a.ip().is_unspecified()) => {
                p.add(
                    "gateway.public_url",
                    "set it when listen is on every address: how do applications reach the gateway?",
                );
            }
            _ => {}
        }
        let mut names = HashSet::new();
        let mut tokens = HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            let key = |k: &str| format!("gateway.users[{i}].{k}");
            if u.username.trim().is_empty() {
                p.add(key("username"), "must not be empty");
            } else if !names.insert(&u.username) {
                p.add(key("username"), format!("duplicate user {:?}", u.username));
            }
            if u.password.is_none() && u.token.is_none() {
                p.add(key("password"), "set a password (for sendsms) or a token (for the JSON API), or both");
            }
            if let Some(t) = &u.token {
                if t.len() < 16 {
                    p.add(key("token"), "use at least 16 characters (e.g. `openssl rand -hex 24`)");
                } else if !tokens.insert(t) {
                    p.add(key("token"), "another user has the same token");
                }
            }
            for (j, l) in u.links.iter().chain(&u.default_link).enumerate() {
                if !backends.contains(&l.as_str()) {
                    let k = if j < u.links.len() { format!("links[{j}]") } else { "default_link".into() };
                    p.add(key(&k), format!("no backend has the id {l:?}"));
                }
            }
        }
        for (i, w) in self.webhooks.iter().enumerate() {
            match reqwest::Url::parse(&w.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => p.add(format!("gateway.webhooks[{i}].url"), format!("not an http(s) URL: {:?}", w.url)),
            }
            for (j, l) in w.links.iter().enumerate() {
                if !backends.contains(&l.as_str()) {
                    p.add(format!("gateway.webhooks[{i}].links[{j}]"), format!("no backend has the id {l:?}"));
                }
            }
        }
    }
}
