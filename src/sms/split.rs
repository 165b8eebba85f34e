//! Choosing an encoding and splitting text into parts (3GPP TS 23.040 §9.2.3.24.1).
//!
//! A part never ends inside an escape sequence or a UTF-16 surrogate pair, and the room
//! taken by the user data header (concatenation, language shifts) is counted exactly.

use serde::Serialize;

use super::gsm7::{self, Tables};
use super::national::Language;
use super::{Result, SmsError, ucs2};

/// 140 octets of user data per SMS.
const UD_OCTETS: usize = 140;
/// An 8-bit-reference concatenation element: IEI, length, reference, total, sequence.
const CONCAT_IE: usize = 5;
/// A language shift element: IEI, length, language.
const LANGUAGE_IE: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextEncoding {
    Gsm7(Tables),
    Ucs2,
    /// The text's UTF-8 bytes with DCS 8-bit data (only on request).
    EightBit,
}

impl TextEncoding {
    pub fn name(&self) -> &'static str {
        match self {
            TextEncoding::Gsm7(_) => "gsm7",
            TextEncoding::Ucs2 => "ucs2",
            TextEncoding::EightBit => "8bit",
        }
    }

    fn tables(&self) -> Tables {
        match self {
            TextEncoding::Gsm7(t) => *t,
            _ => Tables::DEFAULT,
        }
    }

    /// Octets of user data header besides concatenation (language shift elements).
    fn language_octets(&self) -> usize {
        let t = self.tables();
        (t.single.is_some() as usize + t.locking.is_some() as usize) * LANGUAGE_IE
    }

    /// Units (septets, UTF-16 units or octets) that fit in one part.
    pub fn capacity(&self, multipart: bool) -> usize {
        let ies = self.language_octets() + if multipart { CONCAT_IE } else { 0 };
        let udh = if ies > 0 { ies + 1 } else { 0 };
        match self {
            TextEncoding::Gsm7(_) => (UD_OCTETS * 8 - (udh * 8).div_ceil(7) * 7) / 7,
            TextEncoding::Ucs2 => (UD_OCTETS - udh) / 2,
            TextEncoding::EightBit => UD_OCTETS - udh,
        }
    }
}

/// What a sender may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitOptions {
    /// National tables allowed when they avoid UCS-2 (`bridge.sms.national_languages`).
    pub languages: Vec<Language>,
    /// Refuse texts needing more parts than this.
    pub max_parts: usize,
    /// Force an encoding instead of choosing one.
    pub force: Option<TextEncoding>,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions { languages: Vec::new(), max_parts: 10, force: None }
    }
}

/// The answer to "how long is this SMS?", for user interfaces and the send API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Segments {
    #[serde(serialize_with = "encoding_name")]
    pub encoding: TextEncoding,
    pub parts: usize,
    /// Units (septets for GSM 7-bit, UTF-16 units for UCS-2, octets for 8-bit) still free
    /// in the last part.
    pub remaining: usize,
}

fn encoding_name<S: serde::Serializer>(e: &TextEncoding, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(e.name())
}

/// The text of one part, encoded, without any header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Unpacked septets.
    Septets(Vec<u8>),
    /// UTF-16BE or raw octets.
    Octets(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub encoding: TextEncoding,
    pub parts: Vec<Payload>,
}

/// The whole text in one encoding (septets, UTF-16BE or UTF-8), or None if it cannot
/// carry a character.
fn encode_all(text: &str, enc: &TextEncoding) -> Option<Vec<u8>> {
    match enc {
        TextEncoding::Gsm7(t) => {
            let mut out = Vec::with_capacity(text.len() + 8);
            gsm7::encode_into(&mut out, text, t).ok().map(|_| out)
        }
        TextEncoding::Ucs2 => Some(ucs2::encode(text)),
        TextEncoding::EightBit => Some(text.as_bytes().to_vec()),
    }
}

impl TextEncoding {
    /// Octets per unit in the encoded buffer.
    fn unit_octets(&self) -> usize {
        if *self == TextEncoding::Ucs2 { 2 } else { 1 }
    }

