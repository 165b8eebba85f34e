//! End to end against a real Synapse (installed from PyPI by the harness) and the real
//! bridge binary, with the test link as the phone network.

mod common;

use std::time::Duration;

use common::bridge::{BOT, Env, OUR_NUMBER, command, messages, open_management_room, setup, wait};
use common::synapse::TestUser;
use reqwest::Method;
use serde_json::{Value, json};

const GHOST: &str = "@sms_15551234567:localhost";
const ADMIN_ONLY: &str = "    \"@alice:localhost\": admin\n    \"*\": none";

/// Alice with a management room and a joined portal to +1 555 123 4567.
async fn portal_setup(env: &Env) -> (TestUser, String, String) {
    let alice = env.hs.register_user("alice").await;
    let mgmt = open_management_room(&alice).await;
    let reply = command(&alice, &mgmt, "start +1 555 123 4567", "matrix.to").await;
    let portal = alice.wait_for_invite("the portal invite", wait(), |r, _| r != mgmt).await;
    assert!(reply.contains(&portal), "reply {reply:?} should link {portal}");
    alice.join(&portal).await;
    (alice, mgmt, portal)
}

fn state_event<'a>(state: &'a Value, event_type: &str) -> Option<&'a Value> {
    state.as_array()?.iter().find(|e| e["type"] == event_type)
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_tokens_and_ping() {
    let env = setup(ADMIN_ONLY).await;
    assert_eq!(env.as_token.len(), 64);
    assert_eq!(env.hs_token.len(), 64);
    assert_ne!(env.as_token, env.hs_token);
    let bridge = env.start_bridge(None).await;
    bridge.wait_for_log("homeserver ping succeeded", wait()).await;
    // The homeserver reaches us on demand, too.
    let appservice = TestUser::new(&env.hs.base_url, BOT.into(), env.as_token.clone());
    let resp = appservice.post_json("/_matrix/client/v1/appservice/sms/ping", &json!({"transaction_id": "t"})).await;
    assert!(resp["duration_ms"].is_number(), "{resp}");
}

#[tokio::test(flavor = "multi_thread")]
async fn start_relays_both_ways_and_reports_delivery() {
    let env = setup(ADMIN_ONLY).await;
    let _bridge = env.start_bridge(None).await;
    let (alice, mgmt, portal) = portal_setup(&env).await;

    // The portal looks like a bridged DM.
    let state = alice.room_state(&portal).await;
    assert_eq!(state_event(&state, "m.room.name").unwrap()["content"]["name"], "+1 555-123-4567");
    for t in ["m.bridge", "uk.half-shot.bridge"] {
        let ev = state_event(&state, t).unwrap_or_else(|| panic!("no {t} in {state}"));
        assert_eq!(ev["content"]["bridgebot"], BOT);
        assert_eq!(ev["content"]["channel"]["id"], "15551234567");
    }
    let create = state_event(&state, "m.room.create").unwrap();
    assert_eq!(create["content"]["room_version"], "12");
    let users = &state_event(&state, "m.room.power_levels").unwrap()["content"]["users"];
    assert!(users.get(BOT).is_none(), "room v12 creators must not be listed: {users}");
    assert_eq!(users[GHOST], 100);
    let ghost_member =
        state.as_array().unwrap().iter().find(|e| e["type"] == "m.room.member" && e["state_key"] == GHOST).unwrap();
    assert_eq!(ghost_member["content"]["membership"], "join");
    assert_eq!(ghost_member["content"]["displayname"], "+1 555-123-4567");
    let alice_member = state.as_array().unwrap().iter().find(|e| e["state_key"] == alice.user_id.as_str()).unwrap();
    assert_eq!(alice_member["content"]["membership"], "join");

    // Matrix → SMS, exactly as typed, to the E.164 number.
    let event_id = alice
        .send_content(&portal, json!({"msgtype": "m.text", "body": "**Hello** SMS €", "format": "org.matrix.custom.html", "formatted_body": "<b>Hello</b> SMS €"}))
        .await;
    let sent = env.wait_sent("Hello SMS €", wait()).await;
    assert_eq!(sent["to"], "+15551234567");
    assert_eq!(sent["from"], OUR_NUMBER);
    // PENDING (unless SUCCESS overtakes it first), then SUCCESS once the link accepted it.
    let status = |wanted: &'static str, delivered: bool| {
        let (ev, portal) = (event_id.clone(), portal.clone());
        move |r: &str, e: &Value| {
            (r == portal
                && e["type"] == "com.beeper.message_send_status"
                && e["content"]["m.relates_to"]["event_id"] == ev.as_str()
                && e["content"]["status"] == wanted
                && e["content"].get("delivered_to_users").is_some() == delivered)
                .then_some(())
        }
    };
    // PENDING may be skipped when SUCCESS overtakes it before it goes out.
    alice.wait_for_event("SUCCESS status", wait(), status("SUCCESS", false)).await;

    // Delivery report → SUCCESS with delivered_to_users and a read receipt from the ghost.
    env.control_post("/report", json!({"message_id": sent["message_id"], "status": "delivered"})).await;
    alice.wait_for_event("delivered status", wait(), status("SUCCESS", true)).await;
    alice.wait_for_receipt(&portal, &event_id, GHOST, wait()).await;

    // SMS → Matrix, from the ghost, in the same portal, with the SMSC timestamp.
    env.inject("+15551234567", "Hi back").await;
    let ts = alice
        .wait_for_event("the inbound SMS", wait(), |r, e| {
            (r == portal
                && e["sender"] == GHOST
                && e["content"]["body"] == "Hi back"
                && e["content"]["msgtype"] == "m.text")
                .then(|| e["origin_server_ts"].as_i64())
        })
        .await;
    assert_eq!(ts, Some(1_700_000_000_000));

    // Starting the same chat again (national format) reuses the portal.
    let reply = command(&alice, &mgmt, "start (555) 123-4567", "matrix.to").await;
    assert!(reply.contains(&portal), "{reply}");
    let list = command(&alice, &mgmt, "list", "SMS chats").await;
    assert_eq!(list.matches("matrix.to").count(), 1, "{list}");
    let backends = command(&alice, &mgmt, "backends", "SMS links").await;
    assert!(backends.contains("test1 (test) +1 555-000-1111: connected"), "{backends}");
}

