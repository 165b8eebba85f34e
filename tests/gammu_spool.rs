//! The gammu_spool link: its file parsers on what gammu-smsd 1.42 (Debian) writes, and
//! the link in the bridge core (in-memory homeserver) against a real gammu-smsd with
//! `service = files` driving the simulated modem (`modem_sim`, itself proven with gammu
//! in tests/modem_sim.rs). A missing gammu-smsd fails these tests, never skips them.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::core::{ALICE, BOB, BOB_GHOST, Harness, config_with_links};
use common::gammu::Smsd;
use sms_bridge::backend::gammu_spool::parse::{self, detail_file, inbox_name, join_parts, text_file};
use sms_bridge::backend::{Backend, LinkState, WapPush};
use sms_bridge::modem_sim::{ModemSim, Options};
use sms_bridge::store::InboxKind;

const SPOOL_NUMBER: &str = "+15550003333";
const BOB_KEY: &str = "15551234567";

// ---- parsers -----------------------------------------------------------------------

/// A detail (smsbackup) file as gammu-smsd 1.42 wrote it for a two-part message from the
/// simulated modem (trimmed of the comment lines only).
const DETAIL_LONG: &str = "; This file format was designed for Gammu and is compatible with Gammu+
; Saved 20261205T105047 (Sat Dec  5 10:50:47 2026)

[SMSBackup000]
; A long message that needs two parts
SMSC = \"+15550000000\"
SMSCUnicode = 002B00310035003500350030003000300030003000300030
PDU = Deliver
DateTime = 20261205T105047Z
State = UnRead
Number = \"+15559990000\"
NumberUnicode = 002B00310035003500350039003900390030003000300030
Name = \"\"
NameUnicode = 
UDH = 050003040201
Text00 = 00410020006C006F006E00670020
Text01 = 006F006E0065002C
Coding = Default_No_Compression
Folder = 1
Length = 12

[SMSBackup001]
SMSC = \"+15550000000\"
Number = \"+15559990000\"
NumberUnicode = 002B00310035003500350039003900390030003000300030
UDH = 050003040202
Text00 = 002000740077006F0020007000610072007400730020
Coding = Default_No_Compression
";

#[test]
fn inbox_names_as_gammu_writes_them() {
    let n = inbox_name("IN20261205_101500_00_+15551234567_00.txt").unwrap();
    assert_eq!(
        (n.date.as_str(), n.time.as_str(), n.serial, n.sender.as_str(), n.part),
        ("20261205", "101500", 0, "+15551234567", 0)
    );
    // How gammu-smsd names a status report when DeliveryReport is not `log`.
    assert_eq!(inbox_name("IN000000_000000_00__00.txt"), None);
    assert!(parse::looks_like_inbox_file("IN000000_000000_00__00.txt"));
    assert!(!parse::looks_like_inbox_file("notes.txt"));
}

#[test]
fn unicode_and_standard_files() {
    // unicode: FE FF, big-endian UCS-2, then NUL units (gammu sizes the write by UTF-8 length).
    let mut unicode = vec![0xFE, 0xFF];
    for u in "Привет, мир".encode_utf16() {
        unicode.extend_from_slice(&u.to_be_bytes());
    }
    unicode.extend_from_slice(&[0, 0, 0, 0x68, 0, 0x65]);
    assert_eq!(text_file(&unicode).unwrap(), "Привет, мир", "the text ends at the first NUL");
    // A little-endian file, as converted by hand.
    let le: Vec<u8> = [0xFF, 0xFE].into_iter().chain("Hi €".encode_utf16().flat_map(u16::to_le_bytes)).collect();
    assert_eq!(text_file(&le).unwrap(), "Hi €");
    // standard: UTF-8 as gammu writes it; Windows-1252 bytes from a hand-made file.
    assert_eq!(text_file("Привет, мир".as_bytes()).unwrap(), "Привет, мир");
    assert_eq!(text_file(b"caf\xe9").unwrap(), "café");
}

