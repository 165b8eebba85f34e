//! gammu-smsd `files` spool formats, bytes in and values out (no I/O): inbox file names,
//! the text of `InboxFormat = unicode` and `standard` files, and the smsbackup INI of
//! `InboxFormat = detail`.
//!
//! Source: gammu's docs/manual/smsd/files.rst and smsd/services/files.c. gammu writes
//! unicode files as a byte order mark (FE FF) and big-endian UCS-2, followed by NUL
//! units and stale bytes when the text is not ASCII (Debian's 1.42 sizes the write by the
//! UTF-8 length, so the text ends at the first NUL);
//! a little-endian mark is read too, since people convert files by hand. `standard`
//! files are UTF-8.

use crate::sms::udh::Udh;

/// What an inbox file name says: `IN<YYYYMMDD>_<HHMMSS>_<serial>_<sender>_<part>.<ext>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxName {
    pub date: String,
    pub time: String,
    pub serial: u8,
    pub sender: String,
    /// 0 for a whole message or the first part; gammu numbers the parts it saved.
    pub part: u8,
    pub ext: String,
}

impl InboxName {
    /// The date and time fields as written in the name (the SMSC's clock, no zone).
    pub fn stamp(&self) -> String {
        format!("{}_{}", self.date, self.time)
    }
}

/// None for names that are not gammu inbox files (left alone, never warned about).
pub fn inbox_name(name: &str) -> Option<InboxName> {
    let rest = name.strip_prefix("IN")?;
    let (stem, ext) = rest.rsplit_once('.')?;
    if !matches!(ext, "txt" | "bin" | "smsbackup") {
        return None;
    }
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (date, rest) = stem.split_once('_')?;
    let (time, rest) = rest.split_once('_')?;
    let (serial, rest) = rest.split_once('_')?;
    // The sender may itself hold '_' (an alphanumeric sender): the part is the last field.
    let (sender, part) = rest.rsplit_once('_')?;
    if !digits(date, 8) || !digits(time, 6) || !digits(serial, 2) || !digits(part, 2) || sender.is_empty() {
        return None;
    }
    Some(InboxName {
        date: date.into(),
        time: time.into(),
        serial: serial.parse().ok()?,
        sender: sender.into(),
        part: part.parse().ok()?,
        ext: ext.into(),
    })
}

/// An `IN…` file with gammu's extensions whose name [`inbox_name`] cannot read: gammu's
/// all the same, so it is set aside rather than left in the folder for ever.
pub fn looks_like_inbox_file(name: &str) -> bool {
    name.starts_with("IN") && [".txt", ".bin", ".smsbackup"].iter().any(|e| name.ends_with(e))
}

/// Why a file could not be read as a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadFile(pub String);

fn bad(why: impl Into<String>) -> BadFile {
    BadFile(why.into())
}

/// One message part as a file holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePart {
    /// From the detail format's Number; None for text files (the name says it).
    pub sender: Option<String>,
    pub text: String,
    /// Concatenation from the detail format's UDH.
    pub concat: Option<crate::sms::udh::Concat>,
    /// 8-bit data (a `.bin` file or Coding = 8bit): not text.
    pub binary: bool,
    /// The 8-bit data of a detail file's part (its Text keys hold the bytes as they are).
    pub data: Vec<u8>,
    /// Application ports from the detail format's UDH (2948: a WAP push).
    pub ports: Option<crate::sms::udh::Ports>,
    /// The detail format's DateTime (`20261205T105046Z`) as Unix milliseconds.
    pub timestamp_ms: Option<i64>,
}

/// The text of an inbox `.txt` file: UTF-16 when it starts with a byte order mark
/// (`unicode`), else `standard` text in gammu's locale charset (UTF-8 where set up; other
/// bytes are read as Windows-1252 rather than refused).
pub fn text_file(bytes: &[u8]) -> Result<String, BadFile> {
    match bytes {
        [0xFE, 0xFF, rest @ ..] => utf16_text(rest, u16::from_be_bytes),
        [0xFF, 0xFE, rest @ ..] => utf16_text(rest, u16::from_le_bytes),
        _ => {
            if bytes.contains(&0) {
                return Err(bad("a NUL byte in a text file without a byte order mark (UTF-16 without its BOM?)"));
            }
            let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
            Ok(match std::str::from_utf8(bytes) {
                Ok(s) => s.to_string(),
                Err(_) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0.into_owned(),
            })
        }
    }
}

