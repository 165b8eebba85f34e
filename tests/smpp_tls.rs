//! SMPP over TLS against an independent SMSC (the `smpp34` crate's server) behind a
//! rustls acceptor, with a CA and certificates made for each test.

mod common;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use common::smsc::{PASSWORD, SYSTEM_ID, Smsc};
use common::tls::{TestCa, TlsFront};
use sms_bridge::backend::smpp::SmppBackend;
use sms_bridge::backend::{Backend, EventSink, LinkState, OutgoingSms};
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

/// An SMSC behind TLS, presenting a certificate for `names` signed by `ca`.
async fn smsc_behind_tls(ca: &TestCa, names: &[&str]) -> (Smsc, TlsFront) {
    let smsc = Smsc::start().await;
    smsc.handler.receipts.store(false, Ordering::SeqCst);
    let front = TlsFront::start(smsc.port, ca.issue(names)).await;
    (smsc, front)
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
        tls: true,
        ..SmppConfig::default()
    }
}

async fn link(cfg: SmppConfig, dir: tempfile::TempDir) -> Link {
    let store = Store::open(&dir.path().join("bridge.db")).unwrap();
    let backend = Arc::new(SmppBackend::new("smsc", OURS, cfg, SplitOptions::default()));
    let (events, mut seen) = mpsc::unbounded_channel();
    let states: Arc<Mutex<Vec<LinkState>>> = Arc::default();
    let s = states.clone();
    tokio::spawn(async move {
        while let Some((_, state)) = seen.recv().await {
            s.lock().unwrap().push(state);
        }
    });
    let sink = EventSink::new("smsc", store.clone(), Arc::new(Notify::new()), events);
    backend.clone().start(sink).await.unwrap();
    Link { backend, store, states, _dir: dir }
}

