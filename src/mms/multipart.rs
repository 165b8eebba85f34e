//! WSP multipart bodies (WAP-230 §8.5): a count, then per entry the header and data
//! lengths, the content type, the headers and the data.

use super::charset::{self, Text};
use super::error::{DecodeError, TooManyParts};
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

/// Decodes a multipart body of at most `max_parts` entries, counting every level of
/// nesting.
pub fn decode(r: &mut Reader, what: &str, max_parts: usize) -> Result<Vec<Part>> {
    decode_at(r, what, 0, &mut Budget { used: 0, limit: max_parts })
}

/// Entries declared so far in the whole message, against the caller's limit.
struct Budget {
    used: usize,
    limit: usize,
}

fn decode_at(r: &mut Reader, what: &str, depth: usize, budget: &mut Budget) -> Result<Vec<Part>> {
    let at = r.offset();
    let count = r.uintvar(&format!("{what} entry count"))? as usize;
    // Each entry takes at least three bytes: refuse a count the data cannot hold.
    if count > r.remaining() / 3 {
        let problem = format!("{count} entries declared but only {} bytes follow", r.remaining());
        return Err(DecodeError::new(format!("{what} entry count"), problem, at));
    }
    budget.used = budget.used.saturating_add(count);
    if budget.used > budget.limit {
        let over = TooManyParts { declared: budget.used, limit: budget.limit };
        return Err(DecodeError::too_many_parts(format!("{what} entry count"), over, at));
    }
    // Grown as entries are read, not reserved from the count: a Part is far bigger than
    // the three bytes an entry may take.
    let mut parts = Vec::new();
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
            let used = budget.used;
            match decode_at(&mut Reader::new(&part.data), &what, depth + 1, budget) {
                Ok(inner) => part.parts = inner,
                Err(e) if e.parts_over_limit().is_some() => return Err(e),
                // A nested multipart that doesn't parse stays an opaque part.
                Err(_) => budget.used = used,
            }
        }
        parts.push(part);
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One entry: no headers beyond a well-known content type (text/plain), `data`.
    fn entry(data: &[u8]) -> Vec<u8> {
        [&[0x01, data.len() as u8, 0x83][..], data].concat()
    }

    #[test]
    fn a_huge_count_over_a_few_bytes_is_refused_at_once() {
        // uintvar 2^32-1, then a single entry's worth of bytes.
        let bytes = [&[0x8F, 0xFF, 0xFF, 0xFF, 0x7F][..], &entry(b"hi")].concat();
        let started = std::time::Instant::now();
        let e = decode(&mut Reader::new(&bytes), "body", usize::MAX).unwrap_err();
        assert!(e.problem.contains("4294967295 entries declared but only 5 bytes follow"), "{e}");
        assert_eq!(e.parts_over_limit(), None);
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
    }

    #[test]
    fn parts_over_the_limit_are_refused_counting_nested_ones() {
        let flat = |n: u8| [&[n][..], &entry(b"x").repeat(n as usize)].concat();
        assert_eq!(decode(&mut Reader::new(&flat(3)), "body", 3).unwrap().len(), 3);
        let e = decode(&mut Reader::new(&flat(4)), "body", 3).unwrap_err();
        assert_eq!(e.parts_over_limit(), Some(TooManyParts { declared: 4, limit: 3 }));
        assert!(e.to_string().contains("4 parts declared, over the limit of 3"), "{e}");

        // Two entries, the second a vnd.wap.multipart.mixed (0xA3) holding two more: four in all.
        let inner = flat(2);
        let nested = [&[0x02][..], &entry(b"x"), &[0x01, inner.len() as u8, 0xA3][..], &inner].concat();
        assert_eq!(decode(&mut Reader::new(&nested), "body", 4).unwrap()[1].parts.len(), 2);
        let e = decode(&mut Reader::new(&nested), "body", 3).unwrap_err();
        assert_eq!(e.parts_over_limit(), Some(TooManyParts { declared: 4, limit: 3 }));
    }
}
