//! Optional parameters (TLVs): tag constants from SMPP 3.4 §5.3.2 and typed accessors.
//! Values stay raw bytes so unknown and vendor tags survive a decode/encode round trip.

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tlv {
    pub tag: u16,
    pub value: Vec<u8>,
}

impl Tlv {
    pub fn new(tag: u16, value: impl Into<Vec<u8>>) -> Tlv {
        Tlv { tag, value: value.into() }
    }

    pub fn u8(tag: u16, v: u8) -> Tlv {
        Tlv { tag, value: vec![v] }
    }

    /// Multi-octet integers are big-endian, like the rest of SMPP.
    pub fn u16(tag: u16, v: u16) -> Tlv {
        Tlv { tag, value: v.to_be_bytes().to_vec() }
    }

    /// String parameters such as receipted_message_id carry their NUL inside the length.
    pub fn cstr(tag: u16, v: &str) -> Tlv {
        let mut value = Vec::with_capacity(v.len() + 1);
        value.extend_from_slice(v.as_bytes());
        value.push(0);
        Tlv { tag, value }
    }
}

/// Lookups over a TLV list; the first occurrence of a tag wins.
pub trait TlvList {
    fn tlv(&self, tag: u16) -> Option<&[u8]>;

    /// None unless the value is exactly one octet.
    fn tlv_u8(&self, tag: u16) -> Option<u8> {
        match self.tlv(tag)? {
            [v] => Some(*v),
            _ => None,
        }
    }

    /// None unless the value is exactly two octets.
    fn tlv_u16(&self, tag: u16) -> Option<u16> {
        match self.tlv(tag)? {
            [a, b] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        }
    }

    /// Trailing NULs stripped (some SMSCs send none, some several); non-UTF-8 is replaced.
    fn tlv_cstr(&self, tag: u16) -> Option<String> {
        let value = self.tlv(tag)?;
        let end = value.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        Some(String::from_utf8_lossy(&value[..end]).into_owned())
    }
}

impl TlvList for [Tlv] {
    fn tlv(&self, tag: u16) -> Option<&[u8]> {
        self.iter().find(|t| t.tag == tag).map(|t| t.value.as_slice())
    }
}

impl TlvList for Vec<Tlv> {
    fn tlv(&self, tag: u16) -> Option<&[u8]> {
        self.as_slice().tlv(tag)
    }
}

