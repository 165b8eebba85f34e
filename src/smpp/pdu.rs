//! The PDU types: one struct per body layout, command ids, and the C-octet-string limits.

use super::tlv::Tlv;

/// Every PDU starts with command_length, command_id, command_status and sequence_number.
pub const HEADER_LEN: usize = 16;

pub const BIND_RECEIVER: u32 = 0x0000_0001;
pub const BIND_TRANSMITTER: u32 = 0x0000_0002;
pub const QUERY_SM: u32 = 0x0000_0003;
pub const SUBMIT_SM: u32 = 0x0000_0004;
pub const DELIVER_SM: u32 = 0x0000_0005;
pub const UNBIND: u32 = 0x0000_0006;
pub const REPLACE_SM: u32 = 0x0000_0007;
pub const CANCEL_SM: u32 = 0x0000_0008;
pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
pub const OUTBIND: u32 = 0x0000_000B;
pub const ENQUIRE_LINK: u32 = 0x0000_0015;
pub const SUBMIT_MULTI: u32 = 0x0000_0021;
pub const ALERT_NOTIFICATION: u32 = 0x0000_0102;
pub const DATA_SM: u32 = 0x0000_0103;
pub const GENERIC_NACK: u32 = 0x8000_0000;

/// A response's command_id is its request's with bit 31 set.
pub const RESP: u32 = 0x8000_0000;
pub const BIND_RECEIVER_RESP: u32 = BIND_RECEIVER | RESP;
pub const BIND_TRANSMITTER_RESP: u32 = BIND_TRANSMITTER | RESP;
pub const SUBMIT_SM_RESP: u32 = SUBMIT_SM | RESP;
pub const DELIVER_SM_RESP: u32 = DELIVER_SM | RESP;
pub const UNBIND_RESP: u32 = UNBIND | RESP;
pub const BIND_TRANSCEIVER_RESP: u32 = BIND_TRANSCEIVER | RESP;
pub const ENQUIRE_LINK_RESP: u32 = ENQUIRE_LINK | RESP;
pub const DATA_SM_RESP: u32 = DATA_SM | RESP;

/// The commands with a typed `Body` variant; everything else decodes to `Body::Other`.
pub(crate) const TYPED_COMMANDS: [u32; 18] = [
    BIND_RECEIVER,
    BIND_TRANSMITTER,
    BIND_TRANSCEIVER,
    BIND_RECEIVER_RESP,
    BIND_TRANSMITTER_RESP,
    BIND_TRANSCEIVER_RESP,
    OUTBIND,
    UNBIND,
    UNBIND_RESP,
    ENQUIRE_LINK,
    ENQUIRE_LINK_RESP,
    SUBMIT_SM,
    SUBMIT_SM_RESP,
    DELIVER_SM,
    DELIVER_SM_RESP,
    DATA_SM,
    DATA_SM_RESP,
    GENERIC_NACK,
];

// C-octet-string maxima from the SMPP 3.4 §4 tables. They count the terminating NUL,
// so system_id carries at most 15 visible octets.
pub const SYSTEM_ID_MAX: usize = 16;
pub const PASSWORD_MAX: usize = 9;
pub const SYSTEM_TYPE_MAX: usize = 13;
pub const ADDRESS_RANGE_MAX: usize = 41;
pub const SERVICE_TYPE_MAX: usize = 6;
pub const ADDR_MAX: usize = 21;
pub const TIME_MAX: usize = 17;
pub const MESSAGE_ID_MAX: usize = 65;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pdu {
    pub sequence: u32,
    /// command_status: 0 on requests, the outcome on responses.
    pub status: u32,
    pub body: Body,
}

impl Pdu {
    pub fn new(sequence: u32, body: Body) -> Pdu {
        Pdu { sequence, status: 0, body }
    }

