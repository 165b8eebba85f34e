//! The task that owns the port: open, init, catch up, then serve sends, announcements and
//! polls one at a time; on trouble, reconnect with backoff by reopening the configured path
//! (a by-id path survives renumbering).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::channel::{AtError, Channel, Event};
use super::init::{self, InitError, ModemInfo};
use super::{ModemBackend, Request, port, receive, send, ussd};
use crate::at::Urc;
use crate::at::answers::Registration;
use crate::backend::{Backend, EventSink, LinkState, SendError};

/// Why serving stopped.
enum Stop {
    /// The modem restarted (`RDY`, `^BOOT`) or stopped answering: init again on the same port.
    Reinit(String),
    /// The device is gone: reopen it.
    Gone(String),
    /// A state only a person (or time) changes: wait, then try init again.
    Wait(LinkState),
    Stopped,
}

pub(super) async fn run(b: Arc<ModemBackend>, sink: EventSink, mut requests: mpsc::Receiver<Request>) {
    let min = Duration::from_secs(b.cfg.reconnect_min_delay);
    let max = Duration::from_secs(b.cfg.reconnect_max_delay);
    let mut delay = min;
    let mut pin_tried = false;
    loop {
        let state = match port::open(&b.cfg.device, b.cfg.baud) {
            Err(why) => LinkState::Reconnecting { reason: why },
            Ok(port) => {
                let mut ch = Channel::new(Box::new(port));
                let mut served = false;
                match connected(&b, &sink, &mut ch, &mut requests, &mut pin_tried, &mut served).await {
                    Stop::Stopped => {
                        b.set_state(&sink, LinkState::Stopped);
                        return;
                    }
                    Stop::Gone(why) | Stop::Reinit(why) => {
                        // It worked for a while: the next reconnect starts quickly again. A
                        // port that never answers (the wrong interface) keeps backing off.
                        if served {
                            delay = min;
                        }
                        LinkState::Reconnecting { reason: why }
                    }
                    Stop::Wait(state) => {
                        delay = max;
                        state
                    }
                }
            }
        };
        tracing::warn!(backend = %b.id, %state, retry_in = ?delay, "modem link down");
        b.set_state(&sink, state);
        if !wait(&b, &mut requests, delay).await {
            b.set_state(&sink, LinkState::Stopped);
            return;
        }
        delay = (delay * 2).min(max);
    }
}

/// Sleeps, answering requests at once (the core retries them when the link is back).
/// False when the link is being stopped.
async fn wait(b: &ModemBackend, requests: &mut mpsc::Receiver<Request>, delay: Duration) -> bool {
    let until = tokio::time::sleep(delay);
    tokio::pin!(until);
    loop {
        tokio::select! {
            _ = &mut until => return true,
            _ = b.stop.notified() => return false,
            r = requests.recv() => match r {
                None => return false,
                Some(r) => refuse(r, &b.state().to_string()),
            },
        }
    }
}

fn refuse(r: Request, state: &str) {
    match r {
        Request::Send(_, _, tx) => {
            let _ = tx.send(Err(SendError::link_down(format!("the modem is {state}"))));
        }
        Request::Ussd(_, tx) => {
            let _ = tx.send(Err(format!("the modem is {state}")));
        }
    }
}

/// Init and serve on an open port, init again after a modem reboot.
async fn connected(
    b: &ModemBackend,
    sink: &EventSink,
    ch: &mut Channel,
    requests: &mut mpsc::Receiver<Request>,
    pin_tried: &mut bool,
    served: &mut bool,
) -> Stop {
    loop {
        let info = match init::run(ch, &b.cfg, pin_tried).await {
            Ok(info) => info,
            Err(InitError::Channel(AtError::Gone(why))) => return Stop::Gone(why),
            Err(InitError::Channel(e)) => return Stop::Gone(format!("the modem does not answer: {e}")),
            Err(InitError::WrongPin(why)) => return Stop::Wait(LinkState::BadCredentials { reason: why }),
            Err(InitError::Sim(why)) | Err(InitError::Config(why)) => {
                return Stop::Wait(LinkState::NotReady { reason: why });
            }
        };
        *served = true;
        // A SIM state noticed during init is what init just handled (a restart is checked
        // again when its turn comes).
        ch.retain_events(|e| !matches!(e, Event::Urc(Urc::Sim(_))));
        tracing::info!(backend = %b.id, model = %info.model, storage = %info.storage, "modem ready");
        {
            let mut s = b.status.lock().unwrap();
            s.model = format!("{} {}", info.manufacturer, info.model).trim().to_string();
            s.storage = info.storage.clone();
        }
        match serve(b, sink, ch, &info, requests).await {
            Stop::Reinit(why) => tracing::warn!(backend = %b.id, why, "initialising the modem again"),
            other => return other,
        }
    }
}

