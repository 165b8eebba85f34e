//! What the in-process benches share: a real [`Bridge`] against the stub homeserver
//! (`stub_hs.rs`, which the bench must also declare as `mod stub_hs`), options from
//! `--key=value` or the environment, medians and percentiles, and waiting for a condition.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sms_bridge::backend::Backend;
use sms_bridge::backend::test::TestBackend;
use sms_bridge::bridge::Bridge;
use sms_bridge::config::{BackendKind, Config, Purpose};
use sms_bridge::matrix::HttpMatrix;
use sms_bridge::store::Store;

use crate::stub_hs::{DOMAIN, Stub, StubServer, start_stub};

pub const OWNER: &str = "@owner:bench.test";
pub const AS_TOKEN: &str = "bench_as_token";
pub const HS_TOKEN: &str = "bench_hs_token";

// ---------------------------------------------------------------------------------------
// Options

/// `--key=value` or `--key value` (a bare `--key` is "1") after `--`, else the environment
/// variable `{PREFIX}_{KEY}` (upper case, `-` as `_`).
pub struct Args {
    args: Vec<String>,
    env_prefix: &'static str,
}

impl Args {
    pub fn new(env_prefix: &'static str) -> Args {
        Args { args: std::env::args().skip(1).collect(), env_prefix }
    }

    pub fn get(&self, key: &str) -> Option<String> {
        let flag = format!("--{key}");
        let prefix = format!("--{key}=");
        for (i, a) in self.args.iter().enumerate() {
            if let Some(v) = a.strip_prefix(&prefix) {
                return Some(v.to_string());
            }
            if *a == flag {
                return Some(
                    self.args.get(i + 1).filter(|v| !v.starts_with("--")).cloned().unwrap_or_else(|| "1".into()),
                );
            }
        }
        std::env::var(format!("{}_{}", self.env_prefix, key.to_ascii_uppercase().replace('-', "_"))).ok()
    }

    pub fn num(&self, key: &str, default: usize) -> usize {
        self.get(key).map(|v| v.parse().unwrap_or_else(|_| panic!("--{key}: not a number: {v:?}"))).unwrap_or(default)
    }
}

// ---------------------------------------------------------------------------------------
// Statistics and waiting

pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}

/// The nearest-rank `q` quantile (0 < q ≤ 1): the smallest value with at least a fraction
/// `q` of the values at or below it. p99 of 300 values is the 297th smallest.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// Polls `done` every 2 ms until it holds; panics with `diag` after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool, diag: impl Fn() -> String) {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}: {}", diag());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

// ---------------------------------------------------------------------------------------
// The in-process bridge

/// A bridge configuration against the stub at `hs`; `backends` are the YAML list items
/// under `backends:` (each starting with `  - id: …`).
pub fn config_yaml(hs: SocketAddr, as_port: u16, db: &Path, backends: &str) -> String {
    format!(
        r#"homeserver:
  address: http://{hs}
  domain: {DOMAIN}
appservice:
  address: http://127.0.0.1:{as_port}
  hostname: 127.0.0.1
  port: {as_port}
  as_token: {AS_TOKEN}
  hs_token: {HS_TOKEN}
database:
  path: "{db}"
bridge:
  permissions:
    "*": none
    "{DOMAIN}": user
    "{OWNER}": admin
backends:
{backends}policy:
  caps:
    per_hour: 0
    per_day: 0
logging:
  level: warn
"#,
        db = db.display()
    )
}

/// A started bridge and what it talks to. Dropping it does not stop the bridge: call
/// [`InProcess::stop`] (or abort `tasks`) for that.
pub struct InProcess {
    pub bridge: Arc<Bridge>,
    /// The `type: test` links, in configuration order.
    pub tests: Vec<Arc<TestBackend>>,
    pub stub: Stub,
    pub stub_addr: SocketAddr,
    pub as_addr: SocketAddr,
    pub db: PathBuf,
    /// The bridge's workers and the appservice server.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
    pub stub_server: StubServer,
}

impl InProcess {
    /// As `main.rs` does it, in this process: a stub homeserver on its own thread, the
    /// appservice router on loopback, SQLite in `dir`, `HttpMatrix` → stub, the links of
    /// `backends` (see [`config_yaml`]), `Bridge::start`. `extra_sql` runs on the fresh
    /// database before the bridge starts.
    pub async fn start(dir: &Path, backends: &str, extra_sql: Option<&str>) -> InProcess {
        std::fs::create_dir_all(dir).expect("bridge dir");
        let stub_server = start_stub();
        let (stub_addr, stub) = (stub_server.addr, stub_server.stats.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("appservice: bind");
        let as_addr = listener.local_addr().expect("appservice address");
        let db = dir.join("bench.db");
        let config =
            Config::parse(&config_yaml(stub_addr, as_addr.port(), &db, backends), Purpose::Run).expect("bench config");
        sms_bridge::app::init_logging(&config);
        let store = Store::open(&db).expect("store");
        if let Some(sql) = extra_sql {
            rusqlite::Connection::open(&db).and_then(|c| c.execute_batch(sql)).expect("extra SQL");
        }
        let matrix = Arc::new(HttpMatrix::new(&format!("http://{stub_addr}"), AS_TOKEN));
        let mut tests = Vec::new();
        let links: Vec<Arc<dyn Backend>> = config
            .backends
            .iter()
            .map(|b| match &b.kind {
                BackendKind::Test(t) => {
                    let link = Arc::new(TestBackend::new(&b.id, &b.number, t.clone()));
                    tests.push(link.clone());
                    link as Arc<dyn Backend>
                }
                _ => sms_bridge::app::build_backend(&config, b),
            })
            .collect();
        let bridge = Bridge::new(config, store, matrix, links);
        let app = sms_bridge::appservice::router(bridge.clone());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.expect("appservice: serve") });
        let mut tasks = bridge.start().await.expect("bridge start");
        tasks.push(server);
        InProcess { bridge, tests, stub, stub_addr, as_addr, db, tasks, stub_server }
    }

    pub fn stop(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