    pub fn with_status(self, status: u32) -> Pdu {
        Pdu { status, ..self }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Body {
    BindTransmitter(Bind),
    BindReceiver(Bind),
    BindTransceiver(Bind),
    BindTransmitterResp(BindResp),
    BindReceiverResp(BindResp),
    BindTransceiverResp(BindResp),
    Outbind(Outbind),
    Unbind,
    UnbindResp,
    EnquireLink,
    EnquireLinkResp,
    SubmitSm(Sm),
    SubmitSmResp(SmResp),
    DeliverSm(Sm),
    DeliverSmResp(SmResp),
    DataSm(DataSm),
    DataSmResp(SmResp),
    GenericNack,
    /// A command we don't implement (query_sm, cancel_sm, submit_multi, …): kept raw so the
    /// session can answer generic_nack/ESME_RINVCMDID with the right sequence.
    Other {
        command_id: u32,
        body: Vec<u8>,
    },
}

impl Body {
    pub fn command_id(&self) -> u32 {
        match self {
            Body::BindTransmitter(_) => BIND_TRANSMITTER,
            Body::BindReceiver(_) => BIND_RECEIVER,
            Body::BindTransceiver(_) => BIND_TRANSCEIVER,
            Body::BindTransmitterResp(_) => BIND_TRANSMITTER_RESP,
            Body::BindReceiverResp(_) => BIND_RECEIVER_RESP,
            Body::BindTransceiverResp(_) => BIND_TRANSCEIVER_RESP,
            Body::Outbind(_) => OUTBIND,
            Body::Unbind => UNBIND,
            Body::UnbindResp => UNBIND_RESP,
            Body::EnquireLink => ENQUIRE_LINK,
            Body::EnquireLinkResp => ENQUIRE_LINK_RESP,
            Body::SubmitSm(_) => SUBMIT_SM,
            Body::SubmitSmResp(_) => SUBMIT_SM_RESP,
            Body::DeliverSm(_) => DELIVER_SM,
            Body::DeliverSmResp(_) => DELIVER_SM_RESP,
            Body::DataSm(_) => DATA_SM,
            Body::DataSmResp(_) => DATA_SM_RESP,
            Body::GenericNack => GENERIC_NACK,
            Body::Other { command_id, .. } => *command_id,
        }
    }

    /// The SMPP name, e.g. "submit_sm"; `Other` bodies are named by their command_id.
    pub fn name(&self) -> &'static str {
        command_name(self.command_id())
    }

    /// generic_nack counts as a response: it answers a request we sent.
    pub fn is_response(&self) -> bool {
        self.command_id() & RESP != 0
    }
}

/// The SMPP 3.4 name of a command_id, or "unknown".
pub fn command_name(command_id: u32) -> &'static str {
    let resp = command_id & RESP != 0 && command_id != GENERIC_NACK;
    let names = match command_id & !RESP {
        BIND_RECEIVER => ("bind_receiver", "bind_receiver_resp"),
        BIND_TRANSMITTER => ("bind_transmitter", "bind_transmitter_resp"),
        QUERY_SM => ("query_sm", "query_sm_resp"),
        SUBMIT_SM => ("submit_sm", "submit_sm_resp"),
        DELIVER_SM => ("deliver_sm", "deliver_sm_resp"),
        UNBIND => ("unbind", "unbind_resp"),
        REPLACE_SM => ("replace_sm", "replace_sm_resp"),
        CANCEL_SM => ("cancel_sm", "cancel_sm_resp"),
        BIND_TRANSCEIVER => ("bind_transceiver", "bind_transceiver_resp"),
        OUTBIND => ("outbind", "unknown"),
        ENQUIRE_LINK => ("enquire_link", "enquire_link_resp"),
        SUBMIT_MULTI => ("submit_multi", "submit_multi_resp"),
        ALERT_NOTIFICATION => ("alert_notification", "unknown"),
        DATA_SM => ("data_sm", "data_sm_resp"),
        0 if command_id == GENERIC_NACK => ("generic_nack", "generic_nack"),
        _ => ("unknown", "unknown"),
    };
    if resp { names.1 } else { names.0 }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Bind {
    pub system_id: String,
    pub password: String,
    pub system_type: String,
    pub interface_version: u8,
    pub addr_ton: u8,
    pub addr_npi: u8,
    pub address_range: String,
}

/// The body may be missing when the bind failed: it then decodes to the default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BindResp {
    pub system_id: String,
    pub tlvs: Vec<Tlv>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Outbind {
    pub system_id: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Address {
    pub ton: u8,
    pub npi: u8,
    pub addr: String,
}

/// submit_sm and deliver_sm share this layout (SMPP 3.4 §4.4.1, §4.6.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Sm {
    pub service_type: String,
    pub source: Address,
    pub dest: Address,
    pub esm_class: u8,
    pub protocol_id: u8,
    pub priority_flag: u8,
    pub schedule_delivery_time: String,
    pub validity_period: String,
    pub registered_delivery: u8,
    pub replace_if_present: u8,
    pub data_coding: u8,
    pub sm_default_msg_id: u8,
    pub short_message: Vec<u8>,
    pub tlvs: Vec<Tlv>,
}

/// data_sm has no short_message: the text travels in the message_payload TLV.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct DataSm {
    pub service_type: String,
    pub source: Address,
    pub dest: Address,
    pub esm_class: u8,
    pub registered_delivery: u8,
    pub data_coding: u8,
    pub tlvs: Vec<Tlv>,
}

/// submit_sm_resp, deliver_sm_resp and data_sm_resp. The body may be missing when
/// command_status is not 0: it then decodes to the default.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SmResp {
    pub message_id: String,
    pub tlvs: Vec<Tlv>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_directions() {
        assert_eq!(Body::SubmitSm(Sm::default()).name(), "submit_sm");
        assert_eq!(Body::SubmitSmResp(SmResp::default()).name(), "submit_sm_resp");
        assert_eq!(Body::GenericNack.name(), "generic_nack");
        assert!(Body::GenericNack.is_response());
        assert!(!Body::EnquireLink.is_response());
        assert!(Body::EnquireLinkResp.is_response());
        assert_eq!(Body::EnquireLinkResp.command_id(), 0x8000_0015);
        assert_eq!(Body::Other { command_id: QUERY_SM, body: vec![] }.name(), "query_sm");
        assert_eq!(Body::Other { command_id: CANCEL_SM | RESP, body: vec![] }.name(), "cancel_sm_resp");
        assert_eq!(Body::Other { command_id: 0x1234, body: vec![] }.name(), "unknown");
        assert_eq!(command_name(OUTBIND | RESP), "unknown");
    }

    #[test]
    fn status_builder() {
        let pdu = Pdu::new(7, Body::EnquireLinkResp).with_status(0x58);
        assert_eq!((pdu.sequence, pdu.status), (7, 0x58));
        assert_eq!(Pdu::new(7, Body::EnquireLink).status, 0);
    }
}
