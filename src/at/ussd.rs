//! USSD (`AT+CUSD`, 27.007 §7.15): the request line and the network's answer in words.
//! Modems differ in how they carry the text: plain characters, hex UCS-2, or (Huawei) hex
//! packed GSM 7-bit both ways.

use crate::sms::gsm7::{self, Tables};
use crate::sms::tpdu::{from_hex, to_hex};
use crate::sms::ucs2;

/// The command that sends `code` (or a menu choice) to the network.
pub fn request(code: &str, packed: bool) -> Result<String, String> {
    if code.is_empty() || code.len() > 160 || code.contains(['"', '\r', '\n', '\x1a', '\x1b']) {
        return Err(format!("not a USSD code: {code:?}"));
    }
    if packed {
        let septets = gsm7::encode(code, &Tables::DEFAULT).map_err(|e| format!("USSD code {code:?}: {e}"))?;
        return Ok(format!("AT+CUSD=1,\"{}\",15", to_hex(&gsm7::pack(&septets, 0))));
    }
    Ok(format!("AT+CUSD=1,\"{code}\",15"))
}

/// What `+CUSD: <m>` says about the session.
pub fn status_words(status: u8) -> &'static str {
    match status {
        0 => "done",
        1 => "the network expects a reply",
        2 => "ended by the network",
        3 => "answered by another client",
        4 => "not supported by the network",
        5 => "the network timed out",
        _ => "unknown status",
    }
}

/// The answer text in characters. `dcs` is the CBS data coding scheme (23.038 §5).
pub fn answer_text(text: &str, dcs: Option<u8>) -> String {
    let is_hex = !text.is_empty() && text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_hex {
        return text.to_string();
    }
    let Ok(bytes) = from_hex(text) else { return text.to_string() };
    let ucs2_dcs = matches!(dcs, Some(0x48) | Some(0x11)) || dcs.is_some_and(|d| d & 0xF0 == 0x40 && d & 0x0C == 0x08);
    if ucs2_dcs {
        return ucs2::decode(&bytes).unwrap_or_else(|_| text.to_string());
    }
    // Hex that unpacks to readable GSM text is Huawei's packed form; digits-only answers
    // ("1234") that merely look like hex stay as they are.
    let count = bytes.len() * 8 / 7;
    if let Ok(mut septets) = gsm7::unpack(&bytes, count, 0) {
        // A CR in the spare bits is padding.
        if septets.last() == Some(&0x0D) || septets.last() == Some(&0) && count % 8 == 7 {
            septets.pop();
        }
        let decoded = gsm7::decode(&septets, &Tables::DEFAULT);
        let readable = decoded.chars().all(|c| !c.is_control() || c == '\n' || c == '\r');
        if readable
            && decoded.chars().any(|c| c.is_alphabetic() || c == ' ')
            && !text.bytes().all(|b| b.is_ascii_digit())
        {
            return decoded;
        }
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(request("*100#", false).unwrap(), "AT+CUSD=1,\"*100#\",15");
        // Huawei's form of *100#.
        assert_eq!(request("*100#", true).unwrap(), "AT+CUSD=1,\"AA180C3602\",15");
        assert!(request("*1\"00#", false).is_err());
        assert!(request("", false).is_err());
    }

    #[test]
    fn answers_in_each_form() {
        assert_eq!(answer_text("Your balance is 5.00", Some(15)), "Your balance is 5.00");
        let packed = to_hex(&gsm7::pack(&gsm7::encode("Balance 5 EUR", &Tables::DEFAULT).unwrap(), 0));
        assert_eq!(answer_text(&packed, Some(15)), "Balance 5 EUR");
        assert_eq!(answer_text(&to_hex(&ucs2::encode("Баланс 5")), Some(72)), "Баланс 5");
        assert_eq!(answer_text("1234", Some(15)), "1234");
        assert_eq!(status_words(1), "the network expects a reply");
    }
}
