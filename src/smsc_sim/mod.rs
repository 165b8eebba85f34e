//! `sms-bridge smsc-sim`: a virtual SMSC (SMPP 3.4 server) for trying and testing the
//! bridge without an operator.
//!
//! It accepts binds, answers submit_sm/data_sm with message ids, sends delivery receipts
//! when asked, prints what it receives one line per message (long ones joined), and plays
//! the phones: SMS typed on stdin or posted to its HTTP API go to the bound receivers as
//! deliver_sm. Faults (throttling, a full queue, rejections, dropped connections, silence)
//! can be switched on to see how a client copes.

mod display;
mod http;
mod session;

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot, watch};

pub use display::{Added, Message, Messages, Shown};

use crate::smpp::receipt::MessageState;
use crate::smpp::{Address, Sm, Tlv, status, tlv};
use crate::sms::split::{self, Payload, SplitOptions, TextEncoding};

#[derive(Debug, Clone)]
pub struct Options {
    /// Where the SMPP server listens.
    pub listen: SocketAddr,
    /// Required credentials; None accepts any.
    pub system_id: Option<String>,
    pub password: Option<String>,
    /// Where the HTTP API listens (loopback only); None for no HTTP API.
    pub http: Option<SocketAddr>,
    /// How long after a submit its delivery receipt is sent.
    pub dlr_delay: Duration,
    /// The receipt's `stat:` (DELIVRD, UNDELIV, EXPIRED, REJECTD, …).
    pub dlr_stat: String,
    /// The bridge's number: where injected SMS go unless they name another.
    pub number: String,
    /// Faults active from the start.
    pub faults: Vec<Fault>,
    /// No per-message lines on stdout.
    pub quiet: bool,
    /// How long to wait for a deliver_sm_resp before sending the deliver_sm again.
    pub redeliver_after: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 2775)),
            system_id: None,
            password: None,
            http: None,
            dlr_delay: Duration::from_millis(1000),
            dlr_stat: "DELIVRD".into(),
            number: "+15550001111".into(),
            faults: Vec::new(),
            quiet: false,
            redeliver_after: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The next submits are answered ESME_RTHROTTLED.
    Throttle,
    /// … ESME_RMSGQFUL.
    QueueFull,
    /// … ESME_RSUBMITFAIL.
    Reject,
    /// The connection is dropped on the next submits, unanswered.
    Drop,
    /// No responses at all (enquire_link_resp included) and no deliver_sm for `count` seconds.
    Silence,
}

impl FaultKind {
    fn name(self) -> &'static str {
        match self {
            FaultKind::Throttle => "throttle",
            FaultKind::QueueFull => "queue_full",
            FaultKind::Reject => "reject",
            FaultKind::Drop => "drop",
            FaultKind::Silence => "silence",
        }
    }
}

/// A fault and how many submits it hits (seconds for `silence`); 0 switches it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Fault {
    pub kind: FaultKind,
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

impl FromStr for Fault {
    type Err = String;

    /// `throttle`, `queue_full:3`, `silence:10`, …
    fn from_str(s: &str) -> Result<Fault, String> {
        let (kind, count) = s.split_once(':').unwrap_or((s, "1"));
        let kind = match kind.trim().replace('-', "_").as_str() {
            "throttle" => FaultKind::Throttle,
            "queue_full" => FaultKind::QueueFull,
            "reject" => FaultKind::Reject,
            "drop" => FaultKind::Drop,
            "silence" => FaultKind::Silence,
            other => {
                return Err(format!("unknown fault {other:?}: use throttle, queue_full, reject, drop or silence"));
            }
        };
        let count = count.trim().parse().map_err(|_| format!("fault count {count:?} is not a number"))?;
        Ok(Fault { kind, count })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.kind {
            FaultKind::Silence => write!(f, "silence for {} s", self.count),
            k => write!(f, "{} on the next {} submit(s)", k.name(), self.count),
        }
    }
}

#[derive(Debug, Default)]
struct Faults {
    throttle: u32,
    queue_full: u32,
    reject: u32,
    drop: u32,
    silent_until: Option<Instant>,
}

impl Faults {
    fn set(&mut self, f: Fault) {
        let slot = match f.kind {
            FaultKind::Throttle => &mut self.throttle,
            FaultKind::QueueFull => &mut self.queue_full,
            FaultKind::Reject => &mut self.reject,
            FaultKind::Drop => &mut self.drop,
            FaultKind::Silence => {
                self.silent_until = (f.count > 0).then(|| Instant::now() + Duration::from_secs(f.count.into()));
                return;
            }
        };
        *slot = f.count;
    }

