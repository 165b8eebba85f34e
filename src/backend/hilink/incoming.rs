//! What one listed message is to the bridge: an SMS, a delivery report, an MMS the router
//! half-showed, or a long message still arriving. Pure, so every odd listing is testable.

use ring::digest::{SHA256, digest};

use crate::hilink::{Message, SmsType};

/// One listed message, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Incoming {
    Sms {
        from: String,
        text: String,
    },
    /// SmsType 7 (delivered) or 8 (failed); `phone` is whom the message went to.
    Report {
        phone: String,
        delivered: bool,
        text: String,
    },
    /// An MMS notification the router consumed: what it shows of the download address.
    Mms {
        from: String,
        location: String,
        shown: String,
    },
    /// Parts of a long message still arriving (SmsType 2).
    Assembling,
}

/// SmsType values firmwares are reported to use for MMS notifications (unverified; real
/// routers vary): a listing of these kinds with something address-like is taken as one.
const MMS_TYPES: &[i64] = &[4, 5, 6];

pub(super) fn classify(m: &Message) -> Incoming {
    let from = m.phones.first().cloned().unwrap_or_else(|| "unknown".into());
    match &m.sms_type {
        SmsType::Single => Incoming::Sms { from, text: m.content.clone() },
        SmsType::Multipart => Incoming::Assembling,
        SmsType::DeliveryOk | SmsType::DeliveryFailed => {
            Incoming::Report { phone: from, delivered: m.sms_type == SmsType::DeliveryOk, text: m.content.clone() }
        }
        other => {
            if let SmsType::Unknown(n) = other
                && MMS_TYPES.contains(n)
                && let Some(location) = mms_location(&m.content)
            {
                return Incoming::Mms { from, location, shown: m.content.clone() };
            }
            // Whatever else this is, it is shown as listed: an unknown kind once stopped
            // every SMS behind such a router.
            let kind = match other {
                SmsType::Unknown(n) => format!("SmsType {n}"),
                SmsType::Garbled(t) => format!("SmsType {t:?}"),
                _ => "no SmsType".into(),
            };
            let text = if m.content.trim().is_empty() {
                format!("(the router listed an empty message of a kind it calls {kind}, dated {})", m.date_text)
            } else {
                format!("{}\n\n(the router listed this as a kind it calls {kind})", m.content)
            };
            Incoming::Sms { from, text }
        }
    }
}

/// The download address, or the part of it a router shows: a URL if there is one, else
/// the last word that looks like a file name or path (`0123ABCD.mms`, `/mms/x?id=7`).
pub(super) fn mms_location(content: &str) -> Option<String> {
    let words = content.split(|c: char| c.is_whitespace() || c == '"' || c == '<' || c == '>');
    let words: Vec<&str> = words.filter(|w| !w.is_empty()).collect();
    if let Some(url) = words.iter().find(|w| w.starts_with("http://") || w.starts_with("https://")) {
        return Some(url.trim_end_matches(['.', ',', ')']).to_string());
    }
    words.iter().rev().map(|w| w.trim_end_matches([',', ')'])).find_map(|w| {
        let w = w.trim_start_matches(['(', ':']);
        let pathy = w.contains('/') || w.rsplit_once('.').is_some_and(|(stem, ext)| !stem.is_empty() && ext.len() <= 4);
        let plain = w.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/?=&%~".contains(&b));
        let idish = w.len() >= 8 && w.bytes().any(|b| b.is_ascii_digit());
        (plain && (pathy || idish) && !w.ends_with('.')).then(|| w.to_string())
    })
}

/// The WAP push the router consumed, rebuilt from what it shows, for the MMS pipeline
/// (which completes a partial location from `mms.retrieve_url_base`). What the router
/// showed goes in as the subject, so a notice about it can quote it. The transaction id is
/// made from the listing: the real one is lost with the push.
pub(super) fn mms_push(from: &str, location: &str, m: &Message) -> Result<Vec<u8>, String> {
    let stamp: String = m.date_text.chars().filter(char::is_ascii_digit).collect();
    let tid = format!("hilink-{}-{stamp}", m.index);
    crate::mms::push::mms_notification(from, location, &tid, None, Some(&m.content)).map_err(|e| e.to_string())
}

