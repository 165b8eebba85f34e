//! Latency the bridge adds between a modem's `+CMTI` and the message at the homeserver.
//!
//! ```text
//! cargo bench --bench modem                        # defaults: n=300, warmup=20, runs=3
//! cargo bench --bench modem -- --n=1000 --runs=5   # or MODEM_N=1000 MODEM_RUNS=5
//! ```
//!
//! What runs, all in this process:
//!
//! - the stub homeserver (`support/stub_hs.rs`, its own thread), recording when each
//!   `m.room.message` body first arrives;
//! - the modem simulator (`sms_bridge::modem_sim`, quiet, generic profile) on its own
//!   thread and single-threaded runtime, as a real modem is not scheduled on the bridge's
//!   workers; a second simulator on the same thread for the AT floor (below);
//! - a real [`Bridge`](sms_bridge::bridge::Bridge) on a 2-worker runtime as `main.rs`
//!   builds it (`support/bridge.rs`: HttpMatrix → stub, SQLite in a tempdir,
//!   `Bridge::start`) with two links: `type: modem` on the simulator's PTY and `type: test`.
//!
//! Each iteration, one message in flight at a time, then waiting until the bridge is idle
//! (the simulator's storage empty, i.e. AT+CMGD done, and the inbox drained):
//!
//! - **modem**: `ModemSim::inject_sms` stores the SMS and prints `+CMTI`; timed from the
//!   moment the simulator's PTY writer begins writing the `+CMTI` line
//!   (`ModemSim::last_indication_written`) until the stub receives the `m.room.message`
//!   with that body. In between the link reads the URC, sends `AT+CMGR=<i>`, reads the PDU,
//!   commits it (with its fingerprint) to the inbox, sends `AT+CMGD=<i>`; the inbox worker,
//!   woken by the commit, posts it.
//! - **test link** (reference): `TestBackend::inject` (commit to the inbox) until the stub
//!   receives it: the same core path without the AT round trips.
//! - **AT floor**: `AT` → `OK` over the second simulator's PTY with a minimal client
//!   (tokio-serial, echo off) on the bridge's runtime: one serial round trip.
//!
//! The modem path is also split with the simulator's command timestamps
//! (`ModemSim::timed_commands`): `+CMTI` written → `AT+CMGR` received (the link's wake-up
//! and its reaction), `AT+CMGR` → `AT+CMGD` received (the answer read, decoded, committed),
//! `AT+CMGD` received → stub (the inbox worker's post, concurrent with the delete).
//!
//! Options (`--key=value` after `--`, or `MODEM_KEY`): `n` messages per path per run
//! (300), `warmup` messages per path before the first run (20; the first creates the
//! portal), `runs` (3), `poll-interval` the link's storage poll in seconds (30, the
//! default), `no-floor` skips the AT floor. The target (issue): modem p50 ≤ 5 ms and
//! p99 ≤ 20 ms, judged on the medians over runs of each run's p50 and p99.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sms_bridge::backend::{Backend, LinkState, ReceivedSms};
use sms_bridge::modem_sim::{ModemSim, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::SerialPortBuilderExt;

#[path = "support/bridge.rs"]
mod bridge;
#[path = "support/stub_hs.rs"]
mod stub_hs;
use bridge::{Args, InProcess, median, quantile, wait_until};

const MODEM_NUMBER: &str = "+15550003333";
const TEST_NUMBER: &str = "+15550001111";
/// Who writes to the modem, and who to the test link (one portal each).
const MODEM_PEER: &str = "+12025550101";
const TEST_PEER: &str = "+12025550102";
/// Longest one message may take before the bench gives up with diagnostics.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

struct Opts {
    n: usize,
    warmup: usize,
    runs: usize,
    poll_interval: usize,
    floor: bool,
}

impl Opts {
    fn parse() -> Opts {
        let args = Args::new("MODEM");
        Opts {
            n: args.num("n", 300).max(1),
            warmup: args.num("warmup", 20).max(1),
            runs: args.num("runs", 3).max(1),
            poll_interval: args.num("poll-interval", 30).max(1),
            floor: args.get("no-floor").is_none(),
        }
    }
}

fn links(device: &std::path::Path, poll_interval: usize) -> String {
    format!(
        r#"  - id: modem
    type: modem
    number: "{MODEM_NUMBER}"
    device: {device}
    poll_interval: {poll_interval}
  - id: test
    type: test
    number: "{TEST_NUMBER}"
"#,
        device = device.display()
    )
}

/// A typical single-part SMS, unique per path, run and index.
fn text(path: &str, run: usize, i: usize) -> String {
    format!("{path} r{run} #{i}: running ten minutes late, order me the usual please")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn signed_ms(later: Instant, earlier: Instant) -> f64 {
    if later >= earlier { ms(later - earlier) } else { -ms(earlier - later) }
}

// ---------------------------------------------------------------------------------------
// The simulators, on their own thread

struct Sims {
    modem: ModemSim,
    floor: ModemSim,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sims {
    fn start() -> Sims {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("modem-sim".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("sim runtime");
                rt.block_on(async move {
                    let opts = || Options { number: MODEM_NUMBER.into(), quiet: true, ..Options::default() };
                    let modem = ModemSim::start(opts()).await.expect("modem simulator");
                    let floor = ModemSim::start(opts()).await.expect("floor simulator");
                    tx.send((modem, floor)).expect("report simulators");
                    let _ = stopped.await;
                });
            })
            .expect("sim thread");
        let (modem, floor) = rx.recv().expect("simulators started");
        Sims { modem, floor, stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for Sims {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// A minimal AT client, for the floor

struct AtClient {
    port: tokio_serial::SerialStream,
    buf: Vec<u8>,
}

impl AtClient {
    async fn open(path: PathBuf) -> AtClient {
        let port = tokio_serial::new(path.to_string_lossy(), 115_200).open_native_async().expect("floor: open the PTY");
        let mut c = AtClient { port, buf: Vec::new() };
        c.command("ATE0").await;
        c
    }

    /// Writes `cmd` and reads until the final `OK`.
    async fn command(&mut self, cmd: &str) -> Duration {
        let start = Instant::now();
        self.port.write_all(format!("{cmd}\r").as_bytes()).await.expect("floor: write");
        self.buf.clear();
        let mut chunk = [0u8; 256];
        while !self.buf.windows(4).any(|w| w == b"OK\r\n") {
            let n = tokio::time::timeout(MESSAGE_TIMEOUT, self.port.read(&mut chunk))
                .await
                .expect("floor: no answer")
                .expect("floor: read");
            assert!(n > 0, "floor: the PTY closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
        start.elapsed()
    }
}

// ---------------------------------------------------------------------------------------

/// Per-message figures of one run, in milliseconds.
#[derive(Default)]
struct Run {
    modem: Vec<f64>,
    test: Vec<f64>,
    floor: Vec<f64>,
    /// The modem path's parts: URC → AT+CMGR, AT+CMGR → AT+CMGD, AT+CMGD → stub.
    to_cmgr: Vec<f64>,
    to_cmgd: Vec<f64>,
    to_stub: Vec<f64>,
    /// Inject → the simulator's writer begins the +CMTI (the simulator's own delay, not timed).
    sim_side: Vec<f64>,
    /// Messages during which the link did more than AT+CMGR and AT+CMGD (a poll).
    other_commands: usize,
}

struct Bench {
    b: InProcess,
    sims: Sims,
    modem: std::sync::Arc<dyn Backend>,
}

impl Bench {
    /// Waits for the stub to receive `text`; returns when it did.
    async fn arrival(&self, text: &str) -> Instant {
        let deadline = Instant::now() + MESSAGE_TIMEOUT;
        loop {
            let hit = self.b.stub.arrivals.lock().unwrap().remove(text);
            if let Some(at) = hit {
                return at;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("timed out waiting for {text:?} at the stub: {}", self.diag());
            }
            let _ = tokio::time::timeout(left, self.b.stub.arrived.notified()).await;
        }
    }

    fn diag(&self) -> String {
        let tail: Vec<String> = self.sims.modem.commands().into_iter().rev().take(8).collect();
        format!(
            "modem {}; stub sms_in={} unknown={}; queues (waiting, dead) outbox/inbox/matrix_out = {:?}; \
             SIM holds {}; last commands (newest first) {tail:?}",
            self.modem.state(),
            self.b.stub.sms_in.load(Ordering::Relaxed),
            self.b.stub.unknown.load(Ordering::Relaxed),
            self.b.bridge.queue_counts(),
            self.sims.modem.stored().len(),
        )
    }

    /// Until the SIM is empty (AT+CMGD done) and the inbox drained: one message in flight.
    async fn idle(&self) {
        wait_until(
            "the bridge to be idle",
            MESSAGE_TIMEOUT,
            || {
                self.sims.modem.stored().is_empty()
                    && self.b.bridge.queue_counts().is_ok_and(|q| q.iter().all(|(waiting, _)| *waiting == 0))
            },
            || self.diag(),
        )
        .await;
    }

    async fn via_modem(&self, text: &str, run: Option<&mut Run>) {
        let skip = self.sims.modem.commands().len();
        let injected = Instant::now();
        self.sims.modem.inject_sms(MODEM_PEER, text);
        let arrived = self.arrival(text).await;
        let urc = self.sims.modem.last_indication_written().expect("the simulator wrote +CMTI");
        assert!(urc >= injected, "the +CMTI timestamp is older than the message");
        self.idle().await;
        let Some(run) = run else { return };
        run.modem.push(signed_ms(arrived, urc));
        run.sim_side.push(ms(urc - injected));
        let cmds = self.sims.modem.timed_commands(skip);
        let at = |prefix: &str| cmds.iter().find(|(_, c)| c.to_ascii_uppercase().starts_with(prefix)).map(|(t, _)| *t);
        if let (Some(cmgr), Some(cmgd)) = (at("AT+CMGR="), at("AT+CMGD=")) {
            run.to_cmgr.push(signed_ms(cmgr, urc));
            run.to_cmgd.push(signed_ms(cmgd, cmgr));
            run.to_stub.push(signed_ms(arrived, cmgd));
        }
        if cmds.len() != 2 {
            run.other_commands += 1;
        }
    }

    async fn via_test(&self, text: &str, run: Option<&mut Run>) {
        let sms = ReceivedSms { from: TEST_PEER.into(), to: String::new(), text: text.into(), timestamp_ms: None };
        let start = Instant::now();
        self.b.tests[0].inject(sms).expect("inject");
        let arrived = self.arrival(text).await;
        self.idle().await;
        if let Some(run) = run {
            run.test.push(signed_ms(arrived, start));
        }
    }
}

struct Stat {
    p50: Vec<f64>,
    p99: Vec<f64>,
    max: Vec<f64>,
}

impl Stat {
    fn of<'a>(runs: impl Iterator<Item = &'a Vec<f64>>) -> Stat {
        let mut s = Stat { p50: Vec::new(), p99: Vec::new(), max: Vec::new() };
        for xs in runs.filter(|xs| !xs.is_empty()) {
            s.p50.push(quantile(xs, 0.5));
            s.p99.push(quantile(xs, 0.99));
            s.max.push(quantile(xs, 1.0));
        }
        s
    }
    fn p50(&self) -> f64 {
        median(&self.p50)
    }
    fn p99(&self) -> f64 {
        median(&self.p99)
    }
    fn max(&self) -> f64 {
        self.max.iter().copied().fold(f64::NAN, f64::max)
    }
    fn row(&self, name: &str) {
        let range = |xs: &[f64]| {
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            format!("{lo:.3}–{hi:.3}")
        };
        println!(
            "  {name:<40} {:>8.3} {:>8.3} {:>8.3}   {:<15} {}",
            self.p50(),
            self.p99(),
            self.max(),
            range(&self.p50),
            range(&self.p99)
        );
    }
}

fn main() {
    let opts = Opts::parse();
    // As main.rs builds it: two workers, whatever the machine has.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(bench(opts));
    rt.shutdown_timeout(Duration::from_secs(1));
}

async fn bench(opts: Opts) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!(
        "modem bench: n={} warmup={} runs={} poll_interval={} s floor={} cores={cores} tmp={}",
        opts.n,
        opts.warmup,
        opts.runs,
        opts.poll_interval,
        opts.floor,
        dir.path().display()
    );
    let sims = Sims::start();
    let b = InProcess::start(dir.path(), &links(&sims.modem.path(), opts.poll_interval), None).await;
    b.stub.record_arrivals.store(true, Ordering::SeqCst);
    let modem = b.bridge.backends.get("modem").expect("the modem link").clone();
    let bench = Bench { b, sims, modem };
    wait_until(
        "the modem link to connect",
        MESSAGE_TIMEOUT,
        || bench.modem.state() == LinkState::Connected,
        || bench.diag(),
    )
    .await;
    println!(
        "stub homeserver http://{}, modem simulator {}, database {}",
        bench.b.stub_addr,
        bench.sims.modem.path().display(),
        bench.b.db.display()
    );
    let mut floor = if opts.floor { Some(AtClient::open(bench.sims.floor.path()).await) } else { None };

    // Warm-up: portals, ghosts, connections, caches. Not timed.
    let start = Instant::now();
    for i in 0..opts.warmup {
        bench.via_modem(&text("modem", 0, i), None).await;
        bench.via_test(&text("test", 0, i), None).await;
        if let Some(f) = floor.as_mut() {
            f.command("AT").await;
        }
    }
    println!("warm-up: {} messages per path in {:.2} s (portals created)", opts.warmup, start.elapsed().as_secs_f64());

    let mut runs = Vec::new();
    for r in 1..=opts.runs {
        let mut run = Run::default();
        // Interleaved, so that the paths share whatever the machine is doing.
        for i in 0..opts.n {
            bench.via_modem(&text("modem", r, i), Some(&mut run)).await;
            bench.via_test(&text("test", r, i), Some(&mut run)).await;
            if let Some(f) = floor.as_mut() {
                run.floor.push(ms(f.command("AT").await));
            }
        }
        println!(
            "run {r}: modem p50 {:.3} p99 {:.3} max {:.3} ms | test link p50 {:.3} p99 {:.3} max {:.3} ms | \
             AT floor p50 {:.3} p99 {:.3} ms | messages with other AT commands (polls): {}",
            quantile(&run.modem, 0.5),
            quantile(&run.modem, 0.99),
            quantile(&run.modem, 1.0),
            quantile(&run.test, 0.5),
            quantile(&run.test, 0.99),
            quantile(&run.test, 1.0),
            quantile(&run.floor, 0.5),
            quantile(&run.floor, 0.99),
            run.other_commands
        );
        runs.push(run);
    }

    let modem = Stat::of(runs.iter().map(|r| &r.modem));
    let test = Stat::of(runs.iter().map(|r| &r.test));
    let floor_stat = Stat::of(runs.iter().map(|r| &r.floor));
    println!();
    println!(
        "== modem bench summary (ms; per run p50/p99/max of n={}, median over {} runs; max = worst) ==",
        opts.n, opts.runs
    );
    println!("  {:<40} {:>8} {:>8} {:>8}   {:<15} p99 over runs", "", "p50", "p99", "max", "p50 over runs");
    modem.row("modem: +CMTI written → stub has it");
    test.row("test link: inject (commit) → stub has it");
    if opts.floor {
        floor_stat.row("AT → OK over a PTY (floor)");
    }
    println!();
    println!("modem path, split by the simulator's clock (median / p99 over all runs):");
    let all = |f: fn(&Run) -> &Vec<f64>| runs.iter().flat_map(|r| f(r).iter().copied()).collect::<Vec<f64>>();
    for (name, xs) in [
        ("+CMTI written → AT+CMGR received", all(|r| &r.to_cmgr)),
        ("AT+CMGR → AT+CMGD received (read, decode, commit)", all(|r| &r.to_cmgd)),
        ("AT+CMGD received → stub (post; the delete runs alongside)", all(|r| &r.to_stub)),
        ("(not timed) inject → +CMTI written, simulator side", all(|r| &r.sim_side)),
    ] {
        println!("  {name:<58} {:>8.3} {:>8.3}", median(&xs), quantile(&xs, 0.99));
    }
    let polls: usize = runs.iter().map(|r| r.other_commands).sum();
    println!("  messages during which the link also polled or did something else: {polls}");
    println!();
    println!("ratios (medians; compare these across machines):");
    println!("  modem / test link   p50 = {:.2}   p99 = {:.2}", modem.p50() / test.p50(), modem.p99() / test.p99());
    println!("  modem − test link   p50 = {:.3} ms (what the AT exchange adds)", modem.p50() - test.p50());
    if opts.floor {
        println!(
            "  (modem − test link) / AT floor p50 = {:.2} round trips",
            (modem.p50() - test.p50()) / floor_stat.p50()
        );
    }
    let met = modem.p50() <= 5.0 && modem.p99() <= 20.0;
    println!(
        "target modem p50 ≤ 5 ms, p99 ≤ 20 ms: p50 {:.3} ms, p99 {:.3} ms → {}",
        modem.p50(),
        modem.p99(),
        if met { "met" } else { "NOT met" }
    );
    let dups = bench.b.stub.duplicates.load(Ordering::Relaxed);
    let unknown = bench.b.stub.unknown.load(Ordering::Relaxed);
    let dead = bench.b.bridge.queue_counts().map(|q| q.iter().map(|(_, d)| *d).sum::<i64>()).unwrap_or(-1);
    if dups == 0 && unknown == 0 && dead == 0 {
        println!("checks: no duplicate sends, no dead jobs, no unknown requests at the stub");
    } else {
        println!("checks FAILED: {dups} duplicate sends, {dead} dead jobs, {unknown} unknown requests at the stub");
    }
    // The link first, so that the simulators going away is not news to it.
    bench.modem.stop().await;
    wait_until(
        "the modem link to stop",
        MESSAGE_TIMEOUT,
        || bench.modem.state() == LinkState::Stopped,
        || bench.diag(),
    )
    .await;
    bench.b.stop();
}
