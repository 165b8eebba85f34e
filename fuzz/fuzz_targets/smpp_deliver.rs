//! What a deliver_sm from an SMSC could carry, made of arbitrary bytes: interpreting it
//! (UDH, packed septets, SAR TLVs, receipts, WAP push ports) gives a value or an error,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_bridge::backend::smpp::deliver::{Message, interpret};
use sms_bridge::config::DataCodingPolicy;
use sms_bridge::smpp::{Address, Sm, Tlv, tlv};

const POLICIES: [DataCodingPolicy; 4] = [
    DataCodingPolicy::Gsm7Unpacked,
    DataCodingPolicy::Gsm7Packed,
    DataCodingPolicy::Latin1,
    DataCodingPolicy::SmscDefault,
];

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<8>() else { return };
    let [esm_class, data_coding, policy, flags, a, b, c, d] = *head;
    let mut tlvs = Vec::new();
    if flags & 1 != 0 {
        tlvs.push(Tlv::u16(tlv::SAR_MSG_REF_NUM, u16::from_be_bytes([a, b])));
        tlvs.push(Tlv::u8(tlv::SAR_TOTAL_SEGMENTS, c));
        tlvs.push(Tlv::u8(tlv::SAR_SEGMENT_SEQNUM, d));
    }
    if flags & 2 != 0 {
        tlvs.push(Tlv::u16(tlv::DESTINATION_PORT, u16::from_be_bytes([c, d])));
    }
    if flags & 4 != 0 {
        tlvs.push(Tlv { tag: tlv::RECEIPTED_MESSAGE_ID, value: rest.iter().take(a as usize % 66).copied().collect() });
        tlvs.push(Tlv::u8(tlv::MESSAGE_STATE, b));
    }
    let (short_message, payload) = if flags & 8 != 0 { (&[][..], rest) } else { (rest, &[][..]) };
    if flags & 8 != 0 {
        tlvs.push(Tlv { tag: tlv::MESSAGE_PAYLOAD, value: payload.to_vec() });
    }
    let sm = Sm {
        source: Address { ton: a % 7, npi: 1, addr: "447700900123".into() },
        dest: Address { ton: 1, npi: 1, addr: "15550001111".into() },
        esm_class,
        data_coding,
        short_message: short_message.to_vec(),
        tlvs,
        ..Sm::default()
    };
    let _ = interpret(&Message::from(&sm), POLICIES[policy as usize % 4]);
});
