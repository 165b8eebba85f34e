//! Kannel (bearerbox + smsbox, Debian package `kannel`) as the reference SMPP client for the
//! SMPP benchmark: the same loopback SMSC receives Kannel's `submit_sm`s and ours.
//!
//! Used from a bench binary as `#[path = "support/kannel.rs"] mod kannel;` (it lives in
//! `benches/support/` so that cargo does not take it for a bench of its own). Only `std`.
//!
//! ```ignore
//! Kannel::available()?;                                 // Err(reason) if not installed
//! let k = Kannel::start(dir, smsc_port, "sysid", "pw", 10)?;  // bound and ready
//! let t0 = Instant::now();
//! k.send(10_000, "12345", "+1555#######", "hello", 8)?;      // every request got 202
//! // ... wait until the SMSC counted 10_000 submit_sm, elapsed since t0 ...
//! let rss = k.peak_rss();                                // VmHWM of both processes
//! k.stop();                                              // also on Drop
//! ```
//!
//! The configuration (see `KANNEL.md` beside this file) removes every throttle: no
//! `throughput`, log level 2 (warnings) so nothing is logged per message, no access log,
//! no DLRs requested. The message store (`store-type = file` by default) keeps Kannel's
//! normal accept-then-persist semantics: smsbox answers `202` only after bearerbox has
//! queued and stored the message.
//!
//! Everything listens on 127.0.0.1 on ports picked free just before start; a start that
//! fails because a port was taken in between is retried with new ports.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;
const ADMIN_PASSWORD: &str = "bench-admin";
const STATUS_PASSWORD: &str = "bench-status";
/// The `sendsms-user` that [`Kannel::send`] authenticates as.
pub const SENDSMS_USER: &str = "bench";
pub const SENDSMS_PASSWORD: &str = "bench-pw";
/// `smsc-id` / `smsc-admin-id` of the one SMPP link.
pub const SMSC_ID: &str = "bench";
const CONF_FILE: &str = "kannel.conf";
const STORE_FILE: &str = "kannel.store";
const STORE_SPOOL: &str = "kannel.spool";
/// How long one sendsms request may take before [`Kannel::send`] gives up.
const HTTP_TIMEOUT: Duration = Duration::from_secs(120);

/// Where bearerbox keeps messages between accepting them and the SMSC's `submit_sm_resp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// No `store-type`: messages live only in memory (lost on a crash).
    None,
    /// `store-type = file`: one append-only file, `fflush`ed (never fsynced) per message and
    /// per ack, compacted every `store-dump-freq` (10 s). The usual way to keep messages
    /// across a bearerbox restart.
    File,
    /// `store-type = spool`: one file per message in a directory, deleted on ack.
    Spool,
}

impl Store {
    pub fn name(self) -> &'static str {
        match self {
            Store::None => "none",
            Store::File => "file",
            Store::Spool => "spool",
        }
    }
}

/// Everything [`Kannel::start_with`] puts in the configuration. [`Options::new`] gives the
/// benchmark's defaults.
#[derive(Clone, Debug)]
pub struct Options {
    /// `smsc-username` (SMPP system_id).
    pub system_id: String,
    /// `smsc-password`.
    pub password: String,
    /// `system-type`; Kannel requires the key, empty is allowed.
    pub system_type: String,
    /// `max-pending-submits`: the SMPP window.
    pub window: u32,
    /// `throughput` (messages/s, Kannel's active throttling); `None` leaves it unset (no limit).
    pub throughput: Option<f64>,
    pub store: Store,
    /// `log-level` of every log file (0 debug, 1 info, 2 warning, 3 error, 4 panic). At 1
    /// smsbox logs 3 lines per sendsms request; at 0 bearerbox also dumps every PDU (about
    /// 3 KB of log per message). At 2 nothing is logged per message.
    pub log_level: u8,
    /// `enquire-link-interval` in seconds.
    pub enquire_link_interval: u32,
    /// smsbox `immediate-sendsms-reply`: answer 202 before bearerbox has the message. Off by
    /// default (Kannel's default): 202 then means queued and stored by bearerbox.
    pub immediate_sendsms_reply: bool,
    /// Write an access log (`access-log` in core and smsbox): one line per message per box.
    pub access_log: bool,
    /// How long [`Kannel::start_with`] waits for the bind and for sendsms.
    pub start_timeout: Duration,
}

