//! The network side: incoming SMS (stored with +CMTI, or routed with +CMT), sends that
//! come back to the SIM's own number, status reports and USSD answers.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::SentSms;
use super::state::{Inner, State};
use crate::sms::address::Address;
use crate::sms::build;
use crate::sms::time::Timestamp;
use crate::sms::tpdu;
use crate::sms::udh::WAP_PUSH_PORT;

/// WAP push's source port (WAP connectionless session service).
const WAP_SOURCE_PORT: u16 = 9200;
/// From a send to the own number to its arrival.
const LOOPBACK_DELAY: std::time::Duration = std::time::Duration::from_millis(100);

/// Now, in UTC, as a service-centre timestamp.
pub fn now() -> Timestamp {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Timestamp::from_unix(secs as i64)
}

/// The SMSC field the sim puts in front of PDUs it hands out.
fn smsc_field(inner: &Inner) -> Vec<u8> {
    let smsc = inner.smsc.as_deref().and_then(|s| Address::parse_number(s).ok());
    Address::encode_smsc(smsc.as_ref())
}

fn next_ref(state: &State) -> u8 {
    let mut inner = state.inner.lock().unwrap();
    inner.next_ref = inner.next_ref.wrapping_add(1);
    inner.next_ref
}

pub fn inject_sms(state: &State, from: &str, text: &str) -> Result<(), String> {
    let parts = build::encode_deliver(from, text, &now(), next_ref(state)).map_err(|e| e.what)?;
    state.say(format!("← {from}: {text:?} ({} part(s))", parts.len()));
    for p in parts {
        deliver_tpdu(state, &p);
    }
    Ok(())
}

pub fn inject_wap_push(state: &State, from: &str, push: &[u8]) -> Result<(), String> {
    let ports = Some((WAP_PUSH_PORT, WAP_SOURCE_PORT));
    let parts = build::encode_deliver_binary(from, ports, push, &now(), next_ref(state)).map_err(|e| e.what)?;
    state.say(format!("← {from}: WAP push of {} octets ({} part(s))", push.len(), parts.len()));
    for p in parts {
        deliver_tpdu(state, &p);
    }
    Ok(())
}

/// An SMS-DELIVER TPDU arriving from the network.
pub fn deliver_tpdu(state: &State, tpdu: &[u8]) {
    let smsc = smsc_field(&state.inner.lock().unwrap());
    deliver_raw(state, &tpdu::to_hex(&[smsc, tpdu.to_vec()].concat()));
}

/// The length +CMT and +CMTI readers expect: the TPDU without the SMSC field. For junk,
/// half the hex digits, as a modem that stored it would count.
pub(super) fn tpdu_length(hex: &str) -> usize {
    match tpdu::from_hex(hex) {
        Ok(b) if !b.is_empty() => b.len().saturating_sub(1 + b[0] as usize),
        _ => hex.len() / 2,
    }
}

/// A PDU (hex, SMSC field first) arriving: routed (+CMT) or stored (+CMTI), as many times
/// as the Repeat fault says.
pub fn deliver_raw(state: &State, hex: &str) {
    let mut inner = state.inner.lock().unwrap();
    let copies = inner.faults.repeat.max(1);
    for _ in 0..copies {
        if inner.settings.cnmi[1] == 2 {
            state.emit(format!("\r\n+CMT: ,{}\r\n{hex}\r\n", tpdu_length(hex)));
        } else {
            store_incoming(state, &mut inner, hex.to_string());
        }
    }
}

/// Stores in mem3 with +CMTI, or holds it and prints the profile's storage-full URC.
fn store_incoming(state: &State, inner: &mut Inner, hex: String) {
    let mem = inner.settings.mems[2];
    let full = inner.faults.storage_full;
    let Some(memory) = inner.storage.get(mem) else { return };
    let quiet = inner.faults.lost_indication;
    match if full { None } else { memory.put(0, hex.clone()) } {
        Some(_) if quiet => {}
        Some(index) => state.emit(format!("\r\n+CMTI: \"{mem}\",{index}\r\n")),
        None => {
            inner.held.push(hex);
            state.emit(state.opts.profile.storage_full_urc(mem));
        }
    }
}

/// Stores held messages while there is room (after AT+CMGD, or once the fault clears).
pub fn store_held(state: &State) {
    let mut inner = state.inner.lock().unwrap();
    if inner.faults.storage_full {
        return;
    }
    let held = std::mem::take(&mut inner.held);
    let mut rest = held.into_iter();
    for hex in rest.by_ref() {
        let mem = inner.settings.mems[2];
        let quiet = inner.faults.lost_indication;
        let Some(memory) = inner.storage.get(mem) else { break };
        match memory.put(0, hex.clone()) {
            Some(_) if quiet => {}
            Some(index) => state.emit(format!("\r\n+CMTI: \"{mem}\",{index}\r\n")),
            None => {
                inner.held.push(hex);
                break;
            }
        }
    }
    inner.held.extend(rest);
}

