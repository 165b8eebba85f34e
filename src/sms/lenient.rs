//! PDUs the way modems print them (after `+CMGR:`, `+CMGL:`, `+CMT:`, `+CDS:`): junk after
//! the hex, a missing last digit, padding, user data shorter than declared, timestamps with
//! bad digits. What can be read is decoded and everything else is named in a warning; an
//! error only when no TPDU header can be read. [`tpdu::decode`] stays the strict decoder.

mod line;
#[cfg(test)]
mod tests;
mod time;
mod user_data;

use super::address::Address;
use super::dcs::Dcs;
use super::time::{Timestamp, Validity};
use super::tpdu::{self, Deliver, Pdu, StatusReport, Submit, Tpdu};
use super::{Result, SmsError};

/// A PDU and what had to be overlooked to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lenient {
    pub pdu: Pdu,
    /// One sentence each, naming what and at which octet.
    pub warnings: Vec<String>,
    /// The user data (or a field the PDU announced) ended early: the text is what is there.
    pub truncated: bool,
}

/// Decodes a PDU line as a modem printed it (hex text, possibly with junk); Err only when
/// nothing sensible can be recovered (no valid TPDU header/address), naming what and where.
pub fn decode_line(line: &str, with_smsc: bool) -> Result<Lenient> {
    let hex = line::parse(line);
    let stop = |what: String| match hex.stopped_at {
        Some((c, i)) => format!("the hex stops at {c:?} (character {i}) before the TPDU could be read: {what}"),
        None => what,
    };
    if hex.bytes.is_empty() {
        return Err(SmsError::new(stop("no hex digits".into()), 0));
    }
    let mut decoded = decode_bytes(&hex.bytes, with_smsc).map_err(|e| SmsError::new(stop(e.what), e.at))?;
    decoded.warnings.splice(0..0, hex.warnings);
    Ok(decoded)
}

/// The same for bytes already parsed from hex.
pub fn decode_bytes(bytes: &[u8], with_smsc: bool) -> Result<Lenient> {
    let mut notes = Notes::default();
    let mut r = Reader { bytes, pos: 0 };
    let smsc = if with_smsc {
        let (a, used) = Address::decode_smsc(bytes)?;
        r.pos = used;
        a
    } else {
        None
    };
    let first = r.u8("first octet")?;
    let tpdu = match first & 0x03 {
        0 => Tpdu::Deliver(deliver(&mut r, first, &mut notes)?),
        1 => Tpdu::Submit(submit(&mut r, first, &mut notes)?),
        2 => Tpdu::StatusReport(status_report(&mut r, first, &mut notes)?),
        _ => return Err(SmsError::new(format!("reserved message type in first octet 0x{first:02X}"), r.pos - 1)),
    };
    surplus(bytes, r.pos, &mut notes);
    Ok(Lenient { pdu: Pdu { smsc, tpdu }, warnings: notes.warnings, truncated: notes.truncated })
}

fn deliver(r: &mut Reader, first: u8, notes: &mut Notes) -> Result<Deliver> {
    let originator = r.address("originator")?;
    let pid = r.u8("protocol identifier")?;
    let dcs = Dcs::decode(r.u8("data coding scheme")?);
    let timestamp = r.timestamp("service centre timestamp", notes)?;
    let user_data = r.user_data(dcs, first & 0x40 != 0, notes);
    Ok(Deliver {
        more_messages: first & 0x04 == 0,
        reply_path: first & 0x80 != 0,
        status_report_indication: first & 0x20 != 0,
        originator,
        pid,
        dcs,
        timestamp,
        user_data,
    })
}

fn submit(r: &mut Reader, first: u8, notes: &mut Notes) -> Result<Submit> {
    let message_ref = r.u8("message reference")?;
    let destination = r.address("destination")?;
    let pid = r.u8("protocol identifier")?;
    let dcs = Dcs::decode(r.u8("data coding scheme")?);
    let validity = match (first >> 3) & 0x03 {
        0 => None,
        2 => Some(Validity::Relative(r.u8("validity period")?)),
        3 => Some(Validity::Absolute(r.timestamp("validity period", notes)?)),
        _ => Some(Validity::Enhanced(r.seven("validity period")?)),
    };
    let user_data = r.user_data(dcs, first & 0x40 != 0, notes);
    Ok(Submit {
        reject_duplicates: first & 0x04 != 0,
        reply_path: first & 0x80 != 0,
        status_report_request: first & 0x20 != 0,
        message_ref,
        destination,
        pid,
        dcs,
        validity,
        user_data,
    })
}

