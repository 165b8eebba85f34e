//! UDH elements: parse, read every field, and re-encode what parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_bridge::sms::udh::Udh;

fuzz_target!(|data: &[u8]| {
    if let Ok(udh) = Udh::parse(data, 0) {
        let _ = (udh.concat(), udh.ports(), udh.single_shift(), udh.locking_shift());
        let bytes = udh.to_bytes();
        assert_eq!(Udh::parse(&bytes[1..], 0).unwrap(), udh, "re-encoding changes the header");
    }
});
