//! Our SMPP codec against an independent one, the `smpp34` crate: frames it encodes must
//! decode with ours, and frames we encode must decode with it, field by field. One test
//! also runs smpp34's own client against a tiny SMSC built on our codec, because smpp34
//! only builds bind and unbind PDUs inside its session.

use std::sync::Arc;
use std::time::Duration;

use smpp34 as their;
use smpp34::TlvList as _;
use sms_bridge::smpp::tlv::*;
use sms_bridge::smpp::{
    self, Address, Bind, BindResp, Body, DataSm, MessageState, Outbind, Pdu, Sm, SmResp, Tlv, TlvList, receipt,
};

fn ours(frame: &[u8]) -> Pdu {
    smpp::decode(frame).unwrap_or_else(|e| panic!("our decoder refused smpp34's frame: {e}\n{frame:02X?}"))
}

fn encode(pdu: Pdu) -> Vec<u8> {
    smpp::encode(&pdu).unwrap()
}

fn their_header(frame: &[u8]) -> their::CommandHeader {
    their::CommandHeader::decode(frame).unwrap_or_else(|e| panic!("smpp34 refused our header: {e:?}"))
}

fn their_tlvs(tlvs: &[Tlv]) -> Vec<their::Tlv> {
    tlvs.iter().map(|t| their::Tlv::new(t.tag, t.value.clone())).collect()
}

fn our_tlvs(tlvs: &[their::Tlv]) -> Vec<Tlv> {
    tlvs.iter().map(|t| Tlv::new(t.tag, t.value.clone())).collect()
}

/// (command_id, command_status, sequence_number) as smpp34 reads them; it also checks
/// command_length against the frame.
fn header_of(frame: &[u8]) -> (u32, u32, u32) {
    let h = their_header(frame);
    (h.command_id, h.command_status, h.sequence_number)
}

fn bind(system_id: &str) -> Bind {
    Bind {
        system_id: system_id.into(),
        password: "secret1".into(),
        system_type: "SMPP".into(),
        interface_version: 0x34,
        addr_ton: 1,
        addr_npi: 1,
        address_range: "^3161".into(),
    }
}

#[test]
fn binds_both_ways() {
    for (body, id) in [
        (Body::BindTransmitter(bind("tx")), smpp::BIND_TRANSMITTER),
        (Body::BindReceiver(bind("rx")), smpp::BIND_RECEIVER),
        (Body::BindTransceiver(bind("trx-fifteen-oct")), smpp::BIND_TRANSCEIVER),
    ] {
        let frame = encode(Pdu::new(11, body.clone()));
        let header = their_header(&frame);
        assert_eq!((header.command_id, header.sequence_number), (id, 11));
        // Their bind request decoders all share one layout; check it through bind_transceiver's.
        let b = their::bind_transceiver::decode(header, &frame).unwrap();
        let expected = match &body {
            Body::BindTransmitter(b) | Body::BindReceiver(b) | Body::BindTransceiver(b) => b,
            _ => unreachable!(),
        };
        assert_eq!(b.system_id, expected.system_id);
        assert_eq!(b.password, "secret1");
        assert_eq!(b.system_type, "SMPP");
        assert_eq!((b.interface_version, b.addr_ton, b.addr_npi), (0x34, 1, 1));
        assert_eq!(b.address_range, "^3161");
        // Their encoder gives back our octets exactly.
        assert_eq!(b.clone().encode(), frame);

        // Their responses: success with sc_interface_version, and a refusal.
        let resp = b.clone().accept("SMSC".into(), Some(0x34)).encode();
        let pdu = ours(&resp);
        assert_eq!((pdu.sequence, pdu.status), (11, 0));
        assert_eq!(
            pdu.body,
            Body::BindTransceiverResp(BindResp {
                system_id: "SMSC".into(),
                tlvs: vec![Tlv::u8(SC_INTERFACE_VERSION, 0x34)]
            })
        );
        let pdu = ours(&b.reject(their::SmppError::ESME_RINVPASWD).encode());
        assert_eq!((pdu.sequence, pdu.status), (11, 0x0E));
        assert_eq!(pdu.body, Body::BindTransceiverResp(BindResp::default()));
        assert!(smpp::status::is_bind_credentials(pdu.status));
    }

    // Our bind responses, read by them.
    let ok = BindResp { system_id: "oursmsc".into(), tlvs: vec![Tlv::u8(SC_INTERFACE_VERSION, 0x34)] };
    let frame = encode(Pdu::new(1, Body::BindTransceiverResp(ok)));
    let r = their::bind_transceiver_resp::decode(their_header(&frame), &frame).unwrap();
    assert!(r.is_success());
    assert_eq!(r.system_id.as_deref(), Some("oursmsc"));
    assert_eq!(r.sc_interface_version, Some(0x34));
    let frame = encode(Pdu::new(1, Body::BindReceiverResp(BindResp::default())).with_status(0x0D));
    assert_eq!(frame.len(), 16, "a refused bind goes out without a body");
    let r = their::bind_receiver_resp::decode(their_header(&frame), &frame).unwrap();
    assert_eq!((r.command_status(), r.system_id), (0x0D, None));
    let frame = encode(Pdu::new(1, Body::BindTransmitterResp(BindResp { system_id: "x".into(), tlvs: vec![] })));
    let r = their::bind_transmitter_resp::decode(their_header(&frame), &frame).unwrap();
    assert_eq!((r.system_id.as_deref(), r.sc_interface_version), (Some("x"), None));
}

