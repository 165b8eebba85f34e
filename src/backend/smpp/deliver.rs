//! What a deliver_sm or data_sm from the SMSC means: a text, one part of a long text, a
//! delivery receipt, or a WAP push (MMS notification).

use crate::backend::{DeliveryReport, DeliveryStatus, ReceivedSms, WapPush};
use crate::config::DataCodingPolicy;
use crate::smpp::receipt::{self, MessageState};
use crate::smpp::{Address, DataSm, Sm, Tlv, TlvList, tlv};
use crate::sms::dcs::{Alphabet, Dcs};
use crate::sms::gsm7::{self, Tables};
use crate::sms::reassembly::{Part, PartEncoding};
use crate::sms::udh::{Udh, WAP_PUSH_PORT};
use crate::store::IncomingPart;

#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Sms(ReceivedSms),
    Part(IncomingPart),
    Report(DeliveryReport),
    WapPush(WapPush),
    /// Acknowledged and dropped (an SME acknowledgement, a receipt without an id).
    Ignored(String),
}

/// The fields deliver_sm and data_sm share.
pub struct Message<'a> {
    pub source: &'a Address,
    pub dest: &'a Address,
    pub esm_class: u8,
    pub data_coding: u8,
    pub short_message: &'a [u8],
    pub tlvs: &'a [Tlv],
}

impl<'a> From<&'a Sm> for Message<'a> {
    fn from(sm: &'a Sm) -> Self {
        Message {
            source: &sm.source,
            dest: &sm.dest,
            esm_class: sm.esm_class,
            data_coding: sm.data_coding,
            short_message: &sm.short_message,
            tlvs: &sm.tlvs,
        }
    }
}

impl<'a> From<&'a DataSm> for Message<'a> {
    fn from(d: &'a DataSm) -> Self {
        Message {
            source: &d.source,
            dest: &d.dest,
            esm_class: d.esm_class,
            data_coding: d.data_coding,
            short_message: &[],
            tlvs: &d.tlvs,
        }
    }
}

const ESM_UDHI: u8 = 0x40;
const ESM_TYPE: u8 = 0x3C;
const ESM_SMSC_RECEIPT: u8 = 0x04;
const ESM_INTERMEDIATE: u8 = 0x20;

/// `+digits` for international numbers, the address as given otherwise.
pub fn number(a: &Address) -> String {
    if a.ton == 1 && !a.addr.starts_with('+') && a.addr.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{}", a.addr)
    } else {
        a.addr.clone()
    }
}

