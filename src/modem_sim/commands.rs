//! One AT command line in, the modem's answer out (3GPP 27.007 / 27.005, PDU mode).

use std::sync::Arc;

use super::network;
use super::state::{Inner, Lock, Settings, State};
use crate::sms::tpdu::{self, Tpdu};

/// What a command line gets.
pub(super) enum Reply {
    /// Information lines (groups kept together: a +CMGL line and its PDU) and the final
    /// result; `then` is a URC printed right after (the +CUSD answer).
    Done { info: Vec<Vec<String>>, result: String, then: Option<String> },
    /// AT+CMGS=<len>: print the prompt and read a PDU.
    Prompt(usize),
}

fn ok() -> Reply {
    done(vec![], "OK")
}

fn done(info: Vec<Vec<String>>, result: impl Into<String>) -> Reply {
    Reply::Done { info, result: result.into(), then: None }
}

fn line(s: impl Into<String>) -> Reply {
    done(vec![vec![s.into()]], "OK")
}

fn cms(code: u16) -> Reply {
    done(vec![], format!("+CMS ERROR: {code}"))
}

fn cme(settings: &Settings, code: u16) -> Reply {
    done(vec![], cme_text(settings, code))
}

/// +CME ERROR as AT+CMEE asks: plain ERROR, the number, or the words.
fn cme_text(settings: &Settings, code: u16) -> String {
    match settings.cmee {
        0 => "ERROR".into(),
        1 => format!("+CME ERROR: {code}"),
        _ => {
            let words = match code {
                3 => "operation not allowed",
                4 => "operation not supported",
                10 => "SIM not inserted",
                11 => "SIM PIN required",
                12 => "SIM PUK required",
                16 => "incorrect password",
                _ => "unknown",
            };
            format!("+CME ERROR: {words}")
        }
    }
}

fn error() -> Reply {
    done(vec![], "ERROR")
}

/// The arguments after `=`: split at commas outside quotes, quotes removed.
fn args(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().expect("never empty").push(c),
        }
    }
    out.into_iter().map(|a| a.trim().to_string()).collect()
}

/// Commands that need a ready SIM: SMS commands answer +CMS ERROR, others +CME ERROR.
const SMS: &[&str] = &["+CMGL", "+CMGR", "+CMGS", "+CMGD", "+CMGW", "+CPMS", "+CNMI", "+CSCA", "+CNMA", "+CSMS"];
const NEEDS_SIM: &[&str] = &["+CIMI", "+CUSD", "+COPS", "+CREG", "+CEREG", "+CGREG"];

/// A command line: `AT` and one command, or several joined by `;` (`AT+CMGF=0;+CNMI=2,1`),
/// run in order until one fails.
pub(super) fn execute(state: &Arc<State>, raw: &str) -> Reply {
    let Some(body) = raw.get(..2).filter(|p| p.eq_ignore_ascii_case("AT")).map(|_| &raw[2..]) else {
        return error();
    };
    let mut quoted = false;
    let parts: Vec<&str> = body
        .split(|c| {
            quoted ^= c == '"';
            c == ';' && !quoted
        })
        .filter(|p| !p.trim().is_empty())
        .collect();
    if parts.len() <= 1 {
        return execute_one(state, body);
    }
    let mut info = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        match execute_one(state, part.trim()) {
            Reply::Done { info: more, result, then } if result == "OK" && i + 1 < parts.len() => {
                info.extend(more);
                if let Some(t) = then {
                    state.emit(t);
                }
            }
            Reply::Done { info: more, result, then } => {
                info.extend(more);
                return Reply::Done { info, result, then };
            }
            prompt => return prompt,
        }
    }
    ok()
}

