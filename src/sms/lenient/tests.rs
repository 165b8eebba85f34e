//! Whole PDU lines as modems print them, built here from their fields.

use super::*;
use crate::sms::gsm7::{self, Tables};
use crate::sms::time::Validity;
use crate::sms::tpdu::{SubmitOptions, encode_submit, from_hex, to_hex};
use crate::sms::ucs2;

/// +15550001111, as the SMSC field: octets 0..8.
const SMSC: &str = "07915155001011F1";
/// +15551234567, as TP-OA / TP-RA: 8 octets.
const PARTY: &str = "0B915155214365F7";
/// 2024-05-13 14:23:50 +02:00.
const SCTS: &str = "42503141320580";
/// In a DELIVER after SMSC, first octet, TP-OA, PID, DCS and SCTS.
const UDL_AT: usize = 26;

fn gsm(text: &str, fill: u8) -> (usize, String) {
    let septets = gsm7::encode(text, &Tables::DEFAULT).unwrap();
    (septets.len(), to_hex(&gsm7::pack(&septets, fill)))
}

fn deliver(first: u8, dcs: u8, scts: &str, udl: usize, ud: &str) -> String {
    format!("{SMSC}{first:02X}{PARTY}00{dcs:02X}{scts}{udl:02X}{ud}")
}

fn hello() -> String {
    let (udl, ud) = gsm("Hello from the modem", 0);
    deliver(0x04, 0x00, SCTS, udl, &ud)
}

/// A report of a delivered message, ending right after TP-Status (octet 32).
fn report() -> String {
    format!("{SMSC}062A{PARTY}{SCTS}{SCTS}00")
}

fn strict(hex: &str) -> Pdu {
    tpdu::decode(&from_hex(hex).unwrap(), true).unwrap_or_else(|e| panic!("{hex}: {e}"))
}