/// UTF-16 text up to its first NUL unit: what follows it is whatever gammu-smsd's buffer
/// held before (an earlier message's text, seen with 1.42).
fn utf16_text(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, BadFile> {
    let end = bytes.chunks_exact(2).position(|c| c == [0, 0]).map_or(bytes.len(), |i| i * 2);
    utf16(&bytes[..end], unit)
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, BadFile> {
    if !bytes.len().is_multiple_of(2) {
        return Err(bad(format!("UTF-16 text of an odd length ({} bytes after the byte order mark)", bytes.len())));
    }
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]])).collect();
    String::from_utf16(&units).map_err(|_| bad("UTF-16 text with a broken surrogate pair"))
}

/// Does this look like an smsbackup INI (`InboxFormat = detail`)?
pub fn is_detail(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    // gammu starts the file with `;` comment lines.
    let first = bytes
        .split(|&b| b == b'\n')
        .map(|l| l.trim_ascii())
        .find(|l| !l.is_empty() && !l.starts_with(b";") && !l.starts_with(b"#"));
    first.is_some_and(|l| l.starts_with(b"[SMSBackup"))
}

/// The parts of an smsbackup INI, in file order: one `[SMSBackupNNN]` section each.
pub fn detail_file(bytes: &[u8]) -> Result<Vec<FilePart>, BadFile> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad("an smsbackup file that is not UTF-8 or ASCII"))?;
    let mut sections: Vec<Vec<(String, String)>> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            if !name.starts_with("SMSBackup") {
                return Err(bad(format!("line {}: unexpected section [{name}]", n + 1)));
            }
            sections.push(Vec::new());
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(bad(format!("line {}: neither a section, a key = value nor a comment", n + 1)));
        };
        let Some(section) = sections.last_mut() else {
            return Err(bad(format!("line {}: a key before the first [SMSBackupNNN] section", n + 1)));
        };
        let value = value.trim();
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        section.push((key.trim().to_ascii_lowercase(), value.to_string()));
    }
    if sections.is_empty() {
        return Err(bad("no [SMSBackupNNN] section"));
    }
    sections.iter().enumerate().map(|(i, s)| detail_section(s).map_err(|e| bad(format!("section {i}: {e}")))).collect()
}

fn detail_section(keys: &[(String, String)]) -> Result<FilePart, BadFile> {
    let get = |k: &str| keys.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    // Text00, Text01, … hold the text as hex, in order.
    let mut chunks: Vec<(u32, &str)> =
        keys.iter().filter_map(|(k, v)| Some((k.strip_prefix("text")?.parse::<u32>().ok()?, v.as_str()))).collect();
    chunks.sort_by_key(|(i, _)| *i);
    let hex: String = chunks.iter().map(|(_, v)| *v).collect();
    let raw = from_hex(&hex).ok_or_else(|| bad("Text is not hexadecimal"))?;
    let coding = get("coding").unwrap_or("Default").to_ascii_lowercase();
    let binary = coding.contains("8bit");
    let text = if binary {
        String::new()
    } else {
        // gammu keeps text as big-endian UCS-2 whatever the network used.
        utf16(&raw, u16::from_be_bytes)?
    };
    let sender = match get("numberunicode").filter(|v| !v.is_empty()) {
        Some(h) => {
            Some(utf16(&from_hex(h).ok_or_else(|| bad("NumberUnicode is not hexadecimal"))?, u16::from_be_bytes)?)
        }
        None => get("number").map(str::to_string),
    };
    let udh = match get("udh").filter(|v| !v.is_empty()) {
        None => None,
        Some(h) => {
            let udh = from_hex(h).ok_or_else(|| bad("UDH is not hexadecimal"))?;
            // The UDH is stored with its length octet.
            let body = udh.get(1..).unwrap_or_default();
            Some(Udh::parse(body, 1).map_err(|e| bad(format!("UDH: {e}")))?)
        }
    };
    let concat = udh.as_ref().and_then(Udh::concat);
    let ports = udh.as_ref().and_then(Udh::ports);
    let data = if binary { raw } else { Vec::new() };
    if chunks.is_empty() && !binary {
        return Err(bad("no Text00 key"));
    }
    let timestamp_ms = get("datetime").and_then(|t| {
        let utc = t.strip_suffix('Z')?;
        let dt = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%S", utc).ok()?;
        Some(dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_millisecond())
    });
    Ok(FilePart { sender, text, concat, binary, data, ports, timestamp_ms })
}

fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Parts of a detail file joined into one text: by their UDH sequence numbers when every
/// part has one with the same reference, else in file order.
pub fn join_parts(parts: &[FilePart]) -> String {
    let refs: Vec<_> = parts.iter().map(|p| p.concat).collect();
    let same = refs.iter().all(|c| c.is_some_and(|c| Some(c.reference) == refs[0].map(|r| r.reference)));
    let mut order: Vec<&FilePart> = parts.iter().collect();
    if same {
        order.sort_by_key(|p| p.concat.map(|c| c.seq));
    }
    order.iter().map(|p| p.text.as_str()).collect()
}

/// The WSP bytes of a WAP push (8-bit parts to port 2948) in a detail file, joined in
/// the order of their UDH; None when the parts are anything else.
pub fn wap_push(parts: &[FilePart]) -> Option<Vec<u8>> {
    let push = |p: &FilePart| p.binary && p.ports.is_some_and(|ports| ports.dst == crate::sms::udh::WAP_PUSH_PORT);
    if parts.is_empty() || !parts.iter().all(push) {
        return None;
    }
    let mut order: Vec<&FilePart> = parts.iter().collect();
    order.sort_by_key(|p| p.concat.map(|c| c.seq));
    Some(order.iter().flat_map(|p| p.data.iter().copied()).collect())
}

/// An outbox file's name in gammu's `OUT<priority>_<phone>_<serial>.txt<options>` form:
/// `serial` must hold neither `_` nor `.`; `d` asks the network for a delivery report.
pub fn outbox_name(to: &str, serial: &str, report: bool) -> String {
    format!("OUTA_{to}_{serial}.txt{}", if report { "d" } else { "" })
}

/// An outbox file's content: a byte order mark and big-endian UTF-16, which gammu reads
/// whatever its locale (its `standard` reading depends on the locale it was started in).
pub fn outbox_text(text: &str) -> Vec<u8> {
    let mut out = vec![0xFE, 0xFF];
    for u in text.encode_utf16() {
        out.extend_from_slice(&u.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let n = inbox_name("IN20261205_101500_00_+15551234567_00.txt").unwrap();
        assert_eq!(
            (n.sender.as_str(), n.serial, n.part, n.stamp().as_str()),
            ("+15551234567", 0, 0, "20261205_101500")
        );
        let n = inbox_name("IN20261205_101500_01_My_Bank_02.bin").unwrap();
        assert_eq!((n.sender.as_str(), n.serial, n.part, n.ext.as_str()), ("My_Bank", 1, 2, "bin"));
        for not in
            ["OUT+1555.txt", "IN2026_1.txt", "IN20261205_101500_00_+1555_00.txt.tmp", "IN20261205_101500_00__00.txt"]
        {
            assert_eq!(inbox_name(not), None, "{not}");
        }
    }

    #[test]
    fn text_files() {
        assert_eq!(text_file(b"Hello").unwrap(), "Hello");
        assert_eq!(text_file("Grüße".as_bytes()).unwrap(), "Grüße");
        assert_eq!(text_file(b"Gr\xfc\xdfe").unwrap(), "Grüße");
        assert_eq!(text_file(&[0xFE, 0xFF, 0x04, 0x1F, 0x00, 0x21]).unwrap(), "П!");
        assert_eq!(text_file(&[0xFF, 0xFE, 0x1F, 0x04, 0x21, 0x00]).unwrap(), "П!");
        // As gammu-smsd 1.42 writes non-ASCII text: NUL units after it.
        assert_eq!(text_file(&[0xFE, 0xFF, 0x04, 0x1F, 0x00, 0x21, 0, 0, 0, 0]).unwrap(), "П!");
        assert_eq!(text_file(&[0xFE, 0xFF, 0x04, 0x1F, 0, 0, 0x00, 0x68]).unwrap(), "П");
        assert!(text_file(&[0xFE, 0xFF, 0x04]).unwrap_err().0.contains("odd length"));
        assert!(text_file(&[0xFE, 0xFF, 0xD8, 0x3D]).unwrap_err().0.contains("surrogate"));
        assert!(text_file(&[0x48, 0x00, 0x69, 0x00]).unwrap_err().0.contains("NUL"));
    }

    #[test]
    fn outbox() {
        assert_eq!(outbox_name("+15551234567", "j42", true), "OUTA_+15551234567_j42.txtd");
        assert_eq!(text_file(&outbox_text("Hi 😀")).unwrap(), "Hi 😀");
    }
}
