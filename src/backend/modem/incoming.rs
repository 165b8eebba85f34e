//! What a PDU read from the modem means: a text, a part of a long one, a WAP push or a
//! status report, ready to commit.

use crate::backend::{DeliveryReport, DeliveryStatus, IncomingPart, Received, ReceivedSms, WapPush};
use crate::sms::dcs::Alphabet;
use crate::sms::gsm7::Tables;
use crate::sms::reassembly::{self, Part, PartEncoding};
use crate::sms::tpdu::{Deliver, Pdu, StatusReport, Tpdu};
use crate::sms::udh::WAP_PUSH_PORT;

/// Said after the text of a message the modem printed only part of.
pub(super) const TRUNCATED: &str = " [cut short: the modem gave only part of this message]";

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Incoming {
    Received(Received),
    /// A message not for Matrix: a silent SMS (deleted, as 23.040 says) or a message
    /// stored for sending (left alone: it is not ours).
    Skip {
        why: String,
        delete: bool,
    },
}

pub(super) fn interpret(pdu: &Pdu, truncated: bool) -> Incoming {
    match &pdu.tpdu {
        Tpdu::Deliver(d) => deliver(d, truncated),
        Tpdu::StatusReport(r) => Incoming::Received(Received::Report(report(r))),
        Tpdu::Submit(_) => {
            Incoming::Skip { why: "a message stored for sending, not a received one".into(), delete: false }
        }
    }
}

fn deliver(d: &Deliver, truncated: bool) -> Incoming {
    // Type 0 ("silent") messages are to be acknowledged and thrown away (23.040 §9.2.3.9).
    if d.pid == 0x40 {
        return Incoming::Skip { why: "a type-0 (silent) SMS".into(), delete: true };
    }
    let from = d.originator.value.clone();
    let udh = d.user_data.udh.as_ref();
    let wap = udh.and_then(|u| u.ports()).is_some_and(|p| p.dst == WAP_PUSH_PORT);
    let encoding = if wap {
        PartEncoding::WapPush
    } else {
        match d.dcs.alphabet {
            Alphabet::Gsm7 => PartEncoding::gsm7(Tables {
                locking: udh.and_then(|u| u.locking_shift()),
                single: udh.and_then(|u| u.single_shift()),
            }),
            Alphabet::Ucs2 => PartEncoding::Ucs2,
            Alphabet::EightBit => PartEncoding::Binary,
        }
    };
    let payload = d.user_data.payload.clone();
    let timestamp_ms = Some(d.timestamp.unix_ms());
    if let Some(c) = udh.and_then(|u| u.concat()).filter(|c| c.total > 1 && (1..=c.total).contains(&c.seq)) {
        return Incoming::Received(Received::Part(IncomingPart {
            from,
            to: String::new(),
            reference: c.reference,
            total: c.total,
            timestamp_ms,
            part: Part { seq: c.seq, encoding, payload },
        }));
    }
    if wap {
        return Incoming::Received(Received::WapPush(WapPush { from, to: String::new(), data: payload }));
    }
    let mut text = reassembly::assemble(1, &[Part { seq: 1, encoding, payload }]);
    if truncated {
        text.push_str(TRUNCATED);
    }
    Incoming::Received(Received::Sms(ReceivedSms { from, to: String::new(), text, timestamp_ms }))
}

fn report(r: &StatusReport) -> DeliveryReport {
    // TP-Status (23.040 §9.2.3.15): 0x00–0x1F done, 0x20–0x3F still trying, 0x40 and up failed.
    let status = match r.status {
        0x00..=0x1F => DeliveryStatus::Delivered,
        0x20..=0x3F => DeliveryStatus::Pending,
        _ => DeliveryStatus::Failed,
    };
    DeliveryReport {
        message_id: message_id(r.message_ref, &r.recipient.value),
        status,
        detail: Some(format!("TP-Status 0x{:02X} ({})", r.status, status_words(r.status))),
        alt_ids: Vec::new(),
    }
}

/// The id a sent part is known by: its message reference (which wraps at 256) and the end
/// of the recipient's number, which reports give in national or international form.
pub(super) fn message_id(mr: u8, recipient: &str) -> String {
    let digits: String = recipient.chars().filter(|c| c.is_ascii_digit()).collect();
    let tail = &digits[digits.len().saturating_sub(7)..];
    format!("{mr}:{tail}")
}

fn status_words(s: u8) -> &'static str {
    match s {
        0x00 => "received by the phone",
        0x01 => "forwarded, delivery not confirmed",
        0x02 => "replaced",
        0x20 => "congestion, still trying",
        0x21 => "phone busy, still trying",
        0x22 => "no response from the phone, still trying",
        0x23 => "service rejected, still trying",
        0x24 => "quality of service not available, still trying",
        0x25 => "error in the phone, still trying",
        0x40 => "remote procedure error",
        0x41 => "incompatible destination",
        0x42 => "connection rejected by the phone",
        0x43 => "not obtainable",
        0x44 => "quality of service not available",
        0x45 => "no interworking available",
        0x46 => "validity period expired",
        0x47 => "deleted by the sender",
        0x48 => "deleted by the service centre",
        0x49 => "message does not exist",
        0x60..=0x65 => "gave up after temporary errors",
        0x26..=0x3F => "still trying",
        0x03..=0x1F => "done",
        _ => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::tpdu::{decode, from_hex};

    #[test]
    fn ids_match_national_and_international_forms() {
        assert_eq!(message_id(7, "+447700900123"), message_id(7, "07700900123"));
        assert_eq!(message_id(255, "12345"), "255:12345");
    }

    #[test]
    fn a_deliver_becomes_an_sms() {
        // SMS-DELIVER from +447700901234, GSM "hellohello".
        let hex = "0791447758100650040C914477000921430000622140712155800AE8329BFD4697D9EC37";
        let pdu = decode(&from_hex(hex).unwrap(), true).unwrap();
        let Incoming::Received(Received::Sms(s)) = interpret(&pdu, false) else { panic!() };
        assert_eq!((s.from.as_str(), s.text.as_str()), ("+447700901234", "hellohello"));
        let Incoming::Received(Received::Sms(s)) = interpret(&pdu, true) else { panic!() };
        assert!(s.text.ends_with(TRUNCATED));
    }
}
