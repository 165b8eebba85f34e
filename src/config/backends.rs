//! `backends:` — one entry per SMS link. Common keys here; each kind validates its own.

use std::collections::HashSet;

use serde::Deserialize;
use serde::de::Error as _;

use super::{BridgeConfig, GammuSpoolConfig, HilinkConfig, ModemConfig, Permission, Problems, SmppConfig};

#[derive(Debug, Clone)]
pub struct BackendConfig {
    /// Short name used in commands (`start … via <id>`) and the database.
    pub id: String,
    /// Our own number on this link, E.164.
    pub number: String,
    /// Who is invited to portals created by inbound SMS; defaults to the single admin.
    pub owner: Option<String>,
    /// More of our numbers on this link (an SMPP account with several): questions to one
    /// person may then run at once, one per number (`gateway` questions).
    pub numbers: Vec<String>,
    pub kind: BackendKind,
}

#[derive(Debug, Clone)]
pub enum BackendKind {
    Test(TestBackendConfig),
    Smpp(Box<SmppConfig>),
    Modem(Box<ModemConfig>),
    Hilink(Box<HilinkConfig>),
    GammuSpool(Box<GammuSpoolConfig>),
}

impl BackendKind {
    pub fn name(&self) -> &'static str {
        match self {
            BackendKind::Test(_) => "test",
            BackendKind::Smpp(_) => "smpp",
            BackendKind::Modem(_) => "modem",
            BackendKind::Hilink(_) => "hilink",
            BackendKind::GammuSpool(_) => "gammu_spool",
        }
    }
}

/// The in-process test link: a loopback HTTP control API and a file of sent messages.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestBackendConfig {
    /// `host:port` for the control API (`POST /inject`, `POST /report`, `GET /sent`).
    pub control: Option<String>,
    /// Appends one JSON line per sent message, so tests can see what "the network" got.
    pub sent_log: Option<String>,
    /// Whether sends report a message id and delivery reports are expected.
    #[serde(default = "yes")]
    pub delivery_reports: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct Common {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    number: String,
    owner: Option<String>,
    #[serde(default)]
    numbers: Vec<String>,
}

impl<'de> Deserialize<'de> for BackendConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = serde_yaml_ng::Mapping::deserialize(d)?;
        let mut common = serde_yaml_ng::Mapping::new();
        for key in ["id", "type", "number", "owner", "numbers"] {
            if let Some(v) = map.remove(key) {
                common.insert(key.into(), v);
            }
        }
        let c: Common = serde_yaml_ng::from_value(common.into()).map_err(D::Error::custom)?;
        let rest = serde_yaml_ng::Value::Mapping(map);
        let kind = match c.kind.as_str() {
            "test" => BackendKind::Test(kind_section(rest)?),
            "smpp" => BackendKind::Smpp(Box::new(kind_section(rest)?)),
            "modem" => BackendKind::Modem(Box::new(kind_section(rest)?)),
            "hilink" => BackendKind::Hilink(Box::new(kind_section(rest)?)),
            "gammu_spool" => BackendKind::GammuSpool(Box::new(kind_section(rest)?)),
            other => {
                return Err(D::Error::custom(format!(
                    "backend {:?}: unknown type {other:?} (known: test, smpp, modem, hilink, gammu_spool)",
                    c.id
                )));
            }
        };
        Ok(BackendConfig { id: c.id, number: c.number, owner: c.owner, numbers: c.numbers, kind })
    }
}

/// A link's own keys, with the key path in errors ("data_coding: unknown variant …").
fn kind_section<T: serde::de::DeserializeOwned, E: serde::de::Error>(rest: serde_yaml_ng::Value) -> Result<T, E> {
    serde_path_to_error::deserialize(rest).map_err(|e| {
        let path = e.path().to_string();
        if path == "." { E::custom(e.into_inner()) } else { E::custom(format!("{path}: {}", e.into_inner())) }
    })
}

