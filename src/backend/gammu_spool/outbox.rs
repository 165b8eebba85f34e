//! Sending: one `OUT…` file per message, then waiting for gammu-smsd to move it to the
//! sent folder (success) or the error folder (it gave up after its own retries).
//!
//! The file name comes from the job and its text, so a send asked again (after a timeout
//! or a restart) finds its earlier file instead of writing a second one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::GammuSpoolBackend;
use super::folders::{move_into, write_atomic};
use super::parse::{outbox_name, outbox_text};
use crate::backend::{OutgoingSms, SendError, Sent};

/// Where a message's file is now.
#[derive(Debug, PartialEq, Eq)]
enum Place {
    Sent,
    Failed,
    Waiting,
    Nowhere,
}

pub(super) async fn send(b: &GammuSpoolBackend, sms: &OutgoingSms) -> Result<Sent, SendError> {
    if sms.binary.is_some() {
        return Err(SendError::permanent("gammu_spool links send text only"));
    }
    // The number becomes part of a file name gammu-smsd splits on '_' and '.'.
    if sms.to.is_empty() || !sms.to.chars().all(|c| c.is_ascii_alphanumeric() || c == '+') {
        return Err(SendError::permanent(format!("{:?} cannot be written into a gammu-smsd file name", sms.to)));
    }
    let name = file_name(sms, b.cfg.request_reports);
    let cfg = &b.cfg;
    let folders = Folders {
        outbox: PathBuf::from(&cfg.outbox_path),
        sent: PathBuf::from(&cfg.sentsms_path),
        error: PathBuf::from(&cfg.errorsms_path),
    };
    let (f, n, text) = (folders.clone(), name.clone(), sms.text.clone());
    let first = blocking(move || -> Result<Option<Sent>, SendError> {
        match f.place(&n)? {
            Place::Sent => return Ok(Some(Sent { message_ids: vec![n] })),
            Place::Waiting => {}
            Place::Failed => {
                // An earlier attempt failed and the core asks again: keep the old file for
                // the operator under another name, and write the message anew.
                let kept = format!("{n}.failed-{}", crate::store::now_ms());
                move_into(&f.error.join(&n), &f.error, &kept)
                    .map_err(|e| SendError::transient(format!("cannot set aside {n} in errorsms_path: {e}")))?;
                write(&f.outbox, &n, &text)?;
            }
            Place::Nowhere => write(&f.outbox, &n, &text)?,
        }
        Ok(None)
    })
    .await??;
    if let Some(sent) = first {
        return Ok(sent);
    }
    let deadline = Instant::now() + Duration::from_secs(cfg.send_timeout);
    loop {
        tokio::time::sleep(b.poll_interval()).await;
        let (f, n) = (folders.clone(), name.clone());
        match blocking(move || f.place(&n)).await?? {
            Place::Sent => return Ok(Sent { message_ids: vec![name] }),
            Place::Failed => {
                return Err(SendError::permanent(format!(
                    "gammu-smsd could not send it: {name} is in errorsms_path (see gammu-smsd's log)"
                )));
            }
            Place::Waiting => {}
            // gammu-smsd took it and kept no copy (its SentSMSPath unset, or someone cleared
            // the sent folder): it moves a file by writing the copy first, so a file in no
            // folder is not in between. Written again, it would be sent twice.
            Place::Nowhere => return Ok(Sent { message_ids: vec![name] }),
        }
        if Instant::now() >= deadline {
            return Err(SendError::transient(format!(
                "gammu-smsd has not sent {name} within {} s (is it running, with this outbox_path?); it stays in the outbox",
                cfg.send_timeout
            )));
        }
    }
}

/// `OUTA_<to>_j<job>-<hash of the text>.txt`: the hash keeps a new database's job ids from
/// meeting an old file of the same job number.
fn file_name(sms: &OutgoingSms, report: bool) -> String {
    let short = crate::backend::short_hash(sms.text.as_bytes(), 4);
    // Padded: gammu-smsd takes files in the order of their names.
    outbox_name(&sms.to, &format!("j{:010}-{short}", sms.job_id), report)
}

#[derive(Clone)]
struct Folders {
    outbox: PathBuf,
    sent: PathBuf,
    error: PathBuf,
}

impl Folders {
    /// Where the file is. A folder that cannot be looked into is an error, not "not
    /// there": a file in no folder counts as sent.
    fn place(&self, name: &str) -> Result<Place, SendError> {
        let is_in = |dir: &Path| {
            dir.join(name)
                .try_exists()
                .map_err(|e| SendError::transient(format!("cannot look for {name} in {}: {e}", dir.display())))
        };
        Ok(if is_in(&self.sent)? {
            Place::Sent
        } else if is_in(&self.error)? {
            Place::Failed
        } else if is_in(&self.outbox)? {
            Place::Waiting
        } else {
            Place::Nowhere
        })
    }
}

/// File calls off the async workers: a slow or network file system would hold them.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, SendError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| SendError::transient(format!("gammu_spool: {e}")))
}

fn write(outbox: &Path, name: &str, text: &str) -> Result<(), SendError> {
    write_atomic(outbox, name, &outbox_text(text))
        .map_err(|e| SendError::link_down(format!("cannot write {name} into outbox_path {}: {e}", outbox.display())))
}