fn execute_one(state: &Arc<State>, body: &str) -> Reply {
    let mut inner = state.inner.lock().unwrap();
    if body.is_empty() {
        return ok();
    }
    if !body.starts_with(['+', '^']) {
        return basic(state, &mut inner, &body.to_ascii_uppercase());
    }
    let split = body.find(['=', '?']).unwrap_or(body.len());
    let name = body[..split].to_ascii_uppercase();
    let rest = &body[split..];
    let op = if rest.starts_with("=?") {
        Op::Test
    } else if rest.starts_with('?') {
        Op::Read
    } else if let Some(a) = rest.strip_prefix('=') {
        Op::Set(args(a))
    } else {
        Op::Exec
    };
    let name = name.as_str();
    let sms = SMS.contains(&name);
    if sms || NEEDS_SIM.contains(&name) {
        let (cms_code, cme_code) = match inner.lock {
            _ if inner.faults.no_sim => (310, 10),
            Lock::Pin(_) => (311, 11),
            Lock::Puk => (316, 12),
            Lock::Ready => (0, 0),
        };
        if cms_code != 0 {
            return if sms { cms(cms_code) } else { cme(&inner.settings, cme_code) };
        }
    }
    extended(state, &mut inner, name, op)
}

enum Op {
    Exec,
    Read,
    Test,
    Set(Vec<String>),
}

fn basic(state: &State, inner: &mut Inner, body: &str) -> Reply {
    let (make, model, revision) = state.opts.profile.identity();
    match body {
        "E0" | "E" => inner.settings.echo = false,
        "E1" => inner.settings.echo = true,
        "Z" | "Z0" | "&F" | "&F0" => inner.settings = Settings::default(),
        "I" | "I0" => return done(vec![vec![make.into(), model.into(), format!("Revision: {revision}")]], "OK"),
        "V1" | "Q0" | "&C1" | "&D2" | "&W" | "X4" => {}
        _ => return error(),
    }
    ok()
}