impl Link {
    async fn wait_state(&self, want: impl Fn(&LinkState) -> bool) -> LinkState {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let state = self.backend.state();
            if want(&state) {
                return state;
            }
            assert!(Instant::now() < end, "link state {state:?}; seen {:?}", self.states.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn connected(&self) {
        self.wait_state(|s| *s == LinkState::Connected).await;
    }

    async fn send(&self, job_id: i64, text: &str) -> Result<Vec<String>, String> {
        let sms = OutgoingSms::text(job_id, OURS, BOB, text);
        self.backend.send(&sms).await.map(|s| s.message_ids).map_err(|e| e.to_string())
    }

    async fn wait_inbox(&self, n: usize) -> Vec<InboxKind> {
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            let items: Vec<InboxKind> = self.store.new_inbox(1000).unwrap().into_iter().map(|i| i.item).collect();
            if items.len() >= n {
                return items;
            }
            assert!(Instant::now() < end, "inbox has {} items, expected {n}: {items:?}", items.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn binds_submits_and_receives_over_tls() {
    let ca = TestCa::new("sms-bridge test CA");
    let (smsc, front) = smsc_behind_tls(&ca, &["localhost", "127.0.0.1"]).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = SmppConfig { tls_ca_file: Some(ca.write_pem(dir.path())), ..config(front.port) };
    let link = link(cfg, dir).await;
    link.connected().await;
    assert_eq!(smsc.handler.bind_kinds.lock().unwrap().as_slice(), ["transceiver"]);

    let ids = link.send(1, "Hello over TLS").await.unwrap();
    let got = smsc.handler.accepted();
    assert_eq!(got.len(), 1);
    assert_eq!(ids, vec![got[0].id.to_lowercase()]);
    assert_eq!(got[0].pdu.short_message, b"Hello over TLS");

    assert_eq!(smsc.deliver(BOB, OURS, 0, 0, b"Hi back", &[]).await, 0);
    let items = link.wait_inbox(1).await;
    let InboxKind::Sms(sms) = &items[0] else { panic!("{items:?}") };
    assert_eq!((sms.from.as_str(), sms.text.as_str()), (BOB, "Hi back"));
    assert!(front.refused.lock().unwrap().is_empty());
    link.backend.stop().await;
    assert_eq!(link.backend.state(), LinkState::Stopped);
}

#[tokio::test]
async fn transmitter_and_receiver_both_use_tls() {
    let ca = TestCa::new("sms-bridge test CA");
    let (smsc, front) = smsc_behind_tls(&ca, &["127.0.0.1"]).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = SmppConfig {
        bind: BindMode::TransmitterReceiver,
        tls_ca_file: Some(ca.write_pem(dir.path())),
        ..config(front.port)
    };
    let link = link(cfg, dir).await;
    link.connected().await;
    let mut kinds = smsc.handler.bind_kinds.lock().unwrap().clone();
    kinds.sort();
    assert_eq!(kinds, ["receiver", "transmitter"]);
    link.send(2, "two connections").await.unwrap();
    // smpp34 takes deliver_sm_resp only on transmitter/transceiver binds (see
    // smpp_session.rs), so its deliver waits out its own timeout and its status says
    // nothing; the inbox does.
    let items = tokio::select! {
        items = link.wait_inbox(1) => items,
        _ = smsc.deliver(BOB, OURS, 0, 0, b"back", &[]) => link.wait_inbox(1).await,
    };
    assert!(matches!(&items[0], InboxKind::Sms(s) if s.text == "back"), "{items:?}");
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_said_and_retried() {
    let ca = TestCa::new("the SMSC's own CA");
    let (smsc, front) = smsc_behind_tls(&ca, &["127.0.0.1"]).await;
    let dir = tempfile::tempdir().unwrap();
    // Trusts a CA, just not the one that signed the SMSC's certificate.
    let other = TestCa::new("some other CA");
    let cfg = SmppConfig { tls_ca_file: Some(other.write_pem(dir.path())), ..config(front.port) };
    let link = link(cfg, dir).await;
    let state = link.wait_state(|s| matches!(s, LinkState::Reconnecting { .. })).await;
    let LinkState::Reconnecting { reason } = state else { unreachable!() };
    let addr = format!("127.0.0.1:{}", front.port);
    assert!(reason.starts_with(&format!("TLS handshake with {addr} failed: ")), "{reason}");
    assert!(reason.contains("UnknownIssuer") && reason.contains("set tls_ca_file"), "{reason}");
    // A connect failure: tried again with backoff, and nothing ever reached the SMSC.
    let end = Instant::now() + Duration::from_secs(5);
    while front.refused.lock().unwrap().len() < 2 {
        assert!(Instant::now() < end, "no second attempt: {:?}", front.refused.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(smsc.handler.binds.load(Ordering::SeqCst), 0);
    let e = link.send(3, "not through").await.unwrap_err();
    assert!(e.contains("TLS handshake"), "{e}");
}

#[tokio::test]
async fn tls_insecure_accepts_an_unknown_certificate() {
    let ca = TestCa::new("a lab SMSC's self-made CA");
    let (smsc, front) = smsc_behind_tls(&ca, &["lab-smsc"]).await;
    let cfg = SmppConfig { tls_insecure: true, ..config(front.port) };
    let link = link(cfg, tempfile::tempdir().unwrap()).await;
    link.connected().await;
    link.send(4, "lab").await.unwrap();
    assert_eq!(smsc.handler.accepted().len(), 1);
}

#[tokio::test]
async fn the_certificate_must_carry_the_server_name() {
    let ca = TestCa::new("sms-bridge test CA");
    let (smsc, front) = smsc_behind_tls(&ca, &["smsc.example.net"]).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write_pem(dir.path());
    let cfg = SmppConfig { tls_ca_file: Some(ca_file.clone()), ..config(front.port) };
    let link1 = link(cfg, dir).await;
    let state = link1.wait_state(|s| matches!(s, LinkState::Reconnecting { .. })).await;
    let LinkState::Reconnecting { reason } = state else { unreachable!() };
    assert!(reason.contains("not valid for name \"127.0.0.1\"") && reason.contains("set tls_server_name"), "{reason}");
    link1.backend.stop().await;

    // Connecting by address, checking the name the certificate was made for.
    let cfg = SmppConfig {
        tls_ca_file: Some(ca_file),
        tls_server_name: Some("smsc.example.net".into()),
        ..config(front.port)
    };
    let link2 = link(cfg, tempfile::tempdir().unwrap()).await;
    link2.connected().await;
    link2.send(5, "by name").await.unwrap();
    assert_eq!(smsc.handler.accepted().len(), 1);
}

#[tokio::test]
async fn the_connect_timeout_covers_the_handshake() {
    // Takes the TCP connection and never answers the ClientHello.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = listener.accept().await {
            conns.push(c);
        }
    });
    let link = link(SmppConfig { tls_insecure: true, ..config(port) }, tempfile::tempdir().unwrap()).await;
    let state = link.wait_state(|s| matches!(s, LinkState::Reconnecting { .. })).await;
    let LinkState::Reconnecting { reason } = state else { unreachable!() };
    assert_eq!(reason, format!("no answer from 127.0.0.1:{port} within 2s"));
    held.abort();
}
