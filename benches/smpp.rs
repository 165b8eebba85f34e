//! SMPP throughput and memory: the bridge and Kannel side by side, against one loopback
//! SMSC (the `smpp34` crate's server, in this process).
//!
//! ```text
//! apt-get install -y kannel                 # optional: without it the Kannel rows are skipped
//! cargo bench --bench smpp                  # n=10000, runs=3
//! cargo bench --bench smpp -- --n=5000 --runs=5 --no-kannel
//! ```
//!
//! - **submit**: Matrix → SMS. The bridge binary (release build, separate process) gets
//!   appservice transactions of 100 `m.room.message` events over HTTP, for 100 portals;
//!   timed from the first PUT until the SMSC has accepted every submit_sm. Kannel gets the
//!   same number of messages through smsbox's HTTP `sendsms` (8 keep-alive clients), timed
//!   until the SMSC has them all. Both: window 10, transceiver, no delivery receipts.
//! - **deliver**: SMS → Matrix. The SMSC sends deliver_sm from 100 numbers on 10 concurrent
//!   tasks; timed until the stub homeserver has every message (bridge only).
//! - **memory**: peak RSS (`VmHWM`) of the bridge process and of bearerbox + smsbox.
//!
//! The bridge commits every message to SQLite with `synchronous=FULL` before it counts as
//! taken; Kannel's file store is flushed but never fsynced.

#[path = "support/kannel.rs"]
mod kannel;
#[path = "support/procstat.rs"]
mod procstat;
#[path = "../tests/common/smsc.rs"]
#[allow(dead_code)]
mod smsc;
#[path = "support/stub_hs.rs"]
mod stub_hs;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use procstat::{AnonPeak, cpu_seconds, vm_hwm_kib};
use serde_json::{Value, json};
use smsc::{PASSWORD, SYSTEM_ID, Smsc};
use stub_hs::{DOMAIN, start_stub};

const OWNER: &str = "@owner:bench.test";
const NUMBER: &str = "+15550001111";
const HS_TOKEN: &str = "bench_hs_token";
const PORTALS: usize = 100;
const WINDOW: u32 = 10;
const TEXT: &str = "Reply: sounds good, see you there!";

struct Opts {
    n: usize,
    runs: usize,
    kannel: bool,
}

