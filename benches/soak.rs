//! Soak: messages both ways while the homeserver and the SMSC are killed and restarted.
//!
//! ```text
//! cargo bench --bench soak                          # n=10000, 3 kills of each, random seed
//! cargo bench --bench soak -- --n=2000 --seed=42 --kills=3 --rate=200 --timeout=600
//! ```
//!
//! The bridge binary (release build, separate process) runs against the stub homeserver
//! (`support/stub_hs.rs`) and the `smpp34` crate's SMSC (`tests/common/smsc.rs`) behind a
//! relay on a fixed port. Half of `n` go Matrix → SMS (appservice transactions of 10 events,
//! text `soak-out-{i}`), half SMS → Matrix (deliver_sm from 20 numbers on 8 tasks, text
//! `soak-in-{i}`), paced at `--rate` messages/s in all and interleaved. Meanwhile, at
//! random moments (seeded, the seed is printed; one kill in each of `--kills` equal slots
//! of the traffic's span, and never before the bridge has come back from the last one):
//!
//! - **homeserver kill**: the stub's runtime is dropped with every connection task in it
//!   (requests in flight get no answer; a relayed SMS waits 5 ms between being counted and
//!   being answered, so a kill can fall in between, as when a homeserver dies after
//!   persisting an event). After 0.5–3 s a new stub listens on the same port; its counters
//!   live outside the server and are kept.
//! - **SMSC kill**: the relay's listener and every relayed connection are dropped at once
//!   and the smpp34 server stops listening; after 0.5–3 s both listen again on the same
//!   ports with the same handler, which keeps its record of accepted submits. The SMSC
//!   answers each submit_sm after 20 ms (concurrently), so a kill usually finds some in
//!   flight: accepted, but their answers lost.
//!
//! The deliver_sm side acts as an SMSC does: a deliver_sm without a deliver_sm_resp is
//! sent again after the link is back. Checks at the end (exit status 1 if any fails):
//! no message lost either way, no inbound SMS posted to Matrix as two distinct events
//! (apart from ones the SMSC itself delivered twice, which are shown; `--strict` fails on
//! those too), submit_sm accepted more than once (at-least-once on the link) no more than
//! window × SMSC kills, no job dead or still waiting in the bridge's database. Also shown:
//! repeated transaction ids at the homeserver.

#[path = "../tests/common/smsc.rs"]
#[allow(dead_code)]
mod smsc;
#[path = "support/stub_hs.rs"]
mod stub_hs;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use smsc::{Handler, PASSWORD, SYSTEM_ID, Smsc};
use stub_hs::{DOMAIN, Stub, StubServer, start_stub_on};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const OWNER: &str = "@owner:bench.test";
const NUMBER: &str = "+15550001111";
const HS_TOKEN: &str = "soak_hs_token";
const PORTALS: usize = 20;
const WINDOW: usize = 10;
const MAX_BACKOFF: u64 = 2;
const DELIVER_TASKS: usize = 8;
const BATCH: usize = 10;
const SUBMIT_DELAY_MS: u64 = 20;
const RELAY_DELAY_MS: u64 = 5;

struct Opts {
    n: usize,
    seed: u64,
    kills: usize,
    rate: f64,
    timeout: Duration,
    /// Also fail on duplicates in Matrix that come from the SMSC delivering an SMS again.
    strict: bool,
}

