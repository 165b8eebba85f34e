//! One client connection: binds, requests and their responses, deliver_sm out of the
//! shared outbox (a window at a time, sent again when not acknowledged).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};

use super::display;
use super::{Delivery, FaultKind, State, fault_status};
use crate::smpp::{self, Bind, BindResp, Body, Pdu, PduError, SmResp, Tlv, status, tlv};

/// Largest PDU accepted from a client.
const MAX_PDU: u32 = 65_536;
/// deliver_sm sent and not yet acknowledged, per connection.
const WINDOW: usize = 10;
/// Sends of one deliver_sm before giving up on it.
const MAX_ATTEMPTS: u32 = 5;
const SYSTEM_ID: &str = "smsc-sim";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Transmitter,
    Receiver,
    Transceiver,
}

impl Mode {
    fn sends(self) -> bool {
        self != Mode::Receiver
    }

    fn receives(self) -> bool {
        self != Mode::Transmitter
    }
}

enum Read {
    Pdu(Pdu),
    /// A whole frame that does not decode: answered with generic_nack.
    Bad(PduError),
    /// A frame length we cannot trust: nothing after it can be framed.
    Fatal(PduError),
}

struct Session {
    state: Arc<State>,
    peer: SocketAddr,
    wr: OwnedWriteHalf,
    bound: Option<Mode>,
    next_seq: u32,
    /// deliver_sm sent, by sequence number, with when they were (last) sent.
    inflight: BTreeMap<u32, (Delivery, Instant)>,
}

pub(super) async fn serve(state: Arc<State>, stream: TcpStream, peer: SocketAddr, mut stop: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let (tx, mut frames) = mpsc::channel(32);
    let reader = tokio::spawn(read_frames(BufReader::new(rd), tx));
    let mut s = Session { state: Arc::clone(&state), peer, wr, bound: None, next_seq: 1, inflight: BTreeMap::new() };
    state.say(format!("● {peer} connected"));
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let reason = loop {
        let wake = state.wake.notified();
        let step = tokio::select! {
            read = frames.recv() => match read {
                Some(Read::Pdu(pdu)) => s.on_pdu(pdu).await,
                Some(Read::Bad(e)) => s.nack(e).await,
                Some(Read::Fatal(e)) => {
                    let _ = s.nack(e.clone()).await;
                    Err(format!("unframeable input: {e}"))
                }
                None => Err("closed by the client".to_string()),
            },
            _ = wake => Ok(()),
            _ = tick.tick() => s.redeliver().await,
            _ = super::stopped(&mut stop) => Err("the simulator is stopping".to_string()),
        };
        if let Err(reason) = match step {
            Ok(()) => s.pump().await,
            e => e,
        } {
            break reason;
        }
    };
    reader.abort();
    s.finish(&reason);
}

async fn read_frames(mut rd: BufReader<OwnedReadHalf>, tx: mpsc::Sender<Read>) {
    loop {
        let mut head = [0u8; 4];
        if rd.read_exact(&mut head).await.is_err() {
            return;
        }
        let len = match smpp::frame_len(head, MAX_PDU) {
            Ok(len) => len,
            Err(e) => {
                let _ = tx.send(Read::Fatal(e)).await;
                return;
            }
        };
        let mut frame = vec![0u8; len];
        frame[..4].copy_from_slice(&head);
        if rd.read_exact(&mut frame[4..]).await.is_err() {
            return;
        }
        let read = match smpp::decode(&frame) {
            Ok(pdu) => Read::Pdu(pdu),
            Err(e) => Read::Bad(e),
        };
        if tx.send(read).await.is_err() {
            return;
        }
    }
}

impl Session {
    async fn write(&mut self, pdu: &Pdu) -> Result<(), String> {
        let frame = smpp::encode(pdu).map_err(|e| format!("cannot encode {}: {e}", pdu.body.name()))?;
        self.wr.write_all(&frame).await.map_err(|e| format!("write: {e}"))
    }

    /// Answers a request, unless a silence fault is on.
    async fn respond(&mut self, seq: u32, body: Body, status: u32) -> Result<(), String> {
        if self.state.silent() {
            return Ok(());
        }
        self.write(&Pdu::new(seq, body).with_status(status)).await
    }