impl Options {
    pub fn new(system_id: &str, password: &str, window: u32) -> Options {
        Options {
            system_id: system_id.to_owned(),
            password: password.to_owned(),
            system_type: String::new(),
            window,
            throughput: None,
            store: Store::File,
            log_level: 2,
            enquire_link_interval: 30,
            immediate_sendsms_reply: false,
            access_log: false,
            start_timeout: Duration::from_secs(30),
        }
    }
}

/// A memory figure of each box, in bytes (0 for a process that is gone): see
/// [`Kannel::peak_rss`], [`Kannel::rss`], [`Kannel::rss_anon`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rss {
    pub bearerbox: u64,
    pub smsbox: u64,
}

impl Rss {
    pub fn total(&self) -> u64 {
        self.bearerbox + self.smsbox
    }
}

/// What [`Kannel::send`] got back.
#[derive(Clone, Copy, Debug, Default)]
pub struct SendReport {
    /// `202` with `0: Accepted for delivery` (or `Sent.` with `immediate_sendsms_reply`).
    pub accepted: usize,
    /// `202` with `3: Queued for later delivery` (bearerbox had no SMSC link at that moment;
    /// the message goes out when the link is back, after up to `sms-resend-freq`).
    pub queued: usize,
    /// Requests sent again on a fresh connection because the server had closed the idle
    /// keep-alive one before answering.
    pub reconnects: usize,
    /// From the first request to the last answer.
    pub elapsed: Duration,
}

/// A running bearerbox + smsbox pair, bound (transceiver) to an SMSC on 127.0.0.1.
/// Both processes are stopped by [`Kannel::stop`] or on drop.
pub struct Kannel {
    bearerbox: Option<Child>,
    smsbox: Option<Child>,
    dir: PathBuf,
    admin_port: u16,
    smsbox_port: u16,
    sendsms_port: u16,
    options: Options,
}

impl Kannel {
    /// `Ok` if bearerbox and smsbox are installed (see [`binaries`]); otherwise the reason, for
    /// the caller to print before skipping the Kannel half.
    pub fn available() -> Result<(), String> {
        binaries().map(|_| ())
    }

    /// First line of `bearerbox --version`, e.g. ``Kannel bearerbox version `1.4.5'.``
    pub fn version() -> Result<String, String> {
        let (bearerbox, _) = binaries()?;
        let out = Command::new(&bearerbox)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", bearerbox.display()))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        text.lines().find(|l| l.contains("version")).map(str::to_owned).ok_or_else(|| format!("no version in {text:?}"))
    }

    /// Writes `dir/kannel.conf` and starts bearerbox + smsbox bound as a transceiver to the
    /// SMSC at 127.0.0.1:`smsc_port` with these credentials and `max-pending-submits =
    /// window`; everything else as [`Options::new`]. Returns once the status page shows the
    /// link online and smsbox connected, and sendsms answers.
    pub fn start(dir: &Path, smsc_port: u16, system_id: &str, password: &str, window: u32) -> Result<Kannel, String> {
        Kannel::start_with(dir, smsc_port, &Options::new(system_id, password, window))
    }

