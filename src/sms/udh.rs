//! User data header (3GPP TS 23.040 §9.2.3.24): information elements, concatenation,
//! application ports and national language shifts. Unknown elements are kept.

use super::national::Language;
use super::{Result, SmsError};

/// WAP push destination port: an MMS notification or other WAP content.
pub const WAP_PUSH_PORT: u16 = 2948;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ie {
    pub iei: u8,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Udh {
    pub ies: Vec<Ie>,
}

/// One part of a concatenated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    pub reference: u16,
    pub total: u8,
    pub seq: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub src: u16,
    pub dst: u16,
}

impl Udh {
    /// Parses the elements (without the UDHL octet). `base` is the offset of `bytes` in
    /// the whole PDU, for error positions.
    pub fn parse(bytes: &[u8], base: usize) -> Result<Udh> {
        let mut ies = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let Some(&len) = bytes.get(i + 1) else {
                return Err(SmsError::new(format!("UDH element 0x{:02X} without a length", bytes[i]), base + i));
            };
            let end = i + 2 + len as usize;
            if end > bytes.len() {
                return Err(SmsError::new(
                    format!("UDH element 0x{:02X} claims {len} octets, {} remain", bytes[i], bytes.len() - i - 2),
                    base + i,
                ));
            }
            ies.push(Ie { iei: bytes[i], data: bytes[i + 2..end].to_vec() });
            i = end;
        }
        Ok(Udh { ies })
    }

    /// The header with its UDHL octet, as it goes into user data.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0];
        for ie in &self.ies {
            out.push(ie.iei);
            out.push(ie.data.len() as u8);
            out.extend_from_slice(&ie.data);
        }
        out[0] = (out.len() - 1) as u8;
        out
    }

    /// Length in octets including the UDHL octet.
    pub fn len(&self) -> usize {
        1 + self.ies.iter().map(|ie| 2 + ie.data.len()).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.ies.is_empty()
    }

    fn find(&self, iei: u8) -> Option<&[u8]> {
        self.ies.iter().find(|ie| ie.iei == iei).map(|ie| ie.data.as_slice())
    }

    /// Concatenation, from an 8-bit (0x00) or 16-bit (0x08) reference element.
    pub fn concat(&self) -> Option<Concat> {
        if let Some(&[r, total, seq]) = self.find(0x00) {
            return Some(Concat { reference: r as u16, total, seq });
        }
        if let Some(&[hi, lo, total, seq]) = self.find(0x08) {
            return Some(Concat { reference: u16::from_be_bytes([hi, lo]), total, seq });
        }
        None
    }

    /// Application ports, 16-bit (0x05) or 8-bit (0x04).
    pub fn ports(&self) -> Option<Ports> {
        if let Some(&[a, b, c, d]) = self.find(0x05) {
            return Some(Ports { dst: u16::from_be_bytes([a, b]), src: u16::from_be_bytes([c, d]) });
        }
        if let Some(&[dst, src]) = self.find(0x04) {
            return Some(Ports { dst: dst as u16, src: src as u16 });
        }
        None
    }

    pub fn single_shift(&self) -> Option<Language> {
        self.find(0x24).and_then(|d| d.first()).and_then(|&id| Language::from_id(id))
    }

    pub fn locking_shift(&self) -> Option<Language> {
        self.find(0x25).and_then(|d| d.first()).and_then(|&id| Language::from_id(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_concat_and_ports() {
        let u = Udh::parse(&[0x08, 0x04, 0x9f, 0x8e, 0x02, 0x01, 0x05, 0x04, 0x0b, 0x84, 0x23, 0xf0], 0).unwrap();
        assert_eq!(u.concat(), Some(Concat { reference: 40846, total: 2, seq: 1 }));
        assert_eq!(u.ports(), Some(Ports { src: 9200, dst: 2948 }));
        assert_eq!(u.len(), 13);
        assert_eq!(&u.to_bytes()[..], &[12, 0x08, 0x04, 0x9f, 0x8e, 0x02, 0x01, 0x05, 0x04, 0x0b, 0x84, 0x23, 0xf0]);
    }

    #[test]
    fn unknown_elements_are_kept_and_truncation_is_named() {
        let u = Udh::parse(&[0x70, 0x01, 0xAA, 0x00, 0x03, 0x19, 0x02, 0x01], 0).unwrap();
        assert_eq!(u.ies[0], Ie { iei: 0x70, data: vec![0xAA] });
        assert_eq!(u.concat().unwrap().reference, 25);
        let e = Udh::parse(&[0x00, 0x03, 0x19], 10).unwrap_err();
        assert_eq!(e.at, 10);
        assert!(Udh::parse(&[0x00], 0).is_err());
    }
}