fn sample_submit() -> Sm {
    Sm {
        service_type: "CMT".into(),
        source: Address { ton: 5, npi: 0, addr: "Bridge".into() },
        dest: Address { ton: 1, npi: 1, addr: "31612345678".into() },
        esm_class: 0x40,
        protocol_id: 0,
        priority_flag: 1,
        schedule_delivery_time: String::new(),
        validity_period: "240301120000000+".into(),
        registered_delivery: 1,
        replace_if_present: 0,
        data_coding: 8,
        sm_default_msg_id: 0,
        short_message: vec![0x05, 0x00, 0x03, 0x2A, 0x02, 0x01, 0x00, 0x48, 0x00, 0x69],
        tlvs: vec![
            Tlv::u16(USER_MESSAGE_REFERENCE, 7),
            Tlv::u16(SAR_MSG_REF_NUM, 0x2A),
            Tlv::u8(SAR_TOTAL_SEGMENTS, 2),
            Tlv::u8(SAR_SEGMENT_SEQNUM, 1),
            Tlv::new(0x1403, [0xAA, 0xBB, 0xCC]),
            Tlv::new(0x1404, []),
        ],
    }
}

/// submit_sm and deliver_sm are different types in smpp34 with the same fields.
macro_rules! their_sm {
    ($ty:ident, $seq:expr, $sm:expr) => {{
        let sm: &Sm = $sm;
        their::$ty::new(
            $seq,
            sm.service_type.clone(),
            sm.source.ton,
            sm.source.npi,
            sm.source.addr.clone(),
            sm.dest.ton,
            sm.dest.npi,
            sm.dest.addr.clone(),
            sm.esm_class,
            sm.protocol_id,
            sm.priority_flag,
            sm.schedule_delivery_time.clone(),
            sm.validity_period.clone(),
            sm.registered_delivery,
            sm.replace_if_present,
            sm.data_coding,
            sm.sm_default_msg_id,
            sm.short_message.clone(),
        )
        .with_tlvs(their_tlvs(&sm.tlvs))
    }};
}

macro_rules! assert_same_sm {
    ($their:expr, $ours:expr) => {{
        let t = &$their;
        let o: &Sm = $ours;
        assert_eq!(t.service_type, o.service_type);
        assert_eq!(
            (t.source_addr_ton, t.source_addr_npi, &t.source_addr),
            (o.source.ton, o.source.npi, &o.source.addr)
        );
        assert_eq!((t.dest_addr_ton, t.dest_addr_npi, &t.destination_addr), (o.dest.ton, o.dest.npi, &o.dest.addr));
        assert_eq!((t.esm_class, t.protocol_id, t.priority_flag), (o.esm_class, o.protocol_id, o.priority_flag));
        assert_eq!(t.schedule_delivery_time, o.schedule_delivery_time);
        assert_eq!(t.validity_period, o.validity_period);
        assert_eq!(
            (t.registered_delivery, t.replace_if_present_flag, t.data_coding, t.sm_default_msg_id),
            (o.registered_delivery, o.replace_if_present, o.data_coding, o.sm_default_msg_id)
        );
        assert_eq!(t.sm_length as usize, o.short_message.len());
        assert_eq!(t.short_message, o.short_message);
        assert_eq!(our_tlvs(&t.tlvs), o.tlvs);
    }};
}

