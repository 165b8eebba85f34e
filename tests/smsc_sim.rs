//! `sms-bridge smsc-sim` driven by independent SMPP clients: the `smpp34` crate's ESME and,
//! where its API cannot express the case (refused binds, malformed PDUs, unanswered
//! deliver_sm), PDUs written out by hand below.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use smpp34::client::{BIND_TYPE, SMSC, SmppClient, SmppClientListener};
use smpp34::{SmppConnectionInformation, deliver_sm, deliver_sm_resp};
use sms_bridge::smsc_sim::{Fault, FaultKind, Options, SmscSim};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

async fn start(opts: Options) -> SmscSim {
    let opts = Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        http: Some("127.0.0.1:0".parse().unwrap()),
        dlr_delay: Duration::from_millis(100),
        quiet: true,
        ..opts
    };
    SmscSim::start(opts).await.unwrap()
}

struct Esme {
    bound: Mutex<Option<oneshot::Sender<SMSC>>>,
    delivered: mpsc::UnboundedSender<deliver_sm>,
}

#[async_trait]
impl SmppClientListener for Esme {
    async fn on_smsc_bound(&self, smsc: SMSC, _session: &String) {
        if let Some(tx) = self.bound.lock().await.take() {
            let _ = tx.send(smsc);
        }
    }

    async fn on_deliver_sm(&self, req: deliver_sm, _c: &SmppConnectionInformation, _s: &String) -> deliver_sm_resp {
        let _ = self.delivered.send(req.clone());
        req.accept()
    }
}

/// A transceiver bind with the smpp34 client: the session and what it receives, or None
/// if the bind did not succeed within a second.
async fn bind(
    addr: SocketAddr,
    system_id: &str,
    password: &str,
) -> Option<(SmppClient, SMSC, mpsc::UnboundedReceiver<deliver_sm>)> {
    let (tx, rx) = oneshot::channel();
    let (delivered, received) = mpsc::unbounded_channel();
    let esme = Arc::new(Esme { bound: Mutex::new(Some(tx)), delivered });
    let mut client = SmppClient::new(
        addr.ip().to_string(),
        addr.port(),
        false,
        BIND_TYPE::TRX,
        system_id.into(),
        password.into(),
        String::new(),
        0,
        0,
        String::new(),
        esme,
        10,
    );
    client.start().await;
    let smsc = timeout(Duration::from_secs(1), rx).await.ok()?.ok()?;
    Some((client, smsc, received))
}

