//! `type: modem` backend settings: a USB/serial modem spoken to with AT commands.

use serde::Deserialize;

use super::Problems;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModemConfig {
    /// The serial device. A `/dev/serial/by-id/…` path survives ttyUSB renumbering.
    pub device: String,
    pub baud: u32,
    /// The SIM's PIN, entered once when the SIM asks for it; never retried when wrong.
    pub pin: Option<String>,
    /// The SMSC number, used when the SIM has none (`AT+CSCA?` answers empty).
    pub smsc: Option<String>,
    /// Where messages are kept: auto picks ME (modem memory, larger) when the modem
    /// offers it for all three uses, else SM (the SIM).
    pub storage: Storage,
    /// Extra commands sent at the end of the init sequence, e.g. `AT+QCFG="…"`.
    pub init: Vec<String>,
    /// Seconds between storage listings that catch messages whose notification was missed.
    pub poll_interval: u64,
    /// Seconds to wait for `+CMGS` after a PDU was handed over.
    pub send_timeout: u64,
    /// Seconds to wait for the answer to any other command.
    pub command_timeout: u64,
    /// Ask the network for status reports.
    pub delivery_reports: bool,
    /// Reconnect backoff bounds, seconds.
    pub reconnect_min_delay: u64,
    pub reconnect_max_delay: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Storage {
    #[default]
    #[serde(rename = "auto")]
    Auto,
    SM,
    ME,
    MT,
}

impl Default for ModemConfig {
    fn default() -> Self {
        ModemConfig {
            device: String::new(),
            baud: 115200,
            pin: None,
            smsc: None,
            storage: Storage::Auto,
            init: Vec::new(),
            poll_interval: 30,
            send_timeout: 120,
            command_timeout: 10,
            delivery_reports: true,
            reconnect_min_delay: 1,
            reconnect_max_delay: 60,
        }
    }
}

const BAUDS: &[u32] = &[9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000, 3000000, 4000000];

impl ModemConfig {
    pub(super) fn validate(&self, key: &dyn Fn(&str) -> String, p: &mut Problems) {
        if self.device.trim().is_empty() {
            p.add(key("device"), "must name the serial device, e.g. /dev/serial/by-id/usb-Quectel_EG25-G-if02-port0");
        }
        if !BAUDS.contains(&self.baud) {
            p.add(key("baud"), format!("{} is not a serial speed; use one of {BAUDS:?}", self.baud));
        }
        if let Some(pin) = &self.pin
            && (!(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()))
        {
            p.add(key("pin"), "a SIM PIN is 4 to 8 digits (quote it in YAML: pin: \"0000\")");
        }
        if let Some(smsc) = &self.smsc
            && crate::sms::address::Address::parse_number(smsc).is_err()
        {
            p.add(key("smsc"), format!("not a phone number such as \"+447785016005\": {smsc:?}"));
        }
        for (i, cmd) in self.init.iter().enumerate() {
            if !cmd.to_ascii_uppercase().starts_with("AT") || cmd.chars().any(|c| c.is_control()) {
                p.add(key(&format!("init[{i}]")), format!("not one AT command line: {cmd:?}"));
            }
        }
        for (name, value) in [("poll_interval", self.poll_interval), ("send_timeout", self.send_timeout)] {
            if value == 0 {
                p.add(key(name), "must be at least 1 second");
            }
        }
        if self.command_timeout == 0 {
            p.add(key("command_timeout"), "must be at least 1 second");
        }
        if self.reconnect_min_delay == 0 || self.reconnect_max_delay < self.reconnect_min_delay {
            p.add(key("reconnect_max_delay"), "needs 0 < reconnect_min_delay <= reconnect_max_delay");
        }
    }
}