    /// Whether a part may not end at octet `end` of `buf`: it would cut an escape
    /// sequence, a surrogate pair or a UTF-8 sequence.
    fn cuts_a_character(&self, buf: &[u8], end: usize) -> bool {
        match self {
            TextEncoding::Gsm7(_) => buf[end - 1] == gsm7::ESC,
            TextEncoding::Ucs2 => (0xD8..=0xDB).contains(&buf[end - 2]),
            TextEncoding::EightBit => buf.get(end).is_some_and(|b| b & 0xC0 == 0x80),
        }
    }
}

/// Where the parts of an encoded text end (octet offsets) and the units left in the
/// last part: cut at capacity, one unit earlier where a cut would split a character.
fn plan(buf: &[u8], enc: &TextEncoding) -> (Vec<usize>, usize) {
    let unit = enc.unit_octets();
    let single = enc.capacity(false) * unit;
    if buf.len() <= single {
        return (vec![buf.len()], (single - buf.len()) / unit);
    }
    let cap = enc.capacity(true) * unit;
    let mut ends = Vec::with_capacity(buf.len() / cap + 1);
    let mut start = 0;
    while buf.len() - start > cap {
        let mut end = start + cap;
        while enc.cuts_a_character(buf, end) {
            end -= unit;
        }
        ends.push(end);
        start = end;
    }
    ends.push(buf.len());
    (ends, (cap - (buf.len() - start)) / unit)
}

/// The encodings worth trying, best first: default GSM, national tables, UCS-2.
fn candidates(opts: &SplitOptions) -> impl Iterator<Item = TextEncoding> + '_ {
    let forced = opts.force;
    let national = opts.languages.iter().filter(move |_| forced.is_none()).flat_map(|&l| {
        let locking = super::national::locking_shift(l).is_some();
        [
            Some(Tables { locking: None, single: Some(l) }),
            locking.then_some(Tables { locking: Some(l), single: Some(l) }),
            locking.then_some(Tables { locking: Some(l), single: None }),
        ]
        .into_iter()
        .flatten()
        .map(TextEncoding::Gsm7)
    });
    let (first, last) = match forced {
        Some(f) => (f, None),
        None => (TextEncoding::Gsm7(Tables::DEFAULT), Some(TextEncoding::Ucs2)),
    };
    std::iter::once(first).chain(national).chain(last)
}

/// Picks the encoding: GSM 7-bit default if it fits the text; else the national tables
/// (if allowed) that carry it in the fewest parts; else UCS-2.
fn choose(text: &str, opts: &SplitOptions) -> Result<(TextEncoding, Vec<u8>, Vec<usize>, usize)> {
    let mut best: Option<(TextEncoding, Vec<u8>, Vec<usize>, usize)> = None;
    for enc in candidates(opts) {
        let Some(buf) = encode_all(text, &enc) else { continue };
        let (ends, remaining) = plan(&buf, &enc);
        // Default GSM needs no header and wins whenever it can carry the text.
        if matches!(enc, TextEncoding::Gsm7(t) if t == Tables::DEFAULT) || opts.force.is_some() {
            return Ok((enc, buf, ends, remaining));
        }
        let better = match &best {
            None => true,
            Some((b, _, bends, _)) => {
                ends.len() < bends.len() || (ends.len() == bends.len() && enc.language_octets() < b.language_octets())
            }
        };
        // UCS-2 is the fallback, taken only when no national table can carry the text.
        if enc == TextEncoding::Ucs2 && best.is_some() {
            break;
        }
        if better {
            best = Some((enc, buf, ends, remaining));
        }
    }
    best.ok_or_else(|| SmsError::new("the text has characters the chosen encoding cannot carry", 0))
}

pub fn segments(text: &str, opts: &SplitOptions) -> Result<Segments> {
    let (encoding, _, ends, remaining) = choose(text, opts)?;
    Ok(Segments { encoding, parts: ends.len(), remaining })
}

/// Splits and encodes `text`; errors beyond `max_parts` or if a forced encoding cannot
/// carry a character.
pub fn split(text: &str, opts: &SplitOptions) -> Result<Split> {
    let (encoding, buf, ends) = split_buffer(text, opts)?;
    let mut starts = std::iter::once(0).chain(ends.iter().copied());
    let parts = ends
        .iter()
        .map(|&end| {
            let piece = buf[starts.next().unwrap_or(0)..end].to_vec();
            match encoding {
                TextEncoding::Gsm7(_) => Payload::Septets(piece),
                _ => Payload::Octets(piece),
            }
        })
        .collect();
    Ok(Split { encoding, parts })
}

