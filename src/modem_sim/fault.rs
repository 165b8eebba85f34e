//! Faults a test or a person can switch on, as real modems misbehave.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Storage reports full: incoming SMS are held (not stored), the profile's full URC is
    /// printed; held messages are stored once AT+CMGD frees a slot.
    StorageFull,
    /// +CMGS is answered only after this delay.
    SlowCmgs(Duration),
    /// The next `times` AT+CMGS get `+CMS ERROR: code`.
    CmsError { code: u16, times: u32 },
    /// The profile's URC lines appear in the middle of responses.
    UrcNoise,
    /// Each incoming SMS is stored this many times, each with its own +CMTI (EG25-G style).
    Repeat(u32),
    /// Not registered: +CREG: 0,2; AT+CMGS gets +CMS ERROR: 331.
    NoNetwork,
    /// AT+CPIN? gets +CME ERROR: 10.
    NoSim,
    /// Nothing is answered, not even the echo.
    Silent,
    /// Status reports say failed (TP-Status 0x41).
    FailedReport,
    /// Incoming SMS are stored without +CMTI (a notification lost on the line).
    LostIndication,
}

impl FromStr for Fault {
    type Err = String;

    /// `storage_full`, `slow_cmgs=5s`, `cms=331x2`, `noise`, `repeat=3`, `no_network`,
    /// `no_sim`, `silent`, `failed_report`.
    fn from_str(s: &str) -> Result<Fault, String> {
        let s = s.trim().replace('-', "_");
        let (name, arg) = s.split_once(['=', ':']).map_or((s.as_str(), ""), |(n, a)| (n, a.trim()));
        let number = |what: &str, v: &str| v.parse::<u32>().map_err(|_| format!("{what}: {v:?} is not a number"));
        Ok(match name {
            "storage_full" => Fault::StorageFull,
            "slow_cmgs" => {
                let secs = arg.strip_suffix('s').unwrap_or(arg);
                let ms = match secs.strip_suffix('m') {
                    Some(ms) => number("slow_cmgs", ms)?,
                    None => number("slow_cmgs", secs)? * 1000,
                };
                Fault::SlowCmgs(Duration::from_millis(ms.into()))
            }
            "cms" => {
                let (code, times) = arg.split_once('x').unwrap_or((arg, "1"));
                let code = number("cms", code)?;
                let code = u16::try_from(code).map_err(|_| format!("cms: {code} is not an error code"))?;
                Fault::CmsError { code, times: number("cms count", times)? }
            }
            "noise" | "urc_noise" => Fault::UrcNoise,
            "repeat" => Fault::Repeat(number("repeat", arg)?),
            "no_network" => Fault::NoNetwork,
            "no_sim" => Fault::NoSim,
            "silent" => Fault::Silent,
            "failed_report" => Fault::FailedReport,
            "lost_indication" => Fault::LostIndication,
            _ => {
                return Err(format!(
                    "unknown fault {s:?}: use storage_full, slow_cmgs=5s, cms=331x2, noise, repeat=3, no_network, no_sim, silent, failed_report or lost_indication"
                ));
            }
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Fault::StorageFull => f.write_str("storage full"),
            Fault::SlowCmgs(d) => write!(f, "+CMGS answered after {} ms", d.as_millis()),
            Fault::CmsError { code, times } => write!(f, "+CMS ERROR: {code} for the next {times} AT+CMGS"),
            Fault::UrcNoise => f.write_str("URC noise inside responses"),
            Fault::Repeat(n) => write!(f, "each incoming SMS stored {n} times"),
            Fault::NoNetwork => f.write_str("no network"),
            Fault::NoSim => f.write_str("no SIM"),
            Fault::Silent => f.write_str("silent"),
            Fault::FailedReport => f.write_str("status reports say failed"),
            Fault::LostIndication => f.write_str("no +CMTI for incoming SMS"),
        }
    }
}

/// The faults in force.
#[derive(Debug, Default, Clone)]
pub(super) struct Faults {
    pub storage_full: bool,
    pub slow_cmgs: Option<Duration>,
    pub cms: Option<(u16, u32)>,
    pub noise: bool,
    pub repeat: u32,
    pub no_network: bool,
    pub no_sim: bool,
    pub silent: bool,
    pub failed_report: bool,
    pub lost_indication: bool,
}

impl Faults {
    pub fn set(&mut self, f: &Fault) {
        match *f {
            Fault::StorageFull => self.storage_full = true,
            Fault::SlowCmgs(d) => self.slow_cmgs = Some(d),
            Fault::CmsError { code, times } => self.cms = (times > 0).then_some((code, times)),
            Fault::UrcNoise => self.noise = true,
            Fault::Repeat(n) => self.repeat = n,
            Fault::NoNetwork => self.no_network = true,
            Fault::NoSim => self.no_sim = true,
            Fault::Silent => self.silent = true,
            Fault::FailedReport => self.failed_report = true,
            Fault::LostIndication => self.lost_indication = true,
        }
    }

    /// The error this AT+CMGS gets from a `CmsError` fault, counting it down.
    pub fn next_cms(&mut self) -> Option<u16> {
        let (code, times) = self.cms?;
        self.cms = (times > 1).then_some((code, times - 1));
        Some(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_count_down() {
        assert_eq!("slow_cmgs=5s".parse(), Ok(Fault::SlowCmgs(Duration::from_secs(5))));
        assert_eq!("slow-cmgs=250ms".parse(), Ok(Fault::SlowCmgs(Duration::from_millis(250))));
        assert_eq!("cms=331x2".parse(), Ok(Fault::CmsError { code: 331, times: 2 }));
        assert_eq!("cms=500".parse(), Ok(Fault::CmsError { code: 500, times: 1 }));
        assert_eq!("repeat=3".parse(), Ok(Fault::Repeat(3)));
        assert!("repeat=x".parse::<Fault>().unwrap_err().contains("not a number"));
        assert!("bogus".parse::<Fault>().unwrap_err().contains("unknown fault"));
        let mut f = Faults::default();
        f.set(&Fault::CmsError { code: 331, times: 2 });
        assert_eq!((f.next_cms(), f.next_cms(), f.next_cms()), (Some(331), Some(331), None));
    }
}