    /// [`Kannel::start`] with every option. `dir` is created if needed; Kannel's logs
    /// (`bearerbox.log`, `smsbox.log`, their stdout/stderr in `*.out`), configuration and
    /// store go there. A store left in `dir` by an earlier run is deleted first (bearerbox
    /// would otherwise send its unacknowledged messages again).
    pub fn start_with(dir: &Path, smsc_port: u16, options: &Options) -> Result<Kannel, String> {
        let (bearerbox, smsbox) = binaries()?;
        fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let dir = dir.canonicalize().map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut last_err = String::new();
        for attempt in 1..=3 {
            remove_store(&dir, options.store)?;
            let [admin_port, smsbox_port, sendsms_port] = free_ports()?;
            let mut k = Kannel {
                bearerbox: None,
                smsbox: None,
                dir: dir.clone(),
                admin_port,
                smsbox_port,
                sendsms_port,
                options: options.clone(),
            };
            fs::write(dir.join(CONF_FILE), k.config(smsc_port))
                .map_err(|e| format!("writing {}: {e}", dir.join(CONF_FILE).display()))?;
            match k.boot(&bearerbox, &smsbox) {
                Ok(()) => return Ok(k),
                Err(Boot::Retry(e)) => {
                    last_err = format!("attempt {attempt}: {e}");
                    k.shutdown();
                }
                Err(Boot::Fatal(e)) => {
                    k.shutdown();
                    return Err(e);
                }
            }
        }
        Err(last_err)
    }

