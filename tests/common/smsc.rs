//! An independent SMSC for tests: the `smpp34` crate's server, in process, scripted by a
//! listener that records what it got and can refuse, throttle and delay. A TCP proxy in
//! front of it lets tests cut the connection or swallow the SMSC's answers.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use smpp34::server::ESME;
use smpp34::{
    SmppConnectionInformation, SmppError, SmppServer, SmppServerListener, TlvTag, bind_receiver, bind_receiver_resp,
    bind_transceiver, bind_transceiver_resp, bind_transmitter, bind_transmitter_resp, submit_sm, submit_sm_resp,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub const SYSTEM_ID: &str = "bridge";
pub const PASSWORD: &str = "secret";

/// A submit_sm the SMSC accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub at: Instant,
    /// The id in submit_sm_resp (upper-case hex).
    pub id: String,
    pub pdu: submit_sm,
}

#[derive(Default)]
pub struct Handler {
    pub binds: AtomicUsize,
    pub bind_kinds: Mutex<Vec<&'static str>>,
    /// Every submit_sm seen, accepted or not.
    pub attempts: AtomicUsize,
    pub accepted: Mutex<Vec<Accepted>>,
    /// Answers for the next submits instead of accepting them.
    /// What the next submits get: a refusal, or (None) an acceptance.
    pub faults: Mutex<VecDeque<Option<SmppError>>>,
    /// When each fault was answered.
    pub fault_times: Mutex<Vec<Instant>>,
    pub delay_ms: AtomicU64,
    /// Send a delivery receipt for submits that ask for one.
    pub receipts: AtomicBool,
    /// Put the id in a receipted_message_id TLV too (else only in the text, in decimal).
    pub receipt_tlv: AtomicBool,
    pub receipt_stat: Mutex<String>,
    pub wrong_password: AtomicBool,
    esmes: Mutex<Vec<(String, Arc<ESME>)>>,
    next_id: AtomicU64,
}

impl Handler {
    fn bind_ok(&self, kind: &'static str, system_id: &str, password: &str) -> bool {
        self.binds.fetch_add(1, Ordering::SeqCst);
        self.bind_kinds.lock().unwrap().push(kind);
        !self.wrong_password.load(Ordering::SeqCst) && system_id == SYSTEM_ID && password == PASSWORD
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.accepted.lock().unwrap().clone()
    }

    /// The newest bound session that can take deliver_sm.
    pub fn receiver(&self) -> Option<Arc<ESME>> {
        self.esmes.lock().unwrap().iter().rev().find(|(_, e)| e.can_receive).map(|(_, e)| e.clone())
    }

    /// The next submits in turn: refused with the error, or accepted for None.
    pub fn push_plan(&self, plan: impl IntoIterator<Item = Option<SmppError>>) {
        self.faults.lock().unwrap().extend(plan);
    }

    pub fn push_faults(&self, faults: impl IntoIterator<Item = SmppError>) {
        self.faults.lock().unwrap().extend(faults.into_iter().map(Some));
    }
}

#[async_trait]
impl SmppServerListener for Handler {
    async fn on_bind_transceiver(
        &self,
        req: bind_transceiver,
        _: &SmppConnectionInformation,
        _: &String,
    ) -> bind_transceiver_resp {
        if self.bind_ok("transceiver", &req.system_id, &req.password) {
            req.accept("smpp34".into(), Some(0x34))
        } else {
            req.reject(SmppError::ESME_RINVPASWD)
        }
    }

    async fn on_bind_transmitter(
        &self,
        req: bind_transmitter,
        _: &SmppConnectionInformation,
        _: &String,
    ) -> bind_transmitter_resp {
        if self.bind_ok("transmitter", &req.system_id, &req.password) {
            req.accept("smpp34".into(), Some(0x34))
        } else {
            req.reject(SmppError::ESME_RINVPASWD)
        }
    }

    async fn on_bind_receiver(
        &self,
        req: bind_receiver,
        _: &SmppConnectionInformation,
        _: &String,
    ) -> bind_receiver_resp {
        if self.bind_ok("receiver", &req.system_id, &req.password) {
            req.accept("smpp34".into(), Some(0x34))
        } else {
            req.reject(SmppError::ESME_RINVPASWD)
        }
    }

    async fn on_esme_bound(&self, esme: ESME, session_id: &String) {
        self.esmes.lock().unwrap().push((session_id.clone(), Arc::new(esme)));
    }

    async fn on_esme_unbound(&self, session_id: &String) {
        self.esmes.lock().unwrap().retain(|(s, _)| s != session_id);
    }

