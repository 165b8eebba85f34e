//! The information lines of the answers the SMS link reads.

use super::fields::{fields, groups, number, number_list, split_prefix, string_list};

/// The fields after `<prefix>:` if the line starts with it.
fn after(line: &str, prefix: &str) -> Option<Vec<String>> {
    let (p, rest) = split_prefix(line)?;
    (p == prefix).then(|| fields(rest))
}

/// `+CMGL: <index>,<stat>,[<alpha>],<length>` (PDU mode); the PDU is on the next line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    pub index: u32,
    pub stat: u8,
    /// TPDU octets, without the SMSC field.
    pub len: usize,
}

pub fn cmgl(line: &str) -> Option<Listed> {
    let f = after(line, "+CMGL")?;
    Some(Listed { index: number(&f, 0)?, stat: number(&f, 1)?, len: number(&f, f.len() - 1)? })
}

/// `+CMGR: <stat>,[<alpha>],<length>`: (stat, TPDU length).
pub fn cmgr(line: &str) -> Option<(u8, usize)> {
    let f = after(line, "+CMGR")?;
    Some((number(&f, 0)?, number(&f, f.len() - 1)?))
}

/// `+CMGS: <mr>[,<scts>]`: the message reference.
pub fn cmgs(line: &str) -> Option<u8> {
    number(&after(line, "+CMGS")?, 0)
}

/// `+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")`: the storages each of the three slots
/// (read/delete, write/send, receive) accepts.
pub fn cpms_test(line: &str) -> Option<[Vec<String>; 3]> {
    let (p, rest) = split_prefix(line)?;
    if p != "+CPMS" {
        return None;
    }
    let g: Vec<Vec<String>> = groups(rest).iter().map(|g| string_list(g)).collect();
    match g.len() {
        0 => None,
        // One list for all three.
        1 => Some([g[0].clone(), g[0].clone(), g[0].clone()]),
        2 => Some([g[0].clone(), g[1].clone(), g[1].clone()]),
        _ => Some([g[0].clone(), g[1].clone(), g[2].clone()]),
    }
}

/// `+CPMS: <used>,<total>,…` (after setting) or `+CPMS: "SM",<used>,<total>,…` (the
/// query): used and total of the first storage.
pub fn cpms_usage(line: &str) -> Option<(u32, u32)> {
    let f = after(line, "+CPMS")?;
    match number::<u32>(&f, 0) {
        Some(used) => Some((used, number(&f, 1)?)),
        None => Some((number(&f, 1)?, number(&f, 2)?)),
    }
}

/// `+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)`: the values each of mode, mt, bm, ds, bfr allows.
pub fn cnmi_test(line: &str) -> Option<Vec<Vec<u32>>> {
    let (p, rest) = split_prefix(line)?;
    (p == "+CNMI").then(|| groups(rest).iter().map(|g| number_list(g)).collect())
}

/// The `mt` of an `AT+CNMI?` answer (`+CNMI: 2,1,0,1,0`).
pub fn cnmi_mt(line: &str) -> Option<u32> {
    number(&after(line, "+CNMI")?, 1)
}

/// The new-message indication settings to use, from what the modem allows: messages are
/// stored and announced (mt=1, never 2 or 3, which would need +CNMA acknowledgements on
/// some modems), status reports routed (ds=1) or stored and announced (ds=2).
pub fn choose_cnmi(allowed: &[Vec<u32>]) -> [u32; 5] {
    let pick = |i: usize, prefs: &[u32], fallback: u32| {
        allowed.get(i).and_then(|a| prefs.iter().copied().find(|p| a.contains(p))).unwrap_or(fallback)
    };
    [pick(0, &[2, 1, 3], 2), 1, pick(2, &[0], 0), pick(3, &[1, 2, 0], 0), pick(4, &[0, 1], 0)]
}

/// `+CSCA: "+447785016005",145`: the SMSC number, None when empty.
pub fn csca(line: &str) -> Option<Option<String>> {
    let f = after(line, "+CSCA")?;
    let n = f.first()?.trim().to_string();
    Some((!n.is_empty()).then_some(n))
}

/// Network registration (`+CREG: <n>,<stat>` answers to `?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    NotRegistered,
    Home,
    Searching,
    Denied,
    Unknown,
    Roaming,
}

impl Registration {
    pub fn from_stat(stat: u8) -> Registration {
        match stat {
            1 | 6 | 9 => Registration::Home,
            2 => Registration::Searching,
            3 => Registration::Denied,
            5 | 7 | 10 => Registration::Roaming,
            0 => Registration::NotRegistered,
            _ => Registration::Unknown,
        }
    }

    pub fn is_registered(self) -> bool {
        matches!(self, Registration::Home | Registration::Roaming)
    }

    pub fn words(self) -> &'static str {
        match self {
            Registration::NotRegistered => "not registered",
            Registration::Home => "registered",
            Registration::Searching => "searching for a network",
            Registration::Denied => "registration denied",
            Registration::Unknown => "registration unknown",
            Registration::Roaming => "registered (roaming)",
        }
    }
}