async fn http(sim: &SmscSim, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("http://{}{path}", sim.http_addr().unwrap());
    let client = reqwest::Client::new();
    let req = match method {
        "GET" => client.get(url),
        _ => client.post(url).json(&body.unwrap_or(json!({}))),
    };
    let resp = timeout(Duration::from_secs(40), req.send()).await.unwrap().unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn tlv(d: &deliver_sm, tag: u16) -> Option<&[u8]> {
    d.tlvs.iter().find(|t| t.tag == tag).map(|t| t.value.as_slice())
}

#[tokio::test]
async fn submit_with_registered_delivery_gets_a_receipt() {
    let sim = start(Options::default()).await;
    let (mut client, smsc, mut received) = bind(sim.addr(), "bridge", "pw").await.expect("bound");
    let resp = smsc
        .submit_sm()
        .source_addr_ton(1)
        .source_addr("15550001111")
        .dest_addr_ton(1)
        .destination_addr("447700900123")
        .registered_delivery(1)
        .short_message(b"Hello from the bridge".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.command_status(), 0);
    let id = resp.message_id.clone().unwrap();
    assert!(!id.is_empty());

    let receipt = timeout(WAIT, received.recv()).await.unwrap().unwrap();
    assert_eq!(receipt.esm_class, 0x04);
    assert_eq!((receipt.source_addr.as_str(), receipt.destination_addr.as_str()), ("447700900123", "15550001111"));
    assert_eq!(tlv(&receipt, 0x001E), Some(format!("{id}\0").as_bytes()));
    assert_eq!(tlv(&receipt, 0x0427), Some(&[2u8][..]));
    let text = String::from_utf8(receipt.short_message.clone()).unwrap();
    assert!(text.starts_with(&format!("id:{id} sub:001 dlvrd:001 submit date:")), "{text}");
    assert!(text.ends_with(" stat:DELIVRD err:000 text:Hello from the bridg"), "{text}");

    // Without registered_delivery there is no receipt.
    let resp =
        smsc.submit_sm().source_addr("15550001111").destination_addr("447700900124").short_message(b"x".to_vec());
    let second = resp.send().await.unwrap().message_id.unwrap();
    assert_ne!(second, id);
    assert!(timeout(Duration::from_millis(400), received.recv()).await.is_err());

    let (status, list) = http(&sim, "GET", "/messages", None).await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["from"], "+15550001111");
    assert_eq!(list[0]["to"], "+447700900123");
    assert_eq!(list[0]["text"], "Hello from the bridge");
    assert_eq!(list[0]["message_ids"], json!([id]));
    assert_eq!(list[1]["to"], "447700900124");
    assert_eq!(sim.messages().len(), 2);

    let _ = smsc.send_unbind().await;
    client.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn long_submits_are_joined() {
    let sim = start(Options::default()).await;
    let (mut client, smsc, _received) = bind(sim.addr(), "bridge", "pw").await.expect("bound");
    // UCS-2 parts with a UDH, sent out of order.
    for (seq, text) in [(2u8, "мир"), (1, "Привет, ")] {
        let mut sm = vec![5, 0x00, 3, 0x42, 2, seq];
        sm.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        let resp = smsc.submit_sm().destination_addr("15551234567").esm_class(0x40).data_coding(8).short_message(sm);
        assert_eq!(resp.send().await.unwrap().command_status(), 0);
    }
    let msgs = sim.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!((msgs[0].text.as_str(), msgs[0].parts, msgs[0].complete), ("Привет, мир", 2, true));
    assert_eq!(msgs[0].message_ids.len(), 2);
    let _ = smsc.send_unbind().await;
    client.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn wrong_credentials_are_refused() {
    let sim =
        start(Options { system_id: Some("bridge".into()), password: Some("secret".into()), ..Options::default() })
            .await;
    assert!(bind(sim.addr(), "bridge", "wrong").await.is_none(), "bound with a wrong password");

    let mut raw = TcpStream::connect(sim.addr()).await.unwrap();
    raw.write_all(&bind_transceiver(1, "bridge", "wrong")).await.unwrap();
    assert_eq!(read_pdu(&mut raw).await[..3], [0x8000_0009, 0x0E, 1]); // ESME_RINVPASWD
    raw.write_all(&bind_transceiver(2, "nobody", "secret")).await.unwrap();
    assert_eq!(read_pdu(&mut raw).await[..3], [0x8000_0009, 0x0F, 2]); // ESME_RINVSYSID
    // Still unbound: a submit is refused for its bind state.
    raw.write_all(&frame(0x04, 3, &submit_body("hi"))).await.unwrap();
    assert_eq!(read_pdu(&mut raw).await[..3], [0x8000_0004, 0x04, 3]); // ESME_RINVBNDSTS
    raw.write_all(&bind_transceiver(4, "bridge", "secret")).await.unwrap();
    assert_eq!(read_pdu(&mut raw).await[..3], [0x8000_0009, 0, 4]);

    let (mut client, smsc, _) = bind(sim.addr(), "bridge", "secret").await.expect("bound with the right password");
    let _ = smsc.send_unbind().await;
    client.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn injected_sms_reaches_the_client() {
    let sim = start(Options::default()).await;
    let text = "Привет из симулятора! ".repeat(7); // 154 UCS-2 units: 3 parts
    let (status, body) = http(&sim, "POST", "/inject", Some(json!({"from": "+15551234567", "text": text}))).await;
    assert_eq!(status, 503, "{body}");

    let (mut client, smsc, mut received) = bind(sim.addr(), "bridge", "pw").await.expect("bound");
    let (status, body) = http(&sim, "POST", "/inject", Some(json!({"from": "+15551234567", "text": text}))).await;
    assert_eq!(status, 200, "{body}");
    let seqs = body["sequence_numbers"].as_array().unwrap().clone();
    assert_eq!(seqs.len(), 3);

    let mut parts = Vec::new();
    for _ in 0..3 {
        let d = timeout(WAIT, received.recv()).await.unwrap().unwrap();
        assert_eq!((d.source_addr.as_str(), d.source_addr_ton), ("15551234567", 1));
        assert_eq!(d.destination_addr, "15550001111");
        assert_eq!((d.esm_class, d.data_coding), (0x40, 8));
        let udh = &d.short_message[..6];
        assert_eq!(udh[..5], [5, 0x00, 3, udh[3], 3]);
        parts.push((udh[5], d.short_message[6..].to_vec()));
    }
    parts.sort();
    let units: Vec<u16> =
        parts.iter().flat_map(|(_, b)| b.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]]))).collect();
    assert_eq!(String::from_utf16(&units).unwrap(), text);

    // A GSM text to another number: one part, data_coding 0, unpacked septets.
    let (status, body) =
        http(&sim, "POST", "/inject", Some(json!({"from": "+15551234567", "to": "+15550002222", "text": "Hi @ 5€"})))
            .await;
    assert_eq!(status, 200, "{body}");
    let d = timeout(WAIT, received.recv()).await.unwrap().unwrap();
    assert_eq!((d.destination_addr.as_str(), d.esm_class, d.data_coding), ("15550002222", 0, 0));
    assert_eq!(d.short_message, b"Hi \x00 5\x1b\x65");

    let (status, _) = http(&sim, "POST", "/inject", Some(json!({"from": "", "text": "x"}))).await;
    assert_eq!(status, 400);
    // A bare `curl -d '{…}'` (form content type) is read as JSON too.
    let url = format!("http://{}/inject", sim.http_addr().unwrap());
    let form = r#"{"from":"+15551234567","text":"curl"}"#;
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let d = timeout(WAIT, received.recv()).await.unwrap().unwrap();
    assert_eq!(d.short_message, b"curl");
    let _ = smsc.send_unbind().await;
    client.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn faults_throttle_reject_and_drop() {
    let sim =
        start(Options { faults: vec![Fault { kind: FaultKind::QueueFull, count: 1 }], ..Options::default() }).await;
    let (mut client, smsc, _) = bind(sim.addr(), "bridge", "pw").await.expect("bound");
    let status = |r: Result<smpp34::submit_sm_resp, smpp34::SmppError>| match r {
        Ok(resp) => resp.command_status(),
        Err(e) => e as u32,
    };
    let submit = || smsc.submit_sm().destination_addr("15551234567").short_message(b"x".to_vec()).send();
    assert_eq!(status(submit().await), 0x14);
    let (code, _) = http(&sim, "POST", "/fault", Some(json!({"kind": "throttle", "count": 2}))).await;
    assert_eq!(code, 200);
    assert_eq!(status(submit().await), 0x58);
    assert_eq!(status(submit().await), 0x58);
    assert_eq!(status(submit().await), 0);
    http(&sim, "POST", "/fault", Some(json!({"kind": "reject"}))).await;
    assert_eq!(status(submit().await), 0x45);
    assert_eq!(sim.messages().len(), 1, "refused submits are not listed");
    let _ = smsc.send_unbind().await;
    client.stop().await;

    sim.set_fault(Fault { kind: FaultKind::Drop, count: 1 });
    let mut raw = TcpStream::connect(sim.addr()).await.unwrap();
    raw.write_all(&bind_transceiver(1, "x", "y")).await.unwrap();
    assert_eq!(read_pdu(&mut raw).await[1], 0);
    raw.write_all(&frame(0x04, 2, &submit_body("dropped"))).await.unwrap();
    let mut buf = [0u8; 1];
    assert!(matches!(timeout(WAIT, raw.read(&mut buf)).await.unwrap(), Ok(0) | Err(_)), "connection not dropped");
    sim.stop().await;
}

