//! The simulated AT modem: driven by Debian's gammu (an independent client, proving the
//! simulator realistic) and by a small AT client over the PTY for the behaviour gammu
//! does not reach (CNMI modes, status reports, faults, PIN, unplugging).

mod common;

use std::path::Path;
use std::time::Duration;

use common::gammu::{self, gammu_async};

use sms_bridge::mms;
use sms_bridge::modem_sim::{Fault, ModemSim, Options, Profile, UssdReply};
use sms_bridge::sms::tpdu::{self, SubmitOptions, Tpdu};
use sms_bridge::sms::udh::WAP_PUSH_PORT;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_serial::{SerialPortBuilderExt, SerialStream};

const WAIT: Duration = Duration::from_secs(5);

fn opts() -> Options {
    Options { quiet: true, dlr_delay: Duration::from_millis(50), ..Options::default() }
}

/// A bare AT client, as the bridge's backend talks to a modem.
struct Client {
    port: SerialStream,
    buf: String,
}

impl Client {
    async fn open(path: &Path) -> Client {
        let port = tokio_serial::new(path.to_string_lossy(), 115_200)
            .open_native_async()
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        Client { port, buf: String::new() }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.port.write_all(bytes).await.unwrap();
    }

    /// Reads until `end` finds where the awaited text ends; returns it, keeping the rest.
    async fn until(&mut self, what: &str, end: impl Fn(&str) -> Option<usize>) -> String {
        let mut chunk = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(n) = end(&self.buf) {
                let rest = self.buf.split_off(n);
                return std::mem::replace(&mut self.buf, rest);
            }
            match tokio::time::timeout_at(deadline, self.port.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buf.push_str(&String::from_utf8_lossy(&chunk[..n])),
                Ok(r) => panic!("waiting for {what}: read ended ({r:?}) after {:?}", self.buf),
                Err(_) => panic!("waiting for {what}: nothing more after {:?}", self.buf),
            }
        }
    }

    /// The next URC (two lines for +CMT and +CDS).
    async fn urc(&mut self, what: &str) -> String {
        self.until(what, urc_end).await
    }

    /// Sends a command line and reads up to its final result (or the `> ` prompt).
    async fn at(&mut self, cmd: &str) -> String {
        self.send(format!("{cmd}\r").as_bytes()).await;
        self.until(cmd, is_final).await
    }

    /// Whatever arrives within `d` (for "nothing arrives" checks).
    async fn quiet_for(&mut self, d: Duration) -> String {
        let mut chunk = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, self.port.read(&mut chunk)).await {
            if n == 0 {
                break;
            }
            self.buf.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
        std::mem::take(&mut self.buf)
    }
}

/// Where the first final result code (or the `> ` prompt) ends.
fn is_final(s: &str) -> Option<usize> {
    let mut ends = Vec::new();
    for f in ["\r\nOK\r\n", "\r\nERROR\r\n", "\r\n> "] {
        ends.extend(s.find(f).map(|i| i + f.len()));
    }
    for f in ["\r\n+CMS ERROR:", "\r\n+CME ERROR:"] {
        if let Some(i) = s.find(f) {
            ends.extend(s[i + 2..].find("\r\n").map(|j| i + 2 + j + 2));
        }
    }
    ends.into_iter().min()
}

/// Where the first URC ends: `\r\n<line>\r\n`, plus the PDU line for +CMT and +CDS.
fn urc_end(s: &str) -> Option<usize> {
    let body = s.strip_prefix("\r\n")?;
    let first = body.find("\r\n")? + 2;
    let lines = if body.starts_with("+CMT:") || body.starts_with("+CDS:") { 2 } else { 1 };
    if lines == 1 {
        return Some(2 + first);
    }
    Some(2 + first + body[first..].find("\r\n")? + 2)
}

/// A line following `prefix` in `s` (e.g. the PDU after "+CMT: ,24").
fn line_after<'a>(s: &'a str, prefix: &str) -> &'a str {
    let at = s.find(prefix).unwrap_or_else(|| panic!("{prefix:?} not in {s:?}"));
    s[at..].split("\r\n").nth(1).unwrap_or("")
}

