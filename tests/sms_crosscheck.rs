//! Property tests of our SMS codec against python-messaging 0.5.13, an independent codec
//! (see tests/common/pymessaging.rs and tests/pymessaging_driver.py).
//!
//! Random texts come from a small deterministic generator: GSM 7-bit default alphabet, default
//! alphabet plus extension characters, and BMP Unicode (UCS-2), with lengths around the one-part
//! limits and up to several parts. `SMS_CROSSCHECK_SEED` and `SMS_CROSSCHECK_CASES` change the
//! seed and the number of cases per property; every failure names the seed and the case.
//!
//! Characters above U+FFFF never reach python-messaging: it writes them as five hex digits
//! (a corrupt PDU) instead of a UTF-16 surrogate pair, and decodes a pair as two code points
//! (shared/testdata/README.md, quirk 1). Our handling of them is checked by our own tests.
//!
//! Known python-messaging 0.5.13 behaviour the properties allow for, each counted and each
//! required to have been seen so the allowance cannot silently stop being exercised:
//! - On Python 3 it cuts GSM 7-bit parts at exactly 153 septets, even between an escape (0x1B)
//!   and its character; we move the escape to the next part. Such texts are compared septet by
//!   septet and per part, not byte for byte.
//! - It cannot decode SMS-SUBMIT, so the driver re-frames a SUBMIT as an SMS-DELIVER first
//!   (`decode_submit`); user data, PID, DCS and the address go through untouched.
//! - `%y` puts SCTS years 69..=89 in the 1900s, we put 00..=89 in the 2000s; the generated
//!   timestamps stay out of 69..=89.

mod common;

use serde_json::{Value, json};

use common::pymessaging::{PyMessaging, from_hex, to_hex};
use sms_bridge::sms::dcs::Alphabet;
use sms_bridge::sms::gsm7::{self, Septets, Tables};
use sms_bridge::sms::time::Validity;
use sms_bridge::sms::tpdu::{self, Pdu, SubmitOptions, Tpdu};

const DEFAULT_SEED: u64 = 20_241_122;
const DEFAULT_CASES: usize = 300;

/// The GSM 03.38 default alphabet in septet order; 0x1B (escape) is a placeholder here.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1B}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                         ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Characters of the extension table (two septets each).
const GSM_EXTENSION: &str = "\u{C}^{}\\[~]|€";

/// SplitMix64: small, deterministic, good enough to pick test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.range(0, items.len() - 1)]
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v:?} is not valid")),
        Err(_) => default,
    }
}

fn seed() -> u64 {
    env_or("SMS_CROSSCHECK_SEED", DEFAULT_SEED)
}

fn cases() -> usize {
    env_or("SMS_CROSSCHECK_CASES", DEFAULT_CASES)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gsm,
    GsmExtension,
    Bmp,
}

/// A text length: short, around the one-part limit, around a multipart boundary, or long.
fn random_length(rng: &mut Rng, single: usize, multi: usize) -> usize {
    match rng.range(0, 3) {
        0 => rng.range(1, 40),
        1 => rng.range(single - 8, single + 8),
        2 => {
            let parts = rng.range(2, 4);
            rng.range(parts * multi - 3, parts * multi + 3)
        }
        _ => rng.range(1, 4 * multi),
    }
}

fn gsm_basic_char(rng: &mut Rng) -> char {
    let basic: Vec<char> = GSM_BASIC.chars().filter(|&c| c != '\u{1B}').collect();
    // Mostly letters and spaces, like real messages, but every character shows up.
    if rng.chance(70) { rng.pick(&[' ', 'a', 'e', 'o', 's', 't', 'E', 'H', '1', '.']) } else { rng.pick(&basic) }
}

/// A BMP character that is not in the GSM alphabet, from a few scripts or anywhere in the BMP.
fn bmp_char(rng: &mut Rng) -> char {
    let (lo, hi) = match rng.range(0, 6) {
        0 => (0x0410, 0x044F), // Cyrillic
        1 => (0x4E00, 0x9FFF), // CJK
        2 => (0x03B1, 0x03C9), // Greek small letters
        3 => (0x0621, 0x064A), // Arabic
        4 => (0xAC00, 0xD7A3), // Hangul
        5 => (0x00A0, 0xD7FF), // anything below the surrogates
        _ => (0xE000, 0xFFFD), // private use and above
    };
    char::from_u32(rng.range(lo, hi) as u32).expect("BMP scalar")
}

