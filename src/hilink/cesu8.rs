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

#[cfg(test)]
mod tests {
    use super::*;

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