#[test]
fn detail_files_join_their_parts_by_udh() {
    assert!(parse::is_detail(DETAIL_LONG.as_bytes()), "comment lines first, as gammu writes it");
    assert!(!parse::is_detail(b"; a text message that starts like a comment"));
    let parts = detail_file(DETAIL_LONG.as_bytes()).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].sender.as_deref(), Some("+15559990000"));
    assert_eq!(parts[0].concat.map(|c| (c.reference, c.total, c.seq)), Some((4, 2, 1)));
    assert_eq!(parts[0].timestamp_ms, Some(1_796_467_847_000));
    assert_eq!(join_parts(&parts), "A long one, two parts ");
    // Out of order in the file, still joined in UDH order.
    let swapped = vec![parts[1].clone(), parts[0].clone()];
    assert_eq!(join_parts(&swapped), "A long one, two parts ");
}

#[test]
fn detail_wap_push_parts() {
    // As gammu-smsd 1.42 saved a one-part MMS notification from the simulated modem (cut).
    let one = "[SMSBackup000]\nNumber = \"+15551234567\"\nUDH = 0605040B8423F0\nText00 = 010603BEAF84\nCoding = 8bit\n";
    let parts = detail_file(one.as_bytes()).unwrap();
    assert_eq!(parse::wap_push(&parts), Some(vec![0x01, 0x06, 0x03, 0xBE, 0xAF, 0x84]));
    // Two parts, second first in the file: joined by their sequence numbers.
    let two = "[SMSBackup000]\nUDH = 0B05040B8423F00003070202\nText00 = 0304\nCoding = 8bit\n\
               [SMSBackup001]\nUDH = 0B05040B8423F00003070201\nText00 = 0102\nCoding = 8bit\n";
    assert_eq!(parse::wap_push(&detail_file(two.as_bytes()).unwrap()), Some(vec![1, 2, 3, 4]));
    // 8-bit data to another port is not a push; nor is text.
    let other = one.replace("0B8423F0", "0B8523F0");
    assert_eq!(parse::wap_push(&detail_file(other.as_bytes()).unwrap()), None);
    let text = detail_file(DETAIL_LONG.as_bytes()).unwrap();
    assert_eq!(parse::wap_push(&text), None);
}

#[test]
fn bad_files_say_why() {
    let err = |bytes: &[u8]| detail_file(bytes).unwrap_err().0;
    assert!(err(b"Number = \"+1\"\n").contains("before the first [SMSBackupNNN]"));
    assert!(err(b"[SMSBackup000]\nNumber = \"+1\"\nText00 = 00G1\n").contains("not hexadecimal"));
    assert!(err(b"[SMSBackup000]\nNumber = \"+1\"\n").contains("no Text00"));
    assert!(err(b"[SMSBackup000]\njust words\n").contains("line 2"));
    assert!(err(b"[Other]\n").contains("unexpected section"));
    assert!(err(b"").contains("no [SMSBackupNNN]"));
    assert!(text_file(&[0xFE, 0xFF, 0x00]).unwrap_err().0.contains("odd length"));
    assert!(text_file(b"H\0i\0").unwrap_err().0.contains("NUL"));
}

// ---- the link with a real gammu-smsd ------------------------------------------------

struct Rig {
    dir: tempfile::TempDir,
    format: String,
    sim: ModemSim,
    _smsd: Smsd,
}

impl Rig {
    async fn start(inbox_format: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let tty = dir.path().join("tty-sim");
        let opts = Options { link: Some(tty.clone()), quiet: true, ..Options::default() };
        let sim = ModemSim::start(opts).await.expect("modem-sim starts");
        let (d, t, f) = (dir.path().to_path_buf(), tty.clone(), inbox_format.to_string());
        let smsd = tokio::task::spawn_blocking(move || Smsd::start(&d, &t, &f)).await.unwrap();
        std::fs::create_dir_all(dir.path().join("processed")).unwrap();
        Rig { dir, format: inbox_format.into(), sim, _smsd: smsd }
    }

