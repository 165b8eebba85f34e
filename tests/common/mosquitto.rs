//! Debian's Mosquitto broker for one test: a generated config on a free loopback port, a
//! password file from mosquitto_passwd, stop and restart on the same port. A broker that
//! cannot start fails the test with its log (never skips it).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "bridge";
pub const PASSWORD: &str = "s3cret";
const BINARY: &str = "/usr/sbin/mosquitto";

pub struct Mosquitto {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    starts: u32,
}

/// PEM files for a TLS listener, and the CA that signed the server certificate.
pub struct TlsFiles {
    pub ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Mosquitto {
    /// A broker that takes only [`USER`] / [`PASSWORD`].
    pub fn start() -> Mosquitto {
        Mosquitto::with(None)
    }

    /// The same behind TLS, with a certificate for `localhost` and 127.0.0.1.
    pub fn start_tls() -> (Mosquitto, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let files = tls_files(dir.path());
        let ca = files.ca.clone();
        let m = Mosquitto::with(Some((dir, files)));
        (m, ca)
    }

    fn with(tls: Option<(tempfile::TempDir, TlsFiles)>) -> Mosquitto {
        let (dir, tls) = match tls {
            Some((d, f)) => (d, Some(f)),
            None => (tempfile::tempdir().unwrap(), None),
        };
        let passwd = dir.path().join("passwd");
        let out = Command::new("mosquitto_passwd")
            .arg("-b")
            .arg("-c")
            .arg(&passwd)
            .args([USER, PASSWORD])
            .output()
            .unwrap_or_else(|e| panic!("mosquitto_passwd cannot run ({e}): apt-get install mosquitto"));
        assert!(out.status.success(), "mosquitto_passwd failed: {}", String::from_utf8_lossy(&out.stderr));
        let port = free_port();
        let mut conf = format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\npersistence false\n\
             log_dest stderr\nlog_type all\nconnection_messages true\n",
            passwd.display()
        );
        if let Some(t) = &tls {
            conf += &format!("cafile {}\ncertfile {}\nkeyfile {}\n", t.ca.display(), t.cert.display(), t.key.display());
        }
        // Run as root, Mosquitto would switch to its own user, who cannot read our tempdir.
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            conf += "user root\n";
        }
        std::fs::write(dir.path().join("mosquitto.conf"), conf).unwrap();
        let mut m = Mosquitto { port, dir, child: None, starts: 0 };
        m.restart();
        m
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Kills the broker (SIGKILL: an outage, not a shutdown).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the broker (again) on the same port and waits until it takes connections.
    pub fn restart(&mut self) {
        self.stop();
        self.starts += 1;
        let log = std::fs::File::create(self.log_path()).unwrap();
        let child = Command::new(BINARY)
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{BINARY} cannot run ({e}): apt-get install --no-install-recommends mosquitto"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("mosquitto exited ({status}) on port {}:\n{}", self.port, self.log());
            }
            assert!(Instant::now() < deadline, "mosquitto not listening on {} after 10 s:\n{}", self.port, self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("mosquitto-{}.log", self.starts))
    }

    /// The current run's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tls_files(dir: &Path) -> TlsFiles {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let files = TlsFiles { ca: dir.join("ca.pem"), cert: dir.join("server.pem"), key: dir.join("server.key") };
    std::fs::write(&files.ca, ca_cert.pem()).unwrap();
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    files
}