fn extended(state: &Arc<State>, inner: &mut Inner, name: &str, op: Op) -> Reply {
    let (make, model, revision) = state.opts.profile.identity();
    let s = &mut inner.settings;
    let registered = !inner.faults.no_network;
    match (name, op) {
        ("+CGMI" | "+GMI", Op::Exec) => line(make),
        ("+CGMM" | "+GMM", Op::Exec) => line(model),
        ("+CGMR" | "+GMR", Op::Exec) => line(revision),
        ("+CGSN" | "+GSN", Op::Exec) => line(super::Profile::IMEI),
        ("+CIMI", Op::Exec) => line(super::Profile::IMSI),
        ("+CMEE", Op::Set(a)) => match a[0].as_str() {
            "0" | "1" | "2" => {
                s.cmee = a[0].parse().unwrap_or(1);
                ok()
            }
            _ => error(),
        },
        ("+CMEE", Op::Read) => line(format!("+CMEE: {}", s.cmee)),
        ("+CMEE", Op::Test) => line("+CMEE: (0-2)"),
        ("+CFUN", Op::Set(_)) => ok(),
        ("+CFUN", Op::Read) => line("+CFUN: 1"),
        ("+CFUN", Op::Test) => line("+CFUN: (0,1,4),(0,1)"),
        ("+CSCS", Op::Read) => line(format!("+CSCS: \"{}\"", s.cscs)),
        ("+CSCS", Op::Test) => line("+CSCS: (\"GSM\",\"IRA\",\"UCS2\")"),
        ("+CSCS", Op::Set(a)) if ["GSM", "IRA", "UCS2"].contains(&a[0].as_str()) => {
            s.cscs = a[0].clone();
            ok()
        }
        ("+CPIN", Op::Read) => {
            if inner.faults.no_sim {
                return cme(s, 10);
            }
            line(match inner.lock {
                Lock::Ready => "+CPIN: READY",
                Lock::Pin(_) => "+CPIN: SIM PIN",
                Lock::Puk => "+CPIN: SIM PUK",
            })
        }
        ("+CPIN", Op::Set(a)) => pin(state, inner, &a),
        // Tries left (27.007 §8.65): the PIN's count survives power cycles, as on a SIM.
        ("+CPINR", Op::Set(_) | Op::Exec) => {
            let left = match inner.lock {
                Lock::Pin(left) => left,
                Lock::Puk => 0,
                Lock::Ready => 3,
            };
            line(format!("+CPINR: SIM PIN,{left},3"))
        }
        ("+CSQ", Op::Exec) => line(if registered { "+CSQ: 20,99" } else { "+CSQ: 99,99" }),
        ("+CREG" | "+CGREG" | "+CEREG", Op::Read) => line(format!("{name}: 0,{}", if registered { 1 } else { 2 })),
        ("+CREG" | "+CGREG" | "+CEREG", Op::Set(_)) => ok(),
        ("+COPS", Op::Read) => line(if registered { "+COPS: 0,0,\"Sim Network\",7" } else { "+COPS: 0" }),
        ("+CMGF", Op::Read) => line(format!("+CMGF: {}", s.cmgf)),
        ("+CMGF", Op::Test) => line("+CMGF: (0,1)"),
        ("+CMGF", Op::Set(a)) => match a[0].as_str() {
            "0" | "1" => {
                s.cmgf = a[0].parse().unwrap_or(0);
                ok()
            }
            _ => error(),
        },
        ("+CSMS", Op::Read) => line("+CSMS: 0,1,1,1"),
        ("+CSMS", Op::Test) => line("+CSMS: (0,1)"),
        ("+CSMS", Op::Set(_)) => line("+CSMS: 1,1,1"),
        ("+CSCA", Op::Read) => line(match &inner.smsc {
            Some(n) => format!("+CSCA: \"{n}\",{}", if n.starts_with('+') { 145 } else { 129 }),
            None => "+CSCA: \"\",129".into(),
        }),
        ("+CSCA", Op::Set(a)) => {
            inner.smsc = Some(a[0].clone()).filter(|n| !n.is_empty());
            ok()
        }
        ("+CNMI", Op::Test) => line(state.opts.cnmi_test.as_deref().unwrap_or(state.opts.profile.cnmi_ranges())),
        ("+CNMI", Op::Read) => {
            let c = s.cnmi;
            line(format!("+CNMI: {},{},{},{},{}", c[0], c[1], c[2], c[3], c[4]))
        }
        ("+CNMI", Op::Set(a)) => cnmi(s, &a),
        // Never expected: this modem runs with +CSMS=0, where nothing is acknowledged.
        ("+CNMA", _) => cms(340),
        ("+CPMS", Op::Test) => line(state.opts.profile.cpms_ranges()),
        ("+CPMS", Op::Read) => {
            let mut parts = Vec::new();
            for m in s.mems {
                let memory = inner.storage.get(m).expect("known memory");
                parts.push(format!("\"{m}\",{},{}", memory.used(), memory.total()));
            }
            line(format!("+CPMS: {}", parts.join(",")))
        }
        ("+CPMS", Op::Set(a)) => cpms(inner, &a),
        ("+CMGL" | "+CMGR" | "+CMGS" | "+CMGW", _) if s.cmgf == 1 => cms(302),
        ("+CMGL", Op::Exec) => list(inner, 0),
        ("+CMGL", Op::Set(a)) => match a[0].parse::<u8>() {
            Ok(stat) if stat <= 4 => list(inner, stat),
            _ => cms(302),
        },
        ("+CMGL", Op::Test) => line("+CMGL: (0-4)"),
        ("+CMGR", Op::Set(a)) => read(state, inner, &a),
        ("+CMGD", Op::Set(a)) => delete(inner, &a),
        ("+CMGD", Op::Test) => {
            let mem = inner.storage.get(s.mems[0]).expect("known memory");
            line(format!("+CMGD: (1-{}),(0-4)", mem.total()))
        }
        ("+CMGS", Op::Set(a)) => match a[0].parse::<usize>() {
            Ok(n) if (7..=164).contains(&n) => Reply::Prompt(n),
            _ => cms(304),
        },
        ("+CUSD", Op::Read) => line("+CUSD: 1"),
        ("+CUSD", Op::Test) => line("+CUSD: (0-2)"),
        ("+CUSD", Op::Set(a)) => match (a[0].as_str(), a.get(1)) {
            ("1" | "0", Some(code)) if !code.is_empty() => {
                if !registered {
                    return cme(s, 30);
                }
                Reply::Done { info: vec![], result: "OK".into(), then: Some(network::ussd_answer(inner, code)) }
            }
            ("0" | "1" | "2", _) => ok(),
            _ => error(),
        },
        // gammu selects the modem port with it on Huawei sticks (and fails without an OK).
        ("^PORTSEL", Op::Set(_)) if state.opts.profile == super::Profile::Huawei => ok(),
        ("^CURC", Op::Set(a)) if state.opts.profile == super::Profile::Huawei => {
            s.curc = a[0] != "0";
            ok()
        }
        _ => error(),
    }
}