/// A random text of `kind`, never empty, never above U+FFFF.
fn random_text(rng: &mut Rng, kind: Kind) -> String {
    match kind {
        Kind::Gsm => (0..random_length(rng, 160, 153)).map(|_| gsm_basic_char(rng)).collect(),
        Kind::GsmExtension => {
            let extension: Vec<char> = GSM_EXTENSION.chars().collect();
            let mut text: String = (0..random_length(rng, 80, 76))
                .map(|_| if rng.chance(20) { rng.pick(&extension) } else { gsm_basic_char(rng) })
                .collect();
            if rng.chance(40) {
                // An escape sequence across the first 153-septet boundary.
                let head: String = (0..152).map(|_| gsm_basic_char(rng)).collect();
                text = format!("{head}{}{text}", rng.pick(&extension));
            }
            if !text.chars().any(|c| GSM_EXTENSION.contains(c)) {
                text.push('€');
            }
            text
        }
        Kind::Bmp => {
            let mut chars: Vec<char> = (0..random_length(rng, 70, 67))
                .map(|_| if rng.chance(60) { bmp_char(rng) } else { gsm_basic_char(rng) })
                .collect();
            // At least one Cyrillic letter, so both sides must pick UCS-2.
            let at = rng.range(0, chars.len() - 1);
            chars[at] = char::from_u32(rng.range(0x0410, 0x044F) as u32).unwrap();
            chars.into_iter().collect()
        }
    }
}

fn random_number(rng: &mut Rng) -> String {
    let international = rng.chance(70);
    let digits = rng.range(3, 15);
    let mut s = if international { "+".to_owned() } else { String::new() };
    for i in 0..digits {
        let d = if i == 0 && international { rng.range(1, 9) } else { rng.range(0, 9) };
        s.push(char::from(b'0' + d as u8));
    }
    s
}

/// (minutes for python-messaging, TP-VP relative octet) pairs, both sides of every step.
const VALIDITIES: [(u32, u8); 10] = [
    (5, 0),
    (60, 11),
    (720, 143),
    (750, 144),
    (1440, 167),
    (2880, 168),
    (5760, 170),
    (43_200, 196),
    (50_400, 197),
    (635_040, 255),
];

/// One generated SMS-SUBMIT: our options and the same as a driver `encode_submit` request.
#[derive(Debug)]
struct Case {
    index: usize,
    kind: Kind,
    number: String,
    text: String,
    opts: SubmitOptions,
    validity_minutes: Option<u32>,
}

impl Case {
    fn generate(rng: &mut Rng, index: usize) -> Case {
        let kind = [Kind::Gsm, Kind::GsmExtension, Kind::Bmp][index % 3];
        let text = random_text(rng, kind);
        let number = random_number(rng);
        let validity = rng.chance(40).then(|| rng.pick(&VALIDITIES));
        let opts = SubmitOptions {
            smsc: rng.chance(50).then(|| random_number(rng)),
            status_report: rng.chance(30),
            validity: validity.map(|(_, vp)| Validity::Relative(vp)),
            class: rng.chance(20).then(|| rng.range(0, 3) as u8),
            message_ref: rng.range(0, 255) as u8,
            concat_ref: rng.range(0, 255) as u8,
            ..SubmitOptions::default()
        };
        Case { index, kind, number, text, opts, validity_minutes: validity.map(|(m, _)| m) }
    }

    fn python_request(&self) -> Value {
        json!({
            "op": "encode_submit",
            "number": self.number,
            "text": self.text,
            "smsc": self.opts.smsc,
            "validity_minutes": self.validity_minutes,
            "status_report": self.opts.status_report,
            "message_ref": self.opts.message_ref,
            "csms_ref": self.opts.concat_ref,
            "class": self.opts.class,
            "encoding": null,
        })
    }

    /// Names the case in failure messages.
    fn id(&self) -> String {
        format!("seed {} case {} ({:?}, {:?} to {})", seed(), self.index, self.kind, self.text, self.number)
    }

