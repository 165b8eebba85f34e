//! Delivery receipts: the informal `id:… stat:…` text (SMPP 3.4 Appendix B), message
//! states, and matching receipt ids to submit_sm_resp ids.

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    pub id: String,
    pub sub: Option<String>,
    pub dlvrd: Option<String>,
    pub submit_date: Option<String>,
    pub done_date: Option<String>,
    pub stat: Option<String>,
    pub err: Option<String>,
    pub text: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Key {
    Id,
    Sub,
    Dlvrd,
    SubmitDate,
    DoneDate,
    Stat,
    Err,
    Text,
}

/// Spellings seen in the wild; matched case-insensitively.
const KEYS: [(&str, Key); 12] = [
    ("id", Key::Id),
    ("sub", Key::Sub),
    ("dlvrd", Key::Dlvrd),
    ("submit date", Key::SubmitDate),
    ("submit_date", Key::SubmitDate),
    ("submitdate", Key::SubmitDate),
    ("done date", Key::DoneDate),
    ("done_date", Key::DoneDate),
    ("donedate", Key::DoneDate),
    ("stat", Key::Stat),
    ("err", Key::Err),
    ("text", Key::Text),
];

/// Parses SMSC receipt text (`id:… sub:… dlvrd:… submit date:… done date:… stat:… err:…
/// text:…`). Keys are case-insensitive and may come in any order; each value runs to the
/// next key. Missing fields are None; so is an empty value. `text:` runs to the end, colons
/// and all, so anything after it is part of the text. None if there is no (non-empty) id.
pub fn parse(text: &str) -> Option<Receipt> {
    // (key, where the key starts, where its value starts)
    let mut found: Vec<(Key, usize, usize)> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if let Some((key, value_at)) = boundary.then(|| key_at(bytes, i)).flatten() {
            found.push((key, i, value_at));
            if key == Key::Text {
                break;
            }
            i = value_at;
        } else {
            i += 1;
        }
    }

    let mut receipt = Receipt::default();
    for (n, &(key, _, value_at)) in found.iter().enumerate() {
        let end = found.get(n + 1).map_or(text.len(), |next| next.1);
        // Keys and ':' are ASCII, so these offsets are char boundaries.
        let value = text[value_at..end].trim();
        let slot = match key {
            Key::Id => {
                if receipt.id.is_empty() {
                    receipt.id = value.to_string();
                }
                continue;
            }
            Key::Sub => &mut receipt.sub,
            Key::Dlvrd => &mut receipt.dlvrd,
            Key::SubmitDate => &mut receipt.submit_date,
            Key::DoneDate => &mut receipt.done_date,
            Key::Stat => &mut receipt.stat,
            Key::Err => &mut receipt.err,
            Key::Text => &mut receipt.text,
        };
        if slot.is_none() && !value.is_empty() {
            *slot = Some(value.to_string());
        }
    }
    (!receipt.id.is_empty()).then_some(receipt)
}

/// The key starting at `i` (followed by optional spaces and ':'), and where its value starts.
fn key_at(bytes: &[u8], i: usize) -> Option<(Key, usize)> {
    KEYS.iter().find_map(|&(spelling, key)| {
        let rest = &bytes[i..];
        let head = rest.get(..spelling.len())?;
        if !head.eq_ignore_ascii_case(spelling.as_bytes()) {
            return None;
        }
        let spaces = rest[spelling.len()..].iter().take_while(|&&b| b == b' ').count();
        let colon = i + spelling.len() + spaces;
        (bytes.get(colon) == Some(&b':')).then_some((key, colon + 1))
    })
}

/// SMPP 3.4 §5.2.28 message_state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    Enroute,
    Delivered,
    Expired,
    Deleted,
    Undeliverable,
    Accepted,
    Unknown,
    Rejected,
}

impl MessageState {
    /// The message_state TLV value (1..=8).
    pub fn from_tlv(v: u8) -> Option<Self> {
        use MessageState::*;
        Some(match v {
            1 => Enroute,
            2 => Delivered,
            3 => Expired,
            4 => Deleted,
            5 => Undeliverable,
            6 => Accepted,
            7 => Unknown,
            8 => Rejected,
            _ => return None,
        })
    }

