//! What the bytes of `text` mean, as Kannel's `charset_processing` decides: coding 0 is
//! UTF-8 unless `charset` says otherwise, coding 2 is UTF-16BE unless `charset` says
//! otherwise, and coding 1 is raw octets whatever `charset` says.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

use super::sendsms::{Coding, Payload};

/// The message body for `text` bytes, or `None` when they are not valid in the charset
/// (or the charset is unknown): Kannel answers "Charset or body misformed" then.
pub fn decode_text(bytes: &[u8], coding: Coding, charset: Option<&str>) -> Option<Payload> {
    let encoding = match (coding, charset) {
        (Coding::EightBit, _) => return Some(Payload::Binary(bytes.to_vec())),
        (Coding::SevenBit, None) => UTF_8,
        (Coding::Ucs2, None) => UTF_16BE,
        (_, Some(label)) => encoding_for(label)?,
    };
    // A BOM is honoured only when a charset was named, as iconv does; without one the
    // bytes are taken as Kannel takes them.
    let (encoding, body) = match (charset, Encoding::for_bom(bytes)) {
        (Some(_), Some((bom, len))) if is_unicode(encoding) => (bom, &bytes[len..]),
        _ => (encoding, bytes),
    };
    encoding.decode_without_bom_handling_and_without_replacement(body).map(|text| Payload::Text(text.into_owned()))
}

/// Labels as glibc's iconv (behind Kannel) reads them where WHATWG's table, which
/// `encoding_rs` follows, differs or is silent; WHATWG's table for the rest.
fn encoding_for(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().to_ascii_lowercase();
    match label.as_str() {
        // iconv reads BOM-less UTF-16 as big-endian (RFC 2781); WHATWG says little.
        "utf-16" | "utf16" | "ucs-2be" | "ucs2be" | "utf16be" => Some(UTF_16BE),
        // glibc's UCS-2 is the host's order: little-endian on the x86 and ARM boxes
        // Kannel runs on, and what PHP's iconv('utf-8', 'ucs-2') writes there.
        "ucs2" | "ucs-2le" | "ucs2le" | "utf16le" => Some(UTF_16LE),
        // WHATWG maps "replacement" labels (ISO-2022-KR and friends) to an encoding that
        // decodes everything to U+FFFD: refuse them instead.
        _ => Encoding::for_label_no_replacement(label.as_bytes()),
    }
}

fn is_unicode(e: &'static Encoding) -> bool {
    e == UTF_8 || e == UTF_16BE || e == UTF_16LE
}