pub const DEST_ADDR_SUBUNIT: u16 = 0x0005;
pub const DEST_NETWORK_TYPE: u16 = 0x0006;
pub const DEST_BEARER_TYPE: u16 = 0x0007;
pub const DEST_TELEMATICS_ID: u16 = 0x0008;
pub const SOURCE_ADDR_SUBUNIT: u16 = 0x000D;
pub const SOURCE_NETWORK_TYPE: u16 = 0x000E;
pub const SOURCE_BEARER_TYPE: u16 = 0x000F;
pub const SOURCE_TELEMATICS_ID: u16 = 0x0010;
pub const QOS_TIME_TO_LIVE: u16 = 0x0017;
pub const PAYLOAD_TYPE: u16 = 0x0019;
pub const ADDITIONAL_STATUS_INFO_TEXT: u16 = 0x001D;
pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
pub const MS_MSG_WAIT_FACILITIES: u16 = 0x0030;
pub const PRIVACY_INDICATOR: u16 = 0x0201;
pub const SOURCE_SUBADDRESS: u16 = 0x0202;
pub const DEST_SUBADDRESS: u16 = 0x0203;
pub const USER_MESSAGE_REFERENCE: u16 = 0x0204;
pub const USER_RESPONSE_CODE: u16 = 0x0205;
pub const SOURCE_PORT: u16 = 0x020A;
pub const DESTINATION_PORT: u16 = 0x020B;
pub const SAR_MSG_REF_NUM: u16 = 0x020C;
pub const LANGUAGE_INDICATOR: u16 = 0x020D;
pub const SAR_TOTAL_SEGMENTS: u16 = 0x020E;
pub const SAR_SEGMENT_SEQNUM: u16 = 0x020F;
pub const SC_INTERFACE_VERSION: u16 = 0x0210;
pub const CALLBACK_NUM_PRES_IND: u16 = 0x0302;
pub const CALLBACK_NUM_ATAG: u16 = 0x0303;
pub const NUMBER_OF_MESSAGES: u16 = 0x0304;
pub const CALLBACK_NUM: u16 = 0x0381;
pub const DPF_RESULT: u16 = 0x0420;
pub const SET_DPF: u16 = 0x0421;
pub const MS_AVAILABILITY_STATUS: u16 = 0x0422;
pub const NETWORK_ERROR_CODE: u16 = 0x0423;
pub const MESSAGE_PAYLOAD: u16 = 0x0424;
pub const DELIVERY_FAILURE_REASON: u16 = 0x0425;
pub const MORE_MESSAGES_TO_SEND: u16 = 0x0426;
pub const MESSAGE_STATE: u16 = 0x0427;
pub const USSD_SERVICE_OP: u16 = 0x0501;
pub const DISPLAY_TIME: u16 = 0x1201;
pub const SMS_SIGNAL: u16 = 0x1203;
pub const MS_VALIDITY: u16 = 0x1204;
pub const ALERT_ON_MESSAGE_DELIVERY: u16 = 0x130C;
pub const ITS_REPLY_TYPE: u16 = 0x1380;
pub const ITS_SESSION_INFO: u16 = 0x1383;

/// The SMPP 3.4 name of a tag, for logs and error messages.
pub fn name(tag: u16) -> Option<&'static str> {
    Some(match tag {
        DEST_ADDR_SUBUNIT => "dest_addr_subunit",
        DEST_NETWORK_TYPE => "dest_network_type",
        DEST_BEARER_TYPE => "dest_bearer_type",
        DEST_TELEMATICS_ID => "dest_telematics_id",
        SOURCE_ADDR_SUBUNIT => "source_addr_subunit",
        SOURCE_NETWORK_TYPE => "source_network_type",
        SOURCE_BEARER_TYPE => "source_bearer_type",
        SOURCE_TELEMATICS_ID => "source_telematics_id",
        QOS_TIME_TO_LIVE => "qos_time_to_live",
        PAYLOAD_TYPE => "payload_type",
        ADDITIONAL_STATUS_INFO_TEXT => "additional_status_info_text",
        RECEIPTED_MESSAGE_ID => "receipted_message_id",
        MS_MSG_WAIT_FACILITIES => "ms_msg_wait_facilities",
        PRIVACY_INDICATOR => "privacy_indicator",
        SOURCE_SUBADDRESS => "source_subaddress",
        DEST_SUBADDRESS => "dest_subaddress",
        USER_MESSAGE_REFERENCE => "user_message_reference",
        USER_RESPONSE_CODE => "user_response_code",
        SOURCE_PORT => "source_port",
        DESTINATION_PORT => "destination_port",
        SAR_MSG_REF_NUM => "sar_msg_ref_num",
        LANGUAGE_INDICATOR => "language_indicator",
        SAR_TOTAL_SEGMENTS => "sar_total_segments",
        SAR_SEGMENT_SEQNUM => "sar_segment_seqnum",
        SC_INTERFACE_VERSION => "sc_interface_version",
        CALLBACK_NUM_PRES_IND => "callback_num_pres_ind",
        CALLBACK_NUM_ATAG => "callback_num_atag",
        NUMBER_OF_MESSAGES => "number_of_messages",
        CALLBACK_NUM => "callback_num",
        DPF_RESULT => "dpf_result",
        SET_DPF => "set_dpf",
        MS_AVAILABILITY_STATUS => "ms_availability_status",
        NETWORK_ERROR_CODE => "network_error_code",
        MESSAGE_PAYLOAD => "message_payload",
        DELIVERY_FAILURE_REASON => "delivery_failure_reason",
        MORE_MESSAGES_TO_SEND => "more_messages_to_send",
        MESSAGE_STATE => "message_state",
        USSD_SERVICE_OP => "ussd_service_op",
        DISPLAY_TIME => "display_time",
        SMS_SIGNAL => "sms_signal",
        MS_VALIDITY => "ms_validity",
        ALERT_ON_MESSAGE_DELIVERY => "alert_on_message_delivery",
        ITS_REPLY_TYPE => "its_reply_type",
        ITS_SESSION_INFO => "its_session_info",
        _ => return None,
    })
}

