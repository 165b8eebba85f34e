//! Codec tests: round trips of every body, hand-made frames checked against the SMPP 3.4
//! tables, and every error path.

use super::tlv::*;
use super::*;

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn sample_sm() -> Sm {
    Sm {
        service_type: "CMT".into(),
        source: Address { ton: 5, npi: 0, addr: "Bridge".into() },
        dest: Address { ton: 1, npi: 1, addr: "447700900123".into() },
        esm_class: 0x40,
        protocol_id: 0x7F,
        priority_flag: 2,
        schedule_delivery_time: "240301120000000+".into(),
        validity_period: "000001000000000R".into(),
        registered_delivery: 1,
        replace_if_present: 1,
        data_coding: 8,
        sm_default_msg_id: 3,
        short_message: (0..=254).collect(),
        tlvs: vec![Tlv::u16(SAR_MSG_REF_NUM, 0xBEEF), Tlv::new(0x1403, [0, 1, 2]), Tlv::new(0x4000, [])],
    }
}

fn every_body() -> Vec<Body> {
    let bind = Bind {
        system_id: "smppclient1".into(),
        password: "password".into(),
        system_type: "VMS".into(),
        interface_version: 0x34,
        addr_ton: 1,
        addr_npi: 1,
        address_range: "^447700".into(),
    };
    let bind_resp =
        BindResp { system_id: "SMSC".into(), tlvs: vec![Tlv::u8(SC_INTERFACE_VERSION, 0x34), Tlv::new(0x1401, [9])] };
    let sm_resp = SmResp {
        message_id: "0123456789abcdef".into(),
        tlvs: vec![Tlv::u8(DELIVERY_FAILURE_REASON, 2), Tlv::cstr(ADDITIONAL_STATUS_INFO_TEXT, "busy")],
    };
    let receipt = Sm {
        esm_class: 0x04,
        short_message: b"id:1 stat:DELIVRD err:000".to_vec(),
        tlvs: vec![Tlv::cstr(RECEIPTED_MESSAGE_ID, "1"), Tlv::u8(MESSAGE_STATE, 2)],
        ..Sm::default()
    };
    let data_sm = DataSm {
        service_type: "WAP".into(),
        source: Address { ton: 1, npi: 1, addr: "31612345678".into() },
        dest: Address { ton: 0, npi: 0, addr: "2948".into() },
        esm_class: 0x40,
        registered_delivery: 0x11,
        data_coding: 4,
        tlvs: vec![Tlv::new(MESSAGE_PAYLOAD, vec![0x55; 1000]), Tlv::u16(DESTINATION_PORT, 2948)],
    };
    vec![
        Body::BindTransmitter(bind.clone()),
        Body::BindReceiver(Bind { password: String::new(), ..bind.clone() }),
        Body::BindTransceiver(bind),
        Body::BindTransmitterResp(bind_resp.clone()),
        Body::BindReceiverResp(BindResp::default()),
        Body::BindTransceiverResp(bind_resp),
        Body::Outbind(Outbind { system_id: "SMSC".into(), password: "secret".into() }),
        Body::Unbind,
        Body::UnbindResp,
        Body::EnquireLink,
        Body::EnquireLinkResp,
        Body::SubmitSm(sample_sm()),
        Body::SubmitSmResp(sm_resp.clone()),
        Body::DeliverSm(receipt),
        Body::DeliverSmResp(SmResp::default()),
        Body::DataSm(data_sm),
        Body::DataSmResp(sm_resp),
        Body::GenericNack,
        Body::Other { command_id: 0x0000_0003, body: b"42\0\x01\x01123\0".to_vec() },
        Body::Other { command_id: 0x0001_0203, body: vec![] },
    ]
}

#[test]
fn every_body_round_trips() {
    let bodies = every_body();
    assert_eq!(bodies.iter().filter(|b| !matches!(b, Body::Other { .. })).count(), TYPED_COMMANDS.len());
    for (n, body) in bodies.into_iter().enumerate() {
        for status in [0, 0x58, 0x0400_0001] {
            let pdu = Pdu::new(0x7FFF_FFF0 + n as u32, body.clone()).with_status(status);
            let frame = encode(&pdu).unwrap_or_else(|e| panic!("{}: {e}", body.name()));
            assert_eq!(frame.len(), u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize);
            assert_eq!(frame_len(frame[..4].try_into().unwrap(), 1 << 16), Ok(frame.len()));
            assert_eq!(decode(&frame), Ok(pdu), "{}", body.name());
        }
    }
}