async fn start(o: Options) -> (ModemSim, Client) {
    let sim = ModemSim::start(o).await.expect("modem-sim starts");
    let mut c = Client::open(&sim.path()).await;
    assert_eq!(c.at("ATE0").await, "ATE0\r\r\nOK\r\n", "echo on by default, ATE0 echoed once");
    (sim, c)
}

/// An SMS-SUBMIT as hex and its AT+CMGS length.
fn submit(to: &str, text: &str, status_report: bool) -> Vec<(usize, String)> {
    let o = SubmitOptions { status_report, concat_ref: 9, ..Default::default() };
    tpdu::encode_submit(to, text, &o).unwrap().iter().map(|p| (tpdu::cmgs_length(p), tpdu::to_hex(p))).collect()
}

async fn send(c: &mut Client, len: usize, hex: &str) -> String {
    assert_eq!(c.at(&format!("AT+CMGS={len}")).await, "\r\n> ");
    c.send(format!("{hex}\x1a").as_bytes()).await;
    c.until("+CMGS answer", is_final).await
}

// ---- gammu -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_identifies_reads_and_sends() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("ttyUSB-sim");
    let sim = ModemSim::start(Options { link: Some(link.clone()), ..opts() }).await.unwrap();
    let rc = gammu::rc(dir.path(), &link);

    let id = gammu_async(&rc, &["identify"]).await;
    for want in ["SMS-Bridge", "ModemSim", "356938035643809", "001010123456789"] {
        assert!(id.contains(want), "identify lacks {want}:\n{id}");
    }

    let long = "A long message that needs two parts to arrive whole. ".repeat(4);
    sim.inject_sms("+15551234567", "Hello from the network");
    sim.inject_sms("+15557654321", "Привет, мир");
    sim.inject_sms("+15559990000", &long);
    let all = gammu_async(&rc, &["getallsms"]).await;
    for want in [
        "\"+15551234567\"",
        "Hello from the network",
        "\"+15557654321\"",
        "Привет, мир",
        "Unicode",
        "\"+15559990000\"",
        "part 1 of 2",
        "part 2 of 2",
    ] {
        assert!(all.contains(want), "getallsms lacks {want}:\n{all}");
    }
    let shown: String = all.lines().filter(|l| l.starts_with("A long") || l.starts_with("arrive")).collect();
    assert!(shown.contains("A long message that needs two parts"), "{all}");

    gammu_async(&rc, &["sendsms", "TEXT", "+15559876543", "-text", "Hi from gammu"]).await;
    let sent = sim.wait_sent(1, WAIT).await;
    assert_eq!((sent[0].to.as_str(), sent[0].text.as_str(), sent[0].parts), ("+15559876543", "Hi from gammu", 1));

    let url = "http://mmsc.example/mms/abc123";
    gammu_async(&rc, &["sendsms", "MMSINDICATOR", "+15550001111", url, "Title", "Sender"]).await;
    assert_eq!(sim.wait_sent(2, WAIT).await.len(), 2);
    // Loopback: the push comes back as an SMS-DELIVER to port 2948, about 100 ms after
    // the +CMGS answer; wait for it rather than race it.
    let end = tokio::time::Instant::now() + WAIT;
    while sim.stored().len() < 5 && tokio::time::Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut parts = Vec::new();
    for s in sim.stored() {
        let pdu = tpdu::decode(&tpdu::from_hex(&s.pdu).unwrap(), true).unwrap();
        let Tpdu::Deliver(d) = pdu.tpdu else { continue };
        let udh = d.user_data.udh.clone();
        if udh.as_ref().and_then(|u| u.ports()).is_some_and(|p| p.dst == WAP_PUSH_PORT) {
            let seq = udh.and_then(|u| u.concat()).map_or(1, |c| c.seq);
            parts.push((seq, d.user_data.payload));
        }
    }
    assert!(!parts.is_empty(), "no WAP push stored: {:?}", sim.stored());
    parts.sort();
    let wsp: Vec<u8> = parts.into_iter().flat_map(|(_, p)| p).collect();
    let push = mms::push::decode(&wsp).unwrap();
    assert!(push.is_mms());
    let m = mms::decode(&push.body).unwrap();
    assert_eq!(m.message_type.name(), "m-notification-ind");
    assert_eq!(m.content_location.as_deref(), Some(url));

    let commands = sim.commands();
    assert!(commands.iter().any(|c| c.starts_with("AT+CMGS=")) && commands.iter().any(|c| c == "AT+CMGL=4"));
    assert!(!commands.iter().any(|c| c.starts_with("AT+CNMA")), "gammu never acknowledges: {commands:?}");
}

