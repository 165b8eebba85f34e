//! command_status values (SMPP 3.4 §5.1.3) and how we react to them.

pub const ESME_ROK: u32 = 0x00;
pub const ESME_RINVMSGLEN: u32 = 0x01;
pub const ESME_RINVCMDLEN: u32 = 0x02;
pub const ESME_RINVCMDID: u32 = 0x03;
pub const ESME_RINVBNDSTS: u32 = 0x04;
pub const ESME_RALYBND: u32 = 0x05;
pub const ESME_RINVPRTFLG: u32 = 0x06;
pub const ESME_RINVREGDLVFLG: u32 = 0x07;
pub const ESME_RSYSERR: u32 = 0x08;
pub const ESME_RINVSRCADR: u32 = 0x0A;
pub const ESME_RINVDSTADR: u32 = 0x0B;
pub const ESME_RINVMSGID: u32 = 0x0C;
pub const ESME_RBINDFAIL: u32 = 0x0D;
pub const ESME_RINVPASWD: u32 = 0x0E;
pub const ESME_RINVSYSID: u32 = 0x0F;
pub const ESME_RCANCELFAIL: u32 = 0x11;
pub const ESME_RREPLACEFAIL: u32 = 0x13;
pub const ESME_RMSGQFUL: u32 = 0x14;
pub const ESME_RINVSERTYP: u32 = 0x15;
pub const ESME_RINVNUMDESTS: u32 = 0x33;
pub const ESME_RINVDLNAME: u32 = 0x34;
pub const ESME_RINVDESTFLAG: u32 = 0x40;
pub const ESME_RINVSUBREP: u32 = 0x42;
pub const ESME_RINVESMCLASS: u32 = 0x43;
pub const ESME_RCNTSUBDL: u32 = 0x44;
pub const ESME_RSUBMITFAIL: u32 = 0x45;
pub const ESME_RINVSRCTON: u32 = 0x48;
pub const ESME_RINVSRCNPI: u32 = 0x49;
pub const ESME_RINVDSTTON: u32 = 0x50;
pub const ESME_RINVDSTNPI: u32 = 0x51;
pub const ESME_RINVSYSTYP: u32 = 0x53;
pub const ESME_RINVREPFLAG: u32 = 0x54;
pub const ESME_RINVNUMMSGS: u32 = 0x55;
pub const ESME_RTHROTTLED: u32 = 0x58;
pub const ESME_RINVSCHED: u32 = 0x61;
pub const ESME_RINVEXPIRY: u32 = 0x62;
pub const ESME_RINVDFTMSGID: u32 = 0x63;
pub const ESME_RX_T_APPN: u32 = 0x64;
pub const ESME_RX_P_APPN: u32 = 0x65;
pub const ESME_RX_R_APPN: u32 = 0x66;
pub const ESME_RQUERYFAIL: u32 = 0x67;
pub const ESME_RINVOPTPARSTREAM: u32 = 0xC0;
pub const ESME_ROPTPARNOTALLWD: u32 = 0xC1;
pub const ESME_RINVPARLEN: u32 = 0xC2;
pub const ESME_RMISSINGOPTPARAM: u32 = 0xC3;
pub const ESME_RINVOPTPARAMVAL: u32 = 0xC4;
pub const ESME_RDELIVERYFAILURE: u32 = 0xFE;
pub const ESME_RUNKNOWNERR: u32 = 0xFF;

