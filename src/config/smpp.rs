//! `type: smpp` backend settings. Defaults follow Kannel's where Kannel has one, so a
//! Kannel `group = smsc` section maps over key by key (see the README).

use std::path::PathBuf;

use serde::Deserialize;

use super::Problems;
use super::tls;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmppConfig {
    pub host: String,
    pub port: u16,
    pub system_id: String,
    pub password: String,
    /// Some SMSCs insist on a value (Kannel's `system-type`); empty is common.
    pub system_type: String,
    pub address_range: String,
    pub bind: BindMode,
    /// Requests sent and not yet answered (Kannel's `max-pending-submits`).
    pub window: u32,
    /// Most submits per second / per minute; 0 means no limit. Phones running SMPP proxy
    /// apps allow only a few per minute.
    pub max_per_second: u32,
    pub max_per_minute: u32,
    /// Seconds between enquire_link probes (Kannel's `enquire-link-interval`).
    pub enquire_link_interval: u64,
    /// Seconds to wait for any response before the connection counts as dead (`wait-ack`).
    pub response_timeout: u64,
    /// Reconnect backoff bounds, seconds (doubling, with jitter).
    pub reconnect_min_delay: u64,
    pub reconnect_max_delay: u64,
    /// Seconds between attempts after the SMSC refused our credentials.
    pub bad_credentials_delay: u64,
    /// Seconds to pause all submits after ESME_RTHROTTLED / ESME_RMSGQFUL.
    pub throttle_pause: u64,
    /// How GSM text goes into data_coding 0 (SMSCs differ; most want unpacked septets).
    pub data_coding: DataCodingPolicy,
    pub long_messages: LongMessagePolicy,
    /// Ask the SMSC for delivery receipts.
    pub registered_delivery: bool,
    /// Minutes the SMSC should keep trying (relative validity); unset leaves it to the SMSC.
    pub validity_minutes: Option<u32>,
    /// Send as this address instead of `number` (e.g. an alphanumeric sender name).
    pub source_address: Option<String>,
    /// Overrides for the automatically chosen type of number / numbering plan.
    pub source_ton: Option<u8>,
    pub source_npi: Option<u8>,
    pub dest_ton: Option<u8>,
    pub dest_npi: Option<u8>,
    /// Largest PDU accepted from the SMSC, octets; longer ones drop the connection.
    pub max_pdu_size: u32,
    /// SMPP over TLS (Kannel's `use-ssl`).
    pub tls: bool,
    /// PEM file of the CAs that may sign the SMSC's certificate; unset trusts the system's.
    pub tls_ca_file: Option<PathBuf>,
    /// Accept any certificate, for self-signed lab SMSCs: encrypted, but anyone on the
    /// path can pose as the SMSC.
    pub tls_insecure: bool,
    /// The name the certificate must carry (and the SNI sent); unset means `host`.
    pub tls_server_name: Option<String>,
}

