//! Building the TPDUs a network sends to a phone (3GPP TS 23.040 §9.2.2.1, §9.2.2.3):
//! SMS-DELIVER for text and port-addressed data, SMS-STATUS-REPORT, and an SMS-SUBMIT
//! turned into the SMS-DELIVER its recipient would get. TPDUs only: no SMSC field.

use super::address::Address;
use super::dcs::{Alphabet, Dcs};
use super::gsm7::{self, Tables};
use super::split::{self, SplitOptions, TextEncoding};
use super::time::Timestamp;
use super::{Result, SmsError};

/// 8-bit data octets per part once the concatenation and port elements take their room.
const DATA_PART: usize = 140 - 1 - 5 - 6;

/// An originator: a number (`+` and digits, or digits) or an alphanumeric sender ("Bank").
pub fn originator(from: &str) -> Result<Address> {
    if let Ok(a) = Address::parse_number(from) {
        return Ok(a);
    }
    let septets = gsm7::encode(from, &Tables::DEFAULT).map_err(|e| SmsError::new(format!("sender: {}", e.what), 0))?;
    if from.is_empty() || septets.len() > 11 {
        return Err(SmsError::new(format!("sender {from:?}: give a number or up to 11 GSM characters"), 0));
    }
    Ok(Address { toa: 0xD0, value: from.to_string() })
}

fn encode_address(a: &Address) -> Result<Vec<u8>> {
    if !a.is_alphanumeric() {
        return Ok(a.encode());
    }
    let septets = gsm7::encode(&a.value, &Tables::DEFAULT).map_err(|e| SmsError::new(e.what, 0))?;
    let packed = gsm7::pack(&septets, 0);
    // The length counts semi-octets actually used by the packed septets.
    let mut out = vec![(septets.len() * 7).div_ceil(4) as u8, a.toa];
    out.extend(packed);
    Ok(out)
}

/// TP-UDL and TP-UD: the header (with its UDHL octet, or empty) and the payload.
fn user_data(out: &mut Vec<u8>, header: &[u8], payload: &[u8], septets: bool) {
    if septets {
        let header_septets = (header.len() * 8).div_ceil(7);
        let fill = (header_septets * 7 - header.len() * 8) as u8;
        out.push((header_septets + payload.len()) as u8);
        out.extend_from_slice(header);
        gsm7::pack_into(out, payload, fill);
    } else {
        out.push((header.len() + payload.len()) as u8);
        out.extend_from_slice(header);
        out.extend_from_slice(payload);
    }
}

/// A header from its elements; empty when there are none.
fn header(ies: &[u8]) -> Vec<u8> {
    if ies.is_empty() {
        return Vec::new();
    }
    let mut h = vec![ies.len() as u8];
    h.extend_from_slice(ies);
    h
}

fn deliver_head(out: &mut Vec<u8>, udhi: bool, from: &[u8], dcs: u8, timestamp: &Timestamp) {
    // TP-MMS set: no more messages waiting.
    out.push(0x04 | if udhi { 0x40 } else { 0 });
    out.extend_from_slice(from);
    out.extend_from_slice(&[0x00, dcs]);
    out.extend(timestamp.encode());
}

/// `text` from `from` as SMS-DELIVER TPDUs: GSM 7-bit when it fits, else UCS-2; long
/// texts split with an 8-bit concatenation reference.
pub fn encode_deliver(from: &str, text: &str, timestamp: &Timestamp, concat_ref: u8) -> Result<Vec<Vec<u8>>> {
    let from = encode_address(&originator(from)?)?;
    let opts = SplitOptions { max_parts: 255, ..SplitOptions::default() };
    let (encoding, buf, ends) = split::split_buffer(text, &opts)?;
    let (alphabet, language_ies) = match encoding {
        TextEncoding::Gsm7(t) => {
            let ies: Vec<u8> = [(0x24, t.single), (0x25, t.locking)]
                .into_iter()
                .filter_map(|(iei, l)| l.map(|l| [iei, 1, l.id()]))
                .flatten()
                .collect();
            (Alphabet::Gsm7, ies)
        }
        TextEncoding::Ucs2 => (Alphabet::Ucs2, Vec::new()),
        TextEncoding::EightBit => (Alphabet::EightBit, Vec::new()),
    };
    let total = ends.len();
    let mut start = 0;
    let mut out = Vec::with_capacity(total);
    for (i, &end) in ends.iter().enumerate() {
        let mut ies = Vec::new();
        if total > 1 {
            ies.extend_from_slice(&[0x00, 0x03, concat_ref, total as u8, i as u8 + 1]);
        }
        ies.extend_from_slice(&language_ies);
        let h = header(&ies);
        let mut pdu = Vec::with_capacity(176);
        deliver_head(&mut pdu, !h.is_empty(), &from, Dcs::encode(alphabet, None), timestamp);
        user_data(&mut pdu, &h, &buf[start..end], alphabet == Alphabet::Gsm7);
        start = end;
        out.push(pdu);
    }
    Ok(out)
}