#[tokio::test(flavor = "multi_thread")]
async fn replayed_transactions_and_bad_tokens() {
    let env = setup(ADMIN_ONLY).await;
    let _bridge = env.start_bridge(None).await;
    let (alice, _mgmt, portal) = portal_setup(&env).await;

    let txn = |event_id: &str| {
        json!({"events": [{
            "type": "m.room.message", "room_id": portal, "sender": alice.user_id, "event_id": event_id,
            "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": format!("replay {event_id}")}
        }]})
    };
    let path = "/_matrix/app/v1/transactions/replay-1";
    assert_eq!(env.appservice(Method::PUT, path, None, Some(txn("$a"))).await.0, 401);
    let (code, body) = env.appservice(Method::PUT, path, Some("wrong"), Some(txn("$a"))).await;
    assert_eq!((code, body["errcode"].as_str()), (403, Some("M_FORBIDDEN")));
    assert!(env.sent().is_empty(), "a refused transaction must not be processed");

    for _ in 0..3 {
        let (code, body) = env.appservice(Method::PUT, path, Some(&env.hs_token), Some(txn("$a"))).await;
        assert_eq!((code, body), (200, json!({})));
    }
    // The legacy query-parameter token works too; the same event in a new txn is still one message.
    let legacy = format!("/_matrix/app/v1/transactions/replay-2?access_token={}", env.hs_token);
    assert_eq!(env.appservice(Method::PUT, &legacy, None, Some(txn("$a"))).await.0, 200);
    env.wait_sent("replay $a", wait()).await;
    // A later message proves the worker has moved past the replays.
    alice.send_text(&portal, "after the replays").await;
    env.wait_sent("after the replays", wait()).await;
    assert_eq!(env.sent().iter().filter(|m| m["text"] == "replay $a").count(), 1, "{:?}", env.sent());

    // A big transaction (a backlog after an outage) is accepted, not refused with 413.
    let big: Vec<Value> = (0..100)
        .map(|i| {
            json!({"type": "m.room.message", "room_id": "!elsewhere:localhost", "sender": alice.user_id,
            "event_id": format!("$big{i}"), "content": {"msgtype": "m.text", "body": "x".repeat(40_000)}})
        })
        .collect();
    let (code, _) = env
        .appservice(Method::PUT, "/_matrix/app/v1/transactions/big", Some(&env.hs_token), Some(json!({"events": big})))
        .await;
    assert_eq!(code, 200);

    // User queries: ghosts in our namespace with a valid number exist, others do not.
    let q = |u: &str| format!("/_matrix/app/v1/users/{}", common::synapse::urlencode(u));
    assert_eq!(env.appservice(Method::GET, &q("@sms_4930123456:localhost"), Some(&env.hs_token), None).await.0, 200);
    for unknown in [
        "@sms_notanumber:localhost",
        "@sms_1234567890123456:localhost",
        "@alice:localhost",
        "@sms_4930123456:elsewhere",
    ] {
        assert_eq!(env.appservice(Method::GET, &q(unknown), Some(&env.hs_token), None).await.0, 404, "{unknown}");
    }
    // Synapse asks us before letting a user invite an unknown ghost; the ghost then exists
    // with its number as display name (and declines the stray invite).
    let room =
        alice.post_json("/_matrix/client/v3/createRoom", &json!({})).await["room_id"].as_str().unwrap().to_string();
    let uk = "@sms_442071838750:localhost";
    let invite = format!("/_matrix/client/v3/rooms/{}/invite", common::synapse::urlencode(&room));
    alice.post_json(&invite, &json!({"user_id": uk})).await;
    // Synapse 1.163 asks after accepting the invite, so wait for the profile to appear.
    let path = format!("/_matrix/client/v3/profile/{}", common::synapse::urlencode(uk));
    let start = std::time::Instant::now();
    let profile = loop {
        let (code, body) = alice.request_raw(Method::GET, &path, None).await;
        // Registration first sets the localpart as display name; the bridge's comes after.
        if code == 200 && body["displayname"] == "+44 20 7183 8750" {
            break body;
        }
        assert!(start.elapsed() < wait(), "the ghost was never created: {code} {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(profile["displayname"], "+44 20 7183 8750");
}

#[tokio::test(flavor = "multi_thread")]
async fn unpermitted_users_are_not_relayed() {
    let env = setup(ADMIN_ONLY).await;
    let _bridge = env.start_bridge(None).await;
    let (alice, _mgmt, portal) = portal_setup(&env).await;
    let mallory = env.hs.register_user("mallory").await;
    alice
        .post_json(
            &format!("/_matrix/client/v3/rooms/{}/invite", common::synapse::urlencode(&portal)),
            &json!({"user_id": mallory.user_id}),
        )
        .await;
    mallory.join(&portal).await;
    mallory.send_text(&portal, "let me text for free").await;
    mallory
        .wait_for_event("the refusal notice", wait(), |r, e| {
            (r == portal && e["sender"] == BOT && e["content"]["body"].as_str()?.contains("not allowed")).then_some(())
        })
        .await;
    // Alice still can, and only her message went out.
    alice.send_text(&portal, "permitted").await;
    env.wait_sent("permitted", wait()).await;
    assert_eq!(env.sent().len(), 1, "{:?}", env.sent());

    // Mallory's DM to the bot is declined.
    let room = mallory.create_dm(BOT).await;
    mallory
        .wait_for_event("the bot declining", wait(), |r, e| {
            (r == room
                && e["type"] == "m.room.member"
                && e["state_key"] == BOT
                && e["content"]["membership"] == "leave")
                .then_some(())
        })
        .await;
}

/// Kills the bridge (SIGKILL) at a failpoint, restarts it, and checks the SMS reaches
/// Matrix exactly once.
async fn crash_inbound_at(failpoint: &str) {
    let env = setup(ADMIN_ONLY).await;
    let alice = env.hs.register_user("alice").await;
    let bridge = env.start_bridge(Some(failpoint)).await;
    let _mgmt = open_management_room(&alice).await;
    env.inject("+15551234567", "survives the crash").await;
    bridge.wait_for_log("failpoint reached", wait()).await;
    bridge.kill9();

    let _bridge = env.start_bridge(None).await;
    let portal = alice
        .wait_for_invite("the portal invite", wait(), |_, inv| {
            inv["invite_state"]["events"].as_array().into_iter().flatten().any(|e| e["type"] == "m.room.name")
        })
        .await;
    alice.join(&portal).await;
    alice
        .wait_for_event("the SMS", wait(), |r, e| {
            (r == portal && e["content"]["body"] == "survives the crash").then_some(())
        })
        .await;
    env.inject("+15551234567", "marker").await;
    alice
        .wait_for_event("the marker", wait(), |r, e| (r == portal && e["content"]["body"] == "marker").then_some(()))
        .await;
    let copies = messages(&alice, &portal).iter().filter(|(s, b)| s == GHOST && b == "survives the crash").count();
    assert_eq!(copies, 1, "{:?}", messages(&alice, &portal));
    // Exactly one portal for the pair.
    let rooms = alice.get_json("/_matrix/client/v3/joined_rooms").await;
    assert_eq!(rooms["joined_rooms"].as_array().unwrap().len(), 2, "{rooms}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_after_commit_before_relay_loses_nothing() {
    crash_inbound_at("inbox-before-send").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_after_relay_before_record_duplicates_nothing() {
    crash_inbound_at("inbox-after-send").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_while_sending_sms_sends_it_once() {
    let env = setup(ADMIN_ONLY).await;
    let bridge = env.start_bridge(Some("outbox-before-send")).await;
    let (alice, _mgmt, portal) = portal_setup(&env).await;
    alice.send_text(&portal, "at least once, here exactly once").await;
    bridge.wait_for_log("failpoint reached", wait()).await;
    bridge.kill9();
    assert!(env.sent().is_empty());

    let restarted = env.start_bridge(None).await;
    env.wait_sent("at least once, here exactly once", wait()).await;
    alice.send_text(&portal, "next").await;
    env.wait_sent("next", wait()).await;
    assert_eq!(env.sent().len(), 2, "{:?}", env.sent());
    restarted.wait_for_log("will be sent again", Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn link_faults_and_state_changes_are_reported() {
    let env = setup(ADMIN_ONLY).await;
    let _bridge = env.start_bridge(None).await;
    let (alice, mgmt, portal) = portal_setup(&env).await;
    let status_of = |ev: String, wanted: &'static str| {
        let portal = portal.clone();
        move |r: &str, e: &Value| {
            (r == portal
                && e["type"] == "com.beeper.message_send_status"
                && e["content"]["m.relates_to"]["event_id"] == ev.as_str()
                && e["content"]["status"] == wanted)
                .then(|| e["content"].clone())
        }
    };

    // A rejection is final: FAIL_PERMANENT with the reason, and a notice.
    env.control_post("/fault", json!({"faults": ["permanent"]})).await;
    let rejected = alice.send_text(&portal, "will be rejected").await;
    let st = alice.wait_for_event("FAIL_PERMANENT", wait(), status_of(rejected, "FAIL_PERMANENT")).await;
    assert!(st["message"].as_str().unwrap().contains("simulated rejection"), "{st}");
    alice
        .wait_for_event("the failure notice", wait(), |r, e| {
            (r == portal && e["sender"] == BOT && e["content"]["body"].as_str()?.contains("not delivered"))
                .then_some(())
        })
        .await;

    // A temporary failure is retried: FAIL_RETRIABLE, then SUCCESS, sent once.
    env.control_post("/fault", json!({"faults": ["transient"]})).await;
    let retried = alice.send_text(&portal, "retried").await;
    alice.wait_for_event("FAIL_RETRIABLE", wait(), status_of(retried.clone(), "FAIL_RETRIABLE")).await;
    alice.wait_for_event("SUCCESS after retry", wait(), status_of(retried, "SUCCESS")).await;
    assert_eq!(env.sent().iter().map(|m| m["text"].as_str().unwrap().to_string()).collect::<Vec<_>>(), vec!["retried"]);

    // Link state changes reach the owner's management room.
    env.control_post("/state", json!({"state": "reconnecting", "reason": "cable pulled"})).await;
    alice
        .wait_for_event("the link notice", wait(), |r, e| {
            (r == mgmt && e["content"]["body"] == "Link test1 is now reconnecting (cable pulled).").then_some(())
        })
        .await;
    let backends = command(&alice, &mgmt, "backends", "SMS links").await;
    assert!(backends.contains("test1 (test) +1 555-000-1111: reconnecting (cable pulled)"), "{backends}");
}

#[tokio::test(flavor = "multi_thread")]
async fn homeserver_outage_loses_nothing() {
    let mut env = setup(ADMIN_ONLY).await;
    let bridge = env.start_bridge(None).await;
    let (alice, _mgmt, portal) = portal_setup(&env).await;
    env.hs.stop();
    // The link keeps delivering while Matrix is away; each is committed before the ack.
    for i in 0..3 {
        env.inject("+15551234567", &format!("during outage {i}")).await;
    }
    bridge.wait_for_log("will retry", wait()).await;
    env.hs.restart().await;
    let alice = TestUser::new(&env.hs.base_url, alice.user_id.clone(), alice.access_token.clone());
    alice
        .wait_for_event("the last SMS", Duration::from_secs(60), |r, e| {
            (r == portal && e["content"]["body"] == "during outage 2").then_some(())
        })
        .await;
    let got: Vec<String> = messages(&alice, &portal).into_iter().filter(|(s, _)| s == GHOST).map(|(_, b)| b).collect();
    assert_eq!(got, vec!["during outage 0", "during outage 1", "during outage 2"]);
}