async fn serve(
    b: &ModemBackend,
    sink: &EventSink,
    ch: &mut Channel,
    info: &ModemInfo,
    requests: &mut mpsc::Receiver<Request>,
) -> Stop {
    let t = Duration::from_secs(b.cfg.command_timeout);
    if let Err(stop) = refresh_network(b, sink, ch, t).await {
        return stop;
    }
    // Catch-up: whatever the modem stored while we were away.
    match read_storages(ch, sink, info, t).await {
        Ok(n) if n > 0 => {
            tracing::info!(backend = %b.id, messages = n, "read messages stored while the bridge was away")
        }
        Ok(_) => {}
        Err(e) => return trouble(e),
    }
    let mut poll = tokio::time::interval(Duration::from_secs(b.cfg.poll_interval));
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    poll.tick().await;
    loop {
        while let Some(ev) = ch.pending_event() {
            if let Err(stop) = event(b, sink, ch, info, ev, t).await {
                return stop;
            }
        }
        let step = tokio::select! {
            _ = b.stop.notified() => return Stop::Stopped,
            ev = ch.next_event() => match ev {
                Ok(ev) => event(b, sink, ch, info, ev, t).await,
                Err(e) => Err(trouble(e)),
            },
            r = requests.recv() => match r {
                None => return Stop::Stopped,
                Some(r) => request(b, ch, info, r, t).await,
            },
            _ = poll.tick() => poll_once(b, sink, ch, info, t).await,
        };
        if let Err(stop) = step {
            return stop;
        }
    }
}

/// Everything stored: messages, and status reports when the modem stores them (ds=2).
async fn read_storages(ch: &mut Channel, sink: &EventSink, info: &ModemInfo, t: Duration) -> Result<usize, AtError> {
    let mut n = receive::read_all(ch, sink, t).await?;
    if info.cnmi.is_some_and(|c| c[3] == 2) && info.storage != "SR" {
        n += receive::read_all_in(ch, sink, "SR", &info.storage, t).await?;
    }
    Ok(n)
}

async fn poll_once(
    b: &ModemBackend,
    sink: &EventSink,
    ch: &mut Channel,
    info: &ModemInfo,
    t: Duration,
) -> Result<(), Stop> {
    read_storages(ch, sink, info, t).await.map_err(trouble)?;
    refresh_network(b, sink, ch, t).await
}

async fn refresh_network(b: &ModemBackend, sink: &EventSink, ch: &mut Channel, t: Duration) -> Result<(), Stop> {
    let (reg, operator, signal) = init::network(ch, t).await.map_err(trouble)?;
    {
        let mut s = b.status.lock().unwrap();
        s.registration = Some(reg);
        s.operator = operator;
        s.signal_dbm = signal;
    }
    registration(b, sink, reg);
    Ok(())
}

fn registration(b: &ModemBackend, sink: &EventSink, reg: Registration) {
    b.status.lock().unwrap().registration = Some(reg);
    let state = if reg.is_registered() {
        LinkState::Connected
    } else {
        LinkState::NotReady { reason: format!("no network: {}", reg.words()) }
    };
    b.set_state(sink, state);
}