    fn folder(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn link_config(&self, extra: &str) -> &'static str {
        let p = |f: &str| self.folder(f).display().to_string();
        let extra = extra.replace("PROCESSED", &p("processed"));
        config_with_links(&format!(
            "  - id: spool\n    type: gammu_spool\n    number: \"{SPOOL_NUMBER}\"\n    inbox_path: {}\n    outbox_path: {}\n    \
             sentsms_path: {}\n    errorsms_path: {}\n    inbox_format: {}\n    poll_ms: 100\n    send_timeout: 30\n{extra}\
             \n  - id: test1\n    type: test\n    number: \"+15550001111\"\n",
            p("inbox"),
            p("outbox"),
            p("sent"),
            p("error"),
            self.format,
        ))
    }

    fn smsd_log(&self) -> String {
        std::fs::read_to_string(self.folder("smsd.log")).unwrap_or_default()
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().filter(|e| e.path().is_file()).filter_map(|e| e.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn spool(h: &Harness) -> Arc<dyn Backend> {
    h.bridge.backends.get("spool").expect("the spool link").clone()
}

fn bob_texts(h: &Harness) -> Vec<String> {
    let Some(room) = h.bridge.store.portal_by_pair(SPOOL_NUMBER, BOB_KEY).unwrap().and_then(|p| p.room_id) else {
        return vec![];
    };
    h.ghost_messages(&room, BOB_GHOST).iter().map(|e| e.content["body"].as_str().unwrap_or("").to_string()).collect()
}

async fn until(h: &Harness, rig: &Rig, what: &str, done: impl Fn(&Harness) -> bool) {
    h.run_until(what, done, |h| {
        format!(
            "link: {}; inbox {:?}; outbox {:?}; sent {:?}; error {:?}; gammu-smsd log:\n{}",
            spool(h).state(),
            files(&rig.folder("inbox")),
            files(&rig.folder("outbox")),
            files(&rig.folder("sent")),
            files(&rig.folder("error")),
            rig.smsd_log()
        )
    })
    .await;
}

async fn sms_both_ways(inbox_format: &str, extra: &str) -> (Rig, Harness) {
    let rig = Rig::start(inbox_format).await;
    let h = Harness::new_with(rig.link_config(extra)).await;
    until(&h, &rig, "the spool link to be connected", |h| spool(h).state() == LinkState::Connected).await;

    // In: a short one, a Cyrillic one (UCS-2 on the air) and one in two parts.
    let long = "A long message that needs two parts to arrive whole. ".repeat(4);
    let long = long.trim_end();
    rig.sim.inject_sms(BOB, "Hello from the network");
    rig.sim.inject_sms(BOB, "Привет, мир");
    rig.sim.inject_sms(BOB, long);
    until(&h, &rig, "three SMS in the portal", |h| bob_texts(h).len() >= 3).await;
    let mut texts = bob_texts(&h);
    texts.sort();
    let mut want = vec!["Hello from the network".to_string(), "Привет, мир".into(), long.into()];
    want.sort();
    assert_eq!(texts, want, "each shown once, the long one whole");
    until(&h, &rig, "the inbox files cleared away", |_| files(&rig.folder("inbox")).is_empty()).await;

    // Out: a reply goes through the outbox and gammu-smsd to the simulated network.
    h.say_text(ALICE, &h.mgmt, "start +1 555 123 4567 via spool").await;
    let room = h.bridge.store.portal_by_pair(SPOOL_NUMBER, BOB_KEY).unwrap().and_then(|p| p.room_id).unwrap();
    let reply = "Reply from Matrix: ça va? Ответ.";
    let ev = h.say_text(ALICE, &room, reply).await;
    until(&h, &rig, "SUCCESS for the reply", |h| h.status_names(&ev).last().map(String::as_str) == Some("SUCCESS"))
        .await;
    let sent = rig.sim.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].to.as_str(), sent[0].text.as_str()), (BOB, reply));
    let in_sent = files(&rig.folder("sent"));
    assert_eq!(in_sent.len(), 1, "{in_sent:?}");
    assert!(in_sent[0].starts_with(&format!("OUTA_{BOB}_")), "{in_sent:?}");
    assert!(files(&rig.folder("outbox")).is_empty());
    assert!(h.take_warnings().is_empty());
    (rig, h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unicode_spool_both_ways() {
    let (rig, _h) = sms_both_ways("unicode", "    processed_path: PROCESSED\n").await;
    // Four files (the long message in two) moved after their commit.
    let processed = files(&rig.folder("processed"));
    assert_eq!(processed.len(), 4, "{processed:?}");
    assert!(processed.iter().any(|f| f.ends_with("_01.txt")), "{processed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detail_spool_both_ways_deleting_what_it_bridged() {
    let (rig, _h) = sms_both_ways("detail", "    delete_processed: true\n").await;
    assert!(files(&rig.folder("processed")).is_empty());
}

/// The error folder, with the test in gammu-smsd's place: Debian's gammu-smsd 1.42 retried
/// a message the simulated modem refused (+CMS ERROR: 500) for as long as we watched (60
/// tries in 60 s) and never moved it, so the test moves the file as its MoveSMS does (a
/// rename to the same name in ErrorSMSPath).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_in_the_error_folder_fails_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let config = spool_only(dir.path());
    let h = Harness::new_with(config).await;
    h.run_until("connected", |h| spool(h).state() == LinkState::Connected, |h| spool(h).state().to_string()).await;
    h.say_text(ALICE, &h.mgmt, "start +1 555 123 4567 via spool").await;
    let room = h.bridge.store.portal_by_pair(SPOOL_NUMBER, BOB_KEY).unwrap().and_then(|p| p.room_id).unwrap();
    let outbox = dir.path().join("outbox");
    let error = dir.path().join("error");
    let mover = {
        let (outbox, error) = (outbox.clone(), error.clone());
        tokio::spawn(async move {
            loop {
                if let Some(f) = files(&outbox).into_iter().find(|f| f.starts_with("OUT")) {
                    // What the link wrote: UTF-16 with a byte order mark, gammu's name form.
                    let bytes = std::fs::read(outbox.join(&f)).unwrap();
                    assert_eq!(text_file(&bytes).unwrap(), "this one will not go");
                    assert!(bytes.starts_with(&[0xFE, 0xFF]));
                    std::fs::rename(outbox.join(&f), error.join(&f)).unwrap();
                    return f;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let ev = h.say_text(ALICE, &room, "this one will not go").await;
    h.run_until(
        "FAIL_PERMANENT for it",
        |h| h.status_names(&ev).last().map(String::as_str) == Some("FAIL_PERMANENT"),
        |h| format!("{:?}; outbox {:?}", h.status_names(&ev), files(&outbox)),
    )
    .await;
    let name = mover.await.unwrap();
    assert!(name.starts_with(&format!("OUTA_{BOB}_j")) && name.ends_with(".txt"), "{name}");
    // No hidden temporary file left behind.
    assert!(std::fs::read_dir(&outbox).unwrap().next().is_none());
}

/// A config with the spool link on folders under `dir` (created), processed files moved.
fn spool_only(dir: &Path) -> &'static str {
    for f in ["inbox", "outbox", "sent", "error", "processed"] {
        std::fs::create_dir_all(dir.join(f)).unwrap();
    }
    let p = |f: &str| dir.join(f).display().to_string();
    config_with_links(&format!(
        "  - id: spool\n    type: gammu_spool\n    number: \"{SPOOL_NUMBER}\"\n    inbox_path: {}\n    outbox_path: {}\n    \
         sentsms_path: {}\n    errorsms_path: {}\n    processed_path: {}\n    poll_ms: 50\n    send_timeout: 10\n\
         \n  - id: test1\n    type: test\n    number: \"+15550001111\"\n",
        p("inbox"),
        p("outbox"),
        p("sent"),
        p("error"),
        p("processed"),
    ))
}

/// `standard` files (UTF-8), and the `d` flag: gammu-smsd asks the network for a report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_spool_with_the_report_flag() {
    let (rig, _h) = sms_both_ways("standard", "    delete_processed: true\n    request_reports: true\n").await;
    let sent = rig.sim.sent();
    assert!(sent[0].status_report, "the .txtd file asked for a status report: {sent:?}");
    assert!(files(&rig.folder("sent"))[0].ends_with(".txtd"));
}

/// An MMS notification (a WAP push in two 8-bit parts) through gammu-smsd's detail format
/// reaches the core as one WAP push with the bytes sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detail_spool_hands_over_a_wap_push() {
    let rig = Rig::start("detail").await;
    let h = Harness::new_with(rig.link_config("    delete_processed: true\n")).await;
    until(&h, &rig, "the spool link to be connected", |h| spool(h).state() == LinkState::Connected).await;
    let location = format!("http://mmsc.example/mms/{}", "a".repeat(150));
    let push = common::mmsc::notification_push(BOB, "T-1", &location, 1000);
    assert!(push.len() > 140, "two parts on the air: {} octets", push.len());
    let gateway = "+15550009999";
    rig.sim.inject_wap_push(gateway, &push);
    let pushes = |h: &Harness| -> Vec<WapPush> {
        let c = h.sql();
        let mut q = c.prepare("SELECT payload FROM inbox WHERE backend_id = 'spool' AND kind = 'wap_push'").unwrap();
        let rows = q.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(|p| match serde_json::from_str::<InboxKind>(&p.unwrap()).unwrap() {
            InboxKind::WapPush(w) => w,
            other => panic!("{other:?}"),
        })
        .collect()
    };
    until(&h, &rig, "the push committed", |h| !pushes(h).is_empty()).await;
    let got = pushes(&h);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].from.as_str(), got[0].data.as_slice()), (gateway, push.as_slice()));
    until(&h, &rig, "the file deleted", |_| files(&rig.folder("inbox")).is_empty()).await;
    assert!(h.take_warnings().is_empty());
}

// ---- the inbox without gammu-smsd: bad files -----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_set_aside_and_the_rest_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = spool_only(dir.path());
    let inbox = dir.path().join("inbox");
    std::fs::write(inbox.join("IN20261205_101500_00_+15551234567_00.txt"), [0xFE, 0xFF, 0x00]).unwrap();
    std::fs::write(inbox.join("IN20261205_101501_00_+15551234567_00.txt"), "standard text").unwrap();
    // A text shaped like a detail file, in a unicode spool: only text, from the sender its
    // name gives (read as detail, it would choose its own sender).
    let spoof = "[SMSBackup000]\nNumber = \"+15559990000\"\nText00 = 0048\n";
    std::fs::write(inbox.join("IN20261205_101502_00_+15551234567_00.txt"), spoof).unwrap();
    std::fs::write(inbox.join("IN000000_000000_00__00.txt"), "").unwrap();
    std::fs::write(inbox.join("README"), "not gammu's").unwrap();
    // A second part whose first part is not there: bridged alone, with a warning.
    std::fs::write(inbox.join("IN20261205_121500_00_+15551234567_01.txt"), "second half").unwrap();
    let h = Harness::new_with(config).await;
    h.run_until("the good files bridged", |h| bob_texts(h).len() == 3, |h| format!("{:?}", bob_texts(h))).await;
    let mut texts = bob_texts(&h);
    texts.sort();
    assert_eq!(texts, [spoof, "second half", "standard text"]);
    h.run_until(
        "the bad files set aside",
        |_| files(&inbox.join("error")).len() == 2,
        |_| format!("inbox {:?}, error {:?}", files(&inbox), files(&inbox.join("error"))),
    )
    .await;
    assert_eq!(files(&inbox), vec!["README".to_string()], "only what is not gammu's stays");
    assert_eq!(
        files(&dir.path().join("processed")),
        [
            "IN20261205_101501_00_+15551234567_00.txt",
            "IN20261205_101502_00_+15551234567_00.txt",
            "IN20261205_121500_00_+15551234567_01.txt"
        ]
    );
    let warnings = h.take_warnings();
    assert_eq!(warnings.len(), 3, "one warning per bad file and one for the lone part: {warnings:#?}");
    for (file, why) in [
        ("IN20261205_121500_00_+15551234567_01.txt", "part 2 of a message whose first part is not in the folder"),
        ("IN20261205_101500_00_+15551234567_00.txt", "odd length"),
        ("IN000000_000000_00__00.txt", "DeliveryReport = log"),
    ] {
        assert!(warnings.iter().any(|w| w.contains(file) && w.contains(why)), "{file}: {warnings:#?}");
    }
    // Still quiet later: each warning said once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.settle().await;
    assert!(h.take_warnings().is_empty());
}

