//! The shared-test-data helper, run in a child process of this test binary pointed at a
//! folder that does not exist: it skips with one line, or fails when the run requires it.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::testdata::{LOCATION, REQUIRE};

/// The child's test: reads the folder as the vector tests do.
#[test]
fn reads_the_mms_folder() {
    let Some(dir) = common::testdata::dir("mms") else { return };
    assert!(dir.join("SIMPLE.MMS").is_file(), "{}", dir.display());
}

fn run_child(root: &Path, require: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "reads_the_mms_folder"])
        .env(LOCATION, root)
        .env(REQUIRE, require)
        .output()
        .unwrap()
}

#[test]
fn a_missing_folder_skips_in_one_line_or_fails_when_required() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nowhere");
    let folder = missing.join("mms");

    let skipped = run_child(&missing, "");
    let (out, err) = (String::from_utf8_lossy(&skipped.stdout), String::from_utf8_lossy(&skipped.stderr));
    assert!(skipped.status.success(), "{out}{err}");
    assert!(out.contains("1 passed"), "{out}");
    let want = format!("skipping: {} not found (set {REQUIRE}=1 to fail instead)", folder.display());
    assert_eq!(err.lines().collect::<Vec<_>>(), [want.as_str()]);

    let failed = run_child(&missing, "1");
    let out = String::from_utf8_lossy(&failed.stdout);
    assert!(!failed.status.success(), "{out}");
    assert!(out.contains(&format!("{} not found ({REQUIRE}=1 requires it)", folder.display())), "{out}");
}
