//! Any bytes: frame_len and decode give an error or a PDU, never a panic. A decoded PDU
//! either re-encodes to a frame that decodes back to the same PDU, or encode refuses it
//! with an error (lossy UTF-8 can push a string past its SMPP maximum).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_bridge::smpp;

fuzz_target!(|data: &[u8]| {
    if let Some(first4) = data.first_chunk::<4>() {
        let _ = smpp::frame_len(*first4, 64 * 1024);
    }
    check(data);
    // Most random inputs fail the command_length check; also try them with a matching one
    // so the body decoders get exercised.
    if data.len() >= smpp::HEADER_LEN {
        let mut framed = data.to_vec();
        framed[..4].copy_from_slice(&(data.len() as u32).to_be_bytes());
        check(&framed);
    }
});

fn check(frame: &[u8]) {
    let Ok(pdu) = smpp::decode(frame) else { return };
    let Ok(encoded) = smpp::encode(&pdu) else { return };
    let first4 = *encoded.first_chunk::<4>().expect("a frame has a header");
    assert_eq!(smpp::frame_len(first4, u32::MAX), Ok(encoded.len()));
    match smpp::decode(&encoded) {
        Ok(again) => assert_eq!(again, pdu, "re-decoding our own encoding changed the PDU"),
        Err(e) => panic!("our own encoding of {pdu:?} does not decode: {e}"),
    }
}