// ---- the AT client -----------------------------------------------------------------

#[tokio::test]
async fn cnmi_modes_storage_read_and_delete() {
    let (sim, mut c) = start(opts()).await;
    assert_eq!(c.at("AT+CPMS?").await, "\r\n+CPMS: \"SM\",0,30,\"SM\",0,30,\"SM\",0,30\r\n\r\nOK\r\n");
    sim.inject_sms("+15551234567", "first");
    assert_eq!(c.urc("+CMTI").await, "\r\n+CMTI: \"SM\",1\r\n", "CNMI not set: stored");
    assert_eq!(c.at("AT+CNMI=2,1,0,0,0").await, "\r\nOK\r\n");
    sim.inject_sms("+15551234567", "second");
    assert_eq!(c.urc("+CMTI").await, "\r\n+CMTI: \"SM\",2\r\n");

    let list = c.at("AT+CMGL=4").await;
    let lines: Vec<&str> = list.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 5, "{list:?}");
    assert!(lines[0].starts_with("+CMGL: 1,0,,") && lines[2].starts_with("+CMGL: 2,0,,"), "{list:?}");
    let pdu = tpdu::decode(&tpdu::from_hex(lines[1]).unwrap(), true).unwrap();
    assert_eq!(pdu.tpdu.user_data().unwrap().text.as_deref(), Some("first"));
    let len: usize = lines[0].rsplit(',').next().unwrap().parse().unwrap();
    assert_eq!(len, tpdu::from_hex(lines[1]).unwrap().len() - 1 - pdu.smsc.map_or(0, |_| 7), "length without SMSC");
    assert!(c.at("AT+CMGR=2").await.starts_with("\r\n+CMGR: 1,,"), "listing marked it read");
    assert_eq!(c.at("AT+CMGD=1").await, "\r\nOK\r\n");
    assert_eq!(c.at("AT+CMGR=1").await, "\r\n+CMS ERROR: 321\r\n", "generic profile: empty slot");
    assert_eq!(c.at("AT+CMGD=31").await, "\r\n+CMS ERROR: 321\r\n");
    assert_eq!(sim.stored().len(), 1);

    assert_eq!(c.at("AT+CNMI=2,2,0,0,0").await, "\r\nOK\r\n");
    sim.inject_sms("+15551234567", "routed");
    let urc = c.urc("+CMT").await;
    assert!(urc.starts_with("\r\n+CMT: ,"), "{urc:?}");
    let pdu = tpdu::decode(&tpdu::from_hex(line_after(&urc, "+CMT:")).unwrap(), true).unwrap();
    assert_eq!(pdu.tpdu.user_data().unwrap().text.as_deref(), Some("routed"));
    assert_eq!(sim.stored().len(), 1, "+CMT is not stored");
    assert_eq!(c.at("AT+CNMA").await, "\r\n+CMS ERROR: 340\r\n");
    assert!(sim.commands().contains(&"AT+CNMA".to_string()));
    assert_eq!(c.at("AT+BOGUS").await, "\r\nERROR\r\n");
    c.send(b"\x1b\r").await;
    assert_eq!(c.at("AT").await, "\r\nOK\r\n", "a stray ESC CR is ignored");
}

