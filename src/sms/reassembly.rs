//! Joining the parts of a concatenated SMS. Pure: the store keeps the parts durably and
//! calls [`assemble`] when all are there, or when waiting for the rest has timed out.

use serde::{Deserialize, Serialize};

use super::gsm7::{self, Tables};
use super::national::Language;
use super::ucs2;

/// How a part's payload is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartEncoding {
    /// Unpacked septets, with the national tables from the part's header (language ids).
    Gsm7 { locking: Option<u8>, single: Option<u8> },
    /// UTF-16BE octets.
    Ucs2,
    /// Raw octets, shown as hex.
    Binary,
    /// Octets of a WAP push (port 2948): the parts make one push PDU, not text.
    WapPush,
}

/// One received part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub seq: u8,
    pub encoding: PartEncoding,
    pub payload: Vec<u8>,
}

impl PartEncoding {
    pub fn gsm7(tables: Tables) -> PartEncoding {
        PartEncoding::Gsm7 { locking: tables.locking.map(Language::id), single: tables.single.map(Language::id) }
    }

    fn decode(&self, payload: &[u8]) -> String {
        match *self {
            PartEncoding::Gsm7 { locking, single } => {
                let tables =
                    Tables { locking: locking.and_then(Language::from_id), single: single.and_then(Language::from_id) };
                gsm7::decode(payload, &tables)
            }
            // Lossy: a part from a buggy sender must not take the whole message down.
            PartEncoding::Ucs2 => ucs2::decode(payload)
                .unwrap_or_else(|_| ucs2::decode(&payload[..payload.len() - 1]).unwrap_or_default()),
            PartEncoding::Binary | PartEncoding::WapPush => payload.iter().map(|b| format!("{b:02X}")).collect(),
        }
    }
}

/// The message text from its parts (any order, duplicates ignored). Payloads of adjacent
/// parts with the same encoding are joined *before* decoding, so an escape or a surrogate
/// pair that a sender split across parts still comes out right. Missing parts show as
/// `[part N of M missing]`.
pub fn assemble(total: u8, parts: &[Part]) -> String {
    let mut by_seq: Vec<Option<&Part>> = vec![None; total as usize];
    for p in parts {
        if (1..=total).contains(&p.seq) && by_seq[p.seq as usize - 1].is_none() {
            by_seq[p.seq as usize - 1] = Some(p);
        }
    }
    let mut out = String::new();
    let mut run: Option<(PartEncoding, Vec<u8>)> = None;
    let flush = |run: &mut Option<(PartEncoding, Vec<u8>)>, out: &mut String| {
        if let Some((enc, bytes)) = run.take() {
            out.push_str(&enc.decode(&bytes));
        }
    };
    for (i, slot) in by_seq.iter().enumerate() {
        match slot {
            Some(p) => {
                if run.as_ref().is_some_and(|(e, _)| *e != p.encoding) {
                    flush(&mut run, &mut out);
                }
                run.get_or_insert_with(|| (p.encoding, Vec::new())).1.extend_from_slice(&p.payload);
            }
            None => {
                flush(&mut run, &mut out);
                out.push_str(&format!("[part {} of {total} missing]", i + 1));
            }
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gsm(seq: u8, text: &str) -> Part {
        Part {
            seq,
            encoding: PartEncoding::gsm7(Tables::DEFAULT),
            payload: gsm7::encode(text, &Tables::DEFAULT).unwrap(),
        }
    }

    #[test]
    fn out_of_order_and_duplicate_parts_assemble_once() {
        let parts = [gsm(3, "c"), gsm(1, "a"), gsm(3, "c"), gsm(2, "b")];
        assert_eq!(assemble(3, &parts), "abc");
    }

    #[test]
    fn missing_parts_are_marked() {
        assert_eq!(assemble(3, &[gsm(1, "a"), gsm(3, "c")]), "a[part 2 of 3 missing]c");
        assert_eq!(assemble(2, &[]), "[part 1 of 2 missing][part 2 of 2 missing]");
    }

    #[test]
    fn escapes_and_surrogates_split_by_a_sender_are_repaired() {
        // ESC at the end of part 1, its character at the start of part 2.
        let p1 = Part { seq: 1, encoding: PartEncoding::gsm7(Tables::DEFAULT), payload: vec![0x61, 0x1B] };
        let p2 = Part { seq: 2, encoding: PartEncoding::gsm7(Tables::DEFAULT), payload: vec![0x65, 0x62] };
        assert_eq!(assemble(2, &[p2, p1]), "a€b");
        let bytes = ucs2::encode("😀");
        let u1 = Part { seq: 1, encoding: PartEncoding::Ucs2, payload: bytes[..2].to_vec() };
        let u2 = Part { seq: 2, encoding: PartEncoding::Ucs2, payload: bytes[2..].to_vec() };
        assert_eq!(assemble(2, &[u1, u2]), "😀");
    }
}
