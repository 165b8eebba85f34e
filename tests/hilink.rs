//! The HiLink link against the fake router (`hilink_sim`, itself checked against PyPI's
//! huawei-lte-api in tests/hilink_sim.rs), with the bridge core and an in-memory
//! homeserver. The end-to-end case with a real Synapse is in tests/hilink_e2e.rs.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::core::{ALICE, BOB, BOB_GHOST, Harness, config_with_links};
use common::mmsc::{TestMmsc, png, retrieve_conf};
use serde_json::json;
use sms_bridge::backend::{Backend, LinkState};
use sms_bridge::hilink_sim::{Fault, HilinkSim, Incoming, MmsShape, Options};

const ROUTER_NUMBER: &str = "+15550004444";
const BOB_KEY: &str = "15551234567";

async fn sim_with(f: impl FnOnce(&mut Options)) -> HilinkSim {
    let mut opts = Options {
        number: ROUTER_NUMBER.into(),
        password: "s3cret".into(),
        quiet: true,
        send_delay: Duration::from_millis(100),
        long_part_delay: Duration::from_millis(150),
        ..Options::default()
    };
    f(&mut opts);
    HilinkSim::start(opts).await.expect("the fake router starts")
}

/// The router link first (so `start` uses it), then the harness's test link.
fn links(sim: &HilinkSim, extra: &str, tail: &str) -> &'static str {
    let password = if extra.contains("password") { String::new() } else { "\n    password: s3cret".into() };
    config_with_links(&format!(
        r#"  - id: router
    type: hilink
    number: "{ROUTER_NUMBER}"
    url: {url}{password}
    poll_interval: 0.2
    multipart_wait: 1
    timezone: UTC
    request_timeout: 3
    send_timeout: 10
    reconnect_min_delay: 1
    reconnect_max_delay: 1
{extra}
  - id: test1
    type: test
    number: "+15550001111"
{tail}"#,
        url = sim.url()
    ))
}

async fn rig(sim: &HilinkSim, extra: &str) -> Harness {
    Harness::new_with(links(sim, extra, "")).await
}

fn router(h: &Harness) -> Arc<dyn Backend> {
    h.bridge.backends.get("router").expect("the router link").clone()
}

/// Runs the bridge's workers until `done`, the link's own task working meanwhile.
async fn until(h: &Harness, what: &str, done: impl Fn(&Harness) -> bool) {
    h.run_until(what, done, |h| format!("link: {}", router(h).state())).await
}

async fn connected(h: &Harness) {
    until(h, "the router to be connected", |h| router(h).state() == LinkState::Connected).await;
}

fn bob_room(h: &Harness) -> Option<String> {
    h.bridge.store.portal_by_pair(ROUTER_NUMBER, BOB_KEY).unwrap().and_then(|p| p.room_id)
}

fn bob_texts(h: &Harness) -> Vec<String> {
    let Some(room) = bob_room(h) else { return vec![] };
    h.ghost_messages(&room, BOB_GHOST).iter().map(|e| e.content["body"].as_str().unwrap_or("").to_string()).collect()
}

async fn bob_chat(h: &Harness) -> String {
    h.say_text(ALICE, &h.mgmt, "start +1 555 123 4567 via router").await;
    bob_room(h).expect("a portal for Bob on the router")
}

#[tokio::test]
async fn sms_both_ways_long_ones_and_delivery_reports() {
    let sim = sim_with(|o| o.delivery_reports = true).await;
    let h = rig(&sim, "").await;
    connected(&h).await;

    // In: a short one, and a long one the router is still assembling: shown once, whole.
    sim.inject_sms(BOB, "Hello from the router");
    let long = "A long message that arrives in parts. ".repeat(6);
    sim.inject_long(BOB, &long, 3);
    until(&h, "both SMS in the portal", |h| bob_texts(h).len() == 2).await;
    assert_eq!(bob_texts(&h), vec!["Hello from the router".to_string(), long.clone()]);
    // Deleted from the router only after the commit.
    until(&h, "the inbox to be empty", |_| sim.snapshot().inbox.is_empty()).await;
    assert_eq!(sim.snapshot().deleted.len(), 2);

    // Out: a long text goes in one send-sms; the router's report makes it SUCCESS.
    let room = bob_chat(&h).await;
    let text = "Reply from Matrix, long enough for the router to split it in parts. ".repeat(3);
    let ev = h.say_text(ALICE, &room, &text).await;
    until(&h, "the send", |_| sim.snapshot().sends.iter().any(|s| s.result == "ok")).await;
    let s = sim.snapshot();
    let send = &s.sends[0];
    assert_eq!((send.phones.clone(), send.content.as_str()), (vec![BOB.to_string()], text.trim_end()));
    // GSM 7-bit (Reserved 1), Length in septets.
    assert_eq!((send.reserved.as_str(), send.length.as_str()), ("1", text.trim_end().len().to_string().as_str()));
    assert!(s.format_rejections.is_empty(), "{:?}", s.format_rejections);
    until(&h, "the delivery report", |h| h.status_names(&ev).last().map(String::as_str) == Some("SUCCESS")).await;
    until(&h, "the report delivered", |h| {
        h.statuses(&ev).iter().any(|s| s["delivered_to_users"] == json!([BOB_GHOST]))
    })
    .await;
    // The router's copy of the sent message and the report are gone: they fill storage.
    until(&h, "router storage empty", |_| {
        let s = sim.snapshot();
        s.sent.is_empty() && s.inbox.is_empty()
    })
    .await;
    assert_eq!(sim.snapshot().counters.token_rejections, 0);
}