#[test]
fn typed_commands_match_the_variants() {
    for body in every_body() {
        let typed = TYPED_COMMANDS.contains(&body.command_id());
        assert_eq!(typed, !matches!(body, Body::Other { .. }), "{}", body.name());
    }
}

#[test]
fn encode_into_appends() {
    let mut out = vec![0xAA];
    encode_into(&Pdu::new(1, Body::EnquireLink), &mut out).unwrap();
    encode_into(&Pdu::new(2, Body::EnquireLinkResp), &mut out).unwrap();
    assert_eq!(out.len(), 33);
    assert_eq!(decode(&out[1..17]), Ok(Pdu::new(1, Body::EnquireLink)));
    assert_eq!(decode(&out[17..]), Ok(Pdu::new(2, Body::EnquireLinkResp)));
    // A failed encode leaves the buffer as it was.
    let bad = Pdu::new(3, Body::SubmitSm(Sm { short_message: vec![0; 256], ..Sm::default() }));
    assert!(encode_into(&bad, &mut out).is_err());
    assert_eq!(out.len(), 33);
}

/// SMPP 3.4 §4.4.1: a concatenated UCS-2 part with a validity period and two TLVs.
#[rustfmt::skip]
fn submit_sm_frame() -> Vec<u8> {
    cat(&[
        &[0x00, 0x00, 0x00, 0x5D],   // command_length 93
        &[0x00, 0x00, 0x00, 0x04],   // command_id submit_sm
        &[0x00, 0x00, 0x00, 0x00],   // command_status
        &[0x00, 0x00, 0x00, 0x01],   // sequence_number
        b"\0",                       // service_type: default
        &[0x01, 0x01],               // source_addr_ton international, source_addr_npi ISDN
        b"447700900123\0",           // source_addr
        &[0x01, 0x01],               // dest_addr_ton, dest_addr_npi
        b"31612345678\0",            // destination_addr
        &[0x40],                     // esm_class: UDHI
        &[0x00],                     // protocol_id
        &[0x01],                     // priority_flag
        b"\0",                       // schedule_delivery_time: immediate
        b"240301120000000+\0",       // validity_period: absolute, 17 octets with the NUL
        &[0x01],                     // registered_delivery: receipt on success or failure
        &[0x00],                     // replace_if_present_flag
        &[0x08],                     // data_coding: UCS-2
        &[0x00],                     // sm_default_msg_id
        &[0x0A],                     // sm_length 10
        &[0x05, 0x00, 0x03, 0x2A, 0x02, 0x01], // UDH: concatenation ref 42, part 1 of 2
        &[0x00, 0x48, 0x00, 0x69],   // "Hi" in UCS-2
        &[0x02, 0x04, 0x00, 0x02, 0x00, 0x07], // user_message_reference = 7
        &[0x14, 0x03, 0x00, 0x01, 0xAB],       // vendor TLV, kept raw
    ])
}

#[test]
fn submit_sm_by_hand() {
    let frame = submit_sm_frame();
    assert_eq!(frame.len(), 93);
    let pdu = decode(&frame).unwrap();
    assert_eq!((pdu.sequence, pdu.status), (1, 0));
    let Body::SubmitSm(sm) = &pdu.body else { panic!("{:?}", pdu.body) };
    assert_eq!(sm.service_type, "");
    assert_eq!(sm.source, Address { ton: 1, npi: 1, addr: "447700900123".into() });
    assert_eq!(sm.dest, Address { ton: 1, npi: 1, addr: "31612345678".into() });
    assert_eq!((sm.esm_class, sm.protocol_id, sm.priority_flag), (0x40, 0, 1));
    assert_eq!(sm.schedule_delivery_time, "");
    assert_eq!(sm.validity_period, "240301120000000+");
    assert_eq!((sm.registered_delivery, sm.replace_if_present, sm.data_coding, sm.sm_default_msg_id), (1, 0, 8, 0));
    assert_eq!(sm.short_message, [0x05, 0x00, 0x03, 0x2A, 0x02, 0x01, 0x00, 0x48, 0x00, 0x69]);
    assert_eq!(sm.tlvs, [Tlv::u16(USER_MESSAGE_REFERENCE, 7), Tlv::new(0x1403, [0xAB])]);
    assert_eq!(sm.tlvs.tlv_u16(USER_MESSAGE_REFERENCE), Some(7));
    // And our encoder produces exactly these octets.
    assert_eq!(encode(&pdu).unwrap(), frame);
}

