//! The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1), the
//! national language shift tables, and septet packing.

use super::national::{self, Language};
use super::{Result, SmsError};

/// Escape to the extension (single-shift) table.
pub const ESC: u8 = 0x1B;

/// The default alphabet; index = septet. 0x1B is the escape and never a character.
const DEFAULT: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{A0}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The default extension table: (septet after ESC, character).
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// Which tables a message uses: the default ones, or national ones announced in the UDH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Tables {
    pub locking: Option<Language>,
    pub single: Option<Language>,
}

/// One character as septets: one, or escape + one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Septets {
    One(u8),
    Escaped(u8),
}

impl Septets {
    pub fn count(self) -> usize {
        match self {
            Septets::One(_) => 1,
            Septets::Escaped(_) => 2,
        }
    }
}

/// Reverse of [`DEFAULT`] for code points below U+0400 (0xFF: not in the alphabet), built
/// at compile time so encoding is one lookup per character.
const REVERSE: [u8; 0x400] = {
    let mut t = [0xFFu8; 0x400];
    let mut i = 0;
    while i < 128 {
        let c = DEFAULT[i] as usize;
        if i != ESC as usize && c < 0x400 {
            t[c] = i as u8;
        }
        i += 1;
    }
    t
};

fn default_index(c: char) -> Option<u8> {
    let i = *REVERSE.get(c as usize)?;
    (i != 0xFF).then_some(i)
}

fn extension_index(c: char) -> Option<u8> {
    Some(match c {
        '\u{0C}' => 0x0A,
        '^' => 0x14,
        '{' => 0x28,
        '}' => 0x29,
        '\\' => 0x2F,
        '[' => 0x3C,
        '~' => 0x3D,
        ']' => 0x3E,
        '|' => 0x40,
        '€' => 0x65,
        _ => return None,
    })
}

impl Tables {
    pub const DEFAULT: Tables = Tables { locking: None, single: None };

    /// The septets for a character, if these tables have it.
    pub fn encode_char(&self, c: char) -> Option<Septets> {
        match self.locking.and_then(national::locking_shift) {
            Some(table) => table.iter().position(|&d| d == Some(c)).filter(|&i| i != ESC as usize),
            None => default_index(c).map(usize::from),
        }
        .map(|i| Septets::One(i as u8))
        .or_else(|| match self.single {
            Some(lang) => national::single_shift(lang)
                .iter()
                .position(|&d| d == Some(c))
                .filter(|&i| i != ESC as usize)
                .map(|i| Septets::Escaped(i as u8)),
            None => extension_index(c).map(Septets::Escaped),
        })
    }

    fn base(&self, septet: u8) -> char {
        match self.locking.and_then(national::locking_shift) {
            Some(t) => t[septet as usize & 0x7F].unwrap_or(' '),
            None => DEFAULT[septet as usize & 0x7F],
        }
    }

    fn extended(&self, septet: u8) -> Option<char> {
        match self.single {
            Some(lang) => national::single_shift(lang)[septet as usize & 0x7F],
            None => EXTENSION.iter().find(|(s, _)| *s == septet).map(|(_, c)| *c),
        }
    }

    /// Septets needed for `text`, or None if a character is not in these tables.
    pub fn septet_count(&self, text: &str) -> Option<usize> {
        text.chars().map(|c| self.encode_char(c).map(Septets::count)).sum()
    }
}

/// Whether every character is in the default alphabet or its extension.
pub fn is_gsm(text: &str) -> bool {
    Tables::DEFAULT.septet_count(text).is_some()
}

/// Septets of ASCII characters in the default tables: `s`, `ESC << 8 | s`, or 0xFFFF.
const ASCII: [u16; 128] = {
    let mut t = [0xFFFFu16; 128];
    let mut c = 0;
    while c < 128 {
        if REVERSE[c] != 0xFF {
            t[c] = REVERSE[c] as u16;
        }
        c += 1;
    }
    let ext: [(u8, u8); 9] = [
        (b'^', 0x14),
        (b'{', 0x28),
        (b'}', 0x29),
        (b'\\', 0x2F),
        (b'[', 0x3C),
        (b'~', 0x3D),
        (b']', 0x3E),
        (b'|', 0x40),
        (0x0C, 0x0A),
    ];
    let mut i = 0;
    while i < ext.len() {
        t[ext[i].0 as usize] = (ESC as u16) << 8 | ext[i].1 as u16;
        i += 1;
    }
    t
};