    /// The receipt's `stat:` value: the 7-letter forms (DELIVRD, UNDELIV, …), the full
    /// words, and Kannel's extras (BUFFRED/BUFFERED as en route, ACKED as accepted).
    pub fn from_stat(s: &str) -> Option<Self> {
        use MessageState::*;
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "ENROUTE" | "BUFFRED" | "BUFFERD" | "BUFFERED" => Enroute,
            "DELIVRD" | "DELIVERED" => Delivered,
            "EXPIRED" => Expired,
            "DELETED" => Deleted,
            "UNDELIV" | "UNDELIVERABLE" | "UNDELIVERED" => Undeliverable,
            "ACCEPTD" | "ACCEPTED" | "ACKED" => Accepted,
            "UNKNOWN" => Unknown,
            "REJECTD" | "REJECTED" => Rejected,
            _ => return None,
        })
    }

    /// No further receipt is expected. Like Kannel, ACCEPTD is taken as intermediate
    /// (SMSCs send it for "accepted by the network", then DELIVRD later) and UNKNOWN as
    /// a final failure.
    pub fn is_final(self) -> bool {
        !matches!(self, MessageState::Enroute | MessageState::Accepted)
    }

    pub fn is_success(self) -> bool {
        self == MessageState::Delivered
    }
}

/// Trimmed, lowercase, leading zeros stripped ("0" stays "0"), so "00A1B" and "a1b" match.
pub fn canonical_id(id: &str) -> String {
    let id = id.trim().to_ascii_lowercase();
    let stripped = id.trim_start_matches('0');
    if stripped.is_empty() && !id.is_empty() { "0".to_string() } else { stripped.to_string() }
}

