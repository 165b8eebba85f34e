//! What one line means: a final result that ends a command, or an unsolicited result code
//! (URC) that may arrive at any moment, even in the middle of another command's answer.

use super::errors::{cme_code, cms_code};
use super::fields::{fields, number, split_prefix};

/// The line that ends a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Final {
    Ok,
    Error,
    CmeError(u16),
    CmsError(u16),
}

impl Final {
    pub fn parse(line: &str) -> Option<Final> {
        match line {
            "OK" => return Some(Final::Ok),
            // Huawei answers unknown commands "COMMAND NOT SUPPORT", some "TOO MANY PARAMETERS".
            // NO CARRIER ends only dialling, which the bridge never does: a caller hanging
            // up prints it at any time, so it is noise (see Urc::parse).
            "ERROR" | "COMMAND NOT SUPPORT" | "TOO MANY PARAMETERS" => return Some(Final::Error),
            _ => {}
        }
        let (prefix, rest) = split_prefix(line)?;
        // Numeric (AT+CMEE=1) or verbose (AT+CMEE=2); an unreadable one is "unknown".
        match prefix {
            "+CME ERROR" => Some(Final::CmeError(rest.parse().ok().or_else(|| cme_code(rest)).unwrap_or(100))),
            "+CMS ERROR" => Some(Final::CmsError(rest.parse().ok().or_else(|| cms_code(rest)).unwrap_or(500))),
            _ => None,
        }
    }
}

impl std::fmt::Display for Final {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Final::Ok => f.write_str("OK"),
            Final::Error => f.write_str("ERROR"),
            Final::CmeError(c) => write!(f, "+CME ERROR: {c} ({})", super::cme_words(*c)),
            Final::CmsError(c) => write!(f, "+CMS ERROR: {c} ({})", super::cms_words(*c)),
        }
    }
}

/// An unsolicited result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Urc {
    /// `+CMTI: "SM",3`: a message was stored.
    NewMessage {
        storage: String,
        index: u32,
    },
    /// `+CDSI: "SR",8`: a status report was stored.
    NewReport {
        storage: String,
        index: u32,
    },
    /// `+CMT: [<alpha>],<len>`: a message follows on the next line, not stored.
    Message {
        len: usize,
    },
    /// `+CDS: <len>`: a status report follows on the next line.
    Report {
        len: usize,
    },
    /// `+CUSD: <m>[,<str>,<dcs>]`: the network's USSD answer.
    Ussd {
        status: u8,
        text: Option<String>,
        dcs: Option<u8>,
    },
    /// Storage is full: new messages wait in the network until space is made.
    StorageFull,
    /// The modem (re)started: its settings are back to defaults.
    Boot,
    /// Huawei's `^BOOT`: a restart, or a heartbeat some firmware repeats.
    BootHint,
    PoweredDown,
    /// `+CPIN: READY`, `+CPIN: NOT READY`, …
    Sim(String),
    /// `+CREG: <stat>` and friends, in the unsolicited form.
    Registration(u8),
    /// Vendor chatter that changes nothing for SMS (`^RSSI`, `^MODE`, `PB DONE`, …).
    Noise,
}

impl Urc {
    /// Recognises a URC; None for lines that are not one (answers, echo, PDUs).
    pub fn parse(line: &str) -> Option<Urc> {
        match line {
            "RDY" => return Some(Urc::Boot),
            "POWERED DOWN" | "NORMAL POWER DOWN" => return Some(Urc::PoweredDown),
            "+SMS FULL" | "SMS FULL" => return Some(Urc::StorageFull),
            "PB DONE" | "SMS DONE" | "CALL READY" | "SMS READY" | "RING" | "*ATREADY: 1" | "NO CARRIER" | "BUSY"
            | "NO ANSWER" | "NO DIALTONE" => return Some(Urc::Noise),
            _ => {}
        }
        let (prefix, rest) = split_prefix(line)?;
        let f = fields(rest);
        Some(match prefix {
            "+CMTI" => Urc::NewMessage { storage: f.first()?.clone(), index: number(&f, 1)? },
            "+CDSI" => Urc::NewReport { storage: f.first()?.clone(), index: number(&f, 1)? },
            // The alpha field may be absent ("+CMT: 27"), empty or "".
            "+CMT" => Urc::Message { len: number(&f, f.len() - 1)? },
            "+CDS" => Urc::Report { len: number(&f, f.len() - 1)? },
            "+CUSD" => Urc::Ussd { status: number(&f, 0)?, text: f.get(1).cloned(), dcs: number(&f, 2) },
            "^SMMEMFULL" => Urc::StorageFull,
            "^BOOT" => Urc::BootHint,
            // Quectel: +QIND: "smsfull","SM".
            "+QIND" if f.first().is_some_and(|k| k.eq_ignore_ascii_case("smsfull")) => Urc::StorageFull,
            "+CPIN" => Urc::Sim(rest.to_string()),
            // The unsolicited form has the state first; the answer to `?` has `n` first
            // and is taken as an answer by the channel before it gets here.
            "+CREG" | "+CGREG" | "+CEREG" => Urc::Registration(number(&f, 0)?),
            p if p.starts_with('^') || p.starts_with("+Q") || p.starts_with("+CGEV") || p.starts_with("+STIN") => {
                Urc::Noise
            }
            "+CIEV" | "+CRING" | "+CLIP" | "+CUSATP" | "+CTZV" | "+CTZE" | "+NITZ" | "+PACSP" | "+CSQN" => Urc::Noise,
            _ => return None,
        })
    }