/// The answer to `AT+CREG?`, `AT+CGREG?` or `AT+CEREG?`.
pub fn creg(line: &str) -> Option<Registration> {
    let (p, rest) = split_prefix(line)?;
    if !matches!(p, "+CREG" | "+CGREG" | "+CEREG") {
        return None;
    }
    let f = fields(rest);
    // `<n>,<stat>[,…]`; a lone number is the unsolicited form, the state itself.
    let stat = if f.len() >= 2 { number(&f, 1)? } else { number(&f, 0)? };
    Some(Registration::from_stat(stat))
}

/// `+CSQ: <rssi>,<ber>` → dBm, None when unknown (99).
pub fn csq(line: &str) -> Option<Option<i32>> {
    let rssi: u32 = number(&after(line, "+CSQ")?, 0)?;
    Some(match rssi {
        0..=31 => Some(-113 + 2 * rssi as i32),
        _ => None,
    })
}

/// `+COPS: <mode>[,<format>,<oper>[,<AcT>]]` → the operator's name.
pub fn cops(line: &str) -> Option<String> {
    let f = after(line, "+COPS")?;
    f.get(2).filter(|s| !s.is_empty()).cloned()
}

/// `+CPINR: SIM PIN,<retries>,<default retries>` → (tries left, tries when full).
pub fn cpinr(line: &str) -> Option<(u32, u32)> {
    let f = after(line, "+CPINR")?;
    (f.first()?.trim_matches('"') == "SIM PIN").then_some((number(&f, 1)?, number(&f, 2).unwrap_or(3)))
}

/// `+CPIN: <code>`: READY, SIM PIN, SIM PUK, …
pub fn cpin(line: &str) -> Option<String> {
    let (p, rest) = split_prefix(line)?;
    (p == "+CPIN").then(|| rest.trim_matches('"').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_and_reading() {
        assert_eq!(cmgl("+CMGL: 3,0,,27"), Some(Listed { index: 3, stat: 0, len: 27 }));
        assert_eq!(cmgl("+CMGL: 12,1,\"Bob\",140"), Some(Listed { index: 12, stat: 1, len: 140 }));
        assert_eq!(cmgl("+CMGR: 1,,27"), None);
        assert_eq!(cmgr("+CMGR: 1,,27"), Some((1, 27)));
        assert_eq!(cmgr("+CMGR: 0,\"\",140"), Some((0, 140)));
        assert_eq!(cmgs("+CMGS: 42"), Some(42));
        assert_eq!(cmgs("+CMGS: 7,\"26/12/04,10:00:00+04\""), Some(7));
        assert_eq!(cmgs("+CMGS: 300"), None);
    }

    #[test]
    fn storages_and_indications() {
        let [a, b, c] = cpms_test("+CPMS: (\"SM\",\"ME\",\"MT\"),(\"SM\",\"ME\"),(\"SM\")").unwrap();
        assert_eq!((a.len(), b.len(), c), (3, 2, vec!["SM".to_string()]));
        let [a, _, c] = cpms_test("+CPMS: \"SM\",\"SM\",\"SM\"").unwrap();
        assert_eq!((a, c), (vec!["SM".to_string()], vec!["SM".to_string()]));
        assert_eq!(cpms_usage("+CPMS: 3,30,3,30,3,30"), Some((3, 30)));
        assert_eq!(cpms_usage("+CPMS: \"SM\",3,30,\"SM\",3,30,\"SM\",3,30"), Some((3, 30)));
        let allowed = cnmi_test("+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)").unwrap();
        assert_eq!(choose_cnmi(&allowed), [2, 1, 0, 1, 0]);
        assert_eq!(cnmi_mt("+CNMI: 2,1,0,1,0"), Some(1));
        assert_eq!(cnmi_mt("+CNMI: 0,0,0,0,0"), Some(0));
        // Modes a modem lacks are not chosen.
        let allowed = cnmi_test("+CNMI: (1),(0-3),(0),(0,2),(1)").unwrap();
        assert_eq!(choose_cnmi(&allowed), [1, 1, 0, 2, 1]);
    }

    #[test]
    fn network_answers() {
        assert_eq!(csca("+CSCA: \"+447785016005\",145"), Some(Some("+447785016005".into())));
        assert_eq!(csca("+CSCA: \"\",129"), Some(None));
        assert_eq!(creg("+CREG: 0,1"), Some(Registration::Home));
        assert_eq!(creg("+CEREG: 2,5,\"00C3\",\"01A2D001\",7"), Some(Registration::Roaming));
        assert_eq!(creg("+CREG: 0,2"), Some(Registration::Searching));
        assert_eq!(csq("+CSQ: 20,99"), Some(Some(-73)));
        assert_eq!(csq("+CSQ: 99,99"), Some(None));
        assert_eq!(cops("+COPS: 0,0,\"Vodafone UK\",7"), Some("Vodafone UK".into()));
        assert_eq!(cops("+COPS: 0"), None);
        assert_eq!(cpin("+CPIN: SIM PIN"), Some("SIM PIN".into()));
        assert_eq!(cpinr("+CPINR: SIM PIN,2,3"), Some((2, 3)));
        assert_eq!(cpinr("+CPINR: \"SIM PIN\",3,3"), Some((3, 3)));
        assert_eq!(cpinr("+CPINR: SIM PUK,10,10"), None);
    }
}