/// SMPP 3.4 §4.6.1 with an Appendix B receipt, plus the §5.3.2 receipt TLVs.
#[rustfmt::skip]
fn deliver_sm_receipt_frame() -> Vec<u8> {
    cat(&[
        &[0x00, 0x00, 0x00, 0xA8],   // command_length 168
        &[0x00, 0x00, 0x00, 0x05],   // command_id deliver_sm
        &[0x00, 0x00, 0x00, 0x00],   // command_status
        &[0x00, 0x00, 0x00, 0x2A],   // sequence_number 42
        b"\0",                       // service_type
        &[0x01, 0x01],               // source_addr_ton, source_addr_npi
        b"31612345678\0",            // source_addr: the recipient of the original message
        &[0x00, 0x00],               // dest_addr_ton, dest_addr_npi
        b"12345\0",                  // destination_addr: our short code
        &[0x04],                     // esm_class: SMSC delivery receipt
        &[0x00, 0x00],               // protocol_id, priority_flag
        b"\0\0",                     // schedule_delivery_time, validity_period: unused in deliver_sm
        &[0x00, 0x00, 0x00, 0x00],   // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
        &[0x62],                     // sm_length 98
        b"id:1a2b sub:001 dlvrd:001 submit date:2403011200 done date:2403011201 stat:DELIVRD err:000 text:Hi",
        &[0x00, 0x1E, 0x00, 0x05], b"1a2b\0",  // receipted_message_id
        &[0x04, 0x27, 0x00, 0x01, 0x02],       // message_state DELIVERED
        &[0x04, 0x23, 0x00, 0x03, 0x03, 0x00, 0x00], // network_error_code: GSM, 0
    ])
}

#[test]
fn deliver_sm_receipt_by_hand() {
    let frame = deliver_sm_receipt_frame();
    assert_eq!(frame.len(), 168);
    let pdu = decode(&frame).unwrap();
    assert_eq!(pdu.sequence, 42);
    let Body::DeliverSm(sm) = &pdu.body else { panic!("{:?}", pdu.body) };
    assert_eq!(sm.source, Address { ton: 1, npi: 1, addr: "31612345678".into() });
    assert_eq!(sm.dest, Address { ton: 0, npi: 0, addr: "12345".into() });
    assert_eq!(sm.esm_class, 0x04);
    assert_eq!(sm.short_message.len(), 98);
    assert_eq!(sm.tlvs.tlv_cstr(RECEIPTED_MESSAGE_ID).as_deref(), Some("1a2b"));
    assert_eq!(sm.tlvs.tlv_u8(MESSAGE_STATE).and_then(MessageState::from_tlv), Some(MessageState::Delivered));
    assert_eq!(sm.tlvs.tlv(NETWORK_ERROR_CODE), Some(&[3, 0, 0][..]));
    let r = receipt::parse(&String::from_utf8_lossy(&sm.short_message)).unwrap();
    assert_eq!(r.id, "1a2b");
    assert_eq!(r.stat.as_deref().and_then(MessageState::from_stat), Some(MessageState::Delivered));
    assert_eq!(r.text.as_deref(), Some("Hi"));
    assert_eq!(encode(&pdu).unwrap(), frame);
}

/// Replaces the 4-octet command_length so a mangled frame still frames correctly.
fn fix_len(mut frame: Vec<u8>) -> Vec<u8> {
    let len = frame.len() as u32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    frame
}

fn err_of(frame: &[u8]) -> PduError {
    decode(frame).expect_err("should not decode")
}

