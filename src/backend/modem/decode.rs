//! PDU lines as modems print them. Until the lenient decoder lands this is the strict
//! one plus the trimming every modem needs.

use crate::sms::tpdu::{self, Pdu};

pub(super) struct Decoded {
    pub pdu: Pdu,
    pub warnings: Vec<String>,
    pub truncated: bool,
}

pub(super) fn pdu_line(line: &str) -> Result<Decoded, String> {
    let hex: String = line.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
    let mut warnings = Vec::new();
    if hex.len() != line.trim().len() {
        warnings.push(format!("ignored {} characters after the hex", line.trim().len() - hex.len()));
    }
    let bytes = tpdu::from_hex(&hex).map_err(|e| e.to_string())?;
    let pdu = tpdu::decode(&bytes, true).map_err(|e| e.to_string())?;
    Ok(Decoded { pdu, warnings, truncated: false })
}