/// "TLV 0x0424 (message_payload)" or "TLV 0x1403" for error messages.
pub(crate) fn label(tag: u16) -> String {
    match name(tag) {
        Some(n) => format!("TLV 0x{tag:04X} ({n})"),
        None => format!("TLV 0x{tag:04X}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_and_accessors() {
        let tlvs = vec![
            Tlv::u8(MESSAGE_STATE, 2),
            Tlv::u16(SAR_MSG_REF_NUM, 0x1234),
            Tlv::cstr(RECEIPTED_MESSAGE_ID, "abc"),
            Tlv::new(0x1403, [1, 2, 3]),
            Tlv::u8(MESSAGE_STATE, 5),
        ];
        assert_eq!(tlvs[1].value, [0x12, 0x34]);
        assert_eq!(tlvs[2].value, b"abc\0");
        assert_eq!(tlvs.tlv_u8(MESSAGE_STATE), Some(2), "first occurrence wins");
        assert_eq!(tlvs.tlv_u16(SAR_MSG_REF_NUM), Some(0x1234));
        assert_eq!(tlvs.tlv_cstr(RECEIPTED_MESSAGE_ID).as_deref(), Some("abc"));
        assert_eq!(tlvs.tlv(0x1403), Some(&[1u8, 2, 3][..]));
        assert_eq!(tlvs.tlv(SOURCE_PORT), None);
        // Wrong widths are not guessed at.
        assert_eq!(tlvs.tlv_u8(SAR_MSG_REF_NUM), None);
        assert_eq!(tlvs.tlv_u16(MESSAGE_STATE), None);
        // The slice impl is the same lookup.
        assert_eq!(tlvs[..].tlv_u8(MESSAGE_STATE), Some(2));
    }

    #[test]
    fn cstr_is_lenient() {
        let tlvs = [
            Tlv::new(RECEIPTED_MESSAGE_ID, *b"id\0\0"),
            Tlv::new(ADDITIONAL_STATUS_INFO_TEXT, *b"no nul"),
            Tlv::new(CALLBACK_NUM, [0xFF, b'x', 0]),
            Tlv::new(DEST_SUBADDRESS, []),
        ];
        assert_eq!(tlvs.tlv_cstr(RECEIPTED_MESSAGE_ID).as_deref(), Some("id"));
        assert_eq!(tlvs.tlv_cstr(ADDITIONAL_STATUS_INFO_TEXT).as_deref(), Some("no nul"));
        assert_eq!(tlvs.tlv_cstr(CALLBACK_NUM).as_deref(), Some("\u{FFFD}x"));
        assert_eq!(tlvs.tlv_cstr(DEST_SUBADDRESS).as_deref(), Some(""));
    }

    #[test]
    fn names() {
        assert_eq!(name(MESSAGE_PAYLOAD), Some("message_payload"));
        assert_eq!(name(0x1403), None);
        assert_eq!(label(MESSAGE_STATE), "TLV 0x0427 (message_state)");
        assert_eq!(label(0x1403), "TLV 0x1403");
        // All 44 tags in the §5.3.2 table have names.
        assert_eq!((0..=u16::MAX).filter(|&t| name(t).is_some()).count(), 44);
    }
}