async fn event(
    b: &ModemBackend,
    sink: &EventSink,
    ch: &mut Channel,
    info: &ModemInfo,
    ev: Event,
    t: Duration,
) -> Result<(), Stop> {
    let r = match ev {
        Event::Urc(Urc::NewMessage { storage, index }) | Event::Urc(Urc::NewReport { storage, index }) => {
            receive::read_from(ch, sink, &storage, index, &info.storage, t).await
        }
        Event::Pdu { urc, pdu } => {
            // Routed to us, not stored: committing is all there is to do.
            let at = if matches!(urc, Urc::Report { .. }) { "+CDS" } else { "+CMT" };
            receive::commit(sink, &pdu, at);
            Ok(())
        }
        Event::Urc(Urc::StorageFull) => {
            tracing::warn!(backend = %b.id, "the modem's storage is full: reading it now");
            read_storages(ch, sink, info, t).await.map(|_| ())
        }
        Event::Urc(Urc::Boot) => return Err(Stop::Reinit("the modem restarted".into())),
        Event::Urc(Urc::BootHint) => {
            // Some Huawei firmware repeats ^BOOT as a heartbeat: only a setting lost to a
            // restart (numeric errors, AT+CMEE=1; modems start with 0) means one.
            let cmee = ch.command("AT+CMEE?", t).await;
            if let Ok(lines) = &cmee
                && lines.iter().any(|l| l.replace(' ', "") == "+CMEE:1")
            {
                tracing::debug!(backend = %b.id, "^BOOT, but the settings are intact");
                return Ok(());
            }
            if let Err(AtError::Gone(g)) = cmee {
                return Err(Stop::Gone(g));
            }
            return Err(Stop::Reinit("the modem restarted".into()));
        }
        Event::Urc(Urc::PoweredDown) => return Err(Stop::Gone("the modem powered down".into())),
        Event::Urc(Urc::Sim(s)) if s != "READY" => return Err(Stop::Reinit(format!("SIM: {s}"))),
        // One kind of registration (voice, say) tells little on an LTE-only modem: ask, but
        // only when it contradicts what we know (answers may carry more such URCs).
        Event::Urc(Urc::Registration(stat)) => {
            let connected = b.state() == LinkState::Connected;
            if Registration::from_stat(stat).is_registered() != connected {
                return refresh_network(b, sink, ch, t).await;
            }
            Ok(())
        }
        Event::Urc(Urc::Ussd { status, text, .. }) => {
            tracing::info!(backend = %b.id, status, text, "USSD from the network with no request waiting");
            Ok(())
        }
        Event::Urc(_) => Ok(()),
    };
    r.map_err(trouble)
}

async fn request(b: &ModemBackend, ch: &mut Channel, info: &ModemInfo, r: Request, t: Duration) -> Result<(), Stop> {
    match r {
        // The core gave up waiting (and will try again): sending now could send twice.
        Request::Send(_, _, tx) if tx.is_closed() => Ok(()),
        Request::Send(sms, started, tx) => {
            if started.send(()).is_err() {
                return Ok(()); // given up on just now
            }
            let settings = send::Settings {
                smsc: info.smsc.clone(),
                status_report: b.cfg.delivery_reports,
                split: &b.split,
                timeout: Duration::from_secs(b.cfg.send_timeout),
            };
            match send::send(ch, &sms, &settings).await {
                Ok(sent) => {
                    b.strikes.lock().unwrap().remove(&sms.job_id);
                    let _ = tx.send(Ok(sent));
                    Ok(())
                }
                Err((failure, accepted)) => {
                    let strikes = {
                        let mut s = b.strikes.lock().unwrap();
                        let n = s.entry(sms.job_id).or_default();
                        if matches!(failure, send::Failure::Unknown(_)) {
                            *n += 1;
                        }
                        *n
                    };
                    let stop = match &failure {
                        send::Failure::Gone(why) => Some(Stop::Gone(why.clone())),
                        send::Failure::Setup(why) => Some(Stop::Wait(LinkState::NotReady { reason: why.clone() })),
                        _ => None,
                    };
                    let e = failure.into_send_error(accepted, strikes);
                    if e.is_permanent() {
                        b.strikes.lock().unwrap().remove(&sms.job_id);
                    }
                    let _ = tx.send(Err(e));
                    stop.map_or(Ok(()), Err)
                }
            }
        }
        Request::Ussd(code, tx) => {
            let answer = ussd::run(ch, &code, info.huawei, t).await.map_err(trouble)?;
            let _ = tx.send(answer);
            Ok(())
        }
    }
}

/// A channel failure: a vanished device is reopened; a modem that stopped answering is
/// reset with init.
fn trouble(e: AtError) -> Stop {
    match e {
        AtError::Gone(why) => Stop::Gone(why),
        e => Stop::Reinit(format!("the modem stopped answering: {e}")),
    }
}