fn status_report(r: &mut Reader, first: u8, notes: &mut Notes) -> Result<StatusReport> {
    let message_ref = r.u8("message reference")?;
    let recipient = r.address("recipient")?;
    let timestamp = r.timestamp("service centre timestamp", notes)?;
    let discharge_time = r.timestamp("discharge time", notes)?;
    let status = r.u8("status")?;
    let report = StatusReport {
        message_ref,
        recipient,
        timestamp,
        discharge_time,
        status,
        pid: None,
        dcs: None,
        user_data: None,
    };
    if r.pos >= r.bytes.len() {
        return Ok(report); // cut right after TP-Status: legal
    }
    let start = r.pos;
    let mut tried = Notes::default();
    let with_parameters = parameters(r, report.clone(), first & 0x40 != 0, &mut tried);
    let padding = r.bytes[start..].iter().all(|&b| b == 0xFF);
    if tried.is_clean() || !padding {
        notes.absorb(tried);
        return Ok(with_parameters);
    }
    // Modems pad reports with 0xFF; read as parameters, padding announces fields it lacks.
    r.pos = start;
    Ok(report)
}

/// TP-PI and the optional fields it announces.
fn parameters(r: &mut Reader, mut report: StatusReport, udhi: bool, notes: &mut Notes) -> StatusReport {
    let pi_at = r.pos;
    let Ok(pi) = r.u8("parameter indicator") else { return report };
    let missing = |what: &str, notes: &mut Notes| {
        notes.cut(format!("parameter indicator 0x{pi:02X} at octet {pi_at} announces a {what}, but the PDU ends"));
    };
    if pi & 0x01 != 0 {
        match r.u8("protocol identifier") {
            Ok(pid) => report.pid = Some(pid),
            Err(_) => {
                missing("protocol identifier", notes);
                return report;
            }
        }
    }
    if pi & 0x02 != 0 {
        match r.u8("data coding scheme") {
            Ok(dcs) => report.dcs = Some(Dcs::decode(dcs)),
            Err(_) => {
                missing("data coding scheme", notes);
                return report;
            }
        }
    }
    if pi & 0x04 != 0 {
        let dcs = report.dcs.unwrap_or(Dcs::decode(0));
        report.user_data = Some(r.user_data(dcs, udhi, notes));
    }
    report
}

/// Octets after a complete TPDU: ignored, and said so.
fn surplus(bytes: &[u8], end: usize, notes: &mut Notes) {
    let Some(rest) = bytes.get(end..).filter(|r| !r.is_empty()) else { return };
    let n = rest.len();
    let s = if n == 1 { "" } else { "s" };
    let padding = if rest.iter().all(|&b| b == 0xFF) { " of 0xFF padding" } else { "" };
    notes.warn(format!("ignored {n} octet{s}{padding} after the TPDU, from octet {end}"));
}

/// Warnings so far, and whether something announced was cut off.
#[derive(Default)]
struct Notes {
    warnings: Vec<String>,
    truncated: bool,
}

impl Notes {
    fn warn(&mut self, w: String) {
        self.warnings.push(w);
    }

    fn cut(&mut self, w: String) {
        self.truncated = true;
        self.warn(w);
    }

    fn is_clean(&self) -> bool {
        self.warnings.is_empty() && !self.truncated
    }

    fn absorb(&mut self, other: Notes) {
        self.warnings.extend(other.warnings);
        self.truncated |= other.truncated;
    }
}

/// Reads the fields every TPDU needs; running out there is an error.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self, what: &str) -> Result<u8> {
        let b = *self.bytes.get(self.pos).ok_or_else(|| SmsError::new(format!("{what} missing"), self.pos))?;
        self.pos += 1;
        Ok(b)
    }

    fn seven(&mut self, what: &str) -> Result<[u8; 7]> {
        let at = self.pos;
        let b = self.bytes.get(at..at + 7).and_then(|s| <[u8; 7]>::try_from(s).ok()).ok_or_else(|| {
            SmsError::new(format!("{what}: 7 octets needed, {} left", self.bytes.len().saturating_sub(at)), at)
        })?;
        self.pos += 7;
        Ok(b)
    }

    fn timestamp(&mut self, what: &str, notes: &mut Notes) -> Result<Timestamp> {
        let at = self.pos;
        Ok(time::decode(&self.seven(what)?, at, what, &mut notes.warnings))
    }

    fn address(&mut self, what: &str) -> Result<Address> {
        let (a, used) = Address::decode(self.bytes.get(self.pos..).unwrap_or_default(), self.pos)
            .map_err(|e| SmsError::new(format!("{what}: {}", e.what), e.at))?;
        self.pos += used;
        Ok(a)
    }

    fn user_data(&mut self, dcs: Dcs, udhi: bool, notes: &mut Notes) -> tpdu::UserData {
        let (ud, end) = user_data::decode(self.bytes, self.pos, dcs, udhi, notes);
        self.pos = end;
        ud
    }
}
