//! Configuration: one file per section, each validated at load with precise messages.

mod appservice;
mod audit;
mod backends;
mod bridge;
mod gammu_spool;
mod gateway;
mod hilink;
mod homeserver;
mod logging;
mod matrix;
mod mms;
mod modem;
mod mqtt;
mod policy;
mod rewrite;
mod services;
mod smpp;
mod sms;
mod tls;

use std::path::Path;

use serde::Deserialize;

pub use appservice::{AppserviceConfig, BotConfig};
pub use audit::AuditConfig;
pub use backends::{BackendConfig, BackendKind, TestBackendConfig};
pub use bridge::{BridgeConfig, Permission};
pub use gammu_spool::{GammuSpoolConfig, InboxFormat};
pub use gateway::{GatewayConfig, GatewayUser, Webhook};
pub use hilink::HilinkConfig;
pub use homeserver::HomeserverConfig;
pub use logging::{LogFormat, LoggingConfig};
pub use matrix::MatrixConfig;
pub use mms::MmsConfig;
pub use modem::{ModemConfig, Storage};
pub use mqtt::{MqttBroker, MqttConfig};
pub use policy::{Caps, CountryRules, LinkPolicy, PolicyConfig, Rate, Recent};
pub use rewrite::store_tokens;
pub use services::{DEFAULT_KEYWORD, ServiceConfig, compile_keyword_regex};
pub use smpp::{BindMode, DataCodingPolicy, LongMessagePolicy, SmppConfig};
pub use sms::SmsConfig;
pub use tls::{read_ca_file, server_name};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub homeserver: HomeserverConfig,
    pub appservice: AppserviceConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub bridge: BridgeConfig,
    #[serde(default)]
    pub matrix: MatrixConfig,
    #[serde(default)]
    pub sms: SmsConfig,
    #[serde(default)]
    pub mms: MmsConfig,
    #[serde(default)]
    pub backends: Vec<BackendConfig>,
    /// Keyword auto-replies (Kannel `sms-service`), first match wins.
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    /// The MQTT gateway; off when absent.
    #[serde(default)]
    pub mqtt: Option<MqttConfig>,
    #[serde(default)]
    pub logging: LoggingConfig,
    /// The API for applications; off when absent.
    #[serde(default)]
    pub gateway: Option<GatewayConfig>,
    /// Where messages may go, whoever sends them.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// The record of every message, report and refusal.
    #[serde(default)]
    pub audit: AuditConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// SQLite file; relative paths are relative to the working directory.
    #[serde(default = "default_db_path")]
    pub path: String,
    /// Days delivered message bodies and their link message ids are kept; 0 keeps them.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
}

fn default_retention_days() -> u32 {
    30
}

fn default_db_path() -> String {
    "sms-bridge.db".into()
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { path: default_db_path(), retention_days: default_retention_days() }
    }
}

/// One problem in the configuration: the key and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Collects problems while a section validates itself.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem { key: key.into(), message: message.into() });
    }
}

/// Loading failed: one or more problems, each printable as one line.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError(pub Vec<Problem>);

/// Whether the tokens must already be set (running) or may still say `generate` (`-g`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Run,
    Generate,
}

