//! Any bytes as a modem line and as octets, with and without an SMSC field: an error value
//! or a PDU, never a panic. Where the strict decoder succeeds, the lenient one agrees and
//! has nothing to say beyond octets after the TPDU (which the strict one ignores silently).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_bridge::sms::lenient::{self, Lenient};
use sms_bridge::sms::{describe, tpdu};

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let clean = tpdu::to_hex(data);
    for with_smsc in [true, false] {
        if let Ok(l) = lenient::decode_line(&line, with_smsc) {
            check(&l);
        }
        if let Ok(l) = lenient::decode_bytes(data, with_smsc) {
            check(&l);
        }
        // Clean hex reads as the octets it spells, with the same warnings.
        let bytes = lenient::decode_bytes(data, with_smsc);
        assert_eq!(lenient::decode_line(&clean, with_smsc).map_err(|e| e.at), bytes.clone().map_err(|e| e.at));
        assert_eq!(
            lenient::decode_line(&clean.to_lowercase(), with_smsc).map_err(|e| e.at),
            bytes.clone().map_err(|e| e.at)
        );
        if let Ok(strict) = tpdu::decode(data, with_smsc) {
            let l = bytes.expect("lenient fails where strict succeeds");
            assert_eq!(l.pdu, strict);
            assert!(!l.truncated, "{:?}", l.warnings);
            assert!(l.warnings.len() <= 1 && l.warnings.iter().all(|w| w.contains("after the TPDU")), "{:?}", l.warnings);
        }
    }
});

fn check(l: &Lenient) {
    assert!(!l.truncated || !l.warnings.is_empty(), "truncated without saying why");
    assert!(l.warnings.iter().all(|w| !w.is_empty() && !w.contains('\n')), "{:?}", l.warnings);
    let _ = describe::describe_lenient(l);
}
