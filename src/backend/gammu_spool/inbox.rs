//! Reading the inbox folder: each message committed with a fingerprint, and only then its
//! files moved to `processed_path` (or deleted). A file that cannot be read is moved to
//! the inbox's `error` subfolder with one warning; the others go on.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use super::GammuSpoolBackend;
use super::folders::{check, move_into};
use super::group::{Group, group};
use super::parse::{self, BadFile, FilePart, InboxName};
use crate::backend::{Backend, EventSink, LinkState, Received, ReceivedSms, WapPush};
use crate::config::InboxFormat;

/// Where unreadable files go, inside the inbox folder.
pub const ERROR_FOLDER: &str = "error";

/// What one look at the inbox remembers for the next.
#[derive(Default)]
pub(super) struct Memory {
    /// Size and modification time of each file last time: a file is read only once both
    /// stayed the same for one poll, so a file gammu-smsd is still writing is left alone.
    seen: HashMap<String, (u64, Option<SystemTime>)>,
    /// Files whose commit or move failed, warned about once.
    failing: HashSet<String>,
}

pub(super) async fn run(b: Arc<GammuSpoolBackend>, sink: EventSink) {
    let mut memory = Memory::default();
    loop {
        let (b2, sink2) = (Arc::clone(&b), sink.clone());
        let ready = tokio::task::spawn_blocking(move || {
            let ready = check(&b2.cfg);
            if ready.is_ok() {
                scan(&b2, &sink2, &mut memory);
            }
            (ready, memory)
        })
        .await;
        let ready = match ready {
            Ok((ready, m)) => {
                memory = m;
                ready
            }
            Err(e) => {
                // A panic in one scan: start afresh rather than stop receiving.
                memory = Memory::default();
                Err(format!("reading the inbox failed: {e}"))
            }
        };
        match ready {
            Ok(()) => b.set_state(&sink, LinkState::Connected),
            Err(reason) => b.set_state(&sink, LinkState::NotReady { reason }),
        }
        tokio::select! {
            _ = tokio::time::sleep(b.poll_interval()) => {}
            _ = b.stop.notified() => return,
        }
        if b.state() == LinkState::Stopped {
            return;
        }
    }
}

/// One look at the inbox; returns how many messages were committed.
pub(super) fn scan(b: &GammuSpoolBackend, sink: &EventSink, memory: &mut Memory) -> usize {
    let inbox = Path::new(&b.cfg.inbox_path);
    let Ok(entries) = std::fs::read_dir(inbox) else { return 0 };
    let mut files = Vec::new();
    let mut now_seen = HashMap::new();
    let mut stable = HashSet::new();
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else { continue };
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let look = (meta.len(), meta.modified().ok());
        // Remembered even when set aside below: a file that cannot be moved is told once.
        now_seen.insert(name.clone(), look);
        let Some(parsed) = parse::inbox_name(&name) else {
            if parse::looks_like_inbox_file(&name) {
                // gammu-smsd 1.42 saves a status report as an empty `IN000000_000000_00__00.txt`.
                let why = "is not named IN<date>_<time>_<serial>_<sender>_<part> (gammu-smsd writes delivery \
                           reports so unless its DeliveryReport = log)";
                let g = Group { files: vec![name.clone()], orphan: false };
                set_aside(sink, memory, inbox, &g, &name, why);
            }
            continue;
        };
        if memory.seen.get(&name) == Some(&look) {
            stable.insert(name.clone());
        }
        files.push((name, parsed));
    }
    memory.seen = now_seen;
    memory.failing.retain(|f| memory.seen.contains_key(f));
    let names: HashMap<String, InboxName> = files.iter().cloned().collect();
    let mut committed = 0;
    for g in group(&files) {
        if !g.files.iter().all(|f| stable.contains(f)) {
            continue;
        }
        if take(b, sink, memory, inbox, &g, &names) {
            committed += 1;
        }
    }
    committed
}

/// Reads, commits and clears away one group; true when it was committed now.
fn take(
    b: &GammuSpoolBackend,
    sink: &EventSink,
    memory: &mut Memory,
    inbox: &Path,
    g: &Group,
    names: &HashMap<String, InboxName>,
) -> bool {
    let first = &names[&g.files[0]];
    let what = match read_group(inbox, g, first, b.cfg.inbox_format) {
        Ok(what) => what,
        Err(Unread::Bad(file, why)) => {
            set_aside(sink, memory, inbox, g, &file, &why);
            return false;
        }
        // Perhaps passing (permissions, too many open files): tried again, told once.
        Err(Unread::Io(file, why)) => {
            if memory.failing.insert(file.clone()) {
                sink.warn(&format!("gammu-smsd inbox: {file} cannot be read ({why}); trying again"));
            }
            return false;
        }
    };
    let print = fingerprint(&g.files, &what);
    let committed = match sink.once(&print, what) {
        Ok(new) => new,
        Err(e) => {
            if memory.failing.insert(g.files[0].clone()) {
                sink.warn(&format!("gammu-smsd inbox: {} could not be committed ({e}); trying again", g.files[0]));
            }
            return false;
        }
    };
    // Told once, when it is bridged (not again while it cannot be moved away).
    if g.orphan && committed {
        sink.warn(&format!(
            "gammu-smsd inbox: {} is part {} of a message whose first part is not in the folder; bridged on its own",
            g.files[0],
            first.part + 1
        ));
    }
    for f in &g.files {
        let path = inbox.join(f);
        let done = match (&b.cfg.processed_path, b.cfg.delete_processed) {
            (_, true) | (None, _) => std::fs::remove_file(&path),
            (Some(dir), false) => move_into(&path, Path::new(dir), f).map(|_| ()),
        };
        if let Err(e) = done
            && memory.failing.insert(f.clone())
        {
            // Committed already: seen again, the fingerprint keeps it from a second showing.
            sink.warn(&format!("gammu-smsd inbox: {f} was bridged but cannot be moved away ({e})"));
        }
    }
    committed
}