/// Candidate spellings of a message id for matching a receipt to a submit_sm_resp id,
/// because SMSCs often give the id in hex in one and in decimal in the other.
///
/// First `canonical_id(id)`; then, if it is all decimal digits, its value in hex; then, if
/// it is all hex digits (which decimal digits also are), its value in decimal. Conversions
/// that overflow u128 are skipped; duplicates dropped. All lowercase, no leading zeros:
/// "000123" → ["123", "7b", "291"], "0A1B" → ["a1b", "2587"], "2587" → ["2587", "a1b", "9607"].
pub fn id_candidates(id: &str) -> Vec<String> {
    let canonical = canonical_id(id);
    let mut out = vec![canonical.clone()];
    let mut add = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    let all = |f: fn(&u8) -> bool| !canonical.is_empty() && canonical.as_bytes().iter().all(f);
    if all(u8::is_ascii_digit)
        && let Ok(v) = canonical.parse::<u128>()
    {
        add(format!("{v:x}"));
    }
    if all(u8::is_ascii_hexdigit)
        && let Ok(v) = u128::from_str_radix(&canonical, 16)
    {
        add(v.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: &str =
        "id:0123456789 sub:001 dlvrd:001 submit date:2403011200 done date:2403011201 stat:DELIVRD err:000 text:Hello";

    #[test]
    fn standard_text() {
        let r = parse(STANDARD).unwrap();
        assert_eq!(
            r,
            Receipt {
                id: "0123456789".into(),
                sub: Some("001".into()),
                dlvrd: Some("001".into()),
                submit_date: Some("2403011200".into()),
                done_date: Some("2403011201".into()),
                stat: Some("DELIVRD".into()),
                err: Some("000".into()),
                text: Some("Hello".into()),
            }
        );
    }

    #[test]
    fn uppercase_keys() {
        let r =
            parse("ID:abc SUB:001 DLVRD:001 SUBMIT DATE:2403011200 DONE DATE:2403011201 STAT:UNDELIV ERR:034 TEXT:x")
                .unwrap();
        assert_eq!(r.id, "abc");
        assert_eq!(r.submit_date.as_deref(), Some("2403011200"));
        assert_eq!(r.done_date.as_deref(), Some("2403011201"));
        assert_eq!(r.stat.as_deref(), Some("UNDELIV"));
        assert_eq!(r.err.as_deref(), Some("034"));
        assert_eq!(r.text.as_deref(), Some("x"));
        let r = parse("Id:7 Stat:Delivrd").unwrap();
        assert_eq!((r.id.as_str(), r.stat.as_deref()), ("7", Some("Delivrd")));
    }

    #[test]
    fn shuffled_order() {
        let r = parse("stat:EXPIRED err:001 done date:2403020000 id:FF00 submit_date:2403010000 dlvrd:000 sub:001")
            .unwrap();
        assert_eq!(r.id, "FF00");
        assert_eq!(r.stat.as_deref(), Some("EXPIRED"));
        assert_eq!(r.err.as_deref(), Some("001"));
        assert_eq!(r.done_date.as_deref(), Some("2403020000"));
        assert_eq!(r.submit_date.as_deref(), Some("2403010000"));
        assert_eq!(r.dlvrd.as_deref(), Some("000"));
        assert_eq!(r.sub.as_deref(), Some("001"));
        assert_eq!(r.text, None);
    }

    #[test]
    fn missing_fields() {
        let r = parse("id:42 stat:DELIVRD").unwrap();
        assert_eq!(r, Receipt { id: "42".into(), stat: Some("DELIVRD".into()), ..Receipt::default() });
        let r = parse("id: 42  err: stat:REJECTD").unwrap();
        assert_eq!(r.id, "42", "values are trimmed");
        assert_eq!(r.err, None, "an empty value is missing");
        assert_eq!(r.stat.as_deref(), Some("REJECTD"));
    }

    #[test]
    fn text_runs_to_the_end() {
        let r = parse("id:1 stat:DELIVRD text:time: 12:30 id:2 stat:UNDELIV").unwrap();
        assert_eq!(r.id, "1");
        assert_eq!(r.stat.as_deref(), Some("DELIVRD"));
        assert_eq!(r.text.as_deref(), Some("time: 12:30 id:2 stat:UNDELIV"));
    }

    #[test]
    fn keys_need_a_word_boundary() {
        // "msg_id:" is not a key; spaces before the colon are tolerated.
        let r = parse("msg_id:9 id :1 stat:ACCEPTD").unwrap();
        assert_eq!(r.id, "1");
        assert_eq!(r.stat.as_deref(), Some("ACCEPTD"));
        assert_eq!(parse("xid:1 stat:ACCEPTD"), None);
        // First occurrence wins.
        assert_eq!(parse("id:1 id:2").unwrap().id, "1");
    }

    #[test]
    fn garbage_is_none() {
        for s in ["", "hello world", "stat:DELIVRD err:000", "id:", "id:   stat:DELIVRD", "kid:5", "ïd:5 ünïcode"] {
            assert_eq!(parse(s), None, "{s:?}");
        }
        // Non-ASCII around keys is fine.
        assert_eq!(parse("ü id:ä stat:é").unwrap().stat.as_deref(), Some("é"));
    }

    #[test]
    fn message_states() {
        use MessageState::*;
        let all = [Enroute, Delivered, Expired, Deleted, Undeliverable, Accepted, Unknown, Rejected];
        for (v, state) in (1..=8).zip(all) {
            assert_eq!(MessageState::from_tlv(v), Some(state));
        }
        assert_eq!(MessageState::from_tlv(0), None);
        assert_eq!(MessageState::from_tlv(9), None);
        let stats = ["ENROUTE", "DELIVRD", "EXPIRED", "DELETED", "UNDELIV", "ACCEPTD", "UNKNOWN", "REJECTD"];
        for (s, state) in stats.into_iter().zip(all) {
            assert_eq!(MessageState::from_stat(s), Some(state));
            assert_eq!(MessageState::from_stat(&s.to_lowercase()), Some(state));
        }
        assert_eq!(MessageState::from_stat(" Delivered "), Some(Delivered));
        assert_eq!(MessageState::from_stat("UNDELIVERABLE"), Some(Undeliverable));
        assert_eq!(MessageState::from_stat("nonsense"), None);
        assert!(Delivered.is_final() && Delivered.is_success());
        assert!(Undeliverable.is_final() && !Undeliverable.is_success());
        assert!(Unknown.is_final() && Rejected.is_final() && Expired.is_final() && Deleted.is_final());
        assert!(!Enroute.is_final() && !Accepted.is_final());
    }

    #[test]
    fn canonical_ids() {
        assert_eq!(canonical_id("  00A1B "), "a1b");
        assert_eq!(canonical_id("000"), "0");
        assert_eq!(canonical_id("0"), "0");
        assert_eq!(canonical_id(""), "");
        assert_eq!(canonical_id("abc-DEF"), "abc-def");
    }

    #[test]
    fn candidates() {
        assert_eq!(id_candidates("0A1B"), ["a1b", "2587"]);
        assert_eq!(id_candidates("2587"), ["2587", "a1b", "9607"]);
        // Each side of "0A1B" ↔ "2587" finds the other's canonical form.
        assert!(id_candidates("2587").contains(&canonical_id("0A1B")));
        assert!(id_candidates("0A1B").contains(&canonical_id("2587")));
        // Decimal 123 is hex 7b; read as hex, 0x123 is decimal 291.
        assert_eq!(id_candidates("000123"), ["123", "7b", "291"]);
        assert_eq!(id_candidates("0"), ["0"]);
        assert_eq!(id_candidates(""), [""]);
        assert_eq!(id_candidates("msg-17"), ["msg-17"]);
        assert_eq!(id_candidates("ff"), ["ff", "255"]);
        // 40 hex digits overflow u128: only the canonical form.
        assert_eq!(id_candidates(&"f".repeat(40)), ["f".repeat(40)]);
        // u128::MAX in decimal still converts to hex; its hex reading overflows.
        let max = u128::MAX.to_string();
        assert_eq!(id_candidates(&max), [max.clone(), "f".repeat(32)]);
    }
}
