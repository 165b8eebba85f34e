//! Any bytes, with and without an SMSC field: an error value or a PDU, never a panic.
//! A decoded PDU also survives description (the `decode sms` JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_bridge::sms::{describe, tpdu};

fuzz_target!(|data: &[u8]| {
    for with_smsc in [true, false] {
        if let Ok(pdu) = tpdu::decode(data, with_smsc) {
            let _ = describe::describe(&pdu);
        }
    }
});