/// (name, description) from the §5.1.3 table.
fn entry(status: u32) -> Option<(&'static str, &'static str)> {
    Some(match status {
        ESME_ROK => ("ESME_ROK", "no error"),
        ESME_RINVMSGLEN => ("ESME_RINVMSGLEN", "message length is invalid"),
        ESME_RINVCMDLEN => ("ESME_RINVCMDLEN", "command length is invalid"),
        ESME_RINVCMDID => ("ESME_RINVCMDID", "invalid command id"),
        ESME_RINVBNDSTS => ("ESME_RINVBNDSTS", "incorrect bind status for given command"),
        ESME_RALYBND => ("ESME_RALYBND", "ESME already in bound state"),
        ESME_RINVPRTFLG => ("ESME_RINVPRTFLG", "invalid priority flag"),
        ESME_RINVREGDLVFLG => ("ESME_RINVREGDLVFLG", "invalid registered delivery flag"),
        ESME_RSYSERR => ("ESME_RSYSERR", "system error"),
        ESME_RINVSRCADR => ("ESME_RINVSRCADR", "invalid source address"),
        ESME_RINVDSTADR => ("ESME_RINVDSTADR", "invalid destination address"),
        ESME_RINVMSGID => ("ESME_RINVMSGID", "message id is invalid"),
        ESME_RBINDFAIL => ("ESME_RBINDFAIL", "bind failed"),
        ESME_RINVPASWD => ("ESME_RINVPASWD", "invalid password"),
        ESME_RINVSYSID => ("ESME_RINVSYSID", "invalid system id"),
        ESME_RCANCELFAIL => ("ESME_RCANCELFAIL", "cancel_sm failed"),
        ESME_RREPLACEFAIL => ("ESME_RREPLACEFAIL", "replace_sm failed"),
        ESME_RMSGQFUL => ("ESME_RMSGQFUL", "message queue full"),
        ESME_RINVSERTYP => ("ESME_RINVSERTYP", "invalid service type"),
        ESME_RINVNUMDESTS => ("ESME_RINVNUMDESTS", "invalid number of destinations"),
        ESME_RINVDLNAME => ("ESME_RINVDLNAME", "invalid distribution list name"),
        ESME_RINVDESTFLAG => ("ESME_RINVDESTFLAG", "destination flag is invalid"),
        ESME_RINVSUBREP => ("ESME_RINVSUBREP", "invalid submit with replace request"),
        ESME_RINVESMCLASS => ("ESME_RINVESMCLASS", "invalid esm_class field data"),
        ESME_RCNTSUBDL => ("ESME_RCNTSUBDL", "cannot submit to distribution list"),
        ESME_RSUBMITFAIL => ("ESME_RSUBMITFAIL", "submit_sm or submit_multi failed"),
        ESME_RINVSRCTON => ("ESME_RINVSRCTON", "invalid source address TON"),
        ESME_RINVSRCNPI => ("ESME_RINVSRCNPI", "invalid source address NPI"),
        ESME_RINVDSTTON => ("ESME_RINVDSTTON", "invalid destination address TON"),
        ESME_RINVDSTNPI => ("ESME_RINVDSTNPI", "invalid destination address NPI"),
        ESME_RINVSYSTYP => ("ESME_RINVSYSTYP", "invalid system_type field"),
        ESME_RINVREPFLAG => ("ESME_RINVREPFLAG", "invalid replace_if_present flag"),
        ESME_RINVNUMMSGS => ("ESME_RINVNUMMSGS", "invalid number of messages"),
        ESME_RTHROTTLED => ("ESME_RTHROTTLED", "throttling error"),
        ESME_RINVSCHED => ("ESME_RINVSCHED", "invalid scheduled delivery time"),
        ESME_RINVEXPIRY => ("ESME_RINVEXPIRY", "invalid message validity period"),
        ESME_RINVDFTMSGID => ("ESME_RINVDFTMSGID", "predefined message invalid or not found"),
        ESME_RX_T_APPN => ("ESME_RX_T_APPN", "ESME receiver temporary app error"),
        ESME_RX_P_APPN => ("ESME_RX_P_APPN", "ESME receiver permanent app error"),
        ESME_RX_R_APPN => ("ESME_RX_R_APPN", "ESME receiver reject message error"),
        ESME_RQUERYFAIL => ("ESME_RQUERYFAIL", "query_sm request failed"),
        ESME_RINVOPTPARSTREAM => ("ESME_RINVOPTPARSTREAM", "error in the optional part of the PDU body"),
        ESME_ROPTPARNOTALLWD => ("ESME_ROPTPARNOTALLWD", "optional parameter not allowed"),
        ESME_RINVPARLEN => ("ESME_RINVPARLEN", "invalid parameter length"),
        ESME_RMISSINGOPTPARAM => ("ESME_RMISSINGOPTPARAM", "expected optional parameter missing"),
        ESME_RINVOPTPARAMVAL => ("ESME_RINVOPTPARAMVAL", "invalid optional parameter value"),
        ESME_RDELIVERYFAILURE => ("ESME_RDELIVERYFAILURE", "delivery failure"),
        ESME_RUNKNOWNERR => ("ESME_RUNKNOWNERR", "unknown error"),
        _ => return None,
    })
}

