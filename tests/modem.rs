//! The modem link against the simulated modem (`modem_sim`, itself checked against
//! Debian's gammu in tests/modem_sim.rs), with the bridge core and an in-memory homeserver.
//! The end-to-end case with a real Synapse is in tests/modem_e2e.rs.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::core::{ALICE, BOB, BOB_GHOST, Harness, config_with_links};
use common::gammu::{self, gammu_async};
use common::mmsc::{TestMmsc, notification_push, png, retrieve_conf};
use serde_json::json;
use sms_bridge::backend::{Backend, LinkState};
use sms_bridge::modem_sim::{Fault, ModemSim, Options, Profile, UssdReply};
use sms_bridge::sms::build::encode_deliver;
use sms_bridge::sms::time::Timestamp;
use sms_bridge::sms::tpdu::to_hex;

const MODEM_NUMBER: &str = "+15550003333";
const BOB_KEY: &str = "15551234567";

async fn sim_with(f: impl FnOnce(&mut Options)) -> ModemSim {
    let mut opts = Options {
        number: MODEM_NUMBER.into(),
        quiet: true,
        dlr_delay: Duration::from_millis(50),
        ..Options::default()
    };
    f(&mut opts);
    ModemSim::start(opts).await.expect("the modem simulator starts")
}

async fn sim() -> ModemSim {
    sim_with(|_| {}).await
}

/// The modem link first (so `start` uses it), then the harness's test link. `extra` adds
/// keys to the modem's section; `tail` adds top-level sections. Storage is polled only when
/// `extra` asks: everything else must work from what the modem announces.
fn links(sim: &ModemSim, extra: &str, tail: &str) -> &'static str {
    let poll = if extra.contains("poll_interval") { "" } else { "\n    poll_interval: 3600" };
    config_with_links(&format!(
        r#"  - id: modem
    type: modem
    number: "{MODEM_NUMBER}"
    device: {device}{poll}
    command_timeout: 3
    send_timeout: 3
    reconnect_min_delay: 1
    reconnect_max_delay: 1
{extra}
  - id: test1
    type: test
    number: "+15550001111"
{tail}"#,
        device = sim.path().display()
    ))
}

async fn rig(sim: &ModemSim, extra: &str) -> Harness {
    Harness::new_with(links(sim, extra, "")).await
}

fn modem(h: &Harness) -> Arc<dyn Backend> {
    h.bridge.backends.get("modem").expect("the modem link").clone()
}

/// Runs the bridge's workers until `done`, the modem's own task working meanwhile.
async fn until(h: &Harness, what: &str, done: impl Fn(&Harness) -> bool) {
    h.run_until(what, done, |h| format!("modem: {}", modem(h).state())).await
}

async fn connected(h: &Harness) {
    until(h, "the modem to be connected", |h| modem(h).state() == LinkState::Connected).await;
}

fn bob_room(h: &Harness) -> Option<String> {
    h.bridge.store.portal_by_pair(MODEM_NUMBER, BOB_KEY).unwrap().and_then(|p| p.room_id)
}

fn bob_texts(h: &Harness) -> Vec<String> {
    let Some(room) = bob_room(h) else { return vec![] };
    h.ghost_messages(&room, BOB_GHOST).iter().map(|e| e.content["body"].as_str().unwrap_or("").to_string()).collect()
}

async fn bob_chat(h: &Harness) -> String {
    h.say_text(ALICE, &h.mgmt, "start +1 555 123 4567 via modem").await;
    bob_room(h).expect("a portal for Bob on the modem")
}

fn count(sim: &ModemSim, prefix: &str) -> usize {
    sim.commands().iter().filter(|c| c.to_ascii_uppercase().starts_with(prefix)).count()
}

#[tokio::test]
async fn sms_both_ways_long_ones_too_with_status_reports() {
    let sim = sim().await;
    let h = rig(&sim, "").await;
    connected(&h).await;

    // In: a short one and a long one (three parts), each shown once, whole.
    sim.inject_sms(BOB, "Hello from the SIM");
    let long = "Long message from a phone. ".repeat(12);
    sim.inject_sms(BOB, &long);
    until(&h, "both SMS in the portal", |h| bob_texts(h).len() == 2).await;
    assert_eq!(bob_texts(&h), vec!["Hello from the SIM".to_string(), long.trim_end().to_string() + " "]);
    // Deleted from the SIM only after the commit, and never acknowledged with +CNMA.
    until(&h, "the SIM to be empty", |_| sim.stored().is_empty()).await;
    assert_eq!(count(&sim, "AT+CNMA"), 0);
    assert!(sim.commands().iter().any(|c| c.starts_with("AT+CNMI=") && c.contains(",1,")), "{:?}", sim.commands());

    // Out: a long text goes as concatenated parts; status reports make it SUCCESS, with
    // the phone's read receipt.
    let room = bob_chat(&h).await;
    let text = "Reply from Matrix that is long enough to need more than one part. ".repeat(4);
    let ev = h.say_text(ALICE, &room, &text).await;
    let sent = sim.wait_sent(1, Duration::from_secs(10)).await;
    assert_eq!((sent[0].to.as_str(), sent[0].text.as_str(), sent[0].parts), (BOB, text.trim_end(), 2));
    assert!(sent[0].status_report);
    until(&h, "the status reports", |h| h.statuses(&ev).iter().any(|s| s["delivered_to_users"] == json!([BOB_GHOST])))
        .await;
    assert_eq!(h.status_names(&ev).last().map(String::as_str), Some("SUCCESS"));
    let receipts = h.matrix.receipts();
    assert!(receipts.iter().any(|(u, _, e)| *e == ev && u == BOB_GHOST), "a read receipt from Bob: {receipts:?}");
}