#[tokio::test]
async fn sends_join_parts_and_report_by_cds_or_cdsi() {
    // Reports come after the sends, not in the middle of the next AT+CMGS.
    let (sim, mut c) = start(Options { dlr_delay: Duration::from_millis(300), ..opts() }).await;
    assert_eq!(c.at("AT+CNMI=2,1,0,1,0").await, "\r\nOK\r\n");
    let parts = submit("+15559876543", &"long text ".repeat(20), true);
    assert_eq!(parts.len(), 2);
    let mut mrs = Vec::new();
    for (len, hex) in &parts {
        let answer = send(&mut c, *len, hex).await;
        let mr: u8 = answer.trim().strip_prefix("+CMGS: ").unwrap().split("\r\n").next().unwrap().parse().unwrap();
        mrs.push(mr);
    }
    assert_eq!(mrs[1], mrs[0].wrapping_add(1), "one reference per part");
    let sent = sim.wait_sent(1, WAIT).await;
    assert_eq!(sent.len(), 1, "parts joined: {sent:?}");
    assert_eq!((sent[0].parts, sent[0].mrs.clone(), sent[0].status_report), (2, mrs.clone(), true));
    assert_eq!(sent[0].text, "long text ".repeat(20));
    for mr in &mrs {
        let urc = c.urc("+CDS").await;
        let Tpdu::StatusReport(r) =
            tpdu::decode(&tpdu::from_hex(line_after(&urc, "+CDS:")).unwrap(), true).unwrap().tpdu
        else {
            panic!("not a report: {urc:?}")
        };
        assert_eq!((r.message_ref, r.recipient.value.as_str(), r.status), (*mr, "+15559876543", 0));
    }

    assert_eq!(c.at("AT+CNMI=2,1,0,2,0").await, "\r\nOK\r\n");
    sim.set_fault(Fault::FailedReport);
    let (len, hex) = &submit("+15559876543", "short", true)[0];
    send(&mut c, *len, hex).await;
    assert_eq!(c.urc("+CDSI").await, "\r\n+CDSI: \"SR\",1\r\n");
    let sr = sim.stored().into_iter().find(|s| s.storage == "SR").unwrap();
    let Tpdu::StatusReport(r) = tpdu::decode(&tpdu::from_hex(&sr.pdu).unwrap(), true).unwrap().tpdu else { panic!() };
    assert_eq!(r.status, 0x41);

    assert_eq!(c.at("AT+CNMI=2,1,0,0,0").await, "\r\nOK\r\n");
    send(&mut c, *len, hex).await;
    assert_eq!(c.quiet_for(Duration::from_millis(700)).await, "", "ds=0: no report");
}

#[tokio::test]
async fn esc_aborts_and_a_wrong_length_is_refused() {
    let (sim, mut c) = start(opts()).await;
    let (len, hex) = &submit("+15559876543", "never sent", false)[0];
    assert_eq!(c.at(&format!("AT+CMGS={len}")).await, "\r\n> ");
    c.send(format!("{hex}\x1b").as_bytes()).await;
    assert_eq!(c.until("abort", is_final).await, "\r\nOK\r\n");
    assert_eq!(send(&mut c, len + 1, hex).await, "\r\n+CMS ERROR: 304\r\n");
    assert_eq!(send(&mut c, *len, "00ZZ").await, "\r\n+CMS ERROR: 304\r\n");
    assert!(sim.sent().is_empty());
    assert!(send(&mut c, *len, hex).await.starts_with("\r\n+CMGS: "));
    assert_eq!(sim.wait_sent(1, WAIT).await[0].text, "never sent");
}

#[tokio::test]
async fn pin_then_puk_after_three_wrong() {
    let (_sim, mut c) = start(Options { pin: Some("1234".into()), ..opts() }).await;
    assert_eq!(c.at("AT+CPIN?").await, "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n");
    assert_eq!(c.at("AT+CMGL=4").await, "\r\n+CMS ERROR: 311\r\n");
    assert_eq!(c.at("AT+CPIN=\"1234\"").await, "\r\nOK\r\n");
    assert_eq!(c.at("AT+CPIN?").await, "\r\n+CPIN: READY\r\n\r\nOK\r\n");

    let (_sim, mut c) = start(Options { pin: Some("1234".into()), ..opts() }).await;
    for _ in 0..3 {
        assert_eq!(c.at("AT+CPIN=\"0000\"").await, "\r\n+CME ERROR: 16\r\n");
    }
    assert_eq!(c.at("AT+CPIN?").await, "\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n");
    assert_eq!(c.at("AT+CPIN=\"1234\"").await, "\r\n+CME ERROR: 12\r\n");
    assert_eq!(c.at("AT+CMEE=2").await, "\r\nOK\r\n");
    assert_eq!(c.at("AT+CIMI").await, "\r\n+CME ERROR: SIM PUK required\r\n");
    assert_eq!(c.at("AT+CPIN=\"12345678\",\"4321\"").await, "\r\nOK\r\n");
    assert_eq!(c.at("AT+CIMI").await, "\r\n001010123456789\r\n\r\nOK\r\n");
}

