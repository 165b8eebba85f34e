//! Throughput of the inbound paths, against a stub homeserver on loopback.
//!
//! ```text
//! cargo bench --bench inbound                       # defaults: n=20000 (A), b-n=2000 (B), runs=3
//! cargo bench --bench inbound -- --n=5000 --runs=5  # or INBOUND_N=5000 INBOUND_RUNS=5
//! ```
//!
//! What runs, all in this process unless noted:
//!
//! - a stub homeserver (axum, its own thread and single-threaded runtime) answering the
//!   client-server calls `HttpMatrix` makes with minimal 200s, counting what it gets;
//! - a real [`Bridge`] (HttpMatrix → stub, SQLite store in a tempdir, one `TestBackend`
//!   without control API) on a 2-worker tokio runtime, as `main.rs` builds it, with the
//!   appservice router served on loopback;
//! - **A** SMS → Matrix: `TestBackend::inject` (commits to the inbox) from 100 numbers whose
//!   portals already exist, timed until the stub has received every `m.room.message`; once
//!   from one task (a link's connection) and once from several concurrent tasks;
//! - **B** Matrix → SMS: transactions of 100 `m.room.message` events PUT to the appservice
//!   API with the hs_token, timed until the outbox holds every job and until the
//!   TestBackend has sent them all (and until the stub has every status event);
//! - reference rates measured in the same process (SQLite insert+commit with the store's
//!   pragmas; sequential sends to the stub with reqwest and with `HttpMatrix`), so results
//!   from a noisy machine can be compared as ratios;
//! - the real `sms-bridge` binary (a separate process, with its own stub homeserver):
//!   idle RSS after start-up, then RSS after a burst injected through the test link's
//!   control API.
//!
//! The binary is the one cargo builds for this bench (`CARGO_BIN_EXE_sms-bridge`, i.e.
//! `target/release/sms-bridge` under `cargo bench`); failing that, `target/release` then
//! `target/debug` under `CARGO_TARGET_DIR` or the crate's `target/`. `--no-binary` skips it.
//!
//! Options (`--key=value` after `--`, or the `INBOUND_KEY` environment variable):
//! `n` messages per run of A (20000), `b-n` messages per run of B (2000, see below),
//! `runs` per scenario (3), `portals` (100), `concurrency` of the concurrent variant (8),
//! `txn-size` events per transaction (100), `binary-n` messages for the binary's burst
//! (2000), `no-binary`, `only=a` or `only=b`, and `b-indexes`: a what-if experiment that
//! adds the partial indexes [`PROPOSED_INDEXES`] to B's databases (off by default; the
//! default run measures the schema as it is).
//!
//! B runs on a fresh database each run (with its own 100 portals) and defaults to 2000
//! messages: picking due outbox jobs (`Store::due_out`) costs O(queued × outbox rows)
//! with the current schema, so B slows down with both backlog and history; at 20000 it
//! takes tens of minutes.
//! The database lives in a tempdir under `$TMPDIR` (default /tmp).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sms_bridge::backend::ReceivedSms;
use sms_bridge::backend::test::TestBackend;
use sms_bridge::bridge::Bridge;
use sms_bridge::matrix::{HttpMatrix, MatrixApi};

#[path = "support/stub_hs.rs"]
mod stub_hs;
use stub_hs::{DOMAIN, Stub, StubServer, start_stub};
#[path = "support/bridge.rs"]
mod bridge;
use bridge::{AS_TOKEN, Args, HS_TOKEN, InProcess, OWNER, median};

const LOCAL_NUMBER: &str = "+15550001111";
const BACKEND_ID: &str = "bench";
/// Proposed for `Store::due_out` (not in the schema): the head-of-portal check and the
/// ordered scan of queued jobs become index lookups instead of scans of the whole outbox.
const PROPOSED_INDEXES: &str = "
    CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (portal_id, id) WHERE state IN ('queued', 'sending');
    CREATE INDEX IF NOT EXISTS outbox_queued ON outbox (backend_id, id) WHERE state = 'queued';";
/// Longest any single phase may take before the bench gives up with diagnostics.
const PHASE_TIMEOUT: Duration = Duration::from_secs(900);

// ---------------------------------------------------------------------------------------
// Options

