#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_bridge::hilink::xml;

fuzz_target!(|data: &[u8]| {
    let _ = xml::response(data);
    let _ = xml::ok(data);
});