impl Config {
    pub fn load(path: &Path, purpose: Purpose) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(vec![Problem { key: path.display().to_string(), message: format!("cannot read: {e}") }])
        })?;
        Config::parse(&text, purpose)
    }

    pub fn parse(text: &str, purpose: Purpose) -> Result<Config, ConfigError> {
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." { "config".to_string() } else { key };
            // The YAML error may already start with the path; say it once.
            let message = e.inner().to_string();
            let message = match message.split_once(": ") {
                Some((p, rest)) if key.starts_with(p) => rest.to_string(),
                _ => message,
            };
            ConfigError(vec![Problem { key, message }])
        })?;
        let problems = config.validate(purpose);
        if problems.0.is_empty() { Ok(config) } else { Err(ConfigError(problems.0)) }
    }

    pub fn validate(&self, purpose: Purpose) -> Problems {
        let mut p = Problems::default();
        self.homeserver.validate(&mut p);
        self.appservice.validate(purpose, &mut p);
        if self.database.path.trim().is_empty() {
            p.add("database.path", "must not be empty");
        }
        self.bridge.validate(&mut p);
        self.audit.validate(&mut p);
        self.sms.validate(&mut p);
        self.mms.validate(&mut p);
        backends::validate_all(&self.backends, &self.bridge, &mut p);
        let ids: Vec<&str> = self.backends.iter().map(|b| b.id.as_str()).collect();
        self.policy.validate(&ids, &mut p);
        if let Some(g) = &self.gateway {
            g.validate(&ids, &mut p);
        }
        services::validate_all(&self.services, &ids, &mut p);
        if let Some(mqtt) = &self.mqtt {
            mqtt.validate(&mut p);
        }
        self.logging.validate(&mut p);
        p
    }

    /// The Matrix ID of the bridge bot.
    pub fn bot_mxid(&self) -> String {
        format!("@{}:{}", self.appservice.bot.username, self.homeserver.domain)
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    pub const MINIMAL: &str = r#"
homeserver:
  address: http://localhost:8008
  domain: example.org
appservice:
  address: http://localhost:29330
  as_token: aaaa
  hs_token: bbbb
bridge:
  permissions:
    "example.org": user
    "@admin:example.org": admin
backends:
  - id: test1
    type: test
    number: "+15550001111"
"#;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tests_support::MINIMAL;

    fn problems(text: &str) -> Vec<String> {
        match Config::parse(text, Purpose::Run) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn minimal_config_loads_with_defaults() {
        let c = Config::parse(MINIMAL, Purpose::Run).unwrap();
        assert_eq!(c.appservice.port, 29330);
        assert_eq!(c.appservice.username_template, "sms_{number}");
        assert_eq!(c.bot_mxid(), "@smsbot:example.org");
        assert_eq!(c.database.path, "sms-bridge.db");
        assert!(c.matrix.message_status_events);
        assert_eq!(c.backends[0].number, "+15550001111");
    }

    #[test]
    fn bad_url_is_named() {
        let text = MINIMAL.replace("http://localhost:8008", "localhost:8008");
        assert_eq!(problems(&text), vec![r#"homeserver.address: not a URL: "localhost:8008""#]);
    }

    #[test]
    fn type_errors_name_the_key() {
        let text = MINIMAL.replace("  as_token: aaaa", "  as_token: aaaa\n  port: lots");
        let p = problems(&text);
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("appservice.port: invalid type"), "{p:?}");
    }

    #[test]
    fn dangerous_values_are_refused() {
        let bare = MINIMAL.replace("  hs_token: bbbb", "  hs_token: bbbb\n  username_template: \"{number}\"");
        assert!(problems(&bare)[0].starts_with("appservice.username_template: needs a prefix or suffix"));
        let open =
            MINIMAL.replace("    number: \"+15550001111\"", "    number: \"+15550001111\"\n    control: 0.0.0.0:29331");
        assert_eq!(
            problems(&open),
            vec![r#"backends[0].control: not a loopback address like 127.0.0.1:29331: "0.0.0.0:29331""#]
        );
    }

    #[test]
    fn sms_section() {
        let c =
            Config::parse(&format!("{MINIMAL}sms:\n  national_languages: [Turkish, spanish]\n"), Purpose::Run).unwrap();
        assert_eq!(c.sms.split_options().languages.len(), 2);
        assert_eq!((c.sms.max_parts, c.sms.multipart_timeout), (10, 600));
        let p = problems(&format!("{MINIMAL}sms:\n  national_languages: [klingon]\n  max_parts: 0\n"));
        assert!(p[0].starts_with("sms.national_languages[0]: unknown language \"klingon\" (known: turkish,"), "{p:?}");
        assert_eq!(p[1], "sms.max_parts: must be between 1 and 255");
    }

    #[test]
    fn mms_limits() {
        let c = Config::parse(MINIMAL, Purpose::Run).unwrap();
        assert_eq!((c.mms.max_parts, c.mms.max_recipients), (50, 20));
        let p = problems(&format!("{MINIMAL}mms:\n  max_parts: 0\n  max_recipients: 5000\n"));
        assert_eq!(p, ["mms.max_parts: must be between 1 and 1000", "mms.max_recipients: must be between 1 and 1000"]);
    }

    #[test]
    fn mqtt_section() {
        assert!(Config::parse(MINIMAL, Purpose::Run).unwrap().mqtt.is_none());
        let c = Config::parse(&format!("{MINIMAL}mqtt:\n  url: mqtt://127.0.0.1\n"), Purpose::Run).unwrap();
        let m = c.mqtt.unwrap();
        assert_eq!((m.client_id.as_str(), m.topic_prefix.as_str(), m.keep_alive), ("sms-bridge", "sms-bridge", 30));
        assert_eq!(m.broker().unwrap().port, 1883);
        let bad = "mqtt:\n  url: tcp://broker\n  password: x\n  client_id: \"\"\n  topic_prefix: home/+/sms\n  ca_file: /nonexistent.pem\n  keep_alive: 1\n";
        assert_eq!(
            problems(&format!("{MINIMAL}{bad}")),
            vec![
                r#"mqtt.url: an MQTT broker address such as mqtt://broker.local:1883 or mqtts://broker.example:8883, not "tcp://broker""#,
                "mqtt.password: needs mqtt.username too (MQTT 3.1.1 sends no password alone)",
                "mqtt.client_id: must be 1 to 65535 bytes: the broker keeps our session under it",
                r#"mqtt.topic_prefix: "home/+/sms" holds a wildcard (+ or #) or NUL, which topic names cannot"#,
                "mqtt.ca_file: cannot read /nonexistent.pem: No such file or directory (os error 2)",
                "mqtt.keep_alive: must be between 5 and 65535 seconds",
            ]
        );
        let plain = "mqtt:\n  url: mqtt://broker\n  ca_file: /nonexistent.pem\n  topic_prefix: /sms\n";
        assert_eq!(
            problems(&format!("{MINIMAL}{plain}")),
            vec![
                r#"mqtt.topic_prefix: "/sms": no leading, trailing or doubled /"#,
                "mqtt.ca_file: applies only to an mqtts:// url"
            ]
        );
        let p = problems(&format!("{MINIMAL}mqtt:\n  url: mqtt://broker\n  prefix: x\n"));
        assert!(p[0].starts_with("mqtt.prefix: unknown field `prefix`"), "{p:?}");
    }

    #[test]
    fn smpp_backend_section() {
        let smpp =
            "  - id: smsc\n    type: smpp\n    number: \"+15550002222\"\n    host: 127.0.0.1\n    system_id: me\n";
        let c = Config::parse(&format!("{MINIMAL}{smpp}"), Purpose::Run).unwrap();
        let BackendKind::Smpp(s) = &c.backends[1].kind else { panic!("{:?}", c.backends[1].kind) };
        assert_eq!((s.port, s.window, s.enquire_link_interval, s.bind), (2775, 10, 30, BindMode::Transceiver));
        assert_eq!((s.data_coding, s.long_messages), (DataCodingPolicy::Gsm7Unpacked, LongMessagePolicy::Udh));
        let bad = format!("{smpp}    window: 0\n    password: waytoolongpassword\n    data_coding: ebcdic\n");
        let p = problems(&format!("{MINIMAL}{bad}"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("data_coding") && p[0].contains("unknown variant `ebcdic`"), "{p:?}");
        let bad = format!("{smpp}    window: 0\n    password: waytoolongpassword\n    reconnect_min_delay: 90\n");
        assert_eq!(
            problems(&format!("{MINIMAL}{bad}")),
            vec![
                "backends[1].password: SMPP 3.4 allows at most 8 characters, this has 18",
                "backends[1].window: must be between 1 and 1000",
                "backends[1].reconnect_min_delay: must be at least 1 and at most reconnect_max_delay",
            ]
        );
        let p = problems(&format!("{MINIMAL}{smpp}    sytem_type: x\n"));
        assert!(p[0].contains("unknown field `sytem_type`"), "{p:?}");
        let p = problems(&format!("{MINIMAL}  - id: s2\n    type: smpp\n    number: \"+15550003333\"\n"));
        assert_eq!(p, vec!["backends[1].host: must name the SMSC, e.g. smsc.example.net or 127.0.0.1"]);
    }

    #[test]
    fn modem_backend_section() {
        let modem =
            "  - id: sim1\n    type: modem\n    number: \"+15550002222\"\n    device: /dev/serial/by-id/usb-x\n";
        let c = Config::parse(&format!("{MINIMAL}{modem}"), Purpose::Run).unwrap();
        let BackendKind::Modem(m) = &c.backends[1].kind else { panic!("{:?}", c.backends[1].kind) };
        assert_eq!((m.baud, m.poll_interval, m.send_timeout, m.storage), (115200, 30, 120, Storage::Auto));
        assert!(m.delivery_reports && m.pin.is_none());
        let bad = format!(
            "{modem}    baud: 1234\n    pin: \"12\"\n    smsc: \"call me\"\n    init: [\"ATE1\", \"reboot\"]\n    poll_interval: 0\n"
        );
        assert_eq!(
            problems(&format!("{MINIMAL}{bad}")),
            vec![
                "backends[1].baud: 1234 is not a serial speed; use one of [9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000, 3000000, 4000000]",
                "backends[1].pin: a SIM PIN is 4 to 8 digits (quote it in YAML: pin: \"0000\")",
                "backends[1].smsc: not a phone number such as \"+447785016005\": \"call me\"",
                "backends[1].init[1]: not one AT command line: \"reboot\"",
                "backends[1].poll_interval: must be at least 1 second",
            ]
        );
        let twice = modem.replace("sim1", "sim2").replace("+15550002222", "+15550003333");
        assert_eq!(
            problems(&format!("{MINIMAL}{modem}{twice}")),
            vec!["backends[2].device: another backend already uses \"/dev/serial/by-id/usb-x\""]
        );
        let p = problems(&format!("{MINIMAL}{modem}    storage: SIM\n"));
        assert!(p[0].contains("storage") && p[0].contains("unknown variant `SIM`"), "{p:?}");
        let p = problems(&format!("{MINIMAL}  - id: s2\n    type: modem\n    number: \"+15550003333\"\n"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("backends[1].device: must name the serial device"), "{p:?}");
    }

    #[test]
    fn gammu_spool_backend_section() {
        let spool = "  - id: gammu\n    type: gammu_spool\n    number: \"+15550002222\"\n    inbox_path: /s/in\n    \
                     outbox_path: /s/out\n    sentsms_path: /s/sent\n    errorsms_path: /s/err\n";
        let ok = format!("{MINIMAL}{spool}    delete_processed: true\n");
        let c = Config::parse(&ok, Purpose::Run).unwrap();
        let BackendKind::GammuSpool(g) = &c.backends[1].kind else { panic!("{:?}", c.backends[1].kind) };
        assert_eq!(
            (g.poll_ms, g.send_timeout, g.request_reports, g.processed_path.as_deref()),
            (1000, 300, false, None)
        );
        let bad = spool.replace("/s/sent", "/s/out/").replace("/s/err", "/s/out");
        assert_eq!(
            problems(&format!("{MINIMAL}{bad}    poll_ms: 5\n")),
            vec![
                "backends[1].sentsms_path: must differ from outbox_path, or sent messages cannot be told from waiting ones",
                "backends[1].errorsms_path: must differ from sentsms_path and outbox_path, or failures cannot be told apart",
                "backends[1].processed_path: set a folder for bridged files, or delete_processed: true",
                "backends[1].poll_ms: must be between 50 and 60000 milliseconds",
            ]
        );
    }

    #[test]
    fn hilink_backend_section() {
        let router = "  - id: b315\n    type: hilink\n    number: \"+15550002222\"\n    url: http://192.168.8.1\n";
        let c = Config::parse(&format!("{MINIMAL}{router}"), Purpose::Run).unwrap();
        let BackendKind::Hilink(h) = &c.backends[1].kind else { panic!("{:?}", c.backends[1].kind) };
        assert_eq!((h.username.as_str(), h.poll_interval, h.keep_on_router), ("admin", 5.0, false));
        assert!(h.password.is_none() && h.timezone.is_none());
        let bad = format!("{router}    timezone: Mars/Olympus\n    poll_interval: 0\n")
            .replace("http://192.168.8.1", "192.168.8.1");
        assert_eq!(
            problems(&format!("{MINIMAL}{bad}")),
            vec![
                "backends[1].url: the router's web address, such as http://192.168.8.1, not \"192.168.8.1\"",
                "backends[1].timezone: not a time zone such as Europe/Berlin, UTC or +02:00: \"Mars/Olympus\"",
                "backends[1].poll_interval: must be between 0.1 and 86400 seconds",
            ]
        );
        let twice = router.replace("b315", "b525").replace("+15550002222", "+15550003333").replace(".1\n", ".1/\n");
        assert_eq!(
            problems(&format!("{MINIMAL}{router}{twice}")),
            vec!["backends[2].url: another backend already uses \"http://192.168.8.1/\""]
        );
        let p = problems(&format!("{MINIMAL}{router}    pasword: x\n"));
        assert!(p[0].contains("unknown field `pasword`"), "{p:?}");
    }

    #[test]
    fn smpp_tls_keys() {
        let smpp = "  - id: smsc\n    type: smpp\n    number: \"+15550002222\"\n    host: smsc.example.net\n";
        let c = Config::parse(&format!("{MINIMAL}{smpp}    tls: true\n"), Purpose::Run).unwrap();
        let BackendKind::Smpp(s) = &c.backends[1].kind else { panic!("{:?}", c.backends[1].kind) };
        assert!(s.tls && !s.tls_insecure && s.tls_ca_file.is_none());
        assert_eq!(s.tls_name(), "smsc.example.net");

        let p = problems(&format!("{MINIMAL}{smpp}    tls_insecure: true\n    tls_server_name: x.example\n"));
        assert_eq!(
            p,
            vec![
                "backends[1].tls_insecure: applies only with tls: true",
                "backends[1].tls_server_name: applies only with tls: true",
            ]
        );

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("ca.pem");
        let tls = format!("    tls: true\n    tls_ca_file: {}\n", missing.display());
        let p = problems(&format!("{MINIMAL}{smpp}{tls}"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with(&format!("backends[1].tls_ca_file: cannot read {}: ", missing.display())), "{p:?}");
        std::fs::write(&missing, "not a certificate\n").unwrap();
        let p = problems(&format!("{MINIMAL}{smpp}{tls}"));
        assert_eq!(
            p,
            vec![format!(
                "backends[1].tls_ca_file: {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                missing.display()
            )]
        );
        let ca = rcgen::generate_simple_self_signed(vec!["smsc.example.net".into()]).unwrap();
        std::fs::write(&missing, ca.cert.pem()).unwrap();
        assert_eq!(problems(&format!("{MINIMAL}{smpp}{tls}")), Vec::<String>::new());
        let p = problems(&format!("{MINIMAL}{smpp}{tls}    tls_insecure: true\n"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("backends[1].tls_ca_file: has no effect with tls_insecure: true"), "{p:?}");

        let p = problems(&format!("{MINIMAL}{smpp}    tls: true\n    tls_server_name: \"not a name\"\n"));
        assert_eq!(p, vec![r#"backends[1].tls_server_name: "not a name" is not a DNS name or IP address for TLS"#]);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = MINIMAL.replace("  domain: example.org", "  domain: example.org\n  adress: x");
        let p = problems(&text);
        assert!(p[0].starts_with("homeserver.adress: unknown field `adress`"), "{p:?}");
    }

    #[test]
    fn several_problems_are_all_reported() {
        let text = MINIMAL
            .replace("as_token: aaaa", "as_token: generate")
            .replace("\"example.org\": user", "\"example.org\": superuser")
            .replace("+15550001111", "555");
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}"); // the permission is a type error, reported first
        let text = MINIMAL
            .replace("as_token: aaaa", "as_token: generate")
            .replace("+15550001111", "555")
            .replace("domain: example.org", "domain: \"\"");
        let p = problems(&text);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p.iter().any(|l| l.starts_with("appservice.as_token: not set")));
        assert!(p.iter().any(|l| l.starts_with("backends[0].number: ")));
        assert!(p.iter().any(|l| l.starts_with("homeserver.domain: ")));
    }
}
