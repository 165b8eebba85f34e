//! `application/x-www-form-urlencoded` as Kannel reads and writes it, on bytes: a text in
//! UTF-16 or Latin-1 must reach the charset step untouched, so nothing here assumes UTF-8.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormError {
    /// A `%` not followed by two hex digits. Kannel logs and keeps such bytes; we refuse,
    /// since a client that sends them has lost its text already.
    #[error("bad percent escape at byte {0}")]
    BadEscape(usize),
}

/// A decoded (name, value) pair, raw bytes both.
pub type Pair = (Vec<u8>, Vec<u8>);

/// Splits a query string or form body into decoded (name, value) pairs, in order.
/// `+` is a space; empty pairs are skipped; a pair without `=` has an empty value.
pub fn parse_form(raw: &[u8]) -> Result<Vec<Pair>, FormError> {
    let mut pairs = Vec::new();
    let mut start = 0;
    for piece in raw.split(|&b| b == b'&') {
        if !piece.is_empty() {
            let (name, value) = match piece.iter().position(|&b| b == b'=') {
                Some(eq) => (&piece[..eq], &piece[eq + 1..]),
                None => (piece, &[][..]),
            };
            let value_at = start + name.len() + 1;
            pairs.push((decode(name, start)?, decode(value, value_at)?));
        }
        start += piece.len() + 1;
    }
    Ok(pairs)
}

fn decode(s: &[u8], offset: usize) -> Result<Vec<u8>, FormError> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let hi = s.get(i + 1).and_then(|&c| hex(c));
                let lo = s.get(i + 2).and_then(|&c| hex(c));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(FormError::BadEscape(offset + i)),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Kannel's `octstr_url_encode`: space becomes `+`; letters, digits and `-_.!~*'()` stay;
/// every other byte is `%XX` in upper case.
pub fn url_encode(s: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s {
        match b {
            b' ' => out.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')' => {
                out.push(b as char)
            }
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
    }
    out
}
