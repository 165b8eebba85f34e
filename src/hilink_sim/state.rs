//! What the router holds: sessions and their tokens, the SMS boxes, the send in progress,
//! the "network" (SMS waiting for storage), timed events, faults and counters for tests.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::Serialize;
use tokio::sync::mpsc;

use super::Options;
use crate::sms::time::Timestamp;

/// Unauthenticated sessions kept at most (every GET / without a cookie makes one).
const MAX_IDLE_SESSIONS: usize = 256;
/// Tokens a session holds at most; the oldest go first.
const MAX_TOKENS: usize = 16;
/// Rejected request bodies kept for tests.
const MAX_REJECTIONS: usize = 100;

pub(super) struct Session {
    pub logged_in: bool,
    /// A challenge login under way: (firstnonce, servernonce).
    pub challenge: Option<(String, String)>,
    pub last_seen: Instant,
    pub tokens: VecDeque<String>,
}

/// A message in a box, as `sms-list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Sms {
    pub index: i64,
    /// 0 new, 1 read, 3 sent, 4 send failed.
    pub smstat: u8,
    pub phone: String,
    pub content: String,
    pub date: String,
    pub sca: String,
    pub save_type: u8,
    pub priority: u8,
    /// Text, so tests can list garbled types.
    pub sms_type: String,
}

/// A message from the network (or the router itself) on its way to the inbox.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub from: String,
    /// What the inbox shows first (the first part of a long message).
    pub content: String,
    pub sms_type: String,
    pub date: Option<String>,
    /// Content a long message grows by, one step per delay.
    pub later_parts: Vec<String>,
}

impl Incoming {
    pub fn sms(from: &str, text: &str) -> Incoming {
        Incoming { from: from.into(), content: text.into(), sms_type: "1".into(), date: None, later_parts: Vec::new() }
    }
}

/// One `send-sms` as it arrived.
#[derive(Debug, Clone, Serialize)]
pub struct SentRecord {
    pub phones: Vec<String>,
    /// As the router decoded it: 4-byte UTF-8 characters became U+FFFD.
    pub content: String,
    pub length: String,
    pub reserved: String,
    pub sca: String,
    pub date: String,
    /// The request body as it came, hex.
    pub body_hex: String,
    pub surrogate_pairs: usize,
    pub four_byte_utf8: usize,
    /// "sending", "ok" or "failed".
    pub result: String,
}

/// A 100005 answer and what caused it.
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub path: String,
    pub why: String,
    pub body: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counters {
    pub requests: u64,
    /// Requests to the web API by path (`/api/sms/sms-count`, `/`), for benchmarks.
    pub by_path: std::collections::BTreeMap<String, u64>,
    pub logins: u64,
    pub logouts: u64,
    pub login_failures: u64,
    pub tokens_issued: u64,
    pub tokens_consumed: u64,
    pub token_rejections: u64,
    pub session_rejections: u64,
    pub reboots: u64,
}

pub(super) struct Send {
    pub phones: Vec<String>,
    pub fail: bool,
    pub started_at: Instant,
    pub done_at: Instant,
    pub record: usize,
}

pub(super) enum Event {
    /// A long message's next part arrived: content grows, date and index stay.
    Grow { index: i64, part: String },
}

pub(super) struct Inner {
    pub sessions: HashMap<String, Session>,
    pub next_index: i64,
    pub inbox: Vec<Sms>,
    pub sent: Vec<Sms>,
    pub deleted: Vec<i64>,
    /// SMS the network holds back while storage is full (an SMSC retrying).
    pub network: VecDeque<Incoming>,
    pub sending: Option<Send>,
    /// The settled send `send-status` reports: (phones, failed).
    pub last_send: Option<(Vec<String>, bool)>,
    pub schedule: Vec<(Instant, Event)>,
    pub sent_records: Vec<SentRecord>,
    pub error_fault: Option<(i64, u32)>,
    pub send_fail: u32,
    pub slow: Duration,
    pub no_sim: bool,
    pub no_signal: bool,
    pub failed_logins: u32,
    pub locked_until: Option<Instant>,
    pub counters: Counters,
    pub rejections: Vec<Rejection>,
}