/// What identifies a listed message across polls and restarts. The index alone is reused
/// once a message is deleted, so date, sender, kind and text are in it too.
pub(super) fn fingerprint(m: &Message) -> String {
    let kind = match &m.sms_type {
        SmsType::Single => "1".to_string(),
        SmsType::Multipart => "2".into(),
        SmsType::DeliveryOk => "7".into(),
        SmsType::DeliveryFailed => "8".into(),
        SmsType::Unknown(n) => n.to_string(),
        SmsType::Garbled(t) => t.clone(),
        SmsType::Missing => String::new(),
    };
    let key = format!("{}\u{1f}{}\u{1f}{}\u{1f}{kind}\u{1f}{}", m.index, m.date_text, m.phones.join(";"), m.content);
    let hash: String = digest(&SHA256, key.as_bytes()).as_ref()[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("hilink:{}:{hash}", m.index)
}

/// The last nine digits of a number: the router writes a recipient as it likes
/// (`+4917…`, `017…`), and a delivery report must still find the message.
pub(super) fn number_key(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(9)..].iter().collect()
}

/// The message id a send gets: the number's key and the outbox job.
pub(super) fn message_id(to: &str, job_id: i64) -> String {
    format!("hl:{}:{job_id}", number_key(to))
}

/// The prefix of the ids of messages sent to `phone`.
pub(super) fn message_id_prefix(phone: &str) -> String {
    format!("hl:{}:", number_key(phone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hilink::sms::parse_list;

    fn listed(sms_type: &str, content: &str) -> Message {
        let xml = format!(
            "<response><Count>1</Count><Messages><Message><Smstat>0</Smstat><Index>40001</Index>\
             <Phone>+4915112345678</Phone><Content>{content}</Content><Date>2026-12-01 10:00:00</Date>\
             <Sca></Sca><SaveType>4</SaveType><Priority>0</Priority><SmsType>{sms_type}</SmsType></Message></Messages></response>"
        );
        parse_list(xml.as_bytes()).unwrap().messages.remove(0)
    }

    #[test]
    fn kinds() {
        assert_eq!(
            classify(&listed("1", "hello")),
            Incoming::Sms { from: "+4915112345678".into(), text: "hello".into() }
        );
        assert_eq!(classify(&listed("2", "part one")), Incoming::Assembling);
        assert_eq!(
            classify(&listed("7", "Delivered")),
            Incoming::Report { phone: "+4915112345678".into(), delivered: true, text: "Delivered".into() }
        );
        assert!(matches!(classify(&listed("8", "x")), Incoming::Report { delivered: false, .. }));
    }

    #[test]
    fn unknown_kinds_are_shown_with_what_the_router_said() {
        let Incoming::Sms { text, .. } = classify(&listed("42", "odd one")) else { panic!() };
        assert_eq!(text, "odd one\n\n(the router listed this as a kind it calls SmsType 42)");
        let Incoming::Sms { text, .. } = classify(&listed("x9", "")) else { panic!() };
        assert!(text.contains("SmsType \"x9\"") && text.contains("2026-12-01 10:00:00"), "{text}");
        let Incoming::Sms { text, .. } = classify(&listed("", "no type")) else { panic!() };
        assert!(text.ends_with("(the router listed this as a kind it calls no SmsType)"), "{text}");
        // A kind that may be MMS but shows nothing address-like is still shown.
        let Incoming::Sms { text, .. } = classify(&listed("5", "You have a new message")) else { panic!() };
        assert!(text.starts_with("You have a new message"));
    }

    #[test]
    fn mms_notifications() {
        assert_eq!(
            classify(&listed("5", "MMS: 0123456789ABCDEF.mms")),
            Incoming::Mms {
                from: "+4915112345678".into(),
                location: "0123456789ABCDEF.mms".into(),
                shown: "MMS: 0123456789ABCDEF.mms".into()
            }
        );
        let Incoming::Mms { location, .. } = classify(&listed("6", "New MMS http://mms.op.example/get?id=77.")) else {
            panic!()
        };
        assert_eq!(location, "http://mms.op.example/get?id=77");
        assert_eq!(mms_location("id: /mms/ABC12345"), Some("/mms/ABC12345".into()));
        assert_eq!(mms_location("M4X2K9QZ7"), Some("M4X2K9QZ7".into()));
        assert_eq!(mms_location("a picture message"), None);
        // A normal SMS with a link stays an SMS.
        assert!(matches!(classify(&listed("1", "see http://x.example/a")), Incoming::Sms { .. }));
    }

    #[test]
    fn fingerprints_tell_reused_indexes_apart() {
        let a = listed("1", "one");
        assert_eq!(fingerprint(&a), fingerprint(&a.clone()));
        let mut b = a.clone();
        b.content = "two".into();
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert!(fingerprint(&a).starts_with("hilink:40001:"));
    }

    #[test]
    fn report_ids_match_whatever_the_router_writes() {
        assert_eq!(message_id("+4915112345678", 7), "hl:112345678:7");
        assert!(message_id("+4915112345678", 7).starts_with(&message_id_prefix("015112345678")));
        assert_eq!(number_key("12"), "12");
    }
}