fn pin(state: &State, inner: &mut Inner, a: &[String]) -> Reply {
    let right = state.opts.pin.as_deref().unwrap_or("");
    match inner.lock {
        Lock::Ready => cme(&inner.settings, 3),
        Lock::Pin(left) => {
            if a[0] == right {
                inner.lock = Lock::Ready;
                return ok();
            }
            inner.lock = if left > 1 { Lock::Pin(left - 1) } else { Lock::Puk };
            cme(&inner.settings, 16)
        }
        // Any 8-digit PUK unlocks, with the new PIN given.
        Lock::Puk if a[0].len() == 8 && a.len() == 2 && a[0].bytes().all(|b| b.is_ascii_digit()) => {
            inner.lock = Lock::Ready;
            ok()
        }
        Lock::Puk => cme(&inner.settings, 12),
    }
}

fn cnmi(s: &mut Settings, a: &[String]) -> Reply {
    let limits = [3, 3, 3, 2, 1];
    let mut new = s.cnmi;
    for (i, v) in a.iter().enumerate().take(5) {
        if v.is_empty() {
            continue;
        }
        match v.parse::<u8>() {
            Ok(n) if n <= limits[i] => new[i] = n,
            _ => return cms(303),
        }
    }
    s.cnmi = new;
    ok()
}

fn cpms(inner: &mut Inner, a: &[String]) -> Reply {
    let mut mems = inner.settings.mems;
    for (i, m) in a.iter().enumerate().take(3) {
        let m = m.to_ascii_uppercase();
        mems[i] = match m.as_str() {
            "SM" | "MT" => "SM",
            "ME" => "ME",
            "SR" if i < 2 => "SR",
            _ => return cms(302),
        };
    }
    inner.settings.mems = mems;
    let counts: Vec<String> = mems
        .iter()
        .map(|m| {
            let memory = inner.storage.get(m).expect("known memory");
            format!("{},{}", memory.used(), memory.total())
        })
        .collect();
    line(format!("+CPMS: {}", counts.join(",")))
}

fn list(inner: &mut Inner, stat: u8) -> Reply {
    let mem = inner.settings.mems[0];
    let entries = inner.storage.get(mem).expect("known memory").list(stat);
    let info = entries
        .into_iter()
        .map(|(i, st, pdu)| vec![format!("+CMGL: {i},{st},,{}", network::tpdu_length(&pdu)), pdu])
        .collect();
    done(info, "OK")
}

fn read(state: &State, inner: &mut Inner, a: &[String]) -> Reply {
    let mem = inner.settings.mems[0];
    let memory = inner.storage.get(mem).expect("known memory");
    let Some(index) = a[0].parse::<u32>().ok().filter(|&i| memory.valid(i)) else { return cms(321) };
    match memory.read(index) {
        Some((st, pdu)) => done(vec![vec![format!("+CMGR: {st},,{}", network::tpdu_length(&pdu)), pdu]], "OK"),
        None if state.opts.profile.empty_read_is_ok() => ok(),
        None => cms(321),
    }
}

fn delete(inner: &mut Inner, a: &[String]) -> Reply {
    let mem = inner.settings.mems[0];
    let memory = inner.storage.get(mem).expect("known memory");
    let flag = match a.get(1).map(|f| f.parse::<u8>()) {
        None => 0,
        Some(Ok(f)) if f <= 4 => f,
        _ => return cms(302),
    };
    let index = a[0].parse::<u32>().unwrap_or(0);
    if flag == 0 && !memory.valid(index) {
        return cms(321);
    }
    memory.delete(index, flag);
    ok()
}