pub(super) fn validate_all(backends: &[BackendConfig], bridge: &BridgeConfig, p: &mut Problems) {
    let mut ids = HashSet::new();
    let mut numbers = HashSet::new();
    let mut devices = HashSet::new();
    let mut routers = HashSet::new();
    let mut spools = HashSet::new();
    let admins: Vec<&String> = bridge
        .permissions
        .iter()
        .filter(|(k, v)| k.starts_with('@') && **v == Permission::Admin)
        .map(|(k, _)| k)
        .collect();
    for (i, b) in backends.iter().enumerate() {
        let key = |k: &str| format!("backends[{i}].{k}");
        if !super::appservice::is_localpart(&b.id) {
            p.add(key("id"), format!("use lower-case letters, digits and _-. only: {:?}", b.id));
        } else if !ids.insert(b.id.clone()) {
            p.add(key("id"), format!("duplicate backend id {:?}", b.id));
        }
        match crate::phone::normalize(&b.number, None) {
            Ok(n) if n == b.number => {
                if !numbers.insert(n) {
                    p.add(key("number"), format!("another backend already uses {:?}", b.number));
                }
            }
            Ok(n) => p.add(key("number"), format!("write it in E.164 form: {n:?}, not {:?}", b.number)),
            Err(_) => p.add(key("number"), format!("not an E.164 number such as \"+15551234567\": {:?}", b.number)),
        }
        // Modems and routers send from their SIM's number whatever we ask.
        if !b.numbers.is_empty() && !matches!(b.kind, BackendKind::Smpp(_) | BackendKind::Test(_)) {
            p.add(key("numbers"), "only SMPP links can send from more than one number");
        }
        for (j, n) in b.numbers.iter().enumerate() {
            match crate::phone::normalize(n, None) {
                Ok(e) if e == *n && *n != b.number => {
                    if !numbers.insert(e) {
                        p.add(key(&format!("numbers[{j}]")), format!("another backend already uses {n:?}"));
                    }
                }
                Ok(e) if e == *n => {
                    p.add(key(&format!("numbers[{j}]")), "the link's own number is in the pool already")
                }
                _ => {
                    p.add(key(&format!("numbers[{j}]")), format!("not an E.164 number such as \"+15551234567\": {n:?}"))
                }
            }
        }
        match &b.owner {
            Some(o) if !(o.starts_with('@') && o.contains(':')) => {
                p.add(key("owner"), format!("not a Matrix user ID: {o:?}"))
            }
            Some(o) if bridge.permission(o) < Permission::User => {
                p.add(key("owner"), format!("{o} has no `user` permission in bridge.permissions"))
            }
            Some(_) => {}
            None if admins.len() != 1 => p.add(
                key("owner"),
                "not set, and bridge.permissions does not name exactly one admin user to default to",
            ),
            None => {}
        }
        match &b.kind {
            BackendKind::Test(t) => {
                // The control API has no authentication: loopback only.
                if let Some(c) = &t.control
                    && !c.parse::<std::net::SocketAddr>().is_ok_and(|a| a.ip().is_loopback())
                {
                    p.add(key("control"), format!("not a loopback address like 127.0.0.1:29331: {c:?}"));
                }
            }
            BackendKind::Smpp(s) => s.validate(&key, p),
            BackendKind::Modem(m) => {
                m.validate(&key, p);
                // Two links on one port would garble each other's commands.
                if !m.device.is_empty() && !devices.insert(m.device.clone()) {
                    p.add(key("device"), format!("another backend already uses {:?}", m.device));
                }
            }
            BackendKind::Hilink(h) => {
                h.validate(&key, p);
                // Two links polling one router would each delete what the other has not shown.
                let url = h.url.trim_end_matches('/').to_ascii_lowercase();
                if !url.is_empty() && !routers.insert(url) {
                    p.add(key("url"), format!("another backend already uses {:?}", h.url));
                }
            }
            BackendKind::GammuSpool(g) => {
                g.validate(&key, p);
                // Two links reading one inbox would race for each file.
                let inbox = g.inbox_path.trim_end_matches('/').to_string();
                if !inbox.is_empty() && !spools.insert(inbox) {
                    p.add(key("inbox_path"), format!("another backend already uses {:?}", g.inbox_path));
                }
            }
        }
    }
}

impl BackendConfig {
    /// The owner, falling back to the single admin of `bridge.permissions`.
    pub fn owner(&self, bridge: &BridgeConfig) -> String {
        self.owner.clone().unwrap_or_else(|| {
            bridge
                .permissions
                .iter()
                .find(|(k, v)| k.starts_with('@') && **v == Permission::Admin)
                .map(|(k, _)| k.clone())
                .unwrap_or_default()
        })
    }
}
