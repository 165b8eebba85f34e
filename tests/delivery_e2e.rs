//! Trustworthy delivery against a real Synapse (installed from PyPI by the harness) and the
//! real bridge binary: a homeserver outage longer than the old give-up point loses and
//! doubles nothing and drains at once; an owner who left a portal is brought back by the
//! next SMS; a homeserver that restarts (and so forgets transaction ids) in the middle of
//! a multi-part MMS gets no part twice.

mod common;

use std::time::{Duration, Instant};

use common::bridge::{BOT, Env, command, messages, open_management_room, setup, setup_full, wait};
use common::hs_proxy::HsProxy;
use common::mmsc::{TestMmsc, notification_push, png, retrieve_conf_with};
use common::smsc::{PASSWORD, SYSTEM_ID, Smsc};
use common::synapse::{TestUser, urlencode};
use reqwest::Method;
use serde_json::{Value, json};
use sms_bridge::mms::{self, MessageType};

const PHONE: &str = "+15551234567";
const GHOST: &str = "@sms_15551234567:localhost";
/// bridge.permissions, plus (indented as `bridge:` keys) a 2 s backoff cap so that an outage
/// of half a minute crosses max_attempts (8, the default, spelled out) many times over.
const FAST_RETRIES: &str = "    \"@alice:localhost\": admin\n    \"*\": none\n  max_backoff: 2\n  max_attempts: 8";

/// Alice with a management room and a joined portal to PHONE.
async fn portal_setup(env: &Env) -> (TestUser, String, String) {
    let alice = env.hs.register_user("alice").await;
    let mgmt = open_management_room(&alice).await;
    command(&alice, &mgmt, &format!("start {PHONE}"), "matrix.to").await;
    let portal = alice.wait_for_invite("the portal invite", wait(), |r, _| r != mgmt).await;
    alice.join(&portal).await;
    (alice, mgmt, portal)
}