#[tokio::test]
async fn odd_kinds_and_mms_notifications_do_not_stop_sms() {
    let sim = sim_with(|_| {}).await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    sim.inject(Incoming { sms_type: "42".into(), ..Incoming::sms(BOB, "of a kind nobody knows") });
    sim.inject(Incoming { sms_type: "x?".into(), ..Incoming::sms(BOB, "garbled kind") });
    sim.inject_mms(BOB, "http://mms.operator.example/get/ABCDEF123.mms", MmsShape::FileName, "5");
    sim.inject_sms(BOB, "and a plain one after them");
    let texts = |h: &Harness| -> Vec<String> {
        let Some(room) = bob_room(h) else { return vec![] };
        let events = h.ghost_messages(&room, BOB_GHOST);
        let texts = events.iter().filter(|e| e.content["msgtype"] == "m.text");
        texts.map(|e| e.content["body"].as_str().unwrap_or("").to_string()).collect()
    };
    until(&h, "the three texts", |h| texts(h).len() >= 3).await;
    let texts = texts(&h);
    assert!(texts[0].starts_with("of a kind nobody knows") && texts[0].contains("SmsType 42"), "{texts:?}");
    assert!(texts[1].starts_with("garbled kind") && texts[1].contains("SmsType \"x?\""), "{texts:?}");
    assert_eq!(texts[2], "and a plain one after them");
    // No MMSC configured: the MMS is announced with what the router showed and the setting.
    let room = bob_room(&h).unwrap();
    until(&h, "the MMS notice", |h| {
        h.ghost_messages(&room, BOB_GHOST).iter().any(|e| e.content["msgtype"] == "m.notice")
    })
    .await;
    let notice = h
        .ghost_messages(&room, BOB_GHOST)
        .into_iter()
        .find(|e| e.content["msgtype"] == "m.notice")
        .map(|e| e.content["body"].as_str().unwrap().to_string())
        .unwrap();
    assert!(notice.contains("mms.retrieve_url_base"), "{notice}");
    assert!(notice.contains("the notification reads \"MMS: ABCDEF123.mms\""), "what the router showed: {notice}");
    until(&h, "the inbox to be empty", |_| sim.snapshot().inbox.is_empty()).await;
}

