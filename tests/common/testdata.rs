//! The shared python-messaging test data (`../shared/testdata`, beside the repository; not
//! part of a clone). Tests that read it skip when it is missing, unless the run requires it.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Set to `1` (as CI does) to fail instead of skipping when the folder is missing.
pub const REQUIRE: &str = "SMS_BRIDGE_REQUIRE_TESTDATA";
/// Overrides where the shared test data lives.
pub const LOCATION: &str = "SMS_BRIDGE_TESTDATA";

/// The folder `sub` of the shared test data (e.g. "mms"), or None after printing one line
/// saying it was skipped. Panics instead when `SMS_BRIDGE_REQUIRE_TESTDATA=1`.
pub fn dir(sub: &str) -> Option<PathBuf> {
    let root = match std::env::var_os(LOCATION) {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/testdata"),
    };
    let dir = root.join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var(REQUIRE).is_ok_and(|v| v == "1") {
        panic!("{} not found ({REQUIRE}=1 requires it)", dir.display());
    }
    // Straight to stderr, in one write: the harness swallows eprintln! from a passing test,
    // and unbuffered stderr would split a formatted line among other tests' output.
    let line = format!("skipping: {} not found (set {REQUIRE}=1 to fail instead)\n", dir.display());
    let _ = std::io::stderr().write_all(line.as_bytes());
    None
}