#[test]
fn submit_sm_both_ways() {
    let sm = sample_submit();
    // Theirs → ours.
    let frame = their_sm!(submit_sm, 0x1234_5678, &sm).encode();
    assert_eq!(ours(&frame), Pdu::new(0x1234_5678, Body::SubmitSm(sm.clone())));
    // Ours → theirs, and their builder's octets equal ours.
    let ours_frame = encode(Pdu::new(0x1234_5678, Body::SubmitSm(sm.clone())));
    assert_eq!(ours_frame, frame);
    assert_eq!(header_of(&ours_frame), (smpp::SUBMIT_SM, 0, 0x1234_5678));
    let t = their::submit_sm::decode(their_header(&ours_frame), &ours_frame).unwrap();
    assert_same_sm!(t, &sm);
    assert_eq!(t.tlvs.user_message_reference(), Some(7));
    assert_eq!(
        (t.tlvs.sar_msg_ref_num(), t.tlvs.sar_total_segments(), t.tlvs.sar_segment_seqnum()),
        (Some(42), Some(2), Some(1))
    );

    // Responses, theirs → ours.
    let resp = t.clone().accept("0A1B".into()).encode();
    let pdu = ours(&resp);
    assert_eq!(pdu, Pdu::new(0x1234_5678, Body::SubmitSmResp(SmResp { message_id: "0A1B".into(), tlvs: vec![] })));
    let pdu = ours(&t.reject(their::SmppError::ESME_RTHROTTLED).encode());
    assert_eq!(pdu, Pdu::new(0x1234_5678, Body::SubmitSmResp(SmResp::default())).with_status(0x58));
    assert!(smpp::status::is_throttle(pdu.status));
    // Responses, ours → theirs.
    let frame = encode(Pdu::new(9, Body::SubmitSmResp(SmResp { message_id: "msg-0001".into(), tlvs: vec![] })));
    let r = their::submit_sm_resp::decode(their_header(&frame), &frame).unwrap();
    assert_eq!((r.is_success(), r.message_id.as_deref(), r.header.sequence_number), (true, Some("msg-0001"), 9));
    let frame = encode(Pdu::new(9, Body::SubmitSmResp(SmResp::default())).with_status(0x45));
    let r = their::submit_sm_resp::decode(their_header(&frame), &frame).unwrap();
    assert_eq!((r.command_status(), r.message_id), (0x45, None));
}

fn sample_receipt() -> Sm {
    Sm {
        source: Address { ton: 1, npi: 1, addr: "31612345678".into() },
        dest: Address { ton: 0, npi: 0, addr: "12345".into() },
        esm_class: 0x04,
        short_message:
            b"id:0A1B sub:001 dlvrd:001 submit date:2403011200 done date:2403011201 stat:DELIVRD err:000 text:Hi"
                .to_vec(),
        tlvs: vec![
            Tlv::cstr(RECEIPTED_MESSAGE_ID, "0A1B"),
            Tlv::u8(MESSAGE_STATE, 2),
            Tlv::new(NETWORK_ERROR_CODE, [3, 0, 0]),
        ],
        ..Sm::default()
    }
}

