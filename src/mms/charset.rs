//! Text in the charset a header or part declares, with the repairs real phones need.

use super::tables;

/// Decoded text, and a note when it could not be decoded as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub text: String,
    pub warning: Option<String>,
}

impl Text {
    fn ok(text: String) -> Text {
        Text { text, warning: None }
    }
}

/// Decodes `bytes` declared as MIBenum `mib` (None: no charset given, which means us-ascii).
///
/// - us-ascii that isn't ASCII is read as UTF-8 if it is valid UTF-8, else as ISO-8859-1:
///   phones label Latin-1 and UTF-8 text "us-ascii".
/// - A UTF-8 byte order mark is dropped; UTF-8 that isn't valid is read as ISO-8859-1.
/// - UCS-2 and UTF-16 honour a byte order mark and default to big-endian.
/// - An unknown charset keeps the bytes (invalid UTF-8 replaced) and says so.
pub fn decode(mib: Option<u64>, bytes: &[u8]) -> Text {
    match mib {
        None | Some(0) | Some(3) => lenient_8bit(bytes, "us-ascii"),
        Some(tables::UTF8) => lenient_8bit(bytes, "utf-8"),
        Some(1000 | 1015) => utf16(bytes, true),
        Some(1013) => utf16(bytes, true),
        Some(1014) => utf16(bytes, false),
        Some(4) => Text::ok(bytes.iter().map(|&b| b as char).collect()),
        Some(m) => match tables::charset_name(m).and_then(|n| encoding_rs::Encoding::for_label(n.as_bytes())) {
            Some(enc) => {
                let (text, _, bad) = enc.decode(bytes);
                let warning = bad.then(|| format!("text is not valid {}; bad bytes replaced", enc.name()));
                Text { text: text.into_owned(), warning }
            }
            None => Text {
                text: String::from_utf8_lossy(bytes).into_owned(),
                warning: Some(format!("unknown charset {m}: bytes kept as they are")),
            },
        },
    }
}

fn lenient_8bit(bytes: &[u8], declared: &str) -> Text {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) if declared == "utf-8" || s.is_ascii() => Text::ok(s.to_string()),
        Ok(s) => Text { text: s.to_string(), warning: Some(format!("declared {declared} but is UTF-8")) },
        Err(_) => Text {
            text: bytes.iter().map(|&b| b as char).collect(),
            warning: Some(format!("declared {declared} but is not; read as ISO-8859-1")),
        },
    }
}

fn utf16(bytes: &[u8], default_be: bool) -> Text {
    let (be, body) = match bytes {
        [0xFE, 0xFF, rest @ ..] => (true, rest),
        [0xFF, 0xFE, rest @ ..] => (false, rest),
        _ => (default_be, bytes),
    };
    let units = body
        .chunks_exact(2)
        .map(|c| if be { u16::from_be_bytes([c[0], c[1]]) } else { u16::from_le_bytes([c[0], c[1]]) });
    let mut bad = body.len() % 2 == 1;
    let text: String = char::decode_utf16(units)
        .map(|r| {
            r.unwrap_or_else(|_| {
                bad = true;
                char::REPLACEMENT_CHARACTER
            })
        })
        .collect();
    Text { text, warning: bad.then(|| "UTF-16 text with an odd length or a broken surrogate".to_string()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mislabelled_text_is_repaired() {
        assert_eq!(decode(Some(3), b"pr\xe4sentiert").text, "präsentiert");
        assert_eq!(decode(Some(3), "prä".as_bytes()).text, "prä");
        assert_eq!(decode(Some(106), b"\xEF\xBB\xBFhi").text, "hi");
        assert_eq!(decode(Some(106), b"\xe4").text, "ä");
        assert!(decode(Some(106), b"\xe4").warning.is_some());
        assert_eq!(decode(None, b"plain"), Text::ok("plain".into()));
    }

    #[test]
    fn utf16_honours_the_byte_order_mark() {
        assert_eq!(decode(Some(1015), &[0xFF, 0xFE, 0x41, 0x00, 0x3D, 0xD8, 0x00, 0xDE]).text, "A😀");
        assert_eq!(decode(Some(1000), &[0x00, 0x41, 0x00, 0xE4]).text, "Aä");
        assert!(decode(Some(1000), &[0x00, 0x41, 0x00]).warning.is_some());
    }

    #[test]
    fn other_charsets_and_unknown_ones() {
        assert_eq!(decode(Some(2026), &[0xA4, 0xA4]).text, "中");
        assert_eq!(decode(Some(17), &[0x82, 0xA0]).text, "あ");
        let t = decode(Some(9999), b"abc");
        assert_eq!(t.text, "abc");
        assert!(t.warning.unwrap().contains("9999"));
    }
}