/// 8-bit data (DCS 0xF5, as WAP push uses) to `ports` (destination, source), split with
/// a concatenation reference when it needs more than one part.
pub fn encode_deliver_binary(
    from: &str,
    ports: Option<(u16, u16)>,
    data: &[u8],
    timestamp: &Timestamp,
    concat_ref: u8,
) -> Result<Vec<Vec<u8>>> {
    let from = encode_address(&originator(from)?)?;
    let port_ie: Vec<u8> = match ports {
        Some((dst, src)) => [[0x05, 0x04], dst.to_be_bytes(), src.to_be_bytes()].concat(),
        None => Vec::new(),
    };
    let single_room = 140 - if port_ie.is_empty() { 0 } else { 1 + port_ie.len() };
    let chunks: Vec<&[u8]> = if data.len() <= single_room { vec![data] } else { data.chunks(DATA_PART).collect() };
    if chunks.len() > 255 {
        return Err(SmsError::new(format!("{} octets need more than 255 parts", data.len()), 0));
    }
    let total = chunks.len();
    let parts = chunks.iter().enumerate().map(|(i, chunk)| {
        let mut ies = port_ie.clone();
        if total > 1 {
            ies.extend_from_slice(&[0x00, 0x03, concat_ref, total as u8, i as u8 + 1]);
        }
        let h = header(&ies);
        let mut pdu = Vec::with_capacity(176);
        deliver_head(&mut pdu, !h.is_empty(), &from, 0xF5, timestamp);
        user_data(&mut pdu, &h, chunk, false);
        pdu
    });
    Ok(parts.collect())
}

/// An SMS-STATUS-REPORT for the submit with reference `mr` to `recipient`. `status` is
/// TP-Status: 0x00 delivered, 0x20.. still trying, 0x40.. failed.
pub fn encode_status_report(
    mr: u8,
    recipient: &str,
    status: u8,
    submitted: &Timestamp,
    done: &Timestamp,
) -> Result<Vec<u8>> {
    let recipient = encode_address(&originator(recipient)?)?;
    // MTI 10, TP-MMS set; TP-SRQ clear: this reports on an SMS-SUBMIT.
    let mut pdu = vec![0x06, mr];
    pdu.extend(recipient);
    pdu.extend(submitted.encode());
    pdu.extend(done.encode());
    pdu.push(status);
    Ok(pdu)
}

