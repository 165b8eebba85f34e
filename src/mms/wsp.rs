//! WSP primitives (WAP-230-WSP §8.4): a bounds-checked reader for the value encodings that
//! WAP push and MMS are built from. Every length is checked against the bytes that are
//! really there before anything is sliced or allocated.

use super::charset::{self, Text};
use super::error::DecodeError;
use super::tables::{self, ParamKind};

pub type Result<T> = std::result::Result<T, DecodeError>;

/// A content type with its parameters. Parameter names are lower case; `charset` keeps the
/// MIBenum of a charset parameter for decoding text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContentType {
    pub media: String,
    pub params: Vec<(String, String)>,
    pub charset: Option<u64>,
    /// A parameter with an unassigned code ended the list early (what came before is kept).
    pub unknown_params: bool,
}

impl ContentType {
    pub fn new(media: &str) -> ContentType {
        ContentType { media: media.to_string(), ..ContentType::default() }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The media type alone, lower case.
    pub fn essence(&self) -> String {
        self.media.to_ascii_lowercase()
    }

    pub fn is_multipart(&self) -> bool {
        let m = self.essence();
        m.starts_with("application/vnd.wap.multipart.") || m.starts_with("multipart/")
    }

    /// Text the user reads or the bridge interprets: text/* and SMIL.
    pub fn is_text(&self) -> bool {
        let m = self.essence();
        m.starts_with("text/") || m == "application/smil"
    }
}

pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf` in the whole input, for error positions.
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0, base: 0 }
    }

    /// Offset of the next byte in the whole input.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn rest(&mut self) -> &'a [u8] {
        let rest = &self.buf[self.pos..];
        self.pos = self.buf.len();
        rest
    }

    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub fn err(&self, what: &str, problem: impl Into<String>) -> DecodeError {
        DecodeError::new(what, problem, self.offset())
    }

    pub fn u8(&mut self, what: &str) -> Result<u8> {
        let b = self.peek().ok_or_else(|| self.err(what, "ends early"))?;
        self.pos += 1;
        Ok(b)
    }

    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.err(what, format!("needs {n} bytes, {} left", self.remaining())));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// The next `n` bytes as a reader of their own.
    pub fn sub(&mut self, n: usize, what: &str) -> Result<Reader<'a>> {
        let base = self.offset();
        Ok(Reader { buf: self.take(n, what)?, pos: 0, base })
    }

    /// Uintvar: 7 bits per octet, at most 5 octets, at most 32 bits.
    pub fn uintvar(&mut self, what: &str) -> Result<u32> {
        let start = self.offset();
        let mut v: u64 = 0;
        for _ in 0..5 {
            let b = self.u8(what)?;
            v = (v << 7) | u64::from(b & 0x7F);
            if b & 0x80 == 0 {
                return u32::try_from(v).map_err(|_| DecodeError::new(what, "uintvar over 32 bits", start));
            }
        }
        Err(DecodeError::new(what, "uintvar longer than 5 octets", start))
    }

    pub fn short_integer(&mut self, what: &str) -> Result<u8> {
        let b = self.u8(what)?;
        if b & 0x80 == 0 {
            return Err(DecodeError::new(
                what,
                format!("expected a short integer, found 0x{b:02x}"),
                self.offset() - 1,
            ));
        }
        Ok(b & 0x7F)
    }

    /// Long-integer: a length octet (0–30) and that many big-endian octets; we take up to 8.
    pub fn long_integer(&mut self, what: &str) -> Result<u64> {
        let at = self.offset();
        let n = self.u8(what)?;
        if n > 30 {
            return Err(DecodeError::new(what, format!("expected a long integer, found 0x{n:02x}"), at));
        }
        let bytes = self.take(n as usize, what)?;
        let significant = &bytes[bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len())..];
        if significant.len() > 8 {
            return Err(DecodeError::new(what, format!("{n}-octet integer is over 64 bits"), at));
        }
        Ok(significant.iter().fold(0, |v, &b| (v << 8) | u64::from(b)))
    }

    /// Integer-value: a short or a long integer.
    pub fn integer(&mut self, what: &str) -> Result<u64> {
        match self.peek() {
            Some(b) if b & 0x80 != 0 => Ok(u64::from(self.short_integer(what)?)),
            _ => self.long_integer(what),
        }
    }

    /// Value-length: a short length (0–30) or 31 followed by a uintvar; checked against what is left.
    pub fn value_length(&mut self, what: &str) -> Result<usize> {
        let at = self.offset();
        let n = match self.u8(what)? {
            n @ 0..=30 => n as usize,
            31 => self.uintvar(what)? as usize,
            b => return Err(DecodeError::new(what, format!("expected a value length, found 0x{b:02x}"), at)),
        };
        if n > self.remaining() {
            return Err(DecodeError::new(what, format!("value length {n} but {} bytes left", self.remaining()), at));
        }
        Ok(n)
    }

    /// Text-string: optional quote (0x7F), bytes, NUL. Returns the bytes between.
    pub fn text_bytes(&mut self, what: &str) -> Result<&'a [u8]> {
        if self.peek() == Some(0x7F) {
            self.pos += 1;
        }
        let rest = &self.buf[self.pos..];
        let Some(end) = rest.iter().position(|&b| b == 0) else {
            return Err(self.err(what, "text has no terminating NUL"));
        };
        self.pos += end + 1;
        Ok(&rest[..end])
    }

    /// A Text-string as a Rust string: UTF-8 if it is, else ISO-8859-1.
    pub fn text(&mut self, what: &str) -> Result<String> {
        Ok(latin1_or_utf8(self.text_bytes(what)?))
    }

    /// Quoted-string (0x22 … NUL) or, leniently, a plain Text-string.
    pub fn quoted(&mut self, what: &str) -> Result<String> {
        if self.peek() == Some(0x22) {
            self.pos += 1;
        }
        self.text(what)
    }

    /// Text-value: No-value (a lone NUL), Token-text or Quoted-string.
    pub fn text_value(&mut self, what: &str) -> Result<String> {
        self.quoted(what)
    }

    /// Encoded-string-value: a Text-string, or value-length + charset + text.
    pub fn encoded_string(&mut self, what: &str) -> Result<Text> {
        match self.peek() {
            Some(0..=31) => {
                let len = self.value_length(what)?;
                let mut v = self.sub(len, what)?;
                let mib = match v.peek() {
                    // Any-charset, or (leniently) no charset at all before the text.
                    Some(0x80) => {
                        v.pos += 1;
                        None
                    }
                    Some(32..=0x7F) | None => None,
                    _ => Some(v.integer(what)?),
                };
                let mut bytes = v.rest();
                if bytes.first() == Some(&0x7F) {
                    bytes = &bytes[1..];
                }
                Ok(charset::decode(mib, strip_nul(bytes, mib)))
            }
            _ => Ok(charset::decode(None, self.text_bytes(what)?)),
        }
    }

    /// Content-type-value: constrained media (a short code or a token) or the general form
    /// with parameters.
    pub fn content_type(&mut self, what: &str) -> Result<ContentType> {
        match self.peek() {
            None => Err(self.err(what, "ends early")),
            Some(b) if b & 0x80 != 0 => {
                let code = self.short_integer(what)?;
                Ok(ContentType::new(&media_name(u64::from(code))))
            }
            Some(32..=127) => Ok(ContentType::new(&self.text(what)?)),
            Some(_) => {
                let len = self.value_length(what)?;
                let mut v = self.sub(len, what)?;
                let media = match v.peek() {
                    Some(32..=127) => v.text(what)?,
                    _ => media_name(v.integer(what)?),
                };
                let mut ct = ContentType::new(&media);
                v.params(&mut ct, what)?;
                Ok(ct)
            }
        }
    }

    /// Parameters until the end of this reader (a value-length's contents).
    pub fn params(&mut self, ct: &mut ContentType, what: &str) -> Result<()> {
        while !self.is_empty() {
            self.parameter(ct, what)?;
        }
        Ok(())
    }

    /// One Typed- or Untyped-parameter, added to `ct`.
    fn parameter(&mut self, ct: &mut ContentType, what: &str) -> Result<()> {
        let what = &format!("{what} parameter");
        let (name, value) = match self.peek() {
            Some(32..=127) => {
                let name = self.text(what)?.to_ascii_lowercase();
                let value = match self.peek() {
                    Some(0) => {
                        self.pos += 1;
                        String::new()
                    }
                    Some(b) if b & 0x80 != 0 || b <= 30 => self.integer(what)?.to_string(),
                    _ => self.text_value(what)?,
                };
                (name, value)
            }
            _ => {
                let code = self.integer(what)?;
                let Some((name, kind)) = tables::param(code) else {
                    // Its value's shape is unknown, so the rest cannot be read: keep what was.
                    self.rest();
                    ct.unknown_params = true;
                    return Ok(());
                };
                (name.to_string(), self.typed_value(kind, ct, what)?)
            }
        };
        if name == "charset" && ct.charset.is_none() {
            ct.charset = tables::charset_mib(&value);
        }
        ct.params.push((name, value));
        Ok(())
    }

    fn typed_value(&mut self, kind: ParamKind, ct: &mut ContentType, what: &str) -> Result<String> {
        Ok(match kind {
            ParamKind::Charset => match self.peek() {
                Some(0x80) => {
                    self.pos += 1;
                    "*".to_string()
                }
                Some(32..=127) => self.text(what)?,
                _ => {
                    let mib = self.integer(what)?;
                    ct.charset = Some(mib);
                    tables::charset_name(mib).map(str::to_string).unwrap_or_else(|| mib.to_string())
                }
            },
            ParamKind::QValue => self.uintvar(what)?.to_string(),
            ParamKind::Integer | ParamKind::Date => self.integer(what)?.to_string(),
            ParamKind::ShortInteger => self.short_integer(what)?.to_string(),
            ParamKind::TextString => self.text(what)?,
            ParamKind::TextValue => self.text_value(what)?,
            ParamKind::Version | ParamKind::FieldName | ParamKind::ConstrainedMedia => match self.peek() {
                Some(b) if b & 0x80 != 0 => {
                    let code = u64::from(self.short_integer(what)?);
                    match kind {
                        ParamKind::ConstrainedMedia => media_name(code),
                        ParamKind::Version => format!("{}.{}", code >> 4, code & 0x0F),
                        _ => tables::header_name(code as u8).unwrap_or("unknown").to_string(),
                    }
                }
                _ => self.text(what)?,
            },
            ParamKind::NoValue => {
                if self.u8(what)? != 0 {
                    return Err(self.err(what, "expected No-value (0x00)"));
                }
                String::new()
            }
        })
    }

    /// Skips any header value by its first octet (WSP §8.4.1.2) and returns its bytes.
    pub fn skip_value(&mut self, what: &str) -> Result<&'a [u8]> {
        let start = self.pos;
        match self.peek() {
            None => return Err(self.err(what, "ends early")),
            Some(0..=30) | Some(31) => {
                let n = self.value_length(what)?;
                self.take(n, what)?;
            }
            Some(32..=127) => {
                self.text_bytes(what)?;
            }
            Some(_) => self.pos += 1,
        }
        Ok(&self.buf[start..self.pos])
    }
}

/// A well-known media code's name; an unassigned code is kept visible rather than dropped.
fn media_name(code: u64) -> String {
    tables::content_type_name(code).map(str::to_string).unwrap_or_else(|| format!("application/x-wsp-0x{code:02x}"))
}

/// Text in a value-length: a trailing NUL terminator (two for 16-bit charsets) is dropped.
fn strip_nul(bytes: &[u8], mib: Option<u64>) -> &[u8] {
    let wide = matches!(mib, Some(1000 | 1013 | 1014 | 1015));
    match bytes {
        [rest @ .., 0, 0] if wide && bytes.len().is_multiple_of(2) => rest,
        [rest @ .., 0] => rest,
        _ => bytes,
    }
}

pub fn latin1_or_utf8(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uintvar_limits() {
        assert_eq!(Reader::new(&[0x00]).uintvar("x").unwrap(), 0);
        assert_eq!(Reader::new(&[0x81, 0x00]).uintvar("x").unwrap(), 128);
        assert_eq!(Reader::new(&[0x8F, 0xFF, 0xFF, 0xFF, 0x7F]).uintvar("x").unwrap(), u32::MAX);
        assert!(Reader::new(&[0x9F, 0xFF, 0xFF, 0xFF, 0x7F]).uintvar("x").unwrap_err().problem.contains("32 bits"));
        assert!(Reader::new(&[0x81, 0x81, 0x81, 0x81, 0x81, 0x01]).uintvar("x").is_err());
        assert!(Reader::new(&[0x81]).uintvar("x").unwrap_err().problem.contains("ends early"));
    }

    #[test]
    fn integers_and_lengths() {
        assert_eq!(Reader::new(&[0x83]).integer("x").unwrap(), 3);
        assert_eq!(Reader::new(&[0x02, 0x01, 0x00]).integer("x").unwrap(), 256);
        assert!(Reader::new(&[0x03, 0x01]).long_integer("x").is_err());
        assert!(Reader::new(&[0x09, 1, 1, 1, 1, 1, 1, 1, 1, 1]).long_integer("x").is_err());
        assert_eq!(
            Reader::new(&[0x1F, 0x81, 0x00]).value_length("x").unwrap_err().problem,
            "value length 128 but 0 bytes left"
        );
        assert_eq!(Reader::new(&[0x02, 0, 0]).value_length("x").unwrap(), 2);
    }

    #[test]
    fn text_forms() {
        assert_eq!(Reader::new(b"\x7F\xe4\x00").text("x").unwrap(), "ä");
        assert_eq!(Reader::new(b"\"<a>\x00").quoted("x").unwrap(), "<a>");
        assert!(Reader::new(b"abc").text("x").unwrap_err().problem.contains("NUL"));
        // Encoded-string-value with UTF-8 and with UTF-16 (embedded NULs, two-byte terminator).
        assert_eq!(Reader::new(b"\x05\xEA\xC3\xA4x\x00").encoded_string("x").unwrap().text, "äx");
        assert_eq!(Reader::new(b"\x09\x02\x03\xF7\xFE\xFF\x00A\x00\x00").encoded_string("x").unwrap().text, "A");
    }

    #[test]
    fn content_types() {
        assert_eq!(Reader::new(&[0x83]).content_type("ct").unwrap().media, "text/plain");
        let ct = Reader::new(b"\x19\xB3\x89application/smil\x00\x8A<A0>\x00").content_type("ct").unwrap();
        assert_eq!(ct.media, "application/vnd.wap.multipart.related");
        assert_eq!(ct.params, vec![("type".into(), "application/smil".into()), ("start".into(), "<A0>".into())]);
        let ct = Reader::new(b"\x0A\x83\x81\xEA\x85a.txt\x00").content_type("ct").unwrap();
        assert_eq!((ct.param("charset"), ct.param("name"), ct.charset), (Some("utf-8"), Some("a.txt"), Some(106)));
        let ct = Reader::new(b"\x0Fimage/x\x00Name\x00b\x00").content_type("ct").unwrap();
        assert_eq!(ct.param("name"), Some("b"));
        let ct = Reader::new(b"\x06\x83\x81\xEA\xFF\x01\x02").content_type("ct").unwrap();
        assert_eq!((ct.param("charset"), ct.unknown_params), (Some("utf-8"), true));
        let ct = Reader::new(b"\x04\x83x\x00\x00").content_type("ct").unwrap();
        assert_eq!(ct.param("x"), Some(""));
    }

    #[test]
    fn tables_line_up() {
        assert_eq!(tables::content_type_code("application/vnd.wap.mms-message"), Some(0x3E));
        assert_eq!(tables::content_type_code("application/vnd.wap.multipart.related"), Some(0x33));
        assert_eq!(tables::content_type_code("application/vnd.wap.multipart.mixed"), Some(0x23));
        assert_eq!(tables::content_type_code("image/jpeg"), Some(0x1E));
        assert_eq!(tables::content_type_name(0x52), Some("application/mikey"));
        assert_eq!(tables::header_name(0x40), Some("Content-ID"));
        assert_eq!(tables::header_name(0x2F), Some("X-Wap-Application-Id"));
        assert_eq!(tables::header_name(0x47), Some("Cache-Control"));
    }
}
