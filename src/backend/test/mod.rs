//! An in-process link for tests and demos: what it "sends" is recorded (and appended to a
//! file), and a loopback HTTP API lets a script play the phone network.

mod control;

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::{Backend, Capabilities, DeliveryReport, EventSink, LinkState, OutgoingSms, ReceivedSms, SendError, Sent};
use crate::config::TestBackendConfig;

/// Scripted outcomes for the next sends, for fault tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    Transient,
    Permanent,
    /// Parts before this one (counted from 0) are accepted, this one fails for now.
    TransientAtPart(u8),
}

/// Texts longer than one SMS go out in parts of this many characters.
const PART_CHARS: usize = 153;

pub struct TestBackend {
    id: String,
    number: String,
    config: TestBackendConfig,
    sent: Mutex<Vec<OutgoingSms>>,
    parts_sent: Mutex<Vec<(i64, usize)>>,
    faults: Mutex<Vec<Fault>>,
    state: Mutex<LinkState>,
    sink: Mutex<Option<EventSink>>,
}

impl TestBackend {
    pub fn new(id: &str, number: &str, config: TestBackendConfig) -> TestBackend {
        TestBackend {
            id: id.into(),
            number: number.into(),
            config,
            sent: Mutex::default(),
            parts_sent: Mutex::default(),
            faults: Mutex::default(),
            state: Mutex::new(LinkState::Starting),
            sink: Mutex::default(),
        }
    }

    /// Messages sent so far by this process.
    pub fn sent(&self) -> Vec<OutgoingSms> {
        self.sent.lock().unwrap().clone()
    }

    /// Every part handed to the network: (job, part index).
    pub fn parts_sent(&self) -> Vec<(i64, usize)> {
        self.parts_sent.lock().unwrap().clone()
    }

    /// The next sends fail in this order.
    pub fn push_faults(&self, faults: &[Fault]) {
        self.faults.lock().unwrap().extend_from_slice(faults);
    }

    fn sink(&self) -> Result<EventSink, String> {
        self.sink.lock().unwrap().clone().ok_or_else(|| "backend not started".to_string())
    }

    /// A phone sends us an SMS; returns once it is committed.
    pub fn inject(&self, sms: ReceivedSms) -> Result<i64, String> {
        let sms = ReceivedSms { to: if sms.to.is_empty() { self.number.clone() } else { sms.to }, ..sms };
        self.sink()?.sms(sms).map_err(|e| e.to_string())
    }

    /// A phone's MMSC sends us a WAP push (the user data of the port-2948 SMS, joined).
    pub fn inject_wap_push(&self, from: &str, data: Vec<u8>) -> Result<i64, String> {
        let push = crate::backend::WapPush { from: from.to_string(), to: self.number.clone(), data };
        self.sink()?.wap_push(push).map_err(|e| e.to_string())
    }

    /// The network reports on a message we sent.
    pub fn report(&self, report: DeliveryReport) -> Result<i64, String> {
        self.sink()?.report(report).map_err(|e| e.to_string())
    }

    pub fn set_state(&self, state: LinkState) -> Result<(), String> {
        *self.state.lock().unwrap() = state.clone();
        self.sink()?.state(state);
        Ok(())
    }

    fn log_sent(&self, sms: &OutgoingSms, id: &str) -> std::io::Result<()> {
        let Some(path) = &self.config.sent_log else { return Ok(()) };
        let mut line = serde_json::to_value(sms).expect("serialisable");
        line["message_id"] = id.into();
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(f, "{line}")?;
        f.sync_data()
    }
}

#[async_trait::async_trait]
impl Backend for TestBackend {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> &'static str {
        "test"
    }

    fn number(&self) -> &str {
        &self.number
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_parts: 10,
            mms: false,
            delivery_reports: self.config.delivery_reports,
            in_flight: 10,
            ussd: false,
            sms_options: true,
            binary: true,
            sender: true,
        }
    }

    async fn start(self: Arc<Self>, sink: EventSink) -> Result<(), String> {
        *self.sink.lock().unwrap() = Some(sink);
        if let Some(addr) = self.config.control.clone() {
            control::serve(self.clone(), &addr).await?;
        }
        self.set_state(LinkState::Connected)
    }

    async fn send(&self, sms: &OutgoingSms) -> Result<Sent, SendError> {
        let fault = {
            let mut faults = self.faults.lock().unwrap();
            (!faults.is_empty()).then(|| faults.remove(0))
        };
        match fault {
            Some(Fault::Transient) => return Err(SendError::link_down("test link: simulated link trouble")),
            Some(Fault::Permanent) => return Err(SendError::permanent("test link: simulated rejection")),
            _ => {}
        }
        let chars: Vec<char> = sms.text.chars().collect();
        let parts = if chars.len() <= 160 { 1 } else { chars.len().div_ceil(PART_CHARS) };
        let (mut ids, mut accepted) = (Vec::new(), Vec::new());
        for i in 0..parts {
            if let Some((_, id)) = sms.accepted.iter().find(|(k, _)| *k as usize == i) {
                ids.push(id.clone());
                continue;
            }
            if fault == Some(Fault::TransientAtPart(i as u8)) {
                let e = SendError::transient(format!("test link: part {} not taken for now", i + 1));
                return Err(e.with_accepted(accepted));
            }
            // Deterministic per job, so a resend after a crash is recognisable.
            let id = if parts == 1 { format!("test-{}", sms.job_id) } else { format!("test-{}-{}", sms.job_id, i + 1) };
            self.parts_sent.lock().unwrap().push((sms.job_id, i));
            accepted.push((i as u8, id.clone()));
            ids.push(id);
        }
        self.log_sent(sms, &ids.join(",")).map_err(|e| SendError::transient(format!("test link: sent_log: {e}")))?;
        self.sent.lock().unwrap().push(sms.clone());
        Ok(Sent { message_ids: ids })
    }

    fn state(&self) -> LinkState {
        self.state.lock().unwrap().clone()
    }
}