struct Opts {
    n: usize,
    runs: usize,
    portals: usize,
    concurrency: usize,
    txn_size: usize,
    b_n: usize,
    binary_n: usize,
    binary: bool,
    /// `a`, `b` or unset (both).
    only: Option<String>,
    /// What-if: add the partial indexes proposed for `Store::due_out` to B's databases.
    b_indexes: bool,
}

impl Opts {
    fn parse() -> Opts {
        let args = Args::new("INBOUND");
        let get = |key: &str| args.get(key);
        let num = |key: &str, default: usize| args.num(key, default);
        let opts = Opts {
            n: num("n", 20_000),
            runs: num("runs", 3).max(1),
            portals: num("portals", 100).max(1),
            concurrency: num("concurrency", 8).max(2),
            txn_size: num("txn-size", 100).max(1),
            b_n: num("b-n", 2_000),
            binary_n: num("binary-n", 2_000),
            binary: get("no-binary").is_none(),
            only: get("only"),
            b_indexes: get("b-indexes").is_some(),
        };
        assert!(opts.portals <= 10_000, "--portals: at most 10000");
        opts
    }
}

// ---------------------------------------------------------------------------------------
// Stub homeserver

// ---------------------------------------------------------------------------------------
// Helpers

/// The bench's test link (with the control API when `control` is set), as YAML list items.
fn links(control: Option<u16>) -> String {
    let control = control.map(|p| format!("    control: 127.0.0.1:{p}\n")).unwrap_or_default();
    format!(
        "  - id: {BACKEND_ID}\n    type: test\n    number: \"{LOCAL_NUMBER}\"\n    delivery_reports: true\n{control}"
    )
}

fn config_yaml(hs: SocketAddr, as_port: u16, db: &Path, control: Option<u16>) -> String {
    bridge::config_yaml(hs, as_port, db, &links(control))
}

fn phone(k: usize) -> String {
    format!("+1202555{k:04}")
}