#[test]
fn short_header() {
    let e = err_of(&[0, 0, 0, 16, 0, 0, 0, 4, 0, 0]);
    assert_eq!(e.to_string(), "frame is 10 octets, shorter than the 16-octet header at byte 10");
    assert_eq!((e.command_id, e.sequence), (Some(4), None));
    let e = err_of(&[]);
    assert_eq!((e.command_id, e.sequence), (None, None));
}

#[test]
fn frame_len_limits() {
    assert_eq!(frame_len([0, 0, 0, 16], 4096), Ok(16));
    assert_eq!(frame_len([0, 0, 0x10, 0], 4096), Ok(4096));
    let e = frame_len([0, 0, 0, 15], 4096).unwrap_err();
    assert!(e.what.contains("command_length 15"), "{e}");
    let e = frame_len([0, 0, 0x10, 1], 4096).unwrap_err();
    assert_eq!(e.to_string(), "command_length 4097 is over the limit of 4096 at byte 0");
    let e = frame_len([0xFF; 4], u32::MAX).unwrap();
    assert_eq!(e, u32::MAX as usize);
}

#[test]
fn command_length_mismatch() {
    let mut frame = submit_sm_frame();
    frame.push(0);
    let e = err_of(&frame);
    assert_eq!(e.to_string(), "submit_sm: command_length 93 but the frame is 94 octets at byte 0");
    assert_eq!((e.command_id, e.sequence), (Some(SUBMIT_SM), Some(1)));
    // command_length below the header, on a frame that is all header.
    let e = err_of(&[0, 0, 0, 15, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 9]);
    assert!(e.what.contains("command_length 15"), "{e}");
    assert_eq!((e.command_id, e.sequence), (Some(ENQUIRE_LINK), Some(9)));
}

#[test]
fn truncated_c_strings() {
    // destination_addr starts at byte 34; cut the frame in its middle.
    let e = err_of(&fix_len(submit_sm_frame()[..38].to_vec()));
    assert_eq!(e.to_string(), "submit_sm: destination_addr has no NUL before the end of the body at byte 34");
    assert_eq!((e.command_id, e.sequence), (Some(SUBMIT_SM), Some(1)));
    // A 21-octet destination_addr leaves no room for its NUL.
    let mut frame = submit_sm_frame();
    frame.splice(34..45, *b"123456789012345678901");
    let e = err_of(&fix_len(frame));
    assert_eq!(e.to_string(), "submit_sm: destination_addr has no NUL within 21 octets at byte 34");
    // 20 octets is the most that fits.
    let mut frame = submit_sm_frame();
    frame.splice(34..45, *b"12345678901234567890");
    let Body::SubmitSm(sm) = decode(&fix_len(frame)).unwrap().body else { panic!() };
    assert_eq!(sm.dest.addr, "12345678901234567890");
    // Cut just before a field.
    let e = err_of(&fix_len(submit_sm_frame()[..46].to_vec()));
    assert_eq!(e.what, "submit_sm: body ends before esm_class");
    let e = err_of(&fix_len(submit_sm_frame()[..16].to_vec()));
    assert_eq!(e.what, "submit_sm: body ends before service_type");
    // Binds: system_id is at most 15 octets plus NUL.
    let bind = cat(&[&[0; 4], &[0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 3], b"sixteen-octets-x\0pw\0\0\x34\0\0\0"]);
    let e = err_of(&fix_len(bind));
    assert_eq!(e.to_string(), "bind_transceiver: system_id has no NUL within 16 octets at byte 16");
    assert_eq!(e.sequence, Some(3));
}

#[test]
fn sm_length_beyond_end() {
    let mut frame = submit_sm_frame();
    frame[71] = 0x0B; // sm_length one more than the 10 octets present, before the TLVs
    frame.truncate(82);
    let e = err_of(&fix_len(frame));
    assert_eq!(e.to_string(), "submit_sm: sm_length 11 runs past the end of the body (10 octets left) at byte 72");
}

