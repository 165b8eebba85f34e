//! The SMPP link against an independent SMSC (the `smpp34` crate's server, in process),
//! with a TCP proxy in between for network faults. What the link hands over is checked in
//! the store, as the bridge core would find it.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use smpp34::SmppError;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use common::smsc::{PASSWORD, Proxy, SYSTEM_ID, Smsc};
use sms_bridge::backend::smpp::SmppBackend;
use sms_bridge::backend::{Backend, DeliveryStatus, EventSink, LinkState, OutgoingSms};
use sms_bridge::config::{BindMode, SmppConfig};
use sms_bridge::sms::split::SplitOptions;
use sms_bridge::store::{InboxKind, Store};

const OURS: &str = "+15550001111";
const BOB: &str = "+447700900123";

struct Link {
    backend: Arc<SmppBackend>,
    store: Store,
    states: Arc<Mutex<Vec<LinkState>>>,
    _dir: tempfile::TempDir,
}

fn config(port: u16) -> SmppConfig {
    SmppConfig {
        host: "127.0.0.1".into(),
        port,
        system_id: SYSTEM_ID.into(),
        password: PASSWORD.into(),
        response_timeout: 2,
        reconnect_min_delay: 1,
        reconnect_max_delay: 2,
        ..SmppConfig::default()
    }
}

async fn link(cfg: SmppConfig) -> Link {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bridge.db")).unwrap();
    let backend = Arc::new(SmppBackend::new("smsc", OURS, cfg, SplitOptions::default()));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let states: Arc<Mutex<Vec<LinkState>>> = Arc::default();
    let s = states.clone();
    tokio::spawn(async move {
        while let Some((_, state)) = rx.recv().await {
            s.lock().unwrap().push(state);
        }
    });
    let sink = EventSink::new("smsc", store.clone(), Arc::new(Notify::new()), tx);
    backend.clone().start(sink).await.unwrap();
    Link { backend, store, states, _dir: dir }
}

