//! CPU the bridge spends polling a HiLink router, per idle poll and per message, against
//! PyPI's `huawei-lte-api` running the same loop in Python, against the same fake router.
//!
//! ```text
//! cargo bench --bench hilink                                  # polls=300 messages=50 runs=3
//! cargo bench --bench hilink -- --polls=600 --runs=5          # or HILINK_POLLS=600 …
//! ```
//!
//! What runs:
//!
//! - the fake router, `sms-bridge hilink-sim --quiet` (`CARGO_BIN_EXE_sms-bridge`), as a
//!   **child process**, so none of its CPU is counted for either side. SMS are put in its
//!   inbox through its stdin, a batch of lines in one write, so a poll sees all or none
//!   of them; its control API (`GET /state`) gives the inbox and the requests it answered
//!   by path (`counters.by_path`), from which polls and requests per poll are counted.
//! - **bridge**: a real [`Bridge`](sms_bridge::bridge::Bridge) in this process on a
//!   2-worker runtime (`support/bridge.rs`: HttpMatrix → stub homeserver, SQLite in a
//!   tempdir, `Bridge::start`) with one `type: hilink` link at `poll_interval`. Its CPU is
//!   this process's CPU clock (`CLOCK_PROCESS_CPUTIME_ID`, all threads, exited ones too)
//!   minus the main thread's (the bench's driver: waiting, `GET /state`) minus the stub
//!   homeserver thread's (`/proc/self/task/<tid>/schedstat`). A fresh bridge each run,
//!   its link stopped (logged out) before the Python side runs.
//! - **python**: `benches/hilink_poll.py` in the venv `target/tmp/hilink-venv`
//!   (huawei-lte-api 2.0.1, created here as `tests/common/venv.rs` does when missing) does
//!   the same requests per poll as the link (`receive.rs` `poll`: `check-notifications`,
//!   and the counts and the list only with something unread or every `refresh_interval`;
//!   `session.rs`: the status every `refresh_interval`) with the same sleep between polls,
//!   and reports its own `time.process_time()` around the loop (not start-up, imports or
//!   login).
//! - **references**, each run, with no router link running: the same bridge with a
//!   `type: test` link, idle (the bridge's own background: workers, housekeeping) and per
//!   message (`TestBackend::inject` on a worker → stub: the core's commit and post); and
//!   a bare reqwest client making the link's GETs with the same sleep (the HTTP floor).
//!
//! Each run, for each side (alternately, never at once; the side that goes first swaps
//! every run): log in and warm up (`warmup-polls` polls and `warmup-messages` SMS, which
//! also creates the bridge's portal), then
//!
//! - **idle**: the inbox empty, `polls` polls (the bridge: `polls × poll_interval` of wall
//!   time, its polls counted at the router); CPU / polls;
//! - **messages**: `messages` SMS from one sender put in the inbox at once; timed until
//!   the side has deleted them all (the bridge: and posted them to the stub homeserver and
//!   drained its queues). Per message = (CPU − the window's idle requests × idle CPU per
//!   request of the same run) / messages, where idle requests are all but `sms-count`,
//!   `sms-list` and `delete-sms` (the link reads the counts only when something is unread
//!   or every `refresh_interval`; a status refresh falling in the window is not the
//!   messages' cost).
//!
//! The summary gives medians over runs and the ratios python / bridge. The Python side has
//! no Matrix side to feed and no database to commit to, which favours it. The issue's
//! target: the bridge uses at least 20× less CPU.
//!
//! Options (`--key=value` after `--`, or `HILINK_KEY`): `polls` (300), `messages` (50),
//! `runs` (3), `interval` seconds between polls (0.1; at least 0.1, the link's minimum),
//! `warmup-polls` (20), `warmup-messages` (5), `python` an interpreter with huawei-lte-api
//! to use instead of the venv.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sms_bridge::backend::{LinkState, ReceivedSms};

#[path = "support/bridge.rs"]
mod bridge;
#[path = "support/stub_hs.rs"]
mod stub_hs;
use bridge::{Args, InProcess, median};

