//! Sending: one `OUT…` file per message, then waiting for gammu-smsd to move it to the
//! sent folder (success) or the error folder (it gave up after its own retries).
//!
//! The file name comes from the job and its text, so a send asked again (after a timeout
//! or a restart) finds its earlier file instead of writing a second one.

use std::path::Path;
use std::time::{Duration, Instant};

use ring::digest;

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
    let (outbox, sent, error) =
        (Path::new(&cfg.outbox_path), Path::new(&cfg.sentsms_path), Path::new(&cfg.errorsms_path));
    match place(outbox, sent, error, &name) {
        Place::Sent => return Ok(Sent { message_ids: vec![name] }),
        Place::Waiting => {}
        Place::Failed => {
            // An earlier attempt failed and the core asks again: keep the old file for the
            // operator under another name, and write the message anew.
            let kept = format!("{name}.failed-{}", crate::store::now_ms());
            move_into(&error.join(&name), error, &kept)
                .map_err(|e| SendError::transient(format!("cannot set aside {name} in errorsms_path: {e}")))?;
            write(outbox, &name, &sms.text)?;
        }
        Place::Nowhere => write(outbox, &name, &sms.text)?,
    }
    let deadline = Instant::now() + Duration::from_secs(cfg.send_timeout);
    loop {
        tokio::time::sleep(b.poll_interval()).await;
        match place(outbox, sent, error, &name) {
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
    let hash = digest::digest(&digest::SHA256, sms.text.as_bytes());
    let short: String = hash.as_ref()[..4].iter().map(|b| format!("{b:02x}")).collect();
    // Padded: gammu-smsd takes files in the order of their names.
    outbox_name(&sms.to, &format!("j{:010}-{short}", sms.job_id), report)
}

fn place(outbox: &Path, sent: &Path, error: &Path, name: &str) -> Place {
    if sent.join(name).exists() {
        Place::Sent
    } else if error.join(name).exists() {
        Place::Failed
    } else if outbox.join(name).exists() {
        Place::Waiting
    } else {
        Place::Nowhere
    }
}

fn write(outbox: &Path, name: &str, text: &str) -> Result<(), SendError> {
    write_atomic(outbox, name, &outbox_text(text))
        .map_err(|e| SendError::link_down(format!("cannot write {name} into outbox_path {}: {e}", outbox.display())))
}
