//! `sms-bridge hilink-sim`: a fake Huawei HiLink LTE router (B315/B525, E3372h in HiLink
//! mode) on loopback, for trying and testing HiLink clients without a router.
//!
//! It speaks the web API as the real ones do (see notes/hilink-smseagle-android-gammu.md):
//! tokens in the page, `webserver/token` and `SesTokInfo`; one token per POST, consumed and
//! handed back fresh; sessions by `SessionID` cookie with idle expiry; login with password
//! type 4 or 0, lockout and a session limit; compact XML only, fields in order; the SMS
//! calls with paging, storage limits, CESU-8, one send at a time; status and device calls.
//! The "network" side (SMS, long messages, reports, MMS notifications) and faults come from
//! stdin or a separate loopback control API (see `control.rs`).

mod api;
mod cli;
mod control;
mod fault;
mod login;
mod server;
mod sms;
mod state;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

pub use cli::run;
pub use fault::Fault;
pub use state::{Counters, Incoming, Rejection, SentRecord, Sms};

use state::State;

#[derive(Debug, Clone)]
pub struct Options {
    /// The web API's port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The control API's port on 127.0.0.1; 0 picks a free one.
    pub control_port: u16,
    /// The SIM's own number (`Msisdn`; sends to it loop back).
    pub number: String,
    /// The `Sca` incoming messages show.
    pub smsc: String,
    pub username: String,
    pub password: String,
    /// 4 (sha256, current firmwares) or 0 (base64).
    pub password_type: u8,
    /// false: a stick without login (every call allowed, state-login shows State 0).
    pub login_required: bool,
    /// The SCRAM-style challenge login of B525s-65a/B618 firmwares instead of
    /// `/api/user/login` (which then answers 108006).
    pub challenge_login: bool,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// Logged-in sessions at most; one more login answers 108003.
    pub max_sessions: usize,
    /// Wrong logins in a row before 108007.
    pub max_login_failures: u32,
    pub lockout: Duration,
    /// `LocalMax`: messages local storage holds (inbox and sent together).
    pub local_max: usize,
    /// From send-sms to SucPhone/FailPhone in send-status.
    pub send_delay: Duration,
    /// How long after send-sms `send-status` still shows the previous send (a router that
    /// has not started the new one yet).
    pub status_lag: Duration,
    /// After each successful send, a delivery report (SmsType 7) arrives for each part.
    pub delivery_reports: bool,
    /// Between the parts of a long message arriving.
    pub long_part_delay: Duration,
    pub device_name: String,
    /// The router's clock: minutes east of UTC.
    pub utc_offset_minutes: i32,
    /// No per-message lines on stdout.
    pub quiet: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port: 0,
            control_port: 0,
            number: "+15550001111".into(),
            smsc: "+15550000000".into(),
            username: "admin".into(),
            password: "admin".into(),
            password_type: 4,
            login_required: true,
            challenge_login: false,
            session_idle: Duration::from_secs(300),
            max_sessions: 4,
            max_login_failures: 3,
            lockout: Duration::from_secs(60),
            local_max: 500,
            send_delay: Duration::from_millis(500),
            status_lag: Duration::ZERO,
            delivery_reports: false,
            long_part_delay: Duration::from_secs(2),
            device_name: "B315s-22".into(),
            utc_offset_minutes: 0,
            quiet: false,
        }
    }
}

/// How a router lists an MMS notification it consumed. Real firmwares vary and none was
/// checked: this simulator offers two shapes, both unverified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MmsShape {
    /// `MMS: <last path segment>`: only the file name or id of the content location.
    FileName,
    /// The whole http URL of the content location.
    Url,
}

impl std::str::FromStr for MmsShape {
    type Err = String;
    fn from_str(s: &str) -> Result<MmsShape, String> {
        match s.trim() {
            "file" | "name" | "" => Ok(MmsShape::FileName),
            "url" => Ok(MmsShape::Url),
            other => Err(format!("MMS shape {other:?}: file or url")),
        }
    }
}

/// Everything tests look at, as the control API's `GET /state` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub inbox: Vec<Sms>,
    pub sent: Vec<Sms>,
    pub deleted: Vec<i64>,
    /// SMS the network holds back while storage is full.
    pub held_back: usize,
    pub storage_full: bool,
    pub sending: bool,
    pub sends: Vec<SentRecord>,
    pub counters: Counters,
    /// Logged-in sessions.
    pub live_sessions: usize,
    pub sessions: usize,
    /// Every 100005 answered, with the body that caused it.
    pub format_rejections: Vec<Rejection>,
}

/// A running simulator; clones share it.
#[derive(Clone)]
pub struct HilinkSim {
    state: Arc<State>,
}

