//! WSP multipart bodies (WAP-230 §8.5): a count, then per entry the header and data
//! lengths, the content type, the headers and the data.

use super::charset::{self, Text};
use super::headers::{self, Headers};
use super::wsp::{ContentType, Reader, Result};

/// How deep multiparts may nest (an alternative inside a related is the usual case).
const MAX_DEPTH: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub content_type: ContentType,
    pub headers: Headers,
    pub data: Vec<u8>,
    /// The entries of a nested multipart, decoded.
    pub parts: Vec<Part>,
}

impl Part {
    pub fn new(content_type: ContentType, data: Vec<u8>) -> Part {
        Part { content_type, headers: Headers::default(), data, parts: Vec::new() }
    }

    /// The part's own idea of its file name: a name or filename parameter, else its
    /// Content-Location. Not sanitised: see `crate::mms::safe_filename`.
    pub fn name(&self) -> Option<&str> {
        let ct = &self.content_type;
        ct.param("name")
            .or_else(|| ct.param("filename"))
            .or(self.headers.filename.as_deref())
            .or(self.headers.content_location.as_deref())
    }

    /// The text of a text/* or SMIL part, in its declared charset.
    pub fn text(&self) -> Option<Text> {
        self.content_type.is_text().then(|| charset::decode(self.content_type.charset, &self.data))
    }
}

pub fn decode(r: &mut Reader, what: &str) -> Result<Vec<Part>> {
    decode_at(r, what, 0)
}

fn decode_at(r: &mut Reader, what: &str, depth: usize) -> Result<Vec<Part>> {
    let at = r.offset();
    let count = r.uintvar(&format!("{what} entry count"))? as usize;
    // Each entry takes at least three bytes: refuse a count the data cannot hold before
    // reserving anything for it.
    if count > r.remaining() / 3 {
        let problem = format!("{count} entries declared but only {} bytes follow", r.remaining());
        return Err(super::error::DecodeError::new(format!("{what} entry count"), problem, at));
    }
    let mut parts = Vec::with_capacity(count);
    for i in 0..count {
        let what = format!("{what} part {}", i + 1);
        let headers_len = r.uintvar(&format!("{what} headers length"))? as usize;
        let data_len = r.uintvar(&format!("{what} data length"))? as usize;
        let mut h = r.sub(headers_len, &format!("{what} headers"))?;
        let content_type = h.content_type(&format!("{what} content type"))?;
        let headers = headers::read(&mut h, &format!("{what} header"))?;
        let data = r.take(data_len, &format!("{what} data"))?.to_vec();
        let mut part = Part { content_type, headers, data, parts: Vec::new() };
        if part.content_type.is_multipart() && depth < MAX_DEPTH {
            // A nested multipart that doesn't parse stays an opaque part.
            if let Ok(inner) = decode_at(&mut Reader::new(&part.data), &what, depth + 1) {
                part.parts = inner;
            }
        }
        parts.push(part);
    }
    Ok(parts)
}