#[tokio::test]
async fn silence_stops_every_response_for_a_while() {
    let sim = start(Options::default()).await;
    let mut raw = TcpStream::connect(sim.addr()).await.unwrap();
    raw.write_all(&bind_transceiver(1, "x", "y")).await.unwrap();
    read_pdu(&mut raw).await;
    sim.set_fault(Fault { kind: FaultKind::Silence, count: 1 });
    raw.write_all(&frame(0x15, 2, &[])).await.unwrap();
    assert!(timeout(Duration::from_millis(600), read_pdu(&mut raw)).await.is_err(), "answered while silent");
    tokio::time::sleep(Duration::from_millis(500)).await;
    raw.write_all(&frame(0x15, 3, &[])).await.unwrap();
    assert_eq!(read_pdu(&mut raw).await[..3], [0x8000_0015, 0, 3]);
    sim.stop().await;
}

#[tokio::test]
async fn malformed_pdus_get_generic_nack() {
    let sim = start(Options::default()).await;
    let mut raw = TcpStream::connect(sim.addr()).await.unwrap();
    raw.write_all(&bind_transceiver(1, "x", "y")).await.unwrap();
    read_pdu(&mut raw).await;
    // A submit_sm cut off in the middle of its addresses.
    raw.write_all(&frame(0x04, 7, b"\0\x01\x01155")).await.unwrap();
    assert_eq!(read_pdu(&mut raw).await[..2], [0x8000_0000, 0x02]);
    // An unknown command.
    raw.write_all(&frame(0x0000_0777, 8, b"")).await.unwrap();
    assert_eq!(read_pdu(&mut raw).await[..3], [0x8000_0000, 0x03, 8]);
    // The session survives both.
    raw.write_all(&frame(0x15, 9, &[])).await.unwrap();
    assert_eq!(read_pdu(&mut raw).await[..3], [0x8000_0015, 0, 9]);
    // A command_length under the header size cannot be framed past: nack, then close.
    raw.write_all(&[0, 0, 0, 4, 0, 0, 0, 0x15]).await.unwrap();
    assert_eq!(read_pdu(&mut raw).await[..2], [0x8000_0000, 0x02]);
    let mut buf = [0u8; 1];
    assert!(matches!(timeout(WAIT, raw.read(&mut buf)).await.unwrap(), Ok(0) | Err(_)));
    // Other clients are unaffected.
    let (mut client, smsc, _) = bind(sim.addr(), "bridge", "pw").await.expect("bound");
    let _ = smsc.send_unbind().await;
    client.stop().await;
    sim.stop().await;
}