    async fn nack(&mut self, e: PduError) -> Result<(), String> {
        let unknown = e.command_id.is_some_and(|id| smpp::command_name(id) == "unknown");
        let code = if unknown { status::ESME_RINVCMDID } else { status::ESME_RINVCMDLEN };
        self.state.say(format!("✗ {} sent a malformed PDU ({e}): generic_nack {}", self.peer, status::name(code)));
        self.respond(e.sequence.unwrap_or(0), Body::GenericNack, code).await
    }

    async fn on_pdu(&mut self, pdu: Pdu) -> Result<(), String> {
        let seq = pdu.sequence;
        let needs = |mode: fn(Mode) -> bool| self.bound.is_some_and(mode);
        match pdu.body {
            Body::BindTransmitter(b) => self.bind(seq, Mode::Transmitter, b).await,
            Body::BindReceiver(b) => self.bind(seq, Mode::Receiver, b).await,
            Body::BindTransceiver(b) => self.bind(seq, Mode::Transceiver, b).await,
            Body::EnquireLink => self.respond(seq, Body::EnquireLinkResp, 0).await,
            Body::Unbind => {
                self.respond(seq, Body::UnbindResp, 0).await?;
                Err("unbound".into())
            }
            Body::SubmitSm(_) | Body::DataSm(_) if !needs(Mode::sends) => {
                let resp = if matches!(pdu.body, Body::SubmitSm(_)) { Body::SubmitSmResp } else { Body::DataSmResp };
                self.state.say(format!("✗ {} sent {} without a transmitter bind", self.peer, pdu.body.name()));
                self.respond(seq, resp(SmResp::default()), status::ESME_RINVBNDSTS).await
            }
            Body::SubmitSm(sm) => {
                let shown =
                    display::decode(&sm.source, &sm.dest, sm.esm_class, sm.data_coding, &sm.short_message, &sm.tlvs);
                self.submit(seq, "submit_sm", &shown, sm.registered_delivery, Body::SubmitSmResp).await
            }
            Body::DataSm(d) => {
                let shown = display::decode(&d.source, &d.dest, d.esm_class, d.data_coding, &[], &d.tlvs);
                self.submit(seq, "data_sm", &shown, d.registered_delivery, Body::DataSmResp).await
            }
            Body::DeliverSmResp(_) => {
                self.acknowledged(seq, pdu.status);
                Ok(())
            }
            Body::GenericNack => {
                self.state.say(format!(
                    "✗ {} answered seq {seq} with generic_nack {}",
                    self.peer,
                    status::name(pdu.status)
                ));
                self.acknowledged(seq, if pdu.status == 0 { status::ESME_RUNKNOWNERR } else { pdu.status });
                Ok(())
            }
            body if body.is_response() => Ok(()),
            body => {
                self.state.say(format!("✗ {} sent {}, which the simulator does not support", self.peer, body.name()));
                self.respond(seq, Body::GenericNack, status::ESME_RINVCMDID).await
            }
        }
    }

    async fn bind(&mut self, seq: u32, mode: Mode, b: Bind) -> Result<(), String> {
        let opts = &self.state.opts;
        let status = if self.bound.is_some() {
            status::ESME_RALYBND
        } else if opts.system_id.as_ref().is_some_and(|id| *id != b.system_id) {
            status::ESME_RINVSYSID
        } else if opts.password.as_ref().is_some_and(|pw| *pw != b.password) {
            status::ESME_RINVPASWD
        } else {
            status::ESME_ROK
        };
        let resp = if status == 0 {
            BindResp { system_id: SYSTEM_ID.into(), tlvs: vec![Tlv::u8(tlv::SC_INTERFACE_VERSION, 0x34)] }
        } else {
            BindResp::default()
        };
        let body = match mode {
            Mode::Transmitter => Body::BindTransmitterResp(resp),
            Mode::Receiver => Body::BindReceiverResp(resp),
            Mode::Transceiver => Body::BindTransceiverResp(resp),
        };
        let name = body.name().trim_end_matches("_resp").to_string();
        if status == 0 {
            self.bound = Some(mode);
            if mode.receives() {
                self.state.receivers.fetch_add(1, Ordering::SeqCst);
            }
            self.state.say(format!("● {} {name} as {:?}: bound", self.peer, b.system_id));
        } else {
            self.state.say(format!("✗ {} {name} as {:?}: refused, {}", self.peer, b.system_id, status::name(status)));
        }
        self.respond(seq, body, status).await
    }

