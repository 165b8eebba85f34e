//! The application gateway against Kannel, like for like: the same `sendsms` load through
//! our gateway and through Kannel's smsbox, each message then a `submit_sm` accepted by the
//! same loopback SMSC (the `smpp34` crate's server, in this process), window 10. Also our
//! JSON API (`POST /api/v1/messages`) under the same load.
//!
//! ```text
//! apt-get install -y kannel                   # optional: without it the Kannel rows are skipped
//! cargo bench --bench gateway                 # n=10000, runs=3, clients=8
//! cargo bench --bench gateway -- --n=5000 --runs=5 --clients=8 --no-kannel
//! cargo bench --bench gateway -- --on-first     # policy and audit on before off
//! cargo bench --bench gateway -- --on=audit     # or --on=policy: the cost of one alone
//! cargo bench --bench gateway -- --rounds=3     # 3 processes of each, off and on alternately
//! GATEWAY_BENCH_N=5000 GATEWAY_BENCH_NO_KANNEL=1 cargo bench --bench gateway
//! ```
//!
//! - **Load**: `n` `GET /cgi-bin/sendsms?username=…&password=…&from=…&text=…&to=…` over
//!   `clients` HTTP/1.1 keep-alive connections, one thread each, each sending its next
//!   request when the previous one is answered (`kannel::send_sendsms`, the client the SMPP
//!   bench uses for Kannel). The recipients cycle through 100 numbers; a warm-up of 200
//!   messages before the timed runs makes their portals (ours) and fills caches (both).
//! - **Throughput**: `n` ÷ (the time the SMSC accepted the run's `n`-th `submit_sm` − the
//!   instant before the first connection of the run is opened). Both gateways are timed
//!   by the same clock in this process, from the same two points.
//! - **CPU per message**: user + system time of the gateway's processes (the bridge;
//!   bearerbox + smsbox) over the run, ÷ `n`. Read twice: when the SMSC has the last
//!   `submit_sm`, and once the process has settled (ours: the copy of every message in its
//!   portal has reached the stub homeserver; both: then 300 ms more).
//! - **Policy and audit**: our gateway runs twice, each in a fresh process and database:
//!   with `policy:` caps off and `audit.enabled: false`, then with the audit log on and a
//!   policy every message is checked against (country allow/block lists, `no_split`,
//!   `max_parts`, a sender per country, caps high enough that none refuses but each counts
//!   its number's messages). The issue's target: on costs ≤ 10% of the throughput.
//! - **Peak RSS**: `VmHWM` of the bridge; of bearerbox + smsbox. Also the peak of private
//!   memory (`RssAnon`, sampled every 20 ms), which leaves out the libraries' pages.
//!
//! Ours is the release `sms-bridge` binary in its own process (so that its CPU and memory
//! are its own, as Kannel's are), with a `type: smpp` link and a `gateway:` section on a
//! free loopback port; its Matrix side is the stub homeserver in this process. Every
//! accepted message is committed to SQLite (`synchronous=FULL`, WAL) before the 202: the
//! outbox row, the API message and the copy for the portal. The copies (an `m.notice` in
//! each recipient's portal, by the bot) go to the stub; they are not part of the
//! throughput, which ends at the SMSC, but their CPU is in the settled figure.
//!
//! The bench process (HTTP clients, SMSC, stub homeserver) shares the machine's cores with
//! the gateway under test, for both gateways alike.

#[path = "support/bridge.rs"]
mod bridge;
#[path = "support/kannel.rs"]
mod kannel;
#[path = "support/procstat.rs"]
mod procstat;
#[path = "../tests/common/smsc.rs"]
#[allow(dead_code)]
mod smsc;
#[path = "support/stub_hs.rs"]
mod stub_hs;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bridge::{Args, median};
use procstat::{AnonPeak, cpu_seconds, vm_hwm_kib};
use smsc::{PASSWORD, SYSTEM_ID, Smsc};
use stub_hs::{DOMAIN, StubStats, start_stub};