    fn boot(&mut self, bearerbox: &Path, smsbox: &Path) -> Result<(), Boot> {
        let deadline = Instant::now() + self.options.start_timeout;
        self.bearerbox = Some(self.spawn(bearerbox, "bearerbox").map_err(Boot::Fatal)?);
        // The admin HTTP server is up once the configuration is read and the ports are bound.
        loop {
            self.check_alive().map_err(Boot::Retry)?;
            if self.status().is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err(Boot::Fatal(format!("bearerbox admin port never answered{}", self.log_tails())));
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.smsbox = Some(self.spawn(smsbox, "smsbox").map_err(Boot::Fatal)?);
        let mut status = String::new();
        loop {
            self.check_alive().map_err(Boot::Retry)?;
            if let Ok(s) = self.status() {
                status = s;
            }
            if smsc_online(&status) && status.contains("smsbox:") && self.sendsms_answers() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Boot::Fatal(format!(
                    "Kannel not ready after {:?} (SMSC link online: {}, smsbox connected: {}, sendsms \
                     answering: {})\nstatus page:\n{}{}",
                    self.options.start_timeout,
                    smsc_online(&status),
                    status.contains("smsbox:"),
                    self.sendsms_answers(),
                    // Skip the version banner.
                    status.find("Status:").map_or(status.as_str(), |i| &status[i..]),
                    self.log_tails()
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn spawn(&self, binary: &Path, name: &str) -> Result<Child, String> {
        let out_path = self.dir.join(format!("{name}.out"));
        let out = File::create(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;
        let err = out.try_clone().map_err(|e| format!("{}: {e}", out_path.display()))?;
        Command::new(binary)
            // Console verbosity: errors only (the log file has the configured level).
            .args(["-v", "3"])
            // For finding a box left running if this process was killed before its Drop ran.
            .arg("-p")
            .arg(self.dir.join(format!("{name}.pid")))
            .arg(self.dir.join(CONF_FILE))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", binary.display()))
    }

    /// Err if a started box has exited. [`Kannel::start_with`] retries that with new ports (a
    /// port taken since it was picked is the likely cause; a configuration error fails every
    /// attempt alike, and the error carries the logs).
    fn check_alive(&mut self) -> Result<(), String> {
        let mut exited = None;
        for (name, child) in [("bearerbox", &mut self.bearerbox), ("smsbox", &mut self.smsbox)] {
            if let Some(c) = child
                && let Ok(Some(code)) = c.try_wait()
            {
                *child = None;
                exited = Some(format!("{name} exited during start-up ({code})"));
                break;
            }
        }
        match exited {
            Some(e) => Err(format!("{e}{}", self.log_tails())),
            None => Ok(()),
        }
    }

    /// `dir/kannel.conf` for an SMSC at 127.0.0.1:`smsc_port`.
    pub fn config(&self, smsc_port: u16) -> String {
        let o = &self.options;
        let dir = self.dir.display();
        let level = o.log_level;
        let (admin_port, smsbox_port, sendsms_port) = (self.admin_port, self.smsbox_port, self.sendsms_port);
        let (core_access_log, smsbox_access_log) = if o.access_log {
            (
                format!("access-log = \"{dir}/bearerbox-access.log\"\n"),
                format!("access-log = \"{dir}/smsbox-access.log\"\n"),
            )
        } else {
            (String::new(), String::new())
        };
        let store = match o.store {
            Store::None => String::new(),
            Store::File => format!("store-type = file\nstore-location = \"{dir}/{STORE_FILE}\"\n"),
            Store::Spool => format!("store-type = spool\nstore-location = \"{dir}/{STORE_SPOOL}\"\n"),
        };
        let throughput = o.throughput.map(|t| format!("throughput = {t}\n")).unwrap_or_default();
        let (system_id, password, system_type) =
            (conf_escape(&o.system_id), conf_escape(&o.password), conf_escape(&o.system_type));
        let (window, enquire_link, immediate) = (o.window, o.enquire_link_interval, o.immediate_sendsms_reply);
        format!(
            r#"# Written by benches/support/kannel.rs; see benches/support/KANNEL.md.
group = core
admin-port = {admin_port}
admin-interface = "127.0.0.1"
admin-password = "{ADMIN_PASSWORD}"
status-password = "{STATUS_PASSWORD}"
admin-deny-ip = "*.*.*.*"
admin-allow-ip = "127.0.0.1"
smsbox-port = {smsbox_port}
smsbox-interface = "127.0.0.1"
box-deny-ip = "*.*.*.*"
box-allow-ip = "127.0.0.1"
log-file = "{dir}/bearerbox.log"
log-level = {level}
{core_access_log}{store}dlr-storage = internal

group = smsbox
bearerbox-host = "127.0.0.1"
bearerbox-port = {smsbox_port}
sendsms-port = {sendsms_port}
sendsms-interface = "127.0.0.1"
# No space: in `to` it would separate several recipients.
sendsms-chars = "0123456789+"
immediate-sendsms-reply = {immediate}
log-file = "{dir}/smsbox.log"
log-level = {level}
{smsbox_access_log}
group = sendsms-user
username = "{SENDSMS_USER}"
password = "{SENDSMS_PASSWORD}"
user-allow-ip = "127.0.0.1"
max-messages = 1

group = smsc
smsc = smpp
smsc-id = "{SMSC_ID}"
smsc-admin-id = "{SMSC_ID}"
host = "127.0.0.1"
port = {smsc_port}
transceiver-mode = 1
smsc-username = "{system_id}"
smsc-password = "{password}"
system-type = "{system_type}"
address-range = ""
max-pending-submits = {window}
{throughput}enquire-link-interval = {enquire_link}
reconnect-delay = 1
log-level = {level}
"#
        )
    }

    /// Queues `n` messages through smsbox's HTTP sendsms from `from` with text `text`, from
    /// `concurrency` threads each on its own keep-alive connection. Every `#` in `to` is
    /// replaced by a digit of the message's index (0-based, zero-padded: `"+1555#######"`
    /// gives `+15550000000`, `+15550000001`, ...); a `to` without `#` is used for every
    /// message. Returns once every request is answered with `202`; the first other answer
    /// stops all threads and is returned as the error. The caller times delivery at the SMSC.
    pub fn send(&self, n: usize, from: &str, to: &str, text: &str, concurrency: usize) -> Result<SendReport, String> {
        let width = to.matches('#').count();
        if width > 0 && width < 20 && n > 10usize.pow(width as u32) {
            return Err(format!("{n} messages need more than {width} '#' digits in {to:?}"));
        }
        let addr = SocketAddr::from((LOCALHOST, self.sendsms_port));
        send_sendsms(addr, SENDSMS_USER, SENDSMS_PASSWORD, n, from, to, text, concurrency)
    }

    /// Peak RSS (`VmHWM`) of bearerbox and smsbox since they started.
    pub fn peak_rss(&self) -> Rss {
        Rss { bearerbox: proc_kib(self.bearerbox.as_ref(), "VmHWM:"), smsbox: proc_kib(self.smsbox.as_ref(), "VmHWM:") }
    }

    /// Current RSS (`VmRSS`) of bearerbox and smsbox.
    pub fn rss(&self) -> Rss {
        Rss { bearerbox: proc_kib(self.bearerbox.as_ref(), "VmRSS:"), smsbox: proc_kib(self.smsbox.as_ref(), "VmRSS:") }
    }

    /// Current anonymous RSS (`RssAnon`: heap, stacks; no peak figure exists for it) of
    /// bearerbox and smsbox. Most of Kannel's RSS is file-backed pages of the many libraries
    /// it links (`RssFile`), so this is the figure to compare with our own `RssAnon`.
    pub fn rss_anon(&self) -> Rss {
        Rss {
            bearerbox: proc_kib(self.bearerbox.as_ref(), "RssAnon:"),
            smsbox: proc_kib(self.smsbox.as_ref(), "RssAnon:"),
        }
    }

    /// Process ids (bearerbox, smsbox), for a caller that samples `/proc` itself.
    pub fn pids(&self) -> (Option<u32>, Option<u32>) {
        (self.bearerbox.as_ref().map(Child::id), self.smsbox.as_ref().map(Child::id))
    }

    /// bearerbox's `status.txt` admin page.
    pub fn status(&self) -> Result<String, String> {
        let (code, body) = http_get_once(self.admin_port, &format!("/status.txt?password={STATUS_PASSWORD}"))?;
        if code == 200 { Ok(body) } else { Err(format!("status page: HTTP {code} {body:?}")) }
    }

    /// Messages bearerbox has handed to the SMSC link and had acknowledged (`SMS: ...
    /// sent N` on the status page).
    pub fn sent(&self) -> Result<u64, String> {
        let s = self.status()?;
        parse_sent(&s).ok_or_else(|| format!("no 'SMS: ... sent N' line in status page:\n{s}"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    pub fn sendsms_port(&self) -> u16 {
        self.sendsms_port
    }

    /// The last lines of both boxes' logs and console output, for error messages.
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        for f in ["bearerbox.out", "bearerbox.log", "smsbox.out", "smsbox.log"] {
            if let Ok(text) = fs::read_to_string(self.dir.join(f)) {
                let lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let _ =
                        write!(out, "\n--- {} (last lines)\n{}", f, lines[lines.len().saturating_sub(15)..].join("\n"));
                }
            }
        }
        out
    }

    /// Stops smsbox, then bearerbox: SIGTERM, then SIGKILL after 5 s.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        for child in [self.smsbox.take(), self.bearerbox.take()].into_iter().flatten() {
            terminate(child, Duration::from_secs(5));
        }
    }

    fn sendsms_answers(&self) -> bool {
        // Without credentials smsbox answers 4xx ("Authorization failed") and sends nothing.
        http_get_once(self.sendsms_port, "/cgi-bin/sendsms").is_ok()
    }
}

impl Drop for Kannel {
    fn drop(&mut self) {
        self.shutdown();
    }
}

enum Boot {
    /// A box died during start-up (e.g. a port taken since it was picked): try other ports.
    Retry(String),
    Fatal(String),
}

/// The bearerbox and smsbox executables: `$KANNEL_BIN_DIR`, else `PATH`, else `/usr/sbin`
/// (where Debian installs them; not on a normal user's `PATH`).
pub fn binaries() -> Result<(PathBuf, PathBuf), String> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::env::var_os("KANNEL_BIN_DIR") {
        dirs.push(PathBuf::from(d));
    } else {
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        dirs.extend(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    }
    let find = |name: &str| dirs.iter().map(|d| d.join(name)).find(|p| p.is_file());
    match (find("bearerbox"), find("smsbox")) {
        (Some(b), Some(s)) => Ok((b, s)),
        _ => Err(format!(
            "Kannel not found (bearerbox and smsbox in {}): install the Debian package `kannel` \
             (apt-get install kannel) or set KANNEL_BIN_DIR",
            if std::env::var_os("KANNEL_BIN_DIR").is_some() { "$KANNEL_BIN_DIR" } else { "PATH or /usr/sbin" }
        )),
    }
}

/// Three distinct free ports on 127.0.0.1 (held together while picking, so distinct).
fn free_ports() -> Result<[u16; 3], String> {
    let listeners = (0..3)
        .map(|_| TcpListener::bind((LOCALHOST, 0)).and_then(|l| l.local_addr().map(|a| (l, a.port()))))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("picking free ports: {e}"))?;
    Ok([listeners[0].1, listeners[1].1, listeners[2].1])
}

fn remove_store(dir: &Path, store: Store) -> Result<(), String> {
    for name in [STORE_FILE.to_owned(), format!("{STORE_FILE}.new"), format!("{STORE_FILE}.bak")] {
        match fs::remove_file(dir.join(&name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("removing {}: {e}", dir.join(name).display())),
        }
    }
    let spool = dir.join(STORE_SPOOL);
    if spool.exists() {
        fs::remove_dir_all(&spool).map_err(|e| format!("removing {}: {e}", spool.display()))?;
    }
    if store == Store::Spool {
        // The spool store wants its directory to exist.
        fs::create_dir_all(&spool).map_err(|e| format!("creating {}: {e}", spool.display()))?;
    }
    Ok(())
}

fn conf_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// True once the status page lists the SMPP link as online (`... (online 3s, rcvd: ...`).
fn smsc_online(status: &str) -> bool {
    status.lines().skip_while(|l| !l.starts_with("SMSC connections:")).any(|l| l.contains("(online"))
}

/// `SMS: received 0 (0 queued), sent 10000 (0 queued), store size 0` → 10000.
fn parse_sent(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("SMS: received"))?;
    let rest = &line[line.find("sent ")? + 5..];
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// `pattern` with its `#`s replaced by the last digits of `i`.
pub fn recipient(pattern: &str, i: usize) -> String {
    let width = pattern.matches('#').count();
    if width == 0 {
        return pattern.to_owned();
    }
    let digits = format!("{i:0width$}");
    let mut digits = digits[digits.len() - width..].chars();
    pattern.chars().map(|c| if c == '#' { digits.next().unwrap_or('0') } else { c }).collect()
}

/// Kannel's `sendsms` load against any server that speaks it (smsbox, or our gateway):
/// `n` keep-alive `GET /cgi-bin/sendsms?username=…&password=…&from=…&text=…&to=…` from
/// `concurrency` threads. Each `#` in `to` is a digit of the message index (the last
/// digits: `+1202555##` cycles through 100 recipients); `+` is sent as `%2B`.
#[allow(clippy::too_many_arguments)]
pub fn send_sendsms(
    addr: SocketAddr,
    user: &str,
    password: &str,
    n: usize,
    from: &str,
    to: &str,
    text: &str,
    concurrency: usize,
) -> Result<SendReport, String> {
    let prefix = format!(
        "GET /cgi-bin/sendsms?username={}&password={}&from={}&text={}&to=",
        url_encode(user),
        url_encode(password),
        url_encode(from),
        url_encode(text)
    );
    let suffix = format!(" HTTP/1.1\r\nHost: {addr}\r\nConnection: keep-alive\r\n\r\n");
    load(
        addr,
        n,
        concurrency,
        |i, req| {
            req.push_str(&prefix);
            req.push_str(&url_encode(&recipient(to, i)));
            req.push_str(&suffix);
        },
        |status, body| match status {
            // "Sent." is the answer with `immediate-sendsms-reply`.
            202 if body.starts_with("0:") || body.starts_with("Sent.") => Some(Answer::Accepted),
            202 if body.starts_with("3:") => Some(Answer::Queued),
            _ => None,
        },
    )
}

/// How [`load`]'s `answer` classifies a response; `None` there is an error that stops the load.
pub enum Answer {
    Accepted,
    Queued,
}

/// `n` HTTP/1.1 requests over `concurrency` keep-alive connections, one thread each, every
/// thread taking the next index as soon as its previous request is answered. `request(i, buf)`
/// appends the whole request (head and body, `Connection: keep-alive`) for message `i`.
/// Returns when all are answered, or at the first answer `answer` does not accept.
///
/// The connections are opened one after the other, each answered once (a `GET
/// /cgi-bin/sendsms` without credentials: refused, nothing sent) before the next: smsbox
/// listens with a backlog of 10, and connects beyond that while its HTTP thread is busy lose
/// their SYN, which costs a 1 s retransmit. `elapsed` includes this.
pub fn load(
    addr: SocketAddr,
    n: usize,
    concurrency: usize,
    request: impl Fn(usize, &mut String) + Sync,
    answer: impl Fn(u16, &str) -> Option<Answer> + Sync,
) -> Result<SendReport, String> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_err: Mutex<Option<String>> = Mutex::new(None);
    let totals = Mutex::new(SendReport::default());
    let started = Instant::now();
    let probe = format!("GET /cgi-bin/sendsms HTTP/1.1\r\nHost: {addr}\r\nConnection: keep-alive\r\n\r\n");
    let mut conns = Vec::new();
    for _ in 0..concurrency.clamp(1, n.max(1)) {
        let mut conn = Some(HttpConn::connect(addr)?);
        let mut ignored = 0;
        exchange_keepalive(&mut conn, addr, probe.as_bytes(), &mut ignored)?;
        conns.push(conn);
    }
    thread::scope(|s| {
        let (request, answer, next, stop, first_err, totals) = (&request, &answer, &next, &stop, &first_err, &totals);
        for mut conn in conns {
            s.spawn(move || {
                let mut local = SendReport::default();
                let mut req = String::with_capacity(512);
                let result = (|| -> Result<(), String> {
                    loop {
                        if stop.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return Ok(());
                        }
                        req.clear();
                        request(i, &mut req);
                        let (status, body) =
                            exchange_keepalive(&mut conn, addr, req.as_bytes(), &mut local.reconnects)?;
                        match answer(status, &body) {
                            Some(Answer::Accepted) => local.accepted += 1,
                            Some(Answer::Queued) => local.queued += 1,
                            None => return Err(format!("request #{i}: HTTP {status} {:?}", body.trim())),
                        }
                    }
                })();
                if let Err(e) = result {
                    stop.store(true, Ordering::Relaxed);
                    first_err.lock().unwrap().get_or_insert(e);
                }
                let mut t = totals.lock().unwrap();
                t.accepted += local.accepted;
                t.queued += local.queued;
                t.reconnects += local.reconnects;
            });
        }
    });
    if let Some(e) = first_err.into_inner().unwrap() {
        return Err(e);
    }
    let mut report = totals.into_inner().unwrap();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so `+` becomes `%2B`, not
/// a space that Kannel would read as a second recipient).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn proc_kib(child: Option<&Child>, key: &str) -> u64 {
    let Some(c) = child else { return 0 };
    let Ok(status) = fs::read_to_string(format!("/proc/{}/status", c.id())) else { return 0 };
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

fn terminate(mut child: Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let termed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if termed {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A keep-alive HTTP/1.1 connection.
struct HttpConn {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
}

impl HttpConn {
    fn connect(addr: SocketAddr) -> Result<HttpConn, String> {
        let stream =
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(HTTP_TIMEOUT));
        let _ = stream.set_write_timeout(Some(HTTP_TIMEOUT));
        let reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        Ok(HttpConn { reader, stream })
    }

    /// Sends one GET and reads the answer: (status, body, server keeps the connection).
    /// `Err(None)` if the server closed the connection before answering anything.
    fn get(&mut self, port: u16, path: &str, keep_alive: bool) -> Result<(u16, String, bool), Option<String>> {
        let conn = if keep_alive { "keep-alive" } else { "close" };
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: {conn}\r\n\r\n");
        self.exchange(req.as_bytes(), keep_alive)
    }

    /// Sends one whole request and reads the answer, as [`HttpConn::get`].
    fn exchange(&mut self, req: &[u8], keep_alive: bool) -> Result<(u16, String, bool), Option<String>> {
        if self.stream.write_all(req).is_err() {
            return Err(None);
        }
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => return Err(None),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Err(None),
            Err(e) => return Err(Some(format!("reading HTTP status: {e}"))),
        }
        let mut parts = line.split_whitespace();
        let version = parts.next().unwrap_or("").to_owned();
        let status: u16 =
            parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| Some(format!("bad HTTP status line {line:?}")))?;
        let mut length: Option<usize> = None;
        let mut keep = version == "HTTP/1.1";
        loop {
            line.clear();
            let got = self.reader.read_line(&mut line).map_err(|e| Some(format!("reading HTTP headers: {e}")))?;
            let header = line.trim_end();
            if got == 0 || header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().ok();
                } else if name.eq_ignore_ascii_case("connection") {
                    keep = value.eq_ignore_ascii_case("keep-alive");
                }
            }
        }
        let mut body = Vec::new();
        match length {
            Some(len) => {
                body.resize(len, 0);
                self.reader.read_exact(&mut body).map_err(|e| Some(format!("reading HTTP body: {e}")))?;
            }
            None => {
                self.reader.read_to_end(&mut body).map_err(|e| Some(format!("reading HTTP body: {e}")))?;
                keep = false;
            }
        }
        Ok((status, String::from_utf8_lossy(&body).into_owned(), keep && keep_alive))
    }
}

