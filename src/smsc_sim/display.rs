//! What the simulator shows: one readable line per message, the texts of long messages
//! joined once all their parts are in, and the delivery receipt text it sends back.

use serde::Serialize;

use crate::smpp::{Address, Tlv, TlvList, tlv};
use crate::sms::dcs::{Alphabet, Dcs};
use crate::sms::gsm7::{self, Tables};
use crate::sms::reassembly::{self, Part, PartEncoding};
use crate::sms::ucs2;
use crate::sms::udh::Udh;

const ESM_UDHI: u8 = 0x40;

/// One part of a concatenated message, from a UDH element or from sar_* TLVs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concat {
    pub reference: u16,
    pub total: u8,
    pub seq: u8,
    pub sar: bool,
}

/// A submit_sm, data_sm or deliver_sm body, decoded for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub from: String,
    pub to: String,
    /// gsm7, ascii, latin1, ucs2 or binary.
    pub encoding: &'static str,
    pub concat: Option<Concat>,
    /// The text came in the message_payload TLV.
    pub payload: bool,
    /// Something odd worth showing (a malformed header, a UCS-2 text of odd length).
    pub note: Option<String>,
    /// This part's text (hex for binary data).
    pub text: String,
    /// The part as reassembly needs it.
    pub part: Part,
}

/// `+digits` for international numbers (TON 1), the address as given otherwise.
pub fn number(a: &Address) -> String {
    if a.ton == 1 && !a.addr.starts_with('+') { format!("+{}", a.addr) } else { a.addr.clone() }
}

/// Decodes what an ESME (or the simulator) put in a message. Never fails: whatever
/// cannot be read as text is shown as hex, with a note.
pub fn decode(
    source: &Address,
    dest: &Address,
    esm_class: u8,
    data_coding: u8,
    short_message: &[u8],
    tlvs: &[Tlv],
) -> Shown {
    let payload = tlvs.tlv(tlv::MESSAGE_PAYLOAD);
    let body = payload.unwrap_or(short_message);
    let mut note = None;
    let (udh, text) = if esm_class & ESM_UDHI != 0 {
        let len = body.first().copied().unwrap_or(0) as usize;
        match body.get(1..1 + len).map(|ies| Udh::parse(ies, 1)) {
            Some(Ok(udh)) => (udh, &body[1 + len..]),
            Some(Err(e)) => {
                note = Some(format!("bad UDH: {e}"));
                (Udh::default(), body)
            }
            None => {
                note = Some(format!("UDH length {len} is beyond the message"));
                (Udh::default(), body)
            }
        }
    } else {
        (Udh::default(), body)
    };
    let concat =
        udh.concat().map(|c| Concat { reference: c.reference, total: c.total, seq: c.seq, sar: false }).or_else(|| {
            Some(Concat {
                reference: tlvs.tlv_u16(tlv::SAR_MSG_REF_NUM)?,
                total: tlvs.tlv_u8(tlv::SAR_TOTAL_SEGMENTS)?,
                seq: tlvs.tlv_u8(tlv::SAR_SEGMENT_SEQNUM)?,
                sar: true,
            })
        });
    let gsm = Tables { locking: udh.locking_shift(), single: udh.single_shift() };
    let latin1 = |bytes: &[u8]| bytes.iter().map(|&b| b as char).collect::<String>();
    // SMPP's data_coding values below 0x10 are its own (SMPP 3.4 §5.2.19), not GSM's DCS.
    let alphabet = match data_coding {
        0 => "gsm7",
        1 => "ascii",
        3 => "latin1",
        8 => "ucs2",
        0x02 | 0x04..=0x0F => "binary",
        dc => match Dcs::decode(dc).alphabet {
            Alphabet::Gsm7 => "gsm7",
            Alphabet::Ucs2 => "ucs2",
            Alphabet::EightBit => "binary",
        },
    };
    let (encoding, shown, part) = match alphabet {
        "gsm7" => (alphabet, gsm7::decode(text, &gsm), PartEncoding::gsm7(gsm)),
        // As UCS-2 for reassembly, so parts in different alphabets still join.
        "ascii" | "latin1" => (alphabet, latin1(text), PartEncoding::Ucs2),
        "ucs2" => match ucs2::decode(text) {
            Ok(s) => ("ucs2", s, PartEncoding::Ucs2),
            Err(_) => {
                note = Some("UCS-2 text with an odd number of octets".into());
                ("ucs2", hex(text), PartEncoding::Binary)
            }
        },
        _ => ("binary", hex(text), PartEncoding::Binary),
    };
    let bytes = if alphabet == "ascii" || alphabet == "latin1" { ucs2::encode(&shown) } else { text.to_vec() };
    Shown {
        from: number(source),
        to: number(dest),
        encoding,
        concat,
        payload: payload.is_some(),
        note,
        text: shown,
        part: Part { seq: concat.map_or(1, |c| c.seq), encoding: part, payload: bytes },
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// `submit_sm +15550001111 → +447700900123 [ucs2, part 2/3 ref 0x1234] "text"`.
pub fn line(command: &str, m: &Shown) -> String {
    let mut tags = vec![m.encoding.to_string()];
    if let Some(c) = m.concat {
        let via = if c.sar { " (sar)" } else { "" };
        tags.push(format!("part {}/{} ref 0x{:04X}{via}", c.seq, c.total, c.reference));
    }
    if m.payload {
        tags.push("message_payload".into());
    }
    if let Some(note) = &m.note {
        tags.push(note.clone());
    }
    format!("{command} {} → {} [{}] {:?}", m.from, m.to, tags.join(", "), m.text)
}

/// A message the simulator accepted from the bridge, as `GET /messages` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub from: String,
    pub to: String,
    /// The whole text; parts not yet received show as `[part N of M missing]`.
    pub text: String,
    pub encoding: String,
    /// One per part, in the order they arrived.
    pub message_ids: Vec<String>,
    pub parts: u8,
    pub complete: bool,
    #[serde(skip)]
    reference: Option<u16>,
    #[serde(skip)]
    pieces: Vec<Part>,
}

/// What adding a part did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// A message in one part.
    Single,
    /// One more part; the whole text once this part completed the message.
    Part { whole: Option<String> },
    /// A part already received (a resend); its message id is recorded anyway.
    Duplicate,
}