#[tokio::test]
async fn messages_stored_while_the_bridge_was_away_are_caught_up() {
    let sim = sim().await;
    for i in 0..5 {
        sim.inject_sms(BOB, &format!("stored {i}"));
    }
    assert_eq!(sim.stored().len(), 5);
    let h = rig(&sim, "").await;
    until(&h, "the stored messages", |h| bob_texts(h).len() == 5).await;
    assert_eq!(bob_texts(&h), (0..5).map(|i| format!("stored {i}")).collect::<Vec<_>>());
    until(&h, "the SIM to be empty", |_| sim.stored().is_empty()).await;
}

#[tokio::test]
async fn a_message_read_again_is_not_shown_twice() {
    // A modem that stores one message several times (EG25-G style).
    let sim = sim().await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    sim.set_fault(Fault::Repeat(3));
    sim.inject_sms(BOB, "only once please");
    until(&h, "the SMS", |h| !bob_texts(h).is_empty()).await;
    until(&h, "the copies deleted", |_| sim.stored().is_empty()).await;
    assert_eq!(bob_texts(&h), vec!["only once please"]);
    sim.clear_faults();

    // A crash between commit and delete: the message is still on the SIM when a new
    // process starts on the same database. It is deleted, not shown again.
    sim.inject_sms(BOB, "committed, not deleted");
    until(&h, "the second SMS", |h| bob_texts(h).len() == 2).await;
    // The same PDU stored again: what the SIM holds after a crash between commit and delete.
    let ts = Timestamp { year: 2026, month: 12, day: 4, hour: 10, minute: 0, second: 0, tz_quarters: 4 };
    let tpdu = encode_deliver(BOB, "committed once", &ts, 0).unwrap().remove(0);
    let line = format!("00{}", to_hex(&tpdu));
    sim.inject_pdu_line(&line);
    until(&h, "the third SMS", |h| bob_texts(h).len() == 3).await;
    until(&h, "the SIM to be empty", |_| sim.stored().is_empty()).await;
    // The old process's link lets go of the port first, as an exiting process would.
    modem(&h).stop().await;
    until(&h, "the old link stopped", |h| modem(h).state() == LinkState::Stopped).await;
    let h = h.restart().await;
    sim.inject_pdu_line(&line);
    until(&h, "the copy deleted", |_| sim.stored().is_empty()).await;
    h.settle().await;
    assert_eq!(bob_texts(&h), vec!["only once please", "committed, not deleted", "committed once"]);
}