impl Link {
    async fn wait_state(&self, want: impl Fn(&LinkState) -> bool, timeout: Duration) {
        let end = Instant::now() + timeout;
        while !want(&self.backend.state()) {
            assert!(
                Instant::now() < end,
                "link state {:?}; seen {:?}",
                self.backend.state(),
                self.states.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn connected(&self) {
        self.wait_state(|s| *s == LinkState::Connected, Duration::from_secs(5)).await;
    }

    fn inbox(&self) -> Vec<InboxKind> {
        self.store.new_inbox(1000).unwrap().into_iter().map(|i| i.item).collect()
    }

    async fn wait_inbox(&self, n: usize) -> Vec<InboxKind> {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let items = self.inbox();
            if items.len() >= n {
                return items;
            }
            assert!(Instant::now() < end, "inbox has {} items, expected {n}: {items:?}", items.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn send(&self, job_id: i64, to: &str, text: &str) -> Result<Vec<String>, String> {
        let sms = OutgoingSms::text(job_id, OURS, to, text);
        self.backend.send(&sms).await.map(|s| s.message_ids).map_err(|e| e.to_string())
    }
}

fn text_of(pdu: &smpp34::submit_sm) -> String {
    let body = if pdu.esm_class & 0x40 != 0 {
        &pdu.short_message[1 + pdu.short_message[0] as usize..]
    } else {
        &pdu.short_message[..]
    };
    match pdu.data_coding {
        8 => String::from_utf16(&body.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect::<Vec<_>>()).unwrap(),
        // Unpacked GSM: for the ASCII letters these tests use, septet = ASCII code.
        _ => body.iter().map(|&b| b as char).collect(),
    }
}

#[tokio::test]
async fn a_message_carries_its_own_validity_and_class_to_the_smsc() {
    let smsc = Smsc::start().await;
    let link = link(config(smsc.port)).await;
    link.connected().await;
    let sms = OutgoingSms {
        options: sms_bridge::message::SmsOptions { validity_minutes: Some(90), class: Some(0) },
        ..OutgoingSms::text(7, OURS, BOB, "Flash!")
    };
    link.backend.send(&sms).await.unwrap();
    let got = smsc.handler.accepted();
    // As smpp34 decoded it: relative validity (SMPP 3.4 §7.1.1), GSM class 0.
    assert_eq!((got[0].pdu.validity_period.as_str(), got[0].pdu.data_coding), ("000000013000000R", 0x10));
    assert_eq!(text_of(&got[0].pdu), "Flash!");

    // 8-bit data after a port header: one submit_sm, data_coding 4, UDHI.
    let udh = vec![0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0];
    let sms = OutgoingSms {
        job_id: 8,
        binary: Some(sms_bridge::message::BinarySms { udh: udh.clone(), data: vec![0xCA, 0xFE] }),
        sender: None,
        options: Default::default(),
        ..sms
    };
    link.backend.send(&sms).await.unwrap();
    let got = smsc.handler.accepted();
    let pdu = &got[1].pdu;
    assert_eq!((pdu.data_coding, pdu.esm_class & 0x40), (0x04, 0x40));
    assert_eq!(pdu.short_message, [udh, vec![0xCA, 0xFE]].concat());
}

#[tokio::test]
async fn bind_submit_and_delivery_receipt() {
    let smsc = Smsc::start().await;
    let link = link(config(smsc.port)).await;
    link.connected().await;
    assert_eq!(smsc.handler.bind_kinds.lock().unwrap().as_slice(), ["transceiver"]);

    let ids = link.send(1, BOB, "Hello from Matrix").await.unwrap();
    let got = smsc.handler.accepted();
    assert_eq!(got.len(), 1);
    let pdu = &got[0].pdu;
    assert_eq!((pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr.as_str()), (1, 1, "447700900123"));
    assert_eq!((pdu.source_addr_ton, pdu.source_addr.as_str()), (1, "15550001111"));
    assert_eq!((pdu.data_coding, pdu.esm_class, pdu.registered_delivery), (0, 0, 1));
    assert_eq!(text_of(pdu), "Hello from Matrix");
    // The id is kept in canonical form (lower case, no leading zeros).
    assert_eq!(ids, vec![got[0].id.to_lowercase()]);

    let items = link.wait_inbox(1).await;
    let InboxKind::Report(r) = &items[0] else { panic!("{items:?}") };
    assert_eq!(r.status, DeliveryStatus::Delivered);
    assert!(ids.contains(&r.message_id) || r.alt_ids.iter().any(|a| ids.contains(a)), "{r:?} vs {ids:?}");
    link.backend.stop().await;
    assert_eq!(link.backend.state(), LinkState::Stopped);
}

#[tokio::test]
async fn receipt_text_only_with_decimal_id_still_matches() {
    let smsc = Smsc::start().await;
    smsc.handler.receipt_tlv.store(false, Ordering::SeqCst);
    *smsc.handler.receipt_stat.lock().unwrap() = "UNDELIV".into();
    let link = link(config(smsc.port)).await;
    link.connected().await;
    let ids = link.send(2, BOB, "will fail").await.unwrap();
    let items = link.wait_inbox(1).await;
    let InboxKind::Report(r) = &items[0] else { panic!("{items:?}") };
    assert_eq!(r.status, DeliveryStatus::Failed);
    assert_eq!(r.detail.as_deref(), Some("UNDELIV err:000"));
    // The receipt says id:0000000160 (decimal, zero-padded), the response said A0.
    assert!(r.alt_ids.iter().chain([&r.message_id]).any(|a| ids.contains(a)), "{r:?} vs {ids:?}");
}

#[tokio::test]
async fn bad_credentials_are_reported_and_retried_slowly() {
    let smsc = Smsc::start().await;
    smsc.handler.wrong_password.store(true, Ordering::SeqCst);
    let mut cfg = config(smsc.port);
    cfg.bad_credentials_delay = 300;
    let link = link(cfg).await;
    link.wait_state(|s| matches!(s, LinkState::BadCredentials { .. }), Duration::from_secs(5)).await;
    let LinkState::BadCredentials { reason } = link.backend.state() else { unreachable!() };
    assert!(reason.contains("ESME_RINVPASWD"), "{reason}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(smsc.handler.binds.load(Ordering::SeqCst), 1, "no hot loop: one attempt, then a long wait");
    // A message meanwhile waits for `response_timeout`, then fails temporarily.
    let e = link.send(3, BOB, "queued").await.unwrap_err();
    assert!(e.contains("down"), "{e}");
    assert!(smsc.handler.accepted().is_empty());
}

#[tokio::test]
async fn long_ucs2_message_goes_as_concatenated_parts() {
    let smsc = Smsc::start().await;
    let link = link(config(smsc.port)).await;
    link.connected().await;
    let text = "Добрый вечер! Как дела? 🙂 ".repeat(7);
    let ids = link.send(0x0102, BOB, &text).await.unwrap();
    let got = smsc.handler.accepted();
    assert_eq!(ids.len(), got.len());
    assert!(got.len() >= 3, "{} parts", got.len());
    let total = got.len() as u8;
    // Reassembled the way a phone does: by the UDH, in sequence order.
    let mut parts: Vec<(u8, Vec<u8>)> = Vec::new();
    for a in &got {
        let sm = &a.pdu.short_message;
        assert_eq!((a.pdu.data_coding, a.pdu.esm_class & 0x40), (8, 0x40));
        assert_eq!(&sm[..5], &[5, 0, 3, 0x02, total], "UDH: 8-bit concat, ref = job id, total");
        assert!(sm.len() <= 140);
        parts.push((sm[5], sm[6..].to_vec()));
    }
    parts.sort();
    assert_eq!(parts.iter().map(|p| p.0).collect::<Vec<_>>(), (1..=total).collect::<Vec<_>>());
    let units: Vec<u16> = parts
        .iter()
        .flat_map(|p| p.1.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect::<Vec<_>>())
        .collect();
    assert_eq!(String::from_utf16(&units).unwrap(), text);
}

#[tokio::test]
async fn multipart_mo_out_of_order_becomes_one_message() {
    let smsc = Smsc::start().await;
    let link = link(config(smsc.port)).await;
    link.connected().await;
    smsc.wait_bound(Duration::from_secs(2)).await;
    let pieces = ["First part, ", "second part, ", "and the end."];
    for seq in [3u8, 1, 2] {
        let mut body = vec![5, 0, 3, 0x77, 3, seq];
        body.extend(pieces[seq as usize - 1].bytes()); // ASCII letters are their own GSM septets
        assert_eq!(smsc.deliver(BOB, OURS, 0x40, 0, &body, &[]).await, 0);
    }
    // A repeated part (the SMSC retrying) changes nothing.
    let mut again = vec![5, 0, 3, 0x77, 3, 2];
    again.extend(pieces[1].bytes());
    assert_eq!(smsc.deliver(BOB, OURS, 0x40, 0, &again, &[]).await, 0);
    // The same with sar_* TLVs and UCS-2.
    for seq in [2u8, 1] {
        let text = ["Привет, ", "мир"][seq as usize - 1];
        let body: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        let tlvs = [(0x020C, vec![0x12, 0x34]), (0x020E, vec![2]), (0x020F, vec![seq])];
        assert_eq!(smsc.deliver(BOB, OURS, 0, 8, &body, &tlvs).await, 0);
    }
    let items = link.wait_inbox(2).await;
    let texts: Vec<(String, String)> = items
        .iter()
        .map(|i| match i {
            InboxKind::Sms(s) => (s.from.clone(), s.text.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        texts,
        [(BOB.to_string(), pieces.concat()), (BOB.to_string(), "Привет, мир".to_string())],
        "each message once, whole"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(link.inbox().len(), 2);
}

#[tokio::test]
async fn wap_push_and_garbage_do_not_become_text() {
    let smsc = Smsc::start().await;
    let link = link(config(smsc.port)).await;
    link.connected().await;
    smsc.wait_bound(Duration::from_secs(2)).await;
    let mut body = vec![6, 5, 4, 0x0B, 0x84, 0x23, 0xF0];
    body.extend([0x01, 0x06, 0x04, 0xBE, 0xAF, 0x84, 0x8C, 0x82]);
    assert_eq!(smsc.deliver(BOB, OURS, 0x40, 4, &body, &[]).await, 0);
    // A UDH that claims more than there is: refused for good, and the link carries on.
    let status = smsc.deliver(BOB, OURS, 0x40, 0, &[9, 0, 3, 1], &[]).await;
    assert_eq!(status, 0x65, "ESME_RX_P_APPN");
    assert_eq!(smsc.deliver(BOB, OURS, 0, 0, b"still here", &[]).await, 0);
    let items = link.wait_inbox(2).await;
    assert!(matches!(&items[0], InboxKind::WapPush(p) if p.data[0] == 0x01 && p.from == BOB), "{items:?}");
    assert!(matches!(&items[1], InboxKind::Sms(s) if s.text == "still here"), "{items:?}");
}

#[tokio::test]
async fn throttling_pauses_the_queue_and_loses_nothing() {
    let smsc = Smsc::start().await;
    let mut cfg = config(smsc.port);
    cfg.throttle_pause = 1;
    let link = Arc::new(link(cfg).await);
    link.connected().await;
    smsc.handler.push_faults([SmppError::ESME_RTHROTTLED, SmppError::ESME_RMSGQFUL, SmppError::ESME_RTHROTTLED]);
    // Four conversations, three messages each, each conversation in order (as the core
    // sends them: one at a time per conversation).
    let mut tasks = Vec::new();
    for c in 0..4 {
        let l = link.clone();
        tasks.push(tokio::spawn(async move {
            for m in 0..3 {
                l.send(c * 10 + m, &format!("+4477009001{c:02}"), &format!("c{c} m{m}")).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = smsc.handler.accepted();
    assert_eq!(got.len(), 12, "every message accepted once");
    assert_eq!(link.backend.stats().throttled.load(Ordering::SeqCst), 3);
    let mut per_dest: HashMap<String, Vec<String>> = HashMap::new();
    for a in &got {
        per_dest.entry(a.pdu.destination_addr.clone()).or_default().push(text_of(&a.pdu));
    }
    for (dest, texts) in per_dest {
        let c = &dest[dest.len() - 2..].parse::<u32>().unwrap();
        assert_eq!(texts, (0..3).map(|m| format!("c{c} m{m}")).collect::<Vec<_>>(), "order kept for {dest}");
    }
}

#[tokio::test]
async fn throttle_pause_holds_back_the_next_submit() {
    let smsc = Smsc::start().await;
    let mut cfg = config(smsc.port);
    // One in flight, so "the next submit" is well defined at the SMSC.
    cfg.window = 1;
    cfg.throttle_pause = 1;
    let link = link(cfg).await;
    link.connected().await;
    smsc.handler.push_faults([SmppError::ESME_RTHROTTLED]);
    link.send(1, BOB, "first").await.unwrap();
    let fault = smsc.handler.fault_times.lock().unwrap()[0];
    let got = smsc.handler.accepted();
    assert_eq!(got.len(), 1);
    let waited = got[0].at - fault;
    assert!(waited >= Duration::from_millis(950), "resent after {waited:?}, not after the 1 s pause");
    assert_eq!(smsc.handler.attempts.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn connection_dropped_mid_window_resends_everything() {
    let smsc = Smsc::start().await;
    smsc.handler.delay_ms.store(100, Ordering::SeqCst);
    let proxy = Proxy::start(smsc.port).await;
    let link = Arc::new(link(config(proxy.port)).await);
    link.connected().await;
    let n = 30;
    let mut tasks = Vec::new();
    for i in 0..n {
        let l = link.clone();
        tasks.push(tokio::spawn(async move { l.send(i, &format!("+447700900{i:03}"), &format!("msg {i}")).await }));
    }
    // Cut while the window is full and answers are still coming.
    while smsc.handler.accepted().len() < 5 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    proxy.cut();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let failed: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
    assert!(failed.is_empty(), "every send completed after the reconnect: {failed:?}");
    let got = smsc.handler.accepted();
    let distinct: HashSet<String> = got.iter().map(|a| text_of(&a.pdu)).collect();
    assert_eq!(distinct.len(), n as usize, "every message reached the SMSC at least once");
    let duplicates = got.len() - distinct.len();
    let resent = link.backend.stats().resent.load(Ordering::SeqCst) as usize;
    println!("dropped mid-window: {} accepted, {duplicates} duplicates, {resent} resent", got.len());
    assert!(duplicates <= resent, "a duplicate only comes from a resend");
    assert!(resent <= 10, "at most a window's worth is resent");
    assert!(proxy.accepted.load(Ordering::SeqCst) >= 2, "the link reconnected");
    assert!(link.states.lock().unwrap().iter().any(|s| matches!(s, LinkState::Reconnecting { .. })));
}

#[tokio::test]
async fn missing_enquire_link_resp_means_reconnect() {
    let smsc = Smsc::start().await;
    let proxy = Proxy::start(smsc.port).await;
    let mut cfg = config(proxy.port);
    cfg.enquire_link_interval = 1;
    cfg.response_timeout = 1;
    let link = link(cfg).await;
    link.connected().await;
    // Let one enquire_link round trip succeed, then swallow the SMSC's answers.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(link.backend.state(), LinkState::Connected, "enquire_link answered: still up");
    proxy.mute();
    link.wait_state(|s| matches!(s, LinkState::Reconnecting { .. }), Duration::from_secs(5)).await;
    let LinkState::Reconnecting { reason } = link.backend.state() else { unreachable!() };
    assert!(reason.contains("enquire_link"), "{reason}");
    link.connected().await;
    assert_eq!(proxy.accepted.load(Ordering::SeqCst), 2);
    assert_eq!(smsc.handler.binds.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn transmitter_and_receiver_binds() {
    let smsc = Smsc::start().await;
    let mut cfg = config(smsc.port);
    cfg.bind = BindMode::TransmitterReceiver;
    let link = link(cfg).await;
    link.connected().await;
    let mut kinds = smsc.handler.bind_kinds.lock().unwrap().clone();
    kinds.sort();
    assert_eq!(kinds, ["receiver", "transmitter"]);
    link.send(5, BOB, "two binds").await.unwrap();
    smsc.wait_bound(Duration::from_secs(2)).await;
    // smpp34 1.5.1 accepts deliver_sm_resp only on transmitter/transceiver binds
    // (server/state.rs: `deliver_sm_resp && (BOUND_TX || BOUND_TRX)`), so on a receiver
    // bind its deliver_sm "fails" although we answered it; the inbox shows it arrived.
    let _status = smsc.deliver(BOB, OURS, 0, 0, b"reply", &[]).await;
    let items = link.wait_inbox(2).await;
    assert!(items.iter().any(|i| matches!(i, InboxKind::Sms(s) if s.text == "reply")), "{items:?}");
    assert!(items.iter().any(|i| matches!(i, InboxKind::Report(_))), "{items:?}");
}

#[tokio::test]
async fn rate_limit_spaces_submits() {
    let smsc = Smsc::start().await;
    let mut cfg = config(smsc.port);
    cfg.max_per_second = 4;
    let link = Arc::new(link(cfg).await);
    link.connected().await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let l = link.clone();
        tasks.push(tokio::spawn(async move { l.send(i, &format!("+4477009002{i:02}"), "hi").await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let times: Vec<Instant> = smsc.handler.accepted().iter().map(|a| a.at).collect();
    assert_eq!(times.len(), 10);
    for w in times.windows(5) {
        assert!(w[4] - w[0] >= Duration::from_millis(950), "5 submits within {:?}", w[4] - w[0]);
    }
}

/// The same link against our own virtual SMSC, which (unlike smpp34 1.5.1) takes
/// deliver_sm_resp on a receiver bind: both directions over transmitter + receiver.
#[tokio::test]
async fn transmitter_receiver_against_the_virtual_smsc() {
    use sms_bridge::smsc_sim::{Options, SmscSim};
    let sim = SmscSim::start(Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        system_id: Some(SYSTEM_ID.into()),
        password: Some(PASSWORD.into()),
        dlr_delay: Duration::from_millis(50),
        number: OURS.into(),
        quiet: true,
        ..Options::default()
    })
    .await
    .unwrap();
    let mut cfg = config(sim.addr().port());
    cfg.bind = BindMode::TransmitterReceiver;
    let link = link(cfg).await;
    link.connected().await;
    let text = "Über 160 Zeichen? ".repeat(12);
    let ids = link.send(9, BOB, &text).await.unwrap();
    assert!(ids.len() >= 2, "{ids:?}");
    let got = sim.messages();
    assert_eq!((got.len(), got[0].text.as_str(), got[0].to.as_str()), (1, text.as_str(), BOB), "{got:?}");
    sim.inject(BOB, None, "Antwort über den Empfänger").await.unwrap();
    // One receipt per part, then the reply.
    let items = link.wait_inbox(ids.len() + 1).await;
    assert!(
        items.iter().any(|i| matches!(i, InboxKind::Sms(s) if s.text == "Antwort über den Empfänger")),
        "{items:?}"
    );
    let reports: Vec<_> =
        items.iter().filter_map(|i| if let InboxKind::Report(r) = i { Some(r) } else { None }).collect();
    assert_eq!(reports.len(), ids.len());
    for r in reports {
        assert_eq!(r.status, DeliveryStatus::Delivered);
        assert!(std::iter::once(&r.message_id).chain(&r.alt_ids).any(|id| ids.contains(id)), "{r:?} vs {ids:?}");
    }
    sim.stop().await;
}

#[tokio::test]
async fn throttled_parts_go_again_in_their_order() {
    let smsc = Smsc::start().await;
    let mut cfg = config(smsc.port);
    cfg.throttle_pause = 1;
    let link = link(cfg).await;
    link.connected().await;
    // All three parts are in flight together and all three are refused.
    smsc.handler.push_faults([SmppError::ESME_RTHROTTLED, SmppError::ESME_RTHROTTLED, SmppError::ESME_RTHROTTLED]);
    let ids = link.send(7, BOB, &"z".repeat(400)).await.unwrap();
    assert_eq!(ids.len(), 3);
    let seqs: Vec<u8> = smsc.handler.accepted().iter().map(|a| a.pdu.short_message[5]).collect();
    assert_eq!(seqs, [1, 2, 3], "resent in the order they were queued");
}

#[tokio::test]
async fn a_part_refused_midway_is_the_only_one_sent_again() {
    let smsc = Smsc::start().await;
    let link = link(config(smsc.port)).await;
    link.connected().await;
    // Part 2 of 3 meets a temporary refusal; parts 1 and 3 are accepted.
    smsc.handler.push_plan([None, Some(SmppError::ESME_RSYSERR), None]);
    let mut sms = OutgoingSms::text(0x31, OURS, BOB, &"q".repeat(400));
    let e = link.backend.send(&sms).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(e.accepted.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 2], "{e:?}");
    // The core's retry names what was accepted: only part 2 goes again, same reference.
    sms.accepted = e.accepted.clone();
    let ids = link.backend.send(&sms).await.unwrap();
    assert_eq!(ids.message_ids.len(), 3);
    assert_eq!(ids.message_ids[0], e.accepted[0].1);
    assert_eq!(ids.message_ids[2], e.accepted[1].1);
    let got = smsc.handler.accepted();
    let seqs: Vec<(u8, u8)> = got.iter().map(|a| (a.pdu.short_message[3], a.pdu.short_message[5])).collect();
    assert_eq!(seqs, [(0x31, 1), (0x31, 3), (0x31, 2)], "(reference, part): each part accepted once");
}

#[tokio::test]
async fn a_part_refused_for_good_stops_the_rest() {
    let smsc = Smsc::start().await;
    let mut cfg = config(smsc.port);
    // One at a time, so part 3 is still waiting when part 2 is refused.
    cfg.window = 1;
    let link = link(cfg).await;
    link.connected().await;
    smsc.handler.push_plan([None, Some(SmppError::ESME_RINVDSTADR)]);
    let sms = OutgoingSms::text(0x32, OURS, BOB, &"p".repeat(400));
    let e = link.backend.send(&sms).await.unwrap_err();
    assert!(e.is_permanent(), "{e}");
    assert_eq!(e.accepted.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seqs: Vec<u8> = smsc.handler.accepted().iter().map(|a| a.pdu.short_message[5]).collect();
    assert_eq!(seqs, [1], "part 3 of a refused message never went out");
}