/// Bodies of the messages `sender` has in `room`, oldest first, as the room holds them.
async fn bodies_from(user: &TestUser, room: &str, sender: &str) -> Vec<String> {
    user.room_messages(room)
        .await
        .into_iter()
        .filter(|e| e["sender"] == sender)
        .map(|e| e["content"]["body"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_homeserver_down_past_the_old_give_up_point_gets_the_whole_backlog_once_in_order() {
    let mut env = setup(FAST_RETRIES).await;
    let bridge = env.start_bridge(None).await;
    let (alice, _mgmt, portal) = portal_setup(&env).await;

    env.hs.stop();
    let down = Instant::now();
    let texts: Vec<String> = (0..20).map(|i| format!("backlog {i:02}")).collect();
    let mut first_id = None;
    for text in &texts {
        let id = env.inject(PHONE, text).await["inbox_id"].as_i64().expect("an inbox id");
        first_id.get_or_insert(id);
    }
    // Every retry of the first SMS fails against a homeserver that is not there; the old
    // bridge gave up after 8. Wait until it was tried more than that, well past it.
    let first_id = first_id.unwrap();
    let attempts_sql = format!("SELECT attempts FROM inbox WHERE id = {first_id}");
    let attempts = loop {
        let attempts = env.db_count(&attempts_sql);
        let dead = env.db_count("SELECT COUNT(*) FROM inbox WHERE state = 'dead'");
        assert_eq!(dead, 0, "{dead} SMS given up after {attempts} attempts, {:?} into the outage", down.elapsed());
        if attempts >= 12 {
            break attempts;
        }
        assert!(down.elapsed() < Duration::from_secs(120), "only {attempts} attempts after {:?}", down.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    bridge.wait_for_log("inbound item not relayed; will retry", Duration::from_secs(1)).await;

    env.hs.restart().await;
    let outage = down.elapsed();
    let back = Instant::now();
    // Synapse's socket went away under the old client: a fresh one.
    let alice = TestUser::new(&env.hs.base_url, alice.user_id.clone(), alice.access_token.clone());
    // When the test first sees each SMS (a sync returns as soon as there is news).
    let mut arrivals: Vec<(String, Duration)> = Vec::new();
    while arrivals.len() < texts.len() {
        assert!(
            back.elapsed() < Duration::from_secs(60),
            "only {} of 20 arrived within 60 s: {arrivals:?}",
            arrivals.len()
        );
        alice.sync_once().await;
        for (sender, body) in messages(&alice, &portal) {
            if sender == GHOST && texts.contains(&body) && !arrivals.iter().any(|(b, _)| *b == body) {
                arrivals.push((body, back.elapsed()));
            }
        }
    }
    let first = arrivals.iter().map(|a| a.1).min().unwrap();
    let last = arrivals.iter().map(|a| a.1).max().unwrap();
    eprintln!(
        "outage {outage:.1?}; first SMS tried {attempts} times; after the restart the first SMS arrived in \
         {first:.2?}, the last in {last:.2?}: the backlog drained in {:.2?}",
        last - first
    );

    // The room holds the 20 exactly once each, in the order they came in.
    assert_eq!(bodies_from(&alice, &portal, GHOST).await, texts);
    // The backlog went out at once, not each SMS after its own backoff.
    assert!(last - first < Duration::from_secs(5), "the backlog took {:?} to drain: {arrivals:?}", last - first);
    assert!(first < Duration::from_secs(10), "the first SMS took {first:?} after the homeserver came back");
    assert_eq!(env.db_count("SELECT COUNT(*) FROM inbox WHERE state = 'dead'"), 0);
    assert_eq!(env.db_count("SELECT COUNT(*) FROM inbox WHERE state <> 'done'"), 0);
    assert_eq!(env.db_count("SELECT COUNT(*) FROM matrix_out WHERE state = 'dead'"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_who_left_the_portal_is_invited_back_by_the_next_sms() {
    let env = setup(FAST_RETRIES).await;
    let bridge = env.start_bridge(None).await;
    let (alice, mgmt, portal) = portal_setup(&env).await;
    env.inject(PHONE, "before leaving").await;
    alice
        .wait_for_event("the first SMS", wait(), |r, e| {
            (r == portal && e["content"]["body"] == "before leaving").then_some(())
        })
        .await;

    alice.post_json(&format!("/_matrix/client/v3/rooms/{}/leave", urlencode(&portal)), &json!({})).await;
    // The bridge has taken the leave in before the next SMS comes.
    bridge.wait_for_log("the portal owner's membership changed", wait()).await;
    let invites_before = alice.seen_invites().len();
    env.inject(PHONE, "after leaving").await;

    // A new invite: to the portal again, or to a new portal if the bridge made one.
    let start = Instant::now();
    let room = loop {
        let fresh = alice.seen_invites().split_off(invites_before);
        if let Some((room, _)) = fresh.into_iter().find(|(r, _)| *r != mgmt) {
            break room;
        }
        assert!(start.elapsed() < wait(), "no new invite after the SMS; invites: {:?}", alice.seen_invites());
        alice.sync_once().await;
    };
    eprintln!("invited back into {} portal", if room == portal { "the same" } else { "a new" });
    alice.join(&room).await;
    alice
        .wait_for_event("the SMS sent after leaving", wait(), |r, e| {
            (r == room && e["sender"] == GHOST && e["content"]["body"] == "after leaving").then_some(())
        })
        .await;
    let got = bodies_from(&alice, &room, GHOST).await;
    assert_eq!(got.iter().filter(|b| *b == "after leaving").count(), 1, "{got:?}");
    let joined = alice.get_json("/_matrix/client/v3/joined_rooms").await;
    assert!(joined["joined_rooms"].as_array().unwrap().iter().any(|r| *r == room.as_str()), "{joined}");
}

const SMPP_NUMBER: &str = "+15550002222";
const MMS_PHONE: &str = "+447700900123";
const MMS_GHOST: &str = "@sms_447700900123:localhost";
const PUSH_GATEWAY: &str = "+447700900999";

/// The WAP push as an SMSC delivers it: 8-bit data, UDH with ports 2948 and an 8-bit
/// concatenation reference, in two parts.
async fn deliver_push(smsc: &Smsc, push: &[u8], reference: u8) {
    let half = push.len() / 2;
    for (seq, piece) in [(1u8, &push[..half]), (2, &push[half..])] {
        let mut body = vec![0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, reference, 2, seq];
        body.extend_from_slice(piece);
        assert_eq!(smsc.deliver(PUSH_GATEWAY, SMPP_NUMBER, 0x40, 0x04, &body, &[]).await, 0, "deliver_sm part {seq}");
    }
}

/// Sends `body` with a fixed transaction id as `user`; returns the event id.
async fn send_with_txn(user: &TestUser, room: &str, txn: &str, body: &str) -> String {
    let path = format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}", urlencode(room));
    let resp = user.put_json(&path, &json!({"msgtype": "m.text", "body": body})).await;
    resp["event_id"].as_str().unwrap_or_else(|| panic!("no event_id: {resp}")).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_homeserver_restart_in_the_middle_of_an_mms_shows_no_part_twice() {
    let smsc = Smsc::start().await;
    let mmsc = TestMmsc::start().await;
    let backend = format!(
        r#"  - id: smsc
    type: smpp
    number: "{SMPP_NUMBER}"
    host: 127.0.0.1
    port: {port}
    system_id: {SYSTEM_ID}
    password: {PASSWORD}
    owner: "@alice:localhost""#,
        port = smsc.port
    );
    let mms_config = format!("mms:\n  mmsc_url: {}\n  allow_private_addresses: true", mmsc.url());
    let mut env = setup_full(FAST_RETRIES, &backend, &mms_config).await;
    // The bridge reaches Synapse through a pass-through proxy (as through nginx in a real
    // deployment) so that the outage can be placed exactly between two parts; see below.
    let proxy = HsProxy::start(&env.hs.base_url).await;
    env.route_homeserver_via(&proxy.url());
    let bridge = env.start_bridge(None).await;
    smsc.wait_bound(wait()).await;
    let alice = env.hs.register_user("alice").await;

    // A first SMS makes the portal; Alice joins it.
    assert_eq!(smsc.deliver(MMS_PHONE, SMPP_NUMBER, 0, 0, b"photos coming", &[]).await, 0);
    let portal = alice.wait_for_invite("the portal invite", wait(), |_, _| true).await;
    alice.join(&portal).await;
    // A room of the bot's own, to show that the restart makes Synapse forget the
    // transaction ids of appservice sends (a user's, with a device, it keeps in its database).
    let appservice = TestUser::new(&env.hs.base_url, BOT.into(), env.as_token.clone());
    let scratch = appservice.post_json("/_matrix/client/v3/createRoom", &json!({})).await["room_id"]
        .as_str()
        .unwrap()
        .to_string();
    let before_restart = send_with_txn(&appservice, &scratch, "probe", "probe").await;
    assert_eq!(send_with_txn(&appservice, &scratch, "probe", "probe").await, before_restart, "txn ids are remembered");

    // Two pictures and a text: posted as image (txn mms-in-J-0), image (mms-in-J-1), text.
    let attachment =
        |name: &str, data: Vec<u8>| mms::Attachment { content_type: "image/png".into(), filename: name.into(), data };
    let message = retrieve_conf_with(
        MMS_PHONE,
        &[SMPP_NUMBER],
        "Two from the beach",
        &[attachment("first.png", png(40, 30)), attachment("second.png", png(20, 10))],
    );
    mmsc.put("beach", message.clone());
    // Deterministic mid-MMS outage: the proxy holds the bridge's send of the second image
    // (by then the first is in the room and recorded, the second uploaded). While it waits,
    // Synapse is stopped; the released request then meets the outage (502, as nginx says).
    // Synapse restarts on the same database, having forgotten the transaction ids, and the
    // bridge's retry runs the MMS job again from the top.
    proxy.hold_next(|method, path| {
        let path = path.split('?').next().unwrap_or_default();
        method == Method::PUT && path.contains("/send/m.room.message/mms-in-") && path.ends_with("-1")
    });
    let push = notification_push(MMS_PHONE, "TX-beach", &mmsc.location("beach"), message.len() as u64);
    deliver_push(&smsc, &push, 7).await;
    let held = proxy.wait_held(wait()).await;
    // The first image is in the room and the second is not: the job is half done.
    assert_eq!(bodies_from(&alice, &portal, MMS_GHOST).await, ["photos coming", "first.png"], "held at {held}");

    env.hs.stop();
    proxy.release();
    bridge.wait_for_log("MMS not done yet; will retry", wait()).await;
    assert!(
        proxy.log().iter().any(|(_, path, status)| *path == held && *status == 502),
        "the held send did not meet the outage: {:?}",
        proxy.log()
    );
    env.hs.restart().await;
    let alice = TestUser::new(&env.hs.base_url, alice.user_id.clone(), alice.access_token.clone());
    let appservice = TestUser::new(&env.hs.base_url, BOT.into(), env.as_token.clone());
    let after_restart = send_with_txn(&appservice, &scratch, "probe", "probe").await;
    assert_ne!(after_restart, before_restart, "the restarted Synapse should have forgotten its transaction ids");

    // The MMSC hears m-notifyresp-ind only after every part went to Matrix.
    let start = Instant::now();
    while !mmsc.posted().iter().any(|m| m.message_type == MessageType::NOTIFYRESP_IND) {
        assert!(start.elapsed() < Duration::from_secs(30), "the MMS was never finished:\n{:?}", proxy.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events: Vec<Value> =
        alice.room_messages(&portal).await.into_iter().filter(|e| e["sender"] == MMS_GHOST).collect();
    let bodies: Vec<&str> = events.iter().map(|e| e["content"]["body"].as_str().unwrap_or_default()).collect();
    assert_eq!(bodies, ["photos coming", "first.png", "second.png", "Two from the beach"], "{events:#?}");
    let kinds: Vec<&str> = events.iter().map(|e| e["content"]["msgtype"].as_str().unwrap_or_default()).collect();
    assert_eq!(kinds, ["m.text", "m.image", "m.image", "m.text"]);
    assert_eq!(mmsc.gets("beach"), 1, "fetched once: the job resumed at relaying");
}