#[test]
fn deliver_sm_receipt_both_ways() {
    let sm = sample_receipt();
    // Theirs → ours, built the way smpp34's server builds a receipt.
    let t = their::deliver_sm::new(
        42,
        String::new(),
        1,
        1,
        "31612345678".into(),
        0,
        0,
        "12345".into(),
        0x04,
        0,
        0,
        String::new(),
        String::new(),
        0,
        0,
        0,
        0,
        sm.short_message.clone(),
    )
    .with_tlvs([
        their::Tlv::from_c_string(their::TlvTag::ReceiptedMessageId, "0A1B"),
        their::Tlv::from_u8(their::TlvTag::MessageStateTlv, 2),
        their::Tlv::from_tag(their::TlvTag::NetworkErrorCode, vec![3, 0, 0]),
    ]);
    let pdu = ours(&t.clone().encode());
    assert_eq!(pdu, Pdu::new(42, Body::DeliverSm(sm.clone())));
    let Body::DeliverSm(got) = &pdu.body else { unreachable!() };
    assert_eq!(got.tlvs.tlv_cstr(RECEIPTED_MESSAGE_ID).as_deref(), Some("0A1B"));
    assert_eq!(got.tlvs.tlv_u8(MESSAGE_STATE).and_then(MessageState::from_tlv), Some(MessageState::Delivered));
    let r = receipt::parse(std::str::from_utf8(&got.short_message).unwrap()).unwrap();
    assert_eq!((r.id.as_str(), r.stat.as_deref()), ("0A1B", Some("DELIVRD")));
    assert!(receipt::id_candidates("2587").contains(&receipt::canonical_id(&r.id)));

    // Ours → theirs.
    let frame = encode(Pdu::new(42, Body::DeliverSm(sm.clone())));
    assert_eq!(header_of(&frame), (smpp::DELIVER_SM, 0, 42));
    let t = their::deliver_sm::decode(their_header(&frame), &frame).unwrap();
    assert_same_sm!(t, &sm);
    assert_eq!(t.tlvs.receipted_message_id().as_deref(), Some("0A1B"));
    assert_eq!(t.tlvs.message_state(), Some(2));
    assert_eq!(t.tlvs.network_error_code(), Some((3, 0)));

    // deliver_sm_resp both ways: theirs always carries the unused message_id as a lone NUL.
    assert_eq!(ours(&t.clone().accept().encode()), Pdu::new(42, Body::DeliverSmResp(SmResp::default())));
    // smpp34 bug: deliver_sm.reject() declares command_length 16 but still writes the
    // lone-NUL message_id, so the frame is 17 octets. We refuse the frame as a whole (and
    // say which sequence it was); framed by its command_length, as a session reads a
    // stream, the 16 octets decode, and the stray NUL would start the next frame.
    let bad = t.reject(their::SmppError::ESME_RX_T_APPN).encode();
    assert_eq!((bad.len(), &bad[..4]), (17, &[0, 0, 0, 16][..]));
    let e = smpp::decode(&bad).unwrap_err();
    assert_eq!((e.command_id, e.sequence), (Some(smpp::DELIVER_SM_RESP), Some(42)));
    let pdu = ours(&bad[..16]);
    assert_eq!((pdu.status, pdu.body), (0x64, Body::DeliverSmResp(SmResp::default())));
    let frame = encode(Pdu::new(42, Body::DeliverSmResp(SmResp::default())));
    assert_eq!(frame.len(), 17);
    let r = their::deliver_sm_resp::decode(their_header(&frame), &frame).unwrap();
    assert!(r.is_success());
    let frame = encode(Pdu::new(42, Body::DeliverSmResp(SmResp::default())).with_status(0x64));
    let r = their::deliver_sm_resp::decode(their_header(&frame), &frame).unwrap();
    assert_eq!(r.command_status(), 0x64);
}