impl Default for SmppConfig {
    fn default() -> Self {
        SmppConfig {
            host: String::new(),
            port: 2775,
            system_id: String::new(),
            password: String::new(),
            system_type: String::new(),
            address_range: String::new(),
            bind: BindMode::Transceiver,
            window: 10,
            max_per_second: 0,
            max_per_minute: 0,
            enquire_link_interval: 30,
            response_timeout: 60,
            reconnect_min_delay: 1,
            reconnect_max_delay: 60,
            bad_credentials_delay: 300,
            throttle_pause: 1,
            data_coding: DataCodingPolicy::Gsm7Unpacked,
            long_messages: LongMessagePolicy::Udh,
            registered_delivery: true,
            validity_minutes: None,
            source_address: None,
            source_ton: None,
            source_npi: None,
            dest_ton: None,
            dest_npi: None,
            max_pdu_size: 65_536,
            tls: false,
            tls_ca_file: None,
            tls_insecure: false,
            tls_server_name: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindMode {
    /// One connection both ways (Kannel's `transceiver-mode = 1`).
    Transceiver,
    /// A transmitter and a receiver connection.
    TransmitterReceiver,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataCodingPolicy {
    /// data_coding 0, one septet per octet.
    Gsm7Unpacked,
    /// data_coding 0, septets packed as on the air interface.
    Gsm7Packed,
    /// data_coding 3; characters outside Latin-1 still go as UCS-2.
    Latin1,
    /// data_coding 0 carrying Latin-1 octets, for SMSCs whose default alphabet is not GSM.
    SmscDefault,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LongMessagePolicy {
    /// One submit_sm per part with a concatenation UDH.
    Udh,
    /// One submit_sm per part with sar_* TLVs.
    Sar,
    /// One submit_sm carrying the whole text in message_payload.
    Payload,
}

impl SmppConfig {
    pub(super) fn validate(&self, key: &dyn Fn(&str) -> String, p: &mut Problems) {
        if self.host.trim().is_empty() {
            p.add(key("host"), "must name the SMSC, e.g. smsc.example.net or 127.0.0.1");
        }
        if self.port == 0 {
            p.add(key("port"), "must be a TCP port (1-65535)");
        }
        for (name, value, max) in [
            ("system_id", &self.system_id, 15),
            ("password", &self.password, 8),
            ("system_type", &self.system_type, 12),
            ("address_range", &self.address_range, 40),
        ] {
            if value.len() > max {
                p.add(key(name), format!("SMPP 3.4 allows at most {max} characters, this has {}", value.len()));
            }
        }
        if !(1..=1000).contains(&self.window) {
            p.add(key("window"), "must be between 1 and 1000");
        }
        if self.enquire_link_interval == 0 {
            p.add(key("enquire_link_interval"), "must be at least 1 second");
        }
        if self.response_timeout == 0 {
            p.add(key("response_timeout"), "must be at least 1 second");
        }
        if self.reconnect_min_delay == 0 || self.reconnect_min_delay > self.reconnect_max_delay {
            p.add(key("reconnect_min_delay"), "must be at least 1 and at most reconnect_max_delay");
        }
        if self.bad_credentials_delay == 0 {
            p.add(key("bad_credentials_delay"), "must be at least 1 second");
        }
        if let Some(0) = self.validity_minutes {
            p.add(key("validity_minutes"), "must be at least 1 minute (leave it out for the SMSC's default)");
        }
        if let Some(s) = &self.source_address
            && (s.is_empty() || s.len() > 20)
        {
            p.add(key("source_address"), "must be 1 to 20 characters");
        }
        for (name, value) in [
            ("source_ton", self.source_ton),
            ("source_npi", self.source_npi),
            ("dest_ton", self.dest_ton),
            ("dest_npi", self.dest_npi),
        ] {
            if value.is_some_and(|v| v > 18) {
                p.add(key(name), "not an SMPP 3.4 TON/NPI value (0-18)");
            }
        }
        if self.max_pdu_size < 1024 {
            p.add(key("max_pdu_size"), "must be at least 1024 octets");
        }
        self.validate_tls(key, p);
    }

    fn validate_tls(&self, key: &dyn Fn(&str) -> String, p: &mut Problems) {
        if !self.tls {
            for (name, set) in [
                ("tls_ca_file", self.tls_ca_file.is_some()),
                ("tls_insecure", self.tls_insecure),
                ("tls_server_name", self.tls_server_name.is_some()),
            ] {
                if set {
                    p.add(key(name), "applies only with tls: true");
                }
            }
            return;
        }
        if let Some(path) = &self.tls_ca_file {
            if self.tls_insecure {
                p.add(
                    key("tls_ca_file"),
                    "has no effect with tls_insecure: true (which accepts any certificate); keep one",
                );
            } else if let Err(why) = tls::read_ca_file(path) {
                p.add(key("tls_ca_file"), why);
            }
        }
        let (name_key, name) = match &self.tls_server_name {
            Some(n) => ("tls_server_name", n.as_str()),
            None => ("host", self.host.as_str()),
        };
        if !name.trim().is_empty()
            && let Err(why) = tls::server_name(name)
        {
            p.add(key(name_key), why);
        }
    }

    /// The name the SMSC's certificate is checked against.
    pub fn tls_name(&self) -> &str {
        self.tls_server_name.as_deref().unwrap_or(&self.host)
    }
}