/// Interprets one message; errors name what is wrong so it can be logged and refused.
pub fn interpret(m: &Message, policy: DataCodingPolicy) -> Result<Incoming, String> {
    let body = m.tlvs.tlv(tlv::MESSAGE_PAYLOAD).unwrap_or(m.short_message);
    match m.esm_class & ESM_TYPE {
        0 => {}
        ESM_SMSC_RECEIPT | ESM_INTERMEDIATE => return Ok(receipt(m, body)),
        t => return Ok(Incoming::Ignored(format!("SME acknowledgement (esm_class type 0x{t:02X})"))),
    }
    let (udh, text) = if m.esm_class & ESM_UDHI != 0 {
        let len = *body.first().ok_or("esm_class says there is a UDH, but the message is empty")? as usize;
        let ies = body.get(1..1 + len).ok_or_else(|| format!("UDH length {len} is beyond the message"))?;
        (Udh::parse(ies, 1).map_err(|e| format!("UDH: {e}"))?, &body[1 + len..])
    } else {
        (Udh::default(), body)
    };
    let from = number(m.source);
    let to = number(m.dest);
    let port = udh.ports().map(|p| p.dst).or(m.tlvs.tlv_u16(tlv::DESTINATION_PORT));
    let encoding =
        if port == Some(WAP_PUSH_PORT) { PartEncoding::WapPush } else { part_encoding(m.data_coding, policy, &udh) };
    let payload = match (encoding, m.data_coding, policy) {
        (PartEncoding::Gsm7 { .. }, _, DataCodingPolicy::Gsm7Packed) => {
            // Packed septets after a UDH start at the next septet boundary.
            let fill = if m.esm_class & ESM_UDHI != 0 { (7 - ((body.len() - text.len()) * 8) % 7) % 7 } else { 0 };
            // An empty text after a header has no septets (and must not underflow).
            let count = (text.len() * 8).saturating_sub(fill) / 7;
            let mut septets = gsm7::unpack(text, count, fill as u8).map_err(|e| format!("packed GSM text: {e}"))?;
            // A CR in seven spare bits at the end is padding (3GPP TS 23.038 §6.1.2.3.1).
            if (text.len() * 8).saturating_sub(fill) % 7 == 0 && septets.last() == Some(&0x0D) {
                septets.pop();
            }
            septets
        }
        (PartEncoding::Ucs2, dc, _) if is_latin1(dc, policy) => crate::sms::ucs2::encode(&latin1(text)),
        _ => text.to_vec(),
    };
    let concat = udh.concat().map(|c| (c.reference, c.total, c.seq)).or_else(|| {
        let r = m.tlvs.tlv_u16(tlv::SAR_MSG_REF_NUM)?;
        Some((r, m.tlvs.tlv_u8(tlv::SAR_TOTAL_SEGMENTS)?, m.tlvs.tlv_u8(tlv::SAR_SEGMENT_SEQNUM)?))
    });
    match concat {
        Some((reference, total, seq)) if total > 1 => {
            if seq == 0 || seq > total {
                return Err(format!("part {seq} of {total} does not exist"));
            }
            Ok(Incoming::Part(IncomingPart {
                from,
                to,
                reference,
                total,
                timestamp_ms: None,
                part: Part { seq, encoding, payload },
            }))
        }
        _ if encoding == PartEncoding::WapPush => Ok(Incoming::WapPush(WapPush { from, to, data: payload })),
        _ => {
            let text = crate::sms::reassembly::assemble(1, &[Part { seq: 1, encoding, payload }]);
            Ok(Incoming::Sms(ReceivedSms { from, to, text, timestamp_ms: None }))
        }
    }
}

/// SMPP's own data_coding values below 0x10 differ from GSM's DCS (SMPP 3.4 §5.2.19).
fn is_latin1(dc: u8, policy: DataCodingPolicy) -> bool {
    match dc {
        0 => matches!(policy, DataCodingPolicy::Latin1 | DataCodingPolicy::SmscDefault),
        1 | 3 => true,
        _ => false,
    }
}

