//! End to end through a HiLink router: a real Synapse, the real bridge binary, and the
//! fake router (checked against PyPI's huawei-lte-api in tests/hilink_sim.rs) in this
//! process.

mod common;

use std::time::Duration;

use common::bridge::{command, open_management_room, setup_with, wait};
use serde_json::Value;
use sms_bridge::hilink_sim::{Fault, HilinkSim, Options};

const ROUTER_NUMBER: &str = "+15550004444";
const PHONE: &str = "+447700900123";
const GHOST: &str = "@sms_447700900123:localhost";

#[tokio::test(flavor = "multi_thread")]
async fn a_router_in_matrix_stored_messages_replies_reports_reboot_and_full_storage() {
    let sim = HilinkSim::start(Options {
        number: ROUTER_NUMBER.into(),
        password: "s3cret".into(),
        quiet: true,
        send_delay: Duration::from_millis(200),
        delivery_reports: true,
        local_max: 6,
        ..Options::default()
    })
    .await
    .expect("the fake router starts");
    // Kept on the router while the bridge was not running.
    sim.inject_sms(PHONE, "Sent while you were away");
    sim.inject_sms(PHONE, "And a second one");

    let backend = format!(
        r#"  - id: b315
    type: hilink
    number: "{ROUTER_NUMBER}"
    url: {url}
    password: s3cret
    poll_interval: 0.5
    timezone: UTC
    request_timeout: 5
    reconnect_min_delay: 1
    reconnect_max_delay: 2"#,
        url = sim.url()
    );
    let env = setup_with("    \"@alice:localhost\": admin", &backend).await;
    let bridge = env.start_bridge(None).await;
    bridge.wait_for_log("HiLink router ready", wait()).await;

    let alice = env.hs.register_user("alice").await;
    let mgmt = open_management_room(&alice).await;
    let backends = command(&alice, &mgmt, "backends", "SMS links").await;
    assert!(backends.contains("b315 (hilink) +1 555-000-4444: connected"), "{backends}");
    assert!(backends.contains("B315s-22") && backends.contains("RSRP"), "{backends}");

    // Catch-up: both stored messages in one portal, the router's inbox emptied.
    let portal = alice.wait_for_invite("the portal invite", wait(), |r, _| r != mgmt).await;
    alice.join(&portal).await;
    for text in ["Sent while you were away", "And a second one"] {
        alice
            .wait_for_event(&format!("{text:?}"), wait(), |r, e| {
                (r == portal && e["sender"] == GHOST && e["content"]["body"] == text).then_some(())
            })
            .await;
    }
    let end = tokio::time::Instant::now() + wait();
    while !sim.snapshot().inbox.is_empty() {
        assert!(tokio::time::Instant::now() < end, "the router still holds {:?}", sim.snapshot().inbox);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A reply goes out through the router; its delivery report becomes the read receipt.
    let event_id = alice.send_text(&portal, "Got them, thanks 👍").await;
    alice.wait_for_receipt(&portal, &event_id, GHOST, wait()).await;
    let sends = sim.snapshot().sends;
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!((sends[0].phones[0].as_str(), sends[0].content.as_str()), (PHONE, "Got them, thanks 👍"));

    // The router reboots: the owner is told, a message written meanwhile waits, and goes
    // once the router is back.
    sim.set_fault(&Fault::Reboot(Duration::from_secs(3)));
    alice
        .wait_for_event("the link-down notice", wait(), |r, e: &Value| {
            let body = e["content"]["body"].as_str()?;
            (r == mgmt && body.starts_with("Link b315 is now reconnecting")).then_some(())
        })
        .await;
    alice.send_text(&portal, "Written during the reboot").await;
    alice
        .wait_for_event("the link-up notice", wait(), |r, e: &Value| {
            (r == mgmt && e["content"]["body"] == "Link b315 is now connected.").then_some(())
        })
        .await;
    let end = tokio::time::Instant::now() + wait();
    loop {
        let sends = sim.snapshot().sends;
        let n = sends.iter().filter(|s| s.content == "Written during the reboot").count();
        if n == 1 && sends.iter().all(|s| s.result != "sending") {
            break;
        }
        assert!(n <= 1 && tokio::time::Instant::now() < end, "{sends:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Storage fills while the router answers every call "busy" (so nothing is read):
    // the owner is warned once in the management room.
    sim.set_fault(&Fault::Error { code: 100004, times: 1_000_000 });
    for i in 0..6 {
        sim.inject_sms(PHONE, &format!("stored {i}"));
    }
    sim.clear_faults();
    alice
        .wait_for_event("the storage warning", wait(), |r, e: &Value| {
            let body = e["content"]["body"].as_str()?;
            (r == mgmt && body.contains("Link b315: the router's SMS storage is full")).then_some(())
        })
        .await;
    alice
        .wait_for_event("the last stored SMS", wait(), |r, e| {
            (r == portal && e["sender"] == GHOST && e["content"]["body"] == "stored 5").then_some(())
        })
        .await;
    // Stopping logs out: routers allow few sessions.
    assert!(!bridge.log_text().contains("panicked"));
    let logouts = sim.snapshot().counters.logouts;
    assert!(bridge.terminate().success());
    assert_eq!(sim.snapshot().counters.logouts, logouts + 1);
    assert_eq!(sim.snapshot().live_sessions, 0);
}
