//! Python virtualenvs for test peers (Synapse, python-messaging), installed from PyPI once
//! under the cargo target dir and shared by every test thread and process.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The last `lines` lines of a text file, or a note saying why it cannot be read.
pub fn tail_of_file(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

/// Runs `cmd` with stdout and stderr appended to `log`; panics with the log's tail on failure.
pub fn run_logged(cmd: &mut Command, log: &Path, what: &str) {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("opening {}: {e}", log.display()));
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("cloning log handle"))
        .stderr(file)
        .status()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    if !status.success() {
        panic!("{what} failed ({status}); tail of {}:\n{}", log.display(), tail_of_file(log, 40));
    }
}

/// Makes `venv` a virtualenv with `requirements` pip-installed, unless a previous run already
/// did (its marker file `.installed-{tag}` exists). Blocking. The marker is written only after
/// a complete install, so its presence is the only thing that makes a venv trusted; change
/// `tag` whenever `requirements` change. Panics with pip's output on failure; never skips.
pub fn ensure_venv(venv: &Path, tag: &str, requirements: &[&str], label: &str) -> PathBuf {
    let marker = venv.join(format!(".installed-{tag}"));
    if marker.exists() {
        return venv.to_path_buf();
    }
    let parent = venv.parent().expect("venv dir has a parent");
    fs::create_dir_all(parent).unwrap_or_else(|e| panic!("creating {}: {e}", parent.display()));

    // flock(2) semantics: excludes other processes and other open handles in
    // this process alike, so parallel test threads and binaries install once.
    let lock_path = venv.with_extension("lock");
    let lock = File::create(&lock_path).unwrap_or_else(|e| panic!("creating {}: {e}", lock_path.display()));
    lock.lock().unwrap_or_else(|e| panic!("locking {}: {e}", lock_path.display()));
    if marker.exists() {
        return venv.to_path_buf(); // someone else installed it while we waited
    }

    // No marker: an interrupted install or other requirements. Start clean.
    if venv.exists() {
        fs::remove_dir_all(venv).unwrap_or_else(|e| panic!("removing {}: {e}", venv.display()));
    }
    let log = venv.with_extension("install.log");
    let _ = fs::remove_file(&log);
    let started = Instant::now();
    run_logged(
        Command::new("python3").args(["-m", "venv"]).arg(venv),
        &log,
        &format!("{label}: creating the virtualenv"),
    );
    run_logged(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--disable-pip-version-check", "--no-input"])
            .args(requirements),
        &log,
        &format!("{label}: pip install {}", requirements.join(" ")),
    );
    File::create(&marker).unwrap_or_else(|e| panic!("creating {}: {e}", marker.display()));
    eprintln!("{label}: installed {} into {} in {:.1?}", requirements.join(" "), venv.display(), started.elapsed());
    venv.to_path_buf()
}