/// A file seen again after a crash between commit and move is not shown twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_read_again_after_a_restart_is_shown_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = spool_only(dir.path());
    let name = "IN20261205_101501_00_+15551234567_00.txt";
    let (inbox, processed) = (dir.path().join("inbox"), dir.path().join("processed"));
    // Waiting before the bridge starts.
    std::fs::write(inbox.join(name), "waiting since before the start").unwrap();
    let h = Harness::new_with(config).await;
    h.run_until("the file bridged and moved", |_| files(&processed) == [name], |h| format!("{:?}", bob_texts(h))).await;
    assert_eq!(bob_texts(&h), ["waiting since before the start"]);
    // As if the move had not happened: the file is back when the bridge starts again.
    std::fs::copy(processed.join(name), inbox.join(name)).unwrap();
    let h = h.restart().await;
    h.run_until("the file moved again", |_| files(&inbox).is_empty(), |_| format!("inbox {:?}", files(&inbox))).await;
    h.settle().await;
    assert_eq!(bob_texts(&h), ["waiting since before the start"], "shown once");
}

/// Through the Backend interface: a send gammu-smsd does not take times out (transient),
/// and the next attempt waits for the same file instead of writing a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_asked_again_finds_its_file() {
    use sms_bridge::backend::OutgoingSms;
    use sms_bridge::backend::gammu_spool::GammuSpoolBackend;
    use sms_bridge::config::GammuSpoolConfig;

    let dir = tempfile::tempdir().unwrap();
    spool_only(dir.path());
    let p = |f: &str| dir.path().join(f).display().to_string();
    let cfg = GammuSpoolConfig {
        inbox_path: p("inbox"),
        outbox_path: p("outbox"),
        sentsms_path: p("sent"),
        errorsms_path: p("error"),
        delete_processed: true,
        poll_ms: 50,
        send_timeout: 1,
        ..GammuSpoolConfig::default()
    };
    let link = Arc::new(GammuSpoolBackend::new("spool", SPOOL_NUMBER, cfg, 10));
    let sms = OutgoingSms::text(7, SPOOL_NUMBER, BOB, "are you there?");
    let err = link.send(&sms).await.unwrap_err();
    assert!(err.is_transient() && err.message.contains("has not sent"), "{err:?}");
    let outbox = dir.path().join("outbox");
    let waiting = files(&outbox);
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    // The job's number padded: gammu-smsd sends in the order of the names.
    assert!(waiting[0].starts_with(&format!("OUTA_{BOB}_j0000000007-")), "{waiting:?}");

    // gammu-smsd takes it while the second attempt waits.
    let (from, to) = (outbox.join(&waiting[0]), dir.path().join("sent").join(&waiting[0]));
    let mover = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        std::fs::rename(from, to).unwrap();
    });
    let sent = link.send(&sms).await.unwrap();
    mover.await.unwrap();
    assert_eq!(sent.message_ids, waiting);
    assert!(files(&outbox).is_empty());
    // Asked once more (a crash before the result was recorded): found in the sent folder.
    assert_eq!(link.send(&sms).await.unwrap().message_ids, waiting);
    assert_eq!(files(&dir.path().join("sent")).len(), 1);

    // A number that cannot be part of a gammu-smsd file name is refused for good.
    let odd = OutgoingSms::text(8, SPOOL_NUMBER, "+1 555/123", "x");
    assert!(link.send(&odd).await.unwrap_err().is_permanent());

    // gammu-smsd without SentSMSPath deletes what it sent: a file gone from every folder
    // was taken, and is not written a second time.
    let gone = OutgoingSms::text(9, SPOOL_NUMBER, BOB, "taken and not kept");
    let watch = outbox.clone();
    let taker = tokio::spawn(async move {
        let mut taken = Vec::new();
        for _ in 0..200 {
            // As gammu-smsd does, it leaves the hidden file being written alone.
            for f in files(&watch).into_iter().filter(|f| f.starts_with("OUT")) {
                std::fs::remove_file(watch.join(&f)).unwrap();
                taken.push(f);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        taken
    });
    let sent = link.send(&gone).await.unwrap();
    let taken = taker.await.unwrap();
    assert_eq!(taken, sent.message_ids, "written once");
}