#[test]
fn data_sm_both_ways() {
    let d = DataSm {
        service_type: "WAP".into(),
        source: Address { ton: 1, npi: 1, addr: "31612345678".into() },
        dest: Address { ton: 0, npi: 0, addr: "2948".into() },
        esm_class: 0,
        registered_delivery: 1,
        data_coding: 4,
        tlvs: vec![
            Tlv::new(MESSAGE_PAYLOAD, vec![0x42; 600]),
            Tlv::u16(DESTINATION_PORT, 2948),
            Tlv::u16(SOURCE_PORT, 9200),
        ],
    };
    let t = their::data_sm::new(7, "WAP".into(), 1, 1, "31612345678".into(), 0, 0, "2948".into(), 0, 1, 4)
        .with_tlvs(their_tlvs(&d.tlvs));
    let frame = t.clone().encode();
    assert_eq!(ours(&frame), Pdu::new(7, Body::DataSm(d.clone())));
    let ours_frame = encode(Pdu::new(7, Body::DataSm(d.clone())));
    assert_eq!(ours_frame, frame);
    let back = their::data_sm::decode(their_header(&ours_frame), &ours_frame).unwrap();
    assert_eq!(
        (back.service_type.as_str(), back.source_addr.as_str(), back.destination_addr.as_str()),
        ("WAP", "31612345678", "2948")
    );
    assert_eq!((back.esm_class, back.registered_delivery, back.data_coding), (0, 1, 4));
    assert_eq!(back.tlvs.message_payload().map(<[u8]>::len), Some(600));
    assert_eq!((back.tlvs.destination_port(), back.tlvs.source_port()), (Some(2948), Some(9200)));

    // data_sm_resp, theirs → ours.
    let ok = t.clone().accept("d-1".into()).with_tlvs([their::Tlv::from_u8(their::TlvTag::DpfResult, 0)]);
    assert_eq!(
        ours(&ok.encode()),
        Pdu::new(7, Body::DataSmResp(SmResp { message_id: "d-1".into(), tlvs: vec![Tlv::u8(DPF_RESULT, 0)] }))
    );
    // smpp34 sends a failed data_sm_resp as bare TLVs, without the message_id SMPP 3.4
    // §4.7.2 lists first; we read it anyway.
    let failed = t
        .reject(their::SmppError::ESME_RDELIVERYFAILURE)
        .with_tlvs([their::Tlv::from_u8(their::TlvTag::DeliveryFailureReason, 2)]);
    let pdu = ours(&failed.encode());
    assert_eq!(pdu.status, 0xFE);
    assert_eq!(
        pdu.body,
        Body::DataSmResp(SmResp { message_id: String::new(), tlvs: vec![Tlv::u8(DELIVERY_FAILURE_REASON, 2)] })
    );

    // data_sm_resp, ours → theirs.
    let frame =
        encode(Pdu::new(7, Body::DataSmResp(SmResp { message_id: "d-1".into(), tlvs: vec![Tlv::u8(DPF_RESULT, 1)] })));
    let r = their::data_sm_resp::decode(their_header(&frame), &frame).unwrap();
    assert!(r.is_success());
    assert_eq!(our_tlvs(&r.tlvs), [Tlv::u8(DPF_RESULT, 1)]);
    // Our failed data_sm_resp keeps the (empty) message_id in front of its TLVs, as the
    // spec lays it out. smpp34 then misreads the NUL as the start of a TLV and drops them.
    let body = Body::DataSmResp(SmResp { message_id: String::new(), tlvs: vec![Tlv::u8(DELIVERY_FAILURE_REASON, 2)] });
    let frame = encode(Pdu::new(7, body).with_status(0xFE));
    assert_eq!(&frame[16..], [0, 0x04, 0x25, 0x00, 0x01, 0x02]);
    let r = their::data_sm_resp::decode(their_header(&frame), &frame).unwrap();
    assert_eq!(r.command_status(), 0xFE);
    assert!(r.tlvs.is_empty(), "smpp34 reads failed data_sm_resp bodies as bare TLVs: {:?}", r.tlvs);
}

#[test]
fn header_only_pdus_both_ways() {
    // enquire_link and its response.
    let el = their::enquire_link::new(0x7FFF_FFFF);
    assert_eq!(ours(&el.clone().encode()), Pdu::new(0x7FFF_FFFF, Body::EnquireLink));
    assert_eq!(ours(&el.accept().encode()), Pdu::new(0x7FFF_FFFF, Body::EnquireLinkResp));
    let frame = encode(Pdu::new(3, Body::EnquireLink));
    assert!(their::enquire_link::decode(their_header(&frame), &frame).is_ok());
    assert_eq!(header_of(&encode(Pdu::new(3, Body::EnquireLinkResp))), (0x8000_0015, 0, 3));

    // generic_nack.
    let nack = their::generic_nack::new(their::SmppError::ESME_RINVCMDID, 77).encode();
    assert_eq!(ours(&nack), Pdu::new(77, Body::GenericNack).with_status(3));
    let frame = encode(Pdu::new(77, Body::GenericNack).with_status(smpp::status::ESME_RINVCMDLEN));
    let n = their::generic_nack::decode(their_header(&frame), &frame).unwrap();
    assert_eq!(n.get_error(), their::SmppError::ESME_RINVCMDLEN);

    // unbind_resp (smpp34 only builds unbind inside its session; see the loopback test).
    let frame = encode(Pdu::new(5, Body::UnbindResp));
    assert!(their::unbind_resp::decode(their_header(&frame), &frame).unwrap().is_success());
    assert_eq!(header_of(&encode(Pdu::new(5, Body::Unbind))), (smpp::UNBIND, 0, 5));

    // outbind: smpp34 keeps its fields private, so compare octets.
    let theirs = their::outbind::new(5, "SMSC".into(), "pw".into()).encode();
    assert_eq!(ours(&theirs), Pdu::new(5, Body::Outbind(Outbind { system_id: "SMSC".into(), password: "pw".into() })));
    let frame = encode(Pdu::new(5, Body::Outbind(Outbind { system_id: "SMSC".into(), password: "pw".into() })));
    assert_eq!(their::outbind::decode(their_header(&frame), &frame).unwrap().encode(), frame);
}

