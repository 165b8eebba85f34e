//! What differs between modem makes: identity, boot and noise URCs, the storage-full
//! URC and the ranges `=?` queries answer. Taken from the vendors' AT manuals.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    #[default]
    Generic,
    /// Quectel EG25-G / EC25.
    Quectel,
    /// SIMCom SIM7600.
    Simcom,
    /// Huawei E3372 in stick (not HiLink) mode.
    Huawei,
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Profile, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "generic" => Ok(Profile::Generic),
            "quectel" => Ok(Profile::Quectel),
            "simcom" => Ok(Profile::Simcom),
            "huawei" => Ok(Profile::Huawei),
            other => Err(format!("unknown profile {other:?}: use generic, quectel, simcom or huawei")),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Profile::Generic => "generic",
            Profile::Quectel => "quectel",
            Profile::Simcom => "simcom",
            Profile::Huawei => "huawei",
        })
    }
}

impl Profile {
    /// AT+CGMI, AT+CGMM, AT+CGMR.
    pub fn identity(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Profile::Generic => ("SMS-Bridge", "ModemSim", "1.0"),
            Profile::Quectel => ("Quectel", "EG25", "EG25GGBR07A08M2G"),
            Profile::Simcom => ("SIMCOM INCORPORATED", "SIMCOM_SIM7600G-H", "LE20B04SIM7600G22"),
            Profile::Huawei => ("huawei", "E3372", "22.328.62.00.1217"),
        }
    }

    pub const IMEI: &'static str = "356938035643809";
    pub const IMSI: &'static str = "001010123456789";

    /// Raw bytes printed after power-up (each URC framed as the modem frames it).
    pub fn boot_urcs(self) -> Vec<String> {
        let urc = |l: &str| format!("\r\n{l}\r\n");
        match self {
            Profile::Generic => vec![],
            Profile::Quectel => vec![urc("RDY"), urc("+CFUN: 1"), urc("+CPIN: READY"), urc("+QIND: SMS DONE")],
            Profile::Simcom => {
                vec![urc("RDY"), urc("+CPIN: READY"), urc("SMS DONE"), urc("PB DONE")]
            }
            Profile::Huawei => vec![urc("^BOOT:20371101,0,0,0,75"), urc("^SIMST: 1"), urc("^SRVST: 2")],
        }
    }

    /// Unsolicited lines that interleave with command responses (with `UrcNoise`).
    pub fn noise(self) -> Vec<&'static str> {
        match self {
            // Huawei ends ^MODE with a double CR, as the E-series firmware does.
            Profile::Huawei => vec!["\r\n^RSSI: 17\r\n", "\r\n^MODE: 5,4\r\r\n", "\r\n^HCSQ: \"LTE\",45,40,120,20\r\n"],
            Profile::Quectel => vec!["\r\n+QIND: \"csq\",20,99\r\n", "\r\n+CREG: 1\r\n"],
            Profile::Simcom => vec!["\r\n+CREG: 1\r\n", "\r\n+CGEV: ME PDN ACT 1\r\n"],
            Profile::Generic => vec!["\r\n+CREG: 1\r\n", "\r\n+CSQ: 20,99\r\n"],
        }
    }

    /// The URC a modem prints when its message storage fills.
    pub fn storage_full_urc(self, storage: &str) -> String {
        match self {
            Profile::Huawei => format!("\r\n^SMMEMFULL: \"{storage}\"\r\n"),
            Profile::Simcom => "\r\n+SMS FULL\r\n".into(),
            Profile::Quectel => format!("\r\n+QIND: \"smsfull\",\"{storage}\"\r\n"),
            Profile::Generic => "\r\n+CMS ERROR: 322\r\n".into(),
        }
    }

    pub fn cnmi_ranges(self) -> &'static str {
        match self {
            Profile::Huawei => "+CNMI: (0,1,2),(0,1,2,3),(0,2),(0,1,2),(0,1)",
            Profile::Simcom => "+CNMI: (0-3),(0-3),(0,2),(0-2),(0,1)",
            Profile::Quectel | Profile::Generic => "+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)",
        }
    }

    pub fn cpms_ranges(self) -> &'static str {
        match self {
            Profile::Huawei => "+CPMS: (\"SM\",\"ME\"),(\"SM\",\"ME\"),(\"SM\",\"ME\")",
            _ => "+CPMS: (\"SM\",\"ME\",\"SR\"),(\"SM\",\"ME\",\"SR\"),(\"SM\",\"ME\")",
        }
    }

    /// Whether AT+CMGR on an empty slot answers a bare OK (else +CMS ERROR: 321).
    pub fn empty_read_is_ok(self) -> bool {
        matches!(self, Profile::Simcom | Profile::Huawei)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for p in [Profile::Generic, Profile::Quectel, Profile::Simcom, Profile::Huawei] {
            assert_eq!(p.to_string().parse::<Profile>(), Ok(p));
        }
        assert!("nokia".parse::<Profile>().unwrap_err().contains("use generic"));
        assert!(Profile::Huawei.noise().iter().any(|n| n.ends_with("\r\r\n")));
        assert_eq!(Profile::Simcom.storage_full_urc("SM"), "\r\n+SMS FULL\r\n");
    }
}