/// Every accepted message, long ones joined as their parts arrive (in any order).
#[derive(Debug, Default)]
pub struct Messages {
    list: Vec<Message>,
}

/// Oldest messages are forgotten beyond this many.
const KEEP: usize = 10_000;

impl Messages {
    pub fn add(&mut self, m: &Shown, message_id: &str) -> Added {
        let Some(c) = m.concat.filter(|c| c.total > 1) else {
            self.push(Message {
                from: m.from.clone(),
                to: m.to.clone(),
                text: m.text.clone(),
                encoding: m.encoding.into(),
                message_ids: vec![message_id.into()],
                parts: 1,
                complete: true,
                reference: None,
                pieces: Vec::new(),
            });
            return Added::Single;
        };
        let open = self.list.iter_mut().rev().find(|x| {
            !x.complete && x.reference == Some(c.reference) && x.parts == c.total && x.from == m.from && x.to == m.to
        });
        let msg = match open {
            Some(msg) => msg,
            None => {
                self.push(Message {
                    from: m.from.clone(),
                    to: m.to.clone(),
                    text: String::new(),
                    encoding: m.encoding.into(),
                    message_ids: Vec::new(),
                    parts: c.total,
                    complete: false,
                    reference: Some(c.reference),
                    pieces: Vec::new(),
                });
                self.list.last_mut().expect("just pushed")
            }
        };
        msg.message_ids.push(message_id.into());
        if msg.pieces.iter().any(|p| p.seq == c.seq) || c.seq == 0 || c.seq > c.total {
            return Added::Duplicate;
        }
        msg.pieces.push(m.part.clone());
        msg.text = reassembly::assemble(c.total, &msg.pieces);
        if msg.encoding != m.encoding && !msg.encoding.contains(m.encoding) {
            msg.encoding = format!("{}+{}", msg.encoding, m.encoding);
        }
        msg.complete = msg.pieces.len() == c.total as usize;
        if msg.complete {
            msg.pieces = Vec::new();
        }
        Added::Part { whole: msg.complete.then(|| msg.text.clone()) }
    }

