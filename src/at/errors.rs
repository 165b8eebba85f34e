//! `+CMS ERROR` (27.005 §3.2.5, and the network causes of 24.011/23.040 below 300) and
//! `+CME ERROR` (27.007 §9.2) codes: what they mean in words, and whether trying again
//! can help.

/// What a failed send means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmsClass {
    /// The network or modem is busy or away: try again later.
    Transient,
    /// This message will never go (unknown number, barred, malformed).
    Permanent,
    /// Something in the setup is wrong (no SMSC address, a mode the modem lacks): every
    /// message would fail the same way until a person fixes it.
    Configuration,
    /// A code we do not know (or "unknown error"): try a limited number of times.
    Unknown,
}

pub fn cms_class(code: u16) -> CmsClass {
    match code {
        // Network out of order, temporary failure, congestion, resources unavailable, and
        // the SMSC busy or failing (0xC0, 0xC2); the recipient away or full (17, 22, 27).
        17 | 22 | 27 | 38 | 41 | 42 | 47 | 192 | 194 | 314 | 331 | 332 => CmsClass::Transient,
        // The modem busy or failing passes; a SIM that needs its PIN (after a silent
        // reboot), or is missing, needs init again.
        300 | 301 | 320 => CmsClass::Transient,
        310..=313 | 315..=318 => CmsClass::Configuration,
        // 304 (invalid PDU parameter) is about one message: limited tries, not the link.
        302 | 303 | 305 | 330 => CmsClass::Configuration,
        1..=255 => CmsClass::Permanent,
        _ => CmsClass::Unknown,
    }
}

/// The meaning of a `+CMS ERROR` code in words.
pub fn cms_words(code: u16) -> &'static str {
    match code {
        1 => "unassigned (unallocated) number",
        8 => "operator determined barring",
        10 => "call barred",
        17 => "network failure",
        21 => "short message transfer rejected",
        22 => "memory capacity exceeded",
        27 => "destination out of service",
        28 => "unidentified subscriber",
        29 => "facility rejected",
        30 => "unknown subscriber",
        38 => "network out of order",
        41 => "temporary failure",
        42 => "congestion",
        47 => "resources unavailable",
        50 => "requested facility not subscribed",
        69 => "requested facility not implemented",
        81 => "invalid short message transfer reference value",
        95 => "invalid message",
        96 => "invalid mandatory information",
        97 => "message type non-existent or not implemented",
        98 => "message not compatible with short message protocol state",
        99 => "information element non-existent or not implemented",
        111 => "protocol error",
        127 => "interworking",
        128 => "telematic interworking not supported",
        129 => "short message type 0 not supported",
        130 => "cannot replace short message",
        143 => "unspecified TP-PID error",
        144 => "data coding scheme not supported",
        145 => "message class not supported",
        159 => "unspecified TP-DCS error",
        160 => "command cannot be actioned",
        176 => "TPDU not supported",
        192 => "SC busy",
        193 => "no SC subscription",
        194 => "SC system failure",
        195 => "invalid SME address",
        196 => "destination SME barred",
        197 => "SM rejected: duplicate SM",
        198 => "TP-VPF not supported",
        199 => "TP-VP not supported",
        208 => "SIM SMS storage full",
        300 => "ME failure",
        301 => "SMS service of ME reserved",
        302 => "operation not allowed",
        303 => "operation not supported",
        304 => "invalid PDU mode parameter",
        305 => "invalid text mode parameter",
        310 => "SIM not inserted",
        311 => "SIM PIN required",
        312 => "PH-SIM PIN required",
        313 => "SIM failure",
        314 => "SIM busy",
        315 => "SIM wrong",
        316 => "SIM PUK required",
        317 => "SIM PIN2 required",
        318 => "SIM PUK2 required",
        320 => "memory failure",
        321 => "invalid memory index",
        322 => "memory full",
        330 => "SMSC address unknown",
        331 => "no network service",
        332 => "network timeout",
        340 => "no +CNMA acknowledgement expected",
        500 => "unknown error",
        _ => "unknown code",
    }
}

/// The meaning of a `+CME ERROR` code in words.
pub fn cme_words(code: u16) -> &'static str {
    match code {
        0 => "phone failure",
        3 => "operation not allowed",
        4 => "operation not supported",
        5 => "PH-SIM PIN required",
        10 => "SIM not inserted",
        11 => "SIM PIN required",
        12 => "SIM PUK required",
        13 => "SIM failure",
        14 => "SIM busy",
        15 => "SIM wrong",
        16 => "incorrect password",
        17 => "SIM PIN2 required",
        18 => "SIM PUK2 required",
        20 => "memory full",
        21 => "invalid index",
        22 => "not found",
        23 => "memory failure",
        30 => "no network service",
        31 => "network timeout",
        32 => "network not allowed, emergency calls only",
        100 => "unknown error",
        _ => "unknown code",
    }
}

/// The code for the verbose form (`AT+CMEE=2`), e.g. "SIM PIN required" → 11.
pub fn cme_code(words: &str) -> Option<u16> {
    let w = words.trim().to_ascii_lowercase();
    (0..=100).find(|&c| cme_words(c) != "unknown code" && cme_words(c).to_ascii_lowercase() == w)
}

/// The code for the verbose `+CMS ERROR` form.
pub fn cms_code(words: &str) -> Option<u16> {
    let w = words.trim().to_ascii_lowercase();
    (1..=500).find(|&c| cms_words(c) != "unknown code" && cms_words(c).to_ascii_lowercase() == w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_table() {
        for c in [38, 41, 42, 47, 314, 331, 332] {
            assert_eq!(cms_class(c), CmsClass::Transient, "{c}");
        }
        for c in [1, 8, 10, 21, 28, 29, 30, 50, 69, 96, 97] {
            assert_eq!(cms_class(c), CmsClass::Permanent, "{c}");
        }
        assert_eq!(cms_class(192), CmsClass::Transient);
        assert_eq!(cms_class(304), CmsClass::Unknown);
        for c in [302, 303, 305, 330] {
            assert_eq!(cms_class(c), CmsClass::Configuration, "{c}");
        }
        assert_eq!(cms_class(500), CmsClass::Unknown);
        assert_eq!(cms_class(515), CmsClass::Unknown);
        assert_eq!(cms_words(330), "SMSC address unknown");
    }

    #[test]
    fn verbose_forms_map_back() {
        assert_eq!(cme_code("SIM PIN required"), Some(11));
        assert_eq!(cme_code("incorrect password"), Some(16));
        assert_eq!(cms_code("memory full"), Some(322));
        assert_eq!(cme_code("no such thing"), None);
    }
}
