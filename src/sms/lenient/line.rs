//! A PDU line as a modem printed it: hex digits, perhaps followed by junk (a stray quote,
//! a comma, a CR) or missing its last digit.

/// The octets a line holds, what was dropped from it, and the first non-hex character
/// (with its character index) if one cut the hex short.
pub struct Hex {
    pub bytes: Vec<u8>,
    pub warnings: Vec<String>,
    pub stopped_at: Option<(char, usize)>,
}

pub fn parse(line: &str) -> Hex {
    // Surrounding white space (CR, LF, spaces) is line framing, not junk: no warning.
    let line = line.trim();
    let digits = line.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(line.len());
    let (hex, junk) = line.split_at(digits);
    let mut warnings = Vec::new();
    let even = hex.len() - hex.len() % 2;
    let bytes: Vec<u8> = hex.as_bytes()[..even].chunks_exact(2).map(|p| (nibble(p[0]) << 4) | nibble(p[1])).collect();
    if even < hex.len() {
        warnings.push(format!("odd-length hex: dropped the last digit {:?} (octet {})", &hex[even..], bytes.len()));
    }
    let stopped_at = junk.chars().next().map(|c| (c, digits));
    if !junk.is_empty() {
        let n = junk.chars().count();
        let s = if n == 1 { "" } else { "s" };
        warnings.push(format!("ignored {n} character{s} after the hex, from octet {}: {junk:?}", bytes.len()));
    }
    Hex { bytes, warnings, stopped_at }
}

fn nibble(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        b'A'..=b'F' => d - b'A' + 10,
        _ => 0, // only hex digits reach here
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_hex_in_either_case_has_no_warnings() {
        let h = parse("  00aBcD\r\n");
        assert_eq!((h.bytes, h.warnings.len(), h.stopped_at), (vec![0x00, 0xAB, 0xCD], 0, None));
    }

    #[test]
    fn junk_after_the_hex_is_named() {
        let h = parse("0041\",\r");
        assert_eq!(h.bytes, [0x00, 0x41]);
        assert_eq!(h.warnings, ["ignored 2 characters after the hex, from octet 2: \"\\\",\""]);
        assert_eq!(h.stopped_at, Some(('"', 4)));
    }

    #[test]
    fn odd_length_drops_the_last_digit() {
        let h = parse("00417");
        assert_eq!(h.bytes, [0x00, 0x41]);
        assert_eq!(h.warnings, ["odd-length hex: dropped the last digit \"7\" (octet 2)"]);
    }

    #[test]
    fn non_ascii_junk_is_counted_in_characters() {
        let h = parse("0A€x");
        assert_eq!(h.bytes, [0x0A]);
        assert_eq!(h.warnings, ["ignored 2 characters after the hex, from octet 1: \"€x\""]);
    }
}
