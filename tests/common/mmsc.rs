//! A test MMSC on loopback: serves messages for GET (as an operator's MMSC serves
//! m-retrieve-conf) and records every POST (m-notifyresp-ind, m-acknowledge-ind,
//! m-send-req), answering a POSTed m-send-req with an m-send-conf.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use sms_bridge::mms::{self, Message, MessageType};

#[derive(Default)]
pub struct Shared {
    pub messages: Mutex<HashMap<String, Vec<u8>>>,
    /// Every POST body, in order.
    pub posted: Mutex<Vec<Vec<u8>>>,
    /// GETs per path.
    pub gets: Mutex<HashMap<String, u32>>,
    /// Answer GETs with this status instead (e.g. 503), while set.
    pub fail_with: Mutex<Option<u16>>,
    /// Answer POSTs with this status instead (nothing recorded), while set.
    pub fail_posts_with: Mutex<Option<u16>>,
}

pub struct TestMmsc {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
}

impl TestMmsc {
    pub async fn start() -> TestMmsc {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .route("/mms/{id}", axum::routing::get(get))
            .route("/", axum::routing::post(post))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestMmsc { addr, shared }
    }

    /// The URL the MMSC's notifications point at for `id`.
    pub fn location(&self, id: &str) -> String {
        format!("http://{}/mms/{id}", self.addr)
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn put(&self, id: &str, bytes: Vec<u8>) {
        self.shared.messages.lock().unwrap().insert(id.to_string(), bytes);
    }

    pub fn gets(&self, id: &str) -> u32 {
        self.shared.gets.lock().unwrap().get(id).copied().unwrap_or(0)
    }

    /// Everything POSTed, decoded.
    pub fn posted(&self) -> Vec<Message> {
        self.shared
            .posted
            .lock()
            .unwrap()
            .iter()
            .map(|b| mms::decode(b).expect("the bridge POSTed a valid MMS PDU"))
            .collect()
    }
}

async fn get(State(s): State<Arc<Shared>>, Path(id): Path<String>) -> impl IntoResponse {
    *s.gets.lock().unwrap().entry(id.clone()).or_default() += 1;
    if let Some(code) = *s.fail_with.lock().unwrap() {
        return (StatusCode::from_u16(code).unwrap(), Vec::new()).into_response();
    }
    match s.messages.lock().unwrap().get(&id) {
        Some(b) => ([("content-type", mms::push::MMS_CONTENT_TYPE)], b.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn post(State(s): State<Arc<Shared>>, body: Bytes) -> axum::response::Response {
    if let Some(code) = *s.fail_posts_with.lock().unwrap() {
        return StatusCode::from_u16(code).unwrap().into_response();
    }
    s.posted.lock().unwrap().push(body.to_vec());
    let answer = match mms::decode(&body) {
        Ok(m) if m.message_type == MessageType::SEND_REQ => {
            let mut conf = Message::new(MessageType::SEND_CONF);
            conf.transaction_id = m.transaction_id.clone();
            conf.version = Some((1, 2));
            conf.response_status = Some(0x80);
            conf.message_id = Some(format!("msg-{}", s.posted.lock().unwrap().len()));
            mms::encode(&conf).unwrap()
        }
        _ => Vec::new(),
    };
    ([("content-type", mms::push::MMS_CONTENT_TYPE)], answer).into_response()
}

/// A 40×30 PNG, as a phone's camera picture stands in.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 6) as u8, (y * 8) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// An m-retrieve-conf from `from` with an image and a text, as an MMSC serves it.
pub fn retrieve_conf(from: &str, to: &[&str], text: &str, image: &[u8]) -> Vec<u8> {
    let photo =
        mms::Attachment { content_type: "image/png".into(), filename: "photo.png".into(), data: image.to_vec() };
    retrieve_conf_with(from, to, text, &[photo])
}

/// An m-retrieve-conf from `from` with these attachments and a text.
pub fn retrieve_conf_with(from: &str, to: &[&str], text: &str, attachments: &[mms::Attachment]) -> Vec<u8> {
    let mut m =
        mms::send_req("unused", &to.iter().map(|s| s.to_string()).collect::<Vec<_>>(), None, Some(text), attachments);
    m.message_type = MessageType::RETRIEVE_CONF;
    m.transaction_id = None;
    m.from = Some(mms::From::Address(format!("{from}/TYPE=PLMN")));
    m.date = Some(1_700_000_000);
    mms::encode(&m).unwrap()
}

/// The WAP push an MMSC sends for a message waiting at `location`.
pub fn notification_push(from: &str, transaction_id: &str, location: &str, size: u64) -> Vec<u8> {
    let mut n = Message::new(MessageType::NOTIFICATION_IND);
    n.transaction_id = Some(transaction_id.to_string());
    n.version = Some((1, 2));
    n.from = Some(mms::From::Address(format!("{from}/TYPE=PLMN")));
    n.message_class = Some("Personal".into());
    n.message_size = Some(size);
    n.expiry = Some(mms::TimeValue::Relative(3 * 24 * 3600));
    n.content_location = Some(location.to_string());
    let body = mms::encode(&n).unwrap();
    mms::push::encode(0x01, &mms::ContentType::new(mms::push::MMS_CONTENT_TYPE), 0x04, &body).unwrap()
}