/// [`split`] without copying the parts: the encoded text (septets or octets) and where
/// each part ends in it.
pub fn split_buffer(text: &str, opts: &SplitOptions) -> Result<(TextEncoding, Vec<u8>, Vec<usize>)> {
    let (encoding, buf, ends, _) = choose(text, opts)?;
    if ends.len() > opts.max_parts {
        return Err(SmsError::new(
            format!("the text needs {} parts; at most {} are allowed", ends.len(), opts.max_parts),
            0,
        ));
    }
    Ok((encoding, buf, ends))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> SplitOptions {
        SplitOptions::default()
    }

    fn septets(p: &Payload) -> &[u8] {
        match p {
            Payload::Septets(s) => s,
            Payload::Octets(o) => o,
        }
    }

    #[test]
    fn capacities() {
        let g = TextEncoding::Gsm7(Tables::DEFAULT);
        assert_eq!((g.capacity(false), g.capacity(true)), (160, 153));
        assert_eq!((TextEncoding::Ucs2.capacity(false), TextEncoding::Ucs2.capacity(true)), (70, 67));
        let one = TextEncoding::Gsm7(Tables { locking: None, single: Some(Language::Turkish) });
        assert_eq!((one.capacity(false), one.capacity(true)), (155, 149));
        let two = TextEncoding::Gsm7(Tables { locking: Some(Language::Turkish), single: Some(Language::Turkish) });
        assert_eq!((two.capacity(false), two.capacity(true)), (152, 146));
    }

    #[test]
    fn gsm_lengths() {
        assert_eq!(segments(&"a".repeat(160), &opts()).unwrap().parts, 1);
        let s = segments(&"a".repeat(161), &opts()).unwrap();
        assert_eq!((s.parts, s.remaining), (2, 153 * 2 - 161));
        assert_eq!(segments(&"€".repeat(80), &opts()).unwrap().parts, 1);
        assert_eq!(segments(&"€".repeat(81), &opts()).unwrap().parts, 2);
    }

    #[test]
    fn an_escape_is_never_split() {
        // `€` at the 153rd position would straddle the boundary: it moves to part 2.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let s = split(&text, &opts()).unwrap();
        assert_eq!(s.parts.len(), 2);
        assert_eq!(septets(&s.parts[0]).len(), 152);
        assert_eq!(septets(&s.parts[1])[..3], [0x1B, 0x65, 0x62]);
    }

    #[test]
    fn a_surrogate_pair_is_never_split() {
        // An emoji starting at the 67th UTF-16 unit moves to the next part whole.
        let text = format!("{}😀xxxxx", "ж".repeat(66));
        let s = split(&text, &opts()).unwrap();
        assert_eq!(s.encoding, TextEncoding::Ucs2);
        assert_eq!(s.parts.len(), 2);
        assert_eq!(septets(&s.parts[0]).len(), 66 * 2);
        assert_eq!(septets(&s.parts[1])[..6], [0xD8, 0x3D, 0xDE, 0x00, 0x00, 0x78]);
        assert_eq!(segments("😀", &opts()).unwrap().remaining, 68);
    }

    #[test]
    fn national_tables_avoid_ucs2_when_enabled() {
        let text = "Türkçe ğüşıöç";
        assert_eq!(segments(text, &opts()).unwrap().encoding, TextEncoding::Ucs2);
        let tr = SplitOptions { languages: vec![Language::Turkish], ..opts() };
        let s = segments(text, &tr).unwrap();
        assert!(matches!(s.encoding, TextEncoding::Gsm7(t) if t != Tables::DEFAULT), "{s:?}");
        // A text the default alphabet carries never gets a language header.
        assert_eq!(segments("plain", &tr).unwrap().encoding, TextEncoding::Gsm7(Tables::DEFAULT));
    }

    #[test]
    fn too_many_parts_is_a_clear_error() {
        let o = SplitOptions { max_parts: 2, ..opts() };
        let e = split(&"a".repeat(153 * 2 + 1), &o).unwrap_err();
        assert_eq!(e.what, "the text needs 3 parts; at most 2 are allowed");
    }
}
