//! The pseudo-terminal: clients open the slave (/dev/pts/N, or the link); the simulator
//! reads and writes the master. Unplugging closes both, as a USB modem vanishing does.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_serial::{SerialPort, SerialStream};

use super::commands::{self, Reply};
use super::state::State;

const ESC: u8 = 0x1B;
const CTRL_Z: u8 = 0x1A;
/// Longer command lines are cut (real modems take a few hundred characters).
const MAX_LINE: usize = 1024;
/// A client that stops reading must not stall the simulator: output it does not take
/// within this time is dropped, as a modem's full buffer drops it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) struct Pty {
    tasks: [JoinHandle<()>; 2],
}

/// Opens a new PTY pair, points the link at it and starts serving it.
pub(super) fn plug(state: &Arc<State>) -> std::io::Result<()> {
    let (master, slave) = SerialStream::pair().map_err(std::io::Error::other)?;
    // posix_openpt gives no O_CLOEXEC: a process started later (the bridge under test,
    // Synapse) would inherit the master and keep the PTY alive through an unplug.
    close_on_exec(&master)?;
    // pair() leaves the slave raw (cfmakeraw): no echo or CR translation by the kernel.
    let device = PathBuf::from(slave.name().ok_or_else(|| std::io::Error::other("the PTY has no name"))?);
    // Not kept open: the bridge (rightly) refuses a port another process holds, and the
    // simulator is often another process. The master reads EIO while no client has the
    // slave open; the read loop waits that out.
    drop(slave);
    if let Some(link) = &state.opts.link {
        point_link(link, &device)?;
    }
    let (reader, writer) = tokio::io::split(master);
    let (tx, rx) = mpsc::unbounded_channel();
    *state.out.lock().unwrap() = Some(tx);
    *state.device.lock().unwrap() = Some(device);
    let tasks =
        [tokio::spawn(write_loop(Arc::clone(state), writer, rx)), tokio::spawn(read_loop(Arc::clone(state), reader))];
    // try_lock: plug runs only from start and replug, after unplug released the lock.
    if let Ok(mut pty) = state.pty.try_lock() {
        *pty = Some(Pty { tasks });
    }
    Ok(())
}

pub(super) async fn unplug(state: &State) {
    *state.out.lock().unwrap() = None;
    if let Some(pty) = state.pty.lock().await.take() {
        for t in &pty.tasks {
            t.abort();
        }
        for t in pty.tasks {
            let _ = t.await;
        }
    }
    if let Some(link) = &state.opts.link {
        let _ = std::fs::remove_file(link);
    }
}

fn close_on_exec(fd: &impl std::os::fd::AsRawFd) -> std::io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, with no pointers involved.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Re-points `link` atomically (a new symlink renamed over the old one).
fn point_link(link: &Path, device: &Path) -> std::io::Result<()> {
    let tmp = link.with_extension("modem-sim-tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(device, &tmp)
        .and_then(|()| std::fs::rename(&tmp, link))
        .map_err(|e| std::io::Error::new(e.kind(), format!("--link {}: {e}", link.display())))
}

async fn write_loop(
    state: Arc<State>,
    mut w: tokio::io::WriteHalf<SerialStream>,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    while let Some(bytes) = rx.recv().await {
        if is_indication(&bytes) {
            state.inner.lock().unwrap().indication_written = Some(Instant::now());
        }
        match tokio::time::timeout(WRITE_TIMEOUT, w.write_all(&bytes)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return,
            Err(_) => {} // nobody reading: dropped
        }
    }
}

/// A new-message or report indication, as `network` emits them (one write each).
fn is_indication(bytes: &[u8]) -> bool {
    [&b"\r\n+CMTI:"[..], b"\r\n+CDSI:", b"\r\n+CMT:", b"\r\n+CDS:"].iter().any(|p| bytes.starts_with(p))
}

enum Mode {
    Command(Vec<u8>),
    /// After the `> ` prompt: the PDU's hex until Ctrl-Z (ESC aborts).
    Pdu {
        length: usize,
        hex: Vec<u8>,
    },
}

async fn read_loop(state: Arc<State>, mut r: tokio::io::ReadHalf<SerialStream>) {
    let mut mode = Mode::Command(Vec::new());
    let mut seen_boots = state.boots.load(Ordering::SeqCst);
    let mut buf = [0u8; 512];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => {
                // EIO while no client has the slave open: wait and retry.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Ok(n) => n,
        };
        if state.inner.lock().unwrap().faults.silent {
            continue;
        }
        let boots = state.boots.load(Ordering::SeqCst);
        if boots != seen_boots {
            seen_boots = boots;
            mode = Mode::Command(Vec::new());
        }
        for &b in &buf[..n] {
            mode = step(&state, mode, b).await;
        }
    }
}

async fn step(state: &Arc<State>, mode: Mode, b: u8) -> Mode {
    match mode {
        Mode::Command(mut line) => match b {
            // A stray ESC (gammu starts with ESC CR to leave any prompt) is ignored.
            ESC => Mode::Command(line),
            b'\r' | b'\n' => {
                if line.is_empty() {
                    return Mode::Command(line);
                }
                let text = String::from_utf8_lossy(&line).trim().to_string();
                command_line(state, &text)
            }
            _ if line.len() < MAX_LINE => {
                line.push(b);
                Mode::Command(line)
            }
            _ => Mode::Command(line),
        },
        Mode::Pdu { length, mut hex } => match b {
            ESC => {
                echo(state, &hex);
                state.emit("\r\nOK\r\n");
                Mode::Command(Vec::new())
            }
            CTRL_Z => {
                echo(state, &hex);
                let text = String::from_utf8_lossy(&hex).trim().to_string();
                let reply = commands::submit(state, length, &text).await;
                state.emit(commands::render(state, reply));
                Mode::Command(Vec::new())
            }
            b'\r' | b'\n' => Mode::Pdu { length, hex },
            _ if hex.len() < 2 * 200 => {
                hex.push(b);
                Mode::Pdu { length, hex }
            }
            _ => Mode::Pdu { length, hex },
        },
    }
}

fn echo(state: &State, bytes: &[u8]) {
    if state.inner.lock().unwrap().settings.echo {
        state.emit(bytes.to_vec());
    }
}

fn command_line(state: &Arc<State>, text: &str) -> Mode {
    let echo_on = {
        let mut inner = state.inner.lock().unwrap();
        inner.commands.push(text.to_string());
        inner.command_times.push(Instant::now());
        inner.settings.echo
    };
    if echo_on {
        state.emit(format!("{text}\r"));
    }
    let reply = commands::execute(state, text);
    if let Reply::Prompt(length) = reply {
        state.emit("\r\n> ");
        return Mode::Pdu { length, hex: Vec::new() };
    }
    state.emit(commands::render(state, reply));
    if text.to_ascii_uppercase().starts_with("AT+CMGD") {
        super::network::store_held(state);
    }
    Mode::Command(Vec::new())
}