/// xorshift64*: deterministic, seeded per case, so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn u8(&mut self) -> u8 {
        self.next() as u8
    }
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.u8()).collect()
    }
    /// A string of at most `max_octets` UTF-8 octets, sometimes multi-byte, never NUL.
    fn string(&mut self, max_octets: usize) -> String {
        const POOL: [char; 16] = ['0', '1', '7', '9', 'a', 'F', 'z', ' ', '+', '-', ':', '_', 'é', 'ß', '€', '😀'];
        let limit = self.below(max_octets + 1);
        let mut s = String::new();
        loop {
            let c = POOL[self.below(POOL.len())];
            if s.len() + c.len_utf8() > limit {
                return s;
            }
            s.push(c);
        }
    }
    fn tlvs(&mut self) -> Vec<Tlv> {
        const TAGS: [u16; 8] = [
            SAR_MSG_REF_NUM,
            MESSAGE_PAYLOAD,
            RECEIPTED_MESSAGE_ID,
            MESSAGE_STATE,
            SOURCE_PORT,
            0x1400,
            0x3FFF,
            0xFFFF,
        ];
        (0..self.below(5))
            .map(|_| {
                let tag = if self.below(4) == 0 { self.next() as u16 } else { TAGS[self.below(TAGS.len())] };
                Tlv::new(tag, self.bytes(40))
            })
            .collect()
    }
    fn address(&mut self) -> Address {
        Address { ton: self.u8(), npi: self.u8(), addr: self.string(20) }
    }
    fn sm(&mut self) -> Sm {
        Sm {
            service_type: self.string(5),
            source: self.address(),
            dest: self.address(),
            esm_class: self.u8(),
            protocol_id: self.u8(),
            priority_flag: self.u8(),
            schedule_delivery_time: self.string(16),
            validity_period: self.string(16),
            registered_delivery: self.u8(),
            replace_if_present: self.u8(),
            data_coding: self.u8(),
            sm_default_msg_id: self.u8(),
            // smpp34 asserts ≤ 254, the SMPP 3.4 limit.
            short_message: self.bytes(254),
            tlvs: self.tlvs(),
        }
    }
}

#[test]
fn random_messages_both_ways() {
    for seed in 0..400u64 {
        let mut rng = Rng::new(seed);
        let sm = rng.sm();
        let seq = rng.next() as u32;
        let deliver = seed % 2 == 1;

        // Theirs → ours.
        let frame =
            if deliver { their_sm!(deliver_sm, seq, &sm).encode() } else { their_sm!(submit_sm, seq, &sm).encode() };
        let body = if deliver { Body::DeliverSm(sm.clone()) } else { Body::SubmitSm(sm.clone()) };
        let expected = Pdu::new(seq, body);
        assert_eq!(smpp::decode(&frame).as_ref(), Ok(&expected), "seed {seed}");

        // Ours → theirs.
        let ours_frame = smpp::encode(&expected).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(ours_frame, frame, "seed {seed}: the two encoders disagree");
        let header = their_header(&ours_frame);
        assert_eq!(header.sequence_number, seq, "seed {seed}");
        if deliver {
            let t = their::deliver_sm::decode(header, &ours_frame).unwrap_or_else(|e| panic!("seed {seed}: {e:?}"));
            assert_same_sm!(t, &sm);
        } else {
            let t = their::submit_sm::decode(header, &ours_frame).unwrap_or_else(|e| panic!("seed {seed}: {e:?}"));
            assert_same_sm!(t, &sm);
        }
    }
}

mod loopback {
    //! smpp34's client (ESME) against a minimal SMSC written with our codec, on 127.0.0.1.

    use super::*;
    use async_trait::async_trait;
    use smpp34::client::{BIND_TYPE, SMSC, SmppClient, SmppClientListener};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;

    const WAIT: Duration = Duration::from_secs(10);

    struct Listener {
        bound: mpsc::UnboundedSender<SMSC>,
        delivered: mpsc::UnboundedSender<their::deliver_sm>,
    }