#[test]
fn truncated_tlvs() {
    let frame = submit_sm_frame();
    // Cut inside the vendor TLV's value.
    let e = err_of(&fix_len(frame[..92].to_vec()));
    assert_eq!(e.to_string(), "submit_sm: TLV 0x1403 declares 1 octets but only 0 remain at byte 88");
    // Cut inside a TLV header.
    let e = err_of(&fix_len(frame[..90].to_vec()));
    assert_eq!(e.to_string(), "submit_sm: 2 octets after the last field are too short for a TLV header at byte 88");
    // A known tag is named.
    let frame = deliver_sm_receipt_frame();
    let e = err_of(&fix_len(frame[..154].to_vec()));
    assert_eq!(
        e.to_string(),
        "deliver_sm: TLV 0x001E (receipted_message_id) declares 5 octets but only 3 remain at byte 147"
    );
    assert_eq!((e.command_id, e.sequence), (Some(DELIVER_SM), Some(42)));
}

#[test]
fn no_tlvs_after_bind_and_outbind() {
    let bind = encode(&Pdu::new(1, Body::BindReceiver(Bind::default()))).unwrap();
    let e = err_of(&fix_len(cat(&[&bind, &[0x02, 0x10, 0x00, 0x01, 0x34]])));
    assert_eq!(e.to_string(), "bind_receiver: 5 unexpected octets after address_range at byte 23");
    let outbind = encode(&Pdu::new(1, Body::Outbind(Outbind::default()))).unwrap();
    let e = err_of(&fix_len(cat(&[&outbind, &[0]])));
    assert_eq!(e.what, "outbind: 1 unexpected octets after password");
}

#[test]
fn headers_only_pdus_ignore_trailing_octets() {
    for (id, body) in [
        (UNBIND, Body::Unbind),
        (UNBIND_RESP, Body::UnbindResp),
        (ENQUIRE_LINK, Body::EnquireLink),
        (ENQUIRE_LINK_RESP, Body::EnquireLinkResp),
        (GENERIC_NACK, Body::GenericNack),
    ] {
        let frame = cat(&[&[0, 0, 0, 19], &id.to_be_bytes(), &[0, 0, 0, 3, 0, 0, 0, 5], b"xyz"]);
        assert_eq!(decode(&frame), Ok(Pdu::new(5, body).with_status(3)));
    }
}

#[test]
fn lenient_strings() {
    // Latin-1 in a C-octet-string becomes U+FFFD instead of an error.
    let frame = cat(&[&[0; 4], &OUTBIND.to_be_bytes(), &[0; 8], b"caf\xE9\0\0"]);
    let Body::Outbind(o) = decode(&fix_len(frame)).unwrap().body else { panic!() };
    assert_eq!(o.system_id, "caf\u{FFFD}");
}

#[test]
fn lenient_responses() {
    let frame = |id: u32, status: u32, body: &[u8]| {
        fix_len(cat(&[&[0; 4], &id.to_be_bytes(), &status.to_be_bytes(), &[0, 0, 0, 7], body]))
    };
    // Empty bodies, whatever the status.
    for status in [0, 0x0E] {
        assert_eq!(
            decode(&frame(BIND_TRANSCEIVER_RESP, status, b"")).unwrap().body,
            Body::BindTransceiverResp(BindResp::default())
        );
        assert_eq!(decode(&frame(SUBMIT_SM_RESP, status, b"")).unwrap().body, Body::SubmitSmResp(SmResp::default()));
    }
    // A failed data_sm_resp with TLVs but no message_id (as smpp34 sends it).
    let tlvs = [0x04, 0x25, 0x00, 0x01, 0x02];
    let pdu = decode(&frame(DATA_SM_RESP, 0xFE, &tlvs)).unwrap();
    assert_eq!(pdu.body, Body::DataSmResp(SmResp { message_id: String::new(), tlvs: vec![Tlv::u8(0x0425, 2)] }));
    // Re-encoded, it gets the empty message_id SMPP 3.4 asks for.
    assert_eq!(encode(&pdu).unwrap(), frame(DATA_SM_RESP, 0xFE, &[&[0u8][..], &tlvs].concat()));
    // A failed response with junk: the status survives, the junk doesn't.
    let pdu = decode(&frame(SUBMIT_SM_RESP, 0x58, b"\xFF\xFF\xFF")).unwrap();
    assert_eq!(pdu.body, Body::SubmitSmResp(SmResp::default()));
    assert_eq!(pdu.status, 0x58);
    assert_eq!(encode(&pdu).unwrap().len(), 16, "an error response goes out without a body");
    // A successful response with junk is an error.
    let e = err_of(&frame(SUBMIT_SM_RESP, 0, b"\xFF\xFF\xFF"));
    assert_eq!(e.what, "submit_sm_resp: message_id has no NUL before the end of the body");
    // deliver_sm_resp's message_id is unused: a lone NUL.
    assert_eq!(encode(&Pdu::new(7, Body::DeliverSmResp(SmResp::default()))).unwrap(), frame(DELIVER_SM_RESP, 0, b"\0"));
}

