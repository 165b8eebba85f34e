//! MMS: the WSP encodings underneath, WAP push, and MMS PDUs (decode and encode). Pure: no
//! I/O, so the bridge, the `decode` tool, the fuzzers and the benchmark share it. Talking
//! to the MMSC over HTTP is `crate::mmsc`.

mod charset;
mod compose;
pub mod describe;
pub mod encode;
mod error;
mod headers;
mod multipart;
pub mod pdu;
pub mod push;
pub mod tables;
pub mod wsp;

pub use charset::{Text, decode as decode_text};
pub use encode::encode;
pub use error::{DecodeError, EncodeError, TooManyParts};
pub use headers::Headers;
pub use multipart::Part;
pub use pdu::{From, Message, MessageType, TimeValue, decode, decode_limited};
pub use push::WapPush;
pub use wsp::ContentType;

pub use compose::{Attachment, address, bare_address, send_req};

/// A file name from a part, safe to show and to use: no directories, no control
/// characters, no leading dots, at most 100 characters; `fallback` when nothing is left.
pub fn safe_filename(name: &str, fallback: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*'))
        .take(100)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() { fallback.to_string() } else { cleaned.to_string() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn filenames_are_made_safe() {
        use super::safe_filename as s;
        assert_eq!(s("../../etc/passwd", "f"), "passwd");
        assert_eq!(s("C:\\x\\evil.jpg", "f"), "evil.jpg");
        assert_eq!(s("/tmp/php\u{0}x", "f"), "phpx");
        assert_eq!(s("..", "f"), "f");
        assert_eq!(s(".hidden", "f"), "hidden");
        assert_eq!(s("<a>.jpg", "f"), "a.jpg");
        assert_eq!(s(&"x".repeat(300), "f").len(), 100);
    }
}
