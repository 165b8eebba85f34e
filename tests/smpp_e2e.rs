//! End to end over SMPP: a real Synapse, the real bridge binary, and an independent SMSC
//! (the `smpp34` crate's server) in this process.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::bridge::{command, open_management_room, setup_with, wait};
use common::smsc::{PASSWORD, SYSTEM_ID, Smsc};
use serde_json::Value;

const SMPP_NUMBER: &str = "+15550002222";
const PHONE: &str = "+447700900123";
const GHOST: &str = "@sms_447700900123:localhost";

#[tokio::test(flavor = "multi_thread")]
async fn matrix_to_smsc_with_receipt_and_mo_back() {
    let smsc = Smsc::start().await;
    let backend = format!(
        r#"  - id: smsc
    type: smpp
    number: "{SMPP_NUMBER}"
    host: 127.0.0.1
    port: {port}
    system_id: {SYSTEM_ID}
    password: {PASSWORD}
    response_timeout: 5
    reconnect_min_delay: 1"#,
        port = smsc.port
    );
    let env = setup_with("    \"@alice:localhost\": admin", &backend).await;
    let bridge = env.start_bridge(None).await;
    smsc.wait_bound(wait()).await;
    bridge.wait_for_log("SMPP bound", wait()).await;

    let alice = env.hs.register_user("alice").await;
    let mgmt = open_management_room(&alice).await;
    let backends = command(&alice, &mgmt, "backends", "SMS links").await;
    assert!(backends.contains("smsc (smpp) +1 555-000-2222: connected"), "{backends}");
    command(&alice, &mgmt, "start +44 7700 900123 via smsc", "matrix.to").await;
    let portal = alice.wait_for_invite("the portal invite", wait(), |r, _| r != mgmt).await;
    alice.join(&portal).await;

    // Matrix → SMSC: one submit_sm to the international number, from our number.
    let event_id = alice.send_text(&portal, "Hello over SMPP").await;
    let end = tokio::time::Instant::now() + wait();
    while smsc.handler.accepted().is_empty() {
        assert!(tokio::time::Instant::now() < end, "the SMSC got nothing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = smsc.handler.accepted();
    assert_eq!(got.len(), 1);
    let pdu = &got[0].pdu;
    assert_eq!((pdu.destination_addr.as_str(), pdu.source_addr.as_str()), ("447700900123", "15550002222"));
    assert_eq!(pdu.short_message, b"Hello over SMPP");
    assert_eq!(pdu.registered_delivery, 1);

    // The SMSC's receipt → SUCCESS with delivered_to_users, and a read receipt from the ghost.
    let (ev, room) = (event_id.clone(), portal.clone());
    alice
        .wait_for_event("the delivered status", wait(), move |r, e: &Value| {
            (r == room
                && e["type"] == "com.beeper.message_send_status"
                && e["content"]["m.relates_to"]["event_id"] == ev.as_str()
                && e["content"]["status"] == "SUCCESS"
                && e["content"].get("delivered_to_users").is_some())
            .then_some(())
        })
        .await;
    alice.wait_for_receipt(&portal, &event_id, GHOST, wait()).await;

    // SMSC MO (two parts, the second first) → one message in the same portal, from the ghost.
    for (seq, piece) in [(2u8, "world"), (1, "Hello ")] {
        let mut body = vec![5, 0, 3, 9, 2, seq];
        body.extend(piece.bytes());
        assert_eq!(smsc.deliver(PHONE, SMPP_NUMBER, 0x40, 0, &body, &[]).await, 0);
    }
    let room = alice
        .wait_for_event("the MO message", wait(), |r, e| {
            (e["sender"] == GHOST && e["content"]["body"] == "Hello world").then(|| r.to_string())
        })
        .await;
    assert_eq!(room, portal, "the reply lands in the same portal");
    assert_eq!(smsc.handler.binds.load(Ordering::SeqCst), 1);
}
