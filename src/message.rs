//! What links hand to the core and the core hands to links: plain values, shared by the
//! links, the store and the bridge. Imports none of them, so each can depend on it.

use serde::{Deserialize, Serialize};

use crate::sms::reassembly::Part;

/// An SMS received from a phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedSms {
    /// Sender as the link reports it (E.164, national, short code or alphanumeric).
    pub from: String,
    /// Our number it was sent to; empty means the backend's configured number.
    #[serde(default)]
    pub to: String,
    pub text: String,
    /// When the SMSC stamped it, if the link says.
    #[serde(default)]
    pub timestamp_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Delivered,
    /// Will not be delivered (undeliverable, rejected, expired).
    Failed,
    /// Still trying (buffered, enroute): informational.
    Pending,
}

/// A delivery report for a message we sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReport {
    /// The id the link returned when it sent the message (`Sent::message_ids`).
    pub message_id: String,
    pub status: DeliveryStatus,
    /// The link's own words, e.g. `UNDELIV err:001`.
    #[serde(default)]
    pub detail: Option<String>,
    /// Other spellings of `message_id` to try (SMSCs write ids in hex in one place and in
    /// decimal in another).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alt_ids: Vec<String>,
}

/// A WAP push received on port 2948 (usually an MMS notification), reassembled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WapPush {
    pub from: String,
    #[serde(default)]
    pub to: String,
    /// The WSP push PDU.
    pub data: Vec<u8>,
}

/// A message an application sent through the gateway, shown in its conversation's portal
/// so the person and the applications share one history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSent {
    /// Our number it leaves from.
    pub from: String,
    pub to: String,
    pub text: String,
    /// Who sent it: a gateway user or a service.
    pub by: String,
    /// Scheduled: not sent before this (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    /// It asks this question (its answer replies to the copy in the portal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<i64>,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingSms {
    /// The outbox job, unique per message: links may use it to spot their own resends.
    pub job_id: i64,
    /// Our number.
    pub from: String,
    /// E.164 number or short code.
    pub to: String,
    pub text: String,
    /// Parts an earlier attempt got accepted (index, message id): the link sends only the
    /// others, so the phone never gets part 1 twice because part 3 was throttled.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted: Vec<(u8, String)>,
    #[serde(default)]
    pub options: SmsOptions,
    /// 8-bit data to send instead of `text` (Kannel's `coding=1` with `udh`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<BinarySms>,
    /// The sender policy chose for the destination's country (`policy.countries.senders`):
    /// a link that can choose its sender sends from it rather than its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
}

impl OutgoingSms {
    /// A text from `from` to `to`, nothing sent of it yet, with no options.
    pub fn text(job_id: i64, from: &str, to: &str, text: &str) -> OutgoingSms {
        OutgoingSms {
            job_id,
            from: from.into(),
            to: to.into(),
            text: text.into(),
            accepted: Vec::new(),
            options: SmsOptions::default(),
            binary: None,
            sender: None,
        }
    }
}

/// One SMS of 8-bit data, such as a port-addressed message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinarySms {
    /// The user data header with its length octet; empty when none.
    pub udh: Vec<u8>,
    pub data: Vec<u8>,
}

impl BinarySms {
    /// The most an SMS carries: 140 octets of user data.
    pub const MAX_OCTETS: usize = 140;

    /// How the portal shows it.
    pub fn describe(&self) -> String {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02X}")).collect::<String>();
        match self.udh.is_empty() {
            true => format!("[8-bit data, {} octets]", self.data.len()),
            false => format!("[8-bit data, {} octets, UDH {}]", self.data.len(), hex(&self.udh)),
        }
    }
}

/// What an application chose for one message (Kannel's `validity` and `mclass`); links
/// that cannot carry an option say so in [`crate::backend::Capabilities`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsOptions {
    /// How long the network keeps trying to deliver it (TP-VP, SMPP validity_period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_minutes: Option<u32>,
    /// Message class 0-3; 0 is a flash SMS, shown at once and not stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<u8>,
}

/// The link accepted a message: its ids for the parts, for delivery reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sent {
    pub message_ids: Vec<String>,
}

/// A part as a link received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingPart {
    pub from: String,
    pub to: String,
    pub reference: u16,
    pub total: u8,
    pub timestamp_ms: Option<i64>,
    pub part: Part,
}