#[tokio::test]
async fn unplugged_in_the_middle_of_a_send_it_is_sent_once_after_reconnecting() {
    let sim = sim().await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    let room = bob_chat(&h).await;
    sim.set_fault(Fault::SlowCmgs(Duration::from_secs(30)));
    let ev = h.message(ALICE, &room, json!({"msgtype": "m.text", "body": "through the unplug"}));
    assert!(h.transact(std::slice::from_ref(&ev)));
    let ev = ev["event_id"].as_str().unwrap().to_string();
    let sending = {
        let h_bridge = h.bridge.clone();
        tokio::spawn(async move {
            h_bridge.handle_pending_events().await.unwrap();
            for link in h_bridge.backends.values() {
                h_bridge.send_due(link).await.unwrap();
            }
        })
    };
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    while count(&sim, "AT+CMGS") == 0 {
        assert!(tokio::time::Instant::now() < end, "no AT+CMGS");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sim.unplug().await;
    sending.await.unwrap();
    until(&h, "the link to notice", |h| modem(h).state() != LinkState::Connected).await;
    sim.clear_faults();
    sim.replug().await.unwrap();
    connected(&h).await;
    until(&h, "the message sent", |h| h.status_names(&ev).contains(&"SUCCESS".to_string())).await;
    let sent: Vec<_> = sim.sent().into_iter().filter(|s| s.text == "through the unplug").collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
}

#[tokio::test]
async fn urc_noise_inside_answers_changes_nothing() {
    // Quectel keeps talking (Huawei's chatter stops at AT^CURC=0).
    let sim = sim_with(|o| o.profile = Profile::Quectel).await;
    sim.set_fault(Fault::UrcNoise);
    let h = rig(&sim, "").await;
    connected(&h).await;
    sim.inject_sms(BOB, "through the noise");
    sim.inject_sms(BOB, "and again");
    until(&h, "the SMS", |h| bob_texts(h).len() == 2).await;
    let room = bob_chat(&h).await;
    let ev = h.say_text(ALICE, &room, "noisy reply").await;
    until(&h, "the reply delivered", |h| h.status_names(&ev).contains(&"SUCCESS".to_string())).await;
    assert_eq!(sim.sent().len(), 1);
}

#[tokio::test]
async fn a_full_storage_is_read_and_emptied_and_nothing_is_lost() {
    // More than fit while the bridge is away: the rest wait in the network.
    let sim = sim_with(|o| o.sm_capacity = 3).await;
    for i in 0..5 {
        sim.inject_sms(BOB, &format!("waiting {i}"));
    }
    assert_eq!(sim.stored().len(), 3);
    let h = rig(&sim, "").await;
    until(&h, "all five", |h| bob_texts(h).len() == 5).await;
    let mut texts = bob_texts(&h);
    texts.sort();
    assert_eq!(texts, (0..5).map(|i| format!("waiting {i}")).collect::<Vec<_>>());

    // The modem says its storage is full while the bridge runs: the message arrives
    // once there is room again.
    sim.set_fault(Fault::StorageFull);
    sim.inject_sms(BOB, "after the full storage");
    tokio::time::sleep(Duration::from_millis(300)).await;
    sim.clear_faults();
    until(&h, "the sixth", |h| bob_texts(h).len() == 6).await;
    until(&h, "the SIM to be empty", |_| sim.stored().is_empty()).await;
}

/// Each maker's way of saying "storage full" makes the bridge read storage: here the
/// notifications were lost, polling is off, so only that signal can bring the messages.
#[tokio::test]
async fn every_storage_full_signal_makes_the_bridge_read_storage() {
    for profile in [Profile::Generic, Profile::Quectel, Profile::Simcom, Profile::Huawei] {
        let sim = sim_with(|o| {
            o.profile = profile;
            o.sm_capacity = 2;
        })
        .await;
        // The SIM's small storage, not the modem's.
        let h = rig(&sim, "    storage: SM").await;
        connected(&h).await;
        sim.set_fault(Fault::LostIndication);
        // Two fill the SIM without a word; the third makes it say it is full.
        for i in 0..3 {
            sim.inject_sms(BOB, &format!("{profile} {i}"));
        }
        until(&h, &format!("{profile}: the two stored ones"), |h| bob_texts(h).len() >= 2).await;
        let texts = bob_texts(&h);
        assert_eq!(texts[..2], [format!("{profile} 0"), format!("{profile} 1")]);
    }
}

#[tokio::test]
async fn storage_is_polled_for_messages_whose_notification_was_lost() {
    let sim = sim().await;
    let h = rig(&sim, "    poll_interval: 1").await;
    connected(&h).await;
    sim.set_fault(Fault::LostIndication);
    sim.inject_sms(BOB, "found by the poll");
    until(&h, "the poll", |h| bob_texts(h) == ["found by the poll"]).await;
}

#[tokio::test]
async fn a_wrong_pin_is_entered_once_and_reported() {
    let sim = sim_with(|o| o.pin = Some("1234".into())).await;
    let h = rig(&sim, "    pin: \"9999\"").await;
    until(&h, "bad credentials", |h| matches!(modem(h).state(), LinkState::BadCredentials { .. })).await;
    // Reconnects happen (every second here), yet the PIN is never tried again.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(count(&sim, "AT+CPIN=\""), 1, "{:?}", sim.commands());
    let LinkState::BadCredentials { reason } = modem(&h).state() else { panic!() };
    assert!(reason.contains("refused the PIN"), "{reason}");

    // A new process (the bridge restarted, say in a loop) does not try again either: the
    // SIM's own count shows a try was used.
    modem(&h).stop().await;
    until(&h, "stopped", |h| modem(h).state() == LinkState::Stopped).await;
    let h = h.restart().await;
    until(&h, "bad credentials again", |h| matches!(modem(h).state(), LinkState::BadCredentials { .. })).await;
    let LinkState::BadCredentials { reason } = modem(&h).state() else { panic!() };
    assert!(reason.contains("2 of 3 PIN tries left"), "{reason}");
    assert_eq!(count(&sim, "AT+CPIN=\""), 1, "{:?}", sim.commands());
}

#[tokio::test]
async fn a_modem_reboot_asks_for_the_pin_again_and_gets_it() {
    let sim = sim_with(|o| {
        o.pin = Some("1234".into());
        o.profile = Profile::Quectel;
    })
    .await;
    let h = rig(&sim, "    pin: \"1234\"").await;
    connected(&h).await;
    sim.reboot();
    until(&h, "the PIN entered again", |_| count(&sim, "AT+CPIN=\"1234\"") == 2).await;
    connected(&h).await;
    sim.inject_sms(BOB, "after the power cycle");
    until(&h, "the SMS", |h| bob_texts(h) == ["after the power cycle"]).await;
}

#[tokio::test]
async fn a_pin_is_entered_when_needed_and_its_absence_is_explained() {
    let sim = sim_with(|o| o.pin = Some("1234".into())).await;
    let h = rig(&sim, "").await;
    until(&h, "not ready", |h| matches!(modem(h).state(), LinkState::NotReady { .. })).await;
    let LinkState::NotReady { reason } = modem(&h).state() else { panic!() };
    assert!(reason.contains("set `pin`"), "{reason}");
    drop(h);

    let sim = sim_with(|o| o.pin = Some("1234".into())).await;
    let h = rig(&sim, "    pin: \"1234\"").await;
    connected(&h).await;
    assert_eq!(count(&sim, "AT+CPIN=\"1234\""), 1);
}

#[tokio::test]
async fn without_network_messages_wait_and_go_when_it_returns() {
    let sim = sim().await;
    sim.set_fault(Fault::NoNetwork);
    // The network's return is seen by the periodic check.
    let h = rig(&sim, "    poll_interval: 1").await;
    until(&h, "not ready", |h| matches!(modem(h).state(), LinkState::NotReady { .. })).await;
    let room = bob_chat(&h).await;
    let ev = h.say_text(ALICE, &room, "after the tunnel").await;
    assert!(sim.sent().is_empty());
    assert!(!h.status_names(&ev).contains(&"FAIL_PERMANENT".to_string()));
    sim.clear_faults();
    until(&h, "sent after the network came back", |h| h.status_names(&ev).contains(&"SUCCESS".to_string())).await;
    assert_eq!(sim.sent().len(), 1);
    h.say_text(ALICE, &h.mgmt, "backends").await;
    let notices = h.notices(&h.mgmt);
    let backends = notices.iter().rev().find(|n| n.starts_with("SMS links")).unwrap();
    assert!(backends.contains("modem (modem)") && backends.contains("connected"), "{backends}");
    assert!(backends.contains("signal"), "{backends}");
}

#[tokio::test]
async fn cms_errors_are_retried_refused_or_given_up_by_class() {
    let sim = sim().await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    let room = bob_chat(&h).await;

    // 331 (no network service): tried again, sent once.
    sim.set_fault(Fault::CmsError { code: 331, times: 1 });
    let ev = h.say_text(ALICE, &room, "retried").await;
    until(&h, "retried and sent", |h| h.status_names(&ev).contains(&"SUCCESS".to_string())).await;
    assert_eq!(sim.sent().iter().filter(|s| s.text == "retried").count(), 1);

    // 1 (unassigned number): refused at once, with the reason in words.
    sim.set_fault(Fault::CmsError { code: 1, times: 1 });
    let ev = h.say_text(ALICE, &room, "refused").await;
    until(&h, "refused", |h| h.status_names(&ev).contains(&"FAIL_PERMANENT".to_string())).await;
    assert!(h.notices(&room).iter().any(|n| n.contains("unassigned (unallocated) number")), "{:?}", h.notices(&room));

    // 500 (unknown error): a few tries, then given up.
    sim.set_fault(Fault::CmsError { code: 500, times: 10 });
    let ev = h.say_text(ALICE, &room, "unknown").await;
    until(&h, "given up", |h| h.status_names(&ev).contains(&"FAIL_PERMANENT".to_string())).await;
    // Two for the retried message, one for the refused one, then exactly three tries.
    let tries = sim.commands().iter().filter(|c| c.starts_with("AT+CMGS")).count();
    assert_eq!(tries, 2 + 1 + 3, "{:?}", sim.commands());
}

/// Sends a USSD command; returns the network's answer, which follows the command's reply.
async fn ussd_answer(h: &Harness, cmd: &str) -> String {
    let n = h.notices(&h.mgmt).len();
    h.say_text(ALICE, &h.mgmt, cmd).await;
    until(h, "the answer", |h| h.notices(&h.mgmt).len() > n + 1).await;
    let new = h.notices(&h.mgmt).split_off(n);
    assert_eq!(new.len(), 2, "{new:?}");
    assert!(new.iter().any(|m| m.starts_with("Sending ")), "{new:?}");
    new.into_iter().find(|m| !m.starts_with("Sending ")).unwrap()
}

#[tokio::test]
async fn ussd_answers_and_menus() {
    let sim = sim().await;
    sim.set_ussd_reply("*100#", UssdReply { text: "Balance: 5.00 EUR".into(), more: false });
    // A menu over several lines, as networks send them.
    sim.set_ussd_reply("*200#", UssdReply { text: "Choose:\n1. Data\n2. Minutes".into(), more: true });
    let h = rig(&sim, "").await;
    connected(&h).await;
    // The command is answered at once; the network's answer follows as its own notice.
    assert_eq!(ussd_answer(&h, "ussd *100#").await, "Balance: 5.00 EUR");
    let menu = ussd_answer(&h, "ussd *200# via modem").await;
    assert!(menu.starts_with("Choose:\n1. Data\n2. Minutes") && menu.contains("expects a reply"), "{menu}");
    let unknown = ussd_answer(&h, "ussd *999#").await;
    assert!(unknown.contains("not supported"), "{unknown}");
}

#[tokio::test]
async fn a_wap_push_through_the_modem_becomes_a_picture() {
    let mmsc = TestMmsc::start().await;
    let sim = sim().await;
    let tail = format!("mms:\n  mmsc_url: {}\n  allow_private_addresses: true", mmsc.url());
    let h = Harness::new_with(links(&sim, "", &tail)).await;
    connected(&h).await;
    let image = png(40, 30);
    let mms = retrieve_conf(BOB, &[MODEM_NUMBER], "From the modem", &image);
    mmsc.put("m1", mms.clone());
    sim.inject_wap_push("+15550009999", &notification_push(BOB, "T-1", &mmsc.location("m1"), mms.len() as u64));
    let end = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        h.settle().await;
        h.bridge.drain_mms().await.unwrap();
        h.bridge.send_matrix_jobs().await.unwrap();
        let images: Vec<_> = bob_room(&h)
            .map(|r| h.ghost_messages(&r, BOB_GHOST))
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.content["msgtype"] == "m.image")
            .collect();
        if let Some(img) = images.first() {
            assert_eq!(img.content["body"], "From the modem");
            assert_eq!(images.len(), 1);
            break;
        }
        assert!(tokio::time::Instant::now() < end, "no picture arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    until(&h, "the push deleted from the SIM", |_| sim.stored().is_empty()).await;
}

#[tokio::test]
async fn a_modem_reboot_in_the_middle_of_work_runs_init_again() {
    let sim = sim_with(|o| o.profile = Profile::Quectel).await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    let inits = || count(&sim, "AT+CNMI=") - count(&sim, "AT+CNMI=?");
    assert_eq!(inits(), 1);
    // RDY: the modem's settings are back to defaults (echo on, no indications).
    sim.reboot();
    until(&h, "init again", |_| inits() == 2).await;
    connected(&h).await;
    sim.inject_sms(BOB, "after the reboot");
    until(&h, "the SMS", |h| bob_texts(h) == ["after the reboot"]).await;
}

#[tokio::test]
async fn a_port_held_by_another_program_is_refused_naming_it() {
    let sim = sim().await;
    // Another program has the modem open (as ModemManager would).
    let mut holder =
        std::process::Command::new("sleep").arg("60").stdin(std::fs::File::open(sim.path()).unwrap()).spawn().unwrap();
    let h = rig(&sim, "").await;
    until(&h, "the refusal", |h| matches!(modem(h).state(), LinkState::Reconnecting { .. })).await;
    let LinkState::Reconnecting { reason } = modem(&h).state() else { panic!() };
    assert!(reason.contains(&format!("in use by sleep (pid {})", holder.id())), "{reason}");
    assert!(sim.commands().is_empty(), "nothing was written to a port someone else holds");
    holder.kill().unwrap();
    let _ = holder.wait();
    connected(&h).await;
}

#[tokio::test]
async fn no_sim_card_is_shown_as_such() {
    let sim = sim().await;
    sim.set_fault(Fault::NoSim);
    let h = rig(&sim, "").await;
    until(&h, "not ready", |h| matches!(modem(h).state(), LinkState::NotReady { .. })).await;
    let LinkState::NotReady { reason } = modem(&h).state() else { panic!() };
    assert_eq!(reason, "no SIM card");
    h.say_text(ALICE, &h.mgmt, "backends").await;
    let backends = h.notices(&h.mgmt).last().unwrap().clone();
    assert!(backends.contains("not ready (no SIM card)"), "{backends}");
}

#[tokio::test]
async fn pdu_lines_as_real_modems_print_them_are_shown_with_what_was_off() {
    let sim = sim().await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    let ts = Timestamp { year: 2026, month: 12, day: 4, hour: 9, minute: 30, second: 0, tz_quarters: 4 };
    let tpdu = |text: &str| to_hex(&encode_deliver(BOB, text, &ts, 0).unwrap().remove(0));
    // A stray quote after the hex.
    sim.inject_pdu_line(&format!("00{}\"", tpdu("junk after the hex")));
    until(&h, "the first", |h| bob_texts(h).len() == 1).await;
    // User data shorter than its length says: what is there, marked as cut short.
    let cut = tpdu("this message was cut short by the modem");
    sim.inject_pdu_line(&format!("00{}", &cut[..cut.len() - 10]));
    until(&h, "the second", |h| bob_texts(h).len() == 2).await;
    // Garbage: left on the SIM, logged, and nothing else stops.
    sim.inject_pdu_line("ZZZZ not a PDU");
    sim.inject_sms(BOB, "still flowing");
    until(&h, "the third", |h| bob_texts(h).len() == 3).await;
    let texts = bob_texts(&h);
    assert_eq!(texts[0], "junk after the hex");
    assert!(texts[1].starts_with("this message was cut short") && texts[1].contains("[cut short"), "{texts:?}");
    assert_eq!(texts[2], "still flowing");
    until(&h, "only the garbage left", |_| sim.stored().len() == 1).await;
    assert_eq!(sim.stored()[0].pdu, "ZZZZ not a PDU");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mms_notification_made_by_gammu_becomes_a_picture_in_matrix() {
    // gammu (an independent client) sends an MMS indicator to the SIM's own number; the
    // network hands it back as a WAP push, which waits on the SIM until the bridge starts.
    let mmsc = TestMmsc::start().await;
    let image = png(20, 10);
    let mms = retrieve_conf(BOB, &[MODEM_NUMBER], "Sent through gammu", &image);
    mmsc.put("g1", mms);
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    let rc = gammu::rc(dir.path(), &sim.path());
    gammu_async(&rc, &["sendsms", "MMSINDICATOR", MODEM_NUMBER, &mmsc.location("g1"), "Photo", BOB]).await;
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    while sim.stored().is_empty() {
        assert!(tokio::time::Instant::now() < end, "the push never reached the SIM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let tail = format!("mms:\n  mmsc_url: {}\n  allow_private_addresses: true", mmsc.url());
    let h = Harness::new_with(links(&sim, "", &tail)).await;
    let end = tokio::time::Instant::now() + Duration::from_secs(20);
    let picture = loop {
        h.settle().await;
        h.bridge.drain_mms().await.unwrap();
        h.bridge.send_matrix_jobs().await.unwrap();
        let found = h
            .bridge
            .store
            .portals(None)
            .unwrap()
            .into_iter()
            .filter_map(|p| p.room_id)
            .flat_map(|r| h.matrix.events_in(&r))
            .find(|e| e.content["msgtype"] == "m.image");
        if let Some(e) = found {
            break e;
        }
        assert!(tokio::time::Instant::now() < end, "no picture arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(picture.content["body"], "Sent through gammu");
    assert_eq!(picture.sender, BOB_GHOST);
    until(&h, "the push deleted from the SIM", |_| sim.stored().is_empty()).await;
}

#[tokio::test]
async fn an_empty_smsc_uses_the_configured_one_or_says_so() {
    let sim = sim_with(|o| o.smsc = None).await;
    let h = rig(&sim, "").await;
    until(&h, "not ready", |h| matches!(modem(h).state(), LinkState::NotReady { .. })).await;
    let LinkState::NotReady { reason } = modem(&h).state() else { panic!() };
    assert!(reason.contains("no SMSC number") && reason.contains("`smsc`"), "{reason}");
    drop(h);

    let sim = sim_with(|o| o.smsc = None).await;
    let h = rig(&sim, "    smsc: \"+447785016005\"").await;
    connected(&h).await;
    let room = bob_chat(&h).await;
    h.say_text(ALICE, &room, "through the configured SMSC").await;
    let sent = sim.wait_sent(1, Duration::from_secs(10)).await;
    let pdu = sms_bridge::sms::tpdu::from_hex(&sent[0].pdus[0]).unwrap();
    let smsc = sms_bridge::sms::tpdu::decode(&pdu, true).unwrap().smsc.unwrap();
    assert_eq!(smsc.value, "+447785016005");
}

#[tokio::test]
async fn a_setup_error_from_the_modem_is_shown_and_the_message_waits() {
    let sim = sim().await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    let room = bob_chat(&h).await;
    // 330: the modem does not know the SMSC. No message can go until that is fixed.
    sim.set_fault(Fault::CmsError { code: 330, times: 1 });
    let ev = h.say_text(ALICE, &room, "waits for the fix").await;
    until(&h, "not ready", |h| matches!(modem(h).state(), LinkState::NotReady { .. })).await;
    let LinkState::NotReady { reason } = modem(&h).state() else { panic!() };
    assert!(reason.contains("SMSC address unknown"), "{reason}");
    assert!(!h.status_names(&ev).contains(&"FAIL_PERMANENT".to_string()));
    // The link tries again later (here: the fault was once), and the message goes.
    until(&h, "sent", |h| h.status_names(&ev).contains(&"SUCCESS".to_string())).await;
    assert_eq!(sim.sent().len(), 1);
}

#[tokio::test]
async fn two_modems_run_side_by_side_each_with_its_own_conversations() {
    const SECOND: &str = "+15550004444";
    let (a, b) = (sim().await, sim_with(|o| o.number = SECOND.into()).await);
    let second = format!(
        "  - id: modem2\n    type: modem\n    number: \"{SECOND}\"\n    device: {}\n    poll_interval: 1\n    reconnect_min_delay: 1\n    reconnect_max_delay: 1",
        b.path().display()
    );
    let h = Harness::new_with(links(&a, "", &second)).await;
    until(&h, "both connected", |h| {
        ["modem", "modem2"].iter().all(|id| h.bridge.backends[*id].state() == LinkState::Connected)
    })
    .await;
    a.inject_sms(BOB, "to the first SIM");
    b.inject_sms(BOB, "to the second SIM");
    until(&h, "both", |h| {
        h.bridge.store.portal_by_pair(SECOND, BOB_KEY).unwrap().and_then(|p| p.room_id).is_some()
            && !bob_texts(h).is_empty()
    })
    .await;
    assert_eq!(bob_texts(&h), ["to the first SIM"]);
    let room2 = h.bridge.store.portal_by_pair(SECOND, BOB_KEY).unwrap().unwrap().room_id.unwrap();
    until(&h, "the second", |h| !h.ghost_messages(&room2, BOB_GHOST).is_empty()).await;
    assert_eq!(h.ghost_messages(&room2, BOB_GHOST)[0].content["body"], "to the second SIM");
}

#[tokio::test]
async fn a_slow_modem_is_not_sent_to_twice_and_failed_reports_fail() {
    let sim = sim().await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    let room = bob_chat(&h).await;
    // +CMGS comes a second after send_timeout (3 s): the late answer means sent.
    sim.set_fault(Fault::SlowCmgs(Duration::from_secs(4)));
    let ev = h.say_text(ALICE, &room, "slow but sure").await;
    until(&h, "sent", |h| h.status_names(&ev).contains(&"SUCCESS".to_string())).await;
    assert_eq!(sim.sent().iter().filter(|s| s.text == "slow but sure").count(), 1);
    assert_eq!(count(&sim, "AT+CMGS"), 1);
    // Later still (4 s after the timeout): the answer comes while the link gets back in
    // step, and still means sent.
    sim.set_fault(Fault::SlowCmgs(Duration::from_secs(7)));
    let ev = h.say_text(ALICE, &room, "slower still").await;
    until(&h, "sent", |h| h.status_names(&ev).contains(&"SUCCESS".to_string())).await;
    assert_eq!(sim.sent().iter().filter(|s| s.text == "slower still").count(), 1);
    assert_eq!(count(&sim, "AT+CMGS"), 2);
    sim.clear_faults();

    // A status report saying the phone never got it.
    sim.set_fault(Fault::FailedReport);
    let ev = h.say_text(ALICE, &room, "to a dead phone").await;
    until(&h, "the failure", |h| h.status_names(&ev).contains(&"FAIL_PERMANENT".to_string())).await;
    assert!(h.notices(&room).iter().any(|n| n.contains("TP-Status 0x41")), "{:?}", h.notices(&room));
}

#[tokio::test]
async fn status_reports_stored_by_the_modem_are_read_from_their_storage() {
    // A modem that can only store reports (ds 0 or 2): +CDSI: "SR",n, read with the
    // storage switched to "SR" and back.
    let sim = sim_with(|o| o.cnmi_test = Some("+CNMI: (0-2),(0-3),(0,2),(0,2),(0,1)".into())).await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    assert!(sim.commands().iter().any(|c| c == "AT+CNMI=2,1,0,2,0"), "{:?}", sim.commands());
    let room = bob_chat(&h).await;
    let ev = h.say_text(ALICE, &room, "report me from SR").await;
    until(&h, "the stored report", |h| h.statuses(&ev).iter().any(|s| s["delivered_to_users"] == json!([BOB_GHOST])))
        .await;
    // The report is applied once read, which may be before the switch back is sent.
    let switched_back = |cmds: &[String]| {
        let at = cmds.iter().rposition(|c| c.starts_with("AT+CPMS=\"SR\""));
        at.is_some_and(|at| cmds.len() > at + 3)
    };
    until(&h, "the switch back", |_| switched_back(&sim.commands())).await;
    let cmds = sim.commands();
    // The last switch to SR is the one for the report (the first lists SR at start).
    let at = cmds.iter().rposition(|c| c.starts_with("AT+CPMS=\"SR\"")).expect("switched to SR");
    assert!(cmds[at + 1].starts_with("AT+CMGR=") && cmds[at + 2].starts_with("AT+CMGD="), "{cmds:?}");
    assert!(cmds[at + 3].starts_with("AT+CPMS=\"ME\""), "and back: {cmds:?}");
    until(&h, "SR empty", |_| sim.stored().iter().all(|s| s.storage != "SR")).await;
    // Messages still arrive in the usual storage afterwards.
    sim.inject_sms(BOB, "after the report");
    until(&h, "the SMS", |h| bob_texts(h).contains(&"after the report".to_string())).await;
}

#[tokio::test]
async fn status_reports_left_in_sr_are_found_by_listing_it() {
    // Reports stored without a word (the +CDSI lost, or printed while the bridge was
    // away) are found by listing "SR" along with the messages.
    let sim = sim_with(|o| o.cnmi_test = Some("+CNMI: (0-2),(0-3),(0,2),(0,2),(0,1)".into())).await;
    let h = rig(&sim, "    poll_interval: 1").await;
    connected(&h).await;
    sim.set_fault(Fault::LostIndication);
    let room = bob_chat(&h).await;
    let ev = h.say_text(ALICE, &room, "report me later").await;
    until(&h, "the listed report", |h| h.statuses(&ev).iter().any(|s| s["delivered_to_users"] == json!([BOB_GHOST])))
        .await;
    assert!(!sim.commands().iter().any(|c| c.starts_with("AT+CMGR=")), "found by listing, not by +CDSI");
    until(&h, "SR empty", |_| sim.stored().iter().all(|s| s.storage != "SR")).await;
}

#[tokio::test]
async fn an_application_message_goes_with_its_validity_and_class_and_8_bit_data_as_it_is() {
    let sim = sim_with(|_| {}).await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    let user = sms_bridge::config::GatewayUser {
        username: "app".into(),
        password: None,
        token: None,
        secret: None,
        default_link: Some("modem".into()),
        links: Vec::new(),
    };
    let req = sms_bridge::bridge::gateway::ApiSend {
        to: BOB.into(),
        text: "Flash".into(),
        class: Some(0),
        ..Default::default()
    }
    .schedule(None, Some(120))
    .unwrap();
    h.bridge.submit(&user, &req).unwrap();
    until(&h, "the message sent", |_| sim.sent().iter().any(|s| s.text == "Flash")).await;
    let sent = sim.sent().into_iter().find(|s| s.text == "Flash").unwrap();
    let pdu = sms_bridge::sms::tpdu::decode(&sms_bridge::sms::tpdu::from_hex(&sent.pdus[0]).unwrap(), true).unwrap();
    let sms_bridge::sms::tpdu::Tpdu::Submit(s) = pdu.tpdu else { panic!("not a submit: {pdu:?}") };
    // All 120 minutes left when it went, in TP-VP's 5-minute steps.
    let Some(sms_bridge::sms::time::Validity::Relative(vp)) = s.validity else { panic!("{:?}", s.validity) };
    assert_eq!(sms_bridge::sms::time::Validity::minutes(vp), 120);
    assert_eq!(s.dcs.class, Some(0));

    // 8-bit data after a port header goes as one SMS-SUBMIT, as it is.
    let udh = vec![0x06, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0];
    let binary = sms_bridge::message::BinarySms { udh: udh.clone(), data: vec![0xCA, 0xFE] };
    let req = sms_bridge::bridge::gateway::ApiSend { to: BOB.into(), binary: Some(binary), ..Default::default() };
    h.bridge.submit(&user, &req).unwrap();
    let pdu = |sim: &ModemSim| sim.sent().into_iter().find(|s| s.pdus[0].ends_with("CAFE")).map(|s| s.pdus[0].clone());
    until(&h, "the 8-bit message sent", |_| pdu(&sim).is_some()).await;
    let pdu =
        sms_bridge::sms::tpdu::decode(&sms_bridge::sms::tpdu::from_hex(&pdu(&sim).unwrap()).unwrap(), true).unwrap();
    let sms_bridge::sms::tpdu::Tpdu::Submit(s) = pdu.tpdu else { panic!("not a submit: {pdu:?}") };
    assert_eq!(s.user_data.payload, [0xCA, 0xFE]);
    assert_eq!(s.user_data.udh.map(|u| u.to_bytes()), Some(udh));
}
