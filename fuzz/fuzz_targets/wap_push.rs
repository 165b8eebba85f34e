//! Any bytes as a WAP push (the user data of a port-2948 SMS): an error or a push, never a
//! panic; an MMS push's body goes on through the MMS decoder, as in the bridge.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_bridge::mms;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = mms::push::decode(data) else { return };
    let _ = mms::describe::push(&p);
});