    async fn on_submit_sm(&self, req: submit_sm, _: &SmppConnectionInformation, _: &String) -> submit_sm_resp {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let fault = self.faults.lock().unwrap().pop_front().flatten();
        if let Some(f) = fault {
            self.fault_times.lock().unwrap().push(Instant::now());
            return req.reject(f);
        }
        let n = self.next_id.fetch_add(1, Ordering::SeqCst) + 0xA0;
        let id = format!("{n:X}");
        self.accepted.lock().unwrap().push(Accepted { at: Instant::now(), id: id.clone(), pdu: req.clone() });
        if req.registered_delivery & 1 == 1
            && self.receipts.load(Ordering::SeqCst)
            && let Some(esme) = self.receiver()
        {
            let stat = self.receipt_stat.lock().unwrap().clone();
            let stat = if stat.is_empty() { "DELIVRD".to_string() } else { stat };
            let with_tlv = self.receipt_tlv.load(Ordering::SeqCst);
            let (src, dst) = (req.destination_addr.clone(), req.source_addr.clone());
            tokio::spawn(async move {
                // Decimal in the text while the response said hex, as some SMSCs do.
                let text = format!(
                    "id:{n:010} sub:001 dlvrd:001 submit date:2611220101 done date:2611220102 stat:{stat} err:000 text:x"
                );
                let mut b = esme.deliver_sm().source_addr(src).source_addr_ton(1).source_addr_npi(1);
                b = b.destination_addr(dst).esm_class(0x04).short_message(text.into_bytes());
                if with_tlv {
                    let state = if stat == "DELIVRD" { 2 } else { 5 };
                    b = b
                        .tlv(TlvTag::ReceiptedMessageId, format!("{n:X}\0").into_bytes())
                        .tlv(TlvTag::MessageStateTlv, [state]);
                }
                let _ = b.send().await;
            });
        }
        req.accept(id)
    }
}

pub struct Smsc {
    pub port: u16,
    pub handler: Arc<Handler>,
    server: SmppServer,
}

impl Smsc {
    pub async fn start() -> Smsc {
        let handler = Arc::new(Handler::default());
        handler.receipts.store(true, Ordering::SeqCst);
        handler.receipt_tlv.store(true, Ordering::SeqCst);
        // smpp34 binds the port itself: find a free one first.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = SmppServer::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port, handler.clone());
        server.start().await;
        assert!(server.is_alive(), "smpp34 server did not start on port {port}");
        Smsc { port, handler, server }
    }

    /// Sends a deliver_sm to the bound receiver; returns its command_status.
    pub async fn deliver(
        &self,
        from: &str,
        to: &str,
        esm_class: u8,
        data_coding: u8,
        body: &[u8],
        tlvs: &[(u16, Vec<u8>)],
    ) -> u32 {
        let esme = self.handler.receiver().expect("a receiver is bound");
        let mut b = esme
            .deliver_sm()
            .source_addr(from.trim_start_matches('+'))
            .source_addr_ton(1)
            .source_addr_npi(1)
            .destination_addr(to.trim_start_matches('+'))
            .dest_addr_ton(1)
            .dest_addr_npi(1)
            .esm_class(esm_class)
            .data_coding(data_coding)
            .short_message(body.to_vec());
        for (tag, value) in tlvs {
            b = b.tlv_raw(*tag, value.clone());
        }
        match b.send().await {
            Ok(resp) => resp.command_status(),
            Err(e) => e as u32,
        }
    }

    pub async fn wait_bound(&self, timeout: Duration) {
        let end = Instant::now() + timeout;
        while self.handler.receiver().is_none() {
            assert!(Instant::now() < end, "nothing bound to the SMSC within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops accepting connections on its port. Sessions already open go on: close them
    /// from outside (a `Proxy` in front) to kill the SMSC.
    pub async fn stop_listening(&mut self) {
        self.server.stop().await;
    }

    /// Listens on the same port again with the same handler, so what it recorded stays.
    /// False if the port cannot be bound (yet).
    pub async fn listen_again(&mut self) -> bool {
        self.server = SmppServer::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port, self.handler.clone());
        self.server.start().await;
        self.server.is_alive()
    }

    pub async fn stop(mut self) {
        self.server.stop().await;
    }
}

/// One relayed connection: both pumps and the switch that mutes the SMSC's side.
type Relayed = (JoinHandle<()>, JoinHandle<()>, Arc<AtomicBool>);

/// A TCP relay that can cut its connections or swallow what the SMSC says.
pub struct Proxy {
    pub port: u16,
    conns: Arc<Mutex<Vec<Relayed>>>,
    accept: JoinHandle<()>,
    pub accepted: Arc<AtomicUsize>,
}

impl Proxy {
    pub async fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns: Arc<Mutex<Vec<_>>> = Arc::default();
        let accepted = Arc::new(AtomicUsize::new(0));
        let (c, a) = (conns.clone(), accepted.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else { continue };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let mute = Arc::new(AtomicBool::new(false));
                let up = tokio::spawn(pump(cr, sw, Arc::new(AtomicBool::new(false))));
                let down = tokio::spawn(pump(sr, cw, mute.clone()));
                c.lock().unwrap().push((up, down, mute));
            }
        });
        Proxy { port, conns, accept, accepted }
    }

    /// Drops every connection at once, as a failing network would.
    pub fn cut(&self) {
        for (up, down, _) in self.conns.lock().unwrap().drain(..) {
            up.abort();
            down.abort();
        }
    }

    /// From now on the SMSC's bytes on the current connections go nowhere.
    pub fn mute(&self) {
        for (_, _, m) in self.conns.lock().unwrap().iter() {
            m.store(true, Ordering::SeqCst);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mute: Arc<AtomicBool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if mute.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
