//! Any bytes as a Kannel `sendsms` query or form body, and as a `dlr-url` template: the
//! codec answers without panicking, and what it accepts keeps Kannel's rules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_bridge::gateway::kannel::{self, Coding, Dlr, Payload, dlr_mask};

fuzz_target!(|data: &[u8]| {
    match kannel::parse_sendsms(data) {
        Ok(s) => {
            assert!(!s.recipients.is_empty());
            assert!(s.recipients.iter().all(|r| !r.is_empty() && r.bytes().all(|b| b"0123456789+-".contains(&b))));
            assert!(s.udh.is_empty() || (s.udh.len() == usize::from(s.udh[0]) + 1 && s.udh.len() <= 140));
            assert!(s.dlr_mask.is_none_or(|m| m <= 31) && s.mclass.is_none_or(|m| m <= 3));
            assert_eq!(matches!(s.payload, Payload::Binary(_)), s.coding == Coding::EightBit);
            if let Some(url) = &s.dlr_url {
                assert!(url.to_ascii_lowercase().starts_with("http"), "{url}");
            }
        }
        Err(e) => {
            let (status, line) = e.answer();
            assert!(matches!(status, 400 | 403) && !line.is_empty() && !line.contains('\n'));
        }
    }

    let template = String::from_utf8_lossy(data);
    let dlr = Dlr {
        kind: dlr_mask::SMSC_FAIL,
        receiver: "+15551234567".into(),
        sender: "0044 20".into(),
        timestamp: i64::from_le_bytes(data.get(..8).and_then(|b| b.try_into().ok()).unwrap_or_default()),
        answer: template.to_string(),
        ..Dlr::default()
    };
    let url = kannel::expand_dlr_url(&template, &dlr);
    if !template.contains('%') {
        assert_eq!(url, template);
    }
});
