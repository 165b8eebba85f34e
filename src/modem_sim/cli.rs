//! The command: prints the device, then one line per message; reads the network's side
//! from stdin.

use std::future::Future;

use super::{Fault, ModemSim, Options};

const HELP: &str = concat!(
    "  +15551234567 Hello there               an SMS from +15551234567 to the SIM\n",
    "  :push +15551234567 http://mmsc/x       an MMS notification (WAP push) from +15551234567\n",
    "  :unplug | :replug | :reboot            the USB cable and the power\n",
    "  :fault storage_full|slow_cmgs=5s|cms=331x2|noise|repeat=3|no_network|no_sim|silent|failed_report|lost_indication|none",
);

/// Serves until `shutdown` resolves.
pub async fn run(opts: Options, shutdown: impl Future<Output = ()>) -> Result<(), String> {
    let sim = ModemSim::start(opts).await.map_err(|e| e.to_string())?;
    let o = &sim.state.opts;
    let device = sim.state.device.lock().unwrap().clone().unwrap_or_default();
    println!("modem-sim: device {}", device.display());
    if let Some(link) = &o.link {
        println!("modem-sim: link {} -> {}", link.display(), device.display());
    }
    println!("modem-sim: {} profile, SIM number {}", o.profile, o.number);
    if let Some(h) = sim.http_addr() {
        println!("modem-sim: HTTP API on http://{h} (POST /sms, POST /wap-push, POST /fault, GET /sent, GET /stored)");
    }
    for f in &o.faults {
        println!("modem-sim: fault: {f}");
    }
    println!("modem-sim: type to play the network:\n{HELP}");

    let mut lines = crate::sim_stdin::lines();
    tokio::pin!(shutdown);
    let mut stdin_open = true;
    loop {
        tokio::select! {
            line = lines.recv(), if stdin_open => match line {
                Some(line) => typed(&sim, &line).await,
                None => stdin_open = false,
            },
            _ = &mut shutdown => break,
        }
    }
    sim.unplug().await;
    Ok(())
}

async fn typed(sim: &ModemSim, line: &str) {
    let line = line.trim();
    let (head, rest) = line.split_once(char::is_whitespace).map_or((line, ""), |(h, r)| (h, r.trim()));
    match head {
        "" => {}
        "help" | "?" | ":help" => println!("{HELP}"),
        ":unplug" => {
            sim.unplug().await;
            println!("⚡ unplugged");
        }
        ":replug" => match sim.replug().await {
            Ok(()) => println!("⚡ replugged: {}", sim.path().display()),
            Err(e) => println!("✗ replug: {e}"),
        },
        ":reboot" => {
            sim.reboot();
            println!("⚡ rebooted");
        }
        ":fault" if rest == "none" => sim.clear_faults(),
        ":fault" => match rest.parse::<Fault>() {
            Ok(f) => sim.set_fault(f),
            Err(e) => println!("✗ {e}"),
        },
        ":push" => {
            let Some((from, url)) = rest.split_once(char::is_whitespace) else {
                println!("✗ :push FROM URL, e.g. :push +15551234567 http://mmsc.example/x");
                return;
            };
            match crate::mms::push::mms_notification(from, url.trim(), "modem-sim-1", Some(30_000), None) {
                Ok(push) => sim.inject_wap_push(from, &push),
                Err(e) => println!("✗ {e}"),
            }
        }
        _ if head.starts_with('+') || head.starts_with(|c: char| c.is_ascii_digit()) => sim.inject_sms(head, rest),
        _ => println!("✗ start the line with the sender's number, e.g. +15551234567 Hello (or type help)"),
    }
}
