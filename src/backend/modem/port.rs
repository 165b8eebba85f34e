//! Opening the serial device: exclusively, and with an error that names whoever holds it
//! (ModemManager and gammu-smsd are the usual ones).

use std::path::{Path, PathBuf};

use tokio_serial::SerialPortBuilderExt;

/// Opens `device` at `baud`, raw 8N1 without flow control, exclusively.
pub(super) fn open(device: &str, baud: u32) -> Result<tokio_serial::SerialStream, String> {
    let path = Path::new(device);
    if !path.exists() {
        return Err(format!("{device} does not exist (unplugged, or another ttyUSB number?)"));
    }
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let holders = holders(&real);
    if !holders.is_empty() {
        return Err(held_by(device, &holders));
    }
    let mut port = tokio_serial::new(device, baud)
        .data_bits(tokio_serial::DataBits::Eight)
        .parity(tokio_serial::Parity::None)
        .stop_bits(tokio_serial::StopBits::One)
        .flow_control(tokio_serial::FlowControl::None)
        .open_native_async()
        .map_err(|e| match e.kind {
            tokio_serial::ErrorKind::Io(std::io::ErrorKind::PermissionDenied) => {
                format!("{device}: permission denied (add the bridge's user to the dialout group)")
            }
            _ if e.description.contains("busy") || e.description.contains("Resource busy") => {
                format!("{device} is in use by another program (ModemManager or gammu-smsd?): {}", e.description)
            }
            _ => format!("{device}: {}", e.description),
        })?;
    // TIOCEXCL: nobody else (root aside) opens it while we have it.
    #[cfg(unix)]
    port.set_exclusive(true).map_err(|e| format!("{device}: cannot open exclusively: {e}"))?;
    Ok(port)
}

fn held_by(device: &str, holders: &[String]) -> String {
    let mm = holders.iter().any(|h| h.starts_with("ModemManager"));
    let hint = if mm {
        "stop ModemManager, or make it leave this modem alone with the udev rule ENV{ID_MM_DEVICE_IGNORE}=\"1\" (see the README)"
    } else {
        "stop it first: two programs talking to one modem garble each other's commands"
    };
    format!("{device} is in use by {}: {hint}", holders.join(", "))
}

/// Other processes that have the device open, as "name (pid N)", from /proc, and the
/// owner of a UUCP lock file (/var/lock/LCK..ttyUSB0, which gammu and minicom use).
fn holders(real: &Path) -> Vec<String> {
    let me = std::process::id();
    let mut out = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else { return out };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else { continue };
        if fds.flatten().any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == real)) {
            out.push(format!("{} (pid {pid})", name(pid)));
        }
    }
    if let Some(base) = real.file_name().and_then(|b| b.to_str()) {
        for dir in ["/var/lock", "/run/lock"] {
            let lock = PathBuf::from(dir).join(format!("LCK..{base}"));
            let Ok(text) = std::fs::read_to_string(&lock) else { continue };
            if let Ok(pid) = text.trim().parse::<u32>()
                && pid != me
                && Path::new(&format!("/proc/{pid}")).exists()
            {
                let who = format!("{} (pid {pid}, lock file {})", name(pid), lock.display());
                if !out.iter().any(|h| h.contains(&format!("pid {pid}"))) {
                    out.push(who);
                }
            }
        }
    }
    out
}

fn name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|s| s.trim().to_string()).unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_says_so() {
        let e = open("/dev/serial/by-id/usb-nothing-here", 115200).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
    }

    #[test]
    fn the_holder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ttyFAKE");
        std::fs::write(&file, b"").unwrap();
        // Another process with the "device" open.
        let mut child =
            std::process::Command::new("sleep").arg("30").stdin(std::fs::File::open(&file).unwrap()).spawn().unwrap();
        let mut found = Vec::new();
        for _ in 0..50 {
            found = holders(&std::fs::canonicalize(&file).unwrap());
            if !found.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.kill().unwrap();
        let _ = child.wait();
        assert_eq!(found, vec![format!("sleep (pid {})", child.id())]);
        let msg = held_by("/dev/ttyUSB2", &["ModemManager (pid 812)".into()]);
        assert!(msg.contains("ModemManager (pid 812)") && msg.contains("ID_MM_DEVICE_IGNORE"), "{msg}");
    }
}