#[tokio::test]
async fn a_partial_mms_location_is_completed_and_fetched() {
    let mmsc = TestMmsc::start().await;
    let sim = sim_with(|_| {}).await;
    // The MMSC for sending is elsewhere; downloads come from the test MMSC's /mms/.
    let tail = format!(
        "mms:\n  mmsc_url: http://mms.sending.example/mms\n  retrieve_url_base: {}mms/\n  allow_private_addresses: true",
        mmsc.url()
    );
    let h = Harness::new_with(links(&sim, "", &tail)).await;
    connected(&h).await;
    let image = png(40, 30);
    let mms = retrieve_conf(BOB, &[ROUTER_NUMBER], "Through the router", &image);
    mmsc.put("P1X2Y3Z4.mms", mms);
    sim.inject_mms(BOB, &mmsc.location("P1X2Y3Z4.mms"), MmsShape::FileName, "5");
    sim.inject_sms(BOB, "text after the picture");
    let end = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        h.make_due();
        h.settle().await;
        h.bridge.drain_mms().await.unwrap();
        h.bridge.send_matrix_jobs().await.unwrap();
        let events = bob_room(&h).map(|r| h.ghost_messages(&r, BOB_GHOST)).unwrap_or_default();
        let images: Vec<_> = events.iter().filter(|e| e.content["msgtype"] == "m.image").collect();
        if let Some(img) = images.first() {
            assert_eq!(img.content["body"], "Through the router");
            assert_eq!(images.len(), 1);
            break;
        }
        assert!(tokio::time::Instant::now() < end, "no picture arrived: {events:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(mmsc.gets("P1X2Y3Z4.mms"), 1);
    until(&h, "the text too", |h| bob_texts(h).iter().any(|t| t == "text after the picture")).await;
}

#[tokio::test]
async fn lost_sessions_token_errors_and_busy_sends_are_ridden_out() {
    let sim = sim_with(|_| {}).await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    let logins = sim.snapshot().counters.logins;
    // The session ends between two polls, then in the middle of one (the next call).
    sim.set_fault(&Fault::ExpireSessions);
    sim.inject_sms(BOB, "after the session expired");
    until(&h, "the first SMS", |h| bob_texts(h).len() == 1).await;
    assert!(sim.snapshot().counters.logins > logins, "logged in again");
    sim.set_fault(&Fault::Error { code: 125003, times: 1 });
    sim.inject_sms(BOB, "after a 125003");
    until(&h, "the second SMS", |h| bob_texts(h).len() == 2).await;
    // "Not logged in" on the third call of a poll (the list), as when the router drops
    // the session between two calls.
    let requests = sim.snapshot().counters.requests;
    sim.inject_sms(BOB, "after a 100003 mid-poll");
    until(&h, "the next poll to begin", |_| sim.snapshot().counters.requests > requests).await;
    sim.set_fault(&Fault::Error { code: 100003, times: 1 });
    until(&h, "the third SMS", |h| bob_texts(h).len() == 3).await;
    // Busy twice on the send: retried, not failed.
    let room = bob_chat(&h).await;
    sim.set_fault(&Fault::Error { code: 113018, times: 2 });
    let ev = h.say_text(ALICE, &room, "sent through a busy router").await;
    until(&h, "the send", |_| sim.snapshot().sends.iter().any(|s| s.result == "ok")).await;
    until(&h, "SUCCESS", |h| h.status_names(&ev).contains(&"SUCCESS".to_string())).await;
    assert!(!h.status_names(&ev).iter().any(|s| s.starts_with("FAIL")), "{:?}", h.status_names(&ev));
    assert_eq!(sim.snapshot().sends.len(), 1, "sent once");
    assert_eq!(router(&h).state(), LinkState::Connected);
    assert!(sim.snapshot().format_rejections.is_empty());
}

#[tokio::test]
async fn a_wrong_password_is_reported_and_not_retried_into_a_lockout() {
    let sim = sim_with(|o| o.max_login_failures = 2).await;
    let h = rig(&sim, "    password: wrong").await;
    until(&h, "bad credentials", |h| matches!(router(h).state(), LinkState::BadCredentials { .. })).await;
    let LinkState::BadCredentials { reason } = router(&h).state() else { unreachable!() };
    assert!(reason.contains("108006") && reason.contains("password"), "{reason}");
    // Several poll intervals and reconnect delays later: still one attempt, no lockout.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let c = sim.snapshot().counters;
    assert_eq!(c.login_failures, 1, "{c:?}");
}

#[tokio::test]
async fn the_challenge_login_of_newer_firmwares() {
    let sim = sim_with(|o| o.challenge_login = true).await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    sim.inject_sms(BOB, "through a SCRAM router");
    until(&h, "the SMS", |h| bob_texts(h) == ["through a SCRAM router"]).await;
    let c = sim.snapshot().counters;
    assert_eq!((c.logins, c.login_failures), (1, 0), "{c:?}");
    // Sessions lost later log in the same way, without trying the password login first.
    sim.set_fault(&Fault::ExpireSessions);
    sim.inject_sms(BOB, "after a new session");
    until(&h, "the second SMS", |h| bob_texts(h).len() == 2).await;
    let c = sim.snapshot().counters;
    assert_eq!((c.logins, c.login_failures), (2, 0), "{c:?}");

    let sim = sim_with(|o| o.challenge_login = true).await;
    let h = rig(&sim, "    password: wrong").await;
    until(&h, "bad credentials", |h| matches!(router(h).state(), LinkState::BadCredentials { .. })).await;
    assert_eq!(sim.snapshot().counters.login_failures, 1);
}

#[tokio::test]
async fn no_sim_or_no_signal_hold_messages_back_until_the_router_can_send() {
    let sim = sim_with(|_| {}).await;
    // The status (SIM, signal) is read every refresh_interval while all is well.
    let h = rig(&sim, "    refresh_interval: 1").await;
    connected(&h).await;
    let room = bob_chat(&h).await;
    sim.set_fault(&Fault::NoSim);
    until(&h, "not ready", |h| matches!(router(h).state(), LinkState::NotReady { .. })).await;
    let LinkState::NotReady { reason } = router(&h).state() else { unreachable!() };
    assert!(reason.contains("SIM"), "{reason}");
    let ev = h.say_text(ALICE, &room, "waits for the SIM").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    h.settle().await;
    assert!(sim.snapshot().sends.is_empty(), "nothing sent without a SIM");
    assert!(!h.status_names(&ev).iter().any(|s| s.starts_with("FAIL_PERMANENT")), "{:?}", h.status_names(&ev));
    sim.clear_faults();
    sim.set_fault(&Fault::NoSignal);
    until(
        &h,
        "no signal",
        |h| matches!(router(h).state(), LinkState::NotReady { reason } if reason.contains("signal")),
    )
    .await;
    sim.clear_faults();
    connected(&h).await;
    until(&h, "SUCCESS", |h| h.status_names(&ev).contains(&"SUCCESS".to_string())).await;
    assert_eq!(sim.snapshot().sends.len(), 1);
}

#[tokio::test]
async fn an_idle_poll_is_one_request_and_a_message_read_on_the_router_is_still_taken() {
    let sim = sim_with(|_| {}).await;
    let h = rig(&sim, "    refresh_interval: 2").await;
    connected(&h).await;
    let requests = |path: &str| sim.snapshot().counters.by_path.get(path).copied().unwrap_or(0);
    let (polls, counts) = (requests("/api/monitoring/check-notifications"), requests("/api/sms/sms-count"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let polls = requests("/api/monitoring/check-notifications") - polls;
    let counts = requests("/api/sms/sms-count") - counts;
    // Every 0.2 s a poll; the counts only every refresh_interval (2 s) with nothing unread.
    assert!(polls >= 4 && counts <= 1, "{polls} polls, {counts} count reads");

    // Read in the router's web page before the bridge saw it: not unread, taken all the
    // same at the next full read.
    let index = sim.inject_sms(BOB, "read in the web page").expect("stored");
    assert!(sim.mark_read(index));
    until(&h, "the read message", |h| bob_texts(h) == ["read in the web page"]).await;
    until(&h, "the inbox to empty", |_| sim.snapshot().inbox.is_empty()).await;
}

#[tokio::test]
async fn a_reboot_and_a_slow_router() {
    let sim = sim_with(|_| {}).await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    sim.set_fault(&Fault::Reboot(Duration::from_secs(2)));
    until(&h, "the link to notice", |h| matches!(router(h).state(), LinkState::Reconnecting { .. })).await;
    let LinkState::Reconnecting { reason } = router(&h).state() else { unreachable!() };
    assert!(reason.contains("unreachable"), "{reason}");
    sim.inject_sms(BOB, "stored during the reboot");
    connected(&h).await;
    until(&h, "the SMS", |h| bob_texts(h) == ["stored during the reboot"]).await;
    assert_eq!(sim.snapshot().counters.reboots, 1);

    // Slow answers (well inside request_timeout): everything still goes through.
    sim.set_fault(&Fault::Slow(Duration::from_millis(400)));
    sim.inject_sms(BOB, "from a slow router");
    let room = bob_chat(&h).await;
    let ev = h.say_text(ALICE, &room, "to a slow router").await;
    until(&h, "both ways", |h| bob_texts(h).len() == 2 && h.status_names(&ev).contains(&"SUCCESS".to_string())).await;
    assert_eq!(router(&h).state(), LinkState::Connected);
}

#[tokio::test]
async fn storage_nearly_full_and_full_are_told_once_each() {
    let sim = sim_with(|o| o.local_max = 10).await;
    let h = rig(&sim, "    keep_on_router: true").await;
    connected(&h).await;
    for i in 0..9 {
        sim.inject_sms(BOB, &format!("kept {i}"));
    }
    until(&h, "nine texts", |h| bob_texts(h).len() == 9).await;
    // Kept on the router, marked read, not shown twice on later polls.
    until(&h, "all marked read", |_| sim.snapshot().inbox.iter().all(|m| m.smstat == 1)).await;
    assert!(sim.snapshot().deleted.is_empty());
    until(&h, "the nearly-full warning", |h| {
        let w = h.take_warnings();
        assert!(w.iter().all(|w| !w.contains("is full")), "{w:?}");
        w.iter().any(|w| w.contains("nearly full (9 of 10"))
    })
    .await;
    sim.inject_sms(BOB, "the tenth");
    until(&h, "the full warning", |h| h.take_warnings().iter().any(|w| w.contains("storage is full (10 of 10"))).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    h.settle().await;
    assert!(h.take_warnings().is_empty(), "told once");
    assert_eq!(bob_texts(&h).len(), 10);
    let details = router(&h).details().unwrap();
    assert!(details.contains("storage 10/10 FULL") && details.contains("B315"), "{details}");
}

#[tokio::test]
async fn emoji_go_out_as_cesu8_and_stop_logs_out() {
    let sim = sim_with(|_| {}).await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    let room = bob_chat(&h).await;
    let ev = h.say_text(ALICE, &room, "Party tonight 🎉🥳").await;
    until(&h, "SUCCESS", |h| h.status_names(&ev).contains(&"SUCCESS".to_string())).await;
    let s = sim.snapshot();
    let send = &s.sends[0];
    assert_eq!(send.content, "Party tonight 🎉🥳", "decoded back whole: {send:?}");
    assert_eq!((send.surrogate_pairs, send.four_byte_utf8), (2, 0));
    // UCS-2 (Reserved 0), Length in UTF-16 units.
    assert_eq!((send.reserved.as_str(), send.length.as_str()), ("0", "18"));
    router(&h).stop().await;
    assert_eq!(sim.snapshot().counters.logouts, 1);
    assert_eq!(sim.snapshot().live_sessions, 0);
}

#[tokio::test]
async fn two_routers_at_once() {
    let first = sim_with(|_| {}).await;
    let second = sim_with(|o| o.number = "+15550005555".into()).await;
    let config = links(&first, "", "").replace(
        "  - id: test1",
        &format!(
            "  - id: second\n    type: hilink\n    number: \"+15550005555\"\n    url: {}\n    password: s3cret\n    poll_interval: 0.2\n  - id: test1",
            second.url()
        ),
    );
    let h = Harness::new_with(Box::leak(config.into_boxed_str())).await;
    connected(&h).await;
    first.inject_sms(BOB, "to the first router");
    second.inject_sms(BOB, "to the second router");
    let texts = |h: &Harness, ours: &str| -> Vec<String> {
        let Some(room) = h.bridge.store.portal_by_pair(ours, BOB_KEY).unwrap().and_then(|p| p.room_id) else {
            return vec![];
        };
        h.ghost_messages(&room, BOB_GHOST).iter().map(|e| e.content["body"].as_str().unwrap().to_string()).collect()
    };
    until(&h, "one SMS in each portal", |h| {
        texts(h, ROUTER_NUMBER) == ["to the first router"] && texts(h, "+15550005555") == ["to the second router"]
    })
    .await;
    assert_eq!((first.snapshot().counters.logins, second.snapshot().counters.logins), (1, 1));
}

#[tokio::test]
async fn a_failed_send_is_retried_and_a_stale_send_status_is_not_believed() {
    // The router shows the previous send's result for a while after each send-sms.
    let sim = sim_with(|o| o.status_lag = Duration::from_millis(700)).await;
    let h = rig(&sim, "").await;
    connected(&h).await;
    let room = bob_chat(&h).await;
    sim.set_fault(&Fault::SendFail(1));
    let ev = h.say_text(ALICE, &room, "first try fails").await;
    until(&h, "SUCCESS", |h| h.status_names(&ev).contains(&"SUCCESS".to_string())).await;
    let sends = sim.snapshot().sends;
    let results: Vec<&str> = sends.iter().map(|s| s.result.as_str()).collect();
    // The FailPhone the retry still saw at first was the first try's, not its own.
    assert_eq!(results, ["failed", "ok"]);
    assert!(!h.status_names(&ev).iter().any(|s| s == "FAIL_PERMANENT"), "{:?}", h.status_names(&ev));
    // Every try failing: given up after three, with a reason.
    sim.set_fault(&Fault::SendFail(5));
    let ev = h.say_text(ALICE, &room, "never goes").await;
    until(&h, "FAIL_PERMANENT", |h| h.status_names(&ev).iter().any(|s| s == "FAIL_PERMANENT")).await;
    assert_eq!(sim.snapshot().sends.len(), 5, "three tries of the second message");
}
