//! Addresses in TPDUs (3GPP TS 23.040 §9.1.2.5) and the SMSC field modems prepend.

use super::gsm7::{self, Tables};
use super::{Result, SmsError};

/// Type of number: international (+), national, alphanumeric, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Type-of-address octet (bit 7 set, TON in bits 6..4, NPI in bits 3..0).
    pub toa: u8,
    /// `+` and digits for international numbers, digits for others, text for alphanumeric.
    pub value: String,
}

const DIGITS: &[u8; 16] = b"0123456789*#abc?";

impl Address {
    pub fn ton(&self) -> u8 {
        (self.toa >> 4) & 0x07
    }

    pub fn is_alphanumeric(&self) -> bool {
        self.ton() == 5
    }

    /// Parses a number for sending: `+` and digits (international) or digits, `*`, `#`.
    pub fn parse_number(s: &str) -> Result<Address> {
        let (toa, digits) = match s.strip_prefix('+') {
            Some(rest) => (0x91, rest),
            None => (0x81, s),
        };
        if digits.is_empty()
            || digits.len() > 20
            || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
        {
            return Err(SmsError::new(format!("not a phone number: {s:?}"), 0));
        }
        Ok(Address { toa, value: s.to_string() })
    }

    fn digits(&self) -> &str {
        self.value.strip_prefix('+').unwrap_or(&self.value)
    }

    fn semi_octets(digits: &str) -> Vec<u8> {
        digits
            .as_bytes()
            .chunks(2)
            .map(|p| {
                let d = |b: u8| DIGITS.iter().position(|&x| x == b).unwrap_or(0) as u8;
                d(p[0]) | p.get(1).map(|&b| d(b) << 4).unwrap_or(0xF0)
            })
            .collect()
    }

    /// Semi-octet digits, with a leading `+` for international numbers (TON 1).
    fn read_digits(toa: u8, bytes: &[u8], count: usize) -> String {
        let international = (toa >> 4) & 0x07 == 1 && count > 0;
        let mut s = String::with_capacity(count + 1);
        if international {
            s.push('+');
        }
        for i in 0..count {
            let b = bytes[i / 2];
            let n = if i % 2 == 0 { b & 0x0F } else { b >> 4 };
            if n != 0x0F {
                s.push(DIGITS[n as usize] as char);
            }
        }
        if s == "+" {
            s.clear();
        }
        s
    }

    /// TP-OA / TP-DA / TP-RA: length in semi-octets, type, digits. Returns the address and
    /// the octets consumed.
    pub fn decode(bytes: &[u8], at: usize) -> Result<(Address, usize)> {
        let (&len, rest) = bytes.split_first().ok_or_else(|| SmsError::new("address missing", at))?;
        let &toa = rest.first().ok_or_else(|| SmsError::new("address type missing", at + 1))?;
        let octets = (len as usize).div_ceil(2);
        let body = rest.get(1..1 + octets).ok_or_else(|| {
            SmsError::new(format!("address of {len} semi-octets needs {octets} octets, {} present", rest.len() - 1), at)
        })?;
        let address = if (toa >> 4) & 0x07 == 5 {
            let septets = len as usize * 4 / 7;
            let unpacked = gsm7::unpack(body, septets, 0).map_err(|e| SmsError::new(e.what, at + 2))?;
            Address { toa, value: gsm7::decode(&unpacked, &Tables::DEFAULT) }
        } else {
            Address { toa, value: Address::read_digits(toa, body, len as usize) }
        };
        Ok((address, 2 + octets))
    }

    pub fn encode(&self) -> Vec<u8> {
        let digits = self.digits();
        let mut out = vec![digits.len() as u8, self.toa];
        out.extend(Address::semi_octets(digits));
        out
    }

    /// The SMSC field: length in octets (type included), or a single 00 for "none".
    pub fn decode_smsc(bytes: &[u8]) -> Result<(Option<Address>, usize)> {
        let &len = bytes.first().ok_or_else(|| SmsError::new("empty PDU", 0))?;
        if len == 0 {
            return Ok((None, 1));
        }
        let body = bytes
            .get(1..1 + len as usize)
            .ok_or_else(|| SmsError::new(format!("SMSC field of {len} octets runs past the end"), 0))?;
        let value = Address::read_digits(body[0], &body[1..], (len as usize - 1) * 2);
        Ok((Some(Address { toa: body[0], value }), 1 + len as usize))
    }

    pub fn encode_smsc(smsc: Option<&Address>) -> Vec<u8> {
        match smsc {
            None => vec![0],
            Some(a) => {
                let digits = Address::semi_octets(a.digits());
                let mut out = vec![digits.len() as u8 + 1, a.toa];
                out.extend(digits);
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_and_national() {
        let a = Address::parse_number("+34616585119").unwrap();
        assert_eq!(a.encode(), [0x0B, 0x91, 0x43, 0x16, 0x56, 0x58, 0x11, 0xF9]);
        assert_eq!(Address::decode(&a.encode(), 0).unwrap(), (a, 8));
        let n = Address::parse_number("655345678").unwrap();
        assert_eq!(n.encode(), [0x09, 0x81, 0x56, 0x35, 0x54, 0x76, 0xF8]);
        assert!(Address::parse_number("032BADNUMBER").is_err());
        assert!(Address::parse_number("").is_err());
    }

    #[test]
    fn alphanumeric_sender() {
        // "www.tim.it" from a real DELIVER.
        let bytes = [0x12, 0xD0, 0xF7, 0xFB, 0xDD, 0x45, 0x4F, 0xB7, 0x5D, 0x69, 0x3A];
        let (a, used) = Address::decode(&bytes, 0).unwrap();
        assert_eq!((a.value.as_str(), used), ("www.tim.it", 11));
        assert!(a.is_alphanumeric());
    }

    #[test]
    fn smsc_field() {
        let (a, used) = Address::decode_smsc(&[0x07, 0x91, 0x13, 0x26, 0x04, 0x00, 0x00, 0xF0]).unwrap();
        assert_eq!((a.unwrap().value.as_str(), used), ("+31624000000", 8));
        assert_eq!(Address::decode_smsc(&[0x00]).unwrap(), (None, 1));
        assert!(Address::decode_smsc(&[0x07, 0x91]).is_err());
        let s = Address::parse_number("+34646456456").unwrap();
        assert_eq!(Address::encode_smsc(Some(&s)), [0x07, 0x91, 0x43, 0x46, 0x46, 0x65, 0x54, 0xF6]);
    }
}