const OWNER: &str = "@owner:bench.test";
const NUMBER: &str = "+15550001111";
const WINDOW: u32 = 10;
const TEXT: &str = "Reply: sounds good, see you there!";
/// 100 recipients, cycled.
const TO: &str = "+12025550##";
const WARMUP: usize = 200;
const USER: &str = "bench";
const USER_PASSWORD: &str = "bench-pw";
const TOKEN: &str = "bench-token-0123456789abcdef";

struct Opts {
    n: usize,
    runs: usize,
    clients: usize,
    kannel: bool,
    /// Run ours with policy and audit on first (the order, swapped, shows its bias).
    on_first: bool,
    /// Processes of each kind, off and on alternately (drift on a noisy machine then
    /// weighs on both alike); the medians are over all their runs.
    rounds: usize,
    /// What the second run turns on: `both` (the target's), `policy` or `audit` alone.
    on: &'static str,
}

fn opts() -> Opts {
    let a = Args::new("GATEWAY_BENCH");
    Opts {
        n: a.num("n", 10_000),
        runs: a.num("runs", 3),
        clients: a.num("clients", 8),
        kannel: a.get("no-kannel").is_none_or(|v| v == "0"),
        on_first: a.get("on-first").is_some_and(|v| v != "0"),
        rounds: a.num("rounds", 1),
        on: match a.get("on").as_deref() {
            None | Some("both") => "both",
            Some("policy") => "policy",
            Some("audit") => "audit",
            Some(other) => panic!("--on={other}: expected both, policy or audit"),
        },
    }
}

/// One timed run.
struct Run {
    /// Messages per second, first connection → n-th submit_sm at the SMSC.
    rate: f64,
    /// From the first connection to the last HTTP answer.
    http: Duration,
    /// CPU µs per message when the SMSC had them all.
    cpu_us: f64,
    /// CPU µs per message once settled.
    cpu_settled_us: f64,
}

impl Run {
    fn print(&self, name: &str, i: usize) {
        println!(
            "  {name} run {}: {:.0} msg/s (HTTP answered in {:.2} s), CPU {:.0} µs/msg, {:.0} settled",
            i + 1,
            self.rate,
            self.http.as_secs_f64(),
            self.cpu_us,
            self.cpu_settled_us
        );
    }
}

/// The rows of one gateway: runs, then medians.
struct Rows {
    name: &'static str,
    runs: Vec<Run>,
    rss_mib: f64,
    anon_mib: f64,
}

impl Rows {
    /// These runs and `other`'s (another process of the same kind), its peak if higher.
    fn merged(mut self, other: Rows) -> Rows {
        self.runs.extend(other.runs);
        self.rss_mib = self.rss_mib.max(other.rss_mib);
        self.anon_mib = self.anon_mib.max(other.anon_mib);
        self
    }
    fn rate(&self) -> f64 {
        median(&self.runs.iter().map(|r| r.rate).collect::<Vec<_>>())
    }
    fn cpu(&self) -> f64 {
        median(&self.runs.iter().map(|r| r.cpu_us).collect::<Vec<_>>())
    }
    fn cpu_settled(&self) -> f64 {
        median(&self.runs.iter().map(|r| r.cpu_settled_us).collect::<Vec<_>>())
    }
    fn print(&self) {
        println!(
            "{:<16} median {:>6.0} msg/s   CPU {:>4.0} µs/msg at the last submit_sm, {:>4.0} settled   \
             peak RSS {:>5.1} MiB (private {:>5.1})",
            self.name,
            self.rate(),
            self.cpu(),
            self.cpu_settled(),
            self.rss_mib,
            self.anon_mib
        );
    }
}

/// Which HTTP API the load uses.
#[derive(Clone, Copy)]
enum Api {
    Sendsms { user: &'static str, password: &'static str },
    Json,
}