#[tokio::test]
async fn network_faults() {
    let (sim, mut c) = start(opts()).await;
    let (len, hex) = &submit("+15559876543", "x", false)[0];
    sim.set_fault(Fault::CmsError { code: 500, times: 2 });
    assert_eq!(send(&mut c, *len, hex).await, "\r\n+CMS ERROR: 500\r\n");
    assert_eq!(send(&mut c, *len, hex).await, "\r\n+CMS ERROR: 500\r\n");
    assert!(send(&mut c, *len, hex).await.starts_with("\r\n+CMGS: "));

    sim.set_fault(Fault::NoNetwork);
    assert_eq!(c.at("AT+CREG?").await, "\r\n+CREG: 0,2\r\n\r\nOK\r\n");
    assert_eq!(c.at("AT+CEREG?").await, "\r\n+CEREG: 0,2\r\n\r\nOK\r\n");
    assert_eq!(send(&mut c, *len, hex).await, "\r\n+CMS ERROR: 331\r\n");
    sim.clear_faults();
    assert_eq!(c.at("AT+CREG?").await, "\r\n+CREG: 0,1\r\n\r\nOK\r\n");

    sim.set_fault(Fault::NoSim);
    assert_eq!(c.at("AT+CPIN?").await, "\r\n+CME ERROR: 10\r\n");
    sim.clear_faults();

    sim.set_fault(Fault::SlowCmgs(Duration::from_millis(400)));
    let t = std::time::Instant::now();
    assert!(send(&mut c, *len, hex).await.starts_with("\r\n+CMGS: "));
    assert!(t.elapsed() >= Duration::from_millis(400));
    sim.clear_faults();

    sim.set_fault(Fault::Silent);
    c.send(b"AT\r").await;
    assert_eq!(c.quiet_for(Duration::from_millis(300)).await, "", "silent: not even the echo");
    sim.clear_faults();
    assert_eq!(c.at("AT").await, "\r\nOK\r\n");
}

#[tokio::test]
async fn storage_full_holds_and_repeat_duplicates() {
    let (sim, mut c) = start(Options { sm_capacity: 1, profile: Profile::Simcom, ..opts() }).await;
    sim.inject_sms("+15551234567", "one");
    assert_eq!(c.urc("+CMTI").await, "\r\n+CMTI: \"SM\",1\r\n");
    sim.inject_sms("+15551234567", "two");
    assert_eq!(c.urc("full").await, "\r\n+SMS FULL\r\n");
    assert_eq!(c.at("AT+CMGD=1").await, "\r\nOK\r\n");
    assert_eq!(c.urc("held +CMTI").await, "\r\n+CMTI: \"SM\",1\r\n", "held, then stored");
    assert!(c.at("AT+CMGR=1").await.contains(&hex_of("two")));

    sim.set_fault(Fault::StorageFull);
    assert_eq!(c.at("AT+CMGD=1").await, "\r\nOK\r\n");
    sim.inject_sms("+15551234567", "three");
    assert_eq!(c.urc("full").await, "\r\n+SMS FULL\r\n", "full although a slot is free");
    sim.clear_faults();
    assert_eq!(c.urc("held +CMTI").await, "\r\n+CMTI: \"SM\",1\r\n");

    let (sim, mut c) = start(opts()).await;
    sim.set_fault(Fault::Repeat(3));
    sim.inject_sms("+15551234567", "dup");
    let urcs =
        c.until("three +CMTI", |s| (s.matches("+CMTI").count() == 3 && s.ends_with("\r\n")).then_some(s.len())).await;
    assert_eq!(urcs, "\r\n+CMTI: \"SM\",1\r\n\r\n+CMTI: \"SM\",2\r\n\r\n+CMTI: \"SM\",3\r\n");
    let pdus: Vec<String> = sim.stored().into_iter().map(|s| s.pdu).collect();
    assert!(pdus.len() == 3 && pdus.iter().all(|p| *p == pdus[0]));
}