    /// Whether a PDU line follows this URC.
    pub fn pdu_follows(&self) -> bool {
        matches!(self, Urc::Message { .. } | Urc::Report { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finals() {
        assert_eq!(Final::parse("OK"), Some(Final::Ok));
        assert_eq!(Final::parse("+CMS ERROR: 322"), Some(Final::CmsError(322)));
        assert_eq!(Final::parse("+CME ERROR: SIM PIN required"), Some(Final::CmeError(11)));
        assert_eq!(Final::parse("+CME ERROR: gibberish"), Some(Final::CmeError(100)));
        assert_eq!(Final::parse("COMMAND NOT SUPPORT"), Some(Final::Error));
        assert_eq!(Final::parse("+CMGS: 12"), None);
        assert_eq!(Final::CmsError(331).to_string(), "+CMS ERROR: 331 (no network service)");
    }

    #[test]
    fn urcs_as_devices_print_them() {
        assert_eq!(Urc::parse("+CMTI: \"SM\",3"), Some(Urc::NewMessage { storage: "SM".into(), index: 3 }));
        assert_eq!(Urc::parse("+CMTI: \"ME\",67"), Some(Urc::NewMessage { storage: "ME".into(), index: 67 }));
        assert_eq!(Urc::parse("+CDSI: \"SR\",8"), Some(Urc::NewReport { storage: "SR".into(), index: 8 }));
        for l in ["+CMT: ,27", "+CMT: \"\",27", "+CMT: 27", "+CMT: \"Bob, Jr\",27"] {
            assert_eq!(Urc::parse(l), Some(Urc::Message { len: 27 }), "{l}");
        }
        assert_eq!(Urc::parse("+CDS: 25"), Some(Urc::Report { len: 25 }));
        assert_eq!(
            Urc::parse("+CUSD: 0,\"Balance 5.00\",15"),
            Some(Urc::Ussd { status: 0, text: Some("Balance 5.00".into()), dcs: Some(15) })
        );
        assert_eq!(Urc::parse("+CUSD: 4"), Some(Urc::Ussd { status: 4, text: None, dcs: None }));
        assert_eq!(Urc::parse("^SMMEMFULL: \"SM\""), Some(Urc::StorageFull));
        assert_eq!(Urc::parse("+SMS FULL"), Some(Urc::StorageFull));
        assert_eq!(Urc::parse("+QIND: \"smsfull\",\"SM\""), Some(Urc::StorageFull));
        assert_eq!(Urc::parse("NO CARRIER"), Some(Urc::Noise));
        assert_eq!(Final::parse("NO CARRIER"), None);
        assert_eq!(Urc::parse("RDY"), Some(Urc::Boot));
        assert_eq!(Urc::parse("^BOOT:20952015,0,0,0,75"), Some(Urc::BootHint));
        for l in [
            "^RSSI: 17",
            "^MODE: 5,4",
            "^HCSQ: \"LTE\",50,40,120,20",
            "^SRVST: 2",
            "^SIMST: 1",
            "^NWTIME: 26/12/04,10:00:00+4,0",
            "PB DONE",
            "SMS DONE",
            "+QIND: SMS DONE",
        ] {
            assert_eq!(Urc::parse(l), Some(Urc::Noise), "{l}");
        }
        assert_eq!(Urc::parse("+CPIN: READY"), Some(Urc::Sim("READY".into())));
        assert_eq!(Urc::parse("+CREG: 1"), Some(Urc::Registration(1)));
        for l in ["+CMGS: 4", "0791447758100650040C9144", "OK", "AT+CMGL=4", "+CMTI: \"SM\""] {
            assert_eq!(Urc::parse(l), None, "{l}");
        }
    }
}
