//! Debian's gammu as an independent AT client: a gammurc for a device, and a runner that
//! fails the test (never skips it) when gammu is missing.

use std::path::{Path, PathBuf};

/// Writes a gammurc in `dir` for the modem at `device`.
pub fn rc(dir: &Path, device: &Path) -> PathBuf {
    let rc = dir.join("gammurc");
    std::fs::write(&rc, format!("[gammu]\ndevice = {}\nconnection = at\n", device.display())).unwrap();
    rc
}

pub fn gammu(rc: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("gammu").arg("-c").arg(rc).args(args).output().unwrap_or_else(|e| {
        panic!("gammu cannot run ({e}): install Debian's gammu (apt-get install gammu) to run this test")
    });
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "gammu {args:?} failed ({}):\n{stdout}\n{stderr}", out.status);
    stdout.into_owned()
}

/// [`gammu`] off the async runtime, so a simulator in this process keeps answering.
pub async fn gammu_async(rc: &Path, args: &[&str]) -> String {
    let (rc, args): (PathBuf, Vec<String>) = (rc.into(), args.iter().map(|a| a.to_string()).collect());
    tokio::task::spawn_blocking(move || gammu(&rc, &args.iter().map(String::as_str).collect::<Vec<_>>())).await.unwrap()
}
