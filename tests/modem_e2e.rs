//! End to end over a modem: a real Synapse, the real bridge binary, and the simulated
//! modem (checked against Debian's gammu in tests/modem_sim.rs) on a pseudo-terminal in
//! this process.

mod common;

use std::time::Duration;

use common::bridge::{command, open_management_room, setup_with, wait};
use serde_json::Value;
use sms_bridge::modem_sim::{ModemSim, Options, Profile, UssdReply};

const MODEM_NUMBER: &str = "+15550003333";
const PHONE: &str = "+447700900123";
const GHOST: &str = "@sms_447700900123:localhost";

#[tokio::test(flavor = "multi_thread")]
async fn a_sim_card_in_matrix_stored_messages_replies_reports_unplug_and_ussd() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let sim = ModemSim::start(Options {
        profile: Profile::Quectel,
        number: MODEM_NUMBER.into(),
        link: Some(link.clone()),
        quiet: true,
        dlr_delay: Duration::from_millis(100),
        ..Options::default()
    })
    .await
    .expect("the modem simulator starts");
    sim.set_ussd_reply("*100#", UssdReply { text: "Balance: 5.00 EUR".into(), more: false });
    // Kept on the SIM while the bridge was not running.
    sim.inject_sms(PHONE, "Sent while you were away");
    sim.inject_sms(PHONE, &"A long one, stored in parts. ".repeat(8));

    let backend = format!(
        r#"  - id: modem
    type: modem
    number: "{MODEM_NUMBER}"
    device: {device}
    poll_interval: 2
    command_timeout: 5
    send_timeout: 10
    reconnect_min_delay: 1
    reconnect_max_delay: 2"#,
        device = link.display()
    );
    let env = setup_with("    \"@alice:localhost\": admin", &backend).await;
    let bridge = env.start_bridge(None).await;
    bridge.wait_for_log("modem ready", wait()).await;

    let alice = env.hs.register_user("alice").await;
    let mgmt = open_management_room(&alice).await;
    let backends = command(&alice, &mgmt, "backends", "SMS links").await;
    assert!(backends.contains("modem (modem) +1 555-000-3333: connected"), "{backends}");
    assert!(backends.contains("Quectel") && backends.contains("signal"), "{backends}");

    // Catch-up: both stored messages, the long one whole, in one portal; the SIM emptied.
    let portal = alice.wait_for_invite("the portal invite", wait(), |r, _| r != mgmt).await;
    alice.join(&portal).await;
    let long = "A long one, stored in parts. ".repeat(8);
    for text in ["Sent while you were away", long.as_str()] {
        alice
            .wait_for_event(&format!("{text:?}"), wait(), |r, e| {
                (r == portal && e["sender"] == GHOST && e["content"]["body"] == text).then_some(())
            })
            .await;
    }
    let end = tokio::time::Instant::now() + wait();
    while !sim.stored().is_empty() {
        assert!(tokio::time::Instant::now() < end, "the SIM still holds {:?}", sim.stored());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A reply goes out through the modem; its status report becomes SUCCESS and the
    // phone's read receipt.
    let event_id = alice.send_text(&portal, "Got them, thanks").await;
    let sent = sim.wait_sent(1, wait()).await;
    assert_eq!((sent[0].to.as_str(), sent[0].text.as_str()), (PHONE, "Got them, thanks"));
    alice.wait_for_receipt(&portal, &event_id, GHOST, wait()).await;

    // The modem is unplugged: the owner is told, a message written meanwhile waits, and
    // goes once the modem is back (the by-id style link is re-pointed).
    sim.unplug().await;
    alice
        .wait_for_event("the link-down notice", wait(), |r, e: &Value| {
            let body = e["content"]["body"].as_str()?;
            (r == mgmt && body.starts_with("Link modem is now reconnecting")).then_some(())
        })
        .await;
    alice.send_text(&portal, "Written while unplugged").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    sim.replug().await.unwrap();
    alice
        .wait_for_event("the link-up notice", wait(), |r, e: &Value| {
            (r == mgmt && e["content"]["body"] == "Link modem is now connected.").then_some(())
        })
        .await;
    let sent = sim.wait_sent(2, wait()).await;
    assert_eq!(sent.iter().filter(|s| s.text == "Written while unplugged").count(), 1, "{sent:?}");

    // USSD from the management room.
    let answer = command(&alice, &mgmt, "ussd *100#", "Balance").await;
    assert_eq!(answer, "Balance: 5.00 EUR");

    // An SMS after all that still lands in the same portal.
    sim.inject_sms(PHONE, "Still here");
    alice
        .wait_for_event("the last SMS", wait(), |r, e| {
            (r == portal && e["sender"] == GHOST && e["content"]["body"] == "Still here").then_some(())
        })
        .await;
    assert!(!bridge.log_text().contains("panicked"));
}