const ROUTER_NUMBER: &str = "+15550003333";
const PEER: &str = "+12025550101";
const USERNAME: &str = "admin";
const PASSWORD: &str = "bench-s3cret";
const HUAWEI_LTE_API_VERSION: &str = "2.0.1";
const CHECK_NOTIFICATIONS: &str = "/api/monitoring/check-notifications";
/// The requests messages cause (the counts, also every `refresh_interval`).
const MESSAGE_PATHS: [&str; 3] = ["/api/sms/sms-count", "/api/sms/sms-list", "/api/sms/delete-sms"];
const TIMEOUT: Duration = Duration::from_secs(60);
/// The link's `refresh_interval` (its default), and the Python side's `refresh_s`.
const REFRESH_S: u64 = 60;

struct Opts {
    polls: usize,
    messages: usize,
    runs: usize,
    interval: f64,
    warmup_polls: usize,
    warmup_messages: usize,
    python: Option<PathBuf>,
}

impl Opts {
    fn parse() -> Opts {
        let args = Args::new("HILINK");
        let interval = args
            .get("interval")
            .map(|v| v.parse::<f64>().unwrap_or_else(|_| panic!("--interval: not a number: {v:?}")))
            .unwrap_or(0.1);
        assert!(interval >= 0.1, "--interval: at least 0.1 s (the link's minimum)");
        Opts {
            polls: args.num("polls", 300).max(10),
            messages: args.num("messages", 50).max(1),
            runs: args.num("runs", 3).max(1),
            interval,
            warmup_polls: args.num("warmup-polls", 20),
            warmup_messages: args.num("warmup-messages", 5).max(1),
            python: args.get("python").map(PathBuf::from),
        }
    }
}

// ---------------------------------------------------------------------------------------
// CPU clocks

