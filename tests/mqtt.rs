//! The MQTT gateway against a real Mosquitto (Debian's), with a second rumqttc client in
//! the test playing Home Assistant.

mod common;

use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use tokio::sync::mpsc;
use tokio::time::timeout;

use common::mosquitto::{Mosquitto, PASSWORD, USER};
use sms_bridge::config::MqttConfig;
use sms_bridge::gateway::mqtt::{self, ConnState, Mqtt, MqttError, SendCommand};

const WAIT: Duration = Duration::from_secs(10);

fn config(broker: &Mosquitto, client_id: &str) -> MqttConfig {
    let mut c = MqttConfig::new(broker.url());
    c.username = Some(USER.into());
    c.password = Some(PASSWORD.into());
    c.client_id = client_id.into();
    c.topic_prefix = "home/sms".into();
    c
}

async fn start(broker: &Mosquitto, client_id: &str) -> (Mqtt, mpsc::Receiver<SendCommand>) {
    let (m, rx) = Mqtt::start(&config(broker, client_id)).unwrap();
    m.wait_connected(WAIT).await.unwrap_or_else(|e| panic!("{e}\nbroker log:\n{}", broker.log()));
    (m, rx)
}

/// Home Assistant: an independent client whose received publishes arrive on a channel.
struct Ha {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<Packet>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Ha {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Ha {
    async fn connect(broker: &Mosquitto, id: &str) -> Ha {
        let mut opts = MqttOptions::new(id, "127.0.0.1", broker.port);
        opts.set_credentials(USER, PASSWORD);
        let (client, mut eventloop) = AsyncClient::new(opts, 64);
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(p)) => {
                        let _ = tx.send(p);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        let mut ha = Ha { client, rx, task };
        ha.expect(|p| matches!(p, Packet::ConnAck(_))).await;
        ha
    }

    async fn expect(&mut self, want: impl Fn(&Packet) -> bool) -> Packet {
        timeout(WAIT, async {
            loop {
                let p = self.rx.recv().await.expect("HA client stopped");
                if want(&p) {
                    return p;
                }
            }
        })
        .await
        .expect("HA client: expected packet did not arrive")
    }

    async fn subscribe(&mut self, topic: &str) {
        self.client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
        self.expect(|p| matches!(p, Packet::SubAck(_))).await;
    }

    async fn publish(&self, topic: &str, payload: &str) {
        self.client.publish(topic, QoS::AtLeastOnce, false, payload).await.unwrap();
    }