/// The GSM 7-bit user data of `text` as it appears in a PDU (to find it in a +CMGR).
fn hex_of(text: &str) -> String {
    let septets = sms_bridge::sms::gsm7::encode(text, &Default::default()).unwrap();
    tpdu::to_hex(&sms_bridge::sms::gsm7::pack(&septets, 0))
}

#[tokio::test]
async fn huawei_noise_never_splits_a_listing_entry() {
    let (sim, mut c) = start(Options { profile: Profile::Huawei, ..opts() }).await;
    sim.inject_sms("+15551234567", "a");
    sim.inject_sms("+15551234567", "b");
    c.until("two +CMTI", |s| (s.matches("+CMTI").count() == 2 && s.ends_with("\r\n")).then_some(s.len())).await;
    sim.set_fault(Fault::UrcNoise);
    let list = c.at("AT+CMGL=4").await;
    assert!(list.contains('^'), "noise expected: {list:?}");
    let lines: Vec<&str> = list.split("\r\n").collect();
    for (i, l) in lines.iter().enumerate() {
        if l.starts_with("+CMGL:") {
            assert!(tpdu::from_hex(lines[i + 1]).is_ok(), "the PDU follows its +CMGL line: {list:?}");
        }
    }
    assert!(c.at("AT+CSQ").await.contains("^"), "noise in every response");
    assert_eq!(c.at("AT^CURC=0").await, "\r\nOK\r\n", "^CURC=0 silences the noise at once");
    assert_eq!(c.at("AT+CSQ").await, "\r\n+CSQ: 20,99\r\n\r\nOK\r\n");
}

#[tokio::test]
async fn loopback_ussd_and_reboot() {
    let (sim, mut c) = start(Options { profile: Profile::Quectel, ..opts() }).await;
    let (len, hex) = &submit("+15550001111", "to myself", false)[0];
    send(&mut c, *len, hex).await;
    assert_eq!(c.urc("+CMTI").await, "\r\n+CMTI: \"SM\",1\r\n");
    let r = c.at("AT+CMGR=1").await;
    let pdu = tpdu::decode(&tpdu::from_hex(line_after(&r, "+CMGR:")).unwrap(), true).unwrap();
    let Tpdu::Deliver(d) = pdu.tpdu else { panic!("{r:?}") };
    assert_eq!((d.originator.value.as_str(), d.user_data.text.as_deref()), ("+15550001111", Some("to myself")));

    let r = c.at("AT+CUSD=1,\"*100#\",15").await;
    assert_eq!(r, "\r\nOK\r\n");
    assert_eq!(c.urc("+CUSD").await, "\r\n+CUSD: 0,\"Your balance is 5.00 EUR\",15\r\n");
    sim.set_ussd_reply("*101#", UssdReply { text: "1. Data 2. Voice".into(), more: true });
    c.at("AT+CUSD=1,\"*101#\",15").await;
    assert_eq!(c.urc("+CUSD").await, "\r\n+CUSD: 1,\"1. Data 2. Voice\",15\r\n");
    c.at("AT+CUSD=1,\"*999#\",15").await;
    assert_eq!(c.urc("+CUSD").await, "\r\n+CUSD: 4\r\n");
    assert_eq!(c.at("AT+CUSD=2").await, "\r\nOK\r\n");

    assert_eq!(c.at("AT+CNMI=2,2,0,0,0").await, "\r\nOK\r\n");
    assert_eq!(c.at("AT+CMGS=20").await, "\r\n> ");
    tokio::time::sleep(Duration::from_millis(50)).await;
    sim.reboot();
    let boot = c.until("boot URCs", |s| s.find("SMS DONE\r\n").map(|i| i + 10)).await;
    assert!(boot.starts_with("\r\nRDY\r\n"), "{boot:?}");
    assert_eq!(c.at("AT").await, "AT\r\r\nOK\r\n", "echo back on after a reboot");
    assert_eq!(c.at("AT+CNMI?").await, "AT+CNMI?\r\r\n+CNMI: 0,0,0,0,0\r\n\r\nOK\r\n");
    assert_eq!(sim.stored().len(), 1, "the SIM keeps its messages");
}