/// Encodes to unpacked septets (one per octet). Fails on the first character the tables lack.
pub fn encode(text: &str, tables: &Tables) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() + 8);
    encode_into(&mut out, text, tables).map_err(|(c, i)| not_gsm(c, i))?;
    Ok(out)
}

/// [`encode`] appending to `out`; the error is the first character the tables lack and its
/// index, without building a message (callers trying several encodings discard it).
pub fn encode_into(out: &mut Vec<u8>, text: &str, tables: &Tables) -> std::result::Result<(), (char, usize)> {
    // Fast path: plain ASCII in the default tables, one table lookup per byte.
    if *tables == Tables::DEFAULT && text.is_ascii() {
        for (i, &b) in text.as_bytes().iter().enumerate() {
            match ASCII[b as usize] {
                0xFFFF => return Err((b as char, i)),
                s if s > 0xFF => out.extend_from_slice(&[ESC, s as u8]),
                s => out.push(s as u8),
            }
        }
        return Ok(());
    }
    for (i, c) in text.chars().enumerate() {
        match tables.encode_char(c) {
            Some(Septets::One(s)) => out.push(s),
            Some(Septets::Escaped(s)) => out.extend_from_slice(&[ESC, s]),
            None => return Err((c, i)),
        }
    }
    Ok(())
}

fn not_gsm(c: char, at: usize) -> SmsError {
    SmsError::new(format!("character {c:?} (U+{:04X}) is not in the GSM 7-bit alphabet", c as u32), at)
}

/// Lookalikes some senders map into GSM 7-bit rather than switching to UCS-2: Greek
/// capitals that look Latin, and small c-cedilla (as capital, 0x09).
pub fn transliterate(c: char) -> Option<char> {
    Some(match c {
        'Α' => 'A',
        'Β' => 'B',
        'Ε' => 'E',
        'Ζ' => 'Z',
        'Η' => 'H',
        'Ι' => 'I',
        'Κ' => 'K',
        'Μ' => 'M',
        'Ν' => 'N',
        'Ο' => 'O',
        'Ρ' => 'P',
        'Τ' => 'T',
        'Υ' => 'Y',
        'Χ' => 'X',
        'ç' => 'Ç',
        _ => return None,
    })
}

/// Decodes unpacked septets. An escape followed by an unassigned code shows the base
/// character (TS 23.038 §6.2.1.1); a lone trailing escape shows as a no-break space.
pub fn decode(septets: &[u8], tables: &Tables) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut i = 0;
    while i < septets.len() {
        let s = septets[i] & 0x7F;
        if s == ESC {
            match septets.get(i + 1).map(|n| n & 0x7F) {
                Some(ESC) | None => out.push('\u{A0}'),
                Some(n) => {
                    out.push(tables.extended(n).unwrap_or_else(|| tables.base(n)));
                    i += 1;
                }
            }
        } else {
            out.push(tables.base(s));
        }
        i += 1;
    }
    out
}

/// Packs septets into octets, LSB first, after `fill_bits` zero bits (used to align the
/// text after a user data header to a septet boundary).
pub fn pack(septets: &[u8], fill_bits: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity((fill_bits as usize + septets.len() * 7).div_ceil(8));
    pack_into(&mut out, septets, fill_bits);
    out
}

