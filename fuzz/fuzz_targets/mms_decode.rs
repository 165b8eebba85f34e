//! Any bytes as an MMS PDU: an error or a message, never a panic. A decoded message can be
//! described (text decoding, hashes) and re-encoded without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_bridge::mms;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = mms::decode(data) else { return };
    let _ = mms::describe::message(&m);
    if let Ok(bytes) = mms::encode(&m) {
        let _ = mms::decode(&bytes);
    }
});
