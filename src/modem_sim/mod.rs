//! `sms-bridge modem-sim`: a simulated AT modem (3GPP 27.007/27.005, PDU mode) on a
//! pseudo-terminal, for trying and testing modem clients (the bridge, gammu, ModemManager)
//! without hardware.
//!
//! It answers the commands those clients send, stores incoming SMS on its "SIM", prints
//! +CMTI/+CMT/+CDS/+CDSI as configured with AT+CNMI, sends status reports, answers USSD,
//! and plays the network: SMS typed on stdin or posted to its HTTP API arrive as
//! SMS-DELIVER. Messages sent to the SIM's own number come back (loopback). Faults and
//! unplugging show how a client copes.
//!
//! Text mode: AT+CMGF=1 is accepted, but this simulator speaks PDU mode only; in text mode
//! AT+CMGL/CMGR/CMGS answer `+CMS ERROR: 302`.

mod cli;
mod commands;
mod fault;
mod http;
mod network;
mod profile;
mod pty;
mod state;
mod storage;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

pub use cli::run;
pub use fault::Fault;
pub use profile::Profile;
pub use storage::Stored;

use state::State;

#[derive(Debug, Clone)]
pub struct Options {
    pub profile: Profile,
    /// The SIM's own number (E.164).
    pub number: String,
    /// What AT+CSCA? answers; None answers `+CSCA: "",129`.
    pub smsc: Option<String>,
    /// Some: the SIM starts locked ("SIM PIN").
    pub pin: Option<String>,
    /// A stable symlink to the current /dev/pts/N, re-pointed on replug.
    pub link: Option<PathBuf>,
    /// The loopback control API.
    pub http: Option<SocketAddr>,
    /// From a send that asked for a status report to the report.
    pub dlr_delay: Duration,
    /// SIM storage slots ("SM"); "ME" has 100, "SR" 20.
    pub sm_capacity: usize,
    /// No per-message lines on stdout.
    pub quiet: bool,
    pub faults: Vec<Fault>,
    /// What `AT+CNMI=?` answers instead of the profile's (a modem that lacks some modes).
    pub cnmi_test: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            profile: Profile::Generic,
            number: "+15550001111".into(),
            smsc: Some("+15550000000".into()),
            pin: None,
            link: None,
            http: None,
            dlr_delay: Duration::from_millis(200),
            sm_capacity: 30,
            quiet: false,
            faults: Vec::new(),
            cnmi_test: None,
        }
    }
}

/// A message a client sent with AT+CMGS; parts joined by their concatenation reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentSms {
    pub to: String,
    /// The text (empty for 8-bit data).
    pub text: String,
    pub parts: u8,
    /// The message references answered (+CMGS: <mr>), in part order.
    pub mrs: Vec<u8>,
    /// The PDUs as sent (hex, SMSC field first), in part order.
    pub pdus: Vec<String>,
    pub status_report: bool,
}

/// A USSD answer: `more` means a menu expecting a reply (`+CUSD: 1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UssdReply {
    pub text: String,
    pub more: bool,
}

/// A running simulator; clones share it.
#[derive(Clone)]
pub struct ModemSim {
    state: Arc<State>,
}

impl ModemSim {
    /// Opens the PTY (and the HTTP API) and starts answering.
    pub async fn start(opts: Options) -> std::io::Result<ModemSim> {
        if let Some(h) = opts.http.filter(|h| !h.ip().is_loopback()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("--http {h}: the HTTP API listens on loopback addresses only (127.0.0.1, ::1)"),
            ));
        }
        let http = opts.http;
        let state = State::new(opts);
        pty::plug(&state)?;
        if let Some(addr) = http {
            http::serve(Arc::clone(&state), addr).await?;
        }
        Ok(ModemSim { state })
    }

    /// The link if set, else the current /dev/pts/N.
    pub fn path(&self) -> PathBuf {
        self.state.path()
    }

    /// The HTTP API's address (with the port chosen when asked for port 0).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        *self.state.http_addr.lock().unwrap()
    }

    /// An SMS from the network; see [`network::inject_sms`].
    pub fn inject_sms(&self, from: &str, text: &str) {
        if let Err(e) = network::inject_sms(&self.state, from, text) {
            self.state.say(format!("✗ not injected: {e}"));
        }
    }

    /// A WAP push (the WSP bytes) from the network, to port 2948.
    pub fn inject_wap_push(&self, from: &str, push: &[u8]) {
        if let Err(e) = network::inject_wap_push(&self.state, from, push) {
            self.state.say(format!("✗ not injected: {e}"));
        }
    }

    /// Stores `line` exactly as given (hex, SMSC field first, oddities kept) and announces it.
    pub fn inject_pdu_line(&self, line: &str) {
        network::deliver_raw(&self.state, line.trim_end_matches(['\r', '\n']));
    }

    pub fn sent(&self) -> Vec<SentSms> {
        self.state.inner.lock().unwrap().sent.clone()
    }

    pub fn stored(&self) -> Vec<Stored> {
        self.state.inner.lock().unwrap().storage.snapshot()
    }

    /// Every AT command line received, in order.
    pub fn commands(&self) -> Vec<String> {
        self.state.inner.lock().unwrap().commands.clone()
    }

    /// Every AT command line received from the `skip`th on, with when its CR was read.
    /// For latency measurements (benches/modem.rs).
    pub fn timed_commands(&self, skip: usize) -> Vec<(Instant, String)> {
        let inner = self.state.inner.lock().unwrap();
        let times = inner.command_times.iter().skip(skip);
        times.copied().zip(inner.commands.iter().skip(skip).cloned()).collect()
    }

    /// When the simulator last began writing a new-message or report indication (+CMTI,
    /// +CDSI, +CMT, +CDS) to the PTY: the moment a client could first see it. For
    /// latency measurements (benches/modem.rs).
    pub fn last_indication_written(&self) -> Option<Instant> {
        self.state.inner.lock().unwrap().indication_written
    }

    pub fn set_fault(&self, f: Fault) {
        self.state.set_fault(&f);
    }

    pub fn clear_faults(&self) {
        self.state.clear_faults();
    }

    /// Closes the PTY (clients read EOF/EIO) and removes the link.
    pub async fn unplug(&self) {
        pty::unplug(&self.state).await;
    }

    /// A new PTY, the link re-pointed, boot URCs printed, settings reset; storage kept.
    pub async fn replug(&self) -> std::io::Result<()> {
        pty::unplug(&self.state).await;
        self.state.reset_settings();
        pty::plug(&self.state)?;
        self.state.boot_urcs();
        Ok(())
    }

    /// Boot URCs on the same PTY and settings reset (echo on, CNMI off); storage kept.
    pub fn reboot(&self) {
        self.state.reset_settings();
        // A SIM with a PIN asks for it again after a power cycle.
        {
            let mut inner = self.state.inner.lock().unwrap();
            if self.state.opts.pin.is_some() && matches!(inner.lock, state::Lock::Ready) {
                inner.lock = state::Lock::Pin(3);
            }
        }
        self.state.boot_urcs();
    }

    pub fn set_ussd_reply(&self, code: &str, reply: UssdReply) {
        self.state.inner.lock().unwrap().ussd.insert(code.to_string(), reply);
    }

    /// Waits until at least `n` messages were sent (or `timeout` passed); returns them.
    pub async fn wait_sent(&self, n: usize, timeout: Duration) -> Vec<SentSms> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.sent_changed.notified();
            let sent = self.sent();
            if sent.len() >= n || tokio::time::Instant::now() >= deadline {
                return sent;
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
}
