//! MMS decode throughput on the 13 shared MMS files (`../shared/testdata/mms`, 428 KB in
//! all), ours against python-messaging 0.5.13 on the same files, in one run of this bench:
//!
//! ```text
//! cargo bench --bench mms               # 7 timed runs each, medians
//! cargo bench --bench mms -- --runs=15
//! ```
//!
//! Ours: `mms::decode` of every file (headers, multipart, each part's bytes copied out).
//! Theirs: `MMSMessage.from_data` of every file in the virtualenv the tests install
//! (created here if missing). Both single-threaded, one untimed warm-up pass, then each
//! timed run decodes the whole set enough times to last ≥ 0.2 s.

#[path = "../tests/common/venv.rs"]
#[allow(dead_code)]
mod venv;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use sms_bridge::mms;

const PYTHON: &str = r#"
import array, json, statistics, sys, time
from messaging.mms.message import MMSMessage
files = [array.array("B", open(p, "rb").read()) for p in sys.argv[2:]]
runs = int(sys.argv[1])
for f in files:
    MMSMessage.from_data(f)
times = []
for _ in range(runs):
    t = time.perf_counter()
    for f in files:
        MMSMessage.from_data(f)
    times.append(time.perf_counter() - t)
print(json.dumps({"median_s": statistics.median(times), "runs_s": times}))
"#;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let runs: usize =
        std::env::args().find_map(|a| a.strip_prefix("--runs=").map(|v| v.parse().expect("--runs=N"))).unwrap_or(7);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata/mms");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("mms")))
        .collect();
    paths.sort();
    let files: Vec<Vec<u8>> = paths.iter().map(|p| std::fs::read(p).unwrap()).collect();
    let bytes: usize = files.iter().map(Vec::len).sum();
    println!("MMS decode: {} files, {bytes} bytes, {runs} runs", files.len());

    // Ours.
    let pass = || {
        for f in &files {
            std::hint::black_box(mms::decode(std::hint::black_box(f)).expect("shared files decode"));
        }
    };
    pass();
    let t = Instant::now();
    let mut reps = 0u32;
    while t.elapsed() < Duration::from_millis(200) {
        pass();
        reps += 1;
    }
    let per_pass: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                pass();
            }
            t.elapsed().as_secs_f64() / f64::from(reps)
        })
        .collect();
    let ours = median(per_pass);

    // python-messaging.
    let venv = venv::ensure_venv(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tmp/pymessaging-venv"),
        "0.5.13",
        &["python-messaging==0.5.13"],
        "mms bench",
    );
    let out = Command::new(venv.join("bin/python"))
        .args(["-I", "-c", PYTHON, &runs.to_string()])
        .args(paths.iter().map(|p| p.as_os_str()))
        .output()
        .expect("running python-messaging");
    assert!(out.status.success(), "python-messaging: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let theirs = v["median_s"].as_f64().unwrap();

    let row = |who: &str, s: f64| {
        println!(
            "{who:<17} {:>9.1} µs per pass   {:>9.1} MB/s   {:>10.0} messages/s",
            s * 1e6,
            bytes as f64 / s / 1e6,
            files.len() as f64 / s
        )
    };
    row("sms-bridge", ours);
    row("python-messaging", theirs);
    println!("ratio             {:.0}× (python-messaging time / ours, medians)", theirs / ours);
}
