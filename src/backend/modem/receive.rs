//! Reading messages off the modem: one announced by `+CMTI`, everything in storage (at
//! start, on a timer, when storage is full), and `+CMT`/`+CDS` routed straight to us.
//! Each is committed with a fingerprint before it is deleted, so a message read twice is
//! shown once.

use std::time::Duration;

use super::channel::{AtError, Channel};
use super::incoming::{self, Incoming};
use crate::at::{Final, answers};
use crate::backend::EventSink;

/// What became of one PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Committed now or before (or nothing to commit): it may be deleted.
    Committed,
    /// Not ours to keep or delete (a message stored for sending).
    Skipped,
    /// Unreadable or not committed: left where it is.
    Kept,
}

/// Decodes and commits one PDU line. Only a database failure is an error; a PDU nothing
/// can be made of is logged and kept in storage, where a person can still read it.
pub(super) fn commit(sink: &EventSink, line: &str, where_: &str) -> Outcome {
    let decoded = match super::decode::pdu_line(line) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(at = where_, pdu = line, error = %e, "an unreadable message was left on the modem");
            return Outcome::Kept;
        }
    };
    for w in &decoded.warnings {
        tracing::warn!(at = where_, pdu = line, warning = %w, "message decoded leniently");
    }
    match incoming::interpret(&decoded.pdu, decoded.truncated) {
        Incoming::Skip { why, delete } => {
            tracing::debug!(at = where_, why, "message skipped");
            if delete { Outcome::Committed } else { Outcome::Skipped }
        }
        Incoming::Received(what) => match sink.once(&fingerprint(line), what) {
            Ok(true) => Outcome::Committed,
            Ok(false) => {
                tracing::info!(
                    at = where_,
                    "a message read before (repeated by the modem, or not deleted): not shown again"
                );
                Outcome::Committed
            }
            Err(e) => {
                tracing::error!(at = where_, error = %e, "could not commit a received message; it stays on the modem");
                Outcome::Kept
            }
        },
    }
}

/// The same PDU, however the modem spelled it (case, junk at the end), gives the same print.
pub(super) fn fingerprint(line: &str) -> String {
    let hex: String = line.chars().filter(|c| c.is_ascii_hexdigit()).map(|c| c.to_ascii_uppercase()).collect();
    format!("pdu:{}", crate::backend::short_hash(hex.as_bytes(), 16))
}

/// Reads, commits and deletes the message at `index` of the current storage.
pub(super) async fn read_one(ch: &mut Channel, sink: &EventSink, index: u32, t: Duration) -> Result<(), AtError> {
    let lines = match ch.command(&format!("AT+CMGR={index}"), t).await {
        Ok(lines) => lines,
        // Already gone (deleted after an earlier listing): nothing to do.
        Err(AtError::Failed(Final::CmsError(321))) => return Ok(()),
        Err(e) => return Err(e),
    };
    let Some(pos) = lines.iter().position(|l| answers::cmgr(l).is_some()) else { return Ok(()) };
    let Some(pdu) = lines.get(pos + 1) else {
        tracing::warn!(index, "the modem announced a message but printed no PDU for it");
        return Ok(());
    };
    if commit(sink, pdu, &format!("index {index}")) == Outcome::Committed {
        delete(ch, index, t).await?;
    }
    Ok(())
}

/// Lists everything stored (`AT+CMGL=4`), commits it, then deletes what was committed.
/// Returns how many messages were committed.
pub(super) async fn read_all(ch: &mut Channel, sink: &EventSink, t: Duration) -> Result<usize, AtError> {
    // A full SIM takes a while to list.
    let lines = ch.command("AT+CMGL=4", t.max(Duration::from_secs(30))).await?;
    let mut done = Vec::new();
    let mut it = lines.iter().peekable();
    while let Some(line) = it.next() {
        let Some(entry) = answers::cmgl(line) else { continue };
        let Some(pdu) = it.next_if(|l| answers::cmgl(l).is_none()) else {
            tracing::warn!(index = entry.index, "listed without a PDU line");
            continue;
        };
        if commit(sink, pdu, &format!("index {}", entry.index)) == Outcome::Committed {
            done.push(entry.index);
        }
    }
    for &index in &done {
        delete(ch, index, t).await?;
    }
    Ok(done.len())
}

/// Lists, commits and deletes everything in another storage ("SR", where status reports
/// wait that came while the bridge was away), switched to and back.
pub(super) async fn read_all_in(
    ch: &mut Channel,
    sink: &EventSink,
    storage: &str,
    ours: &str,
    t: Duration,
) -> Result<usize, AtError> {
    if let Err(e) = ch.command(&format!("AT+CPMS=\"{storage}\",\"{ours}\",\"{ours}\""), t).await {
        tracing::warn!(storage, error = %e, "cannot open the storage to list it");
        return match e {
            AtError::Gone(_) => Err(e),
            _ => Ok(0),
        };
    }
    let read = read_all(ch, sink, t).await;
    ch.command(&format!("AT+CPMS=\"{ours}\",\"{ours}\",\"{ours}\""), t).await?;
    read
}

/// Reads a message from `storage` (a status report in "SR", announced by `+CDSI`): another
/// storage than ours is switched to for the read and back.
pub(super) async fn read_from(
    ch: &mut Channel,
    sink: &EventSink,
    storage: &str,
    index: u32,
    ours: &str,
    t: Duration,
) -> Result<(), AtError> {
    if storage == ours {
        return read_one(ch, sink, index, t).await;
    }
    if let Err(e) = ch.command(&format!("AT+CPMS=\"{storage}\",\"{ours}\",\"{ours}\""), t).await {
        tracing::warn!(storage, error = %e, "cannot open the status report storage; the report is not read");
        return match e {
            AtError::Gone(_) => Err(e),
            _ => Ok(()),
        };
    }
    let read = read_one(ch, sink, index, t).await;
    ch.command(&format!("AT+CPMS=\"{ours}\",\"{ours}\",\"{ours}\""), t).await?;
    read
}

async fn delete(ch: &mut Channel, index: u32, t: Duration) -> Result<(), AtError> {
    match ch.command(&format!("AT+CMGD={index}"), t).await {
        Ok(_) | Err(AtError::Failed(Final::CmsError(321))) => Ok(()),
        // Committed already: if it stays, the next listing finds its print and deletes it.
        Err(AtError::Failed(f)) => {
            tracing::warn!(index, error = %f, "could not delete a committed message from the modem");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_ignore_spelling() {
        assert_eq!(fingerprint("07914477aa\""), fingerprint("07914477AA"));
        assert_ne!(fingerprint("07914477AA"), fingerprint("07914477AB"));
    }
}