    async fn message(&mut self, topic: &str) -> Publish {
        match self.expect(|p| matches!(p, Packet::Publish(m) if m.topic == topic)).await {
            Packet::Publish(m) => m,
            _ => unreachable!(),
        }
    }
}

async fn command(rx: &mut mpsc::Receiver<SendCommand>) -> SendCommand {
    timeout(WAIT, rx.recv()).await.expect("no send command within 10 s").expect("gateway stopped")
}

#[tokio::test]
async fn send_requests_arrive_with_their_fields() {
    let broker = Mosquitto::start();
    let (_m, mut rx) = start(&broker, "bridge-send").await;
    let ha = Ha::connect(&broker, "ha-send").await;
    ha.publish(
        "home/sms/send",
        r#"{"to":"+15550001111","text":"Door open","via":"sim1","from":"+15550002222","id":"ha-42","validity_minutes":30,"send_at":"2030-01-01T08:00:00Z"}"#,
    )
    .await;
    let cmd = command(&mut rx).await;
    let r = &cmd.request;
    assert_eq!((r.to.as_str(), r.text.as_str()), ("+15550001111", "Door open"));
    assert_eq!(
        (r.via.as_deref(), r.from.as_deref(), r.id.as_deref()),
        (Some("sim1"), Some("+15550002222"), Some("ha-42"))
    );
    assert_eq!(r.validity_minutes, Some(30));
    assert_eq!(r.send_at().unwrap().to_string(), "2030-01-01T08:00:00Z");
    assert!(!cmd.redelivered);
    cmd.ack.ack().await;
}

#[tokio::test]
async fn malformed_requests_are_reported_and_do_not_stop_the_loop() {
    let broker = Mosquitto::start();
    let mut ha = Ha::connect(&broker, "ha-bad").await;
    ha.subscribe("home/sms/errors").await;
    // A retained request reaches a new subscription, i.e. every reconnect: refused.
    ha.client.publish("home/sms/send", QoS::AtLeastOnce, true, r#"{"to":"1","text":"x"}"#).await.unwrap();
    let (_m, mut rx) = start(&broker, "bridge-bad").await;
    let e = ha.message("home/sms/errors").await;
    assert!(String::from_utf8_lossy(&e.payload).contains("retained send requests are refused"));
    // Clears it; the empty deletion reaches us live and is refused too.
    ha.client.publish("home/sms/send", QoS::AtLeastOnce, true, "").await.unwrap();
    let e = ha.message("home/sms/errors").await;
    assert!(String::from_utf8_lossy(&e.payload).contains("EOF while parsing"));

    ha.publish("home/sms/send", "not json").await;
    let e = ha.message("home/sms/errors").await;
    let body: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
    assert!(body["error"].as_str().unwrap().starts_with("not a send request: expected ident"), "{body}");
    assert_eq!(body["payload"], "not json");

    ha.publish("home/sms/send", r#"{"to":"+15550001111"}"#).await;
    let e = ha.message("home/sms/errors").await;
    let body: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
    assert!(body["error"].as_str().unwrap().contains("missing field `text`"), "{body}");

    ha.publish("home/sms/send", r#"{"to":"+15550001111","text":"still here"}"#).await;
    let cmd = command(&mut rx).await;
    assert_eq!(cmd.request.text, "still here");
    cmd.ack.ack().await;
    assert!(rx.try_recv().is_err(), "only the good request becomes a command");
}

#[tokio::test]
async fn publish_resolves_after_the_puback() {
    let broker = Mosquitto::start();
    let mut ha = Ha::connect(&broker, "ha-pub").await;
    ha.subscribe("home/sms/#").await;
    let (m, _rx) = start(&broker, "bridge-pub").await;
    let online = ha.message("home/sms/availability").await;
    assert_eq!(&online.payload[..], b"online");

    m.publish(mqtt::INBOUND, br#"{"from":"+15550001111","text":"hi"}"#.to_vec(), false).await.unwrap();
    let got = ha.message("home/sms/inbound").await;
    assert_eq!((got.qos, &got.payload[..]), (QoS::AtLeastOnce, &br#"{"from":"+15550001111","text":"hi"}"#[..]));

    // Many at once: each resolves on its own PUBACK, none is lost.
    let m = std::sync::Arc::new(m);
    let tasks: Vec<_> = (0..150)
        .map(|i| {
            let m = m.clone();
            tokio::spawn(async move { m.publish(&mqtt::status_topic(&format!("m{i}")), b"sent".to_vec(), false).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 150 {
        let p = ha.expect(|p| matches!(p, Packet::Publish(m) if m.topic.starts_with("home/sms/status/"))).await;
        let Packet::Publish(p) = p else { unreachable!() };
        seen.insert(p.topic);
    }

    assert!(matches!(m.publish("a/+/b", vec![], false).await, Err(MqttError::Permanent(_))));
    let big = m.publish(mqtt::INBOUND, vec![b'x'; 2 << 20], false).await.unwrap_err();
    assert!(!big.is_transient() && big.to_string().contains("packet limit"), "{big}");
    m.publish(mqtt::REPORTS, b"{}".to_vec(), false).await.unwrap();
}

#[tokio::test]
async fn link_state_is_retained_for_later_subscribers() {
    let broker = Mosquitto::start();
    let (m, _rx) = start(&broker, "bridge-retain").await;
    m.publish(&mqtt::link_state_topic("sim1"), br#"{"state":"up"}"#.to_vec(), true).await.unwrap();
    let mut ha = Ha::connect(&broker, "ha-retain").await;
    ha.subscribe("home/sms/links/+/state").await;
    let s = ha.message("home/sms/links/sim1/state").await;
    assert!(s.retain);
    assert_eq!(&s.payload[..], br#"{"state":"up"}"#);
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_error() {
    let broker = Mosquitto::start();
    let mut cfg = config(&broker, "bridge-wrong");
    cfg.password = Some("wrong".into());
    let (m, _rx) = Mqtt::start(&cfg).unwrap();
    let e = m.wait_connected(Duration::from_secs(3)).await.unwrap_err();
    let want =
        format!("the broker at 127.0.0.1:{} refused the login: check mqtt.username and mqtt.password", broker.port);
    assert_eq!(e, want);
    assert_eq!(m.publish(mqtt::INBOUND, b"{}".to_vec(), false).await, Err(MqttError::Transient(want)));
}

#[tokio::test]
async fn mqtts_with_a_ca_file() {
    let (broker, ca) = Mosquitto::start_tls();
    let mut cfg = config(&broker, "bridge-tls");
    cfg.url = format!("mqtts://localhost:{}", broker.port);
    cfg.ca_file = Some(ca);
    let (m, _rx) = Mqtt::start(&cfg).unwrap();
    m.wait_connected(WAIT).await.unwrap_or_else(|e| panic!("{e}\nbroker log:\n{}", broker.log()));
    m.publish(mqtt::INBOUND, b"{}".to_vec(), false).await.unwrap();

    // Another CA: the handshake fails and says so.
    let (_other, wrong_ca) = Mosquitto::start_tls();
    cfg.ca_file = Some(wrong_ca);
    cfg.client_id = "bridge-tls-2".into();
    let (m, _rx) = Mqtt::start(&cfg).unwrap();
    let e = m.wait_connected(Duration::from_secs(3)).await.unwrap_err();
    assert!(e.contains("TLS") && e.contains("invalid peer certificate"), "{e}");
}

#[tokio::test]
async fn an_outage_fails_publishes_transiently_and_recovers() {
    let mut broker = Mosquitto::start();
    let (m, mut rx) = start(&broker, "bridge-outage").await;
    m.publish(mqtt::INBOUND, b"before".to_vec(), false).await.unwrap();

    broker.stop();
    let mut state = m.state();
    for _ in 0..100 {
        if matches!(state, ConnState::Down(_)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        state = m.state();
    }
    assert!(matches!(&state, ConnState::Down(r) if r.contains("127.0.0.1")), "{state:?}");
    let e = m.publish(mqtt::INBOUND, b"during".to_vec(), false).await.unwrap_err();
    assert!(matches!(e, MqttError::Transient(_)) && e.is_transient(), "{e:?}");

    broker.restart();
    m.wait_connected(Duration::from_secs(30)).await.unwrap();
    let mut ha = Ha::connect(&broker, "ha-outage").await;
    ha.subscribe("home/sms/inbound").await;
    m.publish(mqtt::INBOUND, b"after".to_vec(), false).await.unwrap();
    assert_eq!(&ha.message("home/sms/inbound").await.payload[..], b"after");
    // The restarted broker had no persistence: only our re-subscription makes this arrive.
    ha.publish("home/sms/send", r#"{"to":"+15550001111","text":"back"}"#).await;
    assert_eq!(command(&mut rx).await.request.text, "back");
}

#[tokio::test]
async fn an_unacked_request_is_redelivered_after_a_crash() {
    let broker = Mosquitto::start();
    let mut ha = Ha::connect(&broker, "ha-crash").await;
    ha.subscribe("home/sms/availability").await;
    let (m, mut rx) = start(&broker, "bridge-crash").await;
    assert_eq!(&ha.message("home/sms/availability").await.payload[..], b"online");

    ha.publish("home/sms/send", r#"{"to":"+15550001111","text":"once","id":"c1"}"#).await;
    let cmd = command(&mut rx).await;
    assert_eq!(cmd.request.id.as_deref(), Some("c1"));
    // The process dies before the request is stored: no ack, connection gone.
    drop(cmd);
    drop(m);
    drop(rx);
    assert_eq!(&ha.message("home/sms/availability").await.payload[..], b"offline", "last will");

    // Sent while we are away: the broker queues it in our session.
    ha.publish("home/sms/send", r#"{"to":"+15550001111","text":"queued","id":"c2"}"#).await;

    let (m, mut rx) = start(&broker, "bridge-crash").await;
    assert_eq!(&ha.message("home/sms/availability").await.payload[..], b"online");
    let again = command(&mut rx).await;
    assert_eq!((again.request.id.as_deref(), again.redelivered), (Some("c1"), true));
    again.ack.ack().await;
    let queued = command(&mut rx).await;
    assert_eq!(queued.request.id.as_deref(), Some("c2"));
    queued.ack.ack().await;
    m.close().await;
    assert_eq!(&ha.message("home/sms/availability").await.payload[..], b"offline", "clean close");

    // Both were acked: a new start gets nothing.
    let (_m, mut rx) = start(&broker, "bridge-crash").await;
    assert!(timeout(Duration::from_millis(500), rx.recv()).await.is_err(), "acked requests came back");
}

/// Runs the bridge's queues until the HA client has a message on `topic`.
async fn pump(h: &common::core::Harness, ha: &mut Ha, topic: &str) -> Publish {
    let end = tokio::time::Instant::now() + WAIT;
    loop {
        h.make_due();
        h.settle().await;
        h.bridge.drain_api_changes().await.unwrap();
        h.bridge.drain_callbacks().await.unwrap();
        while let Ok(p) = ha.rx.try_recv() {
            if let Packet::Publish(m) = p
                && m.topic == topic
            {
                return m;
            }
        }
        assert!(tokio::time::Instant::now() < end, "nothing on {topic}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_bridge_sends_what_home_assistant_publishes_and_publishes_what_comes_in() {
    use common::core::{BOB, CONFIG, Harness};
    let broker = Mosquitto::start();
    let config = format!(
        "{CONFIG}mqtt:\n  url: {}\n  username: {USER}\n  password: {PASSWORD}\n  client_id: bridge-under-test\n  topic_prefix: home/sms\n",
        broker.url()
    );
    let h = Harness::new_with(Box::leak(config.into_boxed_str())).await;
    tokio::spawn(sms_bridge::bridge::gateway::run_mqtt(h.bridge.clone()));
    let mut ha = Ha::connect(&broker, "ha-bridge-test").await;
    ha.subscribe("home/sms/#").await;
    // The bridge is subscribed once it says it is online.
    let online = ha.message("home/sms/availability").await;
    assert_eq!(&online.payload[..], b"online");

    // A send request, published twice (as a broker redelivers it): sent once, and its
    // status comes back on its own topic.
    let request = format!(r#"{{"to":"{BOB}","text":"Garage door left open","id":"ha-1"}}"#);
    ha.publish("home/sms/send", &request).await;
    ha.publish("home/sms/send", &request).await;
    let status = pump(&h, &mut ha, "home/sms/status/ha-1").await;
    let v: serde_json::Value = serde_json::from_slice(&status.payload).unwrap();
    assert_eq!((v["status"].as_str(), v["client_ref"].as_str()), (Some("sent"), Some("ha-1")), "{v}");
    let sent: Vec<_> = h.backend.sent().into_iter().filter(|s| s.text == "Garage door left open").collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].to, BOB);
    // The audit log has it once, as sent by MQTT.
    let origins: Vec<String> = h
        .sql()
        .prepare("SELECT origin FROM audit WHERE direction = 'out' AND remote = ?1")
        .unwrap()
        .query_map([BOB], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(origins, ["mqtt"]);

    // An inbound SMS is published as JSON, QoS 1.
    h.inbound(BOB, "Close it please", None);
    let inbound = pump(&h, &mut ha, "home/sms/inbound").await;
    assert_eq!(inbound.qos, QoS::AtLeastOnce);
    let v: serde_json::Value = serde_json::from_slice(&inbound.payload).unwrap();
    assert_eq!(
        (v["from"].as_str(), v["text"].as_str(), v["to"].as_str()),
        (Some(BOB), Some("Close it please"), Some("+15550001111"))
    );

    // A request that cannot be sent is answered on the errors topic.
    ha.publish("home/sms/send", r#"{"to":"not a number","text":"x"}"#).await;
    let error = pump(&h, &mut ha, "home/sms/errors").await;
    assert!(String::from_utf8_lossy(&error.payload).contains("not a number"), "{error:?}");
}