/// The PDU after the AT+CMGS prompt: checked, recorded, answered `+CMGS: <mr>`.
pub(super) async fn submit(state: &Arc<State>, length: usize, hex: &str) -> Reply {
    let (slow, fault) = {
        let mut inner = state.inner.lock().unwrap();
        let fault = if inner.faults.no_network { Some(331) } else { inner.faults.next_cms() };
        (inner.faults.slow_cmgs, fault)
    };
    if let Some(d) = slow {
        tokio::time::sleep(d).await;
    }
    if let Some(code) = fault {
        state.say(format!("✗ AT+CMGS answered +CMS ERROR: {code} (fault)"));
        return cms(code);
    }
    let bytes = match tpdu::from_hex(hex.trim()) {
        Ok(b) if !b.is_empty() => b,
        _ => return cms(304),
    };
    let smsc_len = 1 + bytes[0] as usize;
    if bytes.len() < smsc_len || bytes.len() - smsc_len != length {
        state.say(format!("✗ AT+CMGS={length} with a TPDU of {} octets", bytes.len().saturating_sub(smsc_len)));
        return cms(304);
    }
    let submit = match tpdu::decode(&bytes, true) {
        Ok(p) => match p.tpdu {
            Tpdu::Submit(s) => s,
            _ => return cms(304),
        },
        Err(e) => {
            state.say(format!("✗ AT+CMGS PDU: {e}"));
            return cms(304);
        }
    };
    let mr = network::record_send(state, &tpdu::to_hex(&bytes), &bytes, &submit);
    line(format!("+CMGS: {mr}"))
}

/// The bytes for a reply, with noise lines between groups when the fault asks for them.
/// Never between a +CMGL/+CMGR line and its PDU (27.005 forbids it).
pub(super) fn render(state: &State, reply: Reply) -> String {
    let Reply::Done { info, result, then } = reply else { return "\r\n> ".into() };
    let mut inner = state.inner.lock().unwrap();
    let mut out = String::new();
    if let Some(n) = state.noise(&mut inner) {
        out.push_str(n);
    }
    if !info.is_empty() {
        out.push_str("\r\n");
    }
    for (i, group) in info.iter().enumerate() {
        if i > 0
            && let Some(n) = state.noise(&mut inner)
        {
            out.push_str(n);
        }
        for l in group {
            out.push_str(l);
            out.push_str("\r\n");
        }
    }
    if !info.is_empty()
        && let Some(n) = state.noise(&mut inner)
    {
        out.push_str(n);
    }
    out.push_str("\r\n");
    out.push_str(&result);
    out.push_str("\r\n");
    if let Some(t) = then {
        out.push_str(&t);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_commands_on_one_line() {
        let state = State::new(super::super::Options { quiet: true, ..Default::default() });
        let Reply::Done { info, result, .. } = execute(&state, "AT+CMGF=0;+CSCS?;+CNMI=2,1;E0") else { panic!() };
        assert_eq!((info, result.as_str()), (vec![vec!["+CSCS: \"GSM\"".to_string()]], "OK"));
        let s = state.inner.lock().unwrap().settings.clone();
        assert_eq!((s.cnmi[1], s.echo), (1, false));
        let Reply::Done { result, .. } = execute(&state, "AT+CMGF=0;+BOGUS;+CNMI=0,0") else { panic!() };
        assert_eq!(result, "ERROR");
        assert_eq!(state.inner.lock().unwrap().settings.cnmi[1], 1, "stops at the failing command");
        let Reply::Done { result, .. } = execute(&state, "ATE1") else { panic!() };
        assert_eq!(result, "OK");
        assert!(matches!(execute(&state, "hello"), Reply::Done { result, .. } if result == "ERROR"));
    }

    #[test]
    fn arguments_split_outside_quotes() {
        assert_eq!(args("\"SM\",\"ME\""), ["SM", "ME"]);
        assert_eq!(args("1,\"*100#,x\",15"), ["1", "*100#,x", "15"]);
        assert_eq!(args(""), [""]);
    }
}
