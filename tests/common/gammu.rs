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

/// A running Debian gammu-smsd with `service = files` on the modem at `device`, its
/// folders under `dir` (inbox, outbox, sent, error). Killed when dropped.
pub struct Smsd {
    child: std::process::Child,
    pub log: PathBuf,
}

impl Smsd {
    /// Starts gammu-smsd with `inbox_format` (unicode, standard or detail) and waits until
    /// it talks to the phone. Panics, failing the test, when it cannot run or start.
    pub fn start(dir: &Path, device: &Path, inbox_format: &str) -> Smsd {
        for f in ["inbox", "outbox", "sent", "error"] {
            std::fs::create_dir_all(dir.join(f)).unwrap();
        }
        let log = dir.join("smsd.log");
        let folder = |f: &str| format!("{}/", dir.join(f).display());
        // Short timeouts so the test need not wait: outbox and inbox are looked at each second.
        let rc = format!(
            "[gammu]\ndevice = {}\nconnection = at\n\n[smsd]\nservice = files\ninboxpath = {}\noutboxpath = {}\n\
             sentsmspath = {}\nerrorsmspath = {}\ninboxformat = {inbox_format}\ntransmitformat = auto\n\
             deliveryreport = log\nlogfile = {}\ndebuglevel = 1\ncommtimeout = 1\nreceivefrequency = 1\n\
             statusfrequency = 0\ncheckbattery = 0\nchecksignal = 0\ncheckSecurity = 0\nhangupcalls = 0\n",
            device.display(),
            folder("inbox"),
            folder("outbox"),
            folder("sent"),
            folder("error"),
            log.display()
        );
        let rc_path = dir.join("smsdrc");
        std::fs::write(&rc_path, rc).unwrap();
        let child = std::process::Command::new("gammu-smsd")
            .arg("-c")
            .arg(&rc_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("gammu-smsd cannot run ({e}): install Debian's gammu-smsd (apt-get install gammu-smsd) to run this test")
            });
        let mut smsd = Smsd { child, log };
        let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let text = smsd.log_text();
            if text.contains("Starting phone communication") {
                // A failed connection shows only after this line: give it a moment.
                std::thread::sleep(std::time::Duration::from_millis(1500));
                if let Ok(Some(status)) = smsd.child.try_wait() {
                    panic!("gammu-smsd exited ({status}) after starting; its log:\n{}", smsd.log_text());
                }
                return smsd;
            }
            if let Ok(Some(status)) = smsd.child.try_wait() {
                panic!("gammu-smsd exited ({status}) before talking to the phone; its log:\n{text}");
            }
            assert!(
                std::time::Instant::now() < end,
                "gammu-smsd did not start talking to the phone within 20 s; its log:\n{text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Smsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