fn opts() -> Opts {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let mut o = Opts { n: 10_000, seed, kills: 3, rate: 200.0, timeout: Duration::from_secs(900), strict: false };
    for a in std::env::args().skip(1) {
        if let Some(v) = a.strip_prefix("--n=") {
            o.n = v.parse().expect("--n=NUMBER");
        } else if let Some(v) = a.strip_prefix("--seed=") {
            o.seed = v.parse().expect("--seed=NUMBER");
        } else if let Some(v) = a.strip_prefix("--kills=") {
            o.kills = v.parse().expect("--kills=NUMBER");
        } else if let Some(v) = a.strip_prefix("--rate=") {
            o.rate = v.parse().expect("--rate=MESSAGES_PER_SECOND");
        } else if a == "--strict" {
            o.strict = true;
        } else if let Some(v) = a.strip_prefix("--timeout=") {
            o.timeout = Duration::from_secs(v.parse().expect("--timeout=SECONDS"));
        }
    }
    o
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The number after `prefix` in `text`, if any.
fn marker(text: &str, prefix: &str) -> Option<usize> {
    let rest = &text[text.find(prefix)? + prefix.len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

struct BridgeProc(Child);

impl BridgeProc {
    /// SIGTERM, then SIGKILL if it has not exited within 10 s.
    fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.0.id().to_string()).status();
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for BridgeProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_bridge(dir: &Path, hs: SocketAddr, as_port: u16, smsc_port: u16) -> BridgeProc {
    let config = format!(
        r#"homeserver:
  address: http://{hs}
  domain: {DOMAIN}
appservice:
  address: http://127.0.0.1:{as_port}
  hostname: 127.0.0.1
  port: {as_port}
  as_token: soak_as_token
  hs_token: {HS_TOKEN}
database:
  path: "{db}"
bridge:
  max_backoff: {MAX_BACKOFF}
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
    reconnect_min_delay: 1
    reconnect_max_delay: {MAX_BACKOFF}
# A benchmark sends hundreds to each number: no per-number caps.
policy:
  caps:
    per_hour: 0
    per_day: 0
logging:
  level: warn
"#,
        db = dir.join("bridge.db").display(),
    );
    let path = dir.join("config.yaml");
    std::fs::write(&path, config).unwrap();
    let log = std::fs::File::create(dir.join("bridge.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_sms-bridge"))
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting the bridge binary");
    BridgeProc(child)
}

/// A relay on a fixed port in front of the SMSC that can die: its listener and every
/// connection through it closed at once.
struct KillableRelay {
    port: u16,
    upstream: u16,
    accept: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl KillableRelay {
    async fn start(upstream: u16) -> KillableRelay {
        let mut r = KillableRelay { port: free_port(), upstream, accept: None, conns: Arc::default() };
        r.up().await;
        r
    }

    async fn up(&mut self) {
        let end = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(l) => break l,
                Err(_) if Instant::now() < end => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => panic!("relay: cannot listen on {} again: {e}", self.port),
            }
        };
        let (conns, upstream) = (self.conns.clone(), self.upstream);
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else { continue };
                let relay = tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                let mut c = conns.lock().unwrap();
                c.retain(|h| !h.is_finished());
                c.push(relay);
            }
        }));
    }

    /// Closes the listener and every connection, and waits until they are gone.
    async fn kill(&mut self) {
        if let Some(a) = self.accept.take() {
            a.abort();
            let _ = a.await;
        }
        let conns: Vec<_> = self.conns.lock().unwrap().drain(..).collect();
        for c in &conns {
            c.abort();
        }
        for c in conns {
            let _ = c.await;
        }
    }
}

/// Kill moments (seconds from the start of the traffic) and how long each outage lasts:
/// one at a random moment in each of `kills` equal slots of the middle 90% of the span.
fn schedule(rng: &mut StdRng, kills: usize, span: f64) -> Vec<(f64, f64)> {
    let slot = 0.9 * span / kills.max(1) as f64;
    (0..kills).map(|j| (0.05 * span + slot * (j as f64 + rng.gen_range(0.0..1.0)), rng.gen_range(0.5..3.0))).collect()
}

/// Sends one deliver_sm to the newest bound receiver: Ok if it was answered 0, Err(true)
/// if it left and its answer never came (the bridge may have it), Err(false) if not sent.
async fn deliver_once(handler: &Handler, from: &str, text: &str) -> Result<(), bool> {
    let esme = handler.receiver().ok_or(false)?;
    let b = esme
        .deliver_sm()
        .source_addr(from.trim_start_matches('+'))
        .source_addr_ton(1)
        .source_addr_npi(1)
        .destination_addr(NUMBER.trim_start_matches('+'))
        .dest_addr_ton(1)
        .dest_addr_npi(1)
        .short_message(text.as_bytes().to_vec());
    match tokio::time::timeout(Duration::from_secs(5), b.send()).await {
        Ok(Ok(resp)) if resp.command_status() == 0 => Ok(()),
        Ok(Ok(_)) => Err(false),
        Ok(Err(_)) | Err(_) => Err(true),
    }
}