fn clock(id: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id and a valid out pointer.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({id})");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// CPU seconds of this process (all threads, exited ones included).
fn process_cpu() -> f64 {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU seconds of the calling thread.
fn thread_cpu() -> f64 {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU seconds of this process's threads named `name` (nanoseconds in `schedstat`).
fn named_threads_cpu(name: &str) -> f64 {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task").flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
            ns += stat.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    ns as f64 * 1e-9
}

/// CPU seconds of another process (all its threads), from `/proc/<pid>/stat` in clock ticks.
fn child_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    // Fields 14 and 15 (utime, stime); after the comm field, the 3rd field is the state.
    let f: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// What the bridge's process spends, with the driver (main thread) and the stub
/// homeserver taken out.
#[derive(Clone, Copy)]
struct BridgeClock {
    process: f64,
    main: f64,
    stub: f64,
    router: f64,
}

impl BridgeClock {
    fn now(router_pid: u32) -> BridgeClock {
        BridgeClock {
            process: process_cpu(),
            main: thread_cpu(),
            stub: named_threads_cpu("stub-homeserver"),
            router: child_cpu(router_pid),
        }
    }

    /// (bridge, stub homeserver, fake router) CPU seconds since `earlier`.
    fn since(&self, earlier: &BridgeClock) -> (f64, f64, f64) {
        let stub = self.stub - earlier.stub;
        let bridge = (self.process - earlier.process) - (self.main - earlier.main) - stub;
        (bridge, stub, self.router - earlier.router)
    }
}

// ---------------------------------------------------------------------------------------
// The fake router, a child process

struct Router {
    child: Child,
    stdin: ChildStdin,
    url: String,
    /// host:port of the control API.
    control: String,
}

/// The requests the router answered, by path.
#[derive(Clone, Default)]
struct Requests(BTreeMap<String, u64>);

impl Requests {
    fn since(&self, earlier: &Requests) -> Requests {
        Requests(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v - earlier.0.get(k).copied().unwrap_or(0)))
                .filter(|(_, v)| *v > 0)
                .collect(),
        )
    }
    fn total(&self) -> u64 {
        self.0.values().sum()
    }
    fn polls(&self) -> u64 {
        self.0.get(CHECK_NOTIFICATIONS).copied().unwrap_or(0)
    }
    /// Requests an idle poll makes too: all but the counts, the list and the deletes.
    fn idle_part(&self) -> u64 {
        self.0.iter().filter(|(k, _)| !MESSAGE_PATHS.contains(&k.as_str())).map(|(_, v)| v).sum()
    }
    fn short(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{}={v}", k.trim_start_matches("/api/"))).collect::<Vec<_>>().join(" ")
    }
}

impl Router {
    fn start() -> Router {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sms-bridge"))
            .args(["hilink-sim", "--port", "0", "--control-port", "0", "--quiet"])
            .args(["--number", ROUTER_NUMBER, "--username", USERNAME, "--password", PASSWORD])
            // Every run logs in once per side; leave room for a session not yet expired.
            .args(["--max-sessions", "16"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting sms-bridge hilink-sim");
        let stdin = child.stdin.take().expect("sim stdin");
        let mut out = BufReader::new(child.stdout.take().expect("sim stdout"));
        let (mut url, mut control) = (None, None);
        let mut line = String::new();
        while url.is_none() || control.is_none() {
            line.clear();
            assert!(out.read_line(&mut line).expect("sim stdout") > 0, "hilink-sim exited before it listened");
            let after = |marker: &str| line.split_once(marker).map(|(_, r)| r.split_whitespace().next().unwrap_or(""));
            if let Some(u) = after("web API on ") {
                url = Some(u.to_string());
            }
            if let Some(c) = after("control API on ") {
                control = Some(c.trim_start_matches("http://").trim_end_matches('/').to_string());
            }
        }
        // Keep reading, so the pipe never fills.
        std::thread::Builder::new()
            .name("sim-stdout".into())
            .spawn(move || {
                let mut sink = Vec::new();
                let _ = out.read_to_end(&mut sink);
            })
            .expect("sim stdout thread");
        Router { child, stdin, url: url.unwrap(), control: control.unwrap() }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET /state` of the control API (HTTP/1.1, one connection per call).
    fn state(&self) -> Value {
        let mut s = TcpStream::connect(&self.control).expect("control API: connect");
        write!(s, "GET /state HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.control)
            .expect("control API: write");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("control API: read");
        let raw = String::from_utf8_lossy(&raw);
        let (head, body) = raw.split_once("\r\n\r\n").expect("control API: an HTTP answer");
        assert!(head.starts_with("HTTP/1.1 200"), "control API: {head}");
        serde_json::from_str(body).expect("control API: JSON")
    }

    fn requests(state: &Value) -> Requests {
        let map = state["counters"]["by_path"].as_object().expect("counters.by_path (a sim with per-path counters)");
        Requests(map.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect())
    }

    fn inbox_len(state: &Value) -> usize {
        state["inbox"].as_array().map_or(0, Vec::len)
    }

    /// `n` SMS from [`PEER`] in one write to the simulator's stdin.
    fn inject(&mut self, tag: &str, n: usize) {
        let mut lines = String::new();
        for i in 0..n {
            lines.push_str(&format!("{PEER} {tag} #{i}: running ten minutes late, order me the usual please\n"));
        }
        self.stdin.write_all(lines.as_bytes()).expect("sim stdin");
        self.stdin.flush().expect("sim stdin");
    }

    /// Until the inbox holds `n` messages.
    fn wait_inbox(&self, n: usize) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let s = self.state();
            if Router::inbox_len(&s) == n {
                return s;
            }
            assert!(Instant::now() < deadline, "the router's inbox never held {n}: {}", Router::inbox_len(&s));
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// The Python side's venv

/// `target/tmp/hilink-venv` with huawei-lte-api, as `tests/common/venv.rs` makes it (same
/// place, same marker), so tests and this bench share it. Panics with pip's output if it
/// cannot be made; never skips.
fn ensure_venv() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hilink-venv");
    let marker = venv.join(format!(".installed-{HUAWEI_LTE_API_VERSION}"));
    if marker.exists() {
        return venv;
    }
    std::fs::create_dir_all(venv.parent().unwrap()).expect("creating the venv's parent");
    let lock = std::fs::File::create(venv.with_extension("lock")).expect("creating the venv lock");
    lock.lock().expect("locking the venv");
    if marker.exists() {
        return venv;
    }
    if venv.exists() {
        std::fs::remove_dir_all(&venv).expect("removing an incomplete venv");
    }
    let log = venv.with_extension("install.log");
    let run = |cmd: &mut Command, what: &str| {
        let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
        let mut text = out.stdout.clone();
        text.extend_from_slice(&out.stderr);
        let _ = std::fs::OpenOptions::new().create(true).append(true).open(&log).and_then(|mut f| f.write_all(&text));
        assert!(out.status.success(), "{what} failed ({}):\n{}", out.status, String::from_utf8_lossy(&text));
    };
    eprintln!("hilink bench: installing huawei-lte-api {HUAWEI_LTE_API_VERSION} into {}", venv.display());
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv");
    let requirement = format!("huawei-lte-api=={HUAWEI_LTE_API_VERSION}");
    run(
        Command::new(venv.join("bin/pip")).args(["install", "--disable-pip-version-check", "--no-input", &requirement]),
        "pip install",
    );
    std::fs::File::create(&marker).expect("creating the venv marker");
    venv
}

// ---------------------------------------------------------------------------------------
// One side's figures for one run

#[derive(Default, Clone)]
struct Side {
    /// CPU seconds and polls of the idle window.
    idle_cpu: f64,
    idle_polls: u64,
    idle_requests: Requests,
    idle_wall: f64,
    /// CPU seconds, polls and wall seconds of the message window.
    msg_cpu: f64,
    msg_polls: u64,
    msg_requests: Requests,
    msg_wall: f64,
    /// The fake router's CPU over both windows (not counted; shows both sides asked the same).
    router_idle: f64,
    router_msg: f64,
    /// The stub homeserver's CPU in the message window (bridge only; not counted).
    stub_msg: f64,
}

impl Side {
    fn idle_us_per_poll(&self) -> f64 {
        self.idle_cpu / self.idle_polls as f64 * 1e6
    }
    /// The message window less what its idle requests (every request but `sms-count`,
    /// `sms-list` and `delete-sms`: notifications, a status refresh if one fell in the
    /// window) cost in the idle window, per message. By request rather than by poll, so a
    /// status refresh (4 requests every `refresh_interval`) landing in a short window is
    /// not charged to the messages.
    fn msg_us_per_message(&self, n: usize) -> f64 {
        let per_request = self.idle_cpu / self.idle_requests.total() as f64;
        (self.msg_cpu - self.msg_requests.idle_part() as f64 * per_request) / n as f64 * 1e6
    }
    fn requests_per_poll(&self) -> f64 {
        self.idle_requests.total() as f64 / self.idle_polls as f64
    }
    fn requests_per_message(&self, n: usize) -> f64 {
        (self.msg_requests.total() - self.msg_requests.idle_part()) as f64 / n as f64
    }
    fn router_us_per_poll(&self) -> f64 {
        self.router_idle / self.idle_polls as f64 * 1e6
    }
    fn line(&self, name: &str, n: usize) -> String {
        format!(
            "{name}: idle {:.1} µs/poll ({} polls in {:.1} s, {:.2} requests/poll) | messages {:.1} µs/message \
             ({} polls in {:.2} s, {:.2} requests/message) | router {:.0} µs/poll (not counted)",
            self.idle_us_per_poll(),
            self.idle_polls,
            self.idle_wall,
            self.requests_per_poll(),
            self.msg_us_per_message(n),
            self.msg_polls,
            self.msg_wall,
            self.requests_per_message(n),
            self.router_us_per_poll(),
        )
    }
}

fn links(url: &str, interval: f64) -> String {
    format!(
        r#"  - id: router
    type: hilink
    number: "{ROUTER_NUMBER}"
    url: {url}
    username: {USERNAME}
    password: {PASSWORD}
    poll_interval: {interval}
    refresh_interval: {REFRESH_S}
    timezone: UTC
"#
    )
}

fn wait(what: &str, mut done: impl FnMut() -> bool, diag: impl Fn() -> String) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {}", diag());
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// One run of the bridge: a fresh bridge, warm-up, idle window, message window, logout.
fn bridge_run(rt: &tokio::runtime::Runtime, router: &mut Router, opts: &Opts, run: usize) -> Side {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = rt.block_on(InProcess::start(dir.path(), &links(&router.url, opts.interval), None));
    let link = b.bridge.backends.get("router").expect("the router link").clone();
    let diag = || {
        format!(
            "link {}; stub sms_in={} unknown={}; queues (waiting, dead) outbox/inbox/matrix_out = {:?}",
            link.state(),
            b.stub.sms_in.load(Ordering::Relaxed),
            b.stub.unknown.load(Ordering::Relaxed),
            b.bridge.queue_counts()
        )
    };
    wait("the link to connect", || link.state() == LinkState::Connected, diag);
    // Until the bridge has bridged everything it was given and the router's inbox is empty.
    let settled = |router: &Router, sent: u64| {
        wait("the stub to get every message", || b.stub.sms_in.load(Ordering::Acquire) >= sent, diag);
        wait(
            "the router's inbox to empty and the queues to drain",
            || {
                Router::inbox_len(&router.state()) == 0
                    && b.bridge.queue_counts().is_ok_and(|q| q.iter().all(|(waiting, _)| *waiting == 0))
            },
            diag,
        );
    };

    // Warm-up: the portal, the ghost, connections, caches.
    std::thread::sleep(Duration::from_secs_f64(opts.warmup_polls as f64 * opts.interval));
    router.inject(&format!("bridge r{run} warm-up"), opts.warmup_messages);
    settled(router, opts.warmup_messages as u64);

    let mut side = Side::default();
    // Idle.
    let r0 = Router::requests(&router.state());
    let (c0, t0) = (BridgeClock::now(router.pid()), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(opts.polls as f64 * opts.interval));
    let (c1, t1) = (BridgeClock::now(router.pid()), Instant::now());
    let r1 = Router::requests(&router.state());
    let (cpu, _, router_cpu) = c1.since(&c0);
    side.idle_cpu = cpu;
    side.idle_requests = r1.since(&r0);
    side.idle_polls = side.idle_requests.polls();
    side.idle_wall = (t1 - t0).as_secs_f64();
    side.router_idle = router_cpu;

    // Messages.
    let sent = b.stub.sms_in.load(Ordering::Acquire) + opts.messages as u64;
    let r0 = Router::requests(&router.state());
    let (c0, t0) = (BridgeClock::now(router.pid()), Instant::now());
    router.inject(&format!("bridge r{run}"), opts.messages);
    settled(router, sent);
    let (c1, t1) = (BridgeClock::now(router.pid()), Instant::now());
    let r1 = Router::requests(&router.state());
    let (cpu, stub, router_cpu) = c1.since(&c0);
    side.msg_cpu = cpu;
    side.stub_msg = stub;
    side.msg_requests = r1.since(&r0);
    side.msg_polls = side.msg_requests.polls();
    side.msg_wall = (t1 - t0).as_secs_f64();
    side.router_msg = router_cpu;

    let dups = b.stub.duplicates.load(Ordering::Relaxed);
    let dead = b.bridge.queue_counts().map(|q| q.iter().map(|(_, d)| *d).sum::<i64>()).unwrap_or(-1);
    assert!(dups == 0 && dead == 0, "bridge run {run}: {dups} duplicate sends, {dead} dead jobs");

    // Log out (so the session is free) and stop everything before the other side runs.
    rt.block_on(link.stop());
    wait("the link to stop", || link.state() == LinkState::Stopped, diag);
    b.stop();
    let InProcess { stub_server, .. } = b;
    stub_server.kill();
    side
}

/// References, on the same runtime with no router link running.
#[derive(Default, Clone, Copy)]
struct Reference {
    /// The bridge with a `type: test` link instead of the router, idle for the polls' wall
    /// time: what the bridge's own workers cost whatever the link. CPU seconds per second.
    background: f64,
    /// The same bridge's core per message: `TestBackend::inject` (the inbox commit, run on
    /// a worker) until the stub has it and the queues are drained. CPU seconds per message.
    core_message: f64,
    /// A bare reqwest client (pool of one, as the link's) making the same number of GETs
    /// per poll as the link, with the same sleep: the HTTP floor. CPU seconds per poll.
    http_floor: f64,
}

fn reference_run(rt: &tokio::runtime::Runtime, router: &Router, opts: &Opts, requests_per_poll: f64) -> Reference {
    let mut r = Reference::default();
    let dir = tempfile::tempdir().expect("tempdir");
    let links = format!("  - id: test\n    type: test\n    number: \"{ROUTER_NUMBER}\"\n");
    let b = rt.block_on(InProcess::start(dir.path(), &links, None));
    let test = b.tests[0].clone();
    let inject = |tag: String, n: usize| {
        let test = test.clone();
        rt.block_on(rt.spawn(async move {
            for i in 0..n {
                let text = format!("{tag} #{i}: running ten minutes late, order me the usual please");
                let sms = ReceivedSms { from: PEER.into(), to: String::new(), text, timestamp_ms: None };
                test.inject(sms).expect("inject");
            }
        }))
        .expect("inject task");
    };
    let settled = |sent: u64| {
        let diag =
            || format!("stub sms_in={}; queues {:?}", b.stub.sms_in.load(Ordering::Relaxed), b.bridge.queue_counts());
        wait("the stub to get every message", || b.stub.sms_in.load(Ordering::Acquire) >= sent, diag);
        wait(
            "the queues to drain",
            || b.bridge.queue_counts().is_ok_and(|q| q.iter().all(|(waiting, _)| *waiting == 0)),
            diag,
        );
    };
    inject("test warm-up".into(), opts.warmup_messages);
    settled(opts.warmup_messages as u64);
    std::thread::sleep(Duration::from_secs(1));

    let (c0, t0) = (BridgeClock::now(router.pid()), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(opts.polls as f64 * opts.interval));
    let (c1, t1) = (BridgeClock::now(router.pid()), Instant::now());
    r.background = c1.since(&c0).0 / (t1 - t0).as_secs_f64();

    let sent = b.stub.sms_in.load(Ordering::Acquire) + opts.messages as u64;
    let (c0, t0) = (BridgeClock::now(router.pid()), Instant::now());
    inject("test".into(), opts.messages);
    settled(sent);
    let (c1, t1) = (BridgeClock::now(router.pid()), Instant::now());
    r.core_message = (c1.since(&c0).0 - r.background * (t1 - t0).as_secs_f64()) / opts.messages as f64;
    b.stop();
    let InProcess { stub_server, .. } = b;
    stub_server.kill();

    // The HTTP floor: GETs only, no session (the router answers 100003, a whole exchange
    // all the same); mostly check-notifications, as the link's idle polls.
    let (url, polls, interval) = (router.url.clone(), opts.polls, opts.interval);
    let per_poll = requests_per_poll;
    let c0 = BridgeClock::now(router.pid());
    let done = rt.spawn(async move {
        let http = reqwest::Client::builder().pool_max_idle_per_host(1).build().expect("reqwest client");
        let paths = ["api/sms/sms-count", "api/monitoring/check-notifications"];
        let mut owed = 0.0;
        for _ in 0..polls {
            owed += per_poll;
            while owed >= 1.0 {
                let path = paths[(owed as usize) % 2];
                let a = http.get(format!("{url}{path}")).header("X-Requested-With", "XMLHttpRequest").send().await;
                let _ = a.expect("floor: GET").bytes().await.expect("floor: body");
                owed -= 1.0;
            }
            tokio::time::sleep(Duration::from_secs_f64(interval)).await;
        }
    });
    rt.block_on(done).expect("floor task");
    r.http_floor = BridgeClock::now(router.pid()).since(&c0).0 / polls as f64;
    r
}

struct Python {
    child: Child,
    stdin: ChildStdin,
    out: BufReader<ChildStdout>,
}

impl Python {
    fn read(&mut self) -> Value {
        let mut line = String::new();
        let n = self.out.read_line(&mut line).expect("hilink_poll.py stdout");
        assert!(n > 0, "hilink_poll.py exited early: {:?}", self.child.wait());
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("hilink_poll.py said {line:?}: {e}"))
    }
    fn go(&mut self) {
        self.stdin.write_all(b"go\n").and_then(|_| self.stdin.flush()).expect("hilink_poll.py stdin");
    }
}

/// One run of the Python loop, driven through its stdin and stdout.
fn python_run(python: &Path, router: &mut Router, opts: &Opts, run: usize) -> Side {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/hilink_poll.py");
    let args = json!({
        "url": router.url, "username": USERNAME, "password": PASSWORD, "interval": opts.interval,
        "polls": opts.polls, "messages": opts.messages, "warmup": opts.warmup_polls.max(1),
        "refresh_s": REFRESH_S,
    });
    // The warm-up messages are there from the start: the warm-up polls take them.
    router.inject(&format!("python r{run} warm-up"), opts.warmup_messages);
    router.wait_inbox(opts.warmup_messages);
    let mut child = Command::new(python)
        .arg("-I")
        .arg(&script)
        .arg(args.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("running {} {}: {e}", python.display(), script.display()));
    let stdin = child.stdin.take().unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut py = Python { child, stdin, out };
    assert_eq!(py.read()["ready"], "idle");
    let s0 = router.state();
    assert_eq!(Router::inbox_len(&s0), 0, "the Python warm-up left messages in the inbox");

    let mut side = Side::default();
    let r0 = Router::requests(&s0);
    let k0 = child_cpu(router.pid());
    py.go();
    let idle = py.read();
    let k1 = child_cpu(router.pid());
    let r1 = Router::requests(&router.state());
    side.idle_cpu = idle["cpu_s"].as_f64().expect("cpu_s");
    side.idle_wall = idle["wall_s"].as_f64().expect("wall_s");
    side.idle_requests = r1.since(&r0);
    side.idle_polls = side.idle_requests.polls();
    assert_eq!(idle["polls"].as_u64(), Some(side.idle_polls), "Python's polls and the router's count differ");
    side.router_idle = k1 - k0;

    router.inject(&format!("python r{run}"), opts.messages);
    let r0 = Router::requests(&router.wait_inbox(opts.messages));
    let k0 = child_cpu(router.pid());
    py.go();
    let msgs = py.read();
    let k1 = child_cpu(router.pid());
    let r1 = Router::requests(&router.state());
    assert_eq!(msgs["handled"].as_u64(), Some(opts.messages as u64), "Python handled {msgs}");
    side.msg_cpu = msgs["cpu_s"].as_f64().expect("cpu_s");
    side.msg_wall = msgs["wall_s"].as_f64().expect("wall_s");
    side.msg_requests = r1.since(&r0);
    side.msg_polls = side.msg_requests.polls();
    side.router_msg = k1 - k0;
    drop(py.stdin);
    let status = py.child.wait().expect("hilink_poll.py");
    assert!(status.success(), "hilink_poll.py: {status}");
    side
}

fn main() {
    let opts = Opts::parse();
    let python = opts.python.clone().unwrap_or_else(|| ensure_venv().join("bin/python"));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!(
        "hilink bench: polls={} messages={} runs={} interval={} s warm-up {} polls + {} messages, cores={cores}, \
         python {}",
        opts.polls,
        opts.messages,
        opts.runs,
        opts.interval,
        opts.warmup_polls,
        opts.warmup_messages,
        python.display()
    );
    let mut router = Router::start();
    println!("fake router (child process {}): {}", router.pid(), router.url);
    // As main.rs builds it: two workers.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");

    let (mut bridges, mut pythons, mut references) = (Vec::new(), Vec::new(), Vec::<Reference>::new());
    for run in 1..=opts.runs {
        // Alternately first, so that drift in the machine's load falls on both.
        let bridge_first = run % 2 == 1;
        // One request a poll, and now and then the counts and the status (5 requests).
        let reference = reference_run(&rt, &router, &opts, 1.0 + 5.0 * opts.interval / REFRESH_S as f64);
        println!(
            "run {run} references: bridge with a test link, idle {:.1} µs/s, {:.1} µs/message | bare reqwest \
             {:.1} µs/poll",
            reference.background * 1e6,
            reference.core_message * 1e6,
            reference.http_floor * 1e6
        );
        references.push(reference);
        for side in if bridge_first { ["bridge", "python"] } else { ["python", "bridge"] } {
            if side == "bridge" {
                let s = bridge_run(&rt, &mut router, &opts, run);
                println!("run {run} {}", s.line("bridge", opts.messages));
                println!(
                    "      bridge requests idle: {} | messages: {} | stub homeserver {:.0} µs/message (not counted)",
                    s.idle_requests.short(),
                    s.msg_requests.short(),
                    s.stub_msg / opts.messages as f64 * 1e6
                );
                bridges.push(s);
            } else {
                let s = python_run(&python, &mut router, &opts, run);
                println!("run {run} {}", s.line("python", opts.messages));
                println!(
                    "      python requests idle: {} | messages: {}",
                    s.idle_requests.short(),
                    s.msg_requests.short()
                );
                pythons.push(s);
            }
        }
    }

    let n = opts.messages;
    let m = |xs: &[Side], f: &dyn Fn(&Side) -> f64| median(&xs.iter().map(f).collect::<Vec<_>>());
    let range = |xs: &[Side], f: &dyn Fn(&Side) -> f64| {
        let v: Vec<f64> = xs.iter().map(f).collect();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{lo:.0}–{hi:.0}")
    };
    let idle = |s: &Side| s.idle_us_per_poll();
    let per_msg = |s: &Side| s.msg_us_per_message(n);
    let (bi, pi) = (m(&bridges, &idle), m(&pythons, &idle));
    let (bm, pm) = (m(&bridges, &per_msg), m(&pythons, &per_msg));
    println!();
    println!("== hilink bench summary (CPU, median over {} runs; range over runs) ==", opts.runs);
    println!("  {:<34} {:>10} {:>13} {:>10} {:>13} {:>9}", "", "bridge", "(range)", "python", "(range)", "py/bridge");
    println!(
        "  {:<34} {:>10.1} {:>13} {:>10.1} {:>13} {:>8.1}×",
        "idle poll, µs/poll",
        bi,
        range(&bridges, &idle),
        pi,
        range(&pythons, &idle),
        pi / bi
    );
    println!(
        "  {:<34} {:>10.1} {:>13} {:>10.1} {:>13} {:>8.1}×",
        "per message, µs/message",
        bm,
        range(&bridges, &per_msg),
        pm,
        range(&pythons, &per_msg),
        pm / bm
    );
    // The bridge's own background over one poll period (interval + the poll's time).
    let period = m(&bridges, &|s: &Side| s.idle_wall / s.idle_polls as f64);
    let refs = |f: fn(&Reference) -> f64| median(&references.iter().map(f).collect::<Vec<_>>());
    let background = refs(|r| r.background) * period * 1e6;
    let core = refs(|r| r.core_message) * 1e6;
    let floor = refs(|r| r.http_floor) * 1e6;
    println!(
        "  {:<34} {:>10.1} {:>13} {:>10} {:>13} {:>8.1}×",
        "  idle, less the bridge's background",
        bi - background,
        format!("(bg {background:.1})"),
        "",
        "",
        pi / (bi - background)
    );
    println!(
        "  {:<34} {:>10.1} {:>13} {:>10} {:>13} {:>8.1}×",
        "  per message, less the core's",
        bm - core,
        format!("(core {core:.0})"),
        "",
        "",
        pm / (bm - core)
    );
    println!(
        "  {:<34} {:>10.1} {:>13} {:>10} {:>13} {:>8.1}×",
        "bare reqwest, same GETs, µs/poll",
        floor,
        "",
        "",
        "",
        pi / floor
    );
    let rp = |s: &Side| s.requests_per_poll();
    let rm = |s: &Side| s.requests_per_message(n);
    let rr = |s: &Side| s.router_us_per_poll();
    println!("  {:<34} {:>10.2} {:>13} {:>10.2}", "requests per idle poll", m(&bridges, &rp), "", m(&pythons, &rp));
    println!("  {:<34} {:>10.2} {:>13} {:>10.2}", "requests per message", m(&bridges, &rm), "", m(&pythons, &rm));
    println!(
        "  {:<34} {:>10.0} {:>13} {:>10.0}",
        "fake router µs/idle poll (n.c.)",
        m(&bridges, &rr),
        "",
        m(&pythons, &rr)
    );
    println!(
        "  {:<34} {:>10.0}",
        "stub homeserver µs/message (n.c.)",
        m(&bridges, &|s: &Side| s.stub_msg / n as f64 * 1e6)
    );
    let met = pi / bi >= 20.0 && pm / bm >= 20.0;
    println!(
        "target python / bridge ≥ 20×: idle {:.1}×, per message {:.1}× → {}",
        pi / bi,
        pm / bm,
        if met { "met" } else { "NOT met" }
    );
    rt.shutdown_timeout(Duration::from_secs(1));
}