/// "ESME_RTHROTTLED", or "unknown" for reserved and vendor values.
pub fn name(status: u32) -> &'static str {
    entry(status).map_or("unknown", |(name, _)| name)
}

/// "0x00000058 ESME_RTHROTTLED (throttling error)", for logs and Matrix notices.
pub fn describe(status: u32) -> String {
    match entry(status) {
        Some((name, text)) => format!("0x{status:08X} {name} ({text})"),
        // §5.1.3 leaves 0x400..=0x4FF to SMSC vendors; real SMSCs use it.
        None if (0x400..=0x4FF).contains(&status) => format!("0x{status:08X} unknown (SMSC vendor-specific)"),
        None => format!("0x{status:08X} unknown (reserved)"),
    }
}

/// Worth retrying later: Kannel's set (queue full, throttled, invalid scheduled time,
/// system error) plus ESME_RX_T_APPN, which says "temporary" in its name.
pub fn is_temporary(status: u32) -> bool {
    matches!(status, ESME_RMSGQFUL | ESME_RTHROTTLED | ESME_RINVSCHED | ESME_RSYSERR | ESME_RX_T_APPN)
}

/// The SMSC wants us to slow down: pause the whole queue, not just this message.
pub fn is_throttle(status: u32) -> bool {
    matches!(status, ESME_RTHROTTLED | ESME_RMSGQFUL)
}

/// The bind was refused for its credentials: reconnecting with the same ones won't help.
/// (ESME_RBINDFAIL is not among them: SMSCs also use it for "too many binds" just after a
/// reconnect, which the normal backoff handles.)
pub fn is_bind_credentials(status: u32) -> bool {
    matches!(status, ESME_RINVPASWD | ESME_RINVSYSID)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_descriptions() {
        assert_eq!(name(0x58), "ESME_RTHROTTLED");
        assert_eq!(name(0), "ESME_ROK");
        assert_eq!(name(0x09), "unknown");
        assert_eq!(describe(0x58), "0x00000058 ESME_RTHROTTLED (throttling error)");
        assert_eq!(describe(0x0E), "0x0000000E ESME_RINVPASWD (invalid password)");
        assert_eq!(describe(0x450), "0x00000450 unknown (SMSC vendor-specific)");
        assert_eq!(describe(0x10), "0x00000010 unknown (reserved)");
        // The §5.1.3 table has 48 entries.
        assert_eq!((0..0x500).filter(|&s| entry(s).is_some()).count(), 48);
    }

    #[test]
    fn classes() {
        for s in [0x14, 0x58, 0x61, 0x08, 0x64] {
            assert!(is_temporary(s), "{s:#x}");
        }
        for s in [0x00, 0x0B, 0x45, 0x65, 0xFF, 0x450] {
            assert!(!is_temporary(s), "{s:#x}");
        }
        assert!(is_throttle(0x58) && is_throttle(0x14) && !is_throttle(0x08));
        assert!(is_bind_credentials(0x0E) && is_bind_credentials(0x0F) && !is_bind_credentials(0x0D));
        assert!(!is_bind_credentials(0x05) && !is_bind_credentials(0x08));
    }
}