fn lenient(line: &str) -> Lenient {
    decode_line(line, true).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn text(l: &Lenient) -> &str {
    l.pdu.tpdu.user_data().and_then(|u| u.text.as_deref()).unwrap()
}

#[test]
fn clean_pdus_decode_as_strictly_without_warnings() {
    let ucs2_text = to_hex(&ucs2::encode("Привет 😀"));
    let (udl, ud) = gsm("second part", 1);
    let mut lines = vec![
        hello(),
        deliver(0x04, 0x08, SCTS, ucs2_text.len() / 2, &ucs2_text),
        deliver(0x44, 0x00, SCTS, 7 + udl, &format!("0500032A0202{ud}")),
        report(),
        report() + "00",
        report() + "0300F5",
    ];
    let validities = [
        None,
        Some(Validity::Relative(167)),
        Some(Validity::Absolute(Timestamp::decode(&from_hex(SCTS).unwrap(), 0).unwrap())),
    ];
    for validity in validities {
        let opts = SubmitOptions { validity, status_report: true, ..Default::default() };
        for text in ["hola", &"long € text ".repeat(20), "😀 and ж"] {
            lines.extend(encode_submit("+15551234567", text, &opts).unwrap().iter().map(|p| to_hex(p)));
        }
    }
    for line in lines {
        for shown in [line.clone(), line.to_lowercase(), format!("  {line}\r\n")] {
            let l = lenient(&shown);
            assert_eq!(l.pdu, strict(&line), "{shown}");
            assert!(l.warnings.is_empty() && !l.truncated, "{shown}: {:?}", l.warnings);
        }
    }
}

#[test]
fn junk_after_the_hex_is_ignored_with_a_warning() {
    let end = hello().len() / 2;
    for (junk, shown) in [("\"", "\"\\\"\""), (",", "\",\""), ("\",\r", "\"\\\",\""), (" ,\r\n", "\" ,\"")] {
        let l = lenient(&format!("{}{junk}", hello()));
        assert_eq!((l.pdu.clone(), l.truncated), (strict(&hello()), false), "{junk:?}");
        let n = shown.len() - 2 - shown.matches('\\').count();
        let s = if n == 1 { "" } else { "s" };
        assert_eq!(l.warnings, [format!("ignored {n} character{s} after the hex, from octet {end}: {shown}")]);
    }
    assert!(from_hex(&format!("{}\",", hello())).is_err(), "the strict decoder refuses it");
}

#[test]
fn non_hex_before_the_tpdu_can_be_read_is_an_error_naming_it() {
    let h = hello();
    let e = decode_line(&format!("{}G{}", &h[..24], &h[25..]), true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the hex stops at 'G' (character 24) before the TPDU could be read: \
         originator: address of 11 semi-octets needs 6 octets, 1 present at byte 9"
    );
    let e = decode_line(&format!("\"{h}\""), true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the hex stops at '\"' (character 0) before the TPDU could be read: no hex digits at byte 0"
    );
    assert_eq!(decode_line(" \r\n", true).unwrap_err().to_string(), "no hex digits at byte 0");
}

#[test]
fn non_hex_inside_the_user_data_leaves_the_text_that_is_there() {
    let h = hello();
    let l = lenient(&format!("{}x{}", &h[..60], &h[60..]));
    assert_eq!((text(&l), l.truncated), ("Hel", true));
    assert_eq!(
        l.warnings[1],
        "user data at octet 27 is 15 octets shorter than its declared length 20 septets: shown as truncated"
    );
    assert!(l.warnings[0].starts_with("ignored 31 characters after the hex, from octet 30: \"x"), "{:?}", l.warnings);
}

#[test]
fn odd_length_lines_drop_the_last_digit() {
    let h = hello();
    let l = lenient(&h[..h.len() - 1]);
    assert_eq!((text(&l), l.truncated), ("Hello from the mode", true));
    assert_eq!(
        l.warnings,
        [
            "odd-length hex: dropped the last digit \"0\" (octet 44)",
            "user data at octet 27 is 1 octets shorter than its declared length 20 septets: shown as truncated",
        ]
    );
}

#[test]
fn padding_after_a_status_report_is_ignored() {
    for n in [1, 2, 3, 8, 40] {
        let line = report() + &"FF".repeat(n);
        assert!(tpdu::decode(&from_hex(&line).unwrap(), true).is_err(), "the strict decoder refuses {n}");
        let l = lenient(&line);
        assert_eq!((l.pdu.clone(), l.truncated), (strict(&report()), false));
        let s = if n == 1 { "" } else { "s" };
        assert_eq!(l.warnings, [format!("ignored {n} octet{s} of 0xFF padding after the TPDU, from octet 33")]);
    }
}

#[test]
fn surplus_octets_after_a_complete_tpdu_are_ignored() {
    let l = lenient(&(hello() + "0000"));
    assert_eq!(l.pdu, strict(&hello()));
    assert_eq!(l.warnings, ["ignored 2 octets after the TPDU, from octet 45"]);
    let l = lenient(&(report() + "00FFFF"));
    assert_eq!(l.pdu, strict(&report()));
    assert_eq!(l.warnings, ["ignored 2 octets of 0xFF padding after the TPDU, from octet 34"]);
}

#[test]
fn a_header_flag_with_empty_user_data_reads_as_no_header() {
    let line = deliver(0x44, 0x00, SCTS, 0, "");
    assert!(tpdu::decode(&from_hex(&line).unwrap(), true).is_err());
    let l = lenient(&line);
    let ud = l.pdu.tpdu.user_data().unwrap();
    assert_eq!((ud.udh.is_none(), text(&l), l.truncated), (true, "", false));
    assert_eq!(l.warnings, ["TP-UDHI is set but the user data at octet 27 is empty: read as no header"]);
}

#[test]
fn short_gsm_user_data_keeps_the_septets_that_fit() {
    let (_, ud) = gsm("Hello from the modem", 0);
    let l = lenient(&deliver(0x04, 0x00, SCTS, 40, &ud));
    assert_eq!((text(&l), l.truncated), ("Hello from the modem", true));
    assert_eq!(
        l.warnings,
        ["user data at octet 27 is 17 octets shorter than its declared length 40 septets: shown as truncated"]
    );
    // After a concatenation header, from the septet boundary; three octets cut.
    let (udl, ud) = gsm("Part one of a long message", 1);
    let full = deliver(0x44, 0x00, SCTS, 7 + udl, &format!("0500032A0201{ud}"));
    let l = lenient(&full[..full.len() - 6]);
    assert_eq!((text(&l), l.truncated), ("Part one of a long mes", true));
    assert_eq!(l.pdu.tpdu.concat().map(|c| (c.reference, c.total, c.seq)), Some((0x2A, 2, 1)));
}

#[test]
fn a_cut_escape_pair_shows_no_character() {
    let (udl, ud) = gsm("Cost: 5€", 0);
    let full = deliver(0x04, 0x00, SCTS, udl, &ud);
    assert_eq!(text(&lenient(&full)), "Cost: 5€");
    // Eight septets of nine fit in seven octets: the last is the escape.
    assert_eq!(text(&lenient(&full[..(UDL_AT + 1 + 7) * 2])), "Cost: 5");
}

#[test]
fn short_ucs2_user_data_keeps_whole_code_units() {
    let ud = to_hex(&ucs2::encode("Привет 😀!"));
    let full = deliver(0x04, 0x08, SCTS, ud.len() / 2, &ud);
    let cut = |octets: usize| lenient(&full[..full.len() - octets * 2]);
    assert_eq!(text(&cut(1)), "Привет 😀");
    assert_eq!(text(&cut(3)), "Привет ", "half a surrogate pair is no character");
    assert!(cut(3).truncated);
    assert_eq!(
        cut(3).warnings,
        ["user data at octet 27 is 3 octets shorter than its declared length 20: shown as truncated"]
    );
}

#[test]
fn an_odd_ucs2_length_ignores_the_last_octet() {
    let l = lenient(&deliver(0x04, 0x08, SCTS, 5, "0041004200"));
    assert_eq!((text(&l), l.truncated), ("AB", false));
    assert_eq!(l.warnings, ["UCS-2 text has an odd number of octets: the last one, at octet 31, is ignored"]);
}

#[test]
fn a_broken_header_is_dropped() {
    // Cut inside the header: no header, and no text.
    let (udl, ud) = gsm("Part one", 1);
    let full = deliver(0x44, 0x00, SCTS, 7 + udl, &format!("0500032A0201{ud}"));
    let l = lenient(&full[..(UDL_AT + 4) * 2]);
    assert_eq!((l.pdu.tpdu.user_data().unwrap().udh.is_none(), text(&l), l.truncated), (true, "", true));
    assert_eq!(l.warnings[1], "user data header at octet 27 claims 5 octets, only 2 present: dropped with the text");
    // An element longer than its header: the header goes, the text after it stays.
    let l = lenient(&deliver(0x44, 0x08, SCTS, 8, "0300052A006F006B"));
    assert_eq!((l.pdu.tpdu.user_data().unwrap().udh.is_none(), text(&l), l.truncated), (true, "ok", false));
    assert_eq!(l.warnings, ["user data header dropped: UDH element 0x00 claims 5 octets, 1 remain (at octet 28)"]);
}

#[test]
fn a_time_zone_that_is_not_decimal_reads_as_utc() {
    let line = deliver(0x04, 0x00, "425031413205FA", gsm("hi", 0).0, &gsm("hi", 0).1);
    assert!(tpdu::decode(&from_hex(&line).unwrap(), true).is_err());
    let l = lenient(&line);
    let Tpdu::Deliver(d) = &l.pdu.tpdu else { panic!("a DELIVER") };
    assert_eq!(d.timestamp.rfc3339(), "2024-05-13T14:23:50+00:00");
    assert_eq!(l.warnings, ["service centre timestamp time zone 0xFA at octet 25 is not decimal: read as UTC"]);
    assert_eq!((text(&l), l.truncated), ("hi", false));
}

#[test]
fn a_status_report_cut_right_after_its_status_is_complete() {
    let l = lenient(&report());
    let Tpdu::StatusReport(r) = &l.pdu.tpdu else { panic!("a report") };
    assert_eq!((r.message_ref, r.status, r.pid, r.user_data.is_none()), (0x2A, 0, None, true));
    assert_eq!((l.warnings.len(), l.truncated), (0, false));
}

#[test]
fn a_status_report_whose_announced_fields_are_cut() {
    let l = lenient(&(report() + "0300"));
    let Tpdu::StatusReport(r) = &l.pdu.tpdu else { panic!("a report") };
    assert_eq!((r.pid, r.dcs, l.truncated), (Some(0), None, true));
    assert_eq!(l.warnings, ["parameter indicator 0x03 at octet 33 announces a data coding scheme, but the PDU ends"]);
    let (_, ud) = gsm("Delivered", 0);
    let l = lenient(&format!("{}0409{}", report(), &ud[..6]));
    assert_eq!((text(&l), l.truncated), ("Del", true));
}

#[test]
fn a_deliver_cut_before_its_user_data_length_has_empty_text() {
    let h = hello();
    let l = lenient(&h[..UDL_AT * 2]);
    assert_eq!((text(&l), l.truncated), ("", true));
    assert_eq!(l.warnings, ["user data length missing at octet 26: shown as empty"]);
}

#[test]
fn without_a_tpdu_header_it_is_an_error() {
    for (line, what) in [
        ("00", "first octet missing"),
        ("0791", "SMSC field of 7 octets runs past the end"),
        (&format!("{SMSC}07"), "reserved message type in first octet 0x07"),
        (&format!("{SMSC}04"), "originator: address missing"),
        (&format!("{SMSC}04{PARTY}0000425031"), "service centre timestamp: 7 octets needed, 3 left"),
        (&format!("{SMSC}062A{PARTY}{SCTS}{SCTS}"), "status missing"),
        (&format!("{SMSC}1100{PARTY}0000"), "validity period missing"),
    ] {
        assert_eq!(decode_line(line, true).unwrap_err().what, what, "{line}");
    }
}

/// Every cut of a message either has no header (an error) or shows a prefix of its text.
#[test]
fn every_cut_shows_a_prefix_of_the_text() {
    let ud = to_hex(&ucs2::encode("Привет 😀!"));
    let (udl, gsm_ud) = gsm("Cost: 5€ {each} [ok]", 1);
    for full in [
        hello(),
        deliver(0x04, 0x08, SCTS, ud.len() / 2, &ud),
        deliver(0x44, 0, SCTS, 7 + udl, &format!("0500032A0201{gsm_ud}")),
    ] {
        let whole = text(&lenient(&full)).to_string();
        for cut in 0..full.len() {
            match decode_line(&full[..cut], true) {
                Ok(l) => {
                    assert!(cut >= UDL_AT * 2, "{cut}");
                    assert!(whole.starts_with(text(&l)), "{cut}: {:?} is not a prefix of {whole:?}", text(&l));
                    assert!(l.truncated, "{cut}");
                }
                Err(e) => assert!(cut < UDL_AT * 2 && e.at <= cut / 2, "{cut}: {e}"),
            }
        }
    }
}