pub(super) struct State {
    pub opts: Options,
    pub inner: Mutex<Inner>,
    pub reboot: mpsc::UnboundedSender<Duration>,
    pub api_addr: Mutex<Option<std::net::SocketAddr>>,
    pub control_addr: Mutex<Option<std::net::SocketAddr>>,
}

pub(super) fn random_text(len: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// Digits only, so `+15550001111` and `15550001111` are the same number.
fn digits(n: &str) -> String {
    n.chars().filter(char::is_ascii_digit).collect()
}

impl State {
    pub fn new(opts: Options, reboot: mpsc::UnboundedSender<Duration>) -> State {
        let inner = Inner {
            sessions: HashMap::new(),
            // Real routers number local messages from 40000.
            next_index: 40000,
            inbox: Vec::new(),
            sent: Vec::new(),
            deleted: Vec::new(),
            network: VecDeque::new(),
            sending: None,
            last_send: None,
            schedule: Vec::new(),
            sent_records: Vec::new(),
            error_fault: None,
            send_fail: 0,
            slow: Duration::ZERO,
            no_sim: false,
            no_signal: false,
            failed_logins: 0,
            locked_until: None,
            counters: Counters::default(),
            rejections: Vec::new(),
        };
        State { opts, inner: Mutex::new(inner), reboot, api_addr: Mutex::new(None), control_addr: Mutex::new(None) }
    }

    pub fn say(&self, line: impl std::fmt::Display) {
        if !self.opts.quiet {
            println!("{line}");
        }
    }

    /// The router's clock: UTC moved by the configured offset, no zone.
    pub fn now_text(&self) -> String {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        let t = Timestamp::from_unix(secs + self.opts.utc_offset_minutes as i64 * 60);
        format!("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute, t.second)
    }

    pub fn is_own_number(&self, n: &str) -> bool {
        let (a, b) = (digits(n), digits(&self.opts.number));
        !a.is_empty() && (a == b || (a.len() >= 7 && b.ends_with(&a)) || (b.len() >= 7 && a.ends_with(&b)))
    }
}

impl Inner {
    /// Local storage holds both boxes; LocalMax counts them together.
    pub fn storage_full(&self, opts: &Options) -> bool {
        self.inbox.len() + self.sent.len() >= opts.local_max
    }

    pub fn new_session(&mut self, logged_in: bool) -> String {
        if self.sessions.len() >= MAX_IDLE_SESSIONS {
            let oldest = self.sessions.iter().filter(|(_, s)| !s.logged_in).min_by_key(|(_, s)| s.last_seen);
            if let Some(id) = oldest.map(|(id, _)| id.clone()) {
                self.sessions.remove(&id);
            }
        }
        let id = random_text(64);
        self.sessions.insert(
            id.clone(),
            Session { logged_in, challenge: None, last_seen: Instant::now(), tokens: VecDeque::new() },
        );
        id
    }

    /// A fresh token for the session.
    pub fn issue_token(&mut self, session: &str) -> String {
        let token = random_text(32);
        if let Some(s) = self.sessions.get_mut(session) {
            if s.tokens.len() >= MAX_TOKENS {
                s.tokens.pop_front();
            }
            s.tokens.push_back(token.clone());
            self.counters.tokens_issued += 1;
        }
        token
    }

    pub fn logged_in_sessions(&self) -> usize {
        self.sessions.values().filter(|s| s.logged_in).count()
    }

    pub fn reject(&mut self, path: &str, why: &str, body: &[u8]) {
        if self.rejections.len() >= MAX_REJECTIONS {
            self.rejections.remove(0);
        }
        let body = String::from_utf8_lossy(body).into_owned();
        self.rejections.push(Rejection { path: path.into(), why: why.into(), body });
    }
}

/// Delivers (or holds back) one incoming message; its index if stored.
pub(super) fn deliver(state: &State, inner: &mut Inner, m: Incoming) -> Option<i64> {
    if inner.storage_full(&state.opts) {
        state.say(format!("hilink-sim: storage full, SMS from {} held by the network", m.from));
        inner.network.push_back(m);
        return None;
    }
    let index = inner.next_index;
    inner.next_index += 1;
    let mut at = Instant::now();
    for part in &m.later_parts {
        at += state.opts.long_part_delay;
        inner.schedule.push((at, Event::Grow { index, part: part.clone() }));
    }
    state.say(format!("hilink-sim: SMS {index} from {} (type {}): {}", m.from, m.sms_type, m.content));
    inner.inbox.push(Sms {
        index,
        smstat: 0,
        phone: m.from,
        content: m.content,
        date: m.date.unwrap_or_else(|| state.now_text()),
        sca: state.opts.smsc.clone(),
        save_type: 0,
        priority: 0,
        sms_type: m.sms_type,
    });
    Some(index)
}

/// Everything time or freed space has made due: sessions idle too long end, long
/// messages grow, a send settles, held-back SMS arrive.
pub(super) fn tick(state: &State, inner: &mut Inner) {
    let now = Instant::now();
    let idle = state.opts.session_idle;
    inner.sessions.retain(|_, s| now.duration_since(s.last_seen) < idle);
    if inner.locked_until.is_some_and(|t| t <= now) {
        inner.locked_until = None;
        inner.failed_logins = 0;
    }
    let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut inner.schedule).into_iter().partition(|(t, _)| *t <= now);
    inner.schedule = later;
    for (_, event) in due {
        match event {
            Event::Grow { index, part } => {
                if let Some(m) = inner.inbox.iter_mut().find(|m| m.index == index) {
                    m.content.push_str(&part);
                }
            }
        }
    }
    if inner.sending.as_ref().is_some_and(|s| s.done_at <= now) {
        let send = inner.sending.take().expect("checked above");
        settle_send(state, inner, send);
    }
    while !inner.network.is_empty() && !inner.storage_full(&state.opts) {
        let m = inner.network.pop_front().expect("not empty");
        deliver(state, inner, m);
    }
}

fn settle_send(state: &State, inner: &mut Inner, send: Send) {
    let record = inner.sent_records[send.record].clone();
    let result = if send.fail { "failed" } else { "ok" };
    inner.sent_records[send.record].result = result.into();
    state.say(format!("hilink-sim: send to {} {result}: {}", send.phones.join(";"), record.content));
    let index = inner.next_index;
    inner.next_index += 1;
    inner.sent.push(Sms {
        index,
        smstat: if send.fail { 4 } else { 3 },
        phone: send.phones.join(";"),
        content: record.content.clone(),
        date: state.now_text(),
        sca: String::new(),
        save_type: 3,
        priority: 4,
        sms_type: "1".into(),
    });
    if !send.fail {
        for phone in &send.phones {
            if state.is_own_number(phone) {
                deliver(state, inner, Incoming::sms(&state.opts.number, &record.content));
            }
            if state.opts.delivery_reports {
                // The network reports each part of a long message on its own.
                let opts = crate::sms::split::SplitOptions { max_parts: 255, ..Default::default() };
                let parts =
                    crate::sms::split::split_buffer(&record.content, &opts).map_or(1, |(_, _, ends)| ends.len());
                for _ in 0..parts.max(1) {
                    deliver(state, inner, report(phone, true));
                }
            }
        }
    }
    inner.last_send = Some((send.phones, send.fail));
}

/// A delivery report as the inbox lists it. The wording is this simulator's: what real
/// firmwares put in `Content` varies and is unverified.
pub(super) fn report(to: &str, delivered: bool) -> Incoming {
    let (sms_type, text) = if delivered { ("7", "delivered") } else { ("8", "not delivered") };
    Incoming {
        from: to.into(),
        content: format!("Message to {to} {text}"),
        sms_type: sms_type.into(),
        date: None,
        later_parts: Vec::new(),
    }
}