#[tokio::test]
async fn unacknowledged_deliver_sm_is_sent_again() {
    let sim = Arc::new(start(Options { redeliver_after: Duration::from_millis(300), ..Options::default() }).await);
    let mut raw = TcpStream::connect(sim.addr()).await.unwrap();
    raw.write_all(&bind_receiver(1)).await.unwrap();
    assert_eq!(read_pdu(&mut raw).await[..3], [0x8000_0001, 0, 1]);

    let injecting = tokio::spawn({
        let sim = Arc::clone(&sim);
        async move { sim.inject("+15551234567", None, "Are you there?").await }
    });
    let first = read_pdu(&mut raw).await;
    assert_eq!(first[0], 0x0000_0005);
    let again = read_pdu(&mut raw).await;
    assert_eq!(again[..3], first[..3], "the same deliver_sm, same sequence number");
    raw.write_all(&frame(0x8000_0005, first[2], b"\0")).await.unwrap();
    assert_eq!(timeout(WAIT, injecting).await.unwrap().unwrap(), Ok(vec![first[2]]));
}

// PDUs written out by hand (SMPP 3.4 §4), independent of both codecs.

fn frame(command_id: u32, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend(((16 + body.len()) as u32).to_be_bytes());
    out.extend(command_id.to_be_bytes());
    out.extend(0u32.to_be_bytes());
    out.extend(seq.to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn bind_body(system_id: &str, password: &str) -> Vec<u8> {
    let mut b = Vec::new();
    for s in [system_id, password, ""] {
        b.extend_from_slice(s.as_bytes());
        b.push(0);
    }
    b.extend([0x34, 0, 0, 0]); // interface_version, addr_ton, addr_npi, address_range ""
    b
}

fn bind_transceiver(seq: u32, system_id: &str, password: &str) -> Vec<u8> {
    frame(0x09, seq, &bind_body(system_id, password))
}

fn bind_receiver(seq: u32) -> Vec<u8> {
    frame(0x01, seq, &bind_body("rx", "pw"))
}

fn submit_body(text: &str) -> Vec<u8> {
    let mut b = vec![0]; // service_type ""
    b.extend(b"\x01\x0115550001111\0"); // source TON, NPI, address
    b.extend(b"\x01\x0115551234567\0"); // destination
    b.extend([0, 0, 0]); // esm_class, protocol_id, priority_flag
    b.extend([0, 0]); // schedule_delivery_time "", validity_period ""
    b.extend([0, 0, 0, 0]); // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
    b.push(text.len() as u8);
    b.extend(text.as_bytes());
    b
}

/// command_id, command_status, sequence_number, body length.
async fn read_pdu(s: &mut TcpStream) -> [u32; 4] {
    let mut head = [0u8; 16];
    timeout(WAIT, s.read_exact(&mut head)).await.expect("a PDU in time").expect("a PDU");
    let word = |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
    let mut body = vec![0u8; word(0) as usize - 16];
    s.read_exact(&mut body).await.unwrap();
    [word(4), word(8), word(12), body.len() as u32]
}