/// One SMS as an SMSC delivers it: again and again until the bridge answers it.
async fn deliver_until_taken(
    handler: &Handler,
    up: &AtomicBool,
    from: &str,
    text: &str,
    deadline: Instant,
) -> Result<usize, String> {
    let mut uncertain = 0;
    loop {
        if Instant::now() > deadline {
            return Err(format!("deliver_sm {text:?} not taken before the deadline"));
        }
        if up.load(Ordering::SeqCst) {
            match deliver_once(handler, from, text).await {
                Ok(()) => return Ok(uncertain),
                Err(true) => uncertain += 1,
                Err(false) => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn events_body(rooms: &[String], from: usize, to: usize) -> Value {
    let events: Vec<Value> = (from..to)
        .map(|i| {
            json!({
                "type": "m.room.message", "room_id": rooms[i % rooms.len()], "sender": OWNER,
                "event_id": format!("$soak_{i}"), "origin_server_ts": 1_700_000_000_000u64 + i as u64,
                "content": { "msgtype": "m.text", "body": format!("soak-out-{i}") },
            })
        })
        .collect();
    json!({ "events": events })
}

async fn put_until_taken(http: &reqwest::Client, as_port: u16, txn: usize, body: &Value, deadline: Instant) {
    let url = format!("http://127.0.0.1:{as_port}/_matrix/app/v1/transactions/soak{txn}");
    loop {
        assert!(Instant::now() < deadline, "the bridge did not take appservice transaction {txn} before the deadline");
        match http.put(&url).bearer_auth(HS_TOKEN).json(body).send().await {
            Ok(r) if r.status().is_success() => return,
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn count(db: &rusqlite::Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap_or(-1)
}

const TABLES: [(&str, &str, &str); 6] = [
    ("matrix_in", "state", "state = 'new'"),
    ("outbox", "state", "state IN ('queued', 'sending')"),
    ("inbox", "state", "state = 'new'"),
    ("matrix_out", "state", "state = 'new'"),
    ("mms_in", "stage", "stage IN ('fetch', 'relay', 'notify')"),
    ("mms_out", "state", "state IN ('queued', 'sending')"),
];

/// Jobs still waiting, per table.
fn pending(db: &rusqlite::Connection) -> Vec<(&'static str, i64)> {
    TABLES.iter().map(|(t, _, w)| (*t, count(db, &format!("SELECT count(*) FROM {t} WHERE {w}")))).collect()
}

fn dead(db: &rusqlite::Connection) -> Vec<(&'static str, i64)> {
    TABLES.iter().map(|(t, c, _)| (*t, count(db, &format!("SELECT count(*) FROM {t} WHERE {c} = 'dead'")))).collect()
}

fn open_db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(dir.join("bridge.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

/// What the run saw, summed up at the end.
#[derive(Default)]
struct Outcome {
    failures: Vec<String>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let o = opts();
    let dir = tempfile::tempdir().unwrap();
    let mut out = Outcome::default();
    let wall = Instant::now();
    run(&o, dir.path(), &mut out).await;
    println!("wall time: {:.1} s", wall.elapsed().as_secs_f64());
    if out.failures.is_empty() {
        println!("RESULT: ok");
        return;
    }
    let log = std::fs::read_to_string(dir.path().join("bridge.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    eprintln!("--- last lines of the bridge's log ---");
    for l in tail.into_iter().rev() {
        eprintln!("{l}");
    }
    for f in &out.failures {
        eprintln!("FAILED: {f}");
    }
    std::process::exit(1);
}

async fn run(o: &Opts, dir: &Path, out: &mut Outcome) {
    let deadline = Instant::now() + o.timeout;
    let mut rng = StdRng::seed_from_u64(o.seed);
    let (n_out, n_in) = (o.n / 2, o.n - o.n / 2);
    let span = (o.n as f64 / o.rate).max(10.0);
    let hs_plan = schedule(&mut rng, o.kills, span);
    let smsc_plan = schedule(&mut rng, o.kills, span);
    println!(
        "soak: n={} ({n_out} Matrix → SMS, {n_in} SMS → Matrix) seed={} rate={}/s planned span {span:.0} s, window={WINDOW}, max_backoff={MAX_BACKOFF} s",
        o.n, o.seed, o.rate
    );
    let show = |p: &[(f64, f64)]| p.iter().map(|(t, d)| format!("{t:.1}s (+{d:.1}s)")).collect::<Vec<_>>().join(", ");
    println!("  homeserver kills at {}", show(&hs_plan));
    println!("  SMSC kills at       {}", show(&smsc_plan));

    let mut smsc = Smsc::start().await;
    smsc.handler.receipts.store(false, Ordering::SeqCst);
    // Each submit_sm takes 20 ms to answer (they are answered concurrently), so a kill
    // usually finds some in flight.
    smsc.handler.delay_ms.store(SUBMIT_DELAY_MS, Ordering::SeqCst);
    let handler = smsc.handler.clone();
    let mut relay = KillableRelay::start(smsc.port).await;
    let stats = Stub::default();
    stats.record_texts.store(true, Ordering::SeqCst);
    stats.reply_delay_ms.store(RELAY_DELAY_MS, Ordering::SeqCst);
    let hs = start_stub_on(stats.clone(), 0).expect("stub homeserver");
    let hs_addr = hs.addr;
    let as_port = free_port();
    let bridge = start_bridge(dir, hs_addr, as_port, relay.port);

    // Portals first, without faults: one SMS from each number.
    let smsc_up = Arc::new(AtomicBool::new(true));
    for k in 0..PORTALS {
        let from = format!("+1202555{k:04}");
        let text = format!("soak-setup-{k}");
        if let Err(e) = deliver_until_taken(&handler, &smsc_up, &from, &text, deadline).await {
            out.failures.push(format!("setup: {e}"));
            return;
        }
    }
    while (stats.sms_in.load(Ordering::Acquire) as usize) < PORTALS {
        if Instant::now() > deadline {
            out.failures.push("setup: the portals were not made before the deadline".into());
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rooms: Vec<String> = {
        let db = open_db(dir);
        db.prepare("SELECT room_id FROM portals WHERE room_id IS NOT NULL ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(rooms.len(), PORTALS, "one portal per number");

    let t0 = Instant::now();
    let t0_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let at = move |secs: f64| t0 + Duration::from_secs_f64(secs);

    // The homeserver's deaths, on a thread of their own (killing it joins its thread).
    let hs_kills = Arc::new(AtomicUsize::new(0));
    let hs_chaos = {
        let (plan, stats, kills) = (hs_plan.clone(), stats.clone(), hs_kills.clone());
        std::thread::spawn(move || {
            let mut server: Option<StubServer> = Some(hs);
            for (t, down) in plan {
                std::thread::sleep(at(t).saturating_duration_since(Instant::now()));
                // Not before the bridge has come back to the last one.
                let seen = stats.requests.load(Ordering::SeqCst);
                while stats.requests.load(Ordering::SeqCst) < seen + 5 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                server.take().unwrap().kill();
                kills.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_secs_f64(down));
                let end = Instant::now() + Duration::from_secs(10);
                server = loop {
                    if let Some(s) = start_stub_on(stats.clone(), hs_addr.port()) {
                        break Some(s);
                    }
                    assert!(Instant::now() < end, "stub homeserver: cannot listen on {hs_addr} again");
                    std::thread::sleep(Duration::from_millis(20));
                };
            }
            server
        })
    };

    // The SMSC's deaths.
    let smsc_kills = Arc::new(AtomicUsize::new(0));
    let smsc_killed_at: Arc<Mutex<Vec<f64>>> = Arc::default();
    let smsc_chaos = {
        let (plan, up, kills, killed_at) =
            (smsc_plan.clone(), smsc_up.clone(), smsc_kills.clone(), smsc_killed_at.clone());
        tokio::spawn(async move {
            for (t, down) in plan {
                tokio::time::sleep_until(at(t).into()).await;
                // Not before the bridge has bound again after the last one.
                while smsc.handler.receiver().is_none() && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                up.store(false, Ordering::SeqCst);
                killed_at.lock().unwrap().push(t0.elapsed().as_secs_f64());
                relay.kill().await;
                smsc.stop_listening().await;
                kills.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs_f64(down)).await;
                let end = Instant::now() + Duration::from_secs(10);
                while !smsc.listen_again().await {
                    assert!(Instant::now() < end, "SMSC: cannot listen on {} again", smsc.port);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                relay.up().await;
                up.store(true, Ordering::SeqCst);
            }
            (smsc, relay)
        })
    };

    // Matrix → SMS: transactions of BATCH events, paced.
    let out_rate = o.rate * n_out as f64 / o.n.max(1) as f64;
    let matrix_driver = {
        let rooms = rooms.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for (k, from) in (0..n_out).step_by(BATCH).enumerate() {
                tokio::time::sleep_until(at(from as f64 / out_rate).into()).await;
                let body = events_body(&rooms, from, (from + BATCH).min(n_out));
                put_until_taken(&http, as_port, k, &body, deadline).await;
            }
        })
    };

    // SMS → Matrix: DELIVER_TASKS senders, message i due at i / rate.
    let in_rate = o.rate * n_in as f64 / o.n.max(1) as f64;
    let uncertain: Arc<Mutex<HashMap<usize, usize>>> = Arc::default();
    let sms_drivers: Vec<JoinHandle<Result<(), String>>> = (0..DELIVER_TASKS)
        .map(|t| {
            let (handler, up, uncertain) = (handler.clone(), smsc_up.clone(), uncertain.clone());
            tokio::spawn(async move {
                for i in (t..n_in).step_by(DELIVER_TASKS) {
                    tokio::time::sleep_until(at(i as f64 / in_rate).into()).await;
                    let from = format!("+1202555{:04}", i % PORTALS);
                    let u = deliver_until_taken(&handler, &up, &from, &format!("soak-in-{i}"), deadline).await?;
                    if u > 0 {
                        uncertain.lock().unwrap().insert(i, u);
                    }
                }
                Ok(())
            })
        })
        .collect();

    if let Err(e) = matrix_driver.await {
        out.failures.push(format!("Matrix → SMS driver: {e}"));
    }
    for d in sms_drivers {
        match d.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => out.failures.push(format!("SMS → Matrix driver: {e}")),
            Err(e) => out.failures.push(format!("SMS → Matrix driver: {e}")),
        }
    }
    let sent_at = t0.elapsed();
    let _hs = tokio::task::spawn_blocking(move || hs_chaos.join()).await.unwrap().expect("homeserver chaos");
    let (_smsc, _relay) = smsc_chaos.await.expect("SMSC chaos");
    println!(
        "  all {} messages handed over after {:.1} s; kills done: homeserver {}, SMSC {}",
        o.n,
        sent_at.as_secs_f64(),
        hs_kills.load(Ordering::SeqCst),
        smsc_kills.load(Ordering::SeqCst)
    );

    // Until every message has arrived, or the deadline.
    let out_counts = || {
        let mut c = vec![0usize; n_out];
        for a in handler.accepted.lock().unwrap().iter() {
            if let Some(i) = marker(&String::from_utf8_lossy(&a.pdu.short_message), "soak-out-").filter(|&i| i < n_out)
            {
                c[i] += 1;
            }
        }
        c
    };
    // Per inbound message: the txn id of each send that carried it.
    let in_sends = || {
        let mut c: Vec<Vec<String>> = vec![Vec::new(); n_in];
        for (text, txns) in stats.texts.lock().unwrap().iter() {
            if let Some(i) = marker(text, "soak-in-").filter(|&i| i < n_in) {
                c[i].extend(txns.iter().cloned());
            }
        }
        c
    };
    let missing = || {
        let mo = out_counts().iter().filter(|&&c| c == 0).count();
        let mi = in_sends().iter().filter(|s| s.is_empty()).count();
        (mo, mi)
    };
    let mut last = Instant::now();
    loop {
        let (mo, mi) = missing();
        if mo == 0 && mi == 0 {
            break;
        }
        if Instant::now() > deadline {
            out.failures.push(format!(
                "timed out after {:?}: {mo} Matrix → SMS and {mi} SMS → Matrix messages never arrived",
                o.timeout
            ));
            break;
        }
        if last.elapsed() > Duration::from_secs(10) {
            println!(
                "  waiting: {mo} Matrix → SMS and {mi} SMS → Matrix still missing; pending {:?}",
                pending(&open_db(dir))
            );
            last = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivered_at = t0.elapsed();

    // Let the bridge finish what is left (statuses), then stop it and read its database.
    let settle = Instant::now() + Duration::from_secs(60);
    let mut left = pending(&open_db(dir));
    while left.iter().any(|(_, c)| *c != 0) && Instant::now() < settle && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = pending(&open_db(dir));
    }
    // Extra time for late duplicates to show up.
    tokio::time::sleep(Duration::from_secs(MAX_BACKOFF + 1)).await;
    bridge.stop();
    let db = open_db(dir);
    let dead = dead(&db);
    let left = pending(&db);

    let oc = out_counts();
    let lost_out = oc.iter().filter(|&&c| c == 0).count();
    let link_dups: usize = oc.iter().map(|&c| c.saturating_sub(1)).sum();
    let link_dup_msgs = oc.iter().filter(|&&c| c > 1).count();
    let is = in_sends();
    let lost_in = is.iter().filter(|s| s.is_empty()).count();
    let uncertain = uncertain.lock().unwrap().clone();
    let (mut dup_texts, mut dup_by_smsc) = (0, 0);
    let received_at = |txn: &str| -> f64 {
        let id: i64 = txn.trim_start_matches("sms-in-").parse().unwrap_or(-1);
        let ms: i64 = db.query_row("SELECT received_at FROM inbox WHERE id = ?1", [id], |r| r.get(0)).unwrap_or(0);
        (ms - t0_ms) as f64 / 1000.0
    };
    for (i, sends) in is.iter().enumerate() {
        let mut txns = sends.clone();
        txns.sort();
        txns.dedup();
        if txns.len() > 1 {
            let rows: Vec<String> = txns.iter().map(|t| format!("{t} received at +{:.3} s", received_at(t))).collect();
            println!("  soak-in-{i} in Matrix {} times: {}", txns.len(), rows.join(", "));
            if txns.len() - 1 <= uncertain.get(&i).copied().unwrap_or(0) {
                dup_by_smsc += 1;
            } else {
                dup_texts += 1;
            }
        }
    }
    let repeated_txns = stats.duplicates.load(Ordering::Relaxed);
    let repeats_after_answer = stats.repeats_after_answer.load(Ordering::Relaxed);
    let smsc_drops = smsc_kills.load(Ordering::SeqCst);
    let redelivered: usize = uncertain.values().sum();

    println!();
    println!("  all arrived after {:.1} s (traffic start to last message)", delivered_at.as_secs_f64());
    println!("  kills: homeserver {}, SMSC {}", hs_kills.load(Ordering::SeqCst), smsc_drops);
    let killed: Vec<String> = smsc_killed_at.lock().unwrap().iter().map(|t| format!("+{t:.3} s")).collect();
    println!("  SMSC killed at {}", killed.join(", "));
    println!("  lost Matrix → SMS (never accepted by the SMSC):          {lost_out}");
    println!("  lost SMS → Matrix (never posted to the homeserver):      {lost_in}");
    println!(
        "  duplicated into Matrix (one SMS, two distinct events):   {dup_texts}   (+ {dup_by_smsc} the SMSC delivered twice: \
         {redelivered} deliver_sm sent again after a lost deliver_sm_resp)"
    );
    println!(
        "  repeated sms-in txn ids at the homeserver:               {repeated_txns}   ({repeats_after_answer} after the stub had answered the first; \
         the others followed a kill that cut the answer: a homeserver that forgot its txn ids would show them twice)"
    );
    println!(
        "  submit_sm accepted more than once (link duplicates):     {link_dups} for {link_dup_msgs} messages; bound window × SMSC drops = {WINDOW} × {smsc_drops} = {}",
        WINDOW * smsc_drops
    );
    println!("  dead jobs per table:    {dead:?}");
    println!("  pending jobs per table: {left:?}");
    println!(
        "  homeserver saw {} requests, {} other messages, {} statuses; SMSC binds {}",
        stats.requests.load(Ordering::Relaxed),
        stats.other_messages.load(Ordering::Relaxed),
        stats.statuses.load(Ordering::Relaxed),
        handler.binds.load(Ordering::SeqCst)
    );

    if lost_out > 0 || lost_in > 0 {
        out.failures.push(format!("lost: {lost_out} Matrix → SMS, {lost_in} SMS → Matrix"));
    }
    if dup_texts > 0 {
        out.failures.push(format!("{dup_texts} inbound SMS posted to Matrix as two distinct events"));
    }
    if o.strict && dup_by_smsc > 0 {
        out.failures
            .push(format!("--strict: {dup_by_smsc} inbound SMS in Matrix twice because the SMSC delivered them again"));
    }
    if repeats_after_answer > 0 {
        out.failures
            .push(format!("{repeats_after_answer} sms-in txn ids sent again after the homeserver had answered"));
    }
    if link_dups > WINDOW * smsc_drops {
        out.failures.push(format!("{link_dups} link duplicates, more than window × drops = {}", WINDOW * smsc_drops));
    }
    if dead.iter().any(|(_, c)| *c != 0) {
        out.failures.push(format!("dead jobs: {dead:?}"));
    }
    if left.iter().any(|(_, c)| *c != 0) {
        out.failures.push(format!("jobs still pending at the end: {left:?}"));
    }
}