    fn ours(&self) -> Vec<Vec<u8>> {
        tpdu::encode_submit(&self.number, &self.text, &self.opts)
            .unwrap_or_else(|e| panic!("{}: encode_submit failed: {e:?}", self.id()))
    }

    fn pythons(&self, py: &PyMessaging) -> Vec<String> {
        let answer = py.call_ok(self.python_request());
        answer["pdus"].as_array().unwrap().iter().map(|p| p["hex"].as_str().unwrap().to_owned()).collect()
    }

    /// python-messaging's DCS for this text: 0x00 GSM or 0x08 UCS-2, with the class bits.
    fn expected_dcs(&self) -> u64 {
        let base = if self.kind == Kind::Bmp { 0x08 } else { 0x00 };
        match self.opts.class {
            Some(c) => base | 0x10 | c as u64,
            None => base,
        }
    }
}

fn all_cases() -> Vec<Case> {
    assert_eq!(GSM_BASIC.chars().count(), 128, "GSM_BASIC must list all 128 septets");
    let mut rng = Rng(seed());
    (0..cases()).map(|i| Case::generate(&mut rng, i)).collect()
}

/// The text as python-messaging would send it: GSM septets, or UTF-16BE code units.
fn units(py: &PyMessaging, case: &Case) -> Vec<u8> {
    match case.kind {
        Kind::Bmp => case.text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        _ => from_hex(py.call_ok(json!({"op": "gsm_encode", "text": case.text}))["hex"].as_str().unwrap()),
    }
}

/// Whether python-messaging's 153-septet cut falls between an escape and its character.
fn python_splits_an_escape(septets: &[u8]) -> bool {
    septets.len() > 160 && septets.chunks(153).rev().skip(1).any(|part| part.last() == Some(&gsm7::ESC))
}

fn concat_of(d: &Value) -> Option<(u64, u64, u64)> {
    let c = d["udh"].get("concat").filter(|c| !c.is_null())?;
    Some((c["ref"].as_u64()?, c["cnt"].as_u64()?, c["seq"].as_u64()?))
}

/// Our PDUs, decoded by python-messaging: same text (joined), number, SMSC, concatenation
/// header, DCS, message reference, status-report request and validity.
#[test]
fn python_messaging_decodes_what_we_encode() {
    let py = PyMessaging::get();
    let mut multipart = 0;
    for case in all_cases() {
        let id = case.id();
        let ours = case.ours();
        let total = ours.len() as u64;
        multipart += usize::from(total > 1);
        let mut joined = String::new();
        for (i, pdu) in ours.iter().enumerate() {
            let d = py.decode_submit(&to_hex(pdu));
            let part = format!("{id}, part {}/{total}", i + 1);
            assert_eq!(d["surrogates"], false, "{part}");
            joined.push_str(d["text"].as_str().unwrap_or_else(|| panic!("{part}: no text: {d}")));
            assert_eq!(d["number"], case.number.as_str(), "{part}");
            assert_eq!(d["csca"], json!(case.opts.smsc), "{part}");
            assert_eq!(d["pid"], 0, "{part}");
            assert_eq!(d["dcs"], case.expected_dcs(), "{part}");
            let want_concat = (total > 1).then_some((case.opts.concat_ref as u64, total, i as u64 + 1));
            assert_eq!(concat_of(&d), want_concat, "{part}: {}", d["udh"]);
            let submit = &d["submit"];
            assert_eq!(submit["message_ref"], case.opts.message_ref, "{part}");
            assert_eq!(submit["status_report"], case.opts.status_report, "{part}");
            let vp = match case.opts.validity {
                Some(Validity::Relative(vp)) => format!("{vp:02X}"),
                _ => String::new(),
            };
            assert_eq!(submit["vp_hex"], vp, "{part}");
        }
        assert_eq!(joined, case.text, "{id}: the parts python-messaging decoded, joined");
    }
    assert!(multipart >= cases() / 4, "only {multipart} of {} cases were multipart", cases());
}

