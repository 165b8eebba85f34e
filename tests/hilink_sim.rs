//! The fake HiLink router: driven by the real PyPI client huawei-lte-api (proving it
//! realistic) and by a bare client for what a well-behaved client never does (pretty XML,
//! wrong field order, reused tokens, expired sessions, lockout, storage, reboot).

mod common;

use std::time::Duration;

use common::hilink::{Raw, code, driver};
use serde_json::{Value, json};
use sms_bridge::hilink::sms::{ListRequest, parse_list, parse_send_status};
use sms_bridge::hilink::xml::{Field, request, response};
use sms_bridge::hilink_sim::{Fault, HilinkSim, Options};

fn opts() -> Options {
    Options { quiet: true, send_delay: Duration::from_millis(300), password: "hunter2".into(), ..Options::default() }
}

/// The control API's view, fetched over HTTP as a script would.
async fn state(sim: &HilinkSim) -> Value {
    reqwest::get(format!("{}/state", sim.control_url())).await.unwrap().json().await.unwrap()
}

async fn control(sim: &HilinkSim, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new().post(format!("{}{path}", sim.control_url())).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

async fn logged_in(sim: &HilinkSim) -> Raw {
    let mut c = Raw::new(&sim.url());
    c.boot().await.unwrap();
    let answer = c.login("admin", "hunter2").await;
    assert!(answer.contains("<response>OK</response>"), "{answer}");
    c
}

fn list_inbox() -> String {
    ListRequest::default().to_xml()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_client_full_session_with_rotating_tokens() {
    let sim = HilinkSim::start(opts()).await.unwrap();
    control(&sim, "/sms", json!({"from": "+15557654321", "text": "hello from the network"})).await;
    let args = json!({"url": sim.url(), "username": "admin", "password": "hunter2",
                      "to": sim.opts().number, "text": "emoji \u{1F600} é"});
    let out = blocking(move || driver("full", &args)).await;

    assert_eq!(out["state_login"]["State"], "0", "{out}");
    assert_eq!(out["count_before"]["LocalInbox"], "1");
    assert_eq!(out["count_before"]["LocalUnread"], "1");
    assert_eq!(out["notifications"]["UnreadMessage"], "1");
    assert_eq!(out["notifications"]["SmsStorageFull"], "0");
    assert_eq!(out["inbox"][0]["Content"], "hello from the network");
    assert_eq!(out["send"], "OK");
    let polls = out["send_status"].as_array().unwrap();
    assert!(polls.len() >= 2, "the send was in progress at first: {polls:?}");
    assert_eq!(polls[0]["Phone"], sim.opts().number.as_str());
    assert_eq!(polls.last().unwrap()["SucPhone"], sim.opts().number.as_str());
    // Sent to its own number: it came back, newest first (the client's default order).
    assert_eq!(out["inbox_after_send"][0]["Content"], "emoji \u{1F600} é");
    assert_eq!(out["count_after"]["LocalInbox"], "1", "the looped-back SMS was deleted");
    assert_eq!(out["sent_box"][0]["Smstat"], "3");

    let s = state(&sim).await;
    let c = &s["counters"];
    assert_eq!(c["logins"], 1, "{s}");
    assert_eq!(c["logouts"], 1);
    assert_eq!(c["token_rejections"], 0);
    assert_eq!(c["session_rejections"], 0);
    // login, list, send, list, set-read, delete, list, logout: each took one token.
    assert_eq!(c["tokens_consumed"], 8);
    assert!(c["tokens_issued"].as_u64().unwrap() >= 10);
    assert_eq!(s["format_rejections"], json!([]));
    assert_eq!(s["live_sessions"], 0, "logged out");
    let send = &s["sends"][0];
    assert_eq!(send["surrogate_pairs"], 1, "the emoji went as CESU-8: {send}");
    assert_eq!(send["four_byte_utf8"], 0);
    assert!(send["body_hex"].as_str().unwrap().contains("eda0bdedb880"));
    assert_eq!(send["reserved"], "1");
    assert_eq!(s["deleted"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_client_wrong_password_gets_108006() {
    let sim = HilinkSim::start(opts()).await.unwrap();
    let args = json!({"url": sim.url(), "username": "admin", "password": "wrong"});
    let out = blocking(move || driver("login", &args)).await;
    assert_eq!(out["code"], 108006, "{out}");
    assert_eq!(out["error"], "LoginErrorUsernamePasswordWrongException");
    let s = state(&sim).await;
    assert_eq!(s["counters"]["login_failures"], 1);
    assert_eq!(s["counters"]["logins"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_client_without_login_on_a_stick() {
    let sim = HilinkSim::start(Options { login_required: false, ..opts() }).await.unwrap();
    sim.inject_sms("+15557654321", "no password needed");
    let args = json!({"url": sim.url(), "to": "+15559990000", "text": "plain"});
    let out = blocking(move || driver("no_login", &args)).await;
    assert_eq!(out["inbox"][0]["Content"], "no password needed", "{out}");
    assert_eq!(out["send"], "OK");
    assert_eq!(out["send_status"].as_array().unwrap().last().unwrap()["SucPhone"], "+15559990000");
    assert_eq!(out["count"]["LocalOutbox"], "1");
    let s = state(&sim).await;
    assert_eq!((s["counters"]["logins"].as_u64(), s["counters"]["token_rejections"].as_u64()), (Some(0), Some(0)));
}

#[tokio::test]
async fn pretty_xml_and_wrong_field_order_get_100005() {
    let sim = HilinkSim::start(opts()).await.unwrap();
    let mut c = logged_in(&sim).await;
    let good = list_inbox();
    assert_eq!(code(&c.post("/api/sms/sms-list", good.clone()).await), None);
    let pretty = good.replace("<request>", "<request>\n  ").replace("</PageIndex>", "</PageIndex>\n  ");
    assert_eq!(code(&c.post("/api/sms/sms-list", pretty.clone()).await), Some(100005));
    let swapped = request(&[
        Field::text("ReadCount", 20),
        Field::text("PageIndex", 1),
        Field::text("BoxType", 1),
        Field::text("SortType", 0),
        Field::text("Ascending", 0),
        Field::text("UnreadPreferred", 0),
    ]);
    assert_eq!(code(&c.post("/api/sms/sms-list", swapped).await), Some(100005));
    let send_wrong = request(&[
        Field::text("Index", -1),
        Field::Group("Phones", vec![Field::text("Phone", "+1555")]),
        Field::text("Content", "x"),
        Field::text("Sca", ""),
        Field::text("Length", 1),
        Field::text("Reserved", 1),
        Field::text("Date", "2024-01-01 00:00:00"),
    ]);
    assert_eq!(code(&c.post("/api/sms/send-sms", send_wrong).await), Some(100005));
    let s = state(&sim).await;
    let rejections = s["format_rejections"].as_array().unwrap();
    assert_eq!(rejections.len(), 3, "{s}");
    assert_eq!(rejections[0]["body"], pretty.as_str());
    assert!(rejections[2]["why"].as_str().unwrap().contains("Content"));
    assert!(s["sends"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_used_or_missing_token_is_refused() {
    let sim = HilinkSim::start(opts()).await.unwrap();
    let mut c = logged_in(&sim).await;
    let t = c.tokens.take().unwrap();
    assert_eq!(code(&c.post_with("/api/sms/sms-list", Some(&t), list_inbox()).await), None);
    assert_eq!(code(&c.post_with("/api/sms/sms-list", Some(&t), list_inbox()).await), Some(125003), "reused");
    assert_eq!(code(&c.post_with("/api/sms/sms-list", None, list_inbox()).await), Some(125003), "missing");
    // The token the good answer handed back still works.
    assert_eq!(code(&c.post("/api/sms/sms-list", list_inbox()).await), None);
    assert_eq!(state(&sim).await["counters"]["token_rejections"], 2);
}

#[tokio::test]
async fn idle_sessions_expire() {
    let sim = HilinkSim::start(Options { session_idle: Duration::from_millis(300), ..opts() }).await.unwrap();
    let mut c = logged_in(&sim).await;
    assert_eq!(code(&c.get("/api/sms/sms-count").await), None);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(code(&c.get("/api/sms/sms-count").await), Some(100003));
    assert_eq!(code(&c.post("/api/sms/sms-list", list_inbox()).await), Some(125002));
    // The fault ends sessions at once.
    let mut c = logged_in(&sim).await;
    sim.set_fault(&Fault::ExpireSessions);
    assert_eq!(code(&c.get("/api/sms/sms-count").await), Some(100003));
}

#[tokio::test]
async fn wrong_logins_lock_out() {
    let sim = HilinkSim::start(opts()).await.unwrap();
    let mut c = Raw::new(&sim.url());
    for _ in 0..3 {
        c.boot().await.unwrap();
        assert_eq!(code(&c.login("admin", "nope").await), Some(108006));
    }
    c.boot().await.unwrap();
    assert_eq!(code(&c.login("admin", "hunter2").await), Some(108007), "locked even with the right password");
    assert_eq!(state(&sim).await["counters"]["login_failures"], 3);
}

#[tokio::test]
async fn too_many_sessions_get_108003() {
    let sim = HilinkSim::start(Options { max_sessions: 1, ..opts() }).await.unwrap();
    let _first = logged_in(&sim).await;
    let mut c = Raw::new(&sim.url());
    c.boot().await.unwrap();
    assert_eq!(code(&c.login("admin", "hunter2").await), Some(108003));
}

#[tokio::test]
async fn full_storage_holds_sms_back_until_space_frees() {
    let sim = HilinkSim::start(Options { local_max: 2, ..opts() }).await.unwrap();
    let mut c = logged_in(&sim).await;
    assert!(sim.inject_sms("+1555000001", "one").is_some());
    assert!(sim.inject_sms("+1555000002", "two").is_some());
    assert_eq!(control(&sim, "/sms", json!({"from": "+1555000003", "text": "three"})).await["held_back"], true);
    let n = response(c.get("/api/monitoring/check-notifications").await.as_bytes()).unwrap();
    assert_eq!(n.text_of("SmsStorageFull"), Some("1"));
    let list = parse_list(c.post("/api/sms/sms-list", list_inbox()).await.as_bytes()).unwrap();
    assert_eq!(list.count, 2);
    let first = list.messages[0].index;
    let del = request(&[Field::text("Index", first)]);
    assert_eq!(code(&c.post("/api/sms/delete-sms", del).await), None);
    let list = parse_list(c.post("/api/sms/sms-list", list_inbox()).await.as_bytes()).unwrap();
    let texts: Vec<&str> = list.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["two", "three"], "the held SMS arrived once a slot was free");
    assert_eq!(state(&sim).await["held_back"], 0);
}

#[tokio::test]
async fn a_long_message_grows_then_stays() {
    let o = Options { long_part_delay: Duration::from_millis(200), ..opts() };
    let sim = HilinkSim::start(o).await.unwrap();
    let mut c = logged_in(&sim).await;
    let text = "part one, part two, part three!";
    control(&sim, "/long", json!({"from": "+15557654321", "text": text, "parts": 3})).await;
    let first = parse_list(c.post("/api/sms/sms-list", list_inbox()).await.as_bytes()).unwrap().messages[0].clone();
    assert_eq!(first.sms_type, sms_bridge::hilink::SmsType::Multipart);
    assert!(first.content.len() < text.len() && text.starts_with(&first.content), "{first:?}");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let done = parse_list(c.post("/api/sms/sms-list", list_inbox()).await.as_bytes()).unwrap().messages[0].clone();
    assert_eq!(done.content, text);
    assert_eq!((done.index, done.date_text.as_str()), (first.index, first.date_text.as_str()), "same message");
}

fn send_body(to: &str, text: &str) -> Vec<u8> {
    let date = sms_bridge::hilink::LocalDateTime::parse("2024-05-06 07:08:09").unwrap();
    sms_bridge::hilink::sms::send_request(&[to], text, &date, &Default::default()).unwrap()
}

#[tokio::test]
async fn a_second_send_while_sending_is_busy_and_failures_show() {
    let sim = HilinkSim::start(Options { send_delay: Duration::from_millis(400), ..opts() }).await.unwrap();
    let mut c = logged_in(&sim).await;
    assert_eq!(code(&c.post("/api/sms/send-sms", send_body("+15551230000", "first")).await), None);
    assert_eq!(code(&c.post("/api/sms/send-sms", send_body("+15551230000", "second")).await), Some(113018));
    let st = parse_send_status(c.get("/api/sms/send-status").await.as_bytes()).unwrap();
    assert!(!st.settled());
    tokio::time::sleep(Duration::from_millis(600)).await;
    let st = parse_send_status(c.get("/api/sms/send-status").await.as_bytes()).unwrap();
    assert_eq!(st.suc_phone, ["+15551230000"]);
    sim.set_fault(&Fault::SendFail(1));
    assert_eq!(code(&c.post("/api/sms/send-sms", send_body("+15551230000", "third")).await), None);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let st = parse_send_status(c.get("/api/sms/send-status").await.as_bytes()).unwrap();
    assert_eq!((st.fail_phone.as_slice(), st.suc_phone.len()), (&["+15551230000".to_string()][..], 0));
    // A 4-byte UTF-8 emoji (not CESU-8) is garbled, as firmwares do.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut raw = send_body("+15551230000", "x");
    let at = raw.windows(3).position(|w| w == b">x<").unwrap() + 1;
    raw.splice(at..at + 1, "\u{1F600}".bytes());
    assert_eq!(code(&c.post("/api/sms/send-sms", raw).await), None);
    let s = state(&sim).await;
    let last = s["sends"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((last["four_byte_utf8"].as_u64(), last["content"].as_str()), (Some(1), Some("\u{FFFD}")));
}

#[tokio::test]
async fn error_faults_answer_the_next_calls() {
    let sim = HilinkSim::start(opts()).await.unwrap();
    let mut c = logged_in(&sim).await;
    control(&sim, "/fault", json!({"fault": "error=100004x2"})).await;
    assert_eq!(code(&c.post("/api/sms/sms-list", list_inbox()).await), Some(100004));
    assert_eq!(code(&c.get("/api/sms/sms-count").await), Some(100004));
    // Tokens turned during the fault, so the client goes on.
    assert_eq!(code(&c.post("/api/sms/sms-list", list_inbox()).await), None);
}

#[tokio::test]
async fn reboot_refuses_connections_then_serves_new_sessions() {
    let sim = HilinkSim::start(opts()).await.unwrap();
    let mut c = logged_in(&sim).await;
    sim.inject_sms("+15557654321", "kept across the reboot");
    control(&sim, "/fault", json!({"fault": "reboot=800ms"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fresh = reqwest::Client::new();
    let e = fresh.get(sim.url()).send().await.expect_err("down while rebooting");
    assert!(e.is_connect(), "{e:?}");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(code(&c.post("/api/sms/sms-list", list_inbox()).await), Some(125002), "old session gone");
    let mut c = logged_in(&sim).await;
    let list = parse_list(c.post("/api/sms/sms-list", list_inbox()).await.as_bytes()).unwrap();
    assert_eq!(list.messages[0].content, "kept across the reboot");
    assert_eq!(state(&sim).await["counters"]["reboots"], 1);
}

#[tokio::test]
async fn reports_mms_and_odd_types_are_listed() {
    let sim = HilinkSim::start(opts()).await.unwrap();
    let mut c = logged_in(&sim).await;
    control(&sim, "/report", json!({"to": "+15551230000", "delivered": true})).await;
    control(&sim, "/mms", json!({"from": "+1555", "url": "http://mmsc.example/m/0123456789ABCDEF.mms?x=1"})).await;
    control(&sim, "/mms", json!({"from": "+1555", "url": "http://mmsc.example/m/X", "shape": "url"})).await;
    control(&sim, "/sms", json!({"from": "+1555", "text": "odd", "sms_type": 42})).await;
    control(&sim, "/sms", json!({"from": "+1555", "text": "odder", "sms_type": "x?"})).await;
    let list = parse_list(c.post("/api/sms/sms-list", list_inbox()).await.as_bytes()).unwrap();
    let got: Vec<(String, String)> =
        list.messages.iter().map(|m| (format!("{:?}", m.sms_type), m.content.clone())).collect();
    assert_eq!(got[0].0, "DeliveryOk");
    assert_eq!(list.messages[0].phones, ["+15551230000"]);
    assert_eq!(got[1], ("Unknown(5)".into(), "MMS: 0123456789ABCDEF.mms".into()));
    assert_eq!(got[2], ("Unknown(5)".into(), "http://mmsc.example/m/X".into()));
    assert_eq!(got[3].0, "Unknown(42)");
    assert_eq!(got[4].0, "Garbled(\"x?\")");
}