fn load(addr: SocketAddr, api: Api, n: usize, clients: usize) -> kannel::SendReport {
    let r = match api {
        Api::Sendsms { user, password } => kannel::send_sendsms(addr, user, password, n, NUMBER, TO, TEXT, clients),
        Api::Json => {
            let head = format!(
                "POST /api/v1/messages HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
                 Content-Type: application/json\r\nConnection: keep-alive\r\n"
            );
            kannel::load(
                addr,
                n,
                clients,
                |i, req| {
                    let body = format!(r#"{{"to":"{}","text":"{TEXT}"}}"#, kannel::recipient(TO, i));
                    req.push_str(&head);
                    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
                },
                |status, body| (status == 202 && body.contains("\"id\"")).then_some(kannel::Answer::Accepted),
            )
        }
    };
    let r = r.unwrap_or_else(|e| panic!("load: {e}"));
    assert_eq!((r.accepted, r.queued), (n, 0), "every request accepted, none only queued");
    r
}

/// Sends `n` through `api` at `addr` and times it at the SMSC; `pids` are the gateway's
/// processes; `settled` is true once the gateway's after-work for the run is done.
async fn run(
    smsc: &Arc<Smsc>,
    addr: SocketAddr,
    api: Api,
    n: usize,
    clients: usize,
    pids: &[u32],
    settled: impl Fn() -> bool,
) -> Run {
    let cpu = || pids.iter().map(|&p| cpu_seconds(p)).sum::<f64>();
    let base = smsc.handler.accepted.lock().unwrap().len();
    let cpu0 = cpu();
    // The SMSC stamps each submit_sm with tokio's clock.
    let t0 = tokio::time::Instant::now();
    let report = tokio::task::spawn_blocking(move || load(addr, api, n, clients)).await.unwrap();
    let accepted = || smsc.handler.accepted.lock().unwrap().len();
    bridge::wait_until(
        "the SMSC to accept every submit_sm",
        Duration::from_secs(600),
        || accepted() >= base + n,
        || format!("{} of {n}", accepted() - base),
    )
    .await;
    let cpu_at = cpu();
    let last = smsc.handler.accepted.lock().unwrap()[base + n - 1].at;
    bridge::wait_until("the gateway to settle", Duration::from_secs(600), &settled, String::new).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cpu_settled = cpu();
    let rate = n as f64 / (last - t0).as_secs_f64();
    Run {
        rate,
        http: report.elapsed,
        cpu_us: (cpu_at - cpu0) * 1e6 / n as f64,
        cpu_settled_us: (cpu_settled - cpu0) * 1e6 / n as f64,
    }
}

struct BridgeProc(Child);

impl Drop for BridgeProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `policy:` and `audit:` sections: off (no caps, no log), or on (`both`, `policy` or
/// `audit`) with rules every message is checked against and none refuses (the caps high
/// enough for the run, so every message counts its number's messages of the last hour and
/// day).
fn policy_config(on: Option<&str>) -> String {
    let policy = "policy:\n  caps:\n    per_hour: 1000000\n    per_day: 10000000\n  countries:\n    allow: [US, CA, GB]\n    block: [CU]\n    no_split: [GB]\n    max_parts: { US: 3 }\n    senders: { \"*\": \"+15550001111\" }\n";
    let no_policy = "policy:\n  caps:\n    per_hour: 0\n    per_day: 0\n";
    let (policy, audit) = match on {
        Some("both") => (policy, true),
        Some("policy") => (policy, false),
        Some("audit") => (no_policy, true),
        _ => (no_policy, false),
    };
    format!("{policy}audit:\n  enabled: {audit}\n")
}

fn start_bridge(dir: &Path, hs: SocketAddr, smsc_port: u16, gateway: SocketAddr, policy: Option<&str>) -> BridgeProc {
    std::fs::create_dir_all(dir).unwrap();
    let as_port = free_port();
    let config = format!(
        r#"homeserver:
  address: http://{hs}
  domain: {DOMAIN}
appservice:
  address: http://127.0.0.1:{as_port}
  hostname: 127.0.0.1
  port: {as_port}
  as_token: bench_as_token
  hs_token: bench_hs_token
database:
  path: "{db}"
bridge:
  permissions:
    "{OWNER}": admin
backends:
  - id: smsc
    type: smpp
    number: "{NUMBER}"
    host: 127.0.0.1
    port: {smsc_port}
    system_id: {SYSTEM_ID}
    password: {PASSWORD}
    window: {WINDOW}
    registered_delivery: false
gateway:
  listen: {gateway}
  users:
    - username: {USER}
      password: {USER_PASSWORD}
      token: {TOKEN}
{policy}logging:
  level: warn
"#,
        db = dir.join("bridge.db").display(),
        policy = policy_config(policy),
    );
    let path = dir.join("config.yaml");
    std::fs::write(&path, config).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sms-bridge"))
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting the bridge binary");
    BridgeProc(child)
}

/// The sendsms and JSON rows of our gateway.
type Pair = (Rows, Rows);

/// Our gateway's rows, with `on` (see [`policy_config`]) or with policy and audit off.
async fn ours(o: &Opts, dir: &Path, smsc: &Arc<Smsc>, on: Option<&str>, round: usize) -> (Rows, Rows) {
    let stub = start_stub();
    let gateway = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let dir = dir.join(format!("{}-{round}", if on.is_some() { "policy-on" } else { "policy-off" }));
    let bridge = start_bridge(&dir, stub.addr, smsc.port, gateway, on);
    let pid = bridge.0.id();
    smsc.wait_bound(Duration::from_secs(30)).await;
    bridge::wait_until(
        "the gateway to listen",
        Duration::from_secs(30),
        || std::net::TcpStream::connect(gateway).is_ok(),
        String::new,
    )
    .await;
    let anon = AnonPeak::start(vec![pid]);
    let copies = |s: &StubStats| s.other_messages.load(Ordering::Acquire) as usize;
    let sendsms = Api::Sendsms { user: USER, password: USER_PASSWORD };
    let stats = stub.stats.clone();
    let copied_all = |want: usize| {
        let stats = stats.clone();
        move || copies(&stats) >= want
    };

    let mut sent = 0;
    let mut rows = Vec::new();
    // One process: the JSON rows' peak memory includes the sendsms runs before them.
    let names = match on {
        Some("policy") => ["ours+policy only: sendsms", "ours+policy only: JSON"],
        Some("audit") => ["ours+audit only: sendsms", "ours+audit only: JSON"],
        Some(_) => ["ours+policy: sendsms", "ours+policy: JSON"],
        None => ["ours: sendsms", "ours: JSON API"],
    };
    for (api, name) in [(sendsms, names[0]), (Api::Json, names[1])] {
        let warm = run(smsc, gateway, api, WARMUP, o.clients, &[pid], copied_all(sent + WARMUP)).await;
        sent += WARMUP;
        println!("  {name}: warm-up {WARMUP} ({:.0}/s)", warm.rate);
        let mut r = Rows { name, runs: Vec::new(), rss_mib: 0.0, anon_mib: 0.0 };
        for i in 0..o.runs {
            let one = run(smsc, gateway, api, o.n, o.clients, &[pid], copied_all(sent + o.n)).await;
            sent += o.n;
            one.print(name, i);
            r.runs.push(one);
        }
        r.rss_mib = vm_hwm_kib(pid) as f64 / 1024.0;
        r.anon_mib = anon.mib();
        rows.push(r);
    }
    anon.stop_mib();
    assert_eq!(stub.stats.duplicates.load(Ordering::Relaxed), 0, "a portal copy sent twice");
    drop(bridge);
    let json = rows.pop().unwrap();
    (rows.pop().unwrap(), json)
}

async fn kannel_rows(o: &Opts, dir: &Path, smsc: &Arc<Smsc>) -> Option<Rows> {
    if let Err(why) = kannel::Kannel::available() {
        println!("Kannel: skipped ({why})");
        return None;
    }
    let k = kannel::Kannel::start(&dir.join("kannel"), smsc.port, SYSTEM_ID, PASSWORD, WINDOW)
        .unwrap_or_else(|e| panic!("Kannel did not start: {e}"));
    let (bb, sb) = k.pids();
    let pids: Vec<u32> = bb.into_iter().chain(sb).collect();
    let anon = AnonPeak::start(pids.clone());
    let addr = SocketAddr::from(([127, 0, 0, 1], k.sendsms_port()));
    let api = Api::Sendsms { user: kannel::SENDSMS_USER, password: kannel::SENDSMS_PASSWORD };
    let warm = run(smsc, addr, api, WARMUP, o.clients, &pids, || true).await;
    println!("  Kannel: warm-up {WARMUP} ({:.0}/s)", warm.rate);
    let name = "Kannel: sendsms";
    let mut rows = Rows { name, runs: Vec::new(), rss_mib: 0.0, anon_mib: 0.0 };
    for i in 0..o.runs {
        let r = run(smsc, addr, api, o.n, o.clients, &pids, || true).await;
        r.print(name, i);
        rows.runs.push(r);
    }
    let rss = k.peak_rss();
    rows.rss_mib = rss.total() as f64 / 1048576.0;
    rows.anon_mib = anon.stop_mib();
    println!(
        "  Kannel peak RSS: bearerbox {:.1} + smsbox {:.1} MiB",
        rss.bearerbox as f64 / 1048576.0,
        rss.smsbox as f64 / 1048576.0
    );
    k.stop();
    Some(rows)
}

fn on_name(on: &str) -> &'static str {
    match on {
        "policy" => "policy",
        "audit" => "audit",
        _ => "policy+audit",
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let o = opts();
    let dir = tempfile::tempdir().unwrap();
    let smsc = Arc::new(Smsc::start().await);
    smsc.handler.receipts.store(false, Ordering::SeqCst);
    println!(
        "gateway benchmark: n={} runs={} clients={} window={WINDOW}, 100 recipients, warm-up {WARMUP}",
        o.n, o.runs, o.clients
    );
    let (mut off, mut on): (Option<Pair>, Option<Pair>) = (None, None);
    for round in 0..o.rounds {
        // Alternately off then on and on then off, from the order asked for.
        for with in if o.on_first == (round % 2 == 0) { [Some(o.on), None] } else { [None, Some(o.on)] } {
            let rows = ours(&o, dir.path(), &smsc, with, round).await;
            let into = if with.is_some() { &mut on } else { &mut off };
            *into = Some(match into.take() {
                None => rows,
                Some((a, b)) => (a.merged(rows.0), b.merged(rows.1)),
            });
        }
    }
    let ((sendsms, json), (sendsms_on, json_on)) = (off.unwrap(), on.unwrap());
    let kannel = if o.kannel { kannel_rows(&o, dir.path(), &smsc).await } else { None };

    println!();
    sendsms.print();
    json.print();
    sendsms_on.print();
    json_on.print();
    println!();
    for (on, off) in [(&sendsms_on, &sendsms), (&json_on, &json)] {
        println!(
            "{} on/off ({}): throughput {:.3}×, CPU/msg {:.3}× (settled {:.3}×), peak RSS {:.3}×",
            on_name(o.on),
            off.name.split(": ").nth(1).unwrap_or(""),
            on.rate() / off.rate(),
            on.cpu() / off.cpu(),
            on.cpu_settled() / off.cpu_settled(),
            on.rss_mib / off.rss_mib
        );
    }
    let cost = 1.0 - sendsms_on.rate() / sendsms.rate();
    if o.on == "both" {
        println!(
            "target (policy and audit cost ≤ 10% of sendsms throughput): {:.1}% — {}",
            cost * 100.0,
            if cost <= 0.10 { "met" } else { "not met" }
        );
    } else {
        println!("{} alone costs {:.1}% of sendsms throughput", on_name(o.on), cost * 100.0);
    }
    if let Some(k) = &kannel {
        k.print();
        println!();
        println!(
            "ratio ours/Kannel (sendsms): throughput {:.2}×, peak RSS {:.2}×, private {:.2}×, CPU/msg {:.2}× (settled {:.2}×)",
            sendsms.rate() / k.rate(),
            sendsms.rss_mib / k.rss_mib,
            sendsms.anon_mib / k.anon_mib,
            sendsms.cpu() / k.cpu(),
            sendsms.cpu_settled() / k.cpu_settled()
        );
        println!(
            "ratio ours/Kannel (JSON API vs Kannel's sendsms): throughput {:.2}×, peak RSS {:.2}×",
            json.rate() / k.rate(),
            json.rss_mib / k.rss_mib
        );
        let met = sendsms.rate() >= 2.0 * k.rate() && sendsms.rss_mib <= k.rss_mib;
        println!("target (≥ 2× Kannel's throughput at ≤ Kannel's peak RSS): {}", if met { "met" } else { "not met" });
    }
}
