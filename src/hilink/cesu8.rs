//! CESU-8: UTF-8 except that a character above U+FFFF is written as its UTF-16 surrogate
//! pair, each surrogate as a 3-byte sequence. HiLink firmwares store text as UTF-16 and
//! take emoji only in this form.

/// `text` in CESU-8. Identical to UTF-8 when every character is in the BMP.
pub fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 8);
    for c in text.chars() {
        if (c as u32) < 0x10000 {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        } else {
            let mut units = [0; 2];
            for &u in c.encode_utf16(&mut units).iter() {
                // A surrogate is not a char, so the 3-byte form is written by hand.
                out.extend_from_slice(&[
                    0xE0 | (u >> 12) as u8,
                    0x80 | ((u >> 6) & 0x3F) as u8,
                    0x80 | (u & 0x3F) as u8,
                ]);
            }
        }
    }
    out
}

/// What [`decode`] made of a body: the text, and what kinds of sequences it held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// Characters above U+FFFF written as CESU-8 surrogate pairs (what firmwares take).
    pub surrogate_pairs: usize,
    /// Characters above U+FFFF written as 4-byte UTF-8: firmwares garble these; here each
    /// becomes U+FFFD.
    pub four_byte: usize,
    /// Bytes that were neither (lone surrogates, broken sequences), each U+FFFD.
    pub invalid: usize,
}

/// Reads CESU-8 (and so UTF-8 of the BMP) the way a UTF-16 firmware does. Never fails.
pub fn decode(bytes: &[u8]) -> Decoded {
    let mut d = Decoded::default();
    let cont = |b: Option<&u8>| matches!(b, Some(0x80..=0xBF));
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let len = match b {
            0x00..=0x7F => 1,
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 0,
        };
        if len == 0 || !(1..len).all(|k| cont(bytes.get(i + k))) {
            d.text.push('\u{FFFD}');
            d.invalid += 1;
            i += 1;
            continue;
        }
        if len == 4 {
            d.text.push('\u{FFFD}');
            d.four_byte += 1;
            i += 4;
            continue;
        }
        if len == 3 && b == 0xED && bytes[i + 1] >= 0xA0 {
            let unit = |at: usize| 0xD000 | ((bytes[at + 1] as u32 & 0x3F) << 6) | (bytes[at + 2] as u32 & 0x3F);
            let hi = unit(i);
            let lo_ok = bytes.get(i + 3) == Some(&0xED)
                && matches!(bytes.get(i + 4), Some(0xB0..=0xBF))
                && cont(bytes.get(i + 5));
            if (0xD800..0xDC00).contains(&hi) && lo_ok {
                let lo = unit(i + 3);
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                d.text.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                d.surrogate_pairs += 1;
                i += 6;
            } else {
                d.text.push('\u{FFFD}');
                d.invalid += 1;
                i += 3;
            }
            continue;
        }
        match std::str::from_utf8(&bytes[i..i + len]) {
            Ok(s) => d.text.push_str(s),
            Err(_) => {
                d.text.push('\u{FFFD}');
                d.invalid += 1;
            }
        }
        i += len;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_reverses_encode() {
        for s in ["", "plain", "é € \u{FFFF}", "a\u{1F600}b\u{10000}\u{10FFFF}"] {
            let d = decode(&encode(s));
            assert_eq!(d.text, s);
            assert_eq!((d.four_byte, d.invalid), (0, 0));
        }
        assert_eq!(decode(&encode("\u{1F600}\u{1F601}")).surrogate_pairs, 2);
    }

    #[test]
    fn decode_garbles_utf8_emoji_and_junk() {
        let d = decode("a\u{1F600}b".as_bytes());
        assert_eq!((d.text.as_str(), d.four_byte, d.surrogate_pairs), ("a\u{FFFD}b", 1, 0));
        // A lone high surrogate, a stray continuation byte, a cut 2-byte sequence.
        let d = decode(&[0xED, 0xA0, 0xBD, b'x', 0x80, 0xC3]);
        assert_eq!((d.text.as_str(), d.invalid), ("\u{FFFD}x\u{FFFD}\u{FFFD}", 3));
    }

    #[test]
    fn bmp_is_utf8() {
        let s = "abc é € \u{FFFF}";
        assert_eq!(encode(s), s.as_bytes());
    }

    #[test]
    fn emoji_as_surrogates() {
        // U+1F600 = D83D DE00; ED A0 BD and ED B8 80 (the CESU-8 spec's own example form).
        assert_eq!(encode("a\u{1F600}b"), [b'a', 0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80, b'b']);
        // U+10000 = D800 DC00; U+10FFFF = DBFF DFFF.
        assert_eq!(encode("\u{10000}"), [0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80]);
        assert_eq!(encode("\u{10FFFF}"), [0xED, 0xAF, 0xBF, 0xED, 0xBF, 0xBF]);
    }
}
