//! Sending: one SMS-SUBMIT per part with `AT+CMGS`, each part's message reference kept so
//! status reports find it; `+CMS ERROR` codes sorted into retry, refuse and "fix the setup".

use std::time::Duration;

use super::channel::{AtError, Channel};
use super::incoming::message_id;
use crate::at::{CmsClass, Final, cms_class, cms_words};
use crate::backend::{OutgoingSms, SendError, Sent};
use crate::sms::split::SplitOptions;
use crate::sms::time::Validity;
use crate::sms::tpdu::{self, SubmitOptions};

/// How a failed part should be treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Failure {
    /// Try again later (with the core's backoff).
    Retry(String),
    /// Never: tell the user.
    Refused(String),
    /// Unknown: a few tries, then give up.
    Unknown(String),
    /// The setup is wrong: every message would fail the same way.
    Setup(String),
    /// The device went away.
    Gone(String),
}

pub(super) struct Settings<'a> {
    pub smsc: Option<String>,
    pub status_report: bool,
    pub split: &'a SplitOptions,
    pub timeout: Duration,
}

/// Sends the parts not yet accepted. On failure, the parts accepted in this attempt come
/// back with the error, so a retry sends only the others.
pub(super) async fn send(
    ch: &mut Channel,
    sms: &OutgoingSms,
    s: &Settings<'_>,
) -> Result<Sent, (Failure, Vec<(u8, String)>)> {
    let opts = SubmitOptions {
        smsc: s.smsc.clone(),
        status_report: s.status_report,
        // The same reference on every attempt, so the phone joins parts sent at different times.
        concat_ref: sms.job_id as u8,
        split: s.split.clone(),
        // TP-VP's shortest step is 5 minutes.
        validity: sms.options.validity_minutes.and_then(|m| Validity::relative_minutes(m.clamp(5, 635_040)).ok()),
        class: sms.options.class,
        ..SubmitOptions::default()
    };
    let pdus = match &sms.binary {
        Some(b) => tpdu::encode_submit_binary(&sms.to, &b.udh, &b.data, &opts).map(|p| vec![p]),
        None => tpdu::encode_submit(&sms.to, &sms.text, &opts),
    }
    .map_err(|e| (Failure::Refused(format!("cannot encode the message: {}", e.what)), Vec::new()))?;
    let mut ids = Vec::with_capacity(pdus.len());
    let mut accepted = Vec::new();
    for (i, pdu) in pdus.iter().enumerate() {
        if let Some((_, id)) = sms.accepted.iter().find(|(k, _)| *k as usize == i) {
            ids.push(id.clone());
            continue;
        }
        match ch.send_pdu(&tpdu::to_hex(pdu), tpdu::cmgs_length(pdu), s.timeout).await {
            Ok(mr) => {
                let id = message_id(mr, &sms.to);
                ids.push(id.clone());
                accepted.push((i as u8, id));
            }
            Err(e) => return Err((classify(&e, i, pdus.len()), accepted)),
        }
    }
    Ok(Sent { message_ids: ids })
}

fn classify(e: &AtError, part: usize, total: usize) -> Failure {
    let which = if total > 1 { format!("part {} of {total}: ", part + 1) } else { String::new() };
    match e {
        AtError::Failed(Final::CmsError(code)) => {
            let words = format!("{which}+CMS ERROR {code} ({})", cms_words(*code));
            match cms_class(*code) {
                CmsClass::Transient => Failure::Retry(words),
                CmsClass::Permanent => Failure::Refused(words),
                CmsClass::Configuration => Failure::Setup(words),
                CmsClass::Unknown => Failure::Unknown(words),
            }
        }
        // The SIM's state (not inserted, PIN, PUK, failure): the setup, not the message.
        AtError::Failed(f @ Final::CmeError(10..=18)) => Failure::Setup(format!("{which}{f}")),
        // Not allowed / not supported (a data-only SIM): a few tries, then the user is told.
        AtError::Failed(f @ Final::CmeError(3 | 4)) => Failure::Unknown(format!("{which}{f}")),
        AtError::Failed(f @ Final::CmeError(_)) => Failure::Retry(format!("{which}{f}")),
        AtError::Failed(f) => Failure::Unknown(format!("{which}the modem answered {f}")),
        AtError::Timeout(..) => Failure::Retry(format!("{which}{e}; the send was cancelled and will be tried again")),
        AtError::Gone(g) => Failure::Gone(format!("{which}{g}")),
    }
}

impl Failure {
    /// As the core sees it; `strikes` counts unknown failures of this message so far.
    pub(super) fn into_send_error(self, accepted: Vec<(u8, String)>, strikes: u32) -> SendError {
        /// Unknown answers (`+CMS ERROR: 500`) are tried this many times.
        const UNKNOWN_TRIES: u32 = 3;
        let e = match self {
            Failure::Retry(m) => SendError::transient(m),
            Failure::Refused(m) => SendError::permanent(m),
            Failure::Unknown(m) if strikes >= UNKNOWN_TRIES => SendError::permanent(format!("{m}, {strikes} times")),
            Failure::Unknown(m) => SendError::transient(m),
            Failure::Setup(m) => SendError::link_down(format!("{m}: the modem's setup needs fixing")),
            Failure::Gone(m) => SendError::link_down(m),
        };
        e.with_accepted(accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_classes() {
        let f = |c| classify(&AtError::Failed(Final::CmsError(c)), 0, 1);
        assert!(matches!(f(331), Failure::Retry(m) if m.contains("no network service")));
        assert!(matches!(f(1), Failure::Refused(m) if m.contains("unassigned")));
        assert!(matches!(f(330), Failure::Setup(_)));
        assert!(matches!(f(500), Failure::Unknown(_)));
        assert!(
            matches!(classify(&AtError::Failed(Final::CmsError(42)), 1, 3), Failure::Retry(m) if m.starts_with("part 2 of 3"))
        );
        let e = Failure::Unknown("x".into()).into_send_error(vec![], 1);
        assert!(e.is_transient());
        let e = Failure::Unknown("x".into()).into_send_error(vec![], 3);
        assert!(e.is_permanent());
        let e = Failure::Setup("x".into()).into_send_error(vec![(0, "1:2".into())], 0);
        assert!(e.link_down && e.accepted.len() == 1);
    }
}