#[test]
fn unknown_commands_stay_raw() {
    let frame = cat(&[&[0, 0, 0, 20], &[0x80, 0, 0, 3], &[0, 0, 0, 0], &[0, 0, 1, 0], b"ab\0c"]);
    let pdu = decode(&frame).unwrap();
    assert_eq!(pdu.body, Body::Other { command_id: 0x8000_0003, body: b"ab\0c".to_vec() });
    assert_eq!(pdu.body.name(), "query_sm_resp");
    assert_eq!(pdu.sequence, 256);
    assert_eq!(encode(&pdu).unwrap(), frame);
}

#[test]
fn encode_refuses_what_a_peer_cannot_decode() {
    let err = |body: Body| encode(&Pdu::new(1, body)).unwrap_err();
    let e = err(Body::SubmitSm(Sm { short_message: vec![0; 256], ..Sm::default() }));
    assert_eq!(e.what, "submit_sm: short_message is 256 octets, over 255 (use message_payload)");
    assert_eq!(e.at, 32);
    let ok = encode(&Pdu::new(1, Body::SubmitSm(Sm { short_message: vec![0; 255], ..Sm::default() })));
    assert_eq!(ok.map(|f| f.len()), Ok(16 + 16 + 1 + 255));
    let e = err(Body::BindTransmitter(Bind { system_id: "x".repeat(16), ..Bind::default() }));
    assert_eq!(e.to_string(), "bind_transmitter: system_id is 16 octets, over the SMPP maximum of 15 at byte 16");
    let e = err(Body::BindTransmitter(Bind { password: "p\0".into(), ..Bind::default() }));
    assert_eq!(e.what, "bind_transmitter: password contains a NUL");
    let e = err(Body::DeliverSm(Sm { dest: Address { addr: "1".repeat(21), ..Address::default() }, ..Sm::default() }));
    assert!(e.what.starts_with("deliver_sm: destination_addr is 21 octets"), "{e}");
    let e = err(Body::SubmitSmResp(SmResp { message_id: "m".repeat(65), tlvs: vec![] }));
    assert!(e.what.contains("message_id"), "{e}");
    let e = err(Body::DataSm(DataSm { tlvs: vec![Tlv::new(MESSAGE_PAYLOAD, vec![0; 65536])], ..DataSm::default() }));
    assert_eq!(e.what, "data_sm: TLV 0x0424 (message_payload) is 65536 octets, over 65535");
    let e = err(Body::Other { command_id: SUBMIT_SM, body: vec![] });
    assert!(e.what.contains("typed body"), "{e}");
}

#[test]
fn every_truncation_and_bit_flip_is_handled() {
    // A cheap, deterministic cousin of the fuzz target: no panics, and whatever decodes
    // re-encodes to something that decodes to the same PDU.
    let check = |frame: &[u8]| {
        if let Ok(pdu) = decode(frame)
            && let Ok(again) = encode(&pdu)
        {
            assert_eq!(decode(&again), Ok(pdu));
        }
    };
    for body in every_body() {
        let frame = encode(&Pdu::new(1, body).with_status(0)).unwrap();
        for len in 0..frame.len() {
            check(&frame[..len]);
            check(&fix_len(frame[..len.max(16)].to_vec()));
        }
        for bit in 0..frame.len().min(200) * 8 {
            let mut flipped = frame.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            check(&flipped);
        }
    }
}