fn part_encoding(dc: u8, policy: DataCodingPolicy, udh: &Udh) -> PartEncoding {
    let gsm = PartEncoding::gsm7(Tables { locking: udh.locking_shift(), single: udh.single_shift() });
    if is_latin1(dc, policy) {
        return PartEncoding::Ucs2;
    }
    match dc {
        0 => gsm,
        2 | 4 => PartEncoding::Binary,
        8 => PartEncoding::Ucs2,
        // 5 JIS, 6 Cyrillic, 7 Hebrew, 9 pictogram, 10 ISO-2022-JP, 13 Kanji, 14 KS C 5601:
        // rare enough to show as octets rather than guess.
        0x05..=0x0F => PartEncoding::Binary,
        _ => match Dcs::decode(dc).alphabet {
            Alphabet::Gsm7 => gsm,
            Alphabet::Ucs2 => PartEncoding::Ucs2,
            Alphabet::EightBit => PartEncoding::Binary,
        },
    }
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

fn receipt(m: &Message, body: &[u8]) -> Incoming {
    let text = String::from_utf8_lossy(body);
    let parsed = receipt::parse(&text);
    let id =
        m.tlvs.tlv_cstr(tlv::RECEIPTED_MESSAGE_ID).filter(|s| !s.is_empty()).or(parsed.as_ref().map(|r| r.id.clone()));
    let Some(id) = id else {
        return Incoming::Ignored(format!("delivery receipt without a message id: {text:?}"));
    };
    let state = m
        .tlvs
        .tlv_u8(tlv::MESSAGE_STATE)
        .and_then(MessageState::from_tlv)
        .or_else(|| parsed.as_ref().and_then(|r| r.stat.as_deref()).and_then(MessageState::from_stat));
    let status = match state {
        Some(s) if s.is_success() => DeliveryStatus::Delivered,
        Some(s) if s.is_final() => DeliveryStatus::Failed,
        _ => DeliveryStatus::Pending,
    };
    let stat = parsed.as_ref().and_then(|r| r.stat.clone()).or(state.map(|s| format!("{s:?}").to_uppercase()));
    let err = parsed.as_ref().and_then(|r| r.err.clone()).or_else(|| {
        m.tlvs
            .tlv(tlv::NETWORK_ERROR_CODE)
            .filter(|v| v.len() == 3)
            .map(|v| format!("{}", u16::from_be_bytes([v[1], v[2]])))
    });
    let detail = match (stat, err) {
        (Some(s), Some(e)) => Some(format!("{s} err:{e}")),
        (s, e) => s.or(e.map(|e| format!("err:{e}"))),
    };
    let mut candidates = receipt::id_candidates(&id);
    let message_id = candidates.remove(0);
    Incoming::Report(DeliveryReport { message_id, alt_ids: candidates, status, detail })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deliver(esm_class: u8, data_coding: u8, short_message: &[u8], tlvs: Vec<Tlv>) -> Sm {
        Sm {
            source: Address { ton: 1, npi: 1, addr: "447700900123".into() },
            dest: Address { ton: 1, npi: 1, addr: "15550001111".into() },
            esm_class,
            data_coding,
            short_message: short_message.to_vec(),
            tlvs,
            ..Sm::default()
        }
    }

    fn run(sm: &Sm) -> Incoming {
        interpret(&Message::from(sm), DataCodingPolicy::Gsm7Unpacked).unwrap()
    }

    #[test]
    fn plain_gsm_text() {
        let sm = deliver(0, 0, &gsm7::encode("Hi {there}", &Tables::DEFAULT).unwrap(), vec![]);
        let Incoming::Sms(s) = run(&sm) else { panic!() };
        assert_eq!((s.from.as_str(), s.to.as_str(), s.text.as_str()), ("+447700900123", "+15550001111", "Hi {there}"));
    }

    #[test]
    fn latin1_ucs2_and_payload() {
        let Incoming::Sms(s) = run(&deliver(0, 3, b"caf\xe9", vec![])) else { panic!() };
        assert_eq!(s.text, "café");
        let Incoming::Sms(s) = run(&deliver(0, 8, &crate::sms::ucs2::encode("😀 ok"), vec![])) else { panic!() };
        assert_eq!(s.text, "😀 ok");
        let long = "a".repeat(300);
        let sm = deliver(0, 0, b"", vec![Tlv { tag: tlv::MESSAGE_PAYLOAD, value: long.as_bytes().to_vec() }]);
        let Incoming::Sms(s) = run(&sm) else { panic!() };
        assert_eq!(s.text, long);
        // An SMSC whose default alphabet is Latin-1.
        let sm = deliver(0, 0, b"\xfcber", vec![]);
        let Incoming::Sms(s) = interpret(&Message::from(&sm), DataCodingPolicy::SmscDefault).unwrap() else { panic!() };
        assert_eq!(s.text, "über");
    }

    #[test]
    fn packed_gsm_with_and_without_udh() {
        let packed = gsm7::pack(&gsm7::encode("hellohello", &Tables::DEFAULT).unwrap(), 0);
        let sm = deliver(0, 0, &packed, vec![]);
        let Incoming::Sms(s) = interpret(&Message::from(&sm), DataCodingPolicy::Gsm7Packed).unwrap() else { panic!() };
        assert_eq!(s.text, "hellohello");
        // 6-octet UDH = 48 bits: one fill bit to the septet boundary.
        let mut body = vec![5, 0, 3, 7, 2, 1];
        body.extend(gsm7::pack(&gsm7::encode("abc", &Tables::DEFAULT).unwrap(), 1));
        let sm = deliver(0x40, 0, &body, vec![]);
        let Incoming::Part(p) = interpret(&Message::from(&sm), DataCodingPolicy::Gsm7Packed).unwrap() else { panic!() };
        assert_eq!(p.part.payload, gsm7::encode("abc", &Tables::DEFAULT).unwrap());
    }

    #[test]
    fn udh_and_sar_parts() {
        let mut body = vec![5, 0, 3, 0x42, 3, 2];
        body.extend(crate::sms::ucs2::encode("part two"));
        let Incoming::Part(p) = run(&deliver(0x40, 8, &body, vec![])) else { panic!() };
        assert_eq!((p.reference, p.total, p.part.seq, p.part.encoding), (0x42, 3, 2, PartEncoding::Ucs2));
        let tlvs = vec![
            Tlv::u16(tlv::SAR_MSG_REF_NUM, 0x0102),
            Tlv::u8(tlv::SAR_TOTAL_SEGMENTS, 2),
            Tlv::u8(tlv::SAR_SEGMENT_SEQNUM, 1),
        ];
        let Incoming::Part(p) = run(&deliver(0, 0, b"\x41", tlvs)) else { panic!() };
        assert_eq!((p.reference, p.total, p.part.seq), (0x0102, 2, 1));
        let bad = vec![
            Tlv::u16(tlv::SAR_MSG_REF_NUM, 1),
            Tlv::u8(tlv::SAR_TOTAL_SEGMENTS, 2),
            Tlv::u8(tlv::SAR_SEGMENT_SEQNUM, 3),
        ];
        assert!(interpret(&Message::from(&deliver(0, 0, b"x", bad)), DataCodingPolicy::Gsm7Unpacked).is_err());
    }

    #[test]
    fn broken_udh_is_an_error_not_a_panic() {
        for body in [&[][..], &[9, 0, 3][..], &[3, 0, 9, 1][..]] {
            let e = interpret(&Message::from(&deliver(0x40, 0, body, vec![])), DataCodingPolicy::Gsm7Unpacked);
            assert!(e.is_err(), "{body:?}");
        }
    }

    #[test]
    fn wap_push_is_recognised_single_and_in_parts() {
        let push = [0x01, 0x06, 0x04, 0xBE, 0xAF, 0x84, 0x8C, 0x82];
        let mut body = vec![6, 5, 4, 0x0B, 0x84, 0x23, 0xF0];
        body.extend(push);
        let Incoming::WapPush(w) = run(&deliver(0x40, 4, &body, vec![])) else { panic!() };
        assert_eq!((w.from.as_str(), w.data.as_slice()), ("+447700900123", &push[..]));
        let mut body = vec![11, 5, 4, 0x0B, 0x84, 0x23, 0xF0, 0, 3, 9, 2, 1];
        body.extend(push);
        let Incoming::Part(p) = run(&deliver(0x40, 4, &body, vec![])) else { panic!() };
        assert_eq!(p.part.encoding, PartEncoding::WapPush);
        // Port given as a TLV instead of in the UDH.
        let Incoming::WapPush(_) = run(&deliver(0, 4, &push, vec![Tlv::u16(tlv::DESTINATION_PORT, 2948)])) else {
            panic!()
        };
    }

    #[test]
    fn receipts_by_tlv_and_by_text() {
        let tlvs = vec![Tlv::cstr(tlv::RECEIPTED_MESSAGE_ID, "0A1B"), Tlv::u8(tlv::MESSAGE_STATE, 2)];
        let Incoming::Report(r) = run(&deliver(0x04, 0, b"id:2587 stat:DELIVRD", tlvs)) else { panic!() };
        assert_eq!((r.message_id.as_str(), r.status), ("a1b", DeliveryStatus::Delivered));
        assert!(r.alt_ids.contains(&"2587".to_string()), "{:?}", r.alt_ids);
        let text =
            b"id:00123 sub:001 dlvrd:000 submit date:2611210101 done date:2611210102 stat:UNDELIV err:034 text:hi";
        let Incoming::Report(r) = run(&deliver(0x04, 0, text, vec![])) else { panic!() };
        assert_eq!((r.message_id.as_str(), r.status), ("123", DeliveryStatus::Failed));
        assert_eq!(r.detail.as_deref(), Some("UNDELIV err:034"));
        let Incoming::Report(r) = run(&deliver(0x20, 0, b"ID:7 STAT:ENROUTE", vec![])) else { panic!() };
        assert_eq!(r.status, DeliveryStatus::Pending);
        let Incoming::Ignored(why) = run(&deliver(0x04, 0, b"no id here", vec![])) else { panic!() };
        assert!(why.contains("without a message id"), "{why}");
        let Incoming::Ignored(_) = run(&deliver(0x08, 0, b"ack", vec![])) else { panic!() };
    }
}
