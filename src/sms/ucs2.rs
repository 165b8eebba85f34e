//! UCS-2 as networks actually use it: UTF-16BE, with surrogate pairs for characters above
//! U+FFFF (emoji).

use super::{Result, SmsError};

pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_be_bytes());
    }
    out
}

/// Decodes UTF-16BE. Unpaired surrogates become U+FFFD; an odd length is an error.
pub fn decode(bytes: &[u8]) -> Result<String> {
    if !bytes.len().is_multiple_of(2) {
        return Err(SmsError::new("UCS-2 text with an odd number of octets", bytes.len() - 1));
    }
    let units = bytes.chunks_exact(2).map(|p| u16::from_be_bytes([p[0], p[1]]));
    Ok(char::decode_utf16(units).map(|r| r.unwrap_or('\u{FFFD}')).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surrogate_pairs() {
        assert_eq!(encode("A😀"), [0x00, 0x41, 0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(decode(&[0x00, 0x41, 0xD8, 0x3D, 0xDE, 0x00]).unwrap(), "A😀");
        assert_eq!(decode(&[0xD8, 0x3D]).unwrap(), "\u{FFFD}");
        assert_eq!(decode(&[0x00]).unwrap_err().at, 0);
    }
}
