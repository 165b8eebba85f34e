//! TP-Data-Coding-Scheme (3GPP TS 23.038 §4).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Alphabet {
    Gsm7,
    #[serde(rename = "8bit")]
    EightBit,
    Ucs2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MessageWaiting {
    pub active: bool,
    /// 0 voicemail, 1 fax, 2 e-mail, 3 other.
    pub kind: u8,
    /// Whether the message itself is to be stored (false: "discard message" group).
    pub store: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Dcs {
    pub raw: u8,
    pub alphabet: Alphabet,
    pub class: Option<u8>,
    pub compressed: bool,
    pub auto_delete: bool,
    pub message_waiting: Option<MessageWaiting>,
}

impl Dcs {
    pub fn decode(raw: u8) -> Dcs {
        let mut d = Dcs {
            raw,
            alphabet: Alphabet::Gsm7,
            class: None,
            compressed: false,
            auto_delete: false,
            message_waiting: None,
        };
        let alphabet = |bits: u8| match bits & 0x03 {
            1 => Alphabet::EightBit,
            2 => Alphabet::Ucs2,
            _ => Alphabet::Gsm7, // 3 is reserved: treat as the default alphabet
        };
        match raw >> 4 {
            0x0..=0x7 => {
                d.auto_delete = raw & 0x40 != 0;
                d.compressed = raw & 0x20 != 0;
                d.alphabet = alphabet(raw >> 2);
                if raw & 0x10 != 0 {
                    d.class = Some(raw & 0x03);
                }
            }
            0xC..=0xE => {
                d.alphabet = if raw >> 4 == 0xE { Alphabet::Ucs2 } else { Alphabet::Gsm7 };
                d.message_waiting =
                    Some(MessageWaiting { active: raw & 0x08 != 0, kind: raw & 0x03, store: raw >> 4 != 0xC });
            }
            0xF => {
                d.alphabet = if raw & 0x04 != 0 { Alphabet::EightBit } else { Alphabet::Gsm7 };
                d.class = Some(raw & 0x03);
            }
            _ => {} // 0x8..=0xB reserved: default alphabet
        }
        d
    }

    /// The general-group DCS for an alphabet and optional class.
    pub fn encode(alphabet: Alphabet, class: Option<u8>) -> u8 {
        let a = match alphabet {
            Alphabet::Gsm7 => 0x00,
            Alphabet::EightBit => 0x04,
            Alphabet::Ucs2 => 0x08,
        };
        match class {
            Some(c) => 0x10 | a | (c & 0x03),
            None => a,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups() {
        assert_eq!(Dcs::decode(0x00).alphabet, Alphabet::Gsm7);
        assert_eq!(Dcs::decode(0x08).alphabet, Alphabet::Ucs2);
        let c = Dcs::decode(0x11);
        assert_eq!((c.alphabet, c.class), (Alphabet::Gsm7, Some(1)));
        assert!(Dcs::decode(0x20).compressed);
        assert!(Dcs::decode(0x40).auto_delete);
        let f = Dcs::decode(0xF6);
        assert_eq!((f.alphabet, f.class), (Alphabet::EightBit, Some(2)));
        let m = Dcs::decode(0xC8).message_waiting.unwrap();
        assert_eq!((m.active, m.kind, m.store), (true, 0, false));
        assert_eq!(Dcs::decode(0xE9).alphabet, Alphabet::Ucs2);
        assert_eq!(Dcs::encode(Alphabet::Ucs2, None), 0x08);
        assert_eq!(Dcs::encode(Alphabet::Gsm7, Some(2)), 0x12);
    }
}
