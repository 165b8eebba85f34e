//! Smoke test of the real-Synapse harness: two users exchange a DM message.

mod common;

use std::time::{Duration, Instant};

use common::synapse::{Synapse, free_port, random_token};

#[tokio::test(flavor = "multi_thread")]
async fn two_users_exchange_a_dm() {
    let dir = tempfile::tempdir().unwrap();
    let registration = dir.path().join("registration.yaml");
    // Nothing listens on the appservice URL; Synapse only logs failed pushes.
    std::fs::write(
        &registration,
        format!(
            "id: sms-bridge-smoke\n\
             url: http://127.0.0.1:{}\n\
             as_token: {}\n\
             hs_token: {}\n\
             sender_localpart: smsbot\n\
             rate_limited: false\n\
             namespaces:\n  \
               users:\n    \
                 - exclusive: true\n      \
                   regex: '@sms_.*:localhost'\n  \
               aliases: []\n  \
               rooms: []\n",
            free_port(),
            random_token(),
            random_token(),
        ),
    )
    .unwrap();

    let started = Instant::now();
    let hs = Synapse::start(&registration).await;
    eprintln!("Synapse::start took {:.2?}", started.elapsed());

    let started = Instant::now();
    let alice = hs.register_user("alice").await;
    let bob = hs.register_user("bob").await;
    eprintln!("registering two users took {:.2?}", started.elapsed());
    assert_eq!(alice.user_id, "@alice:localhost");

    let started = Instant::now();
    let room = alice.create_dm(&bob.user_id).await;
    let invited = bob
        .wait_for_invite("alice's DM invite", Duration::from_secs(10), |_, invite| {
            invite["invite_state"]["events"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e["type"] == "m.room.member" && e["state_key"] == bob.user_id.as_str())
        })
        .await;
    assert_eq!(invited, room);
    bob.join(&room).await;

    let event_id = alice.send_text(&room, "hello over real Synapse").await;
    let body = bob
        .wait_for_event("alice's text", Duration::from_secs(10), |r, e| {
            (r == room && e["event_id"] == event_id.as_str())
                .then(|| e["content"]["body"].as_str().unwrap_or_default().to_owned())
        })
        .await;
    assert_eq!(body, "hello over real Synapse");
    eprintln!("DM round trip took {:.2?}", started.elapsed());

    let state = alice.room_state(&room).await;
    assert!(
        state.as_array().unwrap().iter().any(|e| e["type"] == "m.room.member"
            && e["state_key"] == bob.user_id.as_str()
            && e["content"]["membership"] == "join"),
        "bob's join missing from room state: {state}"
    );
}