/// Byte for byte, our SMS-SUBMITs equal python-messaging's for the same text and options,
/// except where python-messaging splits an escape sequence (then: same septets, ours keep the
/// escape with its character).
#[test]
fn we_encode_the_same_pdus_as_python_messaging() {
    let py = PyMessaging::get();
    let (mut identical, mut escape_splits) = (0, 0);
    for case in all_cases() {
        let id = case.id();
        let ours: Vec<String> = case.ours().iter().map(|p| to_hex(p)).collect();
        let theirs = case.pythons(py);
        if case.kind != Kind::Bmp && python_splits_an_escape(&units(py, &case)) {
            escape_splits += 1;
            // Ours never end a part on an escape.
            for pdu in case.ours() {
                let payload = match tpdu::decode(&pdu, true).expect("decoding our own PDU").tpdu {
                    Tpdu::Submit(s) => s.user_data.payload,
                    other => panic!("{id}: not a SUBMIT: {other:?}"),
                };
                assert_ne!(payload.last(), Some(&gsm7::ESC), "{id}: a part of ours ends on an escape");
            }
            continue;
        }
        assert_eq!(ours, theirs, "{id}");
        identical += 1;
    }
    eprintln!("crosscheck: {identical} cases byte-identical, {escape_splits} with python-messaging's escape split");
    assert!(escape_splits > 0, "no case exercised python-messaging's escape split; the generator changed?");
    assert!(identical >= cases() * 3 / 4, "only {identical} of {} cases compared byte for byte", cases());
}

fn decode_ours(hex: &str, id: &str) -> Pdu {
    tpdu::decode(&from_hex(hex), true).unwrap_or_else(|e| panic!("{id}: our decoder rejects {hex}: {e:?}"))
}

/// python-messaging's SMS-SUBMITs, decoded by us: same header fields, the same septets or
/// UTF-16 units, and the same text (joined) unless python-messaging split an escape.
#[test]
fn we_decode_what_python_messaging_encodes() {
    let py = PyMessaging::get();
    for case in all_cases() {
        let id = case.id();
        let theirs = case.pythons(py);
        let total = theirs.len();
        let (mut joined_text, mut joined_units) = (String::new(), Vec::new());
        for (i, hex) in theirs.iter().enumerate() {
            let part = format!("{id}, part {}/{total}: {hex}", i + 1);
            let pdu = decode_ours(hex, &part);
            assert_eq!(pdu.smsc.as_ref().map(|a| a.value.as_str()), case.opts.smsc.as_deref(), "{part}");
            let concat = pdu.tpdu.concat().map(|c| (c.reference, c.total as usize, c.seq as usize));
            assert_eq!(concat, (total > 1).then_some((case.opts.concat_ref as u16, total, i + 1)), "{part}");
            let Tpdu::Submit(s) = pdu.tpdu else { panic!("{part}: not decoded as SMS-SUBMIT: {:?}", pdu.tpdu) };
            assert_eq!(s.destination.value, case.number, "{part}");
            assert_eq!(s.message_ref, case.opts.message_ref, "{part}");
            assert_eq!(s.status_report_request, case.opts.status_report, "{part}");
            assert_eq!(s.validity, case.opts.validity, "{part}");
            assert_eq!((s.pid, s.dcs.raw as u64, s.dcs.class), (0, case.expected_dcs(), case.opts.class), "{part}");
            let alphabet = if case.kind == Kind::Bmp { Alphabet::Ucs2 } else { Alphabet::Gsm7 };
            assert_eq!(s.dcs.alphabet, alphabet, "{part}");
            joined_text.push_str(s.user_data.text.as_deref().unwrap_or_else(|| panic!("{part}: no text")));
            joined_units.extend(s.user_data.payload);
        }
        assert_eq!(joined_units, units(py, &case), "{id}: septets or UTF-16 units, joined");
        let escape_split = case.kind != Kind::Bmp && python_splits_an_escape(&joined_units);
        if !escape_split {
            assert_eq!(joined_text, case.text, "{id}: texts, joined");
        }
    }
}

/// A random valid SCTS: years 2000..=2068 or 1990..=1999 (see the module docs), any offset.
fn random_scts(rng: &mut Rng) -> [u8; 7] {
    let bcd = |v: usize| ((v % 10) << 4 | (v / 10)) as u8;
    let year = if rng.chance(90) { rng.range(0, 68) } else { rng.range(90, 99) };
    let quarters = rng.range(0, 79);
    let tz = bcd(quarters) | if rng.chance(40) { 0x08 } else { 0 };
    [
        bcd(year),
        bcd(rng.range(1, 12)),
        bcd(rng.range(1, 28)),
        bcd(rng.range(0, 23)),
        bcd(rng.range(0, 59)),
        bcd(rng.range(0, 59)),
        tz,
    ]
}