/// Records one accepted AT+CMGS part (already decoded) and returns its message reference.
/// Parts of one message count as one sent message once all are in.
pub fn record_send(state: &Arc<State>, hex: &str, bytes: &[u8], submit: &tpdu::Submit) -> u8 {
    let mut inner = state.inner.lock().unwrap();
    let mr = inner.next_mr;
    inner.next_mr = inner.next_mr.wrapping_add(1);
    let to = submit.destination.value.clone();
    let text = submit.user_data.text.clone().unwrap_or_default();
    let srr = submit.status_report_request;
    let whole = match submit.user_data.udh.as_ref().and_then(|u| u.concat()).filter(|c| c.total > 1) {
        None => {
            Some(SentSms { to: to.clone(), text, parts: 1, mrs: vec![mr], pdus: vec![hex.into()], status_report: srr })
        }
        Some(c) => {
            let key = (to.clone(), c.reference);
            let p = inner.partial.entry(key.clone()).or_default();
            if p.parts.len() != c.total as usize {
                p.parts = vec![None; c.total as usize];
            }
            if let Some(slot) = p.parts.get_mut(c.seq.saturating_sub(1) as usize) {
                *slot = Some((mr, text, hex.to_string()));
            }
            p.status_report |= srr;
            if p.parts.iter().all(Option::is_some) {
                let p = inner.partial.remove(&key).unwrap_or_default();
                let parts: Vec<_> = p.parts.into_iter().flatten().collect();
                Some(SentSms {
                    to: to.clone(),
                    text: parts.iter().map(|(_, t, _)| t.as_str()).collect(),
                    parts: c.total,
                    mrs: parts.iter().map(|(m, _, _)| *m).collect(),
                    pdus: parts.iter().map(|(_, _, h)| h.clone()).collect(),
                    status_report: p.status_report,
                })
            } else {
                None
            }
        }
    };
    let own = same_number(&to, &state.opts.number);
    drop(inner);
    if let Some(sms) = whole {
        let note = if sms.status_report { ", status report asked" } else { "" };
        state.say(format!("→ {}: {:?} ({} part(s), mr {:?}{note})", sms.to, sms.text, sms.parts, sms.mrs));
        state.inner.lock().unwrap().sent.push(sms);
        state.sent_changed.notify_waiters();
    }
    if srr {
        schedule_report(state, mr, to.clone());
    }
    if own {
        // Sent to the SIM's own number: the network delivers it back.
        // A moment later, as the network would: after the +CMGS answer, never inside it.
        let smsc_len = 1 + bytes[0] as usize;
        match build::submit_to_deliver(&bytes[smsc_len..], &state.opts.number, &now()) {
            Ok(deliver) => {
                let state = Arc::clone(state);
                tokio::spawn(async move {
                    tokio::time::sleep(LOOPBACK_DELAY).await;
                    deliver_tpdu(&state, &deliver);
                });
            }
            Err(e) => state.say(format!("✗ loopback: {e}")),
        }
    }
    mr
}

/// Numbers equal once `+` and a national/international difference are ignored.
fn same_number(a: &str, b: &str) -> bool {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let (a, b) = (digits(a), digits(b));
    !a.is_empty() && (a == b || (a.len() >= 7 && b.ends_with(&a)) || (b.len() >= 7 && a.ends_with(&b)))
}

/// After the delay, the status report for part `mr` as CNMI's ds says: +CDS, or stored in
/// "SR" with +CDSI, or nothing.
fn schedule_report(state: &Arc<State>, mr: u8, to: String) {
    let state = Arc::clone(state);
    let submitted = now();
    tokio::spawn(async move {
        tokio::time::sleep(state.opts.dlr_delay).await;
        let mut inner = state.inner.lock().unwrap();
        let status = if inner.faults.failed_report { 0x41 } else { 0x00 };
        let Ok(report) = build::encode_status_report(mr, &to, status, &submitted, &now()) else { return };
        let hex = tpdu::to_hex(&[smsc_field(&inner), report.clone()].concat());
        match inner.settings.cnmi[3] {
            1 => state.emit(format!("\r\n+CDS: {}\r\n{hex}\r\n", report.len())),
            2 => match inner.storage.sr.put(0, hex) {
                Some(_) if inner.faults.lost_indication => {}
                Some(i) => state.emit(format!("\r\n+CDSI: \"SR\",{i}\r\n")),
                None => state.emit(state.opts.profile.storage_full_urc("SR")),
            },
            _ => {}
        }
    });
}

/// The URC answering USSD `code` (sent shortly after the command's OK).
pub fn ussd_answer(inner: &Inner, code: &str) -> String {
    match inner.ussd.get(code) {
        Some(r) => format!("\r\n+CUSD: {},\"{}\",15\r\n", if r.more { 1 } else { 0 }, r.text),
        None => "\r\n+CUSD: 4\r\n".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_a_valid_timestamp() {
        let t = now();
        assert!(t.year >= 2024 && (1..=12).contains(&t.month) && (1..=31).contains(&t.day));
        let bytes = t.encode();
        assert_eq!(Timestamp::decode(&bytes, 0).unwrap(), t);
        let ms = t.unix_ms() / 1000;
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        assert!((secs - ms).abs() < 5, "{secs} vs {ms}");
    }

    #[test]
    fn numbers_match_across_forms() {
        assert!(same_number("+15550001111", "15550001111"));
        assert!(same_number("5550001111", "+15550001111"));
        assert!(!same_number("+15550001112", "+15550001111"));
        assert!(!same_number("", ""));
        assert_eq!(tpdu_length("07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"), 38 - 8);
        assert_eq!(tpdu_length("ZZZZ"), 2);
    }
}