/// The SMS-DELIVER the recipient of SMS-SUBMIT `submit` (a TPDU, no SMSC field) gets from
/// `from`: the same PID, DCS and user data (header included), octet for octet.
pub fn submit_to_deliver(submit: &[u8], from: &str, timestamp: &Timestamp) -> Result<Vec<u8>> {
    let at = |i: usize, what: &str| submit.get(i).copied().ok_or_else(|| SmsError::new(format!("{what} missing"), i));
    let first = at(0, "first octet")?;
    if first & 0x03 != 0x01 {
        return Err(SmsError::new(format!("first octet 0x{first:02X} is not an SMS-SUBMIT"), 0));
    }
    let da_digits = at(2, "destination")? as usize;
    let mut i = 2 + 2 + da_digits.div_ceil(2);
    let pid = at(i, "protocol identifier")?;
    let dcs = at(i + 1, "data coding scheme")?;
    i += 2;
    i += match (first >> 3) & 0x03 {
        0 => 0,
        2 => 1,
        _ => 7,
    };
    let ud = submit.get(i..).filter(|ud| !ud.is_empty()).ok_or_else(|| SmsError::new("user data length missing", i))?;
    let mut pdu = Vec::with_capacity(ud.len() + 24);
    pdu.push(0x04 | (first & 0x40));
    pdu.extend(encode_address(&originator(from)?)?);
    pdu.extend_from_slice(&[pid, dcs]);
    pdu.extend(timestamp.encode());
    pdu.extend_from_slice(ud);
    Ok(pdu)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::tpdu::{SubmitOptions, Tpdu, decode, encode_submit};

    const T: Timestamp = Timestamp { year: 2026, month: 12, day: 4, hour: 22, minute: 50, second: 7, tz_quarters: 4 };

    fn deliver(pdu: &[u8]) -> crate::sms::tpdu::Deliver {
        match decode(pdu, false).unwrap().tpdu {
            Tpdu::Deliver(d) => d,
            other => panic!("not a deliver: {other:?}"),
        }
    }

    #[test]
    fn short_gsm_and_ucs2_round_trip() {
        let pdus = encode_deliver("+15551234567", "Hello €", &T, 1).unwrap();
        assert_eq!(pdus.len(), 1);
        let d = deliver(&pdus[0]);
        assert_eq!(d.originator.value, "+15551234567");
        assert_eq!(d.user_data.text.as_deref(), Some("Hello €"));
        assert_eq!(d.timestamp, T);
        assert_eq!(d.dcs.alphabet, Alphabet::Gsm7);
        let d = deliver(&encode_deliver("Bank", "Привет", &T, 1).unwrap()[0]);
        assert_eq!((d.originator.value.as_str(), d.originator.toa), ("Bank", 0xD0));
        assert_eq!((d.dcs.alphabet, d.user_data.text.as_deref()), (Alphabet::Ucs2, Some("Привет")));
    }

    #[test]
    fn long_text_is_concatenated() {
        let text = "abc ".repeat(100);
        let pdus = encode_deliver("+15551234567", &text, &T, 9).unwrap();
        assert_eq!(pdus.len(), 3);
        let mut joined = String::new();
        for (i, p) in pdus.iter().enumerate() {
            let d = deliver(p);
            let c = d.user_data.udh.as_ref().unwrap().concat().unwrap();
            assert_eq!((c.reference, c.total, c.seq), (9, 3, i as u8 + 1));
            joined += d.user_data.text.as_deref().unwrap();
        }
        assert_eq!(joined, text);
        assert!(encode_deliver("not a sender at all", "x", &T, 0).is_err());
    }

    #[test]
    fn binary_with_ports_splits() {
        let one = encode_deliver_binary("+15551234567", Some((2948, 9200)), &[1, 2, 3], &T, 5).unwrap();
        assert_eq!(one.len(), 1);
        let d = deliver(&one[0]);
        let udh = d.user_data.udh.unwrap();
        assert_eq!((udh.ports().unwrap().dst, udh.ports().unwrap().src), (2948, 9200));
        assert!(udh.concat().is_none());
        assert_eq!((d.dcs.alphabet, d.user_data.payload), (Alphabet::EightBit, vec![1, 2, 3]));

        let data: Vec<u8> = (0..=255).collect();
        let parts = encode_deliver_binary("+15551234567", Some((2948, 9200)), &data, &T, 5).unwrap();
        assert_eq!(parts.len(), 2);
        let joined: Vec<u8> = parts.iter().flat_map(|p| deliver(p).user_data.payload).collect();
        assert_eq!(joined, data);
        assert!(parts.iter().all(|p| p.len() <= 140 + 24));
    }

    #[test]
    fn status_report_round_trip() {
        let pdu = encode_status_report(42, "+15559876543", 0x41, &T, &T).unwrap();
        let Tpdu::StatusReport(r) = decode(&pdu, false).unwrap().tpdu else { panic!("not a report") };
        assert_eq!((r.message_ref, r.recipient.value.as_str(), r.status), (42, "+15559876543", 0x41));
        assert_eq!(r.discharge_time, T);
    }

    #[test]
    fn submit_becomes_the_same_deliver() {
        let opts = SubmitOptions {
            concat_ref: 3,
            validity: Some(crate::sms::time::Validity::Relative(167)),
            ..Default::default()
        };
        for text in ["hi", &"Ω long ".repeat(30)] {
            for submit in encode_submit("+15550001111", text, &opts).unwrap() {
                let tpdu = &submit[1..];
                let d = deliver(&submit_to_deliver(tpdu, "+15550001111", &T).unwrap());
                let Tpdu::Submit(s) = decode(tpdu, false).unwrap().tpdu else { panic!() };
                assert_eq!((d.dcs, d.user_data), (s.dcs, s.user_data));
                assert_eq!(d.originator.value, "+15550001111");
            }
        }
        assert!(submit_to_deliver(&[0x00], "+1555", &T).unwrap_err().what.contains("not an SMS-SUBMIT"));
        assert!(submit_to_deliver(&[0x01, 0x00, 0x04, 0x91], "+1555", &T).is_err());
    }
}
