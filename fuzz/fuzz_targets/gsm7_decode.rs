//! GSM 7-bit: unpack and decode any octets under any table choice; re-encoding the
//! decoded text must not panic, and packing round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_bridge::sms::gsm7::{self, Tables};
use sms_bridge::sms::national::Language;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let lang = |b: u8| Language::from_id(b % 14);
    let tables = Tables { locking: lang(sel & 0x0F), single: lang(sel >> 4) };
    let fill = sel % 7;
    let count = (rest.len() * 8).saturating_sub(fill as usize) / 7;
    let septets = gsm7::unpack(rest, count, fill).expect("enough octets by construction");
    assert_eq!(gsm7::unpack(&gsm7::pack(&septets, fill), count, fill).unwrap(), septets);
    let text = gsm7::decode(&septets, &tables);
    let _ = gsm7::encode(&text, &tables);
    let _ = tables.septet_count(&text);
});