fn opts() -> Opts {
    let mut o = Opts { n: 10_000, runs: 3, kannel: true };
    for a in std::env::args().skip(1) {
        if let Some(v) = a.strip_prefix("--n=") {
            o.n = v.parse().expect("--n=NUMBER");
        } else if let Some(v) = a.strip_prefix("--runs=") {
            o.runs = v.parse().expect("--runs=NUMBER");
        } else if a == "--no-kannel" {
            o.kannel = false;
        }
    }
    o
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

struct BridgeProc(Child);

impl Drop for BridgeProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_bridge(dir: &Path, hs: std::net::SocketAddr, as_port: u16, smsc_port: u16) -> BridgeProc {
    let config = format!(
        r#"homeserver:
  address: http://{hs}
  domain: {DOMAIN}
appservice:
  address: http://127.0.0.1:{as_port}
  hostname: 127.0.0.1
  port: {as_port}
  as_token: bench_as_token
  hs_token: {HS_TOKEN}
database:
  path: "{db}"
bridge:
  permissions:
    "{OWNER}": admin
matrix:
  message_status_events: {statuses}
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
# A benchmark sends hundreds to each number: no per-number caps.
policy:
  caps:
    per_hour: 0
    per_day: 0
logging:
  level: warn
"#,
        db = dir.join("bridge.db").display(),
        statuses = std::env::var_os("SMPP_BENCH_NO_STATUS").is_none()
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

/// One batch of deliver_sm from `PORTALS` numbers, `tasks` at a time.
async fn deliver_burst(smsc: &Arc<Smsc>, from: usize, n: usize, tasks: usize) {
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let s = smsc.clone();
            tokio::spawn(async move {
                for i in (from + t..from + n).step_by(tasks) {
                    let phone = format!("+1202555{:04}", i % PORTALS);
                    let status = s.deliver(&phone, NUMBER, 0, 0, format!("Message {i}").as_bytes(), &[]).await;
                    assert_eq!(status, 0, "deliver_sm {i} refused");
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let o = opts();
    let dir = tempfile::tempdir().unwrap();
    let smsc = Arc::new(Smsc::start().await);
    smsc.handler.receipts.store(false, Ordering::SeqCst);
    let stub = start_stub();
    let as_port = free_port();
    let bridge = start_bridge(dir.path(), stub.addr, as_port, smsc.port);
    let pid = bridge.0.id();
    let bridge_anon = AnonPeak::start(vec![pid]);
    smsc.wait_bound(Duration::from_secs(30)).await;
    println!("SMPP benchmark: n={} runs={} window={WINDOW} portals={PORTALS}", o.n, o.runs);

    // Portals first: one SMS from each number.
    deliver_burst(&smsc, 0, PORTALS, 10).await;
    let sms_in = || stub.stats.sms_in.load(Ordering::Acquire) as usize;
    wait_until("portals", Duration::from_secs(60), || sms_in() >= PORTALS).await;
    let db =
        rusqlite::Connection::open_with_flags(dir.path().join("bridge.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let rooms: Vec<String> = db
        .prepare("SELECT room_id FROM portals WHERE room_id IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rooms.len(), PORTALS);

    let mut deliver_rates = Vec::new();
    let mut submit_rates = Vec::new();
    let http = reqwest::Client::new();
    let mut txn = 0usize;
    for run in 0..o.runs {
        // SMS → Matrix.
        let base = sms_in();
        let t = Instant::now();
        deliver_burst(&smsc, PORTALS + run * o.n, o.n, 10).await;
        wait_until("deliver_sm at the stub", Duration::from_secs(600), || sms_in() >= base + o.n).await;
        deliver_rates.push(o.n as f64 / t.elapsed().as_secs_f64());

        // Matrix → SMS.
        let base = smsc.handler.accepted.lock().unwrap().len();
        let bodies: Vec<Value> = (0..o.n)
            .collect::<Vec<_>>()
            .chunks(100)
            .map(|chunk| {
                let events: Vec<Value> = chunk
                    .iter()
                    .map(|&i| {
                        json!({
                            "type": "m.room.message", "room_id": rooms[i % PORTALS], "sender": OWNER,
                            "event_id": format!("$bench_{run}_{i}"), "origin_server_ts": 1_700_000_000_000u64 + i as u64,
                            "content": { "msgtype": "m.text", "body": TEXT },
                        })
                    })
                    .collect();
                json!({ "events": events })
            })
            .collect();
        let cpu0 = cpu_seconds(pid);
        let t = Instant::now();
        for body in &bodies {
            txn += 1;
            let url = format!("http://127.0.0.1:{as_port}/_matrix/app/v1/transactions/{txn}");
            let r = http.put(&url).bearer_auth(HS_TOKEN).json(body).send().await.expect("PUT transaction");
            assert!(r.status().is_success(), "transaction refused: {}", r.status());
        }
        let put = t.elapsed();
        let accepted = || smsc.handler.accepted.lock().unwrap().len();
        if std::env::var_os("SMPP_BENCH_TRACE").is_some() {
            while accepted() < base + o.n {
                let q: (i64, i64) = db
                    .query_row("SELECT count(*), sum(state = 'sent') FROM outbox", [], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap();
                let ev: i64 =
                    db.query_row("SELECT count(*) FROM matrix_in WHERE state = 'new'", [], |r| r.get(0)).unwrap_or(-1);
                println!(
                    "    {:?} put={put:?} outbox rows/sent {q:?} matrix_in new {ev} smsc {}",
                    t.elapsed(),
                    accepted() - base
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        wait_until("submit_sm at the SMSC", Duration::from_secs(600), || accepted() >= base + o.n).await;
        submit_rates.push(o.n as f64 / t.elapsed().as_secs_f64());
        let cpu_us = (cpu_seconds(pid) - cpu0) * 1e6 / o.n as f64;
        println!(
            "  run {}: bridge deliver {:.0}/s, submit {:.0}/s ({cpu_us:.0} µs bridge CPU per submitted message)",
            run + 1,
            deliver_rates[run],
            submit_rates[run]
        );
    }
    let bridge_rss = vm_hwm_kib(pid);
    let bridge_anon = bridge_anon.stop_mib();
    drop(bridge);
    let dups = stub.stats.duplicates.load(Ordering::Relaxed);
    let statuses = stub.stats.statuses.load(Ordering::Relaxed);
    println!("bridge  status events sent: {statuses} for {} messages", o.n * o.runs);

    println!();
    println!("bridge  deliver_sm → stub homeserver: median {:.0} msg/s", median(&deliver_rates));
    println!("bridge  Matrix → submit_sm accepted:  median {:.0} msg/s", median(&submit_rates));
    println!(
        "bridge  peak RSS: {:.1} MiB, peak private (RssAnon) {bridge_anon:.1} MiB (duplicate relays at the stub: {dups})",
        bridge_rss as f64 / 1024.0
    );

    if !o.kannel {
        return;
    }
    if let Err(why) = kannel::Kannel::available() {
        println!("Kannel: skipped ({why})");
        return;
    }
    let k = kannel::Kannel::start(&dir.path().join("kannel"), smsc.port, SYSTEM_ID, PASSWORD, WINDOW)
        .unwrap_or_else(|e| panic!("Kannel did not start: {e}"));
    let k = Arc::new(k);
    let (bb, sb) = k.pids();
    let kannel_anon = AnonPeak::start(bb.into_iter().chain(sb).collect());
    let mut kannel_rates = Vec::new();
    for run in 0..o.runs {
        let base = smsc.handler.accepted.lock().unwrap().len();
        let t = Instant::now();
        let (kk, n) = (k.clone(), o.n);
        let report = tokio::task::spawn_blocking(move || kk.send(n, "+15550001111", "+1202555####", TEXT, 8))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("sendsms: {e}"));
        let accepted = || smsc.handler.accepted.lock().unwrap().len();
        wait_until("Kannel's submit_sm at the SMSC", Duration::from_secs(600), || accepted() >= base + o.n).await;
        kannel_rates.push(o.n as f64 / t.elapsed().as_secs_f64());
        println!(
            "  run {}: Kannel submit {:.0}/s (sendsms answered in {:?})",
            run + 1,
            kannel_rates[run],
            report.elapsed
        );
    }
    let rss = k.peak_rss();
    let kannel_anon = kannel_anon.stop_mib();
    let kannel_rss = rss.total() as f64 / 1024.0 / 1024.0;
    println!("kannel  sendsms → submit_sm accepted: median {:.0} msg/s", median(&kannel_rates));
    println!(
        "kannel  peak RSS: {kannel_rss:.1} MiB (bearerbox {:.1} + smsbox {:.1}), peak private (RssAnon) {kannel_anon:.1} MiB",
        rss.bearerbox as f64 / 1048576.0,
        rss.smsbox as f64 / 1048576.0
    );
    println!();
    println!(
        "ratio   throughput bridge/Kannel: {:.2}×   peak RSS bridge/Kannel: {:.2}×   peak private bridge/Kannel: {:.2}×",
        median(&submit_rates) / median(&kannel_rates),
        (bridge_rss as f64 / 1024.0) / kannel_rss,
        bridge_anon / kannel_anon
    );
    if let Ok(k) = Arc::try_unwrap(k) {
        k.stop();
    }
}