    #[async_trait]
    impl SmppClientListener for Listener {
        async fn on_smsc_bound(&self, smsc: SMSC, _session: &String) {
            let _ = self.bound.send(smsc);
        }
        async fn on_deliver_sm(
            &self,
            deliver_sm: their::deliver_sm,
            _c: &their::SmppConnectionInformation,
            _s: &String,
        ) -> their::deliver_sm_resp {
            let _ = self.delivered.send(deliver_sm.clone());
            deliver_sm.accept()
        }
        // on_data_sm keeps smpp34's default: reject with ESME_RSYSERR.
    }

    async fn read_pdu(stream: &mut TcpStream) -> Option<Pdu> {
        let mut first4 = [0; 4];
        stream.read_exact(&mut first4).await.ok()?;
        let len = smpp::frame_len(first4, 64 * 1024).unwrap();
        let mut frame = vec![0; len];
        frame[..4].copy_from_slice(&first4);
        stream.read_exact(&mut frame[4..]).await.ok()?;
        Some(smpp::decode(&frame).unwrap_or_else(|e| panic!("smpp34 client sent {frame:02X?}: {e}")))
    }

    async fn send(stream: &mut TcpStream, pdu: Pdu) {
        stream.write_all(&smpp::encode(&pdu).unwrap()).await.unwrap();
    }

    /// Answers every request; reports every PDU it reads. After the first submit_sm it
    /// sends a receipt, a data_sm and an enquire_link of its own.
    async fn smsc(listener: TcpListener, seen: mpsc::UnboundedSender<Pdu>) {
        let (mut stream, _) = listener.accept().await.unwrap();
        while let Some(pdu) = read_pdu(&mut stream).await {
            let seq = pdu.sequence;
            let _ = seen.send(pdu.clone());
            match pdu.body {
                Body::BindTransceiver(_) => {
                    let resp =
                        BindResp { system_id: "oursmsc".into(), tlvs: vec![Tlv::u8(SC_INTERFACE_VERSION, 0x34)] };
                    send(&mut stream, Pdu::new(seq, Body::BindTransceiverResp(resp))).await;
                }
                Body::SubmitSm(_) => {
                    let resp = SmResp { message_id: "0A1B".into(), tlvs: vec![] };
                    send(&mut stream, Pdu::new(seq, Body::SubmitSmResp(resp))).await;
                    send(&mut stream, Pdu::new(1000, Body::DeliverSm(sample_receipt()))).await;
                    let data_sm = DataSm { tlvs: vec![Tlv::new(MESSAGE_PAYLOAD, *b"mo")], ..DataSm::default() };
                    send(&mut stream, Pdu::new(1001, Body::DataSm(data_sm))).await;
                    send(&mut stream, Pdu::new(1002, Body::EnquireLink)).await;
                }
                Body::DataSm(_) => {
                    let resp = SmResp { message_id: "d-1".into(), tlvs: vec![] };
                    send(&mut stream, Pdu::new(seq, Body::DataSmResp(resp))).await;
                }
                Body::EnquireLink => send(&mut stream, Pdu::new(seq, Body::EnquireLinkResp)).await,
                Body::Unbind => {
                    send(&mut stream, Pdu::new(seq, Body::UnbindResp)).await;
                    return;
                }
                _ => {}
            }
        }
    }