    /// The fault that hits this submit, if any (counting it down).
    fn next_submit(&mut self) -> Option<FaultKind> {
        [
            (FaultKind::Drop, &mut self.drop),
            (FaultKind::Throttle, &mut self.throttle),
            (FaultKind::QueueFull, &mut self.queue_full),
            (FaultKind::Reject, &mut self.reject),
        ]
        .into_iter()
        .find(|(_, n)| **n > 0)
        .map(|(kind, n)| {
            *n -= 1;
            kind
        })
    }

    fn silent(&self) -> bool {
        self.silent_until.is_some_and(|t| Instant::now() < t)
    }
}

/// The command_status a fault answers a submit with.
fn fault_status(kind: FaultKind) -> u32 {
    match kind {
        FaultKind::Throttle => status::ESME_RTHROTTLED,
        FaultKind::QueueFull => status::ESME_RMSGQFUL,
        _ => status::ESME_RSUBMITFAIL,
    }
}

/// A deliver_sm waiting for a receiver, or sent and waiting for its deliver_sm_resp.
struct Delivery {
    sm: Sm,
    /// What to print when it goes out.
    line: String,
    /// Told the sequence number once the client acknowledged it, or why not.
    ack: Option<oneshot::Sender<Result<u32, String>>>,
    attempts: u32,
}

impl Delivery {
    fn finish(mut self, result: Result<u32, String>) {
        if let Some(ack) = self.ack.take() {
            let _ = ack.send(result);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InjectError {
    /// No client is bound as receiver or transceiver.
    NoReceiver,
    Invalid(String),
    /// The client refused a part, or never acknowledged it.
    Failed(String),
    Timeout,
}

impl fmt::Display for InjectError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            InjectError::NoReceiver => f.write_str("no client is bound as receiver or transceiver"),
            InjectError::Invalid(e) => write!(f, "{e}"),
            InjectError::Failed(e) => write!(f, "{e}"),
            InjectError::Timeout => f.write_str("not acknowledged within 30 s"),
        }
    }
}

/// What the server, the sessions and the HTTP API share.
struct State {
    opts: Options,
    next_id: AtomicU64,
    next_ref: AtomicU32,
    faults: Mutex<Faults>,
    /// deliver_sm waiting for a bound receiver (store and forward, as SMSCs do).
    outbox: Mutex<VecDeque<Delivery>>,
    wake: Notify,
    receivers: AtomicUsize,
    messages: Mutex<Messages>,
}

impl State {
    fn say(&self, line: impl fmt::Display) {
        if !self.opts.quiet {
            println!("{line}");
        }
    }

    fn silent(&self) -> bool {
        self.faults.lock().unwrap().silent()
    }

    fn set_fault(&self, f: Fault) {
        self.faults.lock().unwrap().set(f);
        self.say(format!("⚠ fault: {f}"));
    }

    fn queue(&self, d: Delivery) {
        self.outbox.lock().unwrap().push_back(d);
        self.wake.notify_waiters();
    }

