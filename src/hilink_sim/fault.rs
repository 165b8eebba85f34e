//! Faults a test or a person can switch on, as real routers misbehave.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The next `times` web API calls answer `<error><code>code</code>` (tokens still turn).
    Error { code: i64, times: u32 },
    /// Every session ends now: the next call answers 100003 or 125002.
    ExpireSessions,
    /// The web server stops listening this long (connections refused), then comes back with
    /// no sessions; storage is kept.
    Reboot(Duration),
    /// Every answer comes this much later (`slow=0ms` ends it).
    Slow(Duration),
    /// The next `times` sends end in `FailPhone`.
    SendFail(u32),
    /// `monitoring/status` shows no SIM (`SimStatus` 255) until cleared.
    NoSim,
    /// `monitoring/status` shows no signal (`SignalIcon` 0) until cleared.
    NoSignal,
}

/// `5s`, `300ms` or bare seconds.
fn duration(what: &str, v: &str) -> Result<Duration, String> {
    let bad = || format!("{what}: {v:?} is not a duration like 2s or 300ms");
    if let Some(ms) = v.strip_suffix("ms") {
        return ms.trim().parse().map(Duration::from_millis).map_err(|_| bad());
    }
    v.strip_suffix('s').unwrap_or(v).trim().parse().map(Duration::from_secs).map_err(|_| bad())
}

impl FromStr for Fault {
    type Err = String;

    /// `error=125003x2`, `expire`, `reboot=2s`, `slow=300ms`, `send_fail[=N]`.
    fn from_str(s: &str) -> Result<Fault, String> {
        let s = s.trim().replace('-', "_");
        let (name, arg) = s.split_once(['=', ':']).map_or((s.as_str(), ""), |(n, a)| (n, a.trim()));
        let count =
            |v: &str| if v.is_empty() { Ok(1) } else { v.parse::<u32>().map_err(|_| format!("{v:?} is not a count")) };
        Ok(match name {
            "error" => {
                let (code, times) = arg.split_once('x').unwrap_or((arg, ""));
                let code = code.parse().map_err(|_| format!("error: {code:?} is not an error code"))?;
                Fault::Error { code, times: count(times)? }
            }
            "expire" | "expire_sessions" => Fault::ExpireSessions,
            "reboot" => Fault::Reboot(if arg.is_empty() { Duration::from_secs(2) } else { duration("reboot", arg)? }),
            "slow" => Fault::Slow(duration("slow", arg)?),
            "send_fail" => Fault::SendFail(count(arg)?),
            "no_sim" => Fault::NoSim,
            "no_signal" => Fault::NoSignal,
            _ => {
                return Err(format!(
                    "unknown fault {name:?}: error=CODExN, expire, reboot=2s, slow=300ms, send_fail=N, no_sim, no_signal"
                ));
            }
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Error { code, times } => write!(f, "error={code}x{times}"),
            Fault::ExpireSessions => write!(f, "expire"),
            Fault::Reboot(d) => write!(f, "reboot={}ms", d.as_millis()),
            Fault::Slow(d) => write!(f, "slow={}ms", d.as_millis()),
            Fault::SendFail(n) => write!(f, "send_fail={n}"),
            Fault::NoSim => write!(f, "no_sim"),
            Fault::NoSignal => write!(f, "no_signal"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print_round_trip() {
        for (text, fault) in [
            ("error=125003x2", Fault::Error { code: 125003, times: 2 }),
            ("error=100004", Fault::Error { code: 100004, times: 1 }),
            ("expire", Fault::ExpireSessions),
            ("reboot=1500ms", Fault::Reboot(Duration::from_millis(1500))),
            ("reboot=3s", Fault::Reboot(Duration::from_secs(3))),
            ("slow=300ms", Fault::Slow(Duration::from_millis(300))),
            ("send-fail", Fault::SendFail(1)),
            ("send_fail=4", Fault::SendFail(4)),
            ("no-sim", Fault::NoSim),
            ("no_signal", Fault::NoSignal),
        ] {
            let parsed: Fault = text.parse().unwrap();
            assert_eq!(parsed, fault, "{text}");
            assert_eq!(parsed.to_string().parse::<Fault>().unwrap(), fault);
        }
        for bad in ["", "error=x", "error=1xq", "slow=fast", "melt"] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
    }
}
