//! A pass-through HTTP proxy between the bridge and the homeserver, as nginx sits in front
//! of Synapse in a real deployment: it forwards every request unchanged and answers 502
//! when Synapse is down. A test can make it hold one chosen request until released, which
//! pins the homeserver outage to an exact point of the bridge's work (stop Synapse while
//! the request waits, then release it into the outage).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

type Matcher = Box<dyn Fn(&Method, &str) -> bool + Send>;

struct Shared {
    upstream: String,
    http: reqwest::Client,
    /// The next request this matches is held (the matcher is then cleared).
    hold: Mutex<Option<Matcher>>,
    /// The held request's path, once one is held.
    held: Mutex<Option<String>>,
    release: tokio::sync::Semaphore,
    /// (method, path and query, status answered) of every request, in order of answer.
    log: Mutex<Vec<(Method, String, u16)>>,
}

pub struct HsProxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl HsProxy {
    /// Forwards to `upstream` (e.g. `http://127.0.0.1:PORT`).
    pub async fn start(upstream: &str) -> HsProxy {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
            hold: Mutex::new(None),
            held: Mutex::new(None),
            release: tokio::sync::Semaphore::new(0),
            log: Mutex::new(Vec::new()),
        });
        let app = axum::Router::new().fallback(forward).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        HsProxy { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Holds the next request for which `matches(method, path_and_query)` is true until
    /// [`HsProxy::release`]; everything else keeps flowing.
    pub fn hold_next(&self, matches: impl Fn(&Method, &str) -> bool + Send + 'static) {
        *self.shared.hold.lock().unwrap() = Some(Box::new(matches));
    }

    /// Waits until a request is held; returns its path and query.
    pub async fn wait_held(&self, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(path) = self.shared.held.lock().unwrap().clone() {
                return path;
            }
            assert!(start.elapsed() < timeout, "no request was held within {timeout:?}; seen: {:?}", self.log());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Lets the held request go on to the homeserver (whatever state it is in now).
    pub fn release(&self) {
        self.shared.release.add_permits(1);
    }

    pub fn log(&self) -> Vec<(Method, String, u16)> {
        self.shared.log.lock().unwrap().clone()
    }
}

async fn forward(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let hold = {
        let mut hold = s.hold.lock().unwrap();
        if hold.as_ref().is_some_and(|m| m(&method, &path)) {
            *hold = None;
            true
        } else {
            false
        }
    };
    if hold {
        *s.held.lock().unwrap() = Some(path.clone());
        s.release.acquire().await.unwrap().forget();
    }
    let headers = req.headers().clone();
    let body = match axum::body::to_bytes(req.into_body(), usize::MAX).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let response = match send(&s, &method, &path, &headers, body).await {
        Ok(r) => r,
        // What a reverse proxy answers while Synapse is down.
        Err(e) => (StatusCode::BAD_GATEWAY, format!("upstream: {e}")).into_response(),
    };
    s.log.lock().unwrap().push((method, path, response.status().as_u16()));
    response
}

async fn send(s: &Shared, method: &Method, path: &str, headers: &HeaderMap, body: Bytes) -> reqwest::Result<Response> {
    let mut req = s.http.request(method.clone(), format!("{}{path}", s.upstream)).body(body);
    for (name, value) in headers {
        if name != "host" && name != "content-length" {
            req = req.header(name, value);
        }
    }
    let resp = req.send().await?;
    let mut out = Response::builder().status(resp.status().as_u16());
    for (name, value) in resp.headers() {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            out = out.header(name, value);
        }
    }
    let bytes = resp.bytes().await?;
    Ok(out.body(Body::from(bytes)).unwrap())
}
