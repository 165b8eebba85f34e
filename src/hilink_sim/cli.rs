//! The command: prints where the router listens, then one line per event; reads the
//! network's side from stdin.

use std::future::Future;

use super::state::Incoming;
use super::{Fault, HilinkSim, MmsShape, Options};

const HELP: &str = concat!(
    "  +15551234567 Hello there                 an SMS from +15551234567\n",
    "  :type 42 +15551234567 Hello              an SMS with another SmsType (9, 42, x…)\n",
    "  :long +15551234567 A long text…          a long message, listed as SmsType 2 and growing\n",
    "  :report +15551234567 ok|fail             a delivery report (SmsType 7 or 8)\n",
    "  :mms +15551234567 http://mmsc/x [file|url]  an MMS notification as the router lists it\n",
    "  :fault error=125003x2|expire|reboot=3s|slow=300ms|send_fail=1|no_sim|no_signal|none\n",
    "  :state                                   what the router holds, as JSON",
);

/// Serves until `shutdown` resolves.
pub async fn run(opts: Options, shutdown: impl Future<Output = ()>) -> Result<(), String> {
    let sim = HilinkSim::start(opts).await.map_err(|e| e.to_string())?;
    let o = sim.opts();
    println!("hilink-sim: web API on {}", sim.url());
    println!("hilink-sim: control API on {} (POST /sms, /long, /report, /mms, /fault; GET /state)", sim.control_url());
    let login = if o.login_required {
        format!("login {} / {} (password_type {})", o.username, o.password, o.password_type)
    } else {
        "no login".to_string()
    };
    println!("hilink-sim: {}, number {}, {login}", o.device_name, o.number);
    println!("hilink-sim: type to play the network:\n{HELP}");

    let mut lines = crate::sim_stdin::lines();
    tokio::pin!(shutdown);
    let mut stdin_open = true;
    loop {
        tokio::select! {
            line = lines.recv(), if stdin_open => match line {
                Some(line) => typed(&sim, &line),
                None => stdin_open = false,
            },
            _ = &mut shutdown => break,
        }
    }
    Ok(())
}

fn split(s: &str) -> (&str, &str) {
    s.split_once(char::is_whitespace).map_or((s, ""), |(h, r)| (h, r.trim()))
}

fn typed(sim: &HilinkSim, line: &str) {
    let (head, rest) = split(line.trim());
    let held = |i: Option<i64>| {
        if i.is_none() {
            println!("⏸ storage full: held by the network until space frees");
        }
    };
    match head {
        "" => {}
        "help" | "?" | ":help" => println!("{HELP}"),
        ":state" => println!("{}", serde_json::to_string_pretty(&sim.snapshot()).unwrap_or_default()),
        ":fault" if rest == "none" => sim.clear_faults(),
        ":fault" => match rest.parse::<Fault>() {
            Ok(f) => sim.set_fault(&f),
            Err(e) => println!("✗ {e}"),
        },
        ":type" => {
            let (t, rest) = split(rest);
            let (from, text) = split(rest);
            held(sim.inject(Incoming { sms_type: t.into(), ..Incoming::sms(from, text) }));
        }
        ":long" => {
            let (from, text) = split(rest);
            held(sim.inject_long(from, text, 3));
        }
        ":report" => {
            let (to, how) = split(rest);
            held(sim.inject_report(to, how != "fail"));
        }
        ":mms" => {
            let (from, rest) = split(rest);
            let (url, shape) = split(rest);
            match shape.parse::<MmsShape>() {
                Ok(s) if !url.is_empty() => held(sim.inject_mms(from, url, s, "5")),
                Ok(_) => println!("✗ :mms FROM URL [file|url]"),
                Err(e) => println!("✗ {e}"),
            }
        }
        _ if head.starts_with('+') || head.starts_with(|c: char| c.is_ascii_digit()) => {
            held(sim.inject_sms(head, rest))
        }
        _ => println!("✗ start the line with the sender's number, e.g. +15551234567 Hello (or type help)"),
    }
}
