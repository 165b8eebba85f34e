//! PDU lines as modems print them, decoded leniently: what can be read is kept, with a
//! warning for each thing that was off.

use crate::sms::lenient;
use crate::sms::tpdu::Pdu;

pub(super) struct Decoded {
    pub pdu: Pdu,
    pub warnings: Vec<String>,
    pub truncated: bool,
}

/// A line after `+CMGR:`, `+CMGL:`, `+CMT:` or `+CDS:` (SMSC field in front).
pub(super) fn pdu_line(line: &str) -> Result<Decoded, String> {
    let l = lenient::decode_line(line, true).map_err(|e| e.to_string())?;
    Ok(Decoded { pdu: l.pdu, warnings: l.warnings, truncated: l.truncated })
}
