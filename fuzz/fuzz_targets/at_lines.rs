//! Any bytes as what a modem prints. The first byte picks where the rest is split into two
//! reads: the items must not depend on how the bytes arrived (two reads, one read, one byte
//! at a time). Every line is clean (no line end, trimmed, not blank, at most MAX_LINE
//! characters) and every parser of `sms_bridge::at` takes it without panicking, within the
//! invariants checked below.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sms_bridge::at::answers::{self, Registration};
use sms_bridge::at::lines::{Item, LineReader, MAX_LINE};
use sms_bridge::at::{Final, Urc, fields, ussd};

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else { return };
    let cut = first as usize % (input.len() + 1);

    let mut split = LineReader::new();
    let mut items = split.push(&input[..cut]);
    items.extend(split.push(&input[cut..]));

    let whole = LineReader::new().push(input);
    assert_eq!(items, whole, "split at {cut} differs from one read");

    let mut bytewise = LineReader::new();
    let one_by_one: Vec<Item> = input.iter().flat_map(|b| bytewise.push(std::slice::from_ref(b))).collect();
    assert_eq!(one_by_one, whole, "byte by byte differs from one read");

    for item in &whole {
        let Item::Line(line) = item else { continue };
        assert!(!line.contains(['\r', '\n']), "line end in {line:?}");
        assert!(line.chars().count() <= MAX_LINE, "line of {} chars", line.chars().count());
        assert!(!line.is_empty(), "blank line");
        assert_eq!(line.trim(), line, "untrimmed line");
        assert_ne!(line, ">", "a lone > is a prompt");
        parse_all(line);
    }
    // The parsers take any text, not only what the line reader lets through.
    parse_all(&String::from_utf8_lossy(input));
});

fn parse_all(line: &str) {
    let fin = Final::parse(line);
    if let Some(f) = fin {
        let _ = f.to_string();
        // The numeric form of its own Display prefix reads back as the same result.
        let numeric = match f {
            Final::Ok => "OK".to_string(),
            Final::Error => "ERROR".to_string(),
            Final::CmeError(c) => format!("+CME ERROR: {c}"),
            Final::CmsError(c) => format!("+CMS ERROR: {c}"),
        };
        assert_eq!(Final::parse(&numeric), Some(f), "{numeric:?}");
    }

    let urc = Urc::parse(line);
    assert!(fin.is_none() || urc.is_none(), "{line:?} is both {fin:?} and {urc:?}");
    if let Some(u) = &urc {
        let _ = u.pdu_follows();
        if let Urc::Ussd { status, text, dcs } = u {
            let _ = ussd::status_words(*status);
            if let Some(t) = text {
                answer_text(t, *dcs);
            }
        }
    }

    if let Some((prefix, rest)) = fields::split_prefix(line) {
        assert!(!prefix.is_empty() && !prefix.contains(':'), "{prefix:?}");
        let f = fields::fields(rest);
        assert!(!f.is_empty());
        for field in &f {
            assert!(!field.contains('"'), "quote in field {field:?}");
            assert_eq!(field.trim(), field);
            let list = fields::number_list(field);
            // A range is never expanded past 256 values.
            assert!(list.len() <= 256 * (field.matches(',').count() + 1), "{field:?} gave {}", list.len());
            let _ = fields::string_list(field);
        }
        let _ = fields::number::<u32>(&f, 0);
        let _ = fields::groups(rest);
    }

    if answers::cmgl(line).is_some() {
        // The prefix is trimmed: raw text may have blanks before it, a line has none.
        assert!(line.trim_start().starts_with("+CMGL"), "{line:?}");
    }
    let _ = answers::cmgr(line);
    let _ = answers::cmgs(line);
    let _ = answers::cpms_test(line);
    let _ = answers::cpms_usage(line);
    if let Some(allowed) = answers::cnmi_test(line) {
        check_cnmi(&answers::choose_cnmi(&allowed));
    }
    // Whatever the modem allows, including nothing.
    check_cnmi(&answers::choose_cnmi(&[]));
    if let Some(Some(n)) = answers::csca(line) {
        assert!(!n.is_empty() && n.trim() == n, "{n:?}");
    }
    if let Some(r) = answers::creg(line) {
        assert!(!r.words().is_empty());
        assert_eq!(r.is_registered(), matches!(r, Registration::Home | Registration::Roaming));
    }
    if let Some(Some(dbm)) = answers::csq(line) {
        assert!((-113..=-51).contains(&dbm), "{dbm} dBm");
    }
    if let Some(op) = answers::cops(line) {
        assert!(!op.is_empty());
    }
    let _ = answers::cpin(line);

    for dcs in [None, Some(0), Some(15), Some(0x11), Some(0x44), Some(0x48), Some(0xFF)] {
        answer_text(line, dcs);
    }
    for packed in [false, true] {
        if let Ok(cmd) = ussd::request(line, packed) {
            // Nothing the user typed may end the command or start another.
            assert!(cmd.starts_with("AT+CUSD=1,\"") && cmd.ends_with("\",15"), "{cmd:?}");
            assert!(!cmd.contains(['\r', '\n', '\x1a', '\x1b']), "{cmd:?}");
            assert_eq!(cmd.matches('"').count(), 2, "{cmd:?}");
        }
    }
}

fn answer_text(text: &str, dcs: Option<u8>) {
    let out = ussd::answer_text(text, dcs);
    let hex = !text.is_empty() && text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex {
        assert_eq!(out, text, "non-hex text changed");
    }
}

fn check_cnmi(c: &[u32; 5]) {
    let [mode, mt, bm, ds, bfr] = *c;
    assert_eq!(mt, 1, "{c:?}");
    assert!((1..=3).contains(&mode) && bm == 0 && ds <= 2 && bfr <= 1, "{c:?}");
}
