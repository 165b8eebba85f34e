//! Any bytes as a gammu-smsd spool file, and any text as its name. The readers of
//! `sms_bridge::backend::gammu_spool` take them without panicking, and what they return
//! keeps the promises checked below.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_bridge::backend::gammu_spool::group::group;
use sms_bridge::backend::gammu_spool::parse;

fuzz_target!(|data: &[u8]| {
    let name = String::from_utf8_lossy(data);
    if let Some(n) = parse::inbox_name(&name) {
        assert!(parse::looks_like_inbox_file(&name), "{name:?}");
        assert!(!n.sender.is_empty() && n.stamp().len() == 15, "{n:?}");
        let files = vec![(name.to_string(), n.clone()), (format!("{name}2"), InboxName { part: 1, ..n })];
        let groups = group(&files);
        // Every file is in exactly one message.
        let mut seen: Vec<&String> = groups.iter().flat_map(|g| &g.files).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), groups.iter().map(|g| g.files.len()).sum::<usize>());
    }

    if let Ok(text) = parse::text_file(data) {
        // What we write reads back as written, up to the first NUL (where gammu's text ends).
        let kept = text.split('\0').next().unwrap_or("");
        assert_eq!(parse::text_file(&parse::outbox_text(kept)).as_deref(), Ok(kept));
    }
    if parse::is_detail(data) {
        match parse::detail_file(data) {
            Ok(parts) => {
                assert!(!parts.is_empty());
                let _ = parse::join_parts(&parts);
                if let Some(push) = parse::wap_push(&parts) {
                    assert!(parts.iter().all(|p| p.binary));
                    assert_eq!(push.len(), parts.iter().map(|p| p.data.len()).sum::<usize>());
                }
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
});

use parse::InboxName;