    async fn submit(
        &mut self,
        seq: u32,
        command: &str,
        shown: &display::Shown,
        registered_delivery: u8,
        resp: fn(SmResp) -> Body,
    ) -> Result<(), String> {
        let line = display::line(command, shown);
        if self.state.silent() {
            self.state.say(format!("→ {line} (silence fault: not answered)"));
            return Ok(());
        }
        let fault = self.state.faults.lock().unwrap().next_submit();
        match fault {
            Some(FaultKind::Drop) => {
                self.state.say(format!("→ {line} ✗ dropping the connection (fault)"));
                Err("dropped (fault)".into())
            }
            Some(kind) => {
                let code = fault_status(kind);
                self.state.say(format!("→ {line} ✗ {} (fault)", status::name(code)));
                self.respond(seq, resp(SmResp::default()), code).await
            }
            None => {
                let message_id = self.state.accept(shown, &line, registered_delivery);
                self.respond(seq, resp(SmResp { message_id, tlvs: vec![] }), 0).await
            }
        }
    }

    fn acknowledged(&mut self, seq: u32, code: u32) {
        let Some((mut d, _)) = self.inflight.remove(&seq) else { return };
        if code == 0 {
            d.finish(Ok(seq));
        } else if status::is_temporary(code) && d.attempts < MAX_ATTEMPTS {
            self.state.say(format!("✗ deliver_sm seq {seq}: {}, will try again", status::name(code)));
            d.attempts += 1;
            self.state.outbox.lock().unwrap().push_back(d);
        } else {
            self.state.say(format!("✗ deliver_sm seq {seq} refused: {}", status::describe(code)));
            d.finish(Err(format!("refused by the client: {}", status::describe(code))));
        }
    }

    /// Sends queued deliver_sm while the window has room.
    async fn pump(&mut self) -> Result<(), String> {
        if !self.bound.is_some_and(Mode::receives) || self.state.silent() {
            return Ok(());
        }
        while self.inflight.len() < WINDOW {
            let Some(mut d) = self.state.outbox.lock().unwrap().pop_front() else { break };
            let seq = self.next_seq;
            self.next_seq = if seq >= 0x7FFF_FFFF { 1 } else { seq + 1 };
            d.attempts += 1;
            self.state.say(format!("← {} (seq {seq})", d.line));
            let pdu = Pdu::new(seq, Body::DeliverSm(d.sm.clone()));
            self.inflight.insert(seq, (d, Instant::now()));
            self.write(&pdu).await?;
        }
        Ok(())
    }

    /// Sends again what was not acknowledged in time; gives up after MAX_ATTEMPTS.
    async fn redeliver(&mut self) -> Result<(), String> {
        if self.state.silent() {
            return Ok(());
        }
        let after = self.state.opts.redeliver_after;
        let due: Vec<u32> =
            self.inflight.iter().filter(|(_, (_, at))| at.elapsed() >= after).map(|(s, _)| *s).collect();
        for seq in due {
            let Some((mut d, _)) = self.inflight.remove(&seq) else { continue };
            if d.attempts >= MAX_ATTEMPTS {
                self.state
                    .say(format!("✗ deliver_sm seq {seq}: no deliver_sm_resp after {MAX_ATTEMPTS} tries, given up"));
                d.finish(Err(format!("no deliver_sm_resp after {MAX_ATTEMPTS} tries")));
                continue;
            }
            d.attempts += 1;
            self.state.say(format!("↻ {} (seq {seq}, try {})", d.line, d.attempts));
            let pdu = Pdu::new(seq, Body::DeliverSm(d.sm.clone()));
            self.inflight.insert(seq, (d, Instant::now()));
            self.write(&pdu).await?;
        }
        Ok(())
    }

    /// Unacknowledged deliver_sm go back to the front of the outbox for the next receiver.
    fn finish(self, reason: &str) {
        if self.bound.is_some_and(Mode::receives) {
            self.state.receivers.fetch_sub(1, Ordering::SeqCst);
        }
        let pending = self.inflight.len();
        if pending > 0 {
            let mut outbox = self.state.outbox.lock().unwrap();
            for (_, (d, _)) in self.inflight.into_iter().rev() {
                outbox.push_front(d);
            }
        }
        let kept = if pending > 0 {
            format!("; {pending} unacknowledged deliver_sm kept for the next receiver")
        } else {
            String::new()
        };
        self.state.say(format!("● {} closed: {reason}{kept}", self.peer));
        self.state.wake.notify_waiters();
    }
}
