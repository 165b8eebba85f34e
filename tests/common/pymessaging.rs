//! python-messaging, an independent SMS codec (GPL, from PyPI) our codec is cross-checked
//! against. It is only ever run as a separate test peer; none of it is copied into the repo.
//!
//! The package is installed once into a virtualenv under the cargo target dir (shared by all
//! test threads and processes, guarded by a file lock and a marker file, see [`super::venv`]).
//! Each test binary then runs one long-lived `tests/pymessaging_driver.py`, which speaks JSON
//! lines on stdin/stdout; its docstring lists the ops. Failures panic; nothing is skipped.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use serde_json::{Value, json};

use super::venv;

/// The python-messaging release the harness installs; the driver checks it is the one loaded.
pub const PYTHON_MESSAGING_VERSION: &str = "0.5.13";

/// Where the shared virtualenv lives (`target/tmp/pymessaging-venv`).
pub fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("pymessaging-venv")
}

fn driver_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pymessaging_driver.py")
}

struct Driver {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// The driver process, shared by all tests of a binary; requests are serialised.
pub struct PyMessaging {
    driver: Mutex<Driver>,
    /// Everything the driver wrote to stderr, for panic messages.
    stderr: Arc<Mutex<String>>,
}

impl PyMessaging {
    /// The binary's driver, installing python-messaging and starting the driver on first use.
    pub fn get() -> &'static PyMessaging {
        static INSTANCE: OnceLock<PyMessaging> = OnceLock::new();
        INSTANCE.get_or_init(PyMessaging::start)
    }

    fn start() -> PyMessaging {
        let requirement = format!("python-messaging=={PYTHON_MESSAGING_VERSION}");
        let venv = venv::ensure_venv(&venv_dir(), PYTHON_MESSAGING_VERSION, &[&requirement], "pymessaging harness");
        let started = Instant::now();
        let mut child = Command::new(venv.join("bin/python"))
            // Isolated: no PYTHON* variables, no user site-packages, no script dir on sys.path.
            .arg("-I")
            .arg(driver_script())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("spawning {} {}: {e}", venv.join("bin/python").display(), driver_script().display())
            });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap_or_else(|e| e.into_inner()).push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let driver = Driver {
            stdin: child.stdin.take().expect("piped stdin"),
            stdout: BufReader::new(child.stdout.take().expect("piped stdout")),
            child,
        };
        let py = PyMessaging { driver: Mutex::new(driver), stderr };
        let version = py.call_ok(json!({"op": "version"}));
        assert_eq!(
            version["python_messaging"], PYTHON_MESSAGING_VERSION,
            "the driver loaded another python-messaging: {version}"
        );
        eprintln!("pymessaging harness: driver up in {:.2?} ({version})", started.elapsed());
        py
    }

    /// Sends one request, returns the driver's answer: the op's result, or `{"error": ...}` when
    /// python-messaging (or the request) failed. Panics if the driver itself is gone.
    pub fn call(&self, req: Value) -> Value {
        let line = serde_json::to_string(&req).expect("serialising request");
        assert!(!line.contains('\n'), "serde_json never writes raw newlines");
        // A panic in another test while it held the lock leaves the driver usable.
        let mut driver = self.driver.lock().unwrap_or_else(|e| e.into_inner());
        let mut answer = String::new();
        let io = writeln!(driver.stdin, "{line}")
            .and_then(|()| driver.stdin.flush())
            .and_then(|()| driver.stdout.read_line(&mut answer));
        match io {
            Ok(n) if n > 0 => serde_json::from_str(&answer)
                .unwrap_or_else(|e| panic!("driver answered {req} with non-JSON ({e}): {answer:?}")),
            other => {
                let status = driver.child.try_wait();
                panic!(
                    "python-messaging driver died on {req} ({other:?}, exit {status:?}); its stderr:\n{}",
                    self.stderr.lock().unwrap_or_else(|e| e.into_inner())
                )
            }
        }
    }

    /// Like [`PyMessaging::call`], panicking if the answer is an error.
    pub fn call_ok(&self, req: Value) -> Value {
        let answer = self.call(req.clone());
        if let Some(error) = answer.get("error") {
            let trace = answer["traceback"].as_str().unwrap_or_default();
            panic!("python-messaging failed on {req}: {error}\n{trace}");
        }
        answer
    }

    /// `encode_submit` with defaults: no SMSC, no validity, no status report, TP-MR 0,
    /// concatenation reference `csms_ref`, encoding chosen by python-messaging. Returns the
    /// PDUs' hex strings (each starting with the SMSC field).
    pub fn encode_submit(&self, number: &str, text: &str, csms_ref: u8) -> Vec<String> {
        let answer = self.call_ok(json!({
            "op": "encode_submit",
            "number": number,
            "text": text,
            "smsc": null,
            "validity_minutes": null,
            "status_report": false,
            "csms_ref": csms_ref,
            "encoding": null,
        }));
        answer["pdus"]
            .as_array()
            .unwrap_or_else(|| panic!("encode_submit answer without pdus: {answer}"))
            .iter()
            .map(|p| p["hex"].as_str().unwrap_or_else(|| panic!("PDU without hex: {p}")).to_owned())
            .collect()
    }

    /// `decode` (SMS-DELIVER or SMS-STATUS-REPORT with SMSC field), panicking on error.
    pub fn decode(&self, hex: &str) -> Value {
        self.call_ok(json!({"op": "decode", "hex": hex}))
    }

    /// `decode_submit`: an SMS-SUBMIT re-framed as SMS-DELIVER, then decoded by python-messaging.
    pub fn decode_submit(&self, hex: &str) -> Value {
        self.call_ok(json!({"op": "decode_submit", "hex": hex}))
    }
}

/// Upper-case hex of `bytes`, the form python-messaging writes.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Bytes of a hex string; panics on anything but an even number of hex digits.
pub fn from_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd-length hex: {hex}");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|e| panic!("bad hex {hex:?}: {e}")))
        .collect()
}