/// Why a group was not read: a file at fault (set aside), or one that could not be read now.
enum Unread {
    Bad(String, String),
    Io(String, String),
}

/// What a group's files hold; on failure, the file at fault and why.
fn read_group(inbox: &Path, g: &Group, first: &InboxName, format: InboxFormat) -> Result<Received, Unread> {
    let mut text = String::new();
    let mut from = first.sender.clone();
    let mut timestamp_ms = None;
    for f in &g.files {
        let bytes = std::fs::read(inbox.join(f)).map_err(|e| Unread::Io(f.clone(), e.to_string()))?;
        let part = match read_file(f, &bytes, format).map_err(|e| Unread::Bad(f.clone(), e.0))? {
            Read::Push(data) => {
                // Only the detail format keeps the header that says so: one file, all parts.
                return Ok(Received::WapPush(WapPush { from, to: String::new(), data }));
            }
            Read::Text(part) => part,
        };
        if let Some(sender) = part.sender.filter(|s| !s.is_empty()) {
            from = sender;
        }
        timestamp_ms = timestamp_ms.or(part.timestamp_ms);
        text.push_str(&part.text);
    }
    Ok(Received::Sms(ReceivedSms { from, to: String::new(), text, timestamp_ms }))
}

enum Read {
    Text(FilePart),
    Push(Vec<u8>),
}

/// One file, read as gammu-smsdrc's InboxFormat says: a text part (sender and time from
/// the detail format only) or a WAP push.
fn read_file(name: &str, bytes: &[u8], format: InboxFormat) -> Result<Read, BadFile> {
    if format == InboxFormat::Detail {
        if !parse::is_detail(bytes) {
            return Err(BadFile("not an smsbackup file, though inbox_format is detail".into()));
        }
        let parts = parse::detail_file(bytes)?;
        if let Some(data) = parse::wap_push(&parts) {
            return Ok(Read::Push(data));
        }
        if parts.iter().any(|p| p.binary) {
            return Err(BadFile("8-bit data other than a WAP push: not bridged".into()));
        }
        let text = parse::join_parts(&parts);
        return Ok(Read::Text(FilePart { text, concat: None, ..parts[0].clone() }));
    }
    if name.ends_with(".bin") {
        return Err(BadFile(
            "8-bit data in a .bin file, whose header the standard and unicode formats do not keep (use InboxFormat = \
             detail for MMS notifications): not bridged"
                .into(),
        ));
    }
    let text = parse::text_file(bytes)?;
    Ok(Read::Text(FilePart {
        sender: None,
        text,
        concat: None,
        binary: false,
        data: Vec::new(),
        ports: None,
        timestamp_ms: None,
    }))
}

/// Moves a group with an unreadable file to the error subfolder, with one warning.
fn set_aside(sink: &EventSink, memory: &mut Memory, inbox: &Path, g: &Group, file: &str, why: &str) {
    let error_dir: PathBuf = inbox.join(ERROR_FOLDER);
    let mut moved = true;
    for f in &g.files {
        if move_into(&inbox.join(f), &error_dir, f).is_err() {
            moved = false;
        }
    }
    if moved {
        sink.warn(&format!("gammu-smsd inbox: {file}: {why}; moved to {}", error_dir.display()));
    } else if memory.failing.insert(file.to_string()) {
        sink.warn(&format!("gammu-smsd inbox: {file}: {why}; it could not be moved to {} either", error_dir.display()));
    }
}

/// The files' names and the message: a name gammu-smsd uses again for a later message
/// (same second, sender and serial) still makes a new fingerprint.
fn fingerprint(files: &[String], what: &Received) -> String {
    let content = match what {
        Received::Sms(sms) => format!("{}\u{1f}{}", sms.from, sms.text),
        Received::WapPush(p) => format!("{}\u{1f}push\u{1f}{:?}", p.from, p.data),
        other => format!("{other:?}"),
    };
    let key = format!("{}\u{1f}{content}", files.join("\u{1e}"));
    format!("gammu:{}", crate::backend::short_hash(key.as_bytes(), 12))
}