    /// Records an accepted submit, prints it, and schedules its receipt if asked for.
    /// Returns the message id.
    fn accept(self: &Arc<Self>, shown: &Shown, line: &str, registered_delivery: u8) -> String {
        let id = format!("{:x}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let state = MessageState::from_stat(&self.opts.dlr_stat).unwrap_or(MessageState::Delivered);
        let wanted = match registered_delivery & 0x03 {
            1 => true,
            2 => !state.is_success(),
            _ => false,
        };
        let dlr = if wanted { format!(", receipt in {} ms", self.opts.dlr_delay.as_millis()) } else { String::new() };
        self.say(format!("→ {line} (id {id}{dlr})"));
        match self.messages.lock().unwrap().add(shown, &id) {
            Added::Part { whole: Some(text) } => {
                self.say(format!("  ⇒ whole message {} → {}: {text:?}", shown.from, shown.to));
            }
            Added::Duplicate => self.say("  (a part already received: a resend?)"),
            _ => {}
        }
        if wanted {
            let this = Arc::clone(self);
            let (id, shown) = (id.clone(), shown.clone());
            let submitted = unix_now();
            tokio::spawn(async move {
                tokio::time::sleep(this.opts.dlr_delay).await;
                this.queue(this.receipt(&id, &shown, state, submitted));
            });
        }
        id
    }

    fn receipt(&self, id: &str, of: &Shown, state: MessageState, submitted: u64) -> Delivery {
        let stat = self.opts.dlr_stat.to_ascii_uppercase();
        let text = display::receipt_text(id, submitted, unix_now(), &stat, state.is_success(), &of.text);
        let sm = Sm {
            source: address(&of.to),
            dest: address(&of.from),
            esm_class: 0x04,
            short_message: text.into_bytes(),
            tlvs: vec![Tlv::cstr(tlv::RECEIPTED_MESSAGE_ID, id), Tlv::u8(tlv::MESSAGE_STATE, state_value(state))],
            ..Sm::default()
        };
        let line = format!("receipt id:{id} stat:{stat} {} → {}", of.to, of.from);
        Delivery { sm, line, ack: None, attempts: 0 }
    }

    /// Sends an SMS "from a phone" to the bound receivers; resolves once the client
    /// acknowledged every part, with their sequence numbers.
    async fn inject(&self, from: &str, to: Option<&str>, text: &str) -> Result<Vec<u32>, InjectError> {
        let to = to.filter(|t| !t.trim().is_empty()).unwrap_or(&self.opts.number);
        let reference = self.next_ref.fetch_add(1, Ordering::Relaxed) as u8;
        let parts = mo_parts(from.trim(), to.trim(), text, reference).map_err(InjectError::Invalid)?;
        if self.receivers.load(Ordering::SeqCst) == 0 {
            return Err(InjectError::NoReceiver);
        }
        let mut acks = Vec::new();
        for (sm, line) in parts {
            let (tx, rx) = oneshot::channel();
            self.queue(Delivery { sm, line, ack: Some(tx), attempts: 0 });
            acks.push(rx);
        }
        let all = async {
            let mut seqs = Vec::new();
            for rx in acks {
                let result = rx.await.unwrap_or_else(|_| Err("the simulator stopped".into()));
                seqs.push(result.map_err(InjectError::Failed)?);
            }
            Ok(seqs)
        };
        tokio::time::timeout(Duration::from_secs(30), all).await.unwrap_or(Err(InjectError::Timeout))
    }
}

/// The message_state TLV value (SMPP 3.4 §5.2.28).
fn state_value(s: MessageState) -> u8 {
    match s {
        MessageState::Enroute => 1,
        MessageState::Delivered => 2,
        MessageState::Expired => 3,
        MessageState::Deleted => 4,
        MessageState::Undeliverable => 5,
        MessageState::Accepted => 6,
        MessageState::Unknown => 7,
        MessageState::Rejected => 8,
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `+digits` international (TON 1), digits unknown (TON 0), anything else alphanumeric.
fn address(s: &str) -> Address {
    match s.strip_prefix('+') {
        Some(d) if !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) => Address { ton: 1, npi: 1, addr: d.into() },
        _ if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Address { ton: 0, npi: 1, addr: s.into() },
        _ => Address { ton: 5, npi: 0, addr: s.into() },
    }
}

/// The deliver_sm bodies for an SMS from a phone: GSM 7-bit unpacked if the text fits the
/// default alphabet, else UCS-2; split with a concatenation UDH when long. Each with the
/// line to print when it goes out.
fn mo_parts(from: &str, to: &str, text: &str, reference: u8) -> Result<Vec<(Sm, String)>, String> {
    for (what, a) in [("from", from), ("to", to)] {
        if a.is_empty() || a.len() > 20 {
            return Err(format!("{what}: give a number of 1 to 20 characters, e.g. +15551234567"));
        }
    }
    let opts = SplitOptions { max_parts: 255, ..SplitOptions::default() };
    let split = split::split(text, &opts).map_err(|e| format!("text: {}", e.what))?;
    let data_coding = match split.encoding {
        TextEncoding::Gsm7(_) => 0x00,
        TextEncoding::Ucs2 => 0x08,
        TextEncoding::EightBit => 0x04,
    };
    let total = split.parts.len();
    let (source, dest) = (address(from), address(to));
    let parts = split.parts.into_iter().enumerate().map(|(i, part)| {
        let (Payload::Septets(body) | Payload::Octets(body)) = part;
        let (esm_class, short_message) = if total > 1 {
            let mut sm = vec![5, 0x00, 3, reference, total as u8, i as u8 + 1];
            sm.extend(body);
            (0x40, sm)
        } else {
            (0, body)
        };
        let sm =
            Sm { source: source.clone(), dest: dest.clone(), esm_class, data_coding, short_message, ..Sm::default() };
        let shown = display::decode(&sm.source, &sm.dest, esm_class, data_coding, &sm.short_message, &[]);
        (sm, display::line("deliver_sm", &shown))
    });
    Ok(parts.collect())
}

/// A running simulator. Dropping it leaves the tasks running; call [`SmscSim::stop`].
pub struct SmscSim {
    state: Arc<State>,
    addr: SocketAddr,
    http: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
}

impl SmscSim {
    /// Binds the SMPP (and HTTP) listeners and starts serving.
    pub async fn start(opts: Options) -> Result<SmscSim, String> {
        if MessageState::from_stat(&opts.dlr_stat).is_none() {
            return Err(format!(
                "--dlr-stat {:?}: use DELIVRD, ENROUTE, EXPIRED, DELETED, UNDELIV, ACCEPTD, UNKNOWN or REJECTD",
                opts.dlr_stat
            ));
        }
        if let Some(h) = opts.http.filter(|h| !h.ip().is_loopback()) {
            return Err(format!("--http {h}: the HTTP API listens on loopback addresses only (127.0.0.1, ::1)"));
        }
        let listener = TcpListener::bind(opts.listen).await.map_err(|e| format!("--listen {}: {e}", opts.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let http_listener = match opts.http {
            Some(h) => Some(TcpListener::bind(h).await.map_err(|e| format!("--http {h}: {e}"))?),
            None => None,
        };
        let http = http_listener.as_ref().and_then(|l| l.local_addr().ok());
        let mut faults = Faults::default();
        for f in &opts.faults {
            faults.set(*f);
        }
        let state = Arc::new(State {
            opts,
            // Ids stay unique across runs, as an SMSC's do: a bridge keeps the old ones.
            next_id: AtomicU64::new(unix_now() << 16),
            next_ref: AtomicU32::new(unix_now() as u32),
            faults: Mutex::new(faults),
            outbox: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            receivers: AtomicUsize::new(0),
            messages: Mutex::new(Messages::default()),
        });
        let (shutdown, stop) = watch::channel(false);
        tokio::spawn(accept_loop(Arc::clone(&state), listener, stop.clone()));
        if let Some(l) = http_listener {
            let mut stop = stop;
            let app = http::router(Arc::clone(&state));
            tokio::spawn(async move {
                if let Err(e) =
                    axum::serve(l, app).with_graceful_shutdown(async move { stopped(&mut stop).await }).await
                {
                    eprintln!("smsc-sim: HTTP API: {e}");
                }
            });
        }
        Ok(SmscSim { state, addr, http, shutdown })
    }

    /// The SMPP address (with the port chosen when listening on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http
    }

    /// Sends an SMS from `from` to `to` (default: the bridge's number); see `POST /inject`.
    pub async fn inject(&self, from: &str, to: Option<&str>, text: &str) -> Result<Vec<u32>, InjectError> {
        self.state.inject(from, to, text).await
    }

    /// The messages accepted so far; see `GET /messages`.
    pub fn messages(&self) -> Vec<Message> {
        self.state.messages.lock().unwrap().list().to_vec()
    }

    pub fn set_fault(&self, f: Fault) {
        self.state.set_fault(f);
    }

    /// Closes the listeners and every connection.
    pub async fn stop(self) {
        self.shutdown.send_replace(true);
        tokio::task::yield_now().await;
    }
}

async fn accept_loop(state: Arc<State>, listener: TcpListener, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(session::serve(Arc::clone(&state), stream, peer, stop.clone()));
                }
                Err(e) => {
                    eprintln!("smsc-sim: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = stopped(&mut stop) => return,
        }
    }
}

/// Resolves once the simulator is stopping.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

const HELP: &str = concat!(
    "  +15551234567 Hello there      an SMS from +15551234567 to the bridge's number\n",
    "  +15551234567>+15550002222 Hi  … to another number\n",
    "  fault throttle 3              the next 3 submits get ESME_RTHROTTLED (also queue_full, reject, drop;\n",
    "                                silence N: no responses for N seconds; N = 0 switches a fault off)",
);

/// The command: serves until `shutdown` resolves, reading SMS to inject from stdin.
pub async fn run(opts: Options, shutdown: impl Future<Output = ()>) -> Result<(), String> {
    let sim = SmscSim::start(opts).await?;
    let creds = match (&sim.state.opts.system_id, &sim.state.opts.password) {
        (None, None) => "any system_id and password".to_string(),
        (id, pw) => format!(
            "system_id {}, password {}",
            id.as_deref().map_or("any".into(), |s| format!("{s:?}")),
            pw.as_deref().map_or("any".into(), |s| format!("{s:?}"))
        ),
    };
    println!("smsc-sim: SMPP 3.4 on {} ({creds}); the bridge's number is {}", sim.addr, sim.state.opts.number);
    if let Some(h) = sim.http {
        println!("smsc-sim: HTTP API on http://{h} (POST /inject, GET /messages, POST /fault)");
    }
    for f in &sim.state.opts.faults {
        println!("smsc-sim: fault: {f}");
    }
    println!("smsc-sim: type an SMS to send it from a phone:\n{HELP}");

    let mut lines = crate::sim_stdin::lines();
    tokio::pin!(shutdown);
    let mut stdin_open = true;
    loop {
        tokio::select! {
            line = lines.recv(), if stdin_open => match line {
                Some(line) => typed(&sim.state, &line),
                None => stdin_open = false,
            },
            _ = &mut shutdown => break,
        }
    }
    sim.stop().await;
    Ok(())
}

/// One line from stdin: an SMS to inject, or a command.
fn typed(state: &Arc<State>, line: &str) {
    let line = line.trim();
    let (head, rest) = line.split_once(char::is_whitespace).map_or((line, ""), |(h, r)| (h, r.trim_start()));
    match head {
        "" => {}
        "help" | "?" => println!("{HELP}"),
        "fault" => match rest.split_whitespace().collect::<Vec<_>>().join(":").parse::<Fault>() {
            Ok(f) => state.set_fault(f),
            Err(e) => println!("✗ {e}"),
        },
        _ if head.starts_with('+') || head.starts_with(|c: char| c.is_ascii_digit()) => {
            let (from, to) = head.split_once('>').map_or((head, None), |(f, t)| (f, Some(t)));
            let (state, from, to, text) =
                (Arc::clone(state), from.to_string(), to.map(str::to_string), rest.to_string());
            tokio::spawn(async move {
                if let Err(e) = state.inject(&from, to.as_deref(), &text).await {
                    println!("✗ not sent: {e}");
                }
            });
        }
        _ => println!("✗ start the line with the sender's number, e.g. +15551234567 Hello (or type help)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_count_down() {
        assert_eq!("throttle".parse::<Fault>(), Ok(Fault { kind: FaultKind::Throttle, count: 1 }));
        assert_eq!("queue-full:3".parse::<Fault>(), Ok(Fault { kind: FaultKind::QueueFull, count: 3 }));
        assert!("bogus".parse::<Fault>().is_err());
        assert!("drop:x".parse::<Fault>().is_err());
        let json: Fault = serde_json::from_str(r#"{"kind":"silence","count":5}"#).unwrap();
        assert_eq!(json, Fault { kind: FaultKind::Silence, count: 5 });
        let json: Fault = serde_json::from_str(r#"{"kind":"reject"}"#).unwrap();
        assert_eq!(json.count, 1);

        let mut f = Faults::default();
        f.set(Fault { kind: FaultKind::Throttle, count: 2 });
        f.set(Fault { kind: FaultKind::Drop, count: 1 });
        let seen: Vec<_> = std::iter::from_fn(|| f.next_submit()).collect();
        assert_eq!(seen, [FaultKind::Drop, FaultKind::Throttle, FaultKind::Throttle]);
        f.set(Fault { kind: FaultKind::Silence, count: 60 });
        assert!(f.silent());
        f.set(Fault { kind: FaultKind::Silence, count: 0 });
        assert!(!f.silent());
    }

    #[test]
    fn injected_text_is_gsm_or_ucs2_and_split() {
        let parts = mo_parts("+15551234567", "+15550001111", "Hello €", 7).unwrap();
        assert_eq!(parts.len(), 1);
        let (sm, line) = &parts[0];
        assert_eq!((sm.data_coding, sm.esm_class), (0, 0));
        assert_eq!(sm.source, Address { ton: 1, npi: 1, addr: "15551234567".into() });
        assert_eq!(sm.short_message, b"Hello \x1b\x65");
        assert_eq!(line, r#"deliver_sm +15551234567 → +15550001111 [gsm7] "Hello €""#);

        let long = "Привет! ".repeat(20);
        let parts = mo_parts("+15551234567", "+15550001111", &long, 7).unwrap();
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|(sm, _)| sm.data_coding == 8 && sm.esm_class == 0x40));
        assert_eq!(parts[1].0.short_message[..6], [5, 0, 3, 7, 3, 2]);
        assert!(parts[2].1.contains("[ucs2, part 3/3 ref 0x0007]"), "{}", parts[2].1);
        assert!(mo_parts("", "+1", "x", 1).is_err());
        assert_eq!(address("Bank").ton, 5);
        assert_eq!(address("5551234").ton, 0);
    }
}