/// One request on `conn` (connecting if needed); if the server had closed the idle
/// connection, once more on a new one.
fn exchange_keepalive(
    conn: &mut Option<HttpConn>,
    addr: SocketAddr,
    req: &[u8],
    reconnects: &mut usize,
) -> Result<(u16, String), String> {
    for attempt in 0..2 {
        let fresh = conn.is_none();
        let c = match conn {
            Some(c) => c,
            None => conn.insert(HttpConn::connect(addr)?),
        };
        match c.exchange(req, true) {
            Ok((status, body, keep)) => {
                if !keep {
                    *conn = None;
                }
                return Ok((status, body));
            }
            Err(None) if !fresh && attempt == 0 => {
                *conn = None;
                *reconnects += 1;
            }
            Err(e) => {
                *conn = None;
                let line = String::from_utf8_lossy(req.split(|&b| b == b'\r').next().unwrap_or_default()).into_owned();
                return Err(e.unwrap_or_else(|| format!("{addr} closed the connection without answering {line}")));
            }
        }
    }
    unreachable!("the second attempt always returns")
}

/// A one-off GET on a new connection, short timeouts (status page, readiness checks).
fn http_get_once(port: u16, path: &str) -> Result<(u16, String), String> {
    let addr = SocketAddr::from((LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).map_err(|e| e.to_string())?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut c = HttpConn { reader, stream };
    c.get(port, path, false)
        .map(|(status, body, _)| (status, body))
        .map_err(|e| e.unwrap_or_else(|| format!("{addr} closed the connection")))
}