/// [`pack`], appending to `out`.
pub fn pack_into(out: &mut Vec<u8>, septets: &[u8], fill_bits: u8) {
    out.reserve((fill_bits as usize + septets.len() * 7).div_ceil(8));
    let mut bits = Bits { acc: 0, n: fill_bits as u32 };
    let mut rest = septets;
    // Until the stream is byte aligned; from there, eight septets make exactly seven octets.
    while bits.n != 0
        && let Some((&s, tail)) = rest.split_first()
    {
        bits.push(out, s);
        rest = tail;
    }
    let mut chunks = rest.chunks_exact(8);
    for c in &mut chunks {
        let v = c.iter().enumerate().fold(0u64, |v, (i, &s)| v | ((s & 0x7F) as u64) << (7 * i));
        out.extend_from_slice(&v.to_le_bytes()[..7]);
    }
    for &s in chunks.remainder() {
        bits.push(out, s);
    }
    if bits.n > 0 {
        out.push(bits.acc as u8);
    }
}

/// Septets accumulate LSB first and leave a whole octet at a time.
struct Bits {
    acc: u32,
    n: u32,
}

impl Bits {
    fn push(&mut self, out: &mut Vec<u8>, s: u8) {
        self.acc |= ((s & 0x7F) as u32) << self.n;
        self.n += 7;
        if self.n >= 8 {
            out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
}

/// Unpacks `count` septets after `fill_bits`. Errors if the octets are too few.
pub fn unpack(octets: &[u8], count: usize, fill_bits: u8) -> Result<Vec<u8>> {
    // No septets need no octets, whatever the fill.
    let need = if count == 0 { 0 } else { (fill_bits as usize + count * 7).div_ceil(8) };
    if octets.len() < need {
        return Err(SmsError::new(
            format!("{count} septets need {need} octets, only {} present", octets.len()),
            octets.len(),
        ));
    }
    let mut out = Vec::with_capacity(count);
    let mut bytes = octets.iter();
    // The fill bits are skipped from the first octet.
    let (mut acc, mut bits) = (0u32, 0u32);
    if fill_bits > 0 {
        acc = (*bytes.next().unwrap_or(&0) as u32) >> fill_bits;
        bits = 8 - fill_bits as u32;
    }
    while out.len() < count {
        if bits < 7 {
            acc |= (*bytes.next().unwrap_or(&0) as u32) << bits;
            bits += 8;
        }
        out.push((acc & 0x7F) as u8);
        acc >>= 7;
        bits -= 7;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_and_extension_character_round_trips() {
        for (i, &c) in DEFAULT.iter().enumerate() {
            if i as u8 == ESC {
                continue;
            }
            let s = encode(&c.to_string(), &Tables::DEFAULT).unwrap();
            assert_eq!(s, vec![i as u8], "{c:?}");
            assert_eq!(decode(&s, &Tables::DEFAULT), c.to_string());
        }
        for (code, c) in EXTENSION {
            let s = encode(&c.to_string(), &Tables::DEFAULT).unwrap();
            assert_eq!(s, vec![ESC, code], "{c:?}");
            assert_eq!(decode(&s, &Tables::DEFAULT), c.to_string());
        }
    }

    #[test]
    fn escape_edge_cases() {
        assert_eq!(decode(&[0x41, ESC], &Tables::DEFAULT), "A\u{A0}");
        // Unassigned extension code: the base character is shown.
        assert_eq!(decode(&[ESC, 0x41], &Tables::DEFAULT), "A");
        assert!(!is_gsm("\u{A0}"));
        assert!(encode("ç", &Tables::DEFAULT).is_err());
        assert_eq!(transliterate('ç'), Some('Ç'));
    }

    #[test]
    fn packing_matches_the_spec_example() {
        // "hellohello" from TS 23.038's worked example.
        let s = encode("hellohello", &Tables::DEFAULT).unwrap();
        assert_eq!(pack(&s, 0), [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]);
        assert_eq!(unpack(&pack(&s, 0), 10, 0).unwrap(), s);
        for fill in 0..7 {
            assert_eq!(unpack(&pack(&s, fill), s.len(), fill).unwrap(), s, "fill {fill}");
        }
        assert!(unpack(&[0xE8], 2, 0).is_err());
        assert_eq!(unpack(&[], 0, 3).unwrap(), Vec::<u8>::new()); // found by fuzzing
    }
}
