//! End to end through the gateway: a real Synapse, the real bridge binary with its test
//! link, an application sending through `sendsms` and the JSON API, and a keyword service.

mod common;

use common::bridge::{open_management_room, setup_full, wait};
use serde_json::json;

const PHONE: &str = "+15551234567";
const GHOST: &str = "@sms_15551234567:localhost";
const TOKEN: &str = "e2e-token-0123456789";

#[tokio::test(flavor = "multi_thread")]
async fn what_applications_send_and_services_answer_shows_in_the_portal() {
    let gateway_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let sections = format!(
        r#"gateway:
  listen: 127.0.0.1:{gateway_port}
  users:
    - username: shop
      password: s3cret
      token: {TOKEN}
services:
  - keyword: hours
    text: "Open 9-17, %p"
"#
    );
    let env = setup_full("    \"@alice:localhost\": admin", "", &sections).await;
    let bridge = env.start_bridge(None).await;
    bridge.wait_for_log("gateway for applications listening", wait()).await;
    let alice = env.hs.register_user("alice").await;
    let mgmt = open_management_room(&alice).await;
    let base = format!("http://127.0.0.1:{gateway_port}");

    // A script sends through Kannel's sendsms: the portal is made, and shows it.
    let url = reqwest::Url::parse_with_params(
        &format!("{base}/cgi-bin/sendsms"),
        &[("username", "shop"), ("password", "s3cret"), ("to", PHONE), ("text", "Your order is ready")],
    )
    .unwrap();
    let answer = reqwest::get(url).await.unwrap();
    assert_eq!(answer.status().as_u16(), 202);
    assert_eq!(answer.text().await.unwrap(), "0: Accepted for delivery");
    let portal = alice.wait_for_invite("the portal invite", wait(), |r, _| r != mgmt).await;
    alice.join(&portal).await;
    alice
        .wait_for_event("the application's message", wait(), |r, e| {
            let body = e["content"]["body"].as_str()?;
            (r == portal && body == "📤 Your order is ready (sent by shop)").then_some(())
        })
        .await;
    env.wait_sent("Your order is ready", wait()).await;

    // The JSON API too.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(TOKEN)
        .json(&json!({ "to": PHONE, "text": "Pick it up by 6pm" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    env.wait_sent("Pick it up by 6pm", wait()).await;

    // The customer asks; the keyword service answers, and both show in the portal.
    env.inject(PHONE, "HOURS").await;
    alice
        .wait_for_event("the customer's SMS", wait(), |r, e| {
            (r == portal && e["sender"] == GHOST && e["content"]["body"] == "HOURS").then_some(())
        })
        .await;
    env.wait_sent("Open 9-17, +15551234567", wait()).await;
    alice
        .wait_for_event("the service's reply", wait(), |r, e| {
            let body = e["content"]["body"].as_str()?;
            (r == portal && body == "📤 Open 9-17, +15551234567 (sent by service hours)").then_some(())
        })
        .await;
    assert!(!bridge.log_text().contains("panicked"));
}