fn sms(i: usize, portals: usize) -> ReceivedSms {
    let k = i % portals;
    ReceivedSms {
        from: phone(k),
        to: String::new(),
        text: format!("Bench message {i} from {k}: are we still on for lunch tomorrow at noon?"),
        timestamp_ms: Some(1_700_000_000_000 + i as i64),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// `VmRSS` and `VmHWM` (peak) of a process, in KiB.
fn rss_kib(pid: &str) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// [`bridge::wait_until`] with [`PHASE_TIMEOUT`].
async fn wait_until(what: &str, done: impl FnMut() -> bool, diag: impl Fn() -> String) {
    bridge::wait_until(what, PHASE_TIMEOUT, done, diag).await
}

/// One line of the summary: a rate measured `runs` times.
struct Row {
    name: String,
    rates: Vec<f64>,
    note: String,
}

impl Row {
    fn new(name: &str, note: &str) -> Row {
        Row { name: name.into(), rates: Vec::new(), note: note.into() }
    }
    fn median(&self) -> f64 {
        median(&self.rates)
    }
    fn print(&self) {
        let min = self.rates.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self.rates.iter().copied().fold(0.0, f64::max);
        println!(
            "  {:<44} {:>10.0} {:>10.0} {:>10.0} {:>4}   {}",
            self.name,
            self.median(),
            min,
            max,
            self.rates.len(),
            self.note
        );
    }
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

// ---------------------------------------------------------------------------------------
// The in-process bridge

struct Harness {
    bridge: Arc<Bridge>,
    backend: Arc<TestBackend>,
    stub: Stub,
    stub_addr: SocketAddr,
    as_addr: SocketAddr,
    db: PathBuf,
    /// Read-only connection for polling the outbox without the bridge's store mutex.
    reader: Mutex<rusqlite::Connection>,
    /// The bridge's workers and the appservice server: aborted on drop.
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _stub_server: StubServer,
}

impl Drop for Harness {
    /// Stops everything, so a finished harness does not count in later runs' CPU or RSS.
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Harness {
    async fn start(dir: &Path, extra_sql: Option<&str>) -> Harness {
        let b = InProcess::start(dir, &links(None), extra_sql).await;
        let reader =
            rusqlite::Connection::open_with_flags(&b.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("reader");
        Harness {
            bridge: b.bridge,
            backend: b.tests[0].clone(),
            stub: b.stub,
            stub_addr: b.stub_addr,
            as_addr: b.as_addr,
            db: b.db,
            reader: Mutex::new(reader),
            tasks: b.tasks,
            _stub_server: b.stub_server,
        }
    }

    /// Problems a run must not have: duplicate sends, dead jobs, requests the stub did not know.
    fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let dups = self.stub.duplicates.load(Ordering::Relaxed);
        if dups > 0 {
            p.push(format!("{dups} duplicate sms-in sends"));
        }
        let unknown = self.stub.unknown.load(Ordering::Relaxed);
        if unknown > 0 {
            p.push(format!("{unknown} unknown requests at the stub"));
        }
        match self.bridge.queue_counts() {
            Ok(q) if q.iter().any(|(_, dead)| *dead > 0) => {
                p.push(format!("dead jobs (outbox, inbox, matrix_out): {q:?}"))
            }
            Ok(_) => {}
            Err(e) => p.push(format!("queue counts: {e}")),
        }
        p
    }

    fn diag(&self) -> String {
        let s = &self.stub;
        format!(
            "stub: sms_in={} dup={} other_msgs={} statuses={} rooms={} unknown={}; queues (waiting, dead) outbox/inbox/matrix_out = {:?}",
            s.sms_in.load(Ordering::Relaxed),
            s.duplicates.load(Ordering::Relaxed),
            s.other_messages.load(Ordering::Relaxed),
            s.statuses.load(Ordering::Relaxed),
            s.rooms.load(Ordering::Relaxed),
            s.unknown.load(Ordering::Relaxed),
            self.bridge.queue_counts()
        )
    }

    /// (outbox rows, outbox rows still queued or sending).
    fn outbox(&self) -> (u64, u64) {
        let c = self.reader.lock().unwrap();
        let rows: Option<i64> = c.query_row("SELECT max(id) FROM outbox", [], |r| r.get(0)).expect("outbox rows");
        let waiting: i64 = c
            .query_row(
                "SELECT count(*) FROM outbox WHERE backend_id = ?1 AND state IN ('queued', 'sending')",
                [BACKEND_ID],
                |r| r.get(0),
            )
            .expect("outbox waiting");
        (rows.unwrap_or(0) as u64, waiting as u64)
    }

    async fn wait_sms_in(&self, target: u64) {
        let stub = self.stub.clone();
        wait_until(
            "SMS to reach the stub homeserver",
            || stub.sms_in.load(Ordering::Acquire) >= target,
            || self.diag(),
        )
        .await;
    }

    /// One SMS from each number, so every later message finds its portal and ghost.
    async fn warm_up(&self, portals: usize) -> Duration {
        let start = Instant::now();
        let base = self.stub.sms_in.load(Ordering::Acquire);
        for k in 0..portals {
            self.backend.inject(sms(k, portals)).expect("inject");
        }
        self.wait_sms_in(base + portals as u64).await;
        start.elapsed()
    }

    /// Scenario A: returns (inject phase, until the stub has all).
    async fn sms_to_matrix(&self, n: usize, portals: usize, concurrency: usize) -> (Duration, Duration) {
        let base = self.stub.sms_in.load(Ordering::Acquire);
        let start = Instant::now();
        if concurrency <= 1 {
            for i in 0..n {
                self.backend.inject(sms(i, portals)).expect("inject");
                // A link's task awaits its socket between messages; let the workers run.
                tokio::task::yield_now().await;
            }
        } else {
            let tasks: Vec<_> = (0..concurrency)
                .map(|t| {
                    let backend = self.backend.clone();
                    tokio::spawn(async move {
                        for i in (t..n).step_by(concurrency) {
                            backend.inject(sms(i, portals)).expect("inject");
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("inject task");
            }
        }
        let injected = start.elapsed();
        self.wait_sms_in(base + n as u64).await;
        (injected, start.elapsed())
    }

    /// Scenario B: returns (PUT phase, outbox holds all, link sent all, stub has all statuses).
    async fn matrix_to_sms(&self, run: usize, n: usize, txn_size: usize, rooms: &[String]) -> [Duration; 4] {
        let http = reqwest::Client::new();
        let (rows0, _) = self.outbox();
        let statuses0 = self.stub.statuses.load(Ordering::Acquire);
        let now = 1_700_000_000_000u64;
        // Built before the clock starts: the homeserver's work, not ours.
        let bodies: Vec<(String, Vec<u8>)> = (0..n)
            .collect::<Vec<_>>()
            .chunks(txn_size)
            .enumerate()
            .map(|(t, chunk)| {
                let events: Vec<Value> = chunk
                    .iter()
                    .map(|&i| {
                        json!({
                            "type": "m.room.message",
                            "room_id": rooms[i % rooms.len()],
                            "sender": OWNER,
                            "event_id": format!("$bench_{run}_{i}"),
                            "origin_server_ts": now + i as u64,
                            "content": { "msgtype": "m.text", "body": format!("Reply {i}: sounds good, see you there!") },
                            "unsigned": { "age": 12 },
                        })
                    })
                    .collect();
                let url = format!("http://{}/_matrix/app/v1/transactions/bench_{run}_{t}", self.as_addr);
                (url, serde_json::to_vec(&json!({ "events": events })).expect("json"))
            })
            .collect();

        let start = Instant::now();
        for (url, body) in bodies {
            let resp = http
                .put(&url)
                .bearer_auth(HS_TOKEN)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("PUT transaction");
            assert!(resp.status().is_success(), "transaction refused: {}", resp.status());
        }
        let put = start.elapsed();
        let target = rows0 + n as u64;
        let mut queued = None;
        let mut sent = None;
        wait_until(
            "the outbox to be filled and sent",
            || {
                let (rows, waiting) = self.outbox();
                if rows >= target && queued.is_none() {
                    queued = Some(start.elapsed());
                }
                if rows >= target && waiting == 0 {
                    sent = Some(start.elapsed());
                }
                sent.is_some()
            },
            || format!("outbox {:?} (target rows {target}); {}", self.outbox(), self.diag()),
        )
        .await;
        let stub = self.stub.clone();
        wait_until(
            "status events to reach the stub",
            || stub.statuses.load(Ordering::Acquire) >= statuses0 + 2 * n as u64,
            || self.diag(),
        )
        .await;
        [put, queued.expect("queued"), sent.expect("sent"), start.elapsed()]
    }
}

// ---------------------------------------------------------------------------------------
// References

/// Insert+commit of an inbox-sized row, one transaction each, with the store's pragmas.
fn sqlite_reference(dir: &Path, n: usize) -> f64 {
    let path = dir.join("reference.db");
    let c = rusqlite::Connection::open(&path).expect("reference db");
    c.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
         CREATE TABLE t (id INTEGER PRIMARY KEY, backend_id TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
                         state TEXT NOT NULL DEFAULT 'new', next_attempt_at INTEGER NOT NULL, received_at INTEGER NOT NULL);
         CREATE INDEX t_due ON t (state, next_attempt_at);",
    )
    .expect("reference schema");
    let payload = serde_json::to_string(&json!({ "kind": "sms", "from": phone(1), "to": LOCAL_NUMBER,
        "text": "Bench message 12345 from 1: are we still on for lunch tomorrow at noon?", "timestamp_ms": 1_700_000_000_000i64 }))
    .expect("json");
    let start = Instant::now();
    for i in 0..n as i64 {
        c.execute(
            "INSERT INTO t (backend_id, kind, payload, next_attempt_at, received_at) VALUES ('bench', 'sms', ?1, ?2, ?2)",
            rusqlite::params![payload, i],
        )
        .expect("reference insert");
    }
    let r = rate(n, start.elapsed());
    drop(c);
    let _ = std::fs::remove_file(&path);
    r
}

/// Sequential sends to the stub: raw reqwest PUTs and `HttpMatrix::send` (ruma + reqwest).
async fn http_reference(stub: SocketAddr, n: usize) -> (f64, f64) {
    let http = reqwest::Client::new();
    let room = format!("!room1:{DOMAIN}");
    let body = serde_json::to_vec(
        &json!({ "msgtype": "m.text", "body": "reference message of a typical SMS length, more or less" }),
    )
    .expect("json");
    let start = Instant::now();
    for i in 0..n {
        let url = format!(
            "http://{stub}/_matrix/client/v3/rooms/%21room1%3A{DOMAIN}/send/m.room.message/ref-raw-{i}?user_id=%40sms_12025550001%3A{DOMAIN}"
        );
        let resp = http.put(&url).bearer_auth(AS_TOKEN).body(body.clone()).send().await.expect("reference PUT");
        assert!(resp.status().is_success());
        resp.bytes().await.expect("reference body");
    }
    let raw = rate(n, start.elapsed());
    let matrix = HttpMatrix::new(&format!("http://{stub}"), AS_TOKEN);
    let ghost = format!("@sms_12025550001:{DOMAIN}");
    let content = json!({ "msgtype": "m.text", "body": "reference message of a typical SMS length, more or less" });
    let start = Instant::now();
    for i in 0..n {
        matrix
            .send(&ghost, &room, &format!("ref-hm-{i}"), "m.room.message", &content, Some(1_700_000_000_000))
            .await
            .expect("reference send");
    }
    (raw, rate(n, start.elapsed()))
}

/// All three reference rates: (SQLite commits/s, raw reqwest sends/s, HttpMatrix sends/s).
async fn references(dir: &Path, stub: SocketAddr, n: usize) -> (f64, f64, f64) {
    let d = dir.to_path_buf();
    let sqlite = tokio::task::spawn_blocking(move || sqlite_reference(&d, n)).await.expect("sqlite reference");
    let (raw, hm) = http_reference(stub, n).await;
    (sqlite, raw, hm)
}

// ---------------------------------------------------------------------------------------
// The real binary

fn locate_binary() -> Option<(PathBuf, &'static str)> {
    if let Some(p) = option_env!("CARGO_BIN_EXE_sms-bridge") {
        let p = PathBuf::from(p);
        if p.exists() {
            return Some((p, "CARGO_BIN_EXE_sms-bridge"));
        }
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    ["release", "debug"]
        .into_iter()
        .map(|profile| target.join(profile).join("sms-bridge"))
        .find(|p| p.exists())
        .map(|p| (p, "target dir"))
}

struct BinaryReport {
    path: PathBuf,
    found_by: &'static str,
    startup: Duration,
    idle: (u64, u64),
    burst: Option<(usize, f64)>,
    after_burst: (u64, u64),
    exit: String,
}

async fn run_binary(dir: &Path, burst: usize, portals: usize) -> Result<BinaryReport, String> {
    let (path, found_by) = locate_binary().ok_or("no sms-bridge binary: run `cargo build --release` first")?;
    let stub_server = start_stub();
    let (stub_addr, stub) = (stub_server.addr, stub_server.stats.clone());
    let (as_port, control) = (free_port(), free_port());
    let db = dir.join("binary.db");
    let cfg = dir.join("binary.yaml");
    std::fs::write(&cfg, config_yaml(stub_addr, as_port, &db, Some(control))).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.join("binary.log")).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut child = Command::new(&path)
        .arg("-c")
        .arg(&cfg)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let pid = child.id().to_string();
    let log_tail = || std::fs::read_to_string(dir.join("binary.log")).unwrap_or_default();

    // Started: the capabilities call comes after the ping, just before the links start.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stub.capabilities.load(Ordering::Acquire) == 0 || stub.pings.load(Ordering::Acquire) == 0 {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("sms-bridge exited early ({status}):\n{}", log_tail()));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!("sms-bridge did not start within 30 s:\n{}", log_tail()));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let startup = start.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_kib(&pid);

    let burst_result = if burst > 0 {
        let http = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{control}/inject");
        // Portals first, as in scenario A.
        let inject = |i: usize| {
            let s = sms(i, portals);
            http.post(&url).json(&json!({ "from": s.from, "text": s.text, "timestamp_ms": s.timestamp_ms })).send()
        };
        for k in 0..portals {
            let r = inject(k).await.map_err(|e| format!("control API: {e}"))?;
            if !r.status().is_success() {
                return Err(format!("control API: {}", r.status()));
            }
        }
        let wait = |target: u64| {
            let stub = stub.clone();
            async move {
                wait_until(
                    "the binary's SMS to reach its stub",
                    || stub.sms_in.load(Ordering::Acquire) >= target,
                    &log_tail,
                )
                .await
            }
        };
        wait(portals as u64).await;
        let t = Instant::now();
        for i in 0..burst {
            let r = inject(i).await.map_err(|e| format!("control API: {e}"))?;
            if !r.status().is_success() {
                return Err(format!("control API: {}", r.status()));
            }
        }
        wait((portals + burst) as u64).await;
        Some((burst, rate(burst, t.elapsed())))
    } else {
        None
    };
    let after_burst = rss_kib(&pid);

    let _ = Command::new("kill").arg("-TERM").arg(&pid).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        match child.try_wait() {
            Ok(Some(status)) => break format!("{status} after SIGTERM"),
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break "did not exit within 10 s of SIGTERM; killed".to_string();
            }
            Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => break format!("wait: {e}"),
        }
    };
    Ok(BinaryReport { path, found_by, startup, idle, burst: burst_result, after_burst, exit })
}

// ---------------------------------------------------------------------------------------

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
        "inbound bench: n={} b-n={}{} runs={} portals={} concurrency={} txn-size={} cores={cores} tmp={}",
        opts.n,
        opts.b_n,
        if opts.b_indexes { " (WHAT-IF: proposed outbox indexes added)" } else { "" },
        opts.runs,
        opts.portals,
        opts.concurrency,
        opts.txn_size,
        dir.path().display()
    );

    let run_a = opts.only.as_deref() != Some("b");
    let run_b = opts.only.as_deref() != Some("a");
    let h = Harness::start(&dir.path().join("a"), None).await;
    println!("stub homeserver http://{}, appservice http://{}, database {}", h.stub_addr, h.as_addr, h.db.display());

    let ref_n = opts.n.clamp(1_000, 5_000);
    let mut sqlite_ref = Row::new("ref: SQLite insert+commit (sync=FULL)", "one row per commit, inbox-sized");
    let mut raw_ref = Row::new("ref: reqwest PUT send → stub, sequential", "raw HTTP round trip");
    let mut hm_ref = Row::new("ref: HttpMatrix::send → stub, sequential", "ruma + reqwest");

    let warm = h.warm_up(opts.portals).await;
    println!(
        "warm-up: {} portals created in {:.2} s ({:.0} portals/s)",
        opts.portals,
        warm.as_secs_f64(),
        rate(opts.portals, warm)
    );

    let mut a_seq = Row::new("A  SMS→Matrix, 1 injecting task", "inject → stub has all (end to end)");
    let mut a_seq_inject = Row::new("A  … inject phase alone, 1 task", "inbox commits/s while draining");
    let mut a_conc = Row::new(&format!("A' SMS→Matrix, {} injecting tasks", opts.concurrency), "end to end");
    let mut a_conc_inject = Row::new(&format!("A' … inject phase alone, {} tasks", opts.concurrency), "");
    let mut b_put = Row::new("B  Matrix→SMS, transactions accepted", "PUT phase (200 = committed)");
    let mut b_queued = Row::new("B  … outbox holds all N jobs", "from first PUT");
    let mut b_sent = Row::new("B  … TestBackend sent all N", "from first PUT");
    let mut b_status = Row::new("B  … stub has all 2N status events", "PENDING + SUCCESS per message");

    let mut problems = Vec::new();
    for run in 0..opts.runs {
        let (sqlite, raw, hm) = references(dir.path(), h.stub_addr, ref_n).await;
        sqlite_ref.rates.push(sqlite);
        raw_ref.rates.push(raw);
        hm_ref.rates.push(hm);
        let mut line = format!("run {}: refs sqlite {sqlite:.0}/s http {hm:.0}/s", run + 1);

        if run_a {
            let (inj, total) = h.sms_to_matrix(opts.n, opts.portals, 1).await;
            a_seq.rates.push(rate(opts.n, total));
            a_seq_inject.rates.push(rate(opts.n, inj));
            let (inj, total) = h.sms_to_matrix(opts.n, opts.portals, opts.concurrency).await;
            a_conc.rates.push(rate(opts.n, total));
            a_conc_inject.rates.push(rate(opts.n, inj));
            line += &format!("; A {:.0}/s, A' {:.0}/s", a_seq.rates[run], a_conc.rates[run]);
        }

        if run_b {
            // A fresh database each run: outbox history slows B down (see the module docs).
            let extra = opts.b_indexes.then_some(PROPOSED_INDEXES);
            let hb = Harness::start(&dir.path().join(format!("b{run}")), extra).await;
            hb.warm_up(opts.portals).await;
            let rooms: Vec<String> =
                hb.bridge.store.portals(None).expect("portals").into_iter().filter_map(|p| p.room_id).collect();
            assert_eq!(rooms.len(), opts.portals, "portals after warm-up");
            let [put, queued, sent, status] = hb.matrix_to_sms(run, opts.b_n, opts.txn_size, &rooms).await;
            b_put.rates.push(rate(opts.b_n, put));
            b_queued.rates.push(rate(opts.b_n, queued));
            b_sent.rates.push(rate(opts.b_n, sent));
            b_status.rates.push(rate(opts.b_n, status));
            line += &format!("; B queued {:.0}/s sent {:.0}/s", b_queued.rates[run], b_sent.rates[run]);
            problems.extend(hb.problems().into_iter().map(|p| format!("B run {}: {p}", run + 1)));
        }
        println!("{line}; VmHWM {}", mib(rss_kib("self").1));
    }
    problems.extend(h.problems().into_iter().map(|p| format!("A: {p}")));
    let (_, bench_peak) = rss_kib("self");

    let binary = if opts.binary { Some(run_binary(dir.path(), opts.binary_n, opts.portals).await) } else { None };

    println!();
    println!("== inbound bench summary (messages/s; median of {} runs) ==", opts.runs);
    println!("  {:<44} {:>10} {:>10} {:>10} {:>4}", "", "median", "min", "max", "runs");
    for row in [&a_seq, &a_seq_inject, &a_conc, &a_conc_inject, &b_put, &b_queued, &b_sent, &b_status] {
        if !row.rates.is_empty() {
            row.print();
        }
    }
    for row in [&sqlite_ref, &raw_ref, &hm_ref] {
        row.print();
    }
    println!();
    println!("ratios (medians; compare these across machines; NaN = scenario not run):");
    let ratio = |a: &Row, b: &Row| a.median() / b.median();
    println!(
        "  A  / HttpMatrix::send ref   = {:.3}   (1.0 = one sequential HTTP send per SMS and nothing else)",
        ratio(&a_seq, &hm_ref)
    );
    println!("  A  / SQLite commit ref      = {:.3}", ratio(&a_seq, &sqlite_ref));
    println!("  A' / A                      = {:.3}", ratio(&a_conc, &a_seq));
    println!("  B sent / SQLite commit ref  = {:.3}", ratio(&b_sent, &sqlite_ref));
    println!("  B queued / SQLite commit ref = {:.3}", ratio(&b_queued, &sqlite_ref));
    println!(
        "target ≥ 2000 SMS→Matrix msgs/s: A median {:.0} → {}",
        a_seq.median(),
        if a_seq.median() >= 2000.0 { "met" } else { "NOT met" }
    );
    if problems.is_empty() {
        println!("checks: no duplicate sends, no dead jobs, no unknown requests at the stub");
    } else {
        println!("checks FAILED: {}", problems.join("; "));
    }
    println!("bench process peak RSS (VmHWM, bridge + stub + reference clients, in one process): {}", mib(bench_peak));
    match binary {
        None => println!("sms-bridge binary: skipped (--no-binary)"),
        Some(Err(e)) => println!("sms-bridge binary: FAILED: {e}"),
        Some(Ok(b)) => {
            println!("sms-bridge binary: {} (found via {})", b.path.display(), b.found_by);
            println!("  started (ping + capabilities seen by stub) in {:.2} s", b.startup.as_secs_f64());
            println!(
                "  idle 2 s after start: VmRSS {}  VmHWM {}   (target idle RSS ≤ 20 MB: {})",
                mib(b.idle.0),
                mib(b.idle.1),
                if b.idle.0 * 1024 <= 20_000_000 { "met" } else { "NOT met" }
            );
            if let Some((n, r)) = b.burst {
                println!("  burst of {n} SMS via the control API (HTTP inject, sequential): {r:.0} msgs/s end to end");
            }
            println!("  after the burst: VmRSS {}  VmHWM {}", mib(b.after_burst.0), mib(b.after_burst.1));
            println!("  exit: {}", b.exit);
        }
    }
}