    async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
        tokio::time::timeout(WAIT, rx.recv()).await.expect("timed out").expect("channel closed")
    }

    /// Everything the SMSC has read so far, in order; smpp34's enquire_link timer can put
    /// its PDUs anywhere in the sequence.
    struct Seen {
        rx: mpsc::UnboundedReceiver<Pdu>,
        log: Vec<Pdu>,
    }

    impl Seen {
        async fn find(&mut self, what: impl Fn(&Pdu) -> bool) -> Pdu {
            loop {
                if let Some(pdu) = self.log.iter().find(|p| what(p)) {
                    return pdu.clone();
                }
                let pdu = next(&mut self.rx).await;
                self.log.push(pdu);
            }
        }
    }

    #[tokio::test]
    async fn smpp34_client_against_our_codec() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen_tx, seen_rx) = mpsc::unbounded_channel();
        let mut seen = Seen { rx: seen_rx, log: Vec::new() };
        let server = tokio::spawn(smsc(listener, seen_tx));

        let (bound_tx, mut bound) = mpsc::unbounded_channel();
        let (delivered_tx, mut delivered) = mpsc::unbounded_channel();
        let mut client = SmppClient::new_with_default_timers(
            "127.0.0.1".into(),
            port,
            false,
            BIND_TYPE::TRX,
            "esme1".into(),
            "secret".into(),
            String::new(),
            1,
            1,
            "^316".into(),
            Arc::new(Listener { bound: bound_tx, delivered: delivered_tx }),
            5000,
            200, // enquire_link every 200 ms, so one arrives during the test
            300_000,
            5000,
            1500,
            10,
        );
        client.start().await;

        // smpp34's bind_transceiver, as its session encodes it.
        let bind = seen.find(|p| matches!(p.body, Body::BindTransceiver(_))).await;
        assert_eq!(
            bind,
            Pdu::new(
                1,
                Body::BindTransceiver(Bind {
                    system_id: "esme1".into(),
                    password: "secret".into(),
                    system_type: String::new(),
                    interface_version: 0x34,
                    addr_ton: 1,
                    addr_npi: 1,
                    address_range: "^316".into(),
                })
            )
        );
        let smsc = next(&mut bound).await;
        assert_eq!(smsc.system_id, "esme1");

        // submit_sm with TLVs; smpp34 reads our submit_sm_resp.
        let sm = sample_submit();
        let resp = smsc
            .submit_sm()
            .service_type(sm.service_type.clone())
            .source_addr_ton(sm.source.ton)
            .source_addr_npi(sm.source.npi)
            .source_addr(sm.source.addr.clone())
            .dest_addr_ton(sm.dest.ton)
            .dest_addr_npi(sm.dest.npi)
            .destination_addr(sm.dest.addr.clone())
            .esm_class(sm.esm_class)
            .priority_flag(sm.priority_flag)
            .validity_period(sm.validity_period.clone())
            .registered_delivery(sm.registered_delivery)
            .data_coding(sm.data_coding)
            .short_message(sm.short_message.clone())
            .tlvs(their_tlvs(&sm.tlvs))
            .send()
            .await
            .expect("submit_sm_resp");
        assert_eq!(resp.message_id.as_deref(), Some("0A1B"));
        let submitted = seen.find(|p| matches!(p.body, Body::SubmitSm(_))).await;
        assert_eq!(submitted.body, Body::SubmitSm(sm));

        // Our receipt, read by smpp34's client.
        let receipt = next(&mut delivered).await;
        assert_same_sm!(receipt, &sample_receipt());
        assert_eq!(receipt.tlvs.receipted_message_id().as_deref(), Some("0A1B"));

        // data_sm from the client; smpp34 reads our data_sm_resp.
        let data_sm = their::data_sm::new(0, String::new(), 1, 1, "3161".into(), 1, 1, "3162".into(), 0, 0, 0)
            .with_tlvs([their::Tlv::from_tag(their::TlvTag::MessagePayload, b"payload".to_vec())]);
        assert!(smsc.send_data_sm_pdu(data_sm).await.expect("data_sm_resp").is_success());

        // smpp34 answers our deliver_sm, data_sm and enquire_link, and sends its own
        // enquire_link on its timer.
        let answer = |seq| move |p: &Pdu| p.sequence == seq && p.body.is_response();
        assert_eq!(seen.find(answer(1000)).await, Pdu::new(1000, Body::DeliverSmResp(SmResp::default())));
        let failed = Pdu::new(1001, Body::DataSmResp(SmResp::default())).with_status(smpp::status::ESME_RSYSERR);
        assert_eq!(seen.find(answer(1001)).await, failed);
        assert_eq!(seen.find(answer(1002)).await, Pdu::new(1002, Body::EnquireLinkResp));
        let enquire_link = seen.find(|p| p.body == Body::EnquireLink).await;
        assert_eq!(enquire_link.status, 0);
        let data_sm = seen.find(|p| matches!(p.body, Body::DataSm(_))).await;
        let Body::DataSm(d) = &data_sm.body else { unreachable!() };
        assert_eq!((d.source.addr.as_str(), d.dest.addr.as_str()), ("3161", "3162"));
        assert_eq!(d.tlvs.tlv(MESSAGE_PAYLOAD), Some(&b"payload"[..]));

        // smpp34's unbind; it reads our unbind_resp.
        assert!(smsc.send_unbind().await.expect("unbind_resp").is_success());
        let unbind = seen.find(|p| p.body == Body::Unbind).await;
        assert_eq!(unbind.status, 0);
        client.stop().await;
        tokio::time::timeout(WAIT, server).await.unwrap().unwrap();
    }
}