#[tokio::test]
async fn unplug_closes_the_pty_and_replug_repoints_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("by-id-modem");
    let (sim, mut c) = start(Options { link: Some(link.clone()), ..opts() }).await;
    assert_eq!(sim.path(), link);
    let first = std::fs::read_link(&link).unwrap();
    assert!(first.starts_with("/dev/pts"), "{first:?}");
    sim.inject_sms("+15551234567", "kept");
    c.urc("+CMTI").await;

    sim.unplug().await;
    let mut chunk = [0u8; 64];
    let r = tokio::time::timeout(WAIT, c.port.read(&mut chunk)).await.expect("a read ends after unplug");
    assert!(matches!(r, Ok(0) | Err(_)), "EOF or EIO: {r:?}");
    assert!(std::fs::symlink_metadata(&link).is_err(), "link removed");

    sim.replug().await.unwrap();
    assert!(std::fs::read_link(&link).unwrap().starts_with("/dev/pts"));
    let mut c = Client::open(&link).await;
    let reply = c.at("AT+CPMS?").await;
    assert!(reply.ends_with("AT+CPMS?\r\r\n+CPMS: \"SM\",1,30,\"SM\",1,30,\"SM\",1,30\r\n\r\nOK\r\n"), "{reply:?}");
}

#[tokio::test]
async fn http_api_is_loopback_only() {
    let bad = ModemSim::start(Options { http: Some("0.0.0.0:0".parse().unwrap()), ..opts() }).await;
    assert!(bad.err().unwrap().to_string().contains("loopback"));

    let (sim, mut c) = start(Options { http: Some("127.0.0.1:0".parse().unwrap()), ..opts() }).await;
    let base = format!("http://{}", sim.http_addr().unwrap());
    let http = reqwest::Client::new();
    let r = http.post(format!("{base}/sms")).body(r#"{"from":"+15551234567","text":"via http"}"#).send().await.unwrap();
    assert_eq!(r.status(), 200);
    c.urc("+CMTI").await;
    let stored: serde_json::Value = http.get(format!("{base}/stored")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stored[0]["storage"], "SM");
    let r = http.post(format!("{base}/fault")).body(r#"{"fault":"bogus"}"#).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = http.post(format!("{base}/fault")).body(r#"{"fault":"no_network"}"#).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(c.at("AT+CREG?").await, "\r\n+CREG: 0,2\r\n\r\nOK\r\n");
    let r = http.post(format!("{base}/wap-push")).body(r#"{"from":"+15551234567","hex":"0106"}"#).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let sent: serde_json::Value = http.get(format!("{base}/sent")).send().await.unwrap().json().await.unwrap();
    assert_eq!(sent, serde_json::json!([]));
}

/// gammu-smsd (files backend) polls the modem: an injected SMS lands in its inbox folder,
/// a file in its outbox is sent, and it deletes what it stored only after reading it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_smsd_receives_and_sends() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let sim = ModemSim::start(Options { link: Some(link.clone()), ..opts() }).await.unwrap();
    let d = dir.path();
    for sub in ["inbox", "outbox", "sent", "error"] {
        std::fs::create_dir(d.join(sub)).unwrap();
    }
    let rc = d.join("smsdrc");
    std::fs::write(
        &rc,
        format!(
            "[gammu]\ndevice = {}\nconnection = at\n\n[smsd]\nservice = files\ninboxpath = {p}/inbox/\noutboxpath = {p}/outbox/\nsentsmspath = {p}/sent/\nerrorsmspath = {p}/error/\nchecksecurity = 0\ncheckbattery = 0\nchecksignal = 0\nreceivefrequency = 1\nstatusfrequency = 0\ncommtimeout = 1\nloopsleep = 1\nlogfile = {p}/smsd.log\n",
            link.display(),
            p = d.display()
        ),
    )
    .unwrap();
    sim.inject_sms("+15551234567", "Hello smsd");
    std::fs::write(d.join("outbox/OUT+15559876543.txt"), "Hi from smsd").unwrap();
    let mut smsd = std::process::Command::new("gammu-smsd")
        .arg("-c")
        .arg(&rc)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("gammu-smsd cannot run ({e}): install Debian's gammu-smsd (apt-get install gammu-smsd)")
        });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let inbox = loop {
        let files: Vec<_> = std::fs::read_dir(d.join("inbox")).unwrap().flatten().map(|e| e.path()).collect();
        if !files.is_empty() && !sim.sent().is_empty() {
            break files;
        }
        if std::time::Instant::now() > deadline {
            let _ = smsd.kill();
            let log = std::fs::read_to_string(d.join("smsd.log")).unwrap_or_default();
            panic!("gammu-smsd did not receive and send within 20 s; commands {:?}\nlog:\n{log}", sim.commands());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let _ = smsd.kill();
    let _ = smsd.wait();
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].to_string_lossy().contains("+15551234567"), "{inbox:?}");
    assert_eq!(std::fs::read_to_string(&inbox[0]).unwrap(), "Hello smsd");
    let sent = sim.sent();
    assert_eq!((sent[0].to.as_str(), sent[0].text.as_str()), ("+15559876543", "Hi from smsd"));
    let commands = sim.commands();
    let read = commands.iter().position(|c| c.starts_with("AT+CMGL") || c.starts_with("AT+CMGR"));
    let deleted = commands.iter().position(|c| c.starts_with("AT+CMGD"));
    assert!(read.is_some() && (deleted.is_none() || deleted > read), "read before delete: {commands:?}");
}