impl HilinkSim {
    /// Binds both APIs on 127.0.0.1 and starts answering.
    pub async fn start(opts: Options) -> std::io::Result<HilinkSim> {
        let loopback = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let web = server::bind(loopback(opts.port))?;
        let control = tokio::net::TcpListener::bind(loopback(opts.control_port)).await?;
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(State::new(opts, tx));
        *state.api_addr.lock().unwrap() = Some(web.local_addr()?);
        *state.control_addr.lock().unwrap() = Some(control.local_addr()?);
        server::spawn(Arc::clone(&state), web, rx);
        control::spawn(Arc::clone(&state), control);
        server::spawn_clock(Arc::clone(&state));
        Ok(HilinkSim { state })
    }

    /// The web API: `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.state.api_addr.lock().unwrap().expect("bound"))
    }

    /// The control API: `http://127.0.0.1:PORT`.
    pub fn control_url(&self) -> String {
        format!("http://{}", self.state.control_addr.lock().unwrap().expect("bound"))
    }

    /// A message from the network; its index, or None when held back (storage full).
    pub fn inject(&self, m: Incoming) -> Option<i64> {
        let mut inner = self.state.inner.lock().unwrap();
        state::deliver(&self.state, &mut inner, m)
    }

    pub fn inject_sms(&self, from: &str, text: &str) -> Option<i64> {
        self.inject(Incoming::sms(from, text))
    }

    /// A long message: listed at once as SmsType 2 with its first part; the other parts
    /// (`parts` in all) are added to the same message, one per `long_part_delay`.
    pub fn inject_long(&self, from: &str, text: &str, parts: usize) -> Option<i64> {
        let chars: Vec<char> = text.chars().collect();
        let size = chars.len().div_ceil(parts.max(1)).max(1);
        let mut chunks: Vec<String> = chars.chunks(size).map(|c| c.iter().collect()).collect();
        let first = if chunks.is_empty() { String::new() } else { chunks.remove(0) };
        self.inject(Incoming { content: first, sms_type: "2".into(), later_parts: chunks, ..Incoming::sms(from, "") })
    }

    /// A delivery report for a message to `to`: SmsType 7 (delivered) or 8 (failed).
    pub fn inject_report(&self, to: &str, delivered: bool) -> Option<i64> {
        self.inject(state::report(to, delivered))
    }

    /// An MMS notification the router consumed, listed in one of the two shapes.
    pub fn inject_mms(&self, from: &str, url: &str, shape: MmsShape, sms_type: &str) -> Option<i64> {
        let content = match shape {
            MmsShape::Url => url.to_string(),
            MmsShape::FileName => {
                let path = url.split(['?', '#']).next().unwrap_or(url);
                format!("MMS: {}", path.rsplit('/').next().unwrap_or(path))
            }
        };
        self.inject(Incoming { content, sms_type: sms_type.into(), ..Incoming::sms(from, "") })
    }

    /// Marks a message read, as opening it in the router's web page does; whether it was
    /// there.
    pub fn mark_read(&self, index: i64) -> bool {
        let mut inner = self.state.inner.lock().unwrap();
        inner.inbox.iter_mut().find(|m| m.index == index).map(|m| m.smstat = 1).is_some()
    }

    pub fn set_fault(&self, f: &Fault) {
        let mut inner = self.state.inner.lock().unwrap();
        match *f {
            Fault::Error { code, times } => inner.error_fault = Some((code, times)).filter(|_| times > 0),
            Fault::ExpireSessions => inner.sessions.clear(),
            Fault::Reboot(d) => {
                let _ = self.state.reboot.send(d);
            }
            Fault::Slow(d) => inner.slow = d,
            Fault::SendFail(n) => inner.send_fail = n,
            Fault::NoSim => inner.no_sim = true,
            Fault::NoSignal => inner.no_signal = true,
        }
    }

    pub fn clear_faults(&self) {
        let mut inner = self.state.inner.lock().unwrap();
        inner.error_fault = None;
        inner.slow = Duration::ZERO;
        inner.send_fail = 0;
        inner.no_sim = false;
        inner.no_signal = false;
    }

    pub fn snapshot(&self) -> Snapshot {
        let mut inner = self.state.inner.lock().unwrap();
        state::tick(&self.state, &mut inner);
        Snapshot {
            inbox: inner.inbox.clone(),
            sent: inner.sent.clone(),
            deleted: inner.deleted.clone(),
            held_back: inner.network.len(),
            storage_full: inner.storage_full(&self.state.opts),
            sending: inner.sending.is_some(),
            sends: inner.sent_records.clone(),
            counters: inner.counters.clone(),
            live_sessions: inner.logged_in_sessions(),
            sessions: inner.sessions.len(),
            format_rejections: inner.rejections.clone(),
        }
    }

    pub fn opts(&self) -> &Options {
        &self.state.opts
    }
}