    fn push(&mut self, m: Message) {
        if self.list.len() >= KEEP {
            self.list.remove(0);
        }
        self.list.push(m);
    }

    pub fn list(&self) -> &[Message] {
        &self.list
    }
}

/// The receipt text SMSCs send (SMPP 3.4 Appendix B), with the first 20 characters of
/// the message; non-ASCII characters become `?` since receipts travel as plain ASCII.
pub fn receipt_text(id: &str, submitted: u64, done: u64, stat: &str, delivered: bool, text: &str) -> String {
    let excerpt: String =
        text.chars().take(20).map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' }).collect();
    let (dlvrd, err) = if delivered { ("001", "000") } else { ("000", "001") };
    format!(
        "id:{id} sub:001 dlvrd:{dlvrd} submit date:{} done date:{} stat:{stat} err:{err} text:{excerpt}",
        yymmddhhmm(submitted),
        yymmddhhmm(done)
    )
}

/// Unix seconds as `YYMMDDhhmm` (UTC).
pub fn yymmddhhmm(unix: u64) -> String {
    let t = crate::sms::time::Timestamp::from_unix(unix as i64);
    format!("{:02}{:02}{:02}{:02}{:02}", t.year % 100, t.month, t.day, t.hour, t.minute)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        match s.strip_prefix('+') {
            Some(d) => Address { ton: 1, npi: 1, addr: d.into() },
            None => Address { ton: 0, npi: 1, addr: s.into() },
        }
    }

    fn show(esm: u8, dc: u8, sm: &[u8], tlvs: Vec<Tlv>) -> Shown {
        decode(&addr("+15550001111"), &addr("+447700900123"), esm, dc, sm, &tlvs)
    }

    fn udh_part(reference: u8, total: u8, seq: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![5, 0x00, 3, reference, total, seq];
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn gsm_unpacked_single() {
        let sm = gsm7::encode("Hello €[1]", &Tables::DEFAULT).unwrap();
        let m = show(0, 0, &sm, vec![]);
        assert_eq!(line("submit_sm", &m), r#"submit_sm +15550001111 → +447700900123 [gsm7] "Hello €[1]""#);
    }

    #[test]
    fn ucs2_part_with_udh_16bit_reference() {
        let mut sm = vec![6, 0x08, 4, 0x12, 0x34, 3, 2];
        sm.extend(ucs2::encode("Привет 😀\n"));
        let m = show(0x40, 8, &sm, vec![]);
        assert_eq!(
            line("submit_sm", &m),
            r#"submit_sm +15550001111 → +447700900123 [ucs2, part 2/3 ref 0x1234] "Привет 😀\n""#
        );
    }

    #[test]
    fn sar_tlvs_latin1_and_payload() {
        let tlvs = vec![
            Tlv::u16(tlv::SAR_MSG_REF_NUM, 7),
            Tlv::u8(tlv::SAR_TOTAL_SEGMENTS, 2),
            Tlv::u8(tlv::SAR_SEGMENT_SEQNUM, 1),
        ];
        let m = show(0, 3, b"caf\xe9", tlvs);
        assert_eq!(
            line("submit_sm", &m),
            r#"submit_sm +15550001111 → +447700900123 [latin1, part 1/2 ref 0x0007 (sar)] "café""#
        );
        let m = show(0, 0, b"ignored", vec![Tlv::new(tlv::MESSAGE_PAYLOAD, b"Long text".to_vec())]);
        assert_eq!(line("data_sm", &m), r#"data_sm +15550001111 → +447700900123 [gsm7, message_payload] "Long text""#);
    }

    #[test]
    fn odd_bodies_show_as_hex_with_a_note() {
        let m = show(0x40, 0, &[9, 0, 3], vec![]);
        assert_eq!(m.note.as_deref(), Some("UDH length 9 is beyond the message"));
        let m = show(0, 8, &[0x00, 0x41, 0x00], vec![]);
        assert_eq!((m.text.as_str(), m.note.is_some()), ("004100", true));
        assert_eq!(show(0, 4, &[0xCA, 0xFE], vec![]).text, "CAFE");
        // A GSM DCS with a message class: still GSM text.
        assert_eq!(show(0, 0xF0, b"Hi", vec![]).encoding, "gsm7");
        assert_eq!(Address { ton: 5, npi: 0, addr: "Bank".into() }.addr, number(&addr("Bank")));
    }

    #[test]
    fn long_messages_join_in_any_order_once() {
        let mut msgs = Messages::default();
        let gsm = |s: &str| gsm7::encode(s, &Tables::DEFAULT).unwrap();
        assert_eq!(msgs.add(&show(0x40, 0, &udh_part(9, 3, 3, &gsm("!")), vec![]), "3"), Added::Part { whole: None });
        assert_eq!(
            msgs.add(&show(0x40, 0, &udh_part(9, 3, 1, &gsm("Hello ")), vec![]), "1"),
            Added::Part { whole: None }
        );
        assert_eq!(msgs.list()[0].text, "Hello [part 2 of 3 missing]!");
        assert!(!msgs.list()[0].complete);
        // A different reference is another message.
        msgs.add(&show(0x40, 0, &udh_part(10, 2, 1, &gsm("x")), vec![]), "4");
        let whole = msgs.add(&show(0x40, 0, &udh_part(9, 3, 2, &gsm("world")), vec![]), "2");
        assert_eq!(whole, Added::Part { whole: Some("Hello world!".into()) });
        assert_eq!(msgs.list().len(), 2);
        let m = &msgs.list()[0];
        assert_eq!((m.complete, m.parts, m.message_ids.clone()), (true, 3, vec!["3".into(), "1".into(), "2".into()]));
        // A part resent after the message completed starts a new one rather than
        // touching the finished message.
        msgs.add(&show(0x40, 0, &udh_part(9, 3, 2, &gsm("world")), vec![]), "5");
        assert_eq!(msgs.list().len(), 3);
        assert_eq!(msgs.add(&show(0x40, 0, &udh_part(10, 2, 1, &gsm("x")), vec![]), "6"), Added::Duplicate);
        assert_eq!(msgs.add(&show(0, 0, &gsm("short"), vec![]), "7"), Added::Single);
        let json = serde_json::to_value(msgs.list().last().unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"from": "+15550001111", "to": "+447700900123", "text": "short", "encoding": "gsm7",
                "message_ids": ["7"], "parts": 1, "complete": true})
        );
    }

    #[test]
    fn parts_in_different_alphabets_join() {
        let mut msgs = Messages::default();
        msgs.add(&show(0x40, 0, &udh_part(1, 2, 1, &gsm7::encode("Price: ", &Tables::DEFAULT).unwrap()), vec![]), "a");
        let mut second = vec![5, 0, 3, 1, 2, 2];
        second.extend(ucs2::encode("5 ₹"));
        let added = msgs.add(&show(0x40, 8, &second, vec![]), "b");
        assert_eq!(added, Added::Part { whole: Some("Price: 5 ₹".into()) });
        assert_eq!(msgs.list()[0].encoding, "gsm7+ucs2");
    }

    #[test]
    fn receipt_text_and_dates() {
        assert_eq!(yymmddhhmm(0), "7001010000");
        assert_eq!(yymmddhhmm(951_782_400), "0002290000"); // 2000-02-29, a leap day
        assert_eq!(yymmddhhmm(1_709_294_460), "2403011201");
        assert_eq!(
            receipt_text("1a", 1_709_294_400, 1_709_294_460, "DELIVRD", true, "Grüße aus Köln, bis morgen"),
            "id:1a sub:001 dlvrd:001 submit date:2403011200 done date:2403011201 stat:DELIVRD err:000 text:Gr??e aus K?ln, bis "
        );
        let failed = receipt_text("1b", 0, 0, "UNDELIV", false, "x");
        assert!(failed.contains("dlvrd:000") && failed.contains("stat:UNDELIV err:001"), "{failed}");
        let parsed = crate::smpp::receipt::parse(&failed).unwrap();
        assert_eq!((parsed.id.as_str(), parsed.stat.as_deref()), ("1b", Some("UNDELIV")));
    }
}