/// gammu talks to each vendor profile (Huawei: it sends AT^CURC=0 and AT^PORTSEL=1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_reads_every_vendor_profile() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    for profile in [Profile::Quectel, Profile::Simcom, Profile::Huawei] {
        let link = dir.path().join(format!("tty-{profile}"));
        let sim = ModemSim::start(Options { profile, link: Some(link.clone()), ..opts() }).await.unwrap();
        sim.inject_sms("+15551234567", &format!("Hello {profile}"));
        let rc = dir.path().join(format!("gammurc-{profile}"));
        std::fs::write(&rc, format!("[gammu]\ndevice = {}\nconnection = at\n", link.display())).unwrap();
        runs.push((profile, sim, tokio::spawn(async move { gammu_async(&rc, &["getallsms"]).await })));
    }
    for (profile, sim, run) in runs {
        let out = run.await.unwrap();
        assert!(out.contains(&format!("Hello {profile}")), "{profile}: {out}");
        if profile == Profile::Huawei {
            assert!(sim.commands().contains(&"AT^CURC=0".to_string()), "{:?}", sim.commands());
        }
    }
}

/// `sms-bridge modem-sim` as a person runs it: the device and link printed first, SMS and
/// MMS notifications typed on stdin, what was stored visible over the HTTP API.
#[tokio::test]
async fn the_command_line_simulator_takes_typed_messages() {
    use std::io::{BufRead, BufReader, Write};
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sms-bridge"))
        .args(["modem-sim", "--link", link.to_str().unwrap(), "--http", &format!("127.0.0.1:{port}")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.starts_with("modem-sim: device /dev/pts/"), "{first}");
    assert!(std::fs::read_link(&link).is_ok_and(|t| first.contains(t.to_str().unwrap())), "{first}");
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "+15551234567 Typed on the terminal").unwrap();
    writeln!(stdin, ":push +15551234567 http://mmsc.example/m/1").unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let end = tokio::time::Instant::now() + WAIT;
    let stored = loop {
        let stored: serde_json::Value = match http.get(format!("{base}/stored")).send().await {
            Ok(r) => r.json().await.unwrap(),
            Err(_) => serde_json::json!([]),
        };
        if stored.as_array().is_some_and(|a| a.len() >= 2) {
            break stored;
        }
        assert!(tokio::time::Instant::now() < end, "not stored: {stored}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let pdus: Vec<_> = stored.as_array().unwrap().iter().map(|s| s["pdu"].as_str().unwrap().to_string()).collect();
    let decoded: Vec<_> = pdus.iter().map(|p| tpdu::decode(&tpdu::from_hex(p).unwrap(), true).unwrap()).collect();
    let Tpdu::Deliver(sms) = &decoded[0].tpdu else { panic!() };
    assert_eq!(sms.user_data.text.as_deref(), Some("Typed on the terminal"));
    let Tpdu::Deliver(push) = &decoded[1].tpdu else { panic!() };
    assert_eq!(push.user_data.udh.as_ref().and_then(|u| u.ports()).map(|p| p.dst), Some(WAP_PUSH_PORT));
    child.kill().unwrap();
    let _ = child.wait();
}
