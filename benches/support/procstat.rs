//! What a bench reads from `/proc` about a process it measures: peak RSS, private memory
//! sampled over time, CPU time. Used as `#[path = "support/procstat.rs"] mod procstat;`.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Peak RSS (`VmHWM`) in KiB; 0 if the process is gone.
pub fn vm_hwm_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

/// A `kB` field of `/proc/{pid}/status`, in KiB; 0 if missing.
pub fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Samples the summed private memory (`RssAnon`) of some processes every 20 ms and keeps
/// the peak: shared-library and program text pages, which VmHWM counts, are left out.
pub struct AnonPeak {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl AnonPeak {
    pub fn start(pids: Vec<u32>) -> AnonPeak {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let kib: u64 = pids.iter().map(|&pid| status_kib(pid, "RssAnon:")).sum();
                p.fetch_max(kib, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        AnonPeak { peak, stop }
    }

    /// The peak so far, MiB.
    pub fn mib(&self) -> f64 {
        self.peak.load(Ordering::Relaxed) as f64 / 1024.0
    }

    pub fn stop_mib(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        self.mib()
    }
}

/// CPU seconds (user + system, all threads) a process has used.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()).unwrap_or(0.0);
    ticks / 100.0
}
