//! What the PTY loop, the network side, the handle and the HTTP API share.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::sync::{Notify, mpsc};

use super::fault::{Fault, Faults};
use super::storage::Storage;
use super::{Options, SentSms, UssdReply};

/// Settings a reset (ATZ, reboot, replug) restores.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub echo: bool,
    pub cmee: u8,
    /// 0 PDU, 1 text.
    pub cmgf: u8,
    /// mode, mt, bm, ds, bfr.
    pub cnmi: [u8; 5],
    /// mem1 (read, list, delete), mem2 (write), mem3 (received).
    pub mems: [&'static str; 3],
    pub cscs: String,
    /// Huawei ^CURC: unsolicited reports on.
    pub curc: bool,
}

impl Default for Settings {
    fn default() -> Self {
        // CMEE 1 by default, as Quectel and SIMCom ship, so errors carry their numbers.
        Settings {
            echo: true,
            cmee: 1,
            cmgf: 0,
            cnmi: [0; 5],
            mems: ["SM", "SM", "SM"],
            cscs: "GSM".into(),
            curc: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lock {
    Ready,
    /// Waiting for the PIN, with the attempts left.
    Pin(u8),
    Puk,
}

/// A message waiting for the rest of its parts before it counts as sent.
#[derive(Debug, Default)]
pub(super) struct Partial {
    pub parts: Vec<Option<(u8, String, String)>>,
    pub status_report: bool,
}

pub(super) struct Inner {
    pub settings: Settings,
    pub storage: Storage,
    pub faults: Faults,
    pub lock: Lock,
    pub smsc: Option<String>,
    pub sent: Vec<SentSms>,
    /// Concatenated sends by (destination, reference).
    pub partial: HashMap<(String, u16), Partial>,
    pub commands: Vec<String>,
    /// When each of `commands` was received (its CR read), for latency measurements.
    pub command_times: Vec<Instant>,
    /// When the PTY writer last began writing a new-message or report indication
    /// (+CMTI, +CDSI, +CMT, +CDS), for latency measurements.
    pub indication_written: Option<Instant>,
    /// Incoming PDUs (hex) waiting for storage space.
    pub held: Vec<String>,
    pub next_mr: u8,
    pub next_ref: u8,
    pub ussd: HashMap<String, UssdReply>,
    pub noise_turn: usize,
}

pub(super) struct State {
    pub opts: Options,
    pub inner: Mutex<Inner>,
    /// The current PTY's writer; None while unplugged.
    pub out: Mutex<Option<mpsc::UnboundedSender<Vec<u8>>>>,
    pub pty: tokio::sync::Mutex<Option<super::pty::Pty>>,
    pub device: Mutex<Option<PathBuf>>,
    pub http_addr: Mutex<Option<SocketAddr>>,
    pub sent_changed: Notify,
    /// Bumped by a reboot: the PTY loop drops a half-typed line or PDU.
    pub boots: AtomicU64,
}

impl State {
    pub fn new(opts: Options) -> std::sync::Arc<State> {
        let mut faults = Faults::default();
        for f in &opts.faults {
            faults.set(f);
        }
        let mut ussd = HashMap::new();
        ussd.insert("*100#".to_string(), UssdReply { text: "Your balance is 5.00 EUR".into(), more: false });
        let inner = Inner {
            settings: Settings::default(),
            storage: Storage::new(opts.sm_capacity),
            faults,
            lock: if opts.pin.is_some() { Lock::Pin(3) } else { Lock::Ready },
            smsc: opts.smsc.clone(),
            sent: Vec::new(),
            partial: HashMap::new(),
            commands: Vec::new(),
            command_times: Vec::new(),
            indication_written: None,
            held: Vec::new(),
            next_mr: 1,
            next_ref: 1,
            ussd,
            noise_turn: 0,
        };
        std::sync::Arc::new(State {
            opts,
            inner: Mutex::new(inner),
            out: Mutex::new(None),
            pty: tokio::sync::Mutex::new(None),
            device: Mutex::new(None),
            http_addr: Mutex::new(None),
            sent_changed: Notify::new(),
            boots: AtomicU64::new(0),
        })
    }

    pub fn say(&self, line: impl std::fmt::Display) {
        if !self.opts.quiet {
            println!("{line}");
        }
    }

    /// Bytes to the client; dropped while unplugged (as a real unplugged modem loses them).
    pub fn emit(&self, bytes: impl Into<Vec<u8>>) {
        if let Some(tx) = self.out.lock().unwrap().as_ref() {
            let _ = tx.send(bytes.into());
        }
    }

    pub fn path(&self) -> PathBuf {
        self.opts.link.clone().or_else(|| self.device.lock().unwrap().clone()).unwrap_or_default()
    }

    pub fn set_fault(&self, f: &Fault) {
        self.inner.lock().unwrap().faults.set(f);
        self.say(format!("⚠ fault: {f}"));
    }

    pub fn clear_faults(&self) {
        self.inner.lock().unwrap().faults = Faults::default();
        self.say("⚠ faults cleared");
        super::network::store_held(self);
    }

    pub fn reset_settings(&self) {
        self.inner.lock().unwrap().settings = Settings::default();
        self.boots.fetch_add(1, Ordering::SeqCst);
    }

    pub fn boot_urcs(&self) {
        let locked = !matches!(self.inner.lock().unwrap().lock, Lock::Ready);
        for urc in self.opts.profile.boot_urcs() {
            // A locked SIM says so where an unlocked one says READY.
            self.emit(if locked { urc.replace("+CPIN: READY", "+CPIN: SIM PIN") } else { urc });
        }
    }

    /// The next noise line, when the noise fault is on (and Huawei's ^CURC allows it).
    pub fn noise(&self, inner: &mut Inner) -> Option<&'static str> {
        if !inner.faults.noise || !inner.settings.curc {
            return None;
        }
        let lines = self.opts.profile.noise();
        inner.noise_turn += 1;
        Some(lines[inner.noise_turn % lines.len()])
    }
}
