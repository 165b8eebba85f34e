//! The spool's folders: whether they are usable, and moving files between them.

use std::io;
use std::path::{Path, PathBuf};

use crate::config::GammuSpoolConfig;

/// Every folder the link reads or writes exists and is a folder; the first problem in
/// words otherwise.
pub(super) fn check(cfg: &GammuSpoolConfig) -> Result<(), String> {
    let mut folders = vec![
        ("inbox_path", &cfg.inbox_path),
        ("outbox_path", &cfg.outbox_path),
        ("sentsms_path", &cfg.sentsms_path),
        ("errorsms_path", &cfg.errorsms_path),
    ];
    if let (Some(p), false) = (&cfg.processed_path, cfg.delete_processed) {
        folders.push(("processed_path", p));
    }
    for (name, path) in folders {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(format!("{name} {path} is not a folder")),
            Err(e) => return Err(format!("{name} {path}: {e}")),
        }
    }
    Ok(())
}

/// Moves `file` into `dir` under `name`, replacing a file of that name. Copies and
/// removes when the folders are on different file systems.
pub(super) fn move_into(file: &Path, dir: &Path, name: &str) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let to = dir.join(name);
    match std::fs::rename(file, &to) {
        Ok(()) => Ok(to),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            std::fs::copy(file, &to)?;
            std::fs::remove_file(file)?;
            Ok(to)
        }
        Err(e) => Err(e),
    }
}

/// Writes `bytes` as `dir/name` all at once for readers: a hidden temporary name in the
/// same folder (gammu-smsd skips names starting with a dot), flushed, then renamed.
pub(super) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(name)).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