/// Unix seconds of python-messaging's naive UTC `YYYY-MM-DDTHH:MM:SS`.
fn unix_seconds(iso: &str) -> i64 {
    let n = |r: std::ops::Range<usize>| iso[r].parse::<i64>().unwrap_or_else(|_| panic!("bad date {iso}"));
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

/// SMS-DELIVER decoding, side by side: python-messaging's SUBMITs re-framed as DELIVER with a
/// random SCTS, decoded by both codecs, part by part.
#[test]
fn deliver_decoding_agrees_with_python_messaging() {
    let py = PyMessaging::get();
    let mut rng = Rng(seed() ^ 0xDE11_5E12);
    for case in all_cases() {
        let id = case.id();
        for (i, hex) in case.pythons(py).iter().enumerate() {
            let scts = random_scts(&mut rng);
            let theirs = py.call_ok(json!({"op": "decode_submit", "hex": hex, "scts": to_hex(&scts)}));
            let deliver_hex = theirs["deliver_hex"].as_str().unwrap();
            let part = format!("{id}, part {}: {deliver_hex}", i + 1);
            let pdu = decode_ours(deliver_hex, &part);
            assert_eq!(
                pdu.smsc.as_ref().map(|a| a.value.clone()),
                theirs["csca"].as_str().map(str::to_owned),
                "{part}"
            );
            let concat = pdu.tpdu.concat().map(|c| (c.reference as u64, c.total as u64, c.seq as u64));
            assert_eq!(concat, concat_of(&theirs), "{part}");
            let Tpdu::Deliver(d) = pdu.tpdu else { panic!("{part}: not decoded as SMS-DELIVER: {:?}", pdu.tpdu) };
            assert_eq!(d.originator.value, theirs["number"].as_str().unwrap(), "{part}");
            assert_eq!((d.pid as u64, d.dcs.raw as u64), (0, theirs["dcs"].as_u64().unwrap()), "{part}");
            assert_eq!(d.user_data.text.as_deref(), theirs["text"].as_str(), "{part}");
            let date = theirs["date"].as_str().unwrap_or_else(|| panic!("{part}: no date: {theirs}"));
            assert_eq!(d.timestamp.unix_ms() / 1000, unix_seconds(date), "{part}: SCTS {}", to_hex(&scts));
        }
    }
}

/// Every BMP character: in python-messaging's GSM 03.38 codec (strict) exactly when in our
/// default alphabet, with the same septets; and `is_valid_gsm` agrees with `gsm7::is_gsm`.
#[test]
fn gsm_alphabet_agrees_with_python_messaging() {
    let py = PyMessaging::get();
    let chars: Vec<char> = (0..=0xFFFF).filter_map(char::from_u32).collect();
    let mut checked = 0;
    for chunk in chars.chunks(8192) {
        let texts: Vec<String> = chunk.iter().map(|c| c.to_string()).collect();
        let answer = py.call_ok(json!({"op": "gsm_encode_many", "texts": texts}));
        for ((c, hex), valid) in
            chunk.iter().zip(answer["hex"].as_array().unwrap()).zip(answer["is_valid_gsm"].as_array().unwrap())
        {
            let ours = match Tables::DEFAULT.encode_char(*c) {
                Some(Septets::One(s)) => Some(format!("{s:02X}")),
                Some(Septets::Escaped(s)) => Some(format!("1B{s:02X}")),
                None => None,
            };
            assert_eq!(ours.as_deref(), hex.as_str(), "U+{:04X} {c:?}: our septets vs python-messaging's", *c as u32);
            assert_eq!(gsm7::is_gsm(&c.to_string()), valid.as_bool().unwrap(), "U+{:04X} {c:?}: is_gsm", *c as u32);
            checked += 1;
        }
    }
    assert_eq!(checked, 0x10000 - 0x800, "every BMP scalar value");
}
